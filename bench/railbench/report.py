"""The results as a JSON document, a table on stdout and a PNG of the distributions."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from railbench import trace
from railbench.metrics import ABOVE_FLOOR, BY_KEY, METRICS, Metric, ratio, summarize
from railbench.runner import RuntimeResult
from railbench.scenarios import FLOOR_ARGV

SCHEMA = "railcar-bench-startup/1"
MIB = 1024 * 1024
LEAK_KEYS = ("leaked_state", "leaked_processes", "leaked_cgroups")
TRACE_PHASES = ("interpreter", *trace.OWN_NAMES, "own", trace.HOOKS[0], "total")
TRACE_CONFIGS = (("default", ""), ("docker", "_docker"))  # config -> sample key suffix
# issue 16's targets, ms: (what, measured as, at most)
TARGETS = (
    ("run - floor", ("above_floor", "run_ms"), 6.0),
    ("create - floor", ("above_floor", "create_ms"), 3.5),
    ("own work, default spec", ("trace", "default"), 3.0),
    ("own work, docker config", ("trace", "docker"), 4.0),
)


def _values(res: RuntimeResult, key: str) -> list[float]:
    """Samples of one metric; parallel and memory results are folded in as metrics too."""
    if key == "parallel_per_s":
        return [rep["per_second"] for rep in res.parallel]
    if key == "memory_min_mib":
        found = (res.memory or {}).get("min_bytes")
        return [found / MIB] if found is not None else []
    return res.samples.get(key, [])


def _metric_doc(metric: Metric, results: Sequence[RuntimeResult], subject: str | None) -> dict[str, Any]:
    by_runtime = {
        res.name: {**summarize(_values(res, metric.key)), "samples": _values(res, metric.key)} for res in results
    }
    ratios = {}
    if subject is not None:
        for name, summary in by_runtime.items():
            if name != subject:
                ratios[f"{subject}/{name}"] = ratio(by_runtime[subject]["median"], summary["median"])
    return {
        "label": metric.label,
        "unit": metric.unit,
        "higher_is_better": metric.higher_is_better,
        "by_runtime": by_runtime,
        "ratios": ratios,
    }


def _runtime_doc(res: RuntimeResult | None, path: str | None, excluded: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"path": path, "available": path is not None, "excluded": excluded}
    if res is not None:
        rt = res.runtime
        doc.update(
            version=rt.version,
            launcher=rt.launcher,
            root=str(rt.root),
            seccomp_cache_files=rt.seccomp_cache_files(),
            failures=res.failures,
            errors=res.errors,
            disabled=res.disabled,
        )
    return doc


def _trace_doc(res: RuntimeResult) -> dict[str, Any]:
    """Each --trace-startup phase's summary and samples, per config (empty for non-railcar runtimes)."""
    doc: dict[str, Any] = {}
    for config, suffix in TRACE_CONFIGS:
        phases = {}
        for phase in TRACE_PHASES:
            values = res.samples.get(f"trace_{phase}{suffix}_ms", [])
            if values:
                phases[phase] = {**summarize(values), "samples": values}
        if phases:
            doc[config] = phases
    return doc


def _above_floor(metrics: dict[str, Any], floor: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per metric of ABOVE_FLOOR and runtime: its median minus the floor's median."""
    out: dict[str, dict[str, float | None]] = {}
    for key, _ in ABOVE_FLOOR:
        out[key] = {
            name: (s["median"] - floor["median"] if s["median"] is not None and floor.get("median") else None)
            for name, s in metrics[key]["by_runtime"].items()
        }
    return out


def build(
    header: dict[str, Any],
    requested: dict[str, str | None],
    results: Sequence[RuntimeResult],
    excluded: dict[str, str],
    subject: str | None,
    floor: Sequence[float] = (),
) -> dict[str, Any]:
    """The whole report. `requested`: name -> path (None when missing); `results`: measured ones."""
    found = {res.name: res for res in results}
    measured = [res for res in results if res.name not in excluded]
    metrics = {m.key: _metric_doc(m, measured, subject) for m in METRICS}
    floor_doc = {"argv": list(FLOOR_ARGV), **summarize(floor), "samples": list(floor)}
    return {
        "schema": SCHEMA,
        **header,
        "subject": subject,
        "runtimes": {name: _runtime_doc(found.get(name), path, excluded.get(name)) for name, path in requested.items()},
        "metrics": metrics,
        "parallel": {res.name: res.parallel for res in measured},
        "memory_min": {res.name: res.memory for res in measured},
        "floor": floor_doc,
        "above_floor": _above_floor(metrics, floor_doc),
        "trace": {res.name: _trace_doc(res) for res in measured},
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *rest = cells
    return f"{first:<{widths[0]}}" + "".join(f"  {c:>{w}}" for c, w in zip(rest, widths[1:]))


def table(doc: dict[str, Any]) -> str:
    names = list(next(iter(doc["metrics"].values()))["by_runtime"])
    ratio_keys = list(dict.fromkeys(k for m in doc["metrics"].values() for k in m["ratios"]))
    head = ["metric (median / p90)", "unit", *names, *ratio_keys]
    rows = [head]
    for key, m in doc["metrics"].items():
        cells = [BY_KEY[key].label, m["unit"]]
        for name in names:
            s = m["by_runtime"][name]
            cells.append(f"{_fmt(s['median'])} / {_fmt(s['p90'])}" if s["n"] else "-")
        cells += [_fmt(m["ratios"].get(k)) for k in ratio_keys]
        rows.append(cells)
    for key, label in ABOVE_FLOOR:  # medians only: a difference of medians has no p90
        values = doc.get("above_floor", {}).get(key, {})
        rows.append([label, "ms", *(_fmt(values.get(name)) for name in names), *("-" for _ in ratio_keys)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [_row(r, widths) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def notes(doc: dict[str, Any]) -> list[str]:
    """Failures, exclusions and leaks worth a line under the table."""
    out = []
    for name, rt in doc["runtimes"].items():
        if not rt["available"]:
            out.append(f"{name}: not found, skipped")
        elif rt["excluded"]:
            out.append(f"{name}: excluded ({rt['excluded']})")
        for scenario, why in (rt.get("disabled") or {}).items():
            if not rt["excluded"]:
                out.append(f"{name}: {scenario} skipped, first sample failed: {why}")
        for scenario, count in (rt.get("failures") or {}).items():
            out.append(f"{name}: {scenario}: {count} failed sample(s), e.g. {rt['errors'][scenario][0]}")
    floor = doc.get("floor") or {}
    if floor.get("n"):
        runs = {n: s["median"] for n, s in doc["metrics"]["run_ms"]["by_runtime"].items() if s["n"]}
        vs = ", ".join(f"{ratio(floor['median'], ms):.2f}x {n}'s run" for n, ms in runs.items())
        out.append(f"floor: `{' '.join(floor['argv'])}` (a bare CPython start and exit) took "
                   f"{_fmt(floor['median'])} ms median: {vs}")
    for name, configs in doc.get("trace", {}).items():
        for config, phases in configs.items():
            parts = [f"{p} {_fmt(phases[p]['median'])}" for p in trace.OWN_NAMES if p in phases]
            hooks = f"; hooks (not in own work) {_fmt(phases['hooks']['median'])}" if "hooks" in phases else ""
            out.append(f"{name}: trace, {config} {'spec' if config == 'default' else 'config'}, medians in ms: "
                       f"interpreter ready {_fmt(phases['interpreter']['median'])}; own work "
                       f"{_fmt(phases['own']['median'])} (phases: {', '.join(parts)}){hooks}; "
                       f"to exit {_fmt(phases['total']['median'])}")
    subject = doc.get("subject")
    if subject and doc.get("trace", {}).get(subject):
        checks = []
        for what, (section, key), limit in TARGETS:
            if section == "above_floor":
                value = doc.get("above_floor", {}).get(key, {}).get(subject)
            else:
                value = doc["trace"][subject].get(key, {}).get("own", {}).get("median")
            verdict = "?" if value is None else ("met" if value <= limit else "not met")
            checks.append(f"{what} {_fmt(value)} (<= {_fmt(limit)}: {verdict})")
        out.append(f"issue 16 targets, {subject}: " + "; ".join(checks))
    for name, reps in doc["parallel"].items():
        for rep in reps:
            leaks = {k: rep[k] for k in LEAK_KEYS if rep[k]}
            if rep["failed"] or leaks:
                out.append(f"{name}: parallel: {rep['failed']} failed, {leaks or 'no leaks'}; {rep['errors'][:1]}")
    return out


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def write_chart(doc: dict[str, Any], path: Path) -> bool:
    """One panel per metric: a box plot with the samples on top. False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
        return False
    panels = [m for m in doc["metrics"].values() if any(s["n"] for s in m["by_runtime"].values())]
    cols = 3
    fig_rows = max(1, -(-len(panels) // cols))
    fig, axes = plt.subplots(fig_rows, cols, figsize=(5 * cols, 3.4 * fig_rows), squeeze=False)
    for ax, m in zip(axes.flat, panels):
        _panel(ax, m)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"runtime startup, {doc['machine']['model_name']}, {doc['machine']['kernel']}, {doc['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _panel(ax: Any, m: dict[str, Any]) -> None:
    names = list(m["by_runtime"])
    data = [m["by_runtime"][n]["samples"] for n in names]
    positions = range(1, len(names) + 1)
    if all(len(d) <= 1 for d in data):
        ax.bar(positions, [d[0] if d else 0 for d in data], color="tab:blue", alpha=0.6)
    else:
        ax.boxplot([d or [float("nan")] for d in data], positions=list(positions), showfliers=False)
        for x, d in zip(positions, data):
            jitter = [x + 0.15 * ((i * 37 % 11) / 10 - 0.5) for i in range(len(d))]
            ax.scatter(jitter, d, s=6, alpha=0.4)
    ax.set_xticks(list(positions), names)
    better = "higher" if m["higher_is_better"] else "lower"
    ax.set_title(f"{m['label']} ({better} is better)", fontsize=9)
    ax.set_ylabel(m["unit"])
    ax.set_ylim(bottom=0)
