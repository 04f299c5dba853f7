"""Startup benchmark: railcar against runc and crun, measured in one interleaved run.

    .venv/bin/python bench/startup.py [--runtimes railcar,runc,crun] [--rounds N] [--out DIR] [--quick]

See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from railbench import bundle, cgroups, env, proc, report, runner
from railbench.proc import CommandFailed
from railbench.runner import RuntimeResult
from railbench.runtime import Runtime, locate, open_runtime
from railbench.scenarios import Context

HERE = Path(__file__).resolve().parent
QUICK_ROUNDS = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--runtimes",
        default="railcar,runc,crun",
        help="comma-separated names, or name=/path; the first usable one is the ratio subject",
    )
    p.add_argument("--rounds", type=int, default=None, help="sampled rounds (default 30, --quick 3)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="directory for the JSON and PNG")
    p.add_argument("--quick", action="store_true", help="few rounds, one parallel repetition (< 60 s)")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else 30
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def open_runtimes(requested: dict[str, str | None], workdir: Path) -> tuple[list[Runtime], dict[str, str]]:
    runtimes: list[Runtime] = []
    excluded: dict[str, str] = {}
    for name, path in requested.items():
        if path is None:
            continue
        try:
            runtimes.append(open_runtime(name, path, workdir))
        except CommandFailed as exc:
            excluded[name] = f"--version failed: {exc}"
    return runtimes, excluded


def print_header(header: dict[str, Any], requested: dict[str, str | None], runtimes: list[Runtime]) -> None:
    m = header["machine"]
    print(
        f"railcar startup benchmark, {header['date']}, rounds {header['rounds']}"
        + (" (quick)" if header["quick"] else "")
    )
    print(f"machine: {m['nproc']} cpu, {m['model_name']}, kernel {m['kernel']}, Debian {m['debian']}")
    print(f"benchmark interpreter: {m['python']}")
    print(f"namespace: {header['mount_namespace']}")
    print(f"spec: {header['spec_source']}; seccomp profile: {header['seccomp_profile']}")
    print(f"docker config: {header['docker_config']}")
    print(f"runtimes spawned by: {header['spawner']}")
    opened = {rt.name: rt for rt in runtimes}
    for name, path in requested.items():
        rt = opened.get(name)
        if rt is None:
            print(f"  {name}: {'not found' if path is None else 'unusable'}")
            continue
        launcher = f"; launcher: {rt.launcher}" if rt.launcher else ""
        print(f"  {name}: {rt.path}: {rt.version_line}{launcher}")
    sys.stdout.flush()


def cleanup(ctx: Context | None, runtimes: list[Runtime], workdir: Path) -> None:
    """Force-delete every container, remove our cgroups and the work dir; say what would not go."""
    proc.kill_inflight()
    every = [*runtimes, *(ctx.docker_runtimes.values() if ctx is not None else ())]
    problems = [problem for rt in every for problem in rt.cleanup()]
    env.reap_strays()
    if ctx is not None:
        problems += cgroups.remove(ctx.cgroup_parent) + cgroups.remove_found(ctx.id_prefix)
    shutil.rmtree(workdir, ignore_errors=True)
    if os.path.ismount(workdir):
        subprocess.run(["umount", "-l", str(workdir)], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"cleanup: {problem}", file=sys.stderr)


def write_outputs(doc: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"startup-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    report.write_json(doc, stem.with_suffix(".json"))
    print(f"\njson: {stem.with_suffix('.json')}")
    if report.write_chart(doc, stem.with_suffix(".png")):
        print(f"chart: {stem.with_suffix('.png')}")


def benchmark(args: argparse.Namespace, workdir: Path, ns_note: str) -> dict[str, Any]:
    requested = dict(locate(spec) for spec in args.runtimes.split(",") if spec)
    runtimes, excluded = open_runtimes(requested, workdir)
    ctx: Context | None = None
    try:
        spawner = proc.build_spawner(workdir)
        rootfs = workdir / "rootfs"
        bundle.make_rootfs(rootfs)
        spec, spec_source = bundle.default_spec([(rt.name, rt.path) for rt in runtimes], workdir)
        seccomp, seccomp_path = bundle.seccomp_profile()
        docker, docker_path = bundle.docker_config()
        ctx = Context(workdir=workdir, rootfs=rootfs, base_spec=spec, seccomp=seccomp, docker=docker)
        ctx.prepare()
        header = {
            "date": env.now(),
            "rounds": args.rounds,
            "quick": args.quick,
            "machine": env.machine(),
            "mount_namespace": ns_note,
            "spec_source": spec_source,
            "seccomp_profile": seccomp_path,
            "docker_config": docker_path,
            "spawner": f"spawn.c built with {spawner}" if spawner else "python posix_spawn (no peak RSS)",
        }
        print_header(header, requested, runtimes)
        results = [RuntimeResult(rt) for rt in runtimes]
        excluded.update(runner.warm_up(ctx, results))
        active = [res for res in results if res.name not in excluded]
        parallel_reps = 1 if args.quick else max(1, min(5, args.rounds // 10))
        header["parallel_repetitions"] = parallel_reps
        floor = runner.measure(ctx, active, args.rounds, parallel_reps)
        subject = active[0].name if active else None
        return report.build(header, requested, results, excluded, subject, floor)
    finally:
        cleanup(ctx, runtimes, workdir)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("startup.py: must run as root (containers, cgroups, namespaces)", file=sys.stderr)
        return 2
    ns_note = env.ensure_private_mountns()  # may re-exec this script under unshare
    env.become_subreaper()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix=f"railcar-bench-{os.getpid()}-"))
    # on a tmpfs, as engines keep runtimes' state (/run/containerd, /run/docker, $XDG_RUNTIME_DIR):
    # every runtime's state writes cost what they cost there, not a disk's journal
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "railcar-bench", str(workdir)],
                             capture_output=True).returncode == 0
    try:
        doc = benchmark(args, workdir, ns_note + ("; work dir and --roots on tmpfs" if mounted else ""))
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        return 130
    print()
    print(report.table(doc))
    for note in report.notes(doc):
        print(f"note: {note}")
    write_outputs(doc, args.out)
    return 0 if doc["subject"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
