"""Mount options (config.json `mounts[].options`) → MS_* flags, propagation, mount_setattr
attributes and filesystem data, as runc reads them."""

from __future__ import annotations

from railcar import mountopts as mo


def test_flags_set_and_cleared_in_order() -> None:
    o = mo.parse(["ro", "nosuid", "nodev", "rw"])
    assert o.flags == mo.MS_NOSUID | mo.MS_NODEV  # rw after ro clears it
    assert o.data == [] and o.propagation == 0


def test_bind_and_propagation() -> None:
    o = mo.parse(["rbind", "rslave"])
    assert o.flags == mo.MS_BIND | mo.MS_REC
    assert o.propagation == mo.PROPAGATION["rslave"]
    assert mo.parse(["shared", "private"]).propagation == mo.PROPAGATION["private"]  # the last wins


def test_recursive_attributes() -> None:
    o = mo.parse(["rro", "rnosuid"])
    assert o.attr_set == mo.RECURSIVE["rro"][1] | mo.RECURSIVE["rnosuid"][1] and o.attr_clr == 0
    o = mo.parse(["rro", "rrw"])
    assert o.attr_set == 0 and o.attr_clr == mo.RECURSIVE["rrw"][1]


def test_unknown_options_are_filesystem_data_and_tmpcopyup_is_ours() -> None:
    o = mo.parse(["mode=755", "size=65536k", "tmpcopyup", "nosuid"])
    assert o.data == ["mode=755", "size=65536k"]
    assert o.copyup and o.flags == mo.MS_NOSUID


def test_bind_remount_flags() -> None:
    # what a bind mount only gets through a second, remounting call
    for name in ("ro", "nosuid", "nodev", "noexec", "noatime"):
        assert mo.FLAGS[name][1] & mo.BIND_REMOUNT, name
    assert not mo.BIND_REMOUNT & (mo.MS_BIND | mo.MS_REC)
