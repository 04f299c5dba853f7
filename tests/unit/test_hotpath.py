"""tools/hotpath.py: which modules the launcher holds compiled, and that bin/railcar is current."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import hotpath  # noqa: E402


def test_every_module_but_the_build_tools_is_compiled() -> None:
    names = {m.name for m in hotpath.modules(str(REPO))}
    on_disk = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / "railcar").rglob("*.py") if "__pycache__" not in p.parts
    }
    assert names == on_disk - hotpath.EXCLUDE
    assert {"railcar", "railcar.main", "railcar.spec.devices", "railcar.cgroups.devices"} <= names


def test_init_symbols_are_unique() -> None:
    mods = hotpath.modules(str(REPO))
    symbols = [m.symbol for m in mods]
    assert len(set(symbols)) == len(symbols)
    text = hotpath.inittab(mods)
    for m in mods:
        assert f'{{"{m.name}", {m.symbol}}}' in text
    # the importer's table marks packages (they get a __path__), and has the C core
    assert '{"railcar.spec", PyInit_railcar__spec, 1}' in text
    assert '{"railcar.spec.uts", PyInit_railcar__spec__uts, 0}' in text
    assert '{"railcar._core", PyInit__core, 0}' in text


def test_cold_modules_are_linked_last() -> None:
    names = [m.name for m in hotpath.modules(str(REPO))]
    cold = [i for i, n in enumerate(names) if n in hotpath.COLD]
    assert cold == list(range(len(names) - len(cold), len(names)))
    assert set(hotpath.COLD) <= set(names), "COLD names a module that does not exist"


def test_launcher_is_newer_than_the_sources() -> None:
    """bin/railcar runs compiled copies of railcar/*.py: after an edit it must be rebuilt."""
    launcher = REPO / "bin" / "railcar"
    if not launcher.exists():
        pytest.skip("no bin/railcar: ./build.sh has not run")
    built = launcher.stat().st_mtime
    stale = [os.path.relpath(m.source, REPO) for m in hotpath.modules(str(REPO)) if os.stat(m.source).st_mtime > built]
    assert not stale, f"bin/railcar is older than {stale}: run ./build.sh"


def test_no_class_body_takes_a_plain_function() -> None:
    """Compiled with binding=False (tools/hotpath.py), a module's function is a C function: a def
    in a class body still becomes a method, but `name = some_function` there would not bind self."""
    import ast

    found = []
    for p in (REPO / "railcar").rglob("*.py"):
        tree = ast.parse(p.read_text())
        functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        functions |= {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for stmt in cls.body:
                value = getattr(stmt, "value", None) if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
                if isinstance(value, ast.Lambda) or (isinstance(value, ast.Name) and value.id in functions):
                    found.append(f"{p.relative_to(REPO)}:{stmt.lineno} {cls.name}")
    assert not found, f"wrap these in staticmethod() or write a def: {found}"
