"""Every `kedge` subcommand, nested ones included, answers --help with its usage and exit 0, and takes the
logging options before or after the subcommand."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from kedge.cli import main as cli


def _paths(p: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sp in action.choices.items():
                if id(sp) in seen:
                    continue  # an alias: usage names the command by its first name
                seen.add(id(sp))
                out.append((*prefix, name))
                out.extend(_paths(sp, (*prefix, name)))
    return out


PATHS = _paths(cli.build_parser())


def test_the_commands_the_issue_names_exist() -> None:
    top = {p[0] for p in PATHS}
    wanted = {"cloudcore", "edgecore", "apiserver", "init", "gettoken", "join", "reset", "mapper", "ctl"}
    assert wanted | {"debug", "version", "demo", "completion"} <= top
    assert {("ctl", "get"), ("ctl", "describe"), ("debug", "check")} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kedge %s" % " ".join(path)), out[:200]
    assert "--log-format" in out


def test_help_as_a_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kedge", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for name in ("demo", "join", "ctl", "debug", "init"):
        assert name in out.stdout


def test_logging_options_before_or_after_the_subcommand() -> None:
    p = cli.build_parser()
    before = p.parse_args(["--log-level", "debug", "--log-format", "json", "version"])
    after = p.parse_args(["version", "--log-level", "debug", "--log-format", "json"])
    neither = p.parse_args(["version"])
    assert (before.log_level, before.log_format) == (after.log_level, after.log_format) == ("debug", "json")
    assert (neither.log_level, neither.log_format, neither.verbose) == (None, "text", 0)
    assert p.parse_args(["-v", "version"]).verbose == 1
    assert p.parse_args(["version", "-vv"]).verbose == 2
