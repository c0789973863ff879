"""Static pods: one Pod per file in the static pod directory (KubeEdge's staticPodPath,
/etc/kubeedge/manifests), given the identity the kubelet's file source gives them.

For each pod: name `<name>-<node>`, namespace default when absent, spec.nodeName = node, a uid derived from
the pod, the node and the file (md5 hex, as the kubelet's applyDefaults; a uid in the file is kept),
annotations kubernetes.io/config.hash = uid and kubernetes.io/config.source = file, a toleration of every
NoExecute taint, phase Pending. `mirror_pod` makes the copy Edged asks the cloud to create (contract item 6).

A file that cannot be used yields one error text naming it; the other files still load.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from collections.abc import Mapping
from typing import Any

import msgspec
import yaml

__all__ = [
    "CONFIG_HASH",
    "CONFIG_MIRROR",
    "CONFIG_SOURCE",
    "MAX_MANIFEST_BYTES",
    "load_static_pods",
    "mirror_pod",
    "static_pod",
]

log = logging.getLogger(__name__)

CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
MAX_MANIFEST_BYTES = 4 << 20  # a pod manifest is kilobytes; a bigger file is a mistake, not a pod
_EXTENSIONS = (".yaml", ".yml", ".json")
_NO_EXECUTE_TOLERATION = {"operator": "Exists", "effect": "NoExecute"}

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_canonical = msgspec.json.Encoder(order="sorted").encode
_json_decode = msgspec.json.Decoder().decode


class _BadManifest(Exception):
    pass


def load_static_pods(directory: str | os.PathLike[str], node: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The static pods of `directory` (or of one file, if it names a file) for `node`: (pods, errors).

    Files are read in name order; hidden files, sub-directories and names not ending in .yaml/.yml/.json
    are skipped. A missing directory gives no pods and no errors (the kubelet ignores it too)."""
    path = os.fspath(directory)
    if not os.path.exists(path):
        return [], []
    if os.path.isfile(path):
        files = [path]
    else:
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            return [], ["%s: cannot list the static pod directory: %s" % (path, e.strerror or e)]
        files = []
        for name in names:
            full = os.path.join(path, name)
            if name.startswith(".") or not os.path.isfile(full):
                continue
            if not name.endswith(_EXTENSIONS):
                log.debug("static pod path %s: %s skipped (not .yaml/.yml/.json)", path, name)
                continue
            files.append(full)
    pods: list[dict[str, Any]] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            pod = static_pod(_read_pod(file), node, file)
        except _BadManifest as e:
            errors.append("%s: %s" % (file, e))
            continue
        meta = pod["metadata"]
        full_name = "%s/%s" % (meta["namespace"], meta["name"])
        if full_name in seen:
            errors.append(
                "%s: pod %s is already defined by %s; this file is ignored"
                % (file, full_name, seen[full_name])
            )
            continue
        seen[full_name] = file
        pods.append(pod)
    return pods, errors


def _read_pod(file: str) -> dict[str, Any]:
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        raise _BadManifest("cannot read: %s" % (e.strerror or e)) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise _BadManifest("larger than %d bytes; not a pod manifest" % MAX_MANIFEST_BYTES)
    if not data.strip():
        raise _BadManifest("empty file; expected one Pod")
    if file.endswith(".json"):
        try:
            obj = _json_decode(data)
        except msgspec.DecodeError as e:
            raise _BadManifest("invalid JSON: %s" % e) from None
    else:
        try:
            docs = [d for d in yaml.load_all(data, Loader=_Loader) if d is not None]
        except yaml.YAMLError as e:
            raise _BadManifest("invalid YAML: %s" % str(e).replace("\n", " ")) from None
        if not docs:
            raise _BadManifest("empty file; expected one Pod")
        if len(docs) != 1:
            raise _BadManifest("holds %d YAML documents; a static pod file holds exactly one Pod" % len(docs))
        try:
            # through JSON, so values are what a JSON client would see (YAML dates become strings)
            obj = _json_decode(msgspec.json.encode(_json_keys(docs[0])))
        except (msgspec.EncodeError, TypeError, ValueError) as e:
            raise _BadManifest("cannot be represented as JSON: %s" % e) from None
    _check_pod(obj)
    return obj


def _json_keys(value: Any) -> Any:
    """Mapping keys as JSON strings, as sigs.k8s.io/yaml turns them (YAML 1.1 reads `on:` as true)."""
    if isinstance(value, dict):
        return {_key_text(k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return key if isinstance(key, str) else str(key)


def _check_pod(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise _BadManifest("expected a Pod object, got %s" % type(obj).__name__)
    if obj.get("kind") != "Pod" or obj.get("apiVersion") != "v1":
        raise _BadManifest(
            "expected apiVersion v1, kind Pod (one pod per file), got apiVersion %r, kind %r"
            % (obj.get("apiVersion"), obj.get("kind"))
        )
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise _BadManifest("metadata.name is required")
    for field in ("namespace", "uid"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            raise _BadManifest("metadata.%s must be a string" % field)
    for field in ("labels", "annotations"):
        if meta.get(field) is None:
            continue
        if not isinstance(meta[field], dict):
            raise _BadManifest("metadata.%s must be a mapping" % field)
        for key, value in meta[field].items():
            if not isinstance(value, str):
                raise _BadManifest(
                    "metadata.%s[%s] must be a string, got %s" % (field, key, _json_text(value))
                )
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise _BadManifest("spec is required")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise _BadManifest("spec.containers must list at least one container")
    for i, c in enumerate(containers):
        if not isinstance(c, dict) or not c.get("name") or not c.get("image"):
            raise _BadManifest("spec.containers[%d] needs a name and an image" % i)
    if spec.get("tolerations") is not None and not isinstance(spec["tolerations"], list):
        raise _BadManifest("spec.tolerations must be a list")


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def static_pod(obj: Mapping[str, Any], node: str, source: str) -> dict[str, Any]:
    """The kubelet's applyDefaults for a pod read from file `source` on `node` (obj is not modified)."""
    pod = copy.deepcopy(dict(obj))
    meta = pod.setdefault("metadata", {})
    if not meta.get("uid"):
        h = hashlib.md5(usedforsecurity=False)
        h.update(_canonical(obj))
        h.update(("host:%s" % node).encode())
        h.update(("file:%s" % source).encode())
        meta["uid"] = h.hexdigest()
    meta["name"] = "%s-%s" % (meta["name"], node.lower())
    if not meta.get("namespace"):
        meta["namespace"] = "default"
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node
    annotations = meta.get("annotations") or {}
    annotations[CONFIG_HASH] = meta["uid"]
    annotations[CONFIG_SOURCE] = "file"
    meta["annotations"] = annotations
    tolerations = spec.get("tolerations") or []
    if not any(_same_toleration(t, _NO_EXECUTE_TOLERATION) for t in tolerations):
        tolerations.append(dict(_NO_EXECUTE_TOLERATION))
    spec["tolerations"] = tolerations
    pod["status"] = {"phase": "Pending"}
    return pod


def _same_toleration(a: Any, b: Mapping[str, Any]) -> bool:
    if not isinstance(a, Mapping):
        return False
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))


def mirror_pod(pod: Mapping[str, Any], node_uid: str | None = None) -> dict[str, Any]:
    """The mirror pod of a static pod: annotation kubernetes.io/config.mirror = its config hash, no uid or
    status of its own, controlled by the Node once its uid is known (the kubelet's mirror client)."""
    mirror = copy.deepcopy(dict(pod))
    meta = mirror.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations[CONFIG_MIRROR] = annotations.get(CONFIG_HASH) or str(meta.get("uid") or "")
    meta["annotations"] = annotations
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        meta.pop(field, None)
    node = (mirror.get("spec") or {}).get("nodeName") or ""
    if node_uid and node:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": True}
        ]
    mirror.pop("status", None)
    return mirror
