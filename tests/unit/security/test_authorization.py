"""kedge.security.authorization: connection identity and what a node may say about whom."""

from __future__ import annotations

import pytest

from kedge.model import constants as c
from kedge.security import authorization
from kedge.security.authorization import check_identity

NODE = "edge-1"
#: What the cloud sent edge-1 (wire-form resources), as CloudHub's NodeState.knows sees it.
SENT = {
    "default/pod/web",
    "kube-system/pod/proxy",
    "default/configmap/web-cfg",
    "default/secret/web-pass",
    "default/serviceaccounttoken/web-sa",
    "default/persistentvolumeclaim/data",
    "default/device/thermo",
    "default/devicemodel/thermo-model",
    "default/service/web",
    "default/endpoints/web",
}


def allow(resource: str, operation: str = c.UPDATE, group: str = c.GROUP_RESOURCE) -> str | None:
    return authorization.authorize(NODE, operation, group, resource, SENT.__contains__)


# -- identity ----------------------------------------------------------------------------------------


def test_identity_of_the_named_node_is_accepted() -> None:
    assert check_identity("system:node:edge-1", "edge-1") is None


@pytest.mark.parametrize(
    "cn",
    [
        "system:node:edge-2",  # another node's certificate
        "edge-1",  # no prefix
        "System:Node:edge-1",  # prefixes are case-sensitive, as Kubernetes'
        "system:node:edge-1x",  # a longer name is another name
        "system:node:edge-",
        "",  # no client certificate CN at all
        "system:admin",
    ],
)
def test_identity_mismatch_names_both_sides(cn: str) -> None:
    reason = check_identity(cn, "edge-1")
    assert reason is not None
    assert repr(cn) in reason and "'edge-1'" in reason and "'system:node:edge-1'" in reason


def test_a_connection_that_names_no_node_is_refused() -> None:
    reason = check_identity("system:node:", "")
    assert reason == "the connection names no node (header node_id)"


# -- protocol traffic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["node", "", "anything/at/all"])
def test_keepalive_is_always_allowed(resource: str) -> None:
    assert allow(resource, operation=c.KEEPALIVE) is None


@pytest.mark.parametrize("resource", ["rule/r1", "", "default/pod/not-mine"])
def test_user_group_uploads_go_to_the_router_unchecked(resource: str) -> None:
    assert allow(resource, operation=c.UPLOAD, group=c.GROUP_USER) is None


def test_message_without_a_resource_is_denied() -> None:
    assert allow("") == "message has no resource"


# -- node-scoped types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    ["null/node/edge-1", "null/nodestatus/edge-1", "null/nodepatch/edge-1", "kube-node-lease/lease/edge-1"],
)
def test_a_node_may_speak_about_itself(resource: str) -> None:
    assert allow(resource) is None


@pytest.mark.parametrize(
    ("resource", "rtype", "name"),
    [
        ("null/node/edge-2", c.NODE, "'edge-2'"),
        ("null/nodestatus/edge-2", c.NODESTATUS, "'edge-2'"),
        ("null/nodepatch/edge-10", c.NODEPATCH, "'edge-10'"),
        ("kube-node-lease/lease/edge-2", c.LEASE, "'edge-2'"),
        ("null/nodestatus", c.NODESTATUS, "'<all>'"),  # no name: a claim over every node
    ],
)
def test_a_node_may_not_speak_about_another_node(resource: str, rtype: str, name: str) -> None:
    assert allow(resource) == "node edge-1 may not send %s about %s" % (rtype, name)


# -- pods --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    ["default/pod/web", "default/podstatus/web", "default/podpatch/web", "kube-system/podpatch/proxy"],
)
def test_pods_the_node_runs(resource: str) -> None:
    assert allow(resource) is None


@pytest.mark.parametrize(
    ("resource", "what"),
    [
        ("default/podpatch/db", "default/db"),  # another node's pod
        ("default/podstatus/db", "default/db"),
        ("default/pod/db", "default/db"),
        ("kube-system/podpatch/web", "kube-system/web"),  # right name, wrong namespace
        ("default/podstatus", "default/"),  # no pod named
    ],
)
def test_pods_the_node_does_not_run(resource: str, what: str) -> None:
    assert allow(resource) == "pod %s is not bound to node edge-1" % what


# -- devices and membership --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "device/default/thermo/twin/edge_updated",
        "device/default/thermo/state/update",
        "device/default/thermo",
    ],
)
def test_device_messages_for_bound_devices(resource: str) -> None:
    assert allow(resource) is None


@pytest.mark.parametrize(
    ("resource", "what"),
    [
        ("device/default/fan/twin/edge_updated", "default/fan"),
        ("device/other/thermo/twin/edge_updated", "other/thermo"),
    ],
)
def test_device_messages_for_unbound_devices(resource: str, what: str) -> None:
    assert allow(resource) == "device %s is not bound to node edge-1" % what


def test_short_device_resources_are_not_device_messages() -> None:
    # `device/<x>` is read as namespace "device", type <x> (a namespace may be named "device")
    assert allow("device/default") == "node edge-1 may not send default messages"
    assert allow("device") == "resource 'device' is not <namespace>/<type>[/<name>]"


@pytest.mark.parametrize("resource", ["membership", "membership/detail"])
def test_membership_queries_are_allowed(resource: str) -> None:
    assert allow(resource, operation=c.GET, group=c.GROUP_TWIN) is None


# -- objects referenced by the node's pods -----------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "default/configmap/web-cfg",
        "default/secret/web-pass",
        "default/serviceaccounttoken/web-sa",
        "default/persistentvolumeclaim/data",
        "default/devicemodel/thermo-model",
        "default/device/thermo",
        "default/service/web",
        "default/endpoints/web",
        "default/configmap/web-cfg/extra",  # extra segments: judged by <ns>/<type>/<name>
    ],
)
def test_objects_the_cloud_sent(resource: str) -> None:
    assert allow(resource, operation=c.QUERY) is None


@pytest.mark.parametrize(
    ("resource", "rtype", "what"),
    [
        ("default/configmap/other-cfg", c.CONFIGMAP, "default/other-cfg"),
        ("default/secret/db-pass", c.SECRET, "default/db-pass"),
        ("kube-system/configmap/web-cfg", c.CONFIGMAP, "kube-system/web-cfg"),
        ("default/secret", c.SECRET, "default/"),  # a list of every secret
        ("default/persistentvolume/pv1", "persistentvolume", "default/pv1"),
        ("default/volumeattachment/va", "volumeattachment", "default/va"),
    ],
)
def test_objects_the_cloud_did_not_send(resource: str, rtype: str, what: str) -> None:
    assert allow(resource, operation=c.QUERY) == "%s %s was not sent to node edge-1" % (rtype, what)


# -- always allowed, unknown, malformed --------------------------------------------------------------


@pytest.mark.parametrize(
    "resource", ["default/event/web.1234", "default/podlist", "null/certificatesigningrequest/csr-1"]
)
def test_types_a_node_may_always_send(resource: str) -> None:
    assert allow(resource, operation=c.INSERT) is None


@pytest.mark.parametrize(
    ("resource", "rtype"),
    [
        ("default/deployment/web", "deployment"),
        ("null/clusterrole/admin", "clusterrole"),
        ("x/rule/r", c.RULE),
    ],
)
def test_unknown_types_are_denied(resource: str, rtype: str) -> None:
    assert allow(resource) == "node edge-1 may not send %s messages" % rtype


@pytest.mark.parametrize("resource", ["justone", "default//web", "/"])
def test_malformed_resources_are_denied(resource: str) -> None:
    assert allow(resource) == "resource %r is not <namespace>/<type>[/<name>]" % resource


def test_knows_is_asked_with_the_wire_form_of_the_pod() -> None:
    asked: list[str] = []

    def knows(resource: str) -> bool:
        asked.append(resource)
        return False

    authorization.authorize(NODE, c.UPDATE, c.GROUP_RESOURCE, "default/podpatch/web", knows)
    authorization.authorize(NODE, c.UPDATE, c.GROUP_RESOURCE, "device/ns1/d1/twin/edge_updated", knows)
    assert asked == ["default/pod/web", "ns1/device/d1"]


# -- mirror pods of static pods ----------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["default/pod/etcd-edge-1", "kube-system/pod/proxy-x-edge-1"])
def test_a_node_may_create_mirror_pods_named_after_itself(resource: str) -> None:
    assert allow(resource, operation=c.INSERT) is None


@pytest.mark.parametrize(
    ("resource", "operation", "what"),
    [
        ("default/pod/etcd-edge-2", c.INSERT, "default/etcd-edge-2"),  # another node's name
        ("default/pod/etcd-edge-10", c.INSERT, "default/etcd-edge-10"),  # a longer node name
        ("default/pod/-edge-1", c.INSERT, "default/-edge-1"),  # no static pod name before the suffix
        ("default/pod/edge-1", c.INSERT, "default/edge-1"),
        ("default/pod/etcdedge-1", c.INSERT, "default/etcdedge-1"),  # no dash before the node name
        ("default/pod/etcd-edge-1", c.UPDATE, "default/etcd-edge-1"),  # only creation is special
        ("default/pod/etcd-edge-1", c.DELETE, "default/etcd-edge-1"),
        ("default/podpatch/etcd-edge-1", c.INSERT, "default/etcd-edge-1"),  # only the pod itself
    ],
)
def test_mirror_pod_names_are_exact(resource: str, operation: str, what: str) -> None:
    assert allow(resource, operation=operation) == "pod %s is not bound to node edge-1" % what
