"""What a reader sees: plumbing cells are out of sight, no page shows stderr, and the landing
page's verdicts follow the result store (nothing typed by hand)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
SITE = ROOT / "_build" / "html"
HIDDEN = {"remove-input", "hide-input"}
#: Code that only imports, glues or formats prose: never shown as a page's visible input.
PLUMBING = (r"\bglue\(", r"^\s*(import|from)\s+\S+", r"display\(\s*Markdown")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_plumbing_cells_are_out_of_sight(nb):
    visible = []
    for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
        if cell["cell_type"] != "code" or HIDDEN & set(cell.get("metadata", {}).get("tags", [])):
            continue
        src = "".join(cell["source"])
        hits = [p for p in PLUMBING if re.search(p, src, re.M)]
        if hits:
            visible.append((i, hits, src[:60]))
    assert not visible, visible


def test_the_plumbing_rule_catches_a_visible_import_and_glue():
    src = "import json\nx = 1\nglue('x', x)"
    assert all(re.search(p, s, re.M) for p, s in zip(PLUMBING[:2], (src, src), strict=True))
    assert not any(re.search(p, "chain = chain_study(400, 0)", re.M) for p in PLUMBING)


def _pages() -> list[Path]:
    return sorted((SITE / "book").glob("*.html")) if SITE.exists() else []


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_no_built_page_shows_stderr(page):
    html = page.read_text()
    assert not re.search(r'class="[^"]*\bstderr\b', html), f"{page.name} renders stderr output"
    assert "/.venv/" not in html, f"{page.name} shows a path inside the builder's virtualenv"


def _glued(executed: dict) -> dict[str, str]:
    """The values a papermill-executed notebook glued (myst-nb's scrapbook outputs)."""
    out = {}
    for cell in executed["cells"]:
        for o in cell.get("outputs", []):
            book = o.get("metadata", {}).get("scrapbook", {})
            if "name" in book:
                out[book["name"]] = "".join(o["data"][book["mime_prefix"] + "text/plain"])
    return out


def _markdown_outputs(executed: dict) -> str:
    return "\n".join(
        "".join(o["data"]["text/markdown"])
        for cell in executed["cells"]
        for o in cell.get("outputs", [])
        if "text/markdown" in o.get("data", {}) and "scrapbook" not in o.get("metadata", {})
    )


def test_the_landing_page_follows_a_changed_verdict(tmp_path):
    papermill = pytest.importorskip("papermill")
    store = tmp_path / "results"
    (store / "figures").mkdir(parents=True)
    shutil.copy(ROOT / "results" / "figures" / "fig3.png", store / "figures")
    table = json.loads((ROOT / "results" / "claims.json").read_text())
    head = next(c for c in table["claims"] if c["id"] == "fig3-gain")
    new = "opposite" if head["direction"] != "opposite" else "reproduced"
    before = sum(c["direction"] == new for c in table["claims"])
    head["direction"] = new
    (store / "claims.json").write_text(json.dumps(table))
    out = tmp_path / "intro.ipynb"
    papermill.execute_notebook(
        str(ROOT / "book" / "intro.ipynb"),
        str(out),
        parameters={"results": str(store)},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    executed = json.loads(out.read_text())
    glued = _glued(executed)
    assert glued["head_direction"] == repr(new)
    assert glued[f"n_{new}"] == str(before + 1)
    board = _markdown_outputs(executed)
    row = next(line for line in board.splitlines() if line.startswith("| Fig. 3 |"))
    assert f"**{new}**" in row
