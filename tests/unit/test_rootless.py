"""railcar.rootless: runc's rules for the default --root, --rootless and rootless configs."""

from __future__ import annotations

import os

import pytest

from railcar import rootless
from railcar.errors import RailcarError, SpecError


def test_parse_rootless_values() -> None:
    assert rootless.parse("auto") is None and rootless.parse("") is None and rootless.parse("AUTO") is None
    assert rootless.parse("true") is True and rootless.parse("1") is True and rootless.parse("T") is True
    assert rootless.parse("false") is False and rootless.parse("0") is False
    with pytest.raises(RailcarError, match='strconv.ParseBool: parsing "yes": invalid syntax'):
        rootless.parse("yes")


def test_resolve_explicit_wins() -> None:
    assert rootless.resolve("true") is True
    assert rootless.resolve("false") is False
    assert rootless.resolve("auto") is (os.geteuid() != 0 or rootless.in_userns())


def test_default_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert rootless.default_root() == ("/run/railcar", False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    monkeypatch.setattr(rootless.os, "geteuid", lambda: 1234)
    assert rootless.default_root() == ("/run/user/1234/railcar", True)
    monkeypatch.setattr(rootless.os, "geteuid", lambda: 0)
    monkeypatch.setattr(rootless, "in_userns", lambda: False)
    assert rootless.default_root() == ("/run/railcar", False)  # the real root ignores it (runc)
    monkeypatch.setattr(rootless, "in_userns", lambda: True)
    monkeypatch.setenv("USER", "root")
    assert rootless.default_root() == ("/run/railcar", False)
    monkeypatch.setenv("USER", "someone")
    assert rootless.default_root() == ("/run/user/1234/railcar", True)


def _cfg(**linux: object) -> dict:
    base = {"namespaces": [{"type": "user"}, {"type": "mount"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    base.update(linux)
    return {"linux": base, "mounts": [{"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                                       "options": ["newinstance", "gid=0"]}]}


def test_check_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootless.os, "geteuid", lambda: 1000)
    rootless.check_config(_cfg())
    with pytest.raises(SpecError, match="rootless container requires user namespaces"):
        rootless.check_config(_cfg(namespaces=[{"type": "mount"}]))
    with pytest.raises(SpecError, match="requires at least one UID mapping"):
        rootless.check_config(_cfg(uidMappings=[]))
    rootless.check_config(_cfg(namespaces=[{"type": "user", "path": "/proc/1/ns/user"}], uidMappings=[]))
    cfg = _cfg()
    cfg["mounts"][0]["options"].append("gid=5")
    with pytest.raises(SpecError, match=r"mounts\[0\]\.options: cannot specify gid= mount options for unmapped gid"):
        rootless.check_config(cfg)
    monkeypatch.setattr(rootless.os, "geteuid", lambda: 0)
    rootless.check_config(cfg)  # root: none of this applies


def test_find_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert rootless.find_tool("no-such-tool-here") is None
    assert rootless.find_tool("sh") in ("/usr/bin/sh", "/bin/sh")
