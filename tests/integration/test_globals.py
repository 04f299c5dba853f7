"""The global options containerd and podman pass: --log, --log-format, --root, in both the
`--flag value` and `--flag=value` forms; a bad one is refused before anything is done."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import BundleFactory, Runtime, describe


def rt(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    """The runtime with exactly these arguments (no --root added)."""
    return subprocess.run([runtime.binary, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def stopped_container(runtime: Runtime, make_bundle: BundleFactory) -> str:
    cid = runtime.new_id()
    runtime.create(make_bundle(["true"]), cid)
    runtime.start(cid)
    runtime.wait_status(cid, "stopped")
    return cid


@pytest.mark.parametrize("form", ["separate", "joined"])
def test_json_log_of_an_error(runtime: Runtime, form: str) -> None:
    log = runtime.workdir / "log.json"
    opts = (["--log", str(log), "--log-format", "json"] if form == "separate"
            else [f"--log={log}", "--log-format=json"])
    res = rt(runtime, "--root", str(runtime.root), *opts, "state", "no-such-ctr")
    assert res.returncode == 1 and "container does not exist" in res.stderr, describe(res)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    errors = [x for x in lines if x["level"] == "error"]
    assert errors and "container does not exist" in errors[-1]["msg"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", errors[-1]["time"])


def test_text_log_of_an_error(runtime: Runtime) -> None:
    log = runtime.workdir / "log.txt"
    res = rt(runtime, f"--root={runtime.root}", "--log", str(log), "kill", "no-such-ctr", "TERM")
    assert res.returncode == 1, describe(res)
    text = log.read_text()
    assert re.search(r'time="[^"]+" level=error msg="[^"]*container does not exist', text), text


@pytest.mark.parametrize("verb", ["state", "delete"])
def test_log_file_made_when_nothing_fails(runtime: Runtime, make_bundle: BundleFactory, verb: str) -> None:
    """containerd opens the log after every call: it must exist even when it is empty."""
    cid = stopped_container(runtime, make_bundle)
    log = runtime.workdir / f"{verb}.log"
    res = rt(runtime, "--root", str(runtime.root), "--log", str(log), "--log-format", "json", verb, cid)
    assert res.returncode == 0, describe(res)
    assert log.exists()


@pytest.mark.parametrize("opts, text", [
    (["--log-format", "xml"], "invalid log-format: xml"),
    (["--log-format=xml"], "invalid log-format: xml"),
    (["--log", "/nonexistent-dir/x/log"], "open /nonexistent-dir/x/log: no such file or directory"),
], ids=["format", "format-joined", "unopenable-log"])
def test_bad_global_option_refused_before_acting(runtime: Runtime, make_bundle: BundleFactory,
                                                 opts: list[str], text: str) -> None:
    cid = stopped_container(runtime, make_bundle)
    res = rt(runtime, "--root", str(runtime.root), *opts, "delete", cid)
    assert res.returncode == 1, describe(res)
    assert text in res.stderr, describe(res)
    assert runtime.status(cid) == "stopped", "the container was deleted anyway"
