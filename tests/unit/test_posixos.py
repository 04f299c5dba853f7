"""railcar.posixos: the part of os the start-up path needs, without importing os. Every helper is
compared with os / posixpath on the same inputs; the modules that use it name nothing it lacks."""

from __future__ import annotations

import ast
import itertools
import os
import posix
import posixpath
from pathlib import Path

import pytest

from railcar import posixos
from tests.conftest import REPO

PATHS = [
    "", ".", "..", "/", "//", "///", "a", "a/", "a//", "/a", "/a/", "//a", "///a", "a/b", "a/b/", "a//b",
    "/a/b", "/a/b/", "a/./b", "a/../b", "../a", "./a", "a/..", "a/.", "/..", "/../a", "/a/../..",
    "../../a/b", "a/b/../../..", ".a", "a.b/c.d", "/a/b/c/../d/./e//f/", "..a/b..", "a/.../b", " / ",
    "/a\udcff/b", "é/ü",
]


@pytest.mark.parametrize("p", PATHS)
def test_pure_helpers_as_posixpath(p: str) -> None:
    assert posixos.path.dirname(p) == posixpath.dirname(p)
    assert posixos.path.basename(p) == posixpath.basename(p)
    assert posixos.path.split(p) == posixpath.split(p)
    assert posixos.path.isabs(p) == posixpath.isabs(p)
    assert posixos.path.normpath(p) == posixpath.normpath(p)


def test_join_as_posixpath() -> None:
    parts = ["", "/", "a", "a/", "/b", "b//", "..", ".", "/c/d"]
    for n in (1, 2, 3):
        for combo in itertools.product(parts, repeat=n):
            assert posixos.path.join(*combo) == posixpath.join(*combo), combo


@pytest.mark.parametrize("p", PATHS)
def test_abspath_as_posixpath(p: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for cwd in ("/", str(tmp_path)):
        monkeypatch.chdir(cwd)
        assert posixos.path.abspath(p) == posixpath.abspath(p)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Files, dirs and symlinks of every kind: chains, relative and absolute, '..', dangling, loops."""
    t = tmp_path / "t"
    (t / "d" / "e").mkdir(parents=True)
    (t / "d" / "f").write_text("x")
    (t / "file").write_text("x")
    links = {
        "lf": "file", "ld": "d", "labs": str(t / "d"), "lchain": "lchain2", "lchain2": "ld/e",
        "lup": "d/..", "lupup": "../..", "ldangle": "nothere", "ldangle2": "nothere/x", "lself": "lself",
        "lloop1": "lloop2", "lloop2": "lloop1", "lloopdeep": "lloop1/x", "lrel": "./d/./e/../f",
        "lslash": "d/", "lroot": "/", "ltrail": "ld/", "lviafile": "file/x", "lnest": "ld/../lchain",
        "lxa": "lxb/z", "lxb": "lxa/y", "lxc": "d/../lxa/w",  # a loop met mid-target: its rest kept
    }
    for name, to in links.items():
        (t / name).symlink_to(to)
    (t / "d" / "lback").symlink_to("../lf")
    (t / "d" / "lparent").symlink_to("..")
    return t


def names(t: Path) -> list[str]:
    out = ["", ".", "..", "nothere", "nothere/x", "nothere/..", "file/", "file/.", "file/..", "d/", "d//e/",
           "d/lback", "d/lparent", "d/lparent/lf", "d/lparent/d/lparent", "d/e/../../lf", "lf/..", "ld/..",
           "lchain/..", "lself/x", "lloop1/..", "x/../lf", "ld/lback/", "lup/lup/ld"]
    out += sorted(os.listdir(t))
    out += [n + "/" for n in sorted(os.listdir(t))] + [n + "/x" for n in sorted(os.listdir(t))]
    out += [n + "/.." for n in sorted(os.listdir(t))]
    return out


def test_realpath_as_posixpath(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for cwd in (tree, tree / "d", Path("/")):
        monkeypatch.chdir(cwd)
        for n in names(tree):
            for p in (n, str(tree / n) if n else str(tree), str(tree) + "//" + n, "../" + n):
                assert posixos.path.realpath(p) == posixpath.realpath(p), p
    for p in ("/", "//", "/..", "/proc/self", "/proc/self/cwd", "/proc/self/fd/0/..", "/etc/../etc/./"):
        assert posixos.path.realpath(p) == posixpath.realpath(p), p


def test_stat_predicates_as_genericpath(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    for n in [*names(tree), "a\0b", str(tree / "file\0")]:
        for p in (n, str(tree / n) if n else str(tree)):
            for ours, theirs in ((posixos.path.exists, posixpath.exists), (posixos.path.lexists, posixpath.lexists),
                                 (posixos.path.isfile, posixpath.isfile), (posixos.path.isdir, posixpath.isdir),
                                 (posixos.path.islink, posixpath.islink)):
                assert ours(p) == theirs(p), (ours.__name__, p)


def test_getenv_as_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAILCAR_T_PLAIN", "v=1:2")
    monkeypatch.setenv("RAILCAR_T_EMPTY", "")
    monkeypatch.setenv("RAILCAR_T_UTF8", "été ü")
    monkeypatch.setitem(os.environb, b"RAILCAR_T_BAD", b"a\xff\xfeb")  # not UTF-8: surrogateescape
    monkeypatch.setitem(os.environb, b"RAILCAR_T_\xe9", b"key not UTF-8")
    monkeypatch.delenv("RAILCAR_T_NONE", raising=False)
    assert posixos.getenv("RAILCAR_T_BAD") == os.environ["RAILCAR_T_BAD"] == "a\udcff\udcfeb"
    for key in [*os.environ, "RAILCAR_T_NONE", "", "RAILCAR_T_\udce9"]:
        assert posixos.getenv(key) == os.environ.get(key) == os.getenv(key), key
        assert posixos.getenv(key, "dflt") == os.environ.get(key, "dflt"), key
    assert posixos.getenv("RAILCAR_T_EMPTY", "dflt") == ""


def test_makedirs_as_os(tmp_path: Path) -> None:
    for base, fn in (("ours", posixos.makedirs), ("theirs", os.makedirs)):
        root = tmp_path / base
        root.mkdir()
        (root / "file").write_text("x")
        results = []
        for rel, kw in (("a/b/c", {}), ("a/b/c", {}), ("a/b/c", {"exist_ok": True}), ("a/b/c/", {"exist_ok": True}),
                        ("x/y/", {"mode": 0o700}), ("p/q/.", {}), ("p/r/./s", {}), ("p/t/../u", {}),
                        ("file", {"exist_ok": True}), ("file/sub", {"exist_ok": True}), ("m", {"mode": 0o711})):
            try:
                fn(str(root / rel), **kw)
                results.append(("ok", rel))
            except OSError as e:
                results.append((type(e).__name__, e.errno, rel))
        rel_cwd = os.getcwd()
        try:
            os.chdir(root)
            fn("rel/one", exist_ok=True)
        finally:
            os.chdir(rel_cwd)
        tree = sorted((str(p.relative_to(root)), p.stat().st_mode & 0o7777, p.is_dir()) for p in root.rglob("*"))
        if base == "ours":
            ours = (results, tree)
        else:
            assert (results, tree) == ours


def test_walk_as_os(tree: Path) -> None:
    (tree / "d" / "e" / "g").mkdir()
    (tree / "d" / "e" / "g" / "h").write_text("x")
    for top in (str(tree), str(tree / "d"), str(tree / "ld"), str(tree / "nothere"), str(tree / "file")):
        for topdown in (True, False):
            assert list(posixos.walk(top, topdown)) == list(os.walk(top, topdown)), (top, topdown)
    # topdown: the caller prunes dirs in place, as with os.walk
    seen = []
    for top, dirs, _files in posixos.walk(str(tree)):
        seen.append(top)
        dirs[:] = [d for d in dirs if d != "e"]
    assert str(tree / "d" / "e") not in seen and str(tree / "d") in seen


def test_reexports_are_posix_own() -> None:
    for name in posixos.__all__:
        assert hasattr(posixos, name), name
        if hasattr(posix, name):
            assert getattr(posixos, name) is getattr(posix, name) is getattr(os, name), name
        elif name not in ("path", "getenv", "makedirs", "walk"):
            assert getattr(posixos, name) == getattr(os, name), name


def _uses_posixos(tree: ast.Module) -> list[ast.AST]:
    """The scopes (module or functions) that bind `os` to railcar.posixos."""
    scopes: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "railcar":
            if any(a.name == "posixos" and a.asname == "os" for a in node.names):
                scopes.append(node)
    return scopes


def test_modules_name_only_what_posixos_has() -> None:
    """`from railcar import posixos as os`: every os.X (and os.path.X) such a module names exists,
    and no scope there also imports the real os (which would shadow or be shadowed)."""
    checked = 0
    for src in sorted((REPO / "railcar").rglob("*.py")):
        tree = ast.parse(src.read_text())
        if not _uses_posixos(tree):
            continue
        checked += 1
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name != "os" for a in node.names), f"{src}:{node.lineno}: import os beside posixos"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                assert hasattr(posixos, node.attr), f"{src}:{node.lineno}: os.{node.attr} is not in posixos"
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == "os"
                    and node.value.attr == "path"):
                assert hasattr(posixos.path, node.attr), f"{src}:{node.lineno}: os.path.{node.attr} is not in posixos"
    assert checked > 20


def test_posixos_imports_no_os() -> None:
    """In a fresh interpreter without site (as the launcher's): importing posixos imports no os."""
    import subprocess
    import sys

    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); import railcar.posixos as p; p.path.realpath('.'); "
            "list(p.walk('.')); print(sorted(m for m in ('os', 'posixpath', 'genericpath', 'stat', "
            "'_collections_abc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
