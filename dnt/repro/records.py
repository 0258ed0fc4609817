"""Dependency records: what each stored artifact's numbers depend on, and whether that changed.

Every artifact of the store (a training run, a rule's evaluation, a GRU twin, Fig. 2's data,
the tuning study) records, under ``records``:

- ``code``: a hash of every piece of code on the path that produced it, derived from the code
  itself rather than from a list of files: the producing function (e.g.
  ``dnt.repro.executor:run_cells``), every function or class of the reproduction layer it refers
  to, followed name by name, and every module of the numeric layers (:data:`NUMERIC`: the
  simulator, the learners, the rules) that any of them imports, followed import by import
  through those layers. Each piece is hashed over its syntax tree without docstrings, so that
  editing documentation changes nothing.
- ``inputs``: the content hash of every stored file it read (a run and a rule's evaluation name
  their twin's file; the tuning study the runs it summarises) and of the settings it was made
  with where they are not part of its file name.

An artifact is *current* when both still hold: the same code now hashes the same (and nothing
new is on its path) and every input it names is the file the store would hand it now, itself
current. So a change propagates: a new twin makes every run and evaluation that read the old
one stale. A change to the claims, the figures, the book helpers or the command line is on no
producer's path and makes nothing stale.

Modules that only read and write results (:data:`BOOKKEEPING`: the store, these records and
the file helpers) are not followed: they decide where a number is kept, never its value.
"""

from __future__ import annotations

import ast
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import dnt._io

__all__ = [
    "BOOKKEEPING",
    "NUMERIC",
    "PRODUCERS",
    "code_record",
    "file_hash",
    "record",
    "stale_reasons",
]

#: The layers where numbers are made: a module of these is followed through its imports.
NUMERIC = ("dnt.sim", "dnt.rl", "dnt.baselines")
#: Modules that only keep results (where, in which file), never compute them: not followed.
BOOKKEEPING = ("dnt._io", "dnt.repro.store", "dnt.repro.records")
#: The function that produces each kind of artifact ("module:function").
PRODUCERS: dict[str, tuple[str, ...]] = {
    "run": ("dnt.repro.executor:run_cells",),
    "baselines": ("dnt.repro.reproduce:baselines_for",),
    "twin": ("dnt.sim.gru:scenario_twin",),
    "fig2": ("dnt.repro.reproduce:fig2_data",),
    "tuning": ("dnt.repro.tuning:tune",),
}

_parsed: dict[tuple[str, int, int], ast.Module] = {}


def _package() -> Path:
    return dnt._io._PACKAGE  # the package whose code is hashed (tests point it at a copy)


def _path(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "dnt":
        return None
    base = _package().joinpath(*parts[1:])
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _tree(module: str) -> ast.Module | None:
    """The module's syntax tree with docstrings removed (cached by file, size and time)."""
    path = _path(module)
    if path is None:
        return None
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _parsed:
        _parsed[key] = dnt._io.without_docstrings(ast.parse(path.read_text()))
    return _parsed[key]


def _digest(node: ast.AST) -> str:
    return hashlib.sha256(ast.dump(node).encode()).hexdigest()[:12]


def _is(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _imports(tree: ast.Module, module: str) -> dict[str, tuple[str, str | None]]:
    """Local name -> (module, attribute or None) for every ``dnt`` import in the module."""
    out: dict[str, tuple[str, str | None]] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = node.module or ""
            if node.level:  # relative import
                src = ".".join([package, src]).strip(".")
            for a in node.names:
                if src.startswith("dnt"):
                    out[a.asname or a.name] = (src, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("dnt"):
                    out[a.asname or a.name.split(".")[0]] = (a.name, None)
    return out


def _numeric_closure(start: str) -> set[str]:
    """``start`` (a numeric module) and every numeric module it imports, transitively."""
    seen, todo = set(), [start]
    while todo:
        mod = todo.pop()
        if mod in seen or not _is(mod, NUMERIC) or _path(mod) is None:
            continue
        seen.add(mod)
        tree = _tree(mod)
        for src, attr in _imports(tree, mod).values():
            sub = f"{src}.{attr}" if attr else src
            todo.append(sub if _path(sub) is not None else src)
    return seen


def _definition(module: str, name: str) -> ast.AST | None:
    tree = _tree(module)
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return node
    return None


_records: dict[tuple[Any, ...], dict[str, str]] = {}


def _stamp() -> tuple[Any, ...]:
    """The package's files with their sizes and times: a cached record is reused only while
    none of them changed."""
    files = sorted(_package().rglob("*.py"))
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def code_record(producers: tuple[str, ...]) -> dict[str, str]:
    """``{piece: hash}`` for the code on the path of ``producers`` ("module:name"): each
    function, class or constant of a non-numeric, non-bookkeeping module that the path refers
    to, by name, and every numeric module (:data:`NUMERIC`) imported on the way."""
    key = (tuple(producers), _stamp())
    if key not in _records:
        _records.clear()
        _records[key] = _code_record(producers)
    return dict(_records[key])


def _code_record(producers: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    todo = list(producers)
    while todo:
        key = todo.pop()
        if key in out:
            continue
        module, name = key.split(":")
        if _is(module, NUMERIC):
            for mod in _numeric_closure(module):
                out.setdefault(mod, _digest(_tree(mod)))
            continue
        node = _definition(module, name)
        if node is None:
            raise ValueError(f"producer {key!r}: no function, class or constant {name!r} there")
        out[key] = _digest(node)
        imports = _imports(_tree(module), module)
        used: dict[str, set[str]] = defaultdict(set)  # module name -> attributes read off it
        for n in ast.walk(node):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
                used[n.value.id].add(n.attr)
        for ref in sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)}):
            if ref == name:
                continue
            if ref not in imports:
                if _definition(module, ref) is not None:
                    todo.append(f"{module}:{ref}")
                continue
            src, attr = imports[ref]
            whole = src if attr is None else f"{src}.{attr}"
            if attr is None or _path(whole) is not None:  # a module, used by attribute
                if _is(whole, NUMERIC):
                    todo.append(f"{whole}:")
                elif not _is(whole, BOOKKEEPING):
                    todo += [f"{whole}:{a}" for a in used[ref] if _definition(whole, a)]
            elif _is(src, BOOKKEEPING):
                continue
            elif _is(src, NUMERIC) or _definition(src, attr) is not None:
                todo.append(f"{src}:{attr}")
            else:  # a name re-exported by that module: follow its own import
                inner = _imports(_tree(src), src).get(attr)
                if inner and inner[1] and not _is(inner[0], BOOKKEEPING):
                    todo.append(f"{inner[0]}:{inner[1]}")
    return dict(sorted(out.items()))


def file_hash(path: str | Path) -> str:
    """16 hex digits of the SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def record(kind: str, inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """The dependency record of an artifact of ``kind`` (a key of :data:`PRODUCERS`) made now
    from ``inputs`` (name -> content hash)."""
    if kind not in PRODUCERS:
        raise ValueError(f"kind={kind!r} is invalid: must be one of {sorted(PRODUCERS)}")
    return {"kind": kind, "code": code_record(PRODUCERS[kind]), "inputs": dict(inputs or {})}


def stale_reasons(rec: dict[str, Any] | None, inputs_now: dict[str, str | None]) -> list[str]:
    """Why an artifact with record ``rec`` is stale now (empty: it is current): each piece of
    code on its path that changed, appeared or left the path, and each input whose current
    content hash (``inputs_now``; None: missing or itself stale) differs from the recorded."""
    if not rec or "code" not in rec:
        return ["no dependency record (made before records were kept)"]
    now = code_record(PRODUCERS[rec["kind"]])
    was = rec["code"]
    out = [f"code changed: {k}" for k in now if k in was and was[k] != now[k]]
    out += [f"code newly on the path: {k}" for k in now if k not in was]
    out += [f"code no longer on the path: {k}" for k in was if k not in now]
    names = set(rec.get("inputs", {})) | set(inputs_now)
    for name in sorted(names):
        have, want = inputs_now.get(name), rec.get("inputs", {}).get(name)
        if have is None:
            out.append(f"input missing or stale: {name}")
        elif have != want:
            out.append(f"input changed: {name}")
    return out
