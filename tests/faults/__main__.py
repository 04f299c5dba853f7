"""The fault suite's runner: every case against railcar and runc, then a summary table.

    python -m tests.faults                       # N=100 (RAILCAR_FAULT_N), railcar then runc
    python -m tests.faults --runtime railcar -n 20 --seed 7
    python -m tests.faults -k sigkill/create -k corrupt-state
    python -m tests.faults --list

Exit status: 0 when the runtimes under test (not the reference runc/crun, which are only
compared with) had no problem in any case, 1 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import REPO, unmount_under
from tests.faults.cases import UNITS, Unit
from tests.faults.harness import (
    Outcome,
    Suite,
    become_subreaper,
    clip,
    default_seed,
    env_int,
    problem_report,
    summary_table,
)
from tests.support.bundle import make_rootfs

REFERENCES = ("runc", "crun")


def resolve(name: str) -> tuple[str, str]:
    """A runtime name (railcar, runc, crun) or path -> (label, binary)."""
    if name == "railcar":
        return "railcar", os.environ.get("RAILCAR_FAULT_BINARY") or str(REPO / "bin" / "railcar")
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"runtime {name!r}: not found")
    label = Path(found).name
    return label, found


def pick(units: list[Unit], only: list[str]) -> list[Unit]:
    return [u for u in units if not only or any(k in u.id for k in only)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--runtime",
        default=os.environ.get("RAILCAR_FAULT_RUNTIMES", "railcar,runc"),
        help="comma-separated: railcar, runc, crun or paths (default railcar,runc)",
    )
    ap.add_argument("-n", type=int, default=env_int("RAILCAR_FAULT_N", 100), help="SIGKILLs per verb (100)")
    ap.add_argument("--seed", type=int, default=None, help="default $RAILCAR_FAULT_SEED or a fresh one")
    ap.add_argument("-k", dest="only", action="append", default=[], help="only units whose id holds this")
    ap.add_argument("--list", action="store_true", help="list the units and exit")
    ap.add_argument("--details", type=int, default=5, help="problem cases shown per group and runtime")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    args = ap.parse_args(argv)

    units = pick(UNITS, args.only)
    if args.list:
        for u in units:
            print(u.id)
        return 0
    if not units:
        print(f"no unit matches {args.only}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("the fault suite runs containers: run it as root", file=sys.stderr)
        return 2
    runtimes = [resolve(r.strip()) for r in args.runtime.split(",") if r.strip()]
    for label, binary in runtimes:
        if not os.access(binary, os.X_OK):
            print(f"{label}: {binary} is not executable (build it: ./build.sh)", file=sys.stderr)
            return 2
    seed = args.seed if args.seed is not None else default_seed()
    become_subreaper()
    session = Path(tempfile.mkdtemp(prefix="railcar-faults-", dir="/tmp"))
    session.chmod(0o755)
    print(
        f"fault suite: seed {seed} (RAILCAR_FAULT_SEED={seed} repeats it), N {args.n}, "
        f"{len(units)} units, runtimes: {', '.join(f'{lbl} ({b})' for lbl, b in runtimes)}",
        flush=True,
    )

    shown: dict[tuple[str, str], int] = {}

    def log(o: Outcome) -> None:
        if not o.clean:
            key = (o.runtime, o.group)
            shown[key] = shown.get(key, 0) + 1
            if shown[key] > args.details and not args.verbose:
                return
        if args.verbose or not o.clean:
            state = "skipped: " + str(o.skipped) if o.skipped else ("ok" if o.clean else "PROBLEM")
            print(f"    {o.name}: {state}", flush=True)
            if not o.clean and not args.verbose:
                for p in o.problems()[:3]:
                    print(f"      {clip(p, 220)}", flush=True)

    suites: list[Suite] = []
    t_all = time.monotonic()
    try:
        base = session / "rootfs-base"
        make_rootfs(base)
        for label, binary in runtimes:
            suite = Suite(label, binary, base, session, seed, args.n, log=log)
            suites.append(suite)
            t_rt = time.monotonic()
            for u in units:
                first, t0 = len(suite.outcomes), time.monotonic()
                print(f"[{label}] {u.id}", flush=True)
                u.run(suite)
                outs = suite.outcomes[first:]
                bad = sum(1 for o in outs if not o.clean)
                print(f"  -> {len(outs)} cases, {bad} with problems, {time.monotonic() - t0:.1f}s", flush=True)
            print(f"[{label}] done in {time.monotonic() - t_rt:.1f}s", flush=True)
    finally:
        unmount_under(session)
        shutil.rmtree(session, ignore_errors=True)
    outcomes = [o for s in suites for o in s.outcomes]
    print()
    print(f"fault suite summary: seed {seed}, N {args.n}, {time.monotonic() - t_all:.0f}s")
    print("(cases; hit = SIGKILLs that landed while the command ran; leak/crash/fail/skip = cases)")
    print(summary_table(outcomes, [s.label for s in suites]))
    report = problem_report(outcomes, per_group=args.details)
    if report:
        print()
        print(report)
    tested = [s for s in suites if s.label not in REFERENCES] or suites
    return 1 if any(not o.clean for s in tested for o in s.outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
