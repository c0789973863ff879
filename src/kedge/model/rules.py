"""KubeEdge Router's Rule and RuleEndpoint (rules.kubeedge.io/v1): the checks KubeEdge's admission webhook
makes beyond the CRD schema, so that a rule the Router could never carry out is refused when it is written,
not found broken when a message arrives. Pure: no I/O.

A Rule moves messages from its source RuleEndpoint to its target one. The Router serves a handful of pairs
only (REST in the cloud <-> a bus on an edge node); each end needs its own keys in sourceResource /
targetResource, e.g. the REST path it listens on or the edge node and MQTT topic it subscribes to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

GROUP = "rules.kubeedge.io"
API_VERSION = GROUP + "/v1"

#: the cloud Router's REST API (cloud only)
REST = "rest"
#: MQTT topics on an edge node
EVENTBUS = "eventbus"
#: HTTP services on an edge node
SERVICEBUS = "servicebus"
ENDPOINT_TYPES = (REST, EVENTBUS, SERVICEBUS)

#: (source type, target type) pairs the Router carries out
ALLOWED_PAIRS = frozenset({(REST, EVENTBUS), (EVENTBUS, REST), (REST, SERVICEBUS), (SERVICEBUS, REST)})

#: a servicebus RuleEndpoint's property: the port of the edge service on the node's loopback
SERVICE_PORT = "service_port"

#: keys sourceResource needs, by source endpoint type
SOURCE_KEYS: Mapping[str, tuple[str, ...]] = {
    REST: ("path",),
    EVENTBUS: ("topic", "node_name"),
    SERVICEBUS: ("target_url", "node_name"),
}
#: keys targetResource needs, by target endpoint type
TARGET_KEYS: Mapping[str, tuple[str, ...]] = {
    REST: ("resource",),
    EVENTBUS: ("topic",),
    SERVICEBUS: ("path",),
}

#: (namespace, name) -> the RuleEndpoint, or None when there is none
EndpointLookup = Callable[[str, str], Mapping[str, Any] | None]
Problem = tuple[str, str]


def endpoint_type(endpoint: Mapping[str, Any] | None) -> str | None:
    """The RuleEndpoint's ruleEndpointType, or None when it has none."""
    value = _dict(_dict(endpoint).get("spec")).get("ruleEndpointType")
    return value if isinstance(value, str) and value else None


def service_port(endpoint: Mapping[str, Any]) -> int | None:
    """A servicebus RuleEndpoint's service_port as a port number, or None when missing or not a port."""
    value = _dict(_dict(endpoint.get("spec")).get("properties")).get(SERVICE_PORT)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        port = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 5:
        port = int(value)
    else:
        return None
    return port if 1 <= port <= 65535 else None


def endpoint_problems(endpoint: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with a RuleEndpoint, as (field path, message) pairs; empty when nothing is."""
    kind = _dict(endpoint.get("spec")).get("ruleEndpointType")
    if not isinstance(kind, str) or not kind:
        return [("spec.ruleEndpointType", "required: one of %s" % ", ".join(ENDPOINT_TYPES))]
    if kind not in ENDPOINT_TYPES:
        return [
            (
                "spec.ruleEndpointType",
                'unsupported endpoint type "%s": must be one of %s' % (kind, ", ".join(ENDPOINT_TYPES)),
            )
        ]
    if kind != SERVICEBUS:
        return []
    path = "spec.properties." + SERVICE_PORT
    value = _dict(_dict(endpoint.get("spec")).get("properties")).get(SERVICE_PORT)
    if value is None or value == "":
        return [(path, 'required for a servicebus endpoint: the port of the edge service, e.g. "8080"')]
    if service_port(endpoint) is None:
        return [(path, 'invalid port "%s": must be a port number between 1 and 65535' % (value,))]
    return []


def rule_problems(rule: Mapping[str, Any], lookup_endpoint: EndpointLookup) -> list[Problem]:
    """What is wrong with a Rule, as (field path, message) pairs; empty when nothing is. lookup_endpoint finds
    the RuleEndpoints it names, which must exist in the rule's namespace."""
    spec = _dict(rule.get("spec"))
    namespace = _dict(rule.get("metadata")).get("namespace") or ""
    problems: list[Problem] = []
    types: dict[str, str | None] = {}
    for end in ("source", "target"):
        name = spec.get(end)
        field = "spec." + end
        types[end] = None
        if not isinstance(name, str) or not name:
            problems.append((field, "required: the name of a RuleEndpoint"))
            continue
        found = lookup_endpoint(namespace, name)
        if found is None:
            problems.append((field, 'RuleEndpoint "%s" not found in namespace "%s"' % (name, namespace)))
            continue
        kind = endpoint_type(found)
        if kind is None:
            problems.append((field, 'RuleEndpoint "%s" has no ruleEndpointType' % name))
            continue
        if kind not in ENDPOINT_TYPES:
            problems.append((field, 'RuleEndpoint "%s" has unsupported type "%s"' % (name, kind)))
            continue
        types[end] = kind
    source, target = types["source"], types["target"]
    if source is None or target is None:
        return problems
    if source == REST and target == REST:
        return [
            ("spec", "rest is the cloud's endpoint: it cannot be both the source and the target of a rule")
        ]
    if (source, target) not in ALLOWED_PAIRS:
        allowed = ", ".join("%s->%s" % pair for pair in sorted(ALLOWED_PAIRS))
        return [
            (
                "spec",
                "a rule from a %s endpoint to a %s endpoint is not supported: allowed are %s"
                % (source, target, allowed),
            )
        ]
    problems += _resource_problems(
        "spec.sourceResource", spec.get("sourceResource"), SOURCE_KEYS[source], source
    )
    problems += _resource_problems(
        "spec.targetResource", spec.get("targetResource"), TARGET_KEYS[target], target
    )
    return problems


def _resource_problems(field: str, resource: Any, keys: tuple[str, ...], kind: str) -> list[Problem]:
    role = "source" if field.endswith("sourceResource") else "target"
    if not isinstance(resource, dict):
        return [(field, "required for a %s %s: needs %s" % (kind, role, ", ".join(keys)))]
    problems: list[Problem] = []
    for key in keys:
        path = "%s.%s" % (field, key)
        value = resource.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append((path, "required for a %s %s" % (kind, role)))
            continue
        problem = _value_problem(kind, role, key, value)
        if problem:
            problems.append((path, problem))
    return problems


def _value_problem(kind: str, role: str, key: str, value: str) -> str | None:
    if key == "path" and not value.startswith("/"):
        return 'invalid path "%s": must start with "/"' % value
    if key in ("resource", "target_url") and not _is_http_url(value):
        return 'invalid URL "%s": must be an http:// or https:// URL' % value
    if kind == EVENTBUS and role == "target" and key == "topic" and ("+" in value or "#" in value):
        return 'invalid topic "%s": a topic published to cannot hold the MQTT wildcards + or #' % value
    return None


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and bool(parts.hostname)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
