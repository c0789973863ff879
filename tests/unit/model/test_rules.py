"""Rule and RuleEndpoint checks: what KubeEdge's admission webhook refuses beyond the CRD schema."""

from typing import Any

import pytest

from kedge.model.rules import (
    ALLOWED_PAIRS,
    ENDPOINT_TYPES,
    EVENTBUS,
    REST,
    SERVICEBUS,
    endpoint_problems,
    endpoint_type,
    rule_problems,
    service_port,
)


def endpoint(name: str, kind: str, namespace: str = "default", **properties: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"ruleEndpointType": kind}
    if properties:
        spec["properties"] = properties
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


ENDPOINTS = {
    ("default", "my-rest"): endpoint("my-rest", REST),
    ("default", "my-eventbus"): endpoint("my-eventbus", EVENTBUS),
    ("default", "my-servicebus"): endpoint("my-servicebus", SERVICEBUS, service_port="9000"),
    ("other", "their-rest"): endpoint("their-rest", REST, namespace="other"),
    ("default", "untyped"): {"metadata": {"name": "untyped"}, "spec": {}},
    ("default", "weird"): endpoint("weird", "carrier-pigeon"),
}


def lookup(namespace: str, name: str) -> dict[str, Any] | None:
    return ENDPOINTS.get((namespace, name))


def rule(source: str, target: str, src: Any, tgt: Any, namespace: str = "default") -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "namespace": namespace},
        "spec": {"source": source, "sourceResource": src, "target": target, "targetResource": tgt},
    }


REST_TO_EVENTBUS = rule("my-rest", "my-eventbus", {"path": "/a"}, {"topic": "test"})
EVENTBUS_TO_REST = rule(
    "my-eventbus",
    "my-rest",
    {"topic": "test", "node_name": "edge-node"},
    {"resource": "http://127.0.0.1:8080/b"},
)
REST_TO_SERVICEBUS = rule("my-rest", "my-servicebus", {"path": "/source"}, {"path": "/target"})
SERVICEBUS_TO_REST = rule(
    "my-servicebus",
    "my-rest",
    {"target_url": "https://example.com/api", "node_name": "edge-node"},
    {"resource": "https://example.com/api"},
)


# -- RuleEndpoint ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [REST, EVENTBUS])
def test_rest_and_eventbus_endpoints_need_no_properties(kind: str) -> None:
    assert endpoint_problems(endpoint("e", kind)) == []


@pytest.mark.parametrize("port", ["9000", "1", "65535", 8080])
def test_a_servicebus_endpoint_with_a_port_is_accepted(port: Any) -> None:
    e = endpoint("e", SERVICEBUS, service_port=port)
    assert endpoint_problems(e) == []
    assert service_port(e) == int(port)


@pytest.mark.parametrize("props", [{}, {"service_port": ""}, {"other": "1"}])
def test_a_servicebus_endpoint_needs_a_service_port(props: dict[str, Any]) -> None:
    [(path, message)] = endpoint_problems(endpoint("e", SERVICEBUS, **props))
    assert path == "spec.properties.service_port"
    assert "required for a servicebus endpoint" in message


def test_a_servicebus_endpoint_without_properties_at_all_is_refused() -> None:
    e = {"spec": {"ruleEndpointType": SERVICEBUS}}
    assert endpoint_problems(e)[0][0] == "spec.properties.service_port"


@pytest.mark.parametrize("port", ["0", "65536", "x", "-1", "80a", "\uff11\uff12", " 80", "999999", True, 0])
def test_a_service_port_that_is_no_port_is_refused(port: Any) -> None:
    e = endpoint("e", SERVICEBUS, service_port=port)
    [(path, message)] = endpoint_problems(e)
    assert path == "spec.properties.service_port"
    assert "between 1 and 65535" in message and str(port) in message
    assert service_port(e) is None


def test_an_unknown_endpoint_type_is_refused_naming_it_and_the_known_ones() -> None:
    [(path, message)] = endpoint_problems(endpoint("e", "mqtt"))
    assert path == "spec.ruleEndpointType"
    assert '"mqtt"' in message and "rest, eventbus, servicebus" in message


@pytest.mark.parametrize("spec", [{}, {"ruleEndpointType": ""}, {"ruleEndpointType": 3}, None])
def test_a_missing_endpoint_type_is_refused(spec: Any) -> None:
    [(path, message)] = endpoint_problems({"spec": spec})
    assert path == "spec.ruleEndpointType" and "required" in message


def test_endpoint_type() -> None:
    assert endpoint_type(endpoint("e", EVENTBUS)) == EVENTBUS
    assert endpoint_type({"spec": {}}) is None
    assert endpoint_type(None) is None
    assert ENDPOINT_TYPES == (REST, EVENTBUS, SERVICEBUS)


# -- Rule -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [REST_TO_EVENTBUS, EVENTBUS_TO_REST, REST_TO_SERVICEBUS, SERVICEBUS_TO_REST])
def test_kubeedge_doc_rules_are_accepted(r: dict[str, Any]) -> None:
    assert rule_problems(r, lookup) == []


def test_every_allowed_pair_is_a_cloud_edge_pair() -> None:
    assert {(REST, EVENTBUS), (EVENTBUS, REST), (REST, SERVICEBUS), (SERVICEBUS, REST)} == ALLOWED_PAIRS


def test_extra_resource_keys_are_left_alone() -> None:
    r = rule("my-rest", "my-eventbus", {"path": "/a", "x": "y"}, {"topic": "t", "qos": "1"})
    assert rule_problems(r, lookup) == []


def test_endpoints_are_looked_up_in_the_rules_namespace() -> None:
    seen: list[tuple[str, str]] = []

    def spy(namespace: str, name: str) -> dict[str, Any] | None:
        seen.append((namespace, name))
        return lookup(namespace, name)

    r = rule("their-rest", "my-eventbus", {"path": "/a"}, {"topic": "t"}, namespace="other")
    [(path, message)] = rule_problems(r, spy)
    assert seen == [("other", "their-rest"), ("other", "my-eventbus")]
    assert path == "spec.target"
    assert message == 'RuleEndpoint "my-eventbus" not found in namespace "other"'


def test_a_missing_source_and_target_are_both_reported() -> None:
    r = rule("nope", "gone", {"path": "/a"}, {"topic": "t"})
    assert rule_problems(r, lookup) == [
        ("spec.source", 'RuleEndpoint "nope" not found in namespace "default"'),
        ("spec.target", 'RuleEndpoint "gone" not found in namespace "default"'),
    ]


@pytest.mark.parametrize("value", [None, "", 5])
def test_a_rule_without_source_is_refused(value: Any) -> None:
    r = rule("x", "my-eventbus", {"path": "/a"}, {"topic": "t"})
    r["spec"]["source"] = value
    assert rule_problems(r, lookup) == [("spec.source", "required: the name of a RuleEndpoint")]


def test_a_rule_without_spec_reports_both_ends() -> None:
    assert [p for p, _ in rule_problems({"metadata": {"namespace": "default"}}, lookup)] == [
        "spec.source",
        "spec.target",
    ]


def test_endpoints_of_no_or_unknown_type_are_refused() -> None:
    r = rule("untyped", "weird", {}, {})
    assert rule_problems(r, lookup) == [
        ("spec.source", 'RuleEndpoint "untyped" has no ruleEndpointType'),
        ("spec.target", 'RuleEndpoint "weird" has unsupported type "carrier-pigeon"'),
    ]


@pytest.mark.parametrize(
    ("source", "target", "types"),
    [
        ("my-eventbus", "my-servicebus", ("eventbus", "servicebus")),
        ("my-servicebus", "my-eventbus", ("servicebus", "eventbus")),
        ("my-eventbus", "my-eventbus", ("eventbus", "eventbus")),
        ("my-servicebus", "my-servicebus", ("servicebus", "servicebus")),
    ],
)
def test_unsupported_pairs_are_refused_naming_both_types(source: str, target: str, types: tuple) -> None:
    [(path, message)] = rule_problems(rule(source, target, {}, {}), lookup)
    assert path == "spec"
    assert "from a %s endpoint to a %s endpoint is not supported" % types in message
    assert "rest->eventbus" in message


def test_rest_cannot_be_both_ends() -> None:
    [(path, message)] = rule_problems(
        rule("my-rest", "my-rest", {"path": "/a"}, {"resource": "http://a"}), lookup
    )
    assert path == "spec" and "cannot be both the source and the target" in message


@pytest.mark.parametrize(
    ("r", "missing"),
    [
        (rule("my-rest", "my-eventbus", {}, {"topic": "t"}), ["spec.sourceResource.path"]),
        (rule("my-rest", "my-eventbus", {"path": "/a"}, {}), ["spec.targetResource.topic"]),
        (
            rule("my-eventbus", "my-rest", {"topic": "t"}, {"resource": "http://a"}),
            ["spec.sourceResource.node_name"],
        ),
        (
            rule("my-eventbus", "my-rest", {"node_name": "n"}, {}),
            ["spec.sourceResource.topic", "spec.targetResource.resource"],
        ),
        (
            rule("my-servicebus", "my-rest", {"node_name": "n"}, {"resource": "http://a"}),
            ["spec.sourceResource.target_url"],
        ),
        (
            rule("my-servicebus", "my-rest", {"target_url": "http://a"}, {"resource": "http://a"}),
            ["spec.sourceResource.node_name"],
        ),
        (rule("my-rest", "my-servicebus", {"path": "/a"}, {"path": "  "}), ["spec.targetResource.path"]),
    ],
)
def test_required_resource_keys(r: dict[str, Any], missing: list[str]) -> None:
    problems = rule_problems(r, lookup)
    assert [p for p, _ in problems] == missing
    assert all(m.startswith("required for a ") for _, m in problems)


def test_a_missing_resource_names_the_keys_it_needs() -> None:
    r = rule("my-eventbus", "my-rest", None, {"resource": "http://a"})
    [(path, message)] = rule_problems(r, lookup)
    assert path == "spec.sourceResource"
    assert message == "required for a eventbus source: needs topic, node_name"


def test_a_rest_target_without_resource_says_so() -> None:
    r = rule("my-eventbus", "my-rest", {"topic": "t", "node_name": "n"}, {})
    assert rule_problems(r, lookup) == [("spec.targetResource.resource", "required for a rest target")]


@pytest.mark.parametrize(
    ("r", "field", "text"),
    [
        (rule("my-rest", "my-eventbus", {"path": "a"}, {"topic": "t"}), "spec.sourceResource.path", '"a"'),
        (
            rule("my-rest", "my-servicebus", {"path": "/a"}, {"path": "target"}),
            "spec.targetResource.path",
            'must start with "/"',
        ),
        (
            rule("my-eventbus", "my-rest", {"topic": "t", "node_name": "n"}, {"resource": "ftp://a/b"}),
            "spec.targetResource.resource",
            "http:// or https://",
        ),
        (
            rule("my-eventbus", "my-rest", {"topic": "t", "node_name": "n"}, {"resource": "http://"}),
            "spec.targetResource.resource",
            "http:// or https://",
        ),
        (
            rule(
                "my-servicebus",
                "my-rest",
                {"target_url": "a.com", "node_name": "n"},
                {"resource": "http://a"},
            ),
            "spec.sourceResource.target_url",
            '"a.com"',
        ),
        (
            rule("my-rest", "my-eventbus", {"path": "/a"}, {"topic": "a/#"}),
            "spec.targetResource.topic",
            "wildcards",
        ),
    ],
)
def test_bad_resource_values(r: dict[str, Any], field: str, text: str) -> None:
    [(path, message)] = rule_problems(r, lookup)
    assert path == field and text in message


def test_an_eventbus_source_may_subscribe_with_wildcards() -> None:
    r = rule("my-eventbus", "my-rest", {"topic": "sensors/+/t", "node_name": "n"}, {"resource": "http://a"})
    assert rule_problems(r, lookup) == []
