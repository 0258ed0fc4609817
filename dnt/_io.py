"""Atomic file writes (a result file is either complete or absent, never partial), content
hashes of JSON-able objects, and the version of the code that produces numbers."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "NUMERIC_PATH",
    "atomic_write",
    "atomic_write_json",
    "code_version",
    "content_hash",
    "without_docstrings",
]


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it into place.

    A failure leaves no partial file behind: either the complete file exists, or none does.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (sorted keys, indented)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda p: p.write_text(text))


def content_hash(obj: Any) -> str:
    """16 hex digits of the SHA-256 of ``obj`` as compact JSON with sorted keys."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


#: The parts of the package on the numeric path of a result: the simulator, the learners, the
#: rules and the worker that turns a training run into stored metrics. Plotting, claims, docs
#: and the command line are not on it.
NUMERIC_PATH = ("sim", "rl", "baselines.py", "repro/executor.py")
_PACKAGE = Path(__file__).resolve().parent


def without_docstrings(tree: ast.Module) -> ast.Module:
    """``tree`` with every module, class and function docstring removed (in place)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _code_of(path: Path) -> str:
    """A module's code without its docstrings and comments (its AST, unformatted)."""
    return ast.dump(without_docstrings(ast.parse(path.read_text())))


def code_version() -> str:
    """12 hex digits identifying the code on the numeric path (:data:`NUMERIC_PATH`): the
    modules' code with docstrings and comments left out, so that editing documentation leaves
    results current while any change to code that can move a number makes them stale."""
    h = hashlib.sha256()
    for part in NUMERIC_PATH:
        root = _PACKAGE / part
        for f in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            h.update(str(f.relative_to(_PACKAGE)).encode())
            h.update(_code_of(f).encode())
    return h.hexdigest()[:12]
