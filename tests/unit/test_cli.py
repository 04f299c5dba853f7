"""The CLI grammar: railcar/_grammar.py is docopt's parse of railcar/usage.py (generated, and
checked current here), and the hot-path matcher in railcar/cli.py agrees with docopt itself."""

from __future__ import annotations

import docopt
import pytest

from railcar import cli, grammar_gen, usage


def test_generated_grammar_is_current() -> None:
    from pathlib import Path

    current = (Path(cli.__file__).parent / "_grammar.py").read_text()
    assert current == grammar_gen.generate(), "run: .venv/bin/python -m railcar.grammar_gen > railcar/_grammar.py"


AGREE = [
    ["create", "--bundle", "/b", "--pid-file", "/p", "c1"],
    ["create", "-b", "/b", "--preserve-fds", "2", "--no-pivot", "c1"],
    ["run", "-d", "--bundle=/b", "c1"],
    ["exec", "-t", "-e", "A=1", "-e", "B=2", "--cwd", "/tmp", "c1", "cat", "/etc/hostname"],
    ["exec", "--user", "1000:1000", "-c", "CAP_KILL", "c1", "true"],
    ["kill", "--all", "c1", "TERM"],
    ["kill", "c1"],
    ["delete", "-f", "c1"],
    ["list", "--format", "json", "-q"],
    ["update", "--memory", "10m", "--pids-limit", "5", "c1"],
    ["events", "--stats", "c1"],
    ["checkpoint", "--image-path", "/img", "--leave-running", "c1"],
]


def _docopt_command(argv: list[str]) -> dict:
    return docopt.docopt(usage.COMMANDS[argv[0]], argv=argv, help=False)


@pytest.mark.parametrize("argv", AGREE, ids=lambda a: " ".join(a))
def test_matcher_agrees_with_docopt(argv: list[str]) -> None:
    g, cmd, args = cli.parse(["--root", "/r", *argv])
    assert cmd == argv[0] and g.root == "/r"
    want = _docopt_command(argv)
    for key, value in want.items():
        if key in ("<command>", "<ps-args>") or key == argv[0]:
            continue
        assert args.get(key) == value, (key, args.get(key), value)


def test_exec_keeps_the_commands_own_flags() -> None:
    """Past the id, words belong to the command (runc's rule; docopt alone would take `-c` as
    --cap): the one place the matcher departs from docopt."""
    _, _, args = cli.parse(["exec", "c1", "sh", "-c", "echo hi"])
    assert args["<command>"] == ["sh", "-c", "echo hi"] and args["--cap"] == []
    _, _, args = cli.parse(["exec", "c1", "ls", "-l", "--", "-x"])
    assert args["<id>"] == "c1" and args["<command>"] == ["ls", "-l", "--", "-x"]


def test_globals_and_unknown_global_flags() -> None:
    g, cmd, _ = cli.parse(["--log", "/l", "--log-format=json", "--systemd-cgroup", "--newer-flag",
                           "--no-init", "--no-prewarm", "state", "c1"])
    assert (g.log, g.log_format, g.systemd_cgroup, g.no_init, cmd) == ("/l", "json", True, True, "state")
    g, cmd, _ = cli.parse(["--unknown", "value", "state", "c1"])  # a newer client's flag and value
    assert cmd == "state"


@pytest.mark.parametrize("argv,text", [
    (["create"], "requires a container id"),
    (["frobnicate", "c1"], "unknown command"),
    (["create", "--bundle"], "requires an argument"),
    (["delete", "--nope", "c1"], "flag provided but not defined: --nope"),
    (["state", "a", "b"], "unexpected argument"),
])
def test_usage_errors(argv: list[str], text: str) -> None:
    with pytest.raises(cli.UsageError) as e:
        cli.parse(argv)
    assert text in e.value.msg
