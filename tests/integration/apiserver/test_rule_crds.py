"""The Router CRDs (rules.kubeedge.io/v1) against the embedded API server with the real kubectl: KubeEdge's
doc examples apply unchanged, rules the Router could not carry out are refused with the reason on kubectl's
stderr, as KubeEdge's admission webhook refuses them, and the Router's status patch goes through."""

# From KubeEdge's router docs.
ENDPOINTS = """apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-rest, labels: {description: test}}
spec: {ruleEndpointType: rest, properties: {}}
---
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-eventbus, labels: {description: test}}
spec: {ruleEndpointType: eventbus, properties: {}}
---
apiVersion: rules.kubeedge.io/v1
kind: RuleEndpoint
metadata: {name: my-servicebus, labels: {description: test}}
spec: {ruleEndpointType: servicebus, properties: {service_port: '9000'}}
"""

RULES = """apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule, labels: {description: test}}
spec:
  source: my-rest
  sourceResource: {path: /a}
  target: my-eventbus
  targetResource: {topic: test}
---
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule-eventbus-rest, labels: {description: test}}
spec:
  source: my-eventbus
  sourceResource: {topic: test, node_name: edge-node}
  target: my-rest
  targetResource: {resource: 'http://127.0.0.1:8080/b'}
---
apiVersion: rules.kubeedge.io/v1
kind: Rule
metadata: {name: my-rule-rest-servicebus, labels: {description: test}}
spec:
  source: my-rest
  sourceResource: {path: /source}
  target: my-servicebus
  targetResource: {path: /target}
"""


def _rule(name: str, source: str, src: str, target: str, tgt: str) -> str:
    return (
        "apiVersion: rules.kubeedge.io/v1\nkind: Rule\nmetadata: {name: %s}\n"
        "spec: {source: %s, sourceResource: %s, target: %s, targetResource: %s}\n"
        % (name, source, src, target, tgt)
    )


async def test_kubeedge_doc_examples_apply_and_read_back(kubectl) -> None:
    _, out, _ = await kubectl("apply", "-f", "-", input=ENDPOINTS)
    for name in ("my-rest", "my-eventbus", "my-servicebus"):
        assert "ruleendpoint.rules.kubeedge.io/%s created" % name in out
    _, out, _ = await kubectl("apply", "-f", "-", input=RULES)
    for name in ("my-rule", "my-rule-eventbus-rest", "my-rule-rest-servicebus"):
        assert "rule.rules.kubeedge.io/%s created" % name in out

    rule = await kubectl.get("rule", "my-rule-eventbus-rest")
    assert rule["spec"]["sourceResource"] == {"topic": "test", "node_name": "edge-node"}
    assert rule["spec"]["targetResource"] == {"resource": "http://127.0.0.1:8080/b"}
    endpoint = await kubectl.get("re", "my-servicebus")
    assert endpoint["spec"]["properties"] == {"service_port": "9000"}

    _, table, _ = await kubectl("get", "rules")
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert rows["my-rule"][1:3] == ["my-rest", "my-eventbus"]
    _, out, _ = await kubectl("apply", "-f", "-", input=ENDPOINTS + "---\n" + RULES)
    assert "rule.rules.kubeedge.io/my-rule unchanged" in out


async def test_a_rule_naming_a_missing_endpoint_is_refused(kubectl) -> None:
    await kubectl("apply", "-f", "-", input=ENDPOINTS)
    err = await kubectl.refused(_rule("orphan", "my-rest", "{path: /a}", "no-such-bus", "{topic: t}"))
    assert 'spec.target: RuleEndpoint "no-such-bus" not found in namespace "default"' in err
    code, _, _ = await kubectl("get", "rule", "orphan", check=False)
    assert code != 0


async def test_an_eventbus_to_servicebus_rule_is_refused(kubectl) -> None:
    await kubectl("apply", "-f", "-", input=ENDPOINTS)
    err = await kubectl.refused(
        _rule("bus-bus", "my-eventbus", "{topic: t, node_name: edge-node}", "my-servicebus", "{path: /x}")
    )
    assert "a rule from a eventbus endpoint to a servicebus endpoint is not supported" in err


async def test_a_servicebus_endpoint_without_service_port_is_refused(kubectl) -> None:
    err = await kubectl.refused(
        "apiVersion: rules.kubeedge.io/v1\nkind: RuleEndpoint\nmetadata: {name: portless}\n"
        "spec: {ruleEndpointType: servicebus}\n"
    )
    assert "spec.properties.service_port: required for a servicebus endpoint" in err
    err = await kubectl.refused(
        "apiVersion: rules.kubeedge.io/v1\nkind: RuleEndpoint\nmetadata: {name: badport}\n"
        "spec: {ruleEndpointType: servicebus, properties: {service_port: '70000'}}\n"
    )
    assert 'invalid port "70000"' in err


async def test_a_rest_target_without_resource_is_refused(kubectl) -> None:
    await kubectl("apply", "-f", "-", input=ENDPOINTS)
    err = await kubectl.refused(
        _rule(
            "no-resource", "my-eventbus", "{topic: t, node_name: edge-node}", "my-rest", "{url: 'http://a'}"
        )
    )
    assert "spec.targetResource.resource: required for a rest target" in err


async def test_updates_are_checked_but_the_routers_status_patch_is_not_blocked(kubectl) -> None:
    await kubectl("apply", "-f", "-", input=ENDPOINTS + "---\n" + RULES)
    code, _, err = await kubectl(
        "patch",
        "rule",
        "my-rule",
        "--type=merge",
        "-p",
        '{"spec":{"sourceResource":{"path":"a"}}}',
        check=False,
    )
    assert code != 0 and 'spec.sourceResource.path: invalid path "a": must start with "/"' in err
    code, _, err = await kubectl(
        "patch",
        "re",
        "my-servicebus",
        "--type=merge",
        "-p",
        '{"spec":{"properties":{"service_port":null}}}',
        check=False,
    )
    assert code != 0 and "service_port: required" in err

    # the endpoint goes away: the rule is now broken, yet the Router still records its failures on it
    await kubectl("delete", "ruleendpoint", "my-eventbus")
    await kubectl(
        "patch",
        "rule",
        "my-rule",
        "--type=merge",
        "-p",
        '{"status":{"failMessages":1,"errors":["no endpoint"]}}',
    )
    assert (await kubectl.get("rule", "my-rule"))["status"] == {"failMessages": 1, "errors": ["no endpoint"]}
    # but pointing it at another missing endpoint is refused
    code, _, err = await kubectl(
        "patch", "rule", "my-rule", "--type=merge", "-p", '{"spec":{"target":"elsewhere"}}', check=False
    )
    assert code != 0 and 'RuleEndpoint "elsewhere" not found' in err
