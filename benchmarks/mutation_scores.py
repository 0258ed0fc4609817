"""Mutation score per module, from the results ``mutmut run`` leaves under ``mutants/``.

Run by ``make mutation`` after ``mutmut run``; by hand: ``python benchmarks/mutation_scores.py
[MODULE.py ...]`` (default: the modules of ``[tool.mutmut] only_mutate`` in pyproject.toml).
The score is killed / total: every mutant counts, so one that no test runs (``no tests``), one
that outlasted its time limit (``timeout``) or one not yet checked counts against the module.
Prints a Markdown table; ``mutmut results`` lists the surviving mutants, ``mutmut show NAME``
shows one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: mutmut's exit codes per mutant (``mutmut.stats.status_by_exit_code``), as read here
STATUS = {1: "killed", 3: "killed", 37: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
STATUS.update({c: "timeout" for c in (24, -24, 36, 152, 255)})
STATUS.update({None: "not checked", 2: "not checked", 34: "skipped"})
COLUMNS = ("killed", "survived", "no tests", "timeout", "not checked", "other")


def configured_modules(root: Path = ROOT) -> list[str]:
    """The modules ``make mutation`` mutates (``only_mutate`` of ``[tool.mutmut]``)."""
    conf = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(conf["only_mutate"])


def counts(module: str, root: Path = ROOT) -> Counter | None:
    """Mutants of ``module`` by status, or None if mutmut has not made them."""
    meta = root / "mutants" / f"{module}.meta"
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    c = Counter(STATUS.get(code, "other") for code in codes.values())
    c["total"] = len(codes)
    return c


def table(modules: list[str], root: Path = ROOT) -> tuple[str, bool]:
    """The Markdown table, and whether every module had results."""
    lines = [
        "| module | mutants | " + " | ".join(COLUMNS) + " | score |",
        "| --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " | ---: |",
    ]
    complete = True
    for module in modules:
        c = counts(module, root)
        if c is None:
            complete = False
            lines.append(f"| `{module}` | no results (run `mutmut run` first) |")
            continue
        score = 100 * c["killed"] / c["total"] if c["total"] else float("nan")
        cells = " | ".join(str(c[k]) for k in COLUMNS)
        lines.append(
            f"| `{module}` | {c['total']} | {cells} | {c['killed']}/{c['total']} = {score:.1f}% |"
        )
    return "\n".join(lines), complete


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module paths (default: pyproject's)")
    args = parser.parse_args(argv)
    text, complete = table(args.modules or configured_modules())
    print(text)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
