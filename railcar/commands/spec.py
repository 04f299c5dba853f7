"""railcar spec [--bundle DIR] [--rootless]: write a default config.json."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from railcar.cli import Globals


def main(args: dict, g: Globals) -> int:
    import os

    from railcar.errors import RailcarError, strerror
    from railcar.jsonfast import dumps
    from railcar.spec.default import default_spec

    path = os.path.join(args["--bundle"], "config.json")
    if os.path.exists(path):
        raise RailcarError(f"File {path} exists. Remove it first")
    try:
        with open(path, "x") as f:
            f.write(dumps(default_spec(rootless=bool(args["--rootless"])), indent=2) + "\n")
    except OSError as e:
        raise RailcarError(f"write {path}: {strerror(e.errno)}") from None
    return 0
