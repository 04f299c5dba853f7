"""The cgroup modules again, in a cgroup v2-only view of this host (tests/support/cgroupview.py): a
child pytest in a private mount namespace whose /sys/fs/cgroup is the cgroup2 hierarchy, so the v2
paths (cgroup.freeze, cgroup.kill, the eBPF device filter, v2 hugetlb, linux.resources.unified and the
refusal of what that hierarchy lacks) run from ./tools/test.sh too. Skipped where the host is v2
itself (the modules run directly) and inside the view. Against runc (RAILCAR_TEST_RUNTIME=runc) the
child runs runc: its results are the markers and branches in the modules."""

from __future__ import annotations

import pytest

from tests.support import cgroupview

MODULES = ("tests/integration/test_cgroups.py", "tests/integration/test_cgroups_v2.py",
           "tests/integration/test_devices.py")

pytestmark = pytest.mark.skipif(bool(cgroupview.why_not_v2_view()), reason=cgroupview.why_not_v2_view() or "-")


def test_cgroup_modules_in_the_v2_only_view() -> None:
    code, out = cgroupview.run_pytest_in_v2(MODULES, timeout=600)
    assert code == 0, f"in the v2-only view, pytest {' '.join(MODULES)} exited {code}:\n{out[-6000:]}"
    assert "cgroup view: v2-only" in out, out[:2000]
    print(cgroupview.summary(out))  # the child's skips, with their reasons (-rP shows them)
