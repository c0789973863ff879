"""`kedge completion`: the script follows the argparse tree, and real bash completes with it."""

from __future__ import annotations

import argparse
import subprocess

import pytest

from kedge.cli import completion
from kedge.cli.main import build_parser, main
from tests.conftest import require_binary


def _tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) for every parser, independently of completion.walk."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _tree(sub, (*path, name))


def test_script_mentions_every_subcommand_option_and_choice() -> None:
    parser = build_parser()
    script = completion.bash_script(parser)
    for path, p in _tree(parser):
        if path:
            assert '"%s")' % " ".join(path) in script  # its options table entry
            assert path[-1] in script
        for action in p._actions:
            for opt in action.option_strings:
                assert opt in script, "%s %s" % (path, opt)
            for choice in action.choices or ():
                assert str(choice) in script, "%s %s" % (path, choice)


def test_walk_reports_value_options_choices_and_paths() -> None:
    p = argparse.ArgumentParser(prog="t")
    p.add_argument("--flag", action="store_true")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("run", aliases=["r"])
    s.add_argument("--mode", choices=("fast", "slow"))
    s.add_argument("--config")
    s.add_argument("--name")
    s.add_argument("kind", choices=("a", "b"))
    nodes = {n.path: n for n in completion.walk(p)}
    assert nodes[""].subcommands == ["run", "r"]
    assert "--flag" in nodes[""].options and "--flag" not in nodes[""].value_options
    for path in ("run", "r"):
        n = nodes[path]
        assert n.value_options["--mode"] == ["fast", "slow"]
        assert n.value_options["--name"] == []
        assert n.path_options == {"--config"}
        assert n.positional_choices == ["a", "b"]


def test_zsh_script_uses_bashcompinit() -> None:
    script = completion.zsh_script(build_parser())
    assert "bashcompinit" in script
    assert "complete -F _kedge kedge" in script


def test_completion_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    assert "complete -F _kedge kedge" in capsys.readouterr().out


def test_help_says_how_to_install(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["completion", "--help"])
    assert "source <(kedge completion bash)" in " ".join(capsys.readouterr().out.split())


def _complete(*words: str) -> list[str]:
    """COMPREPLY of real bash for the command line `words` (the last one being completed)."""
    bash = require_binary("bash")
    script = completion.bash_script(build_parser())
    program = (
        script + '\nCOMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kedge; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(
        [bash, "--norc", "-c", program, "_", *words], capture_output=True, text=True, check=True
    ).stdout
    return [w for w in out.splitlines() if w]


def test_bash_completes_subcommands() -> None:
    assert _complete("kedge", "jo") == ["join"]
    assert "version" in _complete("kedge", "")


def test_bash_completes_options_of_a_subcommand() -> None:
    got = _complete("kedge", "join", "--")
    assert {"--token", "--cloudcore-ipport", "--hub-protocol", "--help", "--log-level"} <= set(got)
    assert "--defaultconfig" not in got  # edgecore's, not join's


def test_bash_completes_choices_in_every_form() -> None:
    assert _complete("kedge", "join", "--hub-protocol", "") == ["websocket", "quic"]
    assert _complete("kedge", "join", "--hub-protocol", "=", "q") == ["quic"]  # bash splits --opt=q
    assert _complete("kedge", "join", "--hub-protocol", "=") == ["websocket", "quic"]
    assert _complete("kedge", "--log-level", "w") == ["warning"]
    assert _complete("kedge", "mapper", "") == ["counter", "modbus"]


def test_bash_skips_option_values_when_finding_the_subcommand() -> None:
    # `debug` here is the value of --log-level, not the `debug` subcommand
    assert _complete("kedge", "--log-level", "debug", "jo") == ["join"]
    assert _complete("kedge", "-v", "debug", "check", "--ro") == ["--role"]
    assert _complete("kedge", "debug", "check", "--role", "") == ["edge", "cloud"]


def test_bash_completes_nested_subcommands() -> None:
    got = _complete("kedge", "debug", "")
    assert got == ["check"]
