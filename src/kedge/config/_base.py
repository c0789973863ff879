"""Pieces shared by the cloudcore and edgecore config Structs."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

import msgspec


class Section(msgspec.Struct, kw_only=True, rename="camel"):
    """Base of every config Struct: KubeEdge's camelCase keys; odd names are spelled out per field."""


# KubeEdge's ports are uint32 checked against 1..65535 by its validation; a port can't be 0 here.
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
# Kubelet-style ports where 0 means "disabled" (e.g. readOnlyPort).
PortOrZero = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[int, msgspec.Meta(gt=0)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]

_GO_DURATION_PART = r"(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)"
_GO_DURATION_RE = re.compile(rf"^[-+]?(?:0|(?:{_GO_DURATION_PART})+)$")
# A Kubernetes metav1.Duration as it appears in YAML: Go's time.Duration text ("1m0s", "100ms", "0s").
GoDuration = Annotated[
    str, msgspec.Meta(pattern=_GO_DURATION_RE.pattern, description='a Go duration such as "1m0s" or "10s"')
]

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float:
    """Seconds in a Go duration string such as "1m0s" or "1h2m3.5s" (the format of metav1.Duration)."""
    if not _GO_DURATION_RE.match(text):
        raise ValueError(f"not a Go duration: {text!r}")
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    return sign * sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART_RE.findall(body))


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_host_port(text: str) -> tuple[str, int] | None:
    """(host, port) of "host:port" or "[v6]:port", or None if it is not of that form with a valid port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # a bare IPv6 address needs brackets, as in Go's net.SplitHostPort
    value = int(port)
    if not 1 <= value <= 65535:
        return None
    return host, value
