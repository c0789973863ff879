"""A container's environment, resolved as the kubelet resolves it (makeEnvironmentVariables).

envFrom sources come first, in order; then `env` entries override them. `env[].value` expands `$(VAR)`
references to variables defined before it (envFrom included), `$$` is a literal `$`, and a reference to an
unknown variable stays as written. `valueFrom` reads a ConfigMap/Secret key, a pod field (downward API) or
a container resource. A missing, non-optional reference fails the container with CreateContainerConfigError
and the kubelet's message. Service link variables are not produced (no Service informer on the edge).

Also here: Kubernetes quantities (`parse_quantity`, used by resourceFieldRef and node allocatable) and the
downward-API field reader shared with downwardAPI volumes.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

__all__ = [
    "CONFIG_ERROR",
    "ConfigError",
    "Lookup",
    "QuantityError",
    "configmap_data",
    "expand",
    "field_value",
    "parse_quantity",
    "resolve_env",
    "resource_value",
    "secret_data",
]

#: The waiting reason the kubelet gives a container whose configuration cannot be built.
CONFIG_ERROR = "CreateContainerConfigError"

#: lookup(kind, namespace, name) -> the ConfigMap/Secret object, or None when it does not exist.
#: kind is "configmap" or "secret".
Lookup = Callable[[str, str, str], "dict[str, Any] | None"]


class ConfigError(Exception):
    """A pod's configuration cannot be turned into containers/volumes. `reason` is the Kubernetes reason
    (CreateContainerConfigError, FailedMount), `message` the text for the pod status or event."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return "ConfigError(reason=%r, message=%r)" % (self.reason, self.message)


# -- $(VAR) expansion (k8s third_party/forked/golang/expansion) ---------------------------------------


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Expand `$(NAME)` with mapping(NAME); `$$` gives `$`; any other `$x`, an unclosed `$(` or a
    trailing `$` stays as written. mapping decides what an unknown name becomes."""
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                # incomplete reference: keep "$(" and go on scanning after it
                out.append("$(")
                i += 2
            else:
                out.append(mapping(text[i + 2 : close]))
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _mapping_for(env: Mapping[str, str]) -> Callable[[str], str]:
    def mapping(name: str) -> str:
        value = env.get(name)
        return "$(" + name + ")" if value is None else value

    return mapping


# -- quantities (apimachinery resource.Quantity) ------------------------------------------------------


class QuantityError(ValueError):
    """A value Kubernetes would not parse as a resource quantity."""


_QUANTITY_RE = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))([eEinumkKMGTP]*[-+]?[0-9]*)")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_EXPONENT_RE = re.compile(r"[eE][+-]?[0-9]+")


def parse_quantity(value: object) -> Fraction:
    """The exact value of a quantity: "100m" → 1/10, "512Mi" → 536870912, "1e3" → 1000, 2 → 2."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError("quantity must be a string or a number, got %r" % (value,))
    text = value.strip() if isinstance(value, str) else repr(value)
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        raise QuantityError(
            "quantity %r does not match '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" % text
        )
    number, suffix = m.groups()
    if suffix in _DECIMAL_SUFFIXES:
        scale = Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
    elif suffix in _BINARY_SUFFIXES:
        scale = Fraction(2) ** _BINARY_SUFFIXES[suffix]
    elif _EXPONENT_RE.fullmatch(suffix):
        scale = Fraction(10) ** int(suffix[1:])
    else:
        raise QuantityError("quantity %r has an unknown suffix %r" % (text, suffix))
    return Fraction(number) * scale


def _non_negative(value: object) -> Fraction:
    q = parse_quantity(value)
    if q < 0:
        raise QuantityError("quantity %r must not be negative" % (value,))
    return q


def bytes_of(value: object) -> int:
    """A memory quantity in whole bytes, rounded up (limits for the runtime)."""
    return math.ceil(_non_negative(value))


def millicores(value: object) -> int:
    """A CPU quantity in whole millicores, rounded up (as Kubernetes does for "0.0001")."""
    return math.ceil(_non_negative(value) * 1000)


# -- ConfigMap / Secret contents ----------------------------------------------------------------------


def configmap_data(obj: Mapping[str, Any], *, binary: bool = False) -> dict[str, bytes]:
    """`data` of a ConfigMap as bytes (UTF-8), plus `binaryData` (base64) when binary is true (volumes
    project both; environment variables read `data` only, as the kubelet does)."""
    out: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        out[str(key)] = str(value).encode()
    if binary:
        for key, value in (obj.get("binaryData") or {}).items():
            out[str(key)] = _b64(value, "binaryData", obj, key)
    return out


def secret_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """`data` of a Secret, base64-decoded; `stringData` too, when an object carries it (the API server
    folds it into data, so only hand-built objects have it)."""
    out: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        out[str(key)] = _b64(value, "data", obj, key)
    for key, value in (obj.get("stringData") or {}).items():
        out[str(key)] = str(value).encode()
    return out


def _b64(value: object, field: str, obj: Mapping[str, Any], key: object) -> bytes:
    try:
        return base64.b64decode(value if isinstance(value, str | bytes) else b"!", validate=True)
    except (binascii.Error, ValueError):
        meta = obj.get("metadata") or {}
        raise ConfigError(
            CONFIG_ERROR,
            "%s %s/%s: %s[%s] is not valid base64"
            % (obj.get("kind") or "object", meta.get("namespace", ""), meta.get("name", ""), field, key),
        ) from None


def _text(raw: bytes) -> str:
    # Go keeps the raw bytes; surrogateescape keeps them too (os.environ/execve re-encode them exactly).
    return raw.decode("utf-8", "surrogateescape")


# -- downward API -------------------------------------------------------------------------------------

_SUBSCRIPT_RE = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$", re.DOTALL)


def _go_quote(value: str) -> str:
    # strconv.Quote for the characters labels/annotations realistically hold
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _format_map(m: Mapping[str, Any] | None) -> str:
    """fieldpath.FormatMap: `k="v"` lines, keys sorted."""
    return "\n".join("%s=%s" % (k, _go_quote(str(v))) for k, v in sorted((m or {}).items()))


def field_value(pod: Mapping[str, Any], path: str, *, pod_ip: str = "", host_ip: str = "") -> str:
    """The value of a downward-API fieldRef.fieldPath for `pod` (the kubelet's podFieldSelectorRuntimeValue
    and fieldpath.ExtractFieldPathAsString). Raises ConfigError for an unsupported path."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    m = _SUBSCRIPT_RE.match(path)
    if m is not None:
        section = meta.get(m.group(1).split(".", 1)[1]) or {}
        return str(section.get(m.group(2), ""))
    if path == "metadata.name":
        return str(meta.get("name", ""))
    if path == "metadata.namespace":
        return str(meta.get("namespace", ""))
    if path == "metadata.uid":
        return str(meta.get("uid", ""))
    if path == "metadata.labels":
        return _format_map(meta.get("labels"))
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations"))
    if path == "spec.nodeName":
        return str(spec.get("nodeName", ""))
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName", ""))
    if path in ("status.podIP", "status.podIPs"):
        return pod_ip or str(status.get("podIP", ""))
    if path in ("status.hostIP", "status.hostIPs"):
        return host_ip or str(status.get("hostIP", ""))
    raise ConfigError(CONFIG_ERROR, "unsupported fieldPath: %s" % path)


def _find_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if c.get("name") == name:
                return c
    return None


def resource_value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any] | None,
    ref: Mapping[str, Any],
    *,
    node_allocatable: Mapping[str, Any] | None = None,
) -> str:
    """A resourceFieldRef's value (resource.ExtractContainerResourceValue): limits.cpu/memory/
    ephemeral-storage, requests.*, divided by `divisor` (default 1) and rounded up. A missing limit is the
    node's allocatable amount, as the kubelet's defaultPodLimitsForDownwardAPI makes it."""
    name = ref.get("containerName") or ""
    if name:
        container = _find_container(pod, name)
        if container is None:
            raise ConfigError(CONFIG_ERROR, "container %s not found" % name)
    if container is None:
        raise ConfigError(CONFIG_ERROR, "resourceFieldRef needs a containerName here")
    resource = str(ref.get("resource") or "")
    kind, _, res = resource.partition(".")
    if kind not in ("limits", "requests") or res not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(CONFIG_ERROR, "unsupported container resource : %s" % resource)
    try:
        divisor = parse_quantity(ref.get("divisor") or "1")
        if divisor == 0:
            divisor = Fraction(1)
        section = (container.get("resources") or {}).get(kind) or {}
        raw = section.get(res)
        if raw is None and kind == "limits":
            raw = (node_allocatable or {}).get(res)
        amount = parse_quantity(raw) if raw is not None else Fraction(0)
    except QuantityError as e:
        raise ConfigError(CONFIG_ERROR, "resourceFieldRef %s: %s" % (resource, e)) from None
    if res == "cpu":
        # MilliValue of both, rounded up, then a ceiling division (convertResourceCPUToString)
        milli_divisor = math.ceil(divisor * 1000) or 1
        return str(math.ceil(Fraction(math.ceil(amount * 1000), milli_divisor)))
    return str(math.ceil(Fraction(math.ceil(amount), math.ceil(divisor) or 1)))


# -- the environment ----------------------------------------------------------------------------------


class _Sources:
    """ConfigMaps/Secrets looked up once per resolution, as the kubelet caches them per call."""

    def __init__(self, namespace: str, lookup: Lookup) -> None:
        self.namespace = namespace
        self.lookup = lookup
        self.cache: dict[tuple[str, str], dict[str, bytes] | None] = {}

    def get(self, kind: str, name: str, optional: bool) -> dict[str, bytes] | None:
        """The object's data, None when it is missing and optional; raises when missing otherwise."""
        key = (kind, name)
        if key not in self.cache:
            obj = self.lookup(kind, self.namespace, name)
            if obj is None:
                self.cache[key] = None
            else:
                self.cache[key] = configmap_data(obj) if kind == "configmap" else secret_data(obj)
        data = self.cache[key]
        if data is None and not optional:
            raise ConfigError(CONFIG_ERROR, '%s "%s" not found' % (kind, name))
        return data


def resolve_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    lookup: Lookup,
    *,
    pod_ip: str = "",
    host_ip: str = "",
    node_allocatable: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """The container's environment as (name, value) pairs, each name once, in first-definition order.

    Raises ConfigError(CreateContainerConfigError, ...) with the kubelet's message when a non-optional
    ConfigMap/Secret or key is missing, a fieldPath/resource is unsupported, or a value holds a NUL byte.
    """
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    sources = _Sources(namespace, lookup)
    env: dict[str, str] = {}

    for src in container.get("envFrom") or ():
        prefix = str(src.get("prefix") or "")
        for field, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            ref = src.get(field)
            if ref is None:
                continue
            data = sources.get(kind, str(ref.get("name") or ""), bool(ref.get("optional")))
            for key, raw in (data or {}).items():
                value = _text(raw)
                env[_checked(prefix + key, value)] = value

    mapping = _mapping_for(env)
    for var in container.get("env") or ():
        name = str(var.get("name") or "")
        if not name:
            continue
        value = var.get("value")
        value_from = var.get("valueFrom")
        if value:
            resolved: str | None = expand(str(value), mapping)
        elif value_from:
            resolved = _value_from(
                pod, container, value_from, sources, namespace, pod_ip, host_ip, node_allocatable
            )
            if resolved is None:  # optional and missing: the variable is not set at all
                continue
        else:
            resolved = ""
        env[_checked(name, resolved)] = resolved
    return list(env.items())


def _checked(name: str, value: str) -> str:
    if "\x00" in value or "\x00" in name or "=" in name or not name:
        raise ConfigError(
            CONFIG_ERROR, "environment variable %r cannot be set: its name or value is invalid" % name
        )
    return name


def _value_from(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    value_from: Mapping[str, Any],
    sources: _Sources,
    namespace: str,
    pod_ip: str,
    host_ip: str,
    node_allocatable: Mapping[str, Any] | None,
) -> str | None:
    if value_from.get("fieldRef"):
        return field_value(
            pod, str(value_from["fieldRef"].get("fieldPath") or ""), pod_ip=pod_ip, host_ip=host_ip
        )
    if value_from.get("resourceFieldRef"):
        return resource_value(
            pod, container, value_from["resourceFieldRef"], node_allocatable=node_allocatable
        )
    for field, kind, title in (
        ("configMapKeyRef", "configmap", "ConfigMap"),
        ("secretKeyRef", "secret", "Secret"),
    ):
        ref = value_from.get(field)
        if not ref:
            continue
        name = str(ref.get("name") or "")
        key = str(ref.get("key") or "")
        optional = bool(ref.get("optional"))
        data = sources.get(kind, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            raise ConfigError(
                CONFIG_ERROR, "couldn't find key %s in %s %s/%s" % (key, title, namespace, name)
            )
        return _text(data[key])
    raise ConfigError(CONFIG_ERROR, "valueFrom has no source this node supports: %s" % sorted(value_from))
