"""The runtimes under test: where they are, how they are called, their state and cleanup."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from railbench import proc

REPO = Path(__file__).resolve().parents[2]
CANDIDATES: dict[str, tuple[str, ...]] = {
    "railcar": (str(REPO / "bin" / "railcar"),),
    # the static musl build (TARGET=x86_64-unknown-linux-musl ./build.sh)
    "railcar-static": (str(REPO / "bin" / "railcar-static"),),
    # railcar without its init (the program is pid 1, as with runc and crun): what the init costs
    "railcar-noinit": (str(REPO / "bin" / "railcar"),),
    # railcar without the launcher's cgroup prewarm (csrc/launcher.c): what the prewarm saves
    "railcar-noprewarm": (str(REPO / "bin" / "railcar"),),
    "runc": ("/usr/sbin/runc", "runc"),
    "crun": ("/usr/bin/crun", "crun"),
}
CALL_TIMEOUT = 20.0  # seconds for any single runtime command
SECCOMP_CACHE = Path("@railcar") / "cache" / "seccomp"  # railcar's compiled-filter cache, under --root


@dataclass
class Runtime:
    name: str
    path: str
    root: Path
    version: str
    global_args: tuple[str, ...] = ()

    @property
    def version_line(self) -> str:
        return self.version.splitlines()[0] if self.version else "?"

    @property
    def launcher(self) -> str | None:
        """The interpreter line of `--version` (railcar prints one; the Go/C runtimes don't)."""
        for line in self.version.splitlines():
            if line.lower().startswith("python"):
                return line
        return None

    def argv(self, *args: str) -> list[str]:
        return [self.path, "--root", str(self.root), *self.global_args, *args]

    def call(self, *args: str, timeout: float = CALL_TIMEOUT) -> proc.Outcome:
        return proc.run(self.argv(*args), timeout)

    def with_own_root(self, suffix: str) -> Runtime:
        """The same runtime with a fresh --root beside ours (<root>-<suffix>): state and railcar's
        caches of its own."""
        root = self.root.with_name(f"{self.root.name}-{suffix}")
        root.mkdir(mode=0o700, exist_ok=True)
        return dataclasses.replace(self, root=root)

    def state_ids(self) -> list[str]:
        """Container ids with a state entry under our --root (railcar's own @railcar skipped)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name != "@railcar")

    def force_delete(self, cid: str) -> proc.Outcome:
        return self.call("delete", "--force", cid)

    def clear_seccomp_cache(self) -> None:
        """Empty <root>/@railcar/cache/seccomp (only railcar has one; a no-op for the others)."""
        cache = self.root / SECCOMP_CACHE
        if cache.is_dir():
            for entry in cache.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()

    def seccomp_cache_files(self) -> int:
        cache = self.root / SECCOMP_CACHE
        return sum(1 for _ in cache.iterdir()) if cache.is_dir() else 0

    def cleanup(self) -> list[str]:
        """delete --force everything left under our root; what would not go, and why."""
        outcomes = {cid: self.force_delete(cid) for cid in self.state_ids()}
        return [f"{self.name}: {cid} stays: {outcomes[cid].describe()}" for cid in self.state_ids()]


def locate(spec: str) -> tuple[str, str | None]:
    """`name` or `name=/path` -> (name, executable path or None when missing)."""
    name, _, explicit = spec.partition("=")
    for candidate in (explicit,) if explicit else CANDIDATES.get(name, (name,)):
        found = shutil.which(candidate)
        if found:
            return name, found
    return name, None


def open_runtime(name: str, path: str, workdir: Path) -> Runtime:
    """A Runtime with its own fresh --root; raises CommandFailed when `--version` fails."""
    root = workdir / f"root-{name}"
    root.mkdir(mode=0o700)
    version = proc.run([path, "--version"], CALL_TIMEOUT).check()
    extra = {"-noinit": ("--no-init",), "-noprewarm": ("--no-prewarm",)}.get(name[name.rfind("-"):], ())
    return Runtime(name=name, path=path, root=root, version=version.stdout.strip(), global_args=extra)
