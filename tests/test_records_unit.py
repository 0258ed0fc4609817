"""How :mod:`dnt.repro.records` derives a code path, on a small made-up package (fast: no
training, so that the mutation run can use it for every mutant)."""

import hashlib
import textwrap

import pytest

import dnt._io
from dnt.repro import records
from dnt.repro.records import code_record, file_hash, record, stale_reasons

FILES = {
    "__init__.py": "",
    "_io.py": "def save(x):\n    return x\n",
    "sim/__init__.py": "",
    "sim/a.py": "from dnt.sim.b import B\nfrom dnt.repro.q import helper\n\nA = B + 1\n",
    "sim/b.py": "import dnt.rl.c\n\nB = 2\n",
    "sim/lone.py": "L = 0\n",
    "rl/__init__.py": "",
    "rl/c.py": "from dnt.repro.q import helper\n\nC = 3\n",
    "baselines.py": "from dnt.sim import lone\n\nR = 4\n",
    "repro/__init__.py": "",
    "repro/store.py": "from dnt.sim.lone import L\n\ndef keep(x):\n    return L\n",
    "repro/q.py": (
        "from dnt.repro.s import far\n"
        "from dnt._io import save\n\n"
        "def helper():\n    '''Helps.'''\n    return 1\n\n"
        "def unused():\n    return 2\n"
    ),
    "repro/s.py": "def far():\n    return 5\n\ndef near():\n    return 6\n",
    "repro/p.py": (
        "import dnt.baselines\n"
        "from dnt.repro.q import helper, far\n"
        "from dnt.repro.store import keep\n"
        "from dnt.sim.a import A\n"
        "from . import s\n\n"
        "LIMIT = 3\n\n"
        "def f(x):\n"
        "    '''Produces.'''\n"
        "    return g(x) + helper() + far() + keep(x) + A + LIMIT + s.near()\n\n"
        "def g(x):\n    return x\n\n"
        "def h():\n    return dnt.baselines.R\n\n"
        "def loop():\n    return loop()\n\n"
        "from dnt.repro.q import ghost\n\n"
        "def spooky():\n    return ghost()\n\n"
        "from dnt.repro.q import save\n\n"
        "def keeper():\n    return save(1)\n\n"
        "def again(n):\n    return again(n - 1) + zed()\n\n"
        "def zed():\n    return TYPED\n\n"
        "TYPED: int = 0\n"
    ),
}


@pytest.fixture
def pkg(tmp_path, monkeypatch):
    root = tmp_path / "dnt"
    for rel, text in FILES.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))
    monkeypatch.setattr(dnt._io, "_PACKAGE", root)
    return root


def test_a_path_follows_names_and_numeric_imports_but_not_bookkeeping(pkg):
    got = code_record(("dnt.repro.p:f",))
    assert set(got) == {
        "dnt.repro.p:f",
        "dnt.repro.p:g",  # same module, by name
        "dnt.repro.p:LIMIT",  # a constant it reads
        "dnt.repro.q:helper",  # imported by name
        "dnt.repro.s:far",  # imported through a re-export
        "dnt.repro.s:near",  # read off a module imported whole
        "dnt.sim.a",  # a numeric module, and what it imports within the numeric layers
        "dnt.sim.b",
        "dnt.rl.c",
    }
    assert "dnt.repro.q:unused" not in got and not any("store" in k for k in got)
    assert all(len(v) == 12 and int(v, 16) >= 0 for v in got.values())


def test_a_whole_module_import_of_a_numeric_module_is_followed(pkg):
    assert set(code_record(("dnt.repro.p:h",))) == {
        "dnt.repro.p:h",
        "dnt.baselines",
        "dnt.sim.lone",
    }
    assert set(code_record(("dnt.sim.lone:",))) == {"dnt.sim.lone"}
    assert set(code_record(("dnt.repro.p:loop",))) == {"dnt.repro.p:loop"}  # recursion ends


def test_docstrings_do_not_count_and_code_does(pkg):
    before = code_record(("dnt.repro.p:f",))
    q = pkg / "repro" / "q.py"
    q.write_text(q.read_text().replace("'''Helps.'''", "'''Helps a lot, now documented.'''"))
    assert code_record(("dnt.repro.p:f",)) == before
    q.write_text(q.read_text().replace("return 1", "return 10"))
    after = code_record(("dnt.repro.p:f",))
    assert {k for k in after if after[k] != before[k]} == {"dnt.repro.q:helper"}
    b = pkg / "sim" / "b.py"
    b.write_text(b.read_text().replace("B = 2", "B = 3"))
    changed = code_record(("dnt.repro.p:f",))
    assert {k for k in changed if changed[k] != after[k]} == {"dnt.sim.b"}
    # an unused function changing changes nothing
    q.write_text(q.read_text().replace("return 2", "return 20"))
    assert code_record(("dnt.repro.p:f",)) == changed


def test_an_unknown_producer_is_an_error(pkg):
    with pytest.raises(ValueError, match="no function, class or constant 'nope'"):
        code_record(("dnt.repro.p:nope",))


def test_the_records_of_each_kind_use_their_producers(pkg, monkeypatch):
    monkeypatch.setattr(records, "PRODUCERS", {"thing": ("dnt.repro.p:g",)})
    rec = record("thing", {"x": "1"})
    assert rec == {"kind": "thing", "code": code_record(("dnt.repro.p:g",)), "inputs": {"x": "1"}}
    assert stale_reasons(rec, {"x": "1"}) == []
    p = pkg / "repro" / "p.py"
    p.write_text(p.read_text().replace("def g(x):\n    return x", "def g(x):\n    return -x"))
    assert stale_reasons(rec, {"x": "1"}) == ["code changed: dnt.repro.p:g"]


def test_file_hash_is_the_files_sha256(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert file_hash(f) == hashlib.sha256(b"abc").hexdigest()[:16]
    g = tmp_path / "y.bin"
    g.write_bytes(b"abd")
    assert file_hash(g) != file_hash(f)


def test_repeated_producers_missing_modules_and_unknown_names(pkg):
    got = code_record(("dnt.repro.s:near", "dnt.repro.p:g", "dnt.repro.p:g"))
    assert set(got) == {"dnt.repro.s:near", "dnt.repro.p:g"}
    assert set(code_record(("dnt.sim:",))) == {"dnt.sim"}  # a package's __init__
    with pytest.raises(ValueError, match="no function, class or constant 'f'"):
        code_record(("dnt.repro.missing:f",))
    # a name imported from a module that neither defines nor re-exports it: nothing to follow
    assert set(code_record(("dnt.repro.p:spooky",))) == {"dnt.repro.p:spooky"}
    # bookkeeping re-exported by another module is still bookkeeping
    assert set(code_record(("dnt.repro.p:keeper",))) == {"dnt.repro.p:keeper"}
    # a function calling itself, then others; an annotated constant
    assert set(code_record(("dnt.repro.p:again",))) == {
        "dnt.repro.p:again",
        "dnt.repro.p:zed",
        "dnt.repro.p:TYPED",
    }
    # a numeric producer among others: the rest are still followed
    assert set(code_record(("dnt.repro.s:near", "dnt.sim.lone:"))) == {
        "dnt.repro.s:near",
        "dnt.sim.lone",
    }


def test_the_cache_tells_files_and_packages_apart(pkg, tmp_path, monkeypatch):
    """Two modules of the same size and time, and a second package whose files carry the same
    sizes and times as the first's: each hashes its own code."""
    import os
    import shutil

    s, q = pkg / "repro" / "s.py", pkg / "repro" / "t.py"
    q.write_text(s.read_text().replace("return 5", "return 7"))
    os.utime(q, ns=(s.stat().st_atime_ns, s.stat().st_mtime_ns))
    assert code_record(("dnt.repro.s:far",)) != {
        k.replace(".t:", ".s:"): v for k, v in code_record(("dnt.repro.t:far",)).items()
    }
    first = code_record(("dnt.repro.s:far",))
    other = tmp_path / "other" / "dnt"
    shutil.copytree(pkg, other)  # copy2 keeps every file's time
    far = other / "repro" / "s.py"
    stat = far.stat()
    far.write_text(far.read_text().replace("return 5", "return 8"))
    os.utime(far, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setattr(dnt._io, "_PACKAGE", other)
    assert code_record(("dnt.repro.s:far",)) != first


def test_stale_reasons_name_every_kind_of_difference(pkg, monkeypatch):
    monkeypatch.setattr(records, "PRODUCERS", {"thing": ("dnt.repro.p:g",)})
    now = code_record(("dnt.repro.p:g",))
    rec = {"kind": "thing", "code": {"dnt.repro.p:g": "x", "dnt.gone": "y"}, "inputs": {"a": "1"}}
    why = stale_reasons(rec, {"a": "2", "b": None})
    assert why == [
        "code changed: dnt.repro.p:g",
        "code no longer on the path: dnt.gone",
        "input changed: a",
        "input missing or stale: b",
    ]
    fresh = {"kind": "thing", "code": {}, "inputs": {}}
    assert stale_reasons(fresh, {}) == [f"code newly on the path: {k}" for k in now]
    assert stale_reasons({"kind": "thing", "code": now, "inputs": {"a": "1"}}, {}) == [
        "input missing or stale: a"
    ]
    assert stale_reasons({"kind": "thing", "code": now}, {}) == []  # no inputs recorded
    assert stale_reasons({"kind": "thing", "code": now}, {"a": "1"}) == ["input changed: a"]
    for old in (None, {}, {"kind": "thing"}):
        assert stale_reasons(old, {}) == ["no dependency record (made before records were kept)"]
    with pytest.raises(ValueError, match=r"kind='nope' is invalid: must be one of \['thing'\]"):
        record("nope")
