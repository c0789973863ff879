"""The REST verbs on a real store, without HTTP; time is a fake clock."""

import copy

import pytest

from kedge.apiserver.builtin import new_registry
from kedge.apiserver.errors import ApiError
from kedge.apiserver.request import Target
from kedge.apiserver.rest import Rest
from kedge.apiserver.storage import Storage

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rest(tmp_path):
    st = Storage(str(tmp_path / "db"))
    reg = new_registry()
    r = Rest(st, reg, clock=Clock())
    st.listener = r.observe
    r.create(Target(reg.get("", "v1", "namespaces")), {"metadata": {"name": "default"}}, {}, "test")
    yield r
    st.close()


def _t(
    rest: Rest, plural: str, ns: str = "", name: str = "", group: str = "", version: str = "v1", sub: str = ""
):
    return Target(rest.registry.get(group, version, plural), ns, name, sub)


def _pod(name: str, node: str = "") -> dict:
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def test_create_fills_metadata_and_defaults(rest: Rest) -> None:
    obj = rest.create(_t(rest, "pods", "default"), _pod("p1"), {}, "kubectl/v1.37").obj
    meta = obj["metadata"]
    assert (obj["apiVersion"], obj["kind"], meta["namespace"]) == ("v1", "Pod", "default")
    assert meta["uid"] and meta["creationTimestamp"] == "2027-01-15T08:00:00Z" and meta["generation"] == 1
    assert int(meta["resourceVersion"]) == rest.storage.revision
    assert (
        obj["spec"]["restartPolicy"] == "Always"
        and obj["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    )
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert [m["manager"] for m in meta["managedFields"]] == ["kubectl"]


def test_generate_name_dry_run_and_duplicates(rest: Rest) -> None:
    t = _t(rest, "configmaps", "default")
    made = rest.create(t, {"metadata": {"generateName": "cfg-"}}, {}, "x").obj
    assert made["metadata"]["name"].startswith("cfg-") and len(made["metadata"]["name"]) == 9
    rev = rest.storage.revision
    rest.create(t, {"metadata": {"name": "dry"}}, {"dryRun": "All"}, "x")
    assert rest.storage.revision == rev and rest.storage.get("configmaps", "default", "dry") is None
    rest.create(t, {"metadata": {"name": "once"}}, {}, "x")
    with pytest.raises(ApiError) as ei:
        rest.create(t, {"metadata": {"name": "once"}}, {}, "x")
    assert ei.value.code == 409 and ei.value.reason == "AlreadyExists"


def test_create_in_missing_or_terminating_namespace(rest: Rest) -> None:
    with pytest.raises(ApiError, match='namespaces "nope" not found'):
        rest.create(_t(rest, "configmaps", "nope"), {"metadata": {"name": "a"}}, {}, "x")
    rest.create(_t(rest, "namespaces"), {"metadata": {"name": "going"}}, {}, "x")
    rest.create(_t(rest, "configmaps", "going"), {"metadata": {"name": "a"}}, {}, "x")
    rest.delete(_t(rest, "namespaces", "", "going"), {}, {})
    assert rest.storage.get("namespaces", "", "going").obj["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as ei:
        rest.create(_t(rest, "configmaps", "going"), {"metadata": {"name": "b"}}, {}, "x")
    assert ei.value.code == 403 and "being terminated" in ei.value.message
    assert rest.delete_namespace_contents("going") == 0
    assert rest.storage.count("configmaps", "going") == 0


def test_update_conflicts_and_noop(rest: Rest) -> None:
    t = _t(rest, "configmaps", "default")
    first = rest.create(t, {"metadata": {"name": "c"}, "data": {"a": "1"}}, {}, "x").obj
    one = _t(rest, "configmaps", "default", "c")
    second = rest.update(one, {**first, "data": {"a": "2"}}, {}, "x").obj
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    with pytest.raises(ApiError) as ei:
        rest.update(one, {**first, "data": {"a": "3"}}, {}, "x")  # stale resourceVersion
    assert ei.value.code == 409 and "the object has been modified" in ei.value.message
    rev = rest.storage.revision
    same = rest.update(one, second, {}, "x").obj
    assert (
        rest.storage.revision == rev
        and same["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    )


def test_status_subresource_and_main_resource_own_their_parts(rest: Rest) -> None:
    rest.create(_t(rest, "nodes"), {"metadata": {"name": "n1"}}, {}, "x")
    node = _t(rest, "nodes", "", "n1")
    status = _t(rest, "nodes", "", "n1", sub="status")
    rest.patch(
        status,
        {"status": {"phase": "Running"}, "metadata": {"labels": {"ignored": "yes"}}},
        "application/merge-patch+json",
        {},
        "x",
    )
    obj = rest.get_stored(node).obj
    assert obj["status"] == {"phase": "Running"} and "labels" not in obj["metadata"]
    rest.patch(
        node,
        {"status": {"phase": "Gone"}, "metadata": {"labels": {"kept": "yes"}}},
        "application/merge-patch+json",
        {},
        "x",
    )
    obj = rest.get_stored(node).obj
    assert obj["status"] == {"phase": "Running"} and obj["metadata"]["labels"] == {"kept": "yes"}


def test_graceful_delete_of_a_bound_pod_waits_for_the_node(rest: Rest) -> None:
    rest.create(_t(rest, "pods", "default"), _pod("bound", node="edge-1"), {}, "x")
    one = _t(rest, "pods", "default", "bound")
    marked = rest.delete(one, {}, {}).obj
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"] == "2027-01-15T08:00:30Z"
    assert rest.storage.get("pods", "default", "bound") is not None
    rest.delete(one, {"gracePeriodSeconds": 0}, {})
    assert rest.storage.get("pods", "default", "bound") is None
    # an unbound pod goes at once
    rest.create(_t(rest, "pods", "default"), _pod("free"), {}, "x")
    rest.delete(_t(rest, "pods", "default", "free"), {}, {})
    assert rest.storage.get("pods", "default", "free") is None


def test_finalizers_hold_deletion_until_removed(rest: Rest) -> None:
    t = _t(rest, "configmaps", "default")
    rest.create(t, {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}}, {}, "x")
    one = _t(rest, "configmaps", "default", "held")
    assert rest.delete(one, {}, {}).obj["metadata"]["deletionTimestamp"]
    assert rest.storage.get("configmaps", "default", "held") is not None
    rest.patch(
        one, [{"op": "remove", "path": "/metadata/finalizers"}], "application/json-patch+json", {}, "x"
    )
    assert rest.storage.get("configmaps", "default", "held") is None


def test_delete_preconditions(rest: Rest) -> None:
    rest.create(_t(rest, "configmaps", "default"), {"metadata": {"name": "pre"}}, {}, "x")
    one = _t(rest, "configmaps", "default", "pre")
    with pytest.raises(ApiError) as ei:
        rest.delete(one, {"preconditions": {"uid": "not-it"}}, {})
    assert ei.value.code == 409 and "the UID in the precondition (not-it)" in ei.value.message
    rest.delete(
        one,
        {"preconditions": {"resourceVersion": rest.get_stored(one).obj["metadata"]["resourceVersion"]}},
        {},
    )


def test_owner_deletion_collects_dependents_unless_orphaned(rest: Rest) -> None:
    owner = rest.create(_t(rest, "configmaps", "default"), {"metadata": {"name": "owner"}}, {}, "x").obj
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    rest.create(
        _t(rest, "secrets", "default"), {"metadata": {"name": "dep", "ownerReferences": [ref]}}, {}, "x"
    )
    rest.delete(_t(rest, "configmaps", "default", "owner"), {}, {})
    assert rest.storage.get("secrets", "default", "dep") is None


def test_bind_and_double_bind(rest: Rest) -> None:
    rest.create(_t(rest, "pods", "default"), _pod("b"), {}, "x")
    rest.bind("default", "b", "edge-1")
    pod = rest.get_stored(_t(rest, "pods", "default", "b")).obj
    assert pod["spec"]["nodeName"] == "edge-1"
    assert [c["type"] for c in pod["status"]["conditions"]] == ["PodScheduled"]
    with pytest.raises(ApiError, match='already assigned to node "edge-1"'):
        rest.bind("default", "b", "edge-2")


def test_strict_field_validation_on_custom_resources(rest: Rest) -> None:
    from kedge.apiserver.server import crd_manifests

    for crd in crd_manifests():
        rest.registry.add_crd(crd)
    t = _t(rest, "devicemodels", "default", group="devices.kubeedge.io", version="v1beta1")
    body = {"metadata": {"name": "m"}, "spec": {"protocol": "p", "bogus": 1}}
    with pytest.raises(ApiError) as ei:
        rest.create(t, copy.deepcopy(body), {"fieldValidation": "Strict"}, "x")
    assert ei.value.code == 400 and 'unknown field "spec.bogus"' in ei.value.message
    result = rest.create(t, copy.deepcopy(body), {"fieldValidation": "Warn"}, "x")
    assert result.warnings == ('unknown field "spec.bogus"',) and "bogus" not in result.obj["spec"]


def test_a_crd_clashing_with_a_served_resource_is_refused_before_it_is_stored(rest: Rest) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "pods.core.example.com"},
        "spec": {
            "group": "core.example.com",
            "scope": "Namespaced",
            "names": {"plural": "pods", "singular": "pod", "kind": "Pod"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    t = _t(rest, "customresourcedefinitions", group="apiextensions.k8s.io")
    rest.create(t, copy.deepcopy(crd), {}, "x")  # its own group: no clash with core pods
    rest.registry.add_crd(
        rest.get_stored(
            _t(rest, "customresourcedefinitions", "", crd["metadata"]["name"], "apiextensions.k8s.io")
        ).obj
    )
    clash = copy.deepcopy(crd)
    clash["metadata"]["name"] = "widgets.core.example.com"
    clash["spec"]["names"] = {"plural": "widgets", "singular": "widget", "kind": "Pod"}
    with pytest.raises(ApiError) as ei:
        rest.create(t, clash, {}, "x")
    assert ei.value.code == 422 and "already served by" in ei.value.message
    assert (
        rest.storage.get("customresourcedefinitions.apiextensions.k8s.io", "", "widgets.core.example.com")
        is None
    )
