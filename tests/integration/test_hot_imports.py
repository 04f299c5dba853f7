"""The per-invocation commands import nothing heavy (DESIGN.md's budget): every module the
launcher's interpreter imports is listed with RAILCAR_IMPORTTIME=1 (like -X importtime)."""

from __future__ import annotations

import pytest

from tests.conftest import BundleFactory, Runtime

pytestmark = pytest.mark.railcar_only

FORBIDDEN = {
    "re",
    "json",
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
}


def imported(stderr: str) -> set[str]:
    mods = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                mods.add(name)
    return mods


def test_hot_commands_import_nothing_heavy(
    runtime: Runtime, make_bundle: BundleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAILCAR_IMPORTTIME", "1")
    cid = runtime.new_id()
    bundle = make_bundle(["sleep", "30"])
    seen: dict[str, set[str]] = {}
    res = runtime.create(bundle, cid)
    seen["create"] = imported(res.stderr + runtime.io_text(cid, "err"))
    for name, args in (
        ("start", ["start", cid]),
        ("state", ["state", cid]),
        ("exec", ["exec", cid, "true"]),
        ("kill", ["kill", cid, "KILL"]),
    ):
        seen[name] = imported(runtime.run(*args, check=True).stderr)
    runtime.wait_status(cid, "stopped")
    seen["delete"] = imported(runtime.run("delete", cid, check=True).stderr)
    run_id = runtime.new_id()
    runtime._prepare(make_bundle(["true"]), run_id)
    seen["run"] = imported(runtime.run("run", "--bundle", str(make_bundle(["true"]).path), run_id, check=True).stderr)
    assert all(seen.values()), f"RAILCAR_IMPORTTIME printed nothing: {seen}"
    bad = {cmd: sorted(mods & FORBIDDEN) for cmd, mods in seen.items() if mods & FORBIDDEN}
    assert not bad, f"heavy modules on the hot path: {bad}"
