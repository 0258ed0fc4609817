"""Keep environment.yml in step with pyproject.toml, and the README's commands true."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_mirrors_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(pyproject["dependencies"])
    for extra in pyproject["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {r for r in pip if not r.startswith("-e")}
    assert {_norm(r) for r in listed} == {_norm(r) for r in wanted}
    assert "python=3.11" in env["dependencies"]


def test_readme_commands_exist_in_makefile_and_ci():
    readme = (ROOT / "README.md").read_text()
    make = (ROOT / "Makefile").read_text()
    for target in ("book", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", make, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_book_folder_config_mirrors_the_top_level_one():
    """`jupyter-book build book` and `make book` must build the same book."""
    top = yaml.safe_load((ROOT / "_config.yml").read_text())
    inner = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    for d in (top, inner):
        d.pop("exclude_patterns")
        d.pop("bibtex_bibfiles")
        d["sphinx"]["config"].pop("html_static_path")
        d["sphinx"].pop("local_extensions")
    assert top == inner
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    inner_toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    assert "book/" + inner_toc["root"] == toc["root"]
    assert ["book/" + c["file"] for c in inner_toc["chapters"]] == [
        c["file"] for c in toc["chapters"]
    ]
