"""The supervising shim of a process-runtime container, and how a process is recognised across restarts.

Each container runs under a tiny `/bin/sh` shim (dash: about 1.7 MB RSS, of which ~0.1 MB anonymous; the
rest is dash and libc pages shared with every other shell) that outlives edgecore:

    [unshare --mount --propagation private --] /bin/sh -c SHIM kedge-shim DIR CGROUP CWD N [SRC DST ro|rw]...
        ENV-OPTIONS -- COMMAND...

The shim (its own session, started by `spawn`) bind-mounts the volumes when asked (inside the private mount
namespace unshare made, so nothing leaks to the host), then runs the command through `setsid`, so the
command leads its own process group: stopping it signals that group and never the shim. The command's
side writes its pid to DIR/pid, joins the memory cgroup, and execs `env -C CWD ... COMMAND` (env changes
directory after the mounts exist, and unsets the PWD/OLDPWD dash adds, so the environment is exactly the
spec's). When the command exits the shim kills what is left of its group (as a pid namespace would),
writes the exit status (`$?`: the code, or 128+N for signal N) to DIR/exit, atomically, and ends. The shim
ignores HUP/INT/TERM/QUIT (caught with a no-op trap, which the command does not inherit), so only SIGKILL
or a reboot loses a status. A setup failure is written to DIR/start-error instead.
"""

from __future__ import annotations

import os
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path

#: PATH for finding the shim's tools, whatever edgecore's own PATH is (a systemd unit's may be short).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PID_FILE = "pid"
EXIT_FILE = "exit"
START_ERROR_FILE = "start-error"

_SHIM = r"""trap : HUP INT TERM QUIT
cd /
d=$1 cg=$2 wd=$3 n=$4
shift 4
while [ "$n" -gt 0 ]; do
    if ! err=$(@MOUNT@ --bind -- "$1" "$2" 2>&1); then
        printf 'cannot bind-mount %s at %s: %s\n' "$1" "$2" "$err" > "$d/start-error"
        exit 1
    fi
    if [ "$3" = ro ] && ! err=$(@MOUNT@ -o remount,bind,ro -- "$2" 2>&1); then
        printf 'cannot make the mount at %s read-only: %s\n' "$2" "$err" > "$d/start-error"
        exit 1
    fi
    shift 3
    n=$((n - 1))
done
@SETSID@ /bin/sh -c 'if [ -n "$2" ] && ! echo 0 > "$2/cgroup.procs"; then
    echo "cannot join memory cgroup $2" > "$1/start-error"; exit 1; fi
echo $$ > "$1/pid" && shift 2 && exec "$@"' kedge-exec "$d" "$cg" @ENV@ -C "$wd" "$@"
rc=$?
read -r p < "$d/pid" && kill -s KILL -- "-$p" 2>/dev/null
echo "$rc" > "$d/exit.tmp" && @MV@ -f -- "$d/exit.tmp" "$d/exit"
"""


@dataclass(frozen=True, slots=True)
class Tools:
    """Absolute paths of the host binaries the process runtime uses; None when missing."""

    sh: str | None
    setsid: str | None
    env: str | None
    mv: str | None
    unshare: str | None
    mount: str | None
    nsenter: str | None

    @classmethod
    def find(cls) -> Tools:
        import shutil

        def which(name: str) -> str | None:
            return shutil.which(name, path=SYSTEM_PATH)

        sh = "/bin/sh" if os.access("/bin/sh", os.X_OK) else None
        return cls(
            sh, which("setsid"), which("env"), which("mv"), which("unshare"), which("mount"), which("nsenter")
        )

    def missing(self, *names: str) -> list[str]:
        return [name for name in names if getattr(self, name) is None]

    def shim_script(self) -> str:
        return (
            _SHIM.replace("@MOUNT@", shlex.quote(self.mount or "mount"))
            .replace("@SETSID@", shlex.quote(self.setsid or "setsid"))
            .replace("@ENV@", shlex.quote(self.env or "env"))
            .replace("@MV@", shlex.quote(self.mv or "mv"))
        )


def shim_argv(
    tools: Tools,
    state_dir: Path,
    cgroup: str,
    cwd: str,
    mounts: list[tuple[str, str, bool]],
    env_options: list[str],
    command: list[str],
) -> list[str]:
    """The argv that starts the shim; wrapped in `unshare` (a private mount namespace) with mounts."""
    assert tools.sh is not None
    argv = [tools.sh, "-c", tools.shim_script(), "kedge-shim", str(state_dir), cgroup, cwd, str(len(mounts))]
    for source, target, readonly in mounts:
        argv += [source, target, "ro" if readonly else "rw"]
    argv += [*env_options, "--", *command]
    if mounts:
        assert tools.unshare is not None
        argv = [tools.unshare, "--mount", "--propagation", "private", "--", *argv]
    return argv


# Signals whose disposition must be the default in the container: Python ignores SIGPIPE (and an embedding
# program might ignore others), and ignored signals survive exec.
_DEFAULT_SIGNALS = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def spawn(argv: list[str], env: dict[str, str], log_path: str) -> int:
    """Start `argv` in a new session with stdin /dev/null and stdout+stderr appended to `log_path`; returns
    its pid. posix_spawn, not subprocess: no preexec_fn (unsafe with threads) and no Popen object whose
    garbage collection would warn about a child that is meant to outlive us."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(
        argv[0], argv, env, file_actions=actions, setsid=True, setsigmask=(), setsigdef=_DEFAULT_SIGNALS
    )


# Process identity: a pid plus the start time the kernel gave it (and the boot it belongs to), so a pid
# reused after the process ended (or after a reboot) is never taken for it.


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of `pid`, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data.rpartition(b")")[2].split()  # the name (in parentheses) may hold spaces
    try:
        return fields[0].decode(), int(fields[19])
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    found = _stat(pid)
    return None if found is None else found[1]


def alive(pid: int, started: int) -> bool:
    """True while the process `pid` that started at `started` runs; a zombie is reaped if it is ours."""
    if pid <= 0:
        return False
    found = _stat(pid)
    if found is None or found[1] != started:
        return False
    if found[0] in ("Z", "X"):
        try:
            os.waitpid(pid, os.WNOHANG)  # ours (spawned by this edgecore process): collect it
        except ChildProcessError:
            pass  # another process's child (an edgecore before a restart): its reaper collects it
        return False
    return True
