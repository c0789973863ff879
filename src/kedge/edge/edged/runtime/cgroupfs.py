"""cgroupfs chores both runtimes share: removing a pod's cgroup directories, and the cgroup v1 memory
controller the process runtime uses for memory limits.

cgroupfs directories hold only control files, so a tree is removed with `rmdir`, children first; a directory
that still has a process (or a child in use) refuses with EBUSY and is left alone. Everything here is best
effort: a cgroup that cannot be made or removed is logged, never raised.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def hierarchies(root: Path = CGROUP_ROOT) -> list[Path]:
    """Every mounted hierarchy under `root` (cgroup v1 has one per controller; v2's is `root` itself)."""
    found = [root]
    try:
        found.extend(sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()))
    except OSError:
        pass
    return found


def relative_cgroup(path: str) -> Path | None:
    """`path` ("/kubepods/besteffort/pod<uid>") as a relative path inside a hierarchy, or None when it
    names the root or climbs out of it (removing those would take other processes' cgroups)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return Path(*parts)


def rmdir_tree(path: Path) -> bool:
    """rmdir `path` depth-first; True when it is gone afterwards (or never existed)."""
    try:
        children = [c for c in path.iterdir() if c.is_dir() and not c.is_symlink()]
    except FileNotFoundError:
        return True
    except OSError:
        return False
    for child in children:
        rmdir_tree(child)
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError as exc:
        log.debug("cgroup %s stays: %s", path, exc)
        return False
    return True


def remove_everywhere(cgroup: str, root: Path = CGROUP_ROOT) -> None:
    """Remove the cgroup directory `cgroup` (and its children) in every hierarchy, as kubelet's pod cgroup
    manager does for a pod's cgroup_parent: containerd leaves it behind."""
    relative = relative_cgroup(cgroup)
    if relative is None:
        log.warning("not removing cgroup %r: it names no pod directory", cgroup)
        return
    for hierarchy in hierarchies(root):
        rmdir_tree(hierarchy / relative)


# The cgroup v1 memory controller (the process runtime's memory limits).

MEMORY_ROOT = CGROUP_ROOT / "memory"


def memory_v1_usable(root: Path = MEMORY_ROOT) -> bool:
    """True when this process can make cgroups in a v1 memory hierarchy at `root`."""
    return (
        os.geteuid() == 0
        and (root / "memory.limit_in_bytes").is_file()
        and (root / "memory.oom_control").is_file()
        and os.access(root, os.W_OK)
    )


def make_memory_cgroup(path: Path, limit: int) -> None:
    """Create the memory cgroup `path` (parents too) with `limit` bytes; swap counts against the limit when
    swap accounting exists (memsw), so the limit cannot be dodged by swapping. Raises OSError."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "memory.limit_in_bytes").write_text(str(limit))
    memsw = path / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        memsw.write_text(str(limit))


def oom_kills(path: Path) -> int:
    """How many processes the kernel's OOM killer killed in memory cgroup `path` (0 if unknown)."""
    try:
        text = (path / "memory.oom_control").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def kill_all(path: Path) -> int:
    """SIGKILL every process left in cgroup `path` (ones that left the process group, e.g. daemons);
    returns how many were signalled."""
    try:
        pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)
