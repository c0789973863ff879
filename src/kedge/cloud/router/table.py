"""The Router's rules as lookups (sans-IO): which Rule a REST request, an edge upload or an edge ServiceBus
request belongs to, and what each edge node must subscribe to or allow.

Rules and RuleEndpoints (rules.kubeedge.io/v1) arrive from informers as dicts. A Rule is usable when both
endpoints exist and form one of KubeEdge's four paths; anything else is kept out of the lookups (the
embedded API server refuses such rules already; against a real cluster they are skipped with a log line).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

REST, EVENTBUS, SERVICEBUS = "rest", "eventbus", "servicebus"
PATHS = {(REST, EVENTBUS), (EVENTBUS, REST), (REST, SERVICEBUS), (SERVICEBUS, REST)}


@dataclass(frozen=True, slots=True)
class Rule:
    namespace: str
    name: str
    source: str  # endpoint type
    target: str
    source_resource: dict[str, str]
    target_resource: dict[str, str]
    target_properties: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def rest_prefix(self) -> str:
        """`/<namespace><path>` of a rule whose source is rest."""
        return "/" + self.namespace + "/" + self.source_resource.get("path", "").strip("/")

    @property
    def node(self) -> str:
        return self.source_resource.get("node_name", "")

    @property
    def mqtt_filter(self) -> str:
        """`<namespace>/<topic>`: what the edge subscribes for an eventbus source."""
        return "%s/%s" % (self.namespace, self.source_resource.get("topic", ""))


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


class RuleTable:
    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str], str] = {}  # (ns, name) → type
        self._endpoint_props: dict[tuple[str, str], dict[str, str]] = {}
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}  # rule objects, usable or not
        self.rules: dict[tuple[str, str], Rule] = {}

    # -- updates ---------------------------------------------------------------------------------

    def set_endpoint(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        spec = obj.get("spec") or {}
        self._endpoints[key] = str(spec.get("ruleEndpointType") or "")
        self._endpoint_props[key] = _strings(spec.get("properties"))
        self._rebuild()

    def remove_endpoint(self, namespace: str, name: str) -> None:
        self._endpoints.pop((namespace, name), None)
        self._endpoint_props.pop((namespace, name), None)
        self._rebuild()

    def set_rule(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        self._objects[(meta.get("namespace") or "default", meta.get("name") or "")] = obj
        self._rebuild()

    def remove_rule(self, namespace: str, name: str) -> None:
        self._objects.pop((namespace, name), None)
        self._rebuild()

    def _rebuild(self) -> None:
        rules: dict[tuple[str, str], Rule] = {}
        for key, obj in self._objects.items():
            rule = self._usable(key, obj)
            if rule is not None:
                rules[key] = rule
        self.rules = rules

    def _usable(self, key: tuple[str, str], obj: dict[str, Any]) -> Rule | None:
        ns, name = key
        spec = obj.get("spec") or {}
        src, dst = str(spec.get("source") or ""), str(spec.get("target") or "")
        src_type, dst_type = self._endpoints.get((ns, src)), self._endpoints.get((ns, dst))
        if src_type is None or dst_type is None or (src_type, dst_type) not in PATHS:
            return None
        return Rule(
            ns,
            name,
            src_type,
            dst_type,
            _strings(spec.get("sourceResource")),
            _strings(spec.get("targetResource")),
            self._endpoint_props.get((ns, dst), {}),
        )

    # -- lookups ---------------------------------------------------------------------------------

    def match_rest(self, namespace: str, path: str) -> tuple[Rule, str] | None:
        """The rest-sourced rule for `/<node>/<namespace><path>` (its source path a prefix of `path` at a
        segment boundary, the longest wins) and the rest of the path after it ("" or "/...")."""
        key = "/" + namespace + "/" + path.strip("/")
        best: tuple[Rule, str] | None = None
        for rule in self.rules.values():
            if rule.source != REST or rule.namespace != namespace:
                continue
            prefix = rule.rest_prefix.rstrip("/")
            under = key == prefix or key.startswith(prefix + "/")
            if under and (best is None or len(prefix) > len(best[0].rest_prefix.rstrip("/"))):
                best = (rule, key[len(prefix) :])
        return best

    def match_upload(self, node: str, topic: str) -> Rule | None:
        """The eventbus-sourced rule of an upload from `node` on MQTT topic `<namespace>/<topic>`."""
        for rule in self.rules.values():
            if rule.source == EVENTBUS and rule.node == node and rule.mqtt_filter == topic:
                return rule
        return None

    def match_servicebus(self, node: str, target_url: str) -> Rule | None:
        for rule in self.rules.values():
            if (
                rule.source == SERVICEBUS
                and rule.node == node
                and rule.source_resource.get("target_url") == target_url
            ):
                return rule
        return None

    def subscriptions(self, node: str) -> set[str]:
        """MQTT filters `node` must subscribe for eventbus-sourced rules."""
        return {r.mqtt_filter for r in self.rules.values() if r.source == EVENTBUS and r.node == node}

    def allowed_urls(self, node: str) -> set[str]:
        """URLs `node`'s ServiceBus may reach for servicebus-sourced rules."""
        return {
            r.source_resource.get("target_url", "")
            for r in self.rules.values()
            if r.source == SERVICEBUS and r.node == node
        }

    def nodes(self) -> set[str]:
        return {r.node for r in self.rules.values() if r.source in (EVENTBUS, SERVICEBUS) and r.node}
