"""A pod's volumes on the node's disk, laid out as the kubelet lays them out, and each container's mounts.

    <root>/pods/<uid>/volumes/<plugin>/<volume name>
        kubernetes.io~configmap, kubernetes.io~secret, kubernetes.io~projected, kubernetes.io~downward-api,
        kubernetes.io~empty-dir (hostPath volumes are the host's own path)

ConfigMap, Secret, projected and downwardAPI volumes are written with the kubelet's AtomicWriter scheme: the
files go into a fresh `..<timestamp>` directory, a `..data` symlink is pointed at it by an atomic rename,
and every user-visible entry is a symlink through `..data`. A reader therefore sees the old set of files or
the new one, never a mix, and a changed ConfigMap reaches running containers without a restart. Secret,
projected and downwardAPI volumes (and emptyDir with medium Memory) live on tmpfs when Edged runs as root,
as the kubelet puts them there; otherwise on disk, with a note in the log.

Failures are ConfigError: reason FailedMount with the kubelet's event text ("MountVolume.SetUp failed for
volume ...") for volume set-up (the kubelet keeps such a pod in ContainerCreating and reports the event),
reason CreateContainerConfigError for a container's mounts.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedge.edge.edged.env import (
    CONFIG_ERROR,
    ConfigError,
    Lookup,
    QuantityError,
    configmap_data,
    expand,
    field_value,
    parse_quantity,
    resource_value,
    secret_data,
)
from kedge.edge.edged.runtime.base import Mount

__all__ = [
    "DATA_DIR",
    "DEFAULT_MODE",
    "FAILED_MOUNT",
    "AtomicWriter",
    "FileProjection",
    "PodVolumes",
    "pod_dir",
    "remove_pod_dir",
]

log = logging.getLogger(__name__)

FAILED_MOUNT = "FailedMount"
DEFAULT_MODE = 0o644
DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"
_MAX_PATH = 4096
_MAX_NAME = 255
_MNT_DETACH = 2

PLUGIN_CONFIGMAP = "kubernetes.io~configmap"
PLUGIN_SECRET = "kubernetes.io~secret"
PLUGIN_PROJECTED = "kubernetes.io~projected"
PLUGIN_DOWNWARD_API = "kubernetes.io~downward-api"
PLUGIN_EMPTY_DIR = "kubernetes.io~empty-dir"

# volume source field -> (plugin directory, memory backed as the kubelet makes it)
_WRITTEN = {
    "configMap": (PLUGIN_CONFIGMAP, False),
    "secret": (PLUGIN_SECRET, True),
    "projected": (PLUGIN_PROJECTED, True),
    "downwardAPI": (PLUGIN_DOWNWARD_API, True),
}
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(slots=True, frozen=True)
class FileProjection:
    data: bytes
    mode: int = DEFAULT_MODE


def pod_dir(root: str | os.PathLike[str], uid: str) -> Path:
    """`<root>/pods/<uid>`; the uid must be a plain name (no separators, not . or ..)."""
    if not isinstance(uid, str) or not _SAFE_NAME.fullmatch(uid):
        raise ConfigError(CONFIG_ERROR, "pod uid %r cannot name a directory" % (uid,))
    return Path(root) / "pods" / uid


def _failed(volume: str, text: str) -> ConfigError:
    return ConfigError(FAILED_MOUNT, 'MountVolume.SetUp failed for volume "%s" : %s' % (volume, text))


# -- AtomicWriter -------------------------------------------------------------------------------------


def _validate_path(path: str) -> str | None:
    """Why an item path cannot be used, or None (the kubelet's AtomicWriter validatePath)."""
    if not path:
        return "must not be empty"
    if path.startswith("/"):
        return "must be relative path: %s" % path
    if len(path) > _MAX_PATH:
        return "must be less than or equal to %d characters" % _MAX_PATH
    parts = path.split("/")
    for part in parts:
        if part == "..":
            return "must not contain '..': %s" % path
        if len(part) > _MAX_NAME:
            return "filenames must be less than or equal to %d characters" % _MAX_NAME
    if parts[0].startswith("..") and len(parts[0]) > 2:
        return "must not start with '..': %s" % path
    if "\x00" in path:
        return "must not contain a NUL byte"
    return None


class AtomicWriter:
    """Writes a set of files into `target` so that readers switch from the old set to the new in one
    step (see the module docstring). Entries of the previous payload that the new one lacks and older
    timestamp directories are removed; anything else in `target` is left alone, as the kubelet does."""

    def __init__(self, target: Path, volume: str) -> None:
        self.target = target
        self.volume = volume

    def current(self) -> dict[str, FileProjection] | None:
        """The payload `..data` points at now, or None when nothing (whole) was written yet."""
        data = self.target / DATA_DIR
        if not data.is_symlink():
            return None
        base = self.target / os.readlink(data)
        if not base.is_dir():
            return None
        out: dict[str, FileProjection] = {}
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if not stat.S_ISREG(st.st_mode):
                    continue
                with open(full, "rb") as f:
                    out[os.path.relpath(full, base)] = FileProjection(f.read(), stat.S_IMODE(st.st_mode))
        return out

    def write(self, payload: Mapping[str, FileProjection]) -> bool:
        """Make `payload` the visible content; False (and nothing touched) when it already is.
        Raises ConfigError (FailedMount) for a bad item path or a write failure."""
        cleaned: dict[str, FileProjection] = {}
        for path, proj in payload.items():
            why = _validate_path(path)
            if why is not None:
                raise _failed(self.volume, "invalid path: %s" % why)
            cleaned[os.path.normpath(path)] = proj
        tops = {p.split("/", 1)[0] for p in cleaned}
        try:
            old = self.current()
            if old == cleaned and all(self._linked(t) for t in tops):
                return False
            self._swap(cleaned, tops, {p.split("/", 1)[0] for p in old or ()})
        except OSError as e:
            raise _failed(self.volume, "writing %s: %s" % (self.target, e.strerror or e)) from None
        return True

    def _linked(self, top: str) -> bool:
        link = self.target / top
        return link.is_symlink() and os.readlink(link) == DATA_DIR + "/" + top

    def _swap(self, payload: dict[str, FileProjection], tops: set[str], old_tops: set[str]) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        ts_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=self.target))
        try:
            os.chmod(ts_dir, 0o755)  # mkdtemp makes 0700; containers running as any user must traverse it
            for path, proj in sorted(payload.items()):
                full = ts_dir / path
                self._make_parents(ts_dir, full.parent)
                fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                try:
                    view = memoryview(proj.data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fchmod(fd, proj.mode)
                finally:
                    os.close(fd)
            # the one step readers can observe: ..data now names the complete new directory
            tmp_link = self.target / _DATA_TMP
            if os.path.lexists(tmp_link):
                _remove(tmp_link)
            os.symlink(ts_dir.name, tmp_link)
            os.replace(tmp_link, self.target / DATA_DIR)
        except BaseException:
            shutil.rmtree(ts_dir, ignore_errors=True)
            raise
        for top in tops:
            if not self._linked(top):
                link = self.target / top
                if os.path.lexists(link):
                    _remove(link)
                os.symlink(DATA_DIR + "/" + top, link)
        # what the old payload showed and the new does not, and the previous timestamp directories; other
        # entries (a subPath directory the kubelet made) stay, as with the kubelet's AtomicWriter
        for name in os.listdir(self.target):
            stale_dir = name.startswith("..") and name not in (DATA_DIR, ts_dir.name)
            if stale_dir or (name in old_tops and name not in tops):
                _remove(self.target / name)

    @staticmethod
    def _make_parents(base: Path, parent: Path) -> None:
        if parent == base:
            return
        rel = parent.relative_to(base)
        cur = base
        for part in rel.parts:
            cur = cur / part
            if not cur.is_dir():
                os.mkdir(cur, 0o755)
                os.chmod(cur, 0o755)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# -- payloads -----------------------------------------------------------------------------------------


def _mode(value: object, volume: str, what: str) -> int:
    if value is None:
        return DEFAULT_MODE
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise _failed(volume, "%s must be a file mode between 0 and 0777 (511), got %r" % (what, value))
    return value


def _key_payload(
    data: Mapping[str, bytes],
    items: Iterable[Mapping[str, Any]] | None,
    default_mode: int,
    optional: bool,
    volume: str,
    missing_key: str,
) -> dict[str, FileProjection]:
    """MakePayload for ConfigMap/Secret data: every key, or just the listed items (key -> path, mode)."""
    payload: dict[str, FileProjection] = {}
    if not items:
        for key, raw in data.items():
            payload[key] = FileProjection(raw, default_mode)
        return _checked(payload, volume)
    for item in items:
        key = str(item.get("key") or "")
        path = str(item.get("path") or "")
        if key not in data:
            if optional:
                continue
            raise _failed(volume, "%s: %s" % (missing_key, key))
        why = _validate_path(path)
        if why is not None:
            raise _failed(volume, 'invalid path for key "%s": %s' % (key, why))
        mode = (
            default_mode
            if item.get("mode") is None
            else _mode(item["mode"], volume, 'mode of key "%s"' % key)
        )
        payload[path] = FileProjection(data[key], mode)
    return payload


def _checked(payload: dict[str, FileProjection], volume: str) -> dict[str, FileProjection]:
    for key in payload:
        why = _validate_path(key)
        if why is not None:
            raise _failed(volume, 'invalid path for key "%s": %s' % (key, why))
    return payload


class _Context:
    """What the payload builders read: the pod, its lookup, the node facts for the downward API."""

    def __init__(
        self,
        pod: Mapping[str, Any],
        lookup: Lookup,
        pod_ip: str,
        host_ip: str,
        node_allocatable: Mapping[str, Any] | None,
    ) -> None:
        self.pod = pod
        self.lookup = lookup
        self.namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        self.pod_ip = pod_ip
        self.host_ip = host_ip
        self.node_allocatable = node_allocatable

    def object_data(self, kind: str, name: str, optional: bool, volume: str) -> dict[str, bytes]:
        obj = self.lookup(kind, self.namespace, name)
        if obj is None:
            if optional:
                return {}
            raise _failed(volume, '%s "%s" not found' % (kind, name))
        try:
            return configmap_data(obj, binary=True) if kind == "configmap" else secret_data(obj)
        except ConfigError as e:
            raise _failed(volume, e.message) from None

    def configmap(self, src: Mapping[str, Any], default_mode: int, volume: str) -> dict[str, FileProjection]:
        optional = bool(src.get("optional"))
        data = self.object_data("configmap", str(src.get("name") or ""), optional, volume)
        return _key_payload(
            data,
            src.get("items"),
            default_mode,
            optional,
            volume,
            "configmap references non-existent config key",
        )

    def secret(
        self, src: Mapping[str, Any], default_mode: int, volume: str, name_field: str
    ) -> dict[str, FileProjection]:
        optional = bool(src.get("optional"))
        data = self.object_data("secret", str(src.get(name_field) or ""), optional, volume)
        return _key_payload(
            data, src.get("items"), default_mode, optional, volume, "references non-existent secret key"
        )

    def downward(self, src: Mapping[str, Any], default_mode: int, volume: str) -> dict[str, FileProjection]:
        payload: dict[str, FileProjection] = {}
        for item in src.get("items") or ():
            path = str(item.get("path") or "")
            why = _validate_path(path)
            if why is not None:
                raise _failed(volume, 'invalid path for item "%s": %s' % (path, why))
            try:
                if item.get("fieldRef"):
                    value = field_value(
                        self.pod,
                        str(item["fieldRef"].get("fieldPath") or ""),
                        pod_ip=self.pod_ip,
                        host_ip=self.host_ip,
                    )
                elif item.get("resourceFieldRef"):
                    value = resource_value(
                        self.pod, None, item["resourceFieldRef"], node_allocatable=self.node_allocatable
                    )
                else:
                    raise _failed(volume, 'item "%s" has neither fieldRef nor resourceFieldRef' % path)
            except ConfigError as e:
                if e.reason == FAILED_MOUNT:
                    raise
                raise _failed(volume, e.message) from None
            mode = (
                default_mode
                if item.get("mode") is None
                else _mode(item["mode"], volume, 'mode of item "%s"' % path)
            )
            payload[path] = FileProjection(value.encode("utf-8", "surrogateescape"), mode)
        return payload

    def payload(self, field: str, src: Mapping[str, Any], volume: str) -> dict[str, FileProjection]:
        default_mode = _mode(src.get("defaultMode"), volume, "defaultMode")
        if field == "configMap":
            return self.configmap(src, default_mode, volume)
        if field == "secret":
            return self.secret(src, default_mode, volume, "secretName")
        if field == "downwardAPI":
            return self.downward(src, default_mode, volume)
        payload: dict[str, FileProjection] = {}
        for source in src.get("sources") or ():
            if source.get("configMap") is not None:
                payload.update(self.configmap(source["configMap"], default_mode, volume))
            elif source.get("secret") is not None:
                payload.update(self.secret(source["secret"], default_mode, volume, "name"))
            elif source.get("downwardAPI") is not None:
                payload.update(self.downward(source["downwardAPI"], default_mode, volume))
            else:
                log.info(
                    "pod %s/%s volume %s: projected source %s is not supported on this node, skipped",
                    self.namespace,
                    (self.pod.get("metadata") or {}).get("name", ""),
                    volume,
                    ",".join(sorted(source)) or "(empty)",
                )
        return payload


# -- tmpfs --------------------------------------------------------------------------------------------


def _libc():
    import ctypes  # only Edged running as root needs it

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(path: Path, mode: int, size: int | None) -> str | None:
    """Mount a tmpfs on `path`; None on success, else why not."""
    ctypes, libc = _libc()
    opts = "mode=%o" % mode + (",size=%d" % size if size else "")
    rc = libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", ctypes.c_ulong(0), opts.encode())
    if rc != 0:
        return os.strerror(ctypes.get_errno())
    return None


def _unmount(path: Path) -> str | None:
    ctypes, libc = _libc()
    if libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        return os.strerror(ctypes.get_errno())
    return None


# -- the pod's volumes --------------------------------------------------------------------------------


class PodVolumes:
    """The volumes of one pod. `prepare` sets all of them up (idempotent: call it again after a restart),
    `update` refreshes ConfigMap/Secret/projected/downwardAPI content, `mounts` gives a container's mounts.

    use_tmpfs: None = when running as root (as the kubelet, memory-backed volumes need mount rights).
    """

    def __init__(self, root: str | os.PathLike[str], *, use_tmpfs: bool | None = None) -> None:
        self.root = Path(root)
        self.use_tmpfs = (os.geteuid() == 0) if use_tmpfs is None else use_tmpfs
        self.paths: dict[str, str] = {}
        self._readonly: set[str] = set()
        self._noted: set[str] = set()

    def prepare(
        self,
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        pod_ip: str = "",
        host_ip: str = "",
        node_allocatable: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Set up every volume of `pod`; volume name -> host path. Raises ConfigError (FailedMount) for the
        first volume that cannot be set up."""
        ctx = _Context(pod, lookup, pod_ip, host_ip, node_allocatable)
        base = self._volumes_dir(pod)
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            name = str(vol.get("name") or "")
            if not _SAFE_NAME.fullmatch(name):
                raise _failed(name, "volume name %r cannot name a directory" % name)
            self.paths[name] = self._setup(base, name, vol, ctx)
        return dict(self.paths)

    def update(
        self,
        pod: Mapping[str, Any],
        lookup: Lookup,
        *,
        pod_ip: str = "",
        host_ip: str = "",
        node_allocatable: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], list[ConfigError]]:
        """Rewrite the content volumes whose content changed: (names of changed volumes, errors). A volume
        that fails keeps its previous content; the others are still refreshed."""
        ctx = _Context(pod, lookup, pod_ip, host_ip, node_allocatable)
        base = self._volumes_dir(pod)
        changed: list[str] = []
        errors: list[ConfigError] = []
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            name = str(vol.get("name") or "")
            field = next((f for f in _WRITTEN if vol.get(f) is not None), None)
            if field is None or name not in self.paths:
                continue
            try:
                if self._write(base, name, field, vol[field], ctx):
                    changed.append(name)
            except ConfigError as e:
                errors.append(e)
        return changed, errors

    def mounts(
        self, container: Mapping[str, Any], env: Iterable[tuple[str, str]] | None = None
    ) -> list[Mount]:
        """The container's volumeMounts as runtime mounts (subPath/subPathExpr resolved inside the volume).
        Raises ConfigError (CreateContainerConfigError) as the kubelet's makeMounts fails."""
        cname = str(container.get("name") or "")
        env_map = dict(env or ())
        out: list[Mount] = []
        for vm in container.get("volumeMounts") or ():
            name = str(vm.get("name") or "")
            host = self.paths.get(name)
            if host is None:
                raise ConfigError(
                    CONFIG_ERROR, 'cannot find volume "%s" to mount into container "%s"' % (name, cname)
                )
            sub = str(vm.get("subPath") or "")
            if vm.get("subPathExpr"):
                sub = _expand_subpath(str(vm["subPathExpr"]), env_map)
            if sub:
                host = self._subpath(host, sub, name, cname)
            target = str(vm.get("mountPath") or "")
            if not target:
                raise ConfigError(
                    CONFIG_ERROR, 'volumeMount "%s" of container "%s" has no mountPath' % (name, cname)
                )
            if not target.startswith("/"):
                target = "/" + target
            out.append(Mount(target, host, bool(vm.get("readOnly")) or name in self._readonly))
        return out

    # -- internals --

    def _volumes_dir(self, pod: Mapping[str, Any]) -> Path:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        pdir = pod_dir(self.root, uid)
        for d in (pdir, pdir / "volumes"):
            if not d.is_dir():
                d.mkdir(mode=0o750, parents=True, exist_ok=True)
        return pdir / "volumes"

    def _setup(self, base: Path, name: str, vol: Mapping[str, Any], ctx: _Context) -> str:
        for field in _WRITTEN:
            if vol.get(field) is not None:
                self._write(base, name, field, vol[field], ctx)
                self._readonly.add(name)
                return str(base / _WRITTEN[field][0] / name)
        if vol.get("emptyDir") is not None:
            return self._empty_dir(base, name, vol["emptyDir"] or {})
        if vol.get("hostPath") is not None:
            return _host_path(name, vol["hostPath"] or {})
        kinds = [k for k in vol if k != "name"]
        raise _failed(
            name, "volume type %s is not supported on this node" % (",".join(sorted(kinds)) or "(none)")
        )

    def _write(self, base: Path, name: str, field: str, src: Mapping[str, Any], ctx: _Context) -> bool:
        plugin, memory = _WRITTEN[field]
        payload = ctx.payload(field, src or {}, name)
        target = base / plugin / name
        self._ensure_dir(target, name, memory, 0o755, None)
        return AtomicWriter(target, name).write(payload)

    def _empty_dir(self, base: Path, name: str, src: Mapping[str, Any]) -> str:
        medium = src.get("medium") or ""
        if medium not in ("", "Memory"):
            raise _failed(name, 'emptyDir medium "%s" is not supported on this node' % medium)
        size = None
        if src.get("sizeLimit") not in (None, ""):
            try:
                size = int(parse_quantity(src["sizeLimit"])) or None
            except QuantityError as e:
                raise _failed(name, "sizeLimit: %s" % e) from None
        target = base / PLUGIN_EMPTY_DIR / name
        self._ensure_dir(target, name, medium == "Memory", 0o777, size)
        return str(target)

    def _ensure_dir(self, target: Path, name: str, memory: bool, mode: int, size: int | None) -> None:
        try:
            if not target.is_dir():
                target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
                target.mkdir(mode=mode, exist_ok=True)
                os.chmod(target, mode)
            if not memory or os.path.ismount(target):
                return
        except OSError as e:
            raise _failed(name, "creating %s: %s" % (target, e.strerror or e)) from None
        why = _mount_tmpfs(target, mode, size) if self.use_tmpfs else "Edged does not run as root"
        if why is not None and name not in self._noted:
            self._noted.add(name)
            log.info(
                "volume %s is memory-backed in Kubernetes; it is on disk at %s (tmpfs: %s)", name, target, why
            )

    def _subpath(self, volume_path: str, sub: str, name: str, cname: str) -> str:
        if sub.startswith("/"):
            raise ConfigError(CONFIG_ERROR, "error SubPath `%s` must not be an absolute path" % sub)
        if ".." in sub.split("/"):
            raise ConfigError(CONFIG_ERROR, "unable to provision SubPath `%s`: must not contain '..'" % sub)
        failed = ConfigError(
            CONFIG_ERROR, 'failed to prepare subPath for volumeMount "%s" of container "%s"' % (name, cname)
        )
        try:
            vol_real = os.path.realpath(volume_path)
            cur = vol_real
            mode = stat.S_IMODE(os.stat(vol_real).st_mode)
            for part in (p for p in sub.split("/") if p and p != "."):
                cur = os.path.join(cur, part)
                if os.path.lexists(cur):
                    cur = os.path.realpath(cur)
                    if not _within(cur, vol_real):
                        raise failed
                else:
                    # created now so it has the volume's mode, not whatever the runtime would pick
                    os.mkdir(cur, mode)
                    os.chmod(cur, mode)
        except OSError:
            raise failed from None
        return cur


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _expand_subpath(text: str, env: Mapping[str, str]) -> str:
    missing: set[str] = set()

    def mapping(key: str) -> str:
        value = env.get(key, "")
        if not value:
            missing.add(key)
        return value

    result = expand(text, mapping)
    if missing:
        raise ConfigError(CONFIG_ERROR, "missing value for %s" % ", ".join(sorted(missing)))
    return result


_HOSTPATH_CHECKS = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "FileOrCreate": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def _host_path(name: str, src: Mapping[str, Any]) -> str:
    """The kubelet's hostPath type check: *OrCreate creates, the others must already be of that type."""
    path = str(src.get("path") or "")
    kind = src.get("type") or ""
    if not path.startswith("/"):
        raise _failed(name, "hostPath path %r must be absolute" % path)
    if kind == "":
        return path
    if kind not in _HOSTPATH_CHECKS:
        raise _failed(name, "%s is an invalid volume type" % kind)
    check, what = _HOSTPATH_CHECKS[kind]
    try:
        if kind == "DirectoryOrCreate" and not os.path.lexists(path):
            os.makedirs(path, 0o755, exist_ok=True)
        elif kind == "FileOrCreate" and not os.path.lexists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        st = os.stat(path)
    except FileNotFoundError:
        raise _failed(name, "hostPath type check failed: %s is not %s" % (path, what)) from None
    except OSError as e:
        raise _failed(name, "hostPath %s: %s" % (path, e.strerror or e)) from None
    if not check(st.st_mode):
        raise _failed(name, "hostPath type check failed: %s is not %s" % (path, what))
    return path


def remove_pod_dir(root: str | os.PathLike[str], uid: str) -> list[str]:
    """Unmount the pod's tmpfs volumes and delete `<root>/pods/<uid>`; the problems met (empty when
    clean). Never follows symlinks out of the pod directory, never touches hostPath volumes."""
    try:
        pdir = pod_dir(root, uid)
    except ConfigError as e:
        return [e.message]
    if not pdir.is_dir():
        return []
    problems: list[str] = []
    for path in _volume_dirs(pdir / "volumes"):
        for _ in range(8):  # a mount point may be stacked
            if path.is_symlink() or not os.path.ismount(path):
                break
            why = _unmount(path)
            if why is not None:
                problems.append("unmounting %s: %s" % (path, why))
                break

    def note(_func: object, path: str, exc: object) -> None:
        err = exc[1] if isinstance(exc, tuple) else exc
        problems.append("removing %s: %s" % (path, err))

    if sys.version_info >= (3, 12):
        shutil.rmtree(pdir, onexc=note)
    else:
        shutil.rmtree(pdir, onerror=note)
    return problems


def _volume_dirs(volumes: Path) -> list[Path]:
    out: list[Path] = []
    if not volumes.is_dir() or volumes.is_symlink():
        return out
    with os.scandir(volumes) as plugins:
        for plugin in plugins:
            if plugin.is_dir(follow_symlinks=False):
                with os.scandir(plugin.path) as vols:
                    out.extend(Path(v.path) for v in vols)
    return out
