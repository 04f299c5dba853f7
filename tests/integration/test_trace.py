"""--trace-startup: railcar's own phases, the container child's setup stages and the helper's,
on one clock, in the order they happen, without changing what the container does."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import BundleFactory, Runtime, describe
from tests.support.bundle import sh

pytestmark = pytest.mark.railcar_only

HEADER = "railcar startup trace"
# the stages every plain `run` goes through, in this order
ORDER = [
    "launcher started",
    "interpreter ready",
    "argv parsed",
    "config loaded and validated",
    "cgroup created",
    "launch plan built",
    "child: cloned",
    "child: namespaces, id maps, cgroup",
    "child: mounts",
    "child: devices",
    "child: pivot_root",
    "child: masked and read-only paths",
    "child: exec the helper",
    "helper: running from the sealed memfd",
    "container ready (blocked before its program)",
    "helper: start received",
    "helper: exec the program",
    "container exited",
    "exit",
]


def parse(stderr: str) -> list[tuple[float, str]]:
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    marks = []
    for line in lines[start + 1:]:
        at, _, rest = line.strip().partition("  +")
        marks.append((float(at), rest.split(None, 1)[1]))
    return marks


def traced_run(runtime: Runtime, bundle: object, *flags: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    cid = runtime.new_id()
    runtime._prepare(bundle, cid)  # type: ignore[arg-type]
    argv = [runtime.binary, "--root", str(runtime.root), *flags, "run", "--bundle",
            str(bundle.path), cid]  # type: ignore[attr-defined]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)


def test_trace_shows_every_stage_in_order(runtime: Runtime, make_bundle: BundleFactory) -> None:
    res = traced_run(runtime, make_bundle(sh("echo out; echo err >&2; exit 3")), "--trace-startup")
    assert res.returncode == 3, describe(res)
    assert res.stdout == "out\n"
    assert res.stderr.startswith("err\n"), res.stderr
    marks = parse(res.stderr)
    names = [n for _, n in marks]
    assert [n for n in names if n in ORDER] == ORDER, names
    times = [t for t, _ in marks]
    assert times == sorted(times) and times[0] == 0.0
    # the whole run is accounted for, and no stage is timed on another clock
    assert 0 < times[-1] < 60_000


def test_trace_by_environment_variable(runtime: Runtime, make_bundle: BundleFactory) -> None:
    import os

    env = dict(os.environ, RAILCAR_TRACE_STARTUP="1")
    res = traced_run(runtime, make_bundle(["true"]), env=env)
    assert res.returncode == 0, describe(res)
    assert "child: pivot_root" in [n for _, n in parse(res.stderr)]


def test_no_trace_without_the_flag(runtime: Runtime, make_bundle: BundleFactory) -> None:
    res = traced_run(runtime, make_bundle(sh("echo quiet >&2")))
    assert res.returncode == 0, describe(res)
    assert res.stderr == "quiet\n"


def test_trace_never_reports_under_the_seccomp_filter(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """The helper sends nothing once the filter is loaded: a profile that kills on the very
    calls the trace uses still runs the program, and the trace stops at the filter."""
    seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["sendto", "sendmsg"], "action": "SCMP_ACT_KILL_PROCESS"}],
    }
    b = make_bundle(sh("echo ran"), process={"noNewPrivileges": True}, linux={"seccomp": seccomp})
    res = traced_run(runtime, b, "--trace-startup")
    assert res.returncode == 0, describe(res)
    assert res.stdout == "ran\n"
    names = [n for _, n in parse(res.stderr)]
    assert "helper: start received" in names
    assert "helper: exec the program" not in names
    assert names[-1] == "exit"


def test_create_and_start_with_trace(runtime: Runtime, make_bundle: BundleFactory) -> None:
    """create traces up to the blocked container; the helper's later stages have nobody to
    read them, and must not stop it."""
    b = make_bundle(sh("echo started-ok"))
    cid = runtime.new_id()
    runtime._prepare(b, cid)
    created = runtime.run("--trace-startup", "create", "--bundle", str(b.path), cid, io=cid)
    assert created.returncode == 0, describe(created)
    names = [n for _, n in parse(created.stderr)]
    assert "child: exec the helper" in names and "container ready (blocked before its program)" in names
    runtime.start(cid)
    runtime.wait_output(cid, "started-ok")
    runtime.wait_status(cid, "stopped")
    runtime.delete(cid)
