"""Atomic writes of keys, certificates and tokens: stdlib only, so the edge can write its certificates
without keeping cryptography loaded (pki and the edge's certmanager both write through here)."""

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kedge.security.errors import PKIError

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700


def make_dirs(directory: Path) -> None:
    """Creates missing directories with mode 0700 (keys live there), leaving existing ones alone."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=DIR_MODE)
            os.chmod(d, DIR_MODE)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(path: Path, data: bytes, mode: int) -> str:
    """Writes `data` to a synced temporary file beside `path` and returns its name."""
    fd, tmp = tempfile.mkstemp(prefix=".%s." % path.name, suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_files(files: Sequence[tuple[Path | str, bytes, int]]) -> None:
    """Writes each file atomically; all are staged before any is renamed into place, so a crash
    leaves either the old or the new content of each, never a torn file."""
    staged: list[tuple[str, Path]] = []
    try:
        for name, data, mode in files:
            path = Path(name)
            make_dirs(path.parent)
            staged.append((_stage(path, data, mode), path))
        for tmp, path in staged:
            os.replace(tmp, path)
        for parent in {path.parent for _, path in staged}:
            _fsync_dir(parent)
    except OSError as e:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise PKIError("cannot write %s: %s" % (e.filename or files[0][0], e.strerror or e)) from e
