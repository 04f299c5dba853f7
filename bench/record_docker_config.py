"""Record the config.json docker writes for `docker run --rm IMAGE true` into tests/data.

    .venv/bin/python bench/record_docker_config.py [--runtime bin/railcar] [--out tests/data/docker-config.json]

As root. A private dockerd (the client suite's sandbox: its own mount and network namespace,
data-root, exec-root and socket; tests/clients/engines.py) runs the container with default
settings on a wrapper runtime: a shell script that copies the bundle's config.json to the output
at `create` and then execs the real runtime (railcar by default). The file is written as docker
wrote it; bench/railbench/bundle.py adapts it to the bench's bundle. Everything the script
started (dockerd, its containerd, the sandbox) is stopped, and the cgroups docker made are removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.clients import engines  # noqa: E402

WRAPPER = """#!/bin/sh
# the runtime docker calls: copy the bundle's config.json at create, then exec the real runtime
prev=
for arg in "$@"; do
    case "$prev" in --bundle|-b) cp "$arg/config.json" {captured} ;; esac
    case "$arg" in --bundle=*) cp "${{arg#--bundle=}}/config.json" {captured} ;; esac
    prev=$arg
done
exec {runtime} "$@"
"""


def record(runtime: str, out: Path) -> dict[str, str]:
    engines.ensure_packages(("docker.io", "busybox-static", "iproute2", "iptables"))
    before = engines.existing_engine_cgroups()
    workdir = Path(tempfile.mkdtemp(prefix="railcar-record-"))
    captured = workdir / "captured-config.json"
    wrapper = workdir / "railcar-wrapper"
    wrapper.write_text(WRAPPER.format(captured=captured, runtime=runtime))
    wrapper.chmod(0o755)
    sandbox = engines.Sandbox(workdir)
    docker = None
    try:
        rootfs = engines.make_rootfs(workdir / "rootfs")
        sandbox.start()
        docker = engines.Docker(sandbox, workdir, str(wrapper), "railcar")
        docker.start()
        docker.import_image(rootfs)
        docker.cli("run", "--rm", engines.IMAGE, "true").ok()
        versions = {
            "docker": docker.cli("version", "-f", "{{.Server.Version}}").ok().out.strip(),
            "containerd": engines.run(["containerd", "--version"]).out.strip(),
            "runtime": engines.run([runtime, "--version"]).out.splitlines()[0],
        }
        config = json.loads(captured.read_text())
        out.write_text(json.dumps(config, indent=2) + "\n")
        return versions
    finally:
        if docker is not None:
            docker.stop()
        sandbox.stop()
        for top in engines.existing_engine_cgroups() - before:
            engines.remove_cgroup_tree(top)
        left = engines.mountpoints_under(workdir)
        if left:
            print(f"mounts left under {workdir}: {left}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime", default=str(REPO / "bin" / "railcar"), help="the runtime docker runs it on")
    p.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "docker-config.json")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("record_docker_config.py: must run as root", file=sys.stderr)
        return 2
    versions = record(os.path.abspath(args.runtime), args.out)
    print(f"{args.out}: recorded with " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
