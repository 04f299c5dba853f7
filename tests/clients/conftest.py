"""docker, podman and containerd running their containers on the runtime under test, and
containerd's CRI plugin driven as the kubelet drives it (test_cri.py).

RAILCAR_CLIENT_RUNTIME=railcar (default) or runc picks the runtime, so the same suite can be
checked against runc first; RAILCAR_CLIENT_BINARY overrides its path (default: <repo>/bin/railcar,
or runc on PATH). Engines are installed from Debian packages when missing and started
once per session, privately (see engines.py); everything they made is gone afterwards.

Run alone: `.venv/bin/python -m pytest tests/clients -q`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import engines
from tests.clients.engines import ContainerCli, Containerd, Docker, Podman, Sandbox

CHOICE = os.environ.get("RAILCAR_CLIENT_RUNTIME", "railcar")
if CHOICE not in ("railcar", "runc"):
    raise pytest.UsageError(f"RAILCAR_CLIENT_RUNTIME must be railcar or runc, not {CHOICE!r}")
_DEFAULT = str(engines.REPO / "bin" / "railcar") if CHOICE == "railcar" else (shutil.which("runc") or "/usr/sbin/runc")
RUNTIME = os.path.abspath(os.environ.get("RAILCAR_CLIENT_BINARY") or _DEFAULT)  # e.g. an installed railcar


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clients: docker/podman/containerd driving the runtime (tests/clients)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"client suite runtime: {CHOICE} ({RUNTIME})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.clients)


class Session:
    """What every engine shares: the work dir, the busybox rootfs, the sandbox namespace."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="railcar-clients-"))
        self.rootfs = engines.make_rootfs(self.workdir / "rootfs")
        self.sandbox = Sandbox(self.workdir)
        self.cgroups_before = engines.existing_engine_cgroups()
        self.notes: list[str] = []


@pytest.fixture(scope="package")
def clients() -> Iterator[Session]:
    if os.geteuid() != 0:
        pytest.skip("the client suite needs root")
    engines.ensure_packages()
    if CHOICE == "railcar" and not os.access(RUNTIME, os.X_OK):
        pytest.fail(f"{RUNTIME} is not built: run ./build.sh")
    sess = Session()
    sess.sandbox.start()
    try:
        yield sess
    finally:
        sess.notes += sess.sandbox.stop()
        for top in engines.existing_engine_cgroups() - sess.cgroups_before:
            left = engines.remove_cgroup_tree(top)
            if left:
                sess.notes.append(f"cgroups left: {left}")
        left_mounts = engines.mountpoints_under(sess.workdir)
        if left_mounts:
            sess.notes.append(f"host mounts left under {sess.workdir}: {left_mounts}")
        else:
            shutil.rmtree(sess.workdir, ignore_errors=True)
        for note in sess.notes:
            warnings.warn(f"client suite teardown: {note}", stacklevel=1)


@pytest.fixture(scope="package")
def docker(clients: Session) -> Iterator[Docker]:
    eng = Docker(clients.sandbox, clients.workdir, RUNTIME, CHOICE)
    try:
        eng.start()
        eng.import_image(clients.rootfs)
        yield eng
    finally:
        with engines.ignoring_errors(clients.notes, "stopping docker"):
            eng.stop()


@pytest.fixture(scope="package")
def podman(clients: Session) -> Iterator[Podman]:
    eng = Podman(clients.sandbox, clients.workdir, RUNTIME)
    try:
        eng.start()
        eng.import_image(clients.rootfs)
        yield eng
    finally:
        with engines.ignoring_errors(clients.notes, "stopping podman"):
            eng.stop()


@pytest.fixture(scope="package")
def containerd(clients: Session) -> Iterator[Containerd]:
    eng = Containerd(clients.sandbox, clients.workdir, RUNTIME)
    try:
        eng.start()
        eng.import_image(clients.rootfs)
        yield eng
    finally:
        with engines.ignoring_errors(clients.notes, "stopping containerd"):
            eng.stop()


@pytest.fixture(scope="package")
def runtime() -> str:
    """The path (podman, ctr) or docker runtime name's binary under test."""
    return RUNTIME


@pytest.fixture(scope="module", params=["docker", "podman"])
def engine(request: pytest.FixtureRequest) -> ContainerCli:
    """docker or podman, for the checks both have."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def names(engine: ContainerCli) -> Iterator[list[str]]:
    """Container (and volume) names a module made; removed with `rm -f` afterwards."""
    made: list[str] = []
    yield made
    engine.remove(*made)
