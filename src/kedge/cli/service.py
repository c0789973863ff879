"""systemd units for cloudcore and edgecore: `kedge init --install-service` and
`kedge join --install-service` render the unit shipped in kedge/deploy for the config just written,
install it atomically and (on a systemd host) enable and start it.

Module-level imports stay light: the parser is built for every `kedge` command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

DEFAULT_SYSTEMD_DIR = "/etc/systemd/system"
UNITS = ("cloudcore", "edgecore")
UNIT_MODE = 0o644


class ServiceError(Exception):
    """A unit that cannot be rendered, written or started; the message says what and how to fix it."""


def add_arguments(p: argparse.ArgumentParser, unit: str) -> None:
    """--install-service, --systemd-dir and --no-start on the command that writes `unit`'s config."""
    p.add_argument(
        "--install-service",
        action="store_true",
        help="install %s.service for the written config, then enable and start it" % unit,
    )
    p.add_argument(
        "--systemd-dir",
        metavar="DIR",
        default=DEFAULT_SYSTEMD_DIR,
        help="where --install-service writes the unit (default %(default)s)",
    )
    p.add_argument(
        "--no-start",
        action="store_true",
        help="with --install-service: only write the unit, do not run systemctl",
    )


def kedge_command() -> list[str]:
    """Absolute argv that runs this very kedge: the `kedge` script beside the running interpreter (a venv's
    bin/), else the interpreter with -m kedge. Not shutil.which: PATH may name another installation.
    The interpreter path is not resolved: a venv's python is a symlink whose target ignores the venv."""
    python = Path(os.path.abspath(sys.executable))
    script = python.parent / "kedge"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "kedge"]


def _quote(arg: str) -> str:
    """One ExecStart word: systemd expands % specifiers and $ variables, and splits on white space."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\"'\\;"):
        return arg
    return '"%s"' % arg.replace("\\", "\\\\").replace('"', '\\"')


def template(unit: str) -> str:
    """The unit file shipped in kedge/deploy, with its @KEDGE@ and @CONFIG@ placeholders."""
    if unit not in UNITS:
        raise ValueError("unknown unit %r" % unit)
    from importlib import resources

    return resources.files("kedge").joinpath("deploy", "%s.service" % unit).read_text(encoding="utf-8")


def render(unit: str, config: Path | str, command: list[str] | None = None) -> str:
    """`unit`.service running `command` (default: this kedge) with --config `config` (made absolute)."""
    exec_start = " ".join(_quote(a) for a in (command or kedge_command()))
    text = template(unit).replace("@KEDGE@", exec_start)
    return text.replace("@CONFIG@", _quote(os.path.abspath(config)))


def write_unit(path: Path, text: str) -> None:
    """Replace `path` atomically (temporary file in the same directory, fsync, rename): systemd never
    reads half a unit, and a failed write leaves the old unit."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), UNIT_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def systemd_running() -> bool:
    """sd_booted(): systemctl only works when systemd is PID 1 (not in most containers)."""
    return os.path.isdir("/run/systemd/system")


def start_commands(unit: str) -> list[list[str]]:
    return [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", unit]]


def install(unit: str, config: Path | str, systemd_dir: Path | str, *, start: bool, out: Any = None) -> Path:
    """Write `unit`.service into `systemd_dir` and, when `start`, enable and start it with systemctl; when
    systemctl is absent or systemd is not running, print the commands instead. Raises ServiceError."""
    out = out or sys.stdout
    path = Path(systemd_dir) / ("%s.service" % unit)
    try:
        write_unit(path, render(unit, config))
    except OSError as e:
        raise ServiceError(
            "cannot write %s: %s; run as root, or pass --systemd-dir to a writable directory"
            % (path, e.strerror or e)
        ) from None
    print("wrote %s" % path, file=out)
    commands = start_commands(unit)
    shown = " && ".join(" ".join(c) for c in commands)
    if not start:
        print("to start it: %s" % shown, file=out)
        return path
    systemctl = shutil.which("systemctl")
    if systemctl is None or not systemd_running():
        why = "systemctl not found" if systemctl is None else "systemd is not running"
        print("%s; on the systemd host, run: %s" % (why, shown), file=out)
        return path
    import subprocess

    for cmd in commands:
        done = subprocess.run([systemctl, *cmd[1:]], capture_output=True, text=True)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise ServiceError(
                "`%s` failed (exit %d)%s; fix that, then run: %s"
                % (" ".join(cmd), done.returncode, ": %s" % detail[-1] if detail else "", shown)
            )
    print("enabled and started %s (systemctl status %s)" % (unit, unit), file=out)
    return path


def install_from_args(args: argparse.Namespace, unit: str, config: Path | str) -> int:
    """The end of `kedge init`/`kedge join`: install the unit the parsed arguments ask for; exit code."""
    if not getattr(args, "install_service", False):
        return 0
    try:
        install(unit, config, args.systemd_dir, start=not args.no_start)
    except ServiceError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0
