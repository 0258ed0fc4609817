"""Every notebook of the book runs top to bottom through papermill with its quick parameters."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_quick_parameters(nb, tmp_path):
    papermill = pytest.importorskip("papermill")
    papermill.execute_notebook(
        str(nb),
        str(tmp_path / nb.name),
        parameters={"quick": True},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )


def test_every_notebook_has_a_parameters_cell():
    import json

    assert NOTEBOOKS, "book/ holds no notebooks"
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, nb.name
        assert "quick" in "".join(tagged[0]["source"]), nb.name
