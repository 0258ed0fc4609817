"""Helpers for the book's notebooks: Markdown tables and glued values, so that the pages hold
narrative and call the library instead of defining helpers of their own."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnt.repro.store import project_root

__all__ = ["glue", "markdown_table", "project_root"]


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (for the book's pages)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def glue(name: str, value: Any, display: bool = False) -> None:
    """``myst_nb.glue`` for the book's pages, with numpy scalars turned into Python numbers
    (myst-nb formats ``{glue:text}`key:.2f``` from the plain-text form of the value)."""
    from myst_nb import glue as myst_glue  # the book extra: only notebooks call this

    if isinstance(value, np.generic):
        value = value.item()
    myst_glue(name, value, display=display)
