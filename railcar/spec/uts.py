"""hostname, domainname: set in the container's own uts namespace (never the host's)."""

from __future__ import annotations

from railcar.errors import SpecError
from railcar.plan import enc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.plan import LaunchPlan

SCHEMA = {"hostname": "str", "domainname": "str"}


def plan(cfg: dict[str, Any], lp: LaunchPlan, ns: dict[str, str | None]) -> None:
    """lp.hostname, lp.domainname."""
    for key in ("hostname", "domainname"):
        name = cfg.get(key)
        if name is not None:
            if "uts" not in ns:
                raise SpecError(key, f"setting the {key} needs a uts namespace of the container's own")
            setattr(lp, key, enc(name))
