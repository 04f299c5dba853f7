"""The per-invocation commands import nothing heavy (DESIGN.md's budget): every module the
launcher's interpreter imports is listed with RAILCAR_IMPORTTIME=1 (like -X importtime)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, BundleFactory, Runtime

sys.path.insert(0, str(REPO / "tools"))
import hotpath  # noqa: E402

pytestmark = pytest.mark.railcar_only

FORBIDDEN = {
    "re",
    "json",
    "_json",
    "enum",
    "typing",
    "argparse",
    "subprocess",
    "ctypes",
    "logging",
    "orjson",
    "pyseccomp",
    "importlib.metadata",
    "dataclasses",
    "inspect",
    "datetime",
    "uuid",
    "shutil",
    "tempfile",
    "pathlib",
    "docopt",
    "hashlib",
    "socket",
    "signal",
    "threading",
    "warnings",
    # os costs ~0.6 ms (its _collections_abc defines some 30 ABCs): the hot modules use
    # railcar.posixos, the part of os they need, from the built-in posix module
    "os",
    "posixpath",
    "genericpath",
    "stat",
    "_collections_abc",
}
DOCKER_PROFILE = REPO / "tests/data/docker-default-seccomp.json"


def imported(stderr: str, exempt: str = "") -> set[str]:
    """The modules RAILCAR_IMPORTTIME=1 lists, but for `exempt` and what it imported (its subtree:
    -X importtime prints a module after its imports, indented one level deeper)."""
    mods = set()
    stack: list[tuple[int, str]] = []
    for line in reversed(stderr.splitlines()):
        if line.startswith("import time:") and "|" in line:
            field = line.rsplit("|", 1)[1]
            name = field.strip()
            if name == "imported package":
                continue
            depth = len(field) - len(field.lstrip()) - 1
            while stack and stack[-1][0] >= depth:
                stack.pop()
            stack.append((depth, name))
            if not exempt or all(n != exempt for _, n in stack):
                mods.add(name)
    return mods


def lifecycle_imports(runtime: Runtime, make_bundle: BundleFactory, exempt: str = "",
                      **overrides: object) -> dict[str, set[str]]:
    """What create/start/state/exec/kill/delete and run of a bundle with `overrides` import."""
    cid = runtime.new_id()
    bundle = make_bundle(["sleep", "30"], **overrides)
    seen: dict[str, set[str]] = {}
    res = runtime.create(bundle, cid)
    seen["create"] = imported(res.stderr + runtime.io_text(cid, "err"), exempt)
    for name, args in (
        ("start", ["start", cid]),
        ("state", ["state", cid]),
        ("exec", ["exec", cid, "true"]),
        ("kill", ["kill", cid, "KILL"]),
    ):
        seen[name] = imported(runtime.run(*args, check=True).stderr, exempt)
    runtime.wait_status(cid, "stopped")
    seen["delete"] = imported(runtime.run("delete", cid, check=True).stderr, exempt)
    run_id = runtime.new_id()
    run_bundle = make_bundle(["true"], **overrides)
    runtime._prepare(run_bundle, run_id)
    seen["run"] = imported(runtime.run("run", "--bundle", str(run_bundle.path), run_id, check=True).stderr, exempt)
    assert all(seen.values()), f"RAILCAR_IMPORTTIME printed nothing: {seen}"
    return seen


def assert_nothing_heavy(seen: dict[str, set[str]]) -> None:
    bad = {cmd: sorted(mods & FORBIDDEN) for cmd, mods in seen.items() if mods & FORBIDDEN}
    assert not bad, f"heavy modules on the hot path: {bad}"


def test_hot_commands_import_nothing_heavy(
    runtime: Runtime, make_bundle: BundleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAILCAR_IMPORTTIME", "1")
    monkeypatch.setenv("RAILCAR_FASTPATH", "0")  # the Python side of start/state/kill/delete
    seen = lifecycle_imports(runtime, make_bundle)
    # tools/hotpath.py links what run imports first (RSS: see its RUN): keep that list true
    ours = {m for m in seen["run"] if m.startswith("railcar") and m != "railcar._core"}
    missing = sorted(ours - set(hotpath.RUN))
    assert not missing, f"run imports modules tools/hotpath.py's RUN lacks: {missing}"
    assert_nothing_heavy(seen)


def test_hot_commands_with_seccomp_resources_hooks(
    runtime: Runtime, make_bundle: BundleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above with what engines send: docker's seccomp profile (its compiled filter cached, as
    after a container's first run), linux.resources in a cgroupsPath of its own, then hooks too."""
    seccomp = json.loads(DOCKER_PROFILE.read_text())
    resources = {"memory": {"limit": 64 << 20}, "pids": {"limit": 200}, "cpu": {"shares": 512}}

    def linux() -> dict[str, object]:
        return {"seccomp": seccomp, "resources": resources, "cgroupsPath": f"/railcar-test-hot/{runtime.new_id()}",
                "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}

    runtime.cgroups.append("/railcar-test-hot")
    runtime.run_container(make_bundle(["true"], linux=linux()))  # the filter compiled and cached
    monkeypatch.setenv("RAILCAR_IMPORTTIME", "1")
    monkeypatch.setenv("RAILCAR_FASTPATH", "0")
    seen = lifecycle_imports(runtime, make_bundle, linux=linux())
    assert "railcar.seccomp.cache" in seen["create"] and "railcar.cgroups.manager" in seen["create"], seen["create"]
    assert_nothing_heavy(seen)
    # and hooks of every kind the runtime runs (through the C core: nothing exempt)
    hooks = {kind: [{"path": "/bin/true"}] for kind in ("prestart", "createRuntime", "poststart", "poststop")}
    seen = lifecycle_imports(runtime, make_bundle, linux=linux(), hooks=hooks)
    assert "railcar.hooks" in seen["create"], seen["create"]
    assert_nothing_heavy(seen)


def test_hooks_import_nothing_heavy(
    runtime: Runtime, make_bundle: BundleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks run through the C core (csrc/hooks.c): neither subprocess nor threading, selectors
    or signal come in with them, at create (prestart, createRuntime, createContainer), start
    (poststart) or delete (poststop), nor when one fails."""
    monkeypatch.setenv("RAILCAR_IMPORTTIME", "1")
    monkeypatch.setenv("RAILCAR_FASTPATH", "0")
    hook = {"path": "/bin/true"}
    kinds = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
    cid = runtime.new_id()
    res = runtime.create(make_bundle(["sleep", "30"], hooks={k: [hook] for k in kinds}), cid)
    seen = {"create": imported(res.stderr + runtime.io_text(cid, "err"))}
    seen["start"] = imported(runtime.run("start", cid, check=True).stderr)
    runtime.run("kill", cid, "KILL", check=True)
    runtime.wait_status(cid, "stopped")
    seen["delete"] = imported(runtime.run("delete", cid, check=True).stderr)
    bad_id = runtime.new_id()
    res = runtime.create(make_bundle(["true"], hooks={"prestart": [{"path": "/no/such/hook"}]}), bad_id, check=False)
    assert res.returncode == 1 and "no such file or directory" in res.stderr, res.stderr
    seen["failed create"] = imported(res.stderr)
    assert all(seen.values()), f"RAILCAR_IMPORTTIME printed nothing: {seen}"
    heavy = FORBIDDEN | {"selectors", "_posixsubprocess"}
    bad = {cmd: sorted(mods & heavy) for cmd, mods in seen.items() if mods & heavy}
    assert not bad, f"heavy modules on the hooks' path: {bad}"


def test_fast_path_answers_without_python(
    runtime: Runtime, make_bundle: BundleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """state/start/kill/delete of a plain container are answered by the launcher's C fast path
    (no interpreter: nothing imported) and give the same results as the Python path."""
    monkeypatch.setenv("RAILCAR_IMPORTTIME", "1")
    monkeypatch.setenv("RAILCAR_FASTPATH", "1")
    cid = runtime.new_id()
    runtime.create(make_bundle(["sleep", "30"]), cid)
    fast = runtime.run("state", cid, check=True)
    assert not imported(fast.stderr), fast.stderr
    monkeypatch.setenv("RAILCAR_FASTPATH", "0")
    slow = runtime.run("state", cid, check=True)
    assert imported(slow.stderr)
    assert fast.stdout == slow.stdout
    monkeypatch.setenv("RAILCAR_FASTPATH", "1")
    for args in (["start", cid], ["kill", cid, "KILL"]):
        res = runtime.run(*args, check=True)
        assert not imported(res.stderr), (args, res.stderr)
    runtime.wait_status(cid, "stopped")
    res = runtime.run("delete", cid, check=True)
    assert not imported(res.stderr), res.stderr
    assert runtime.container_dirs() == []
    # an unknown id is worded by Python, whose message clients match
    res = runtime.run("state", cid)
    assert res.returncode == 1 and "container does not exist" in res.stderr


def test_railcar_modules_are_compiled_in(runtime: Runtime, tmp_path: Path) -> None:
    """The launcher holds every railcar module compiled (tools/hotpath.py) and its C core: a copy of
    it where no railcar package sits beside it still makes a spec and lists containers (the
    libraries only the seccomp and docopt paths need are not on those paths)."""
    if not Path(runtime.binary).read_bytes()[:4] == b"\x7fELF":
        pytest.skip(f"{runtime.binary} is not the compiled launcher")
    copy = tmp_path / "bin" / "railcar"
    copy.parent.mkdir()
    shutil.copy2(runtime.binary, copy)
    work = tmp_path / "work"
    work.mkdir()
    res = subprocess.run([str(copy), "spec"], cwd=work, capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    assert json.loads((work / "config.json").read_text())["ociVersion"]
    res = subprocess.run([str(copy), "--root", str(tmp_path / "root"), "list"], capture_output=True, text=True,
                         timeout=20)
    assert res.returncode == 0 and res.stdout.startswith("ID"), res.stderr
