"""bench/startup.py --quick against one reference runtime: checks the report's structure, not its timings."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "startup.py"
REFERENCES = {"runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
TOP_KEYS = {
    "schema", "date", "rounds", "quick", "machine", "mount_namespace", "spec_source", "seccomp_profile",
    "spawner", "parallel_repetitions", "subject", "runtimes", "metrics", "parallel", "memory_min", "floor",
    "docker_config", "above_floor", "trace",
}  # fmt: skip
METRIC_KEYS = {
    "run_ms", "seccomp_cold_ms", "seccomp_warm_ms", "create_ms", "start_ms", "delete_ms", "lifecycle_ms",
    "wait_ms", "run_cpu_ms", "run_maxrss_mib", "parallel_per_s", "memory_min_mib", "docker_run_ms",
    "trace_interpreter_ms", "trace_own_ms", "trace_own_docker_ms",
}  # fmt: skip
SUMMARY_KEYS = {"n", "median", "p90", "min", "max", "samples"}
PARALLEL_KEYS = {"containers", "workers", "seconds", "per_second", "failed", "errors", "leaked_state",
                 "leaked_processes", "leaked_cgroups"}  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def _reference() -> str:
    for name, path in REFERENCES.items():
        if shutil.which(path) or shutil.which(name):
            return name
    pytest.skip("neither runc nor crun is installed")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, subprocess.CompletedProcess[str], Path]:
    runtime = _reference()
    out = tmp_path_factory.mktemp("bench")
    cmd = [sys.executable, str(SCRIPT), "--quick", "--runtimes", runtime, "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, f"{cmd}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return runtime, res, out


def _report(out: Path) -> dict:
    reports = list(out.glob("startup-*.json"))
    assert len(reports) == 1, reports
    return json.loads(reports[0].read_text())


def test_top_level_and_header(quick_run):
    runtime, res, out = quick_run
    doc = _report(out)
    assert TOP_KEYS <= doc.keys()
    assert doc["quick"] is True and doc["rounds"] >= 1
    assert {"nproc", "model_name", "kernel"} <= doc["machine"].keys()
    assert doc["subject"] == runtime
    rt = doc["runtimes"][runtime]
    assert rt["available"] and rt["excluded"] is None
    assert rt["version"].startswith(f"{runtime} version")
    assert "run /bin/true" in res.stdout and "median / p90" in res.stdout
    assert "namespace:" in res.stdout


def test_metrics_have_summaries(quick_run):
    runtime, _, out = quick_run
    metrics = _report(out)["metrics"]
    assert METRIC_KEYS <= metrics.keys()
    for key, metric in metrics.items():
        assert {"label", "unit", "higher_is_better", "by_runtime", "ratios"} <= metric.keys(), key
        summary = metric["by_runtime"][runtime]
        assert SUMMARY_KEYS <= summary.keys(), key
        assert summary["n"] == len(summary["samples"]), key
    assert metrics["run_ms"]["by_runtime"][runtime]["n"] >= 1
    assert metrics["lifecycle_ms"]["by_runtime"][runtime]["median"] > 0
    assert metrics["docker_run_ms"]["by_runtime"][runtime]["n"] >= 1  # the recorded docker config runs
    assert metrics["trace_own_ms"]["by_runtime"][runtime]["n"] == 0  # --trace-startup is railcar's


def test_above_floor_rows(quick_run):
    runtime, res, out = quick_run
    doc = _report(out)
    assert set(doc["above_floor"]) == {"run_ms", "create_ms"}
    if doc["floor"]["n"]:
        run = doc["metrics"]["run_ms"]["by_runtime"][runtime]["median"]
        assert doc["above_floor"]["run_ms"][runtime] == run - doc["floor"]["median"]
    assert "run - floor" in res.stdout and "create - floor" in res.stdout


def test_parallel_and_memory_sections(quick_run):
    runtime, _, out = quick_run
    doc = _report(out)
    [rep] = doc["parallel"][runtime]
    assert PARALLEL_KEYS <= rep.keys()
    assert rep["containers"] == 50 and rep["workers"] == 8
    memory = doc["memory_min"][runtime]
    assert "min_bytes" in memory and memory["tries"]


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib not installed")
def test_chart_written(quick_run):
    _, _, out = quick_run
    [chart] = out.glob("startup-*.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interpreter_floor_sampled_with_the_runtimes(quick_run):
    runtime, res, out = quick_run
    floor = _report(out)["floor"]
    if not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("no /usr/bin/python3: no interpreter floor to sample")
    assert floor["argv"][0] == "/usr/bin/python3" and floor["n"] == len(floor["samples"]) >= 1
    assert 0 < floor["median"] < 1000
    assert f"x {runtime}'s run" in res.stdout and "floor:" in res.stdout
