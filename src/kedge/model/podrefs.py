"""Which configmaps and secrets a pod uses (volumes, projected sources, env, envFrom, image pull secrets).

Shared by the cloud (send an object only to the nodes whose pods use it) and the edge (wake the pods an
updated object touches). Objects are plain dicts; malformed parts are skipped, never raised on.
"""

from __future__ import annotations

from typing import Any

CONFIGMAP = "configmap"
SECRET = "secret"


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(field)
        if isinstance(items, list):
            out.extend(c for c in items if isinstance(c, dict))
    return out


def _name(ref: Any, field: str = "name") -> str:
    if isinstance(ref, dict):
        name = ref.get(field)
        if isinstance(name, str) and name:
            return name
    return ""


def pod_references(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """{(kind, name)} with kind "configmap" or "secret", all in the pod's namespace."""
    spec = pod.get("spec") if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        return set()
    refs: set[tuple[str, str]] = set()

    def add(kind: str, name: str) -> None:
        if name:
            refs.add((kind, name))

    for vol in spec.get("volumes") or ():
        if not isinstance(vol, dict):
            continue
        add(CONFIGMAP, _name(vol.get("configMap")))
        add(SECRET, _name(vol.get("secret"), "secretName"))
        projected = vol.get("projected")
        if isinstance(projected, dict):
            for src in projected.get("sources") or ():
                if isinstance(src, dict):
                    add(CONFIGMAP, _name(src.get("configMap")))
                    add(SECRET, _name(src.get("secret")))
    for ctr in _containers(spec):
        for env in ctr.get("env") or ():
            value_from = env.get("valueFrom") if isinstance(env, dict) else None
            if isinstance(value_from, dict):
                add(CONFIGMAP, _name(value_from.get("configMapKeyRef")))
                add(SECRET, _name(value_from.get("secretKeyRef")))
        for env_from in ctr.get("envFrom") or ():
            if isinstance(env_from, dict):
                add(CONFIGMAP, _name(env_from.get("configMapRef")))
                add(SECRET, _name(env_from.get("secretRef")))
    for ref in spec.get("imagePullSecrets") or ():
        add(SECRET, _name(ref))
    return refs
