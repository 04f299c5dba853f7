"""The docker and podman suites again, in a cgroup v2-only view of this host (tests/support/
cgroupview.py): a child pytest in a private mount namespace whose /sys/fs/cgroup is the cgroup2
hierarchy, with engines of its own that see only that layout. Skipped where the host is v2 itself
and inside the view. RAILCAR_CLIENT_RUNTIME (railcar or runc) passes on to the child."""

from __future__ import annotations

import pytest

from tests.support import cgroupview

MODULES = ("tests/clients/test_docker.py", "tests/clients/test_podman.py", "tests/clients/test_cli_common.py",
           "tests/clients/test_run_options.py")

pytestmark = pytest.mark.skipif(bool(cgroupview.why_not_v2_view()), reason=cgroupview.why_not_v2_view() or "-")


def test_docker_and_podman_in_the_v2_only_view() -> None:
    code, out = cgroupview.run_pytest_in_v2(MODULES, timeout=1200)
    assert code == 0, f"in the v2-only view, pytest {' '.join(MODULES)} exited {code}:\n{out[-8000:]}"
    assert "cgroup view: v2-only" in out, out[:2000]
    print(cgroupview.summary(out))  # the child's skips, with their reasons (-rP shows them)
