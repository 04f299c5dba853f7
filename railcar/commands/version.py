"""railcar --version"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    import os
    import sys

    from railcar import SPEC_VERSION, __version__

    commit = "unknown"
    try:
        from railcar import _build_info  # written by the build

        commit = _build_info.COMMIT
    except ImportError:
        pass
    v = sys.version_info
    os.write(1, (f"railcar version {__version__}\ncommit: {commit}\nspec: {SPEC_VERSION}\n"
                 f"python: {v.major}.{v.minor}.{v.micro} ({sys.executable or sys.base_prefix})\n").encode())
    return 0
