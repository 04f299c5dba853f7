"""hooks: the six lists of OCI hooks. Planned here: whether the C child pauses once its rootfs is
ready (for prestart, createRuntime and createContainer, run by railcar.hooks), and the
startContainer hooks the helper runs itself, inside the container. (railcar.hooks runs the rest.)"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from railcar.helperplan import HelperPlan
    from railcar.plan import LaunchPlan

HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
_HOOK = {"!": ("path",), "path": "abs", "args": "strs", "env": "strs", "timeout": "pos"}
SCHEMA = {"hooks": {k: [_HOOK] for k in HOOKS}}


def plan(hooks: dict[str, Any], lp: LaunchPlan) -> None:
    lp.hooks_pause = 1 if (hooks.get("prestart") or hooks.get("createRuntime")
                           or hooks.get("createContainer")) else 0


def helper(hooks: list[dict[str, Any]], hp: HelperPlan) -> None:
    """HP_START_HOOKS: per hook (timeout, argc, envc) as u32s, then path, args, env as C strings."""
    from railcar.helperplan import HP_START_HOOKS

    recs = []
    for h in hooks:
        args, env = h.get("args") or [], h.get("env") or []
        head = b"".join(int(v).to_bytes(4, "little") for v in (h.get("timeout") or 0, len(args), len(env)))
        recs.append(head + b"".join(x.encode() + b"\0" for x in [h["path"], *args, *env]))
    hp.add(HP_START_HOOKS, b"".join(recs))
