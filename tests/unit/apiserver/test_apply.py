"""Server-side apply and managedFields (kedge.apiserver.apply)."""

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.apply import (
    LAST_APPLIED_ANNOTATION,
    FieldSet,
    decode_apply_body,
    path_string,
    record_update,
    server_side_apply,
)
from kedge.apiserver.errors import ApiError
from kedge.apiserver.smp_meta import FieldMeta, PatchMeta, meta_for

DEPLOYMENT = meta_for("apps", "Deployment")
POD = meta_for("", "Pod")
T0, T1, T2, T3 = (
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:01:00Z",
    "2024-05-01T10:02:00Z",
    "2024-05-01T10:03:00Z",
)


def nginx(replicas: int = 2, image: str = "nginx:1.14.2") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def apply(
    live: dict[str, Any] | None, config: dict[str, Any], manager: str = "kubectl", **kw: Any
) -> dict[str, Any]:
    kw.setdefault("force", False)
    kw.setdefault("meta", DEPLOYMENT)
    kw.setdefault("now", T0)
    return server_side_apply(live, config, manager=manager, **kw)


def update(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = T1, **kw: Any
) -> dict[str, Any]:
    kw.setdefault("meta", DEPLOYMENT)
    kw.setdefault("api_version", "apps/v1")
    return record_update(old, new, manager=manager, now=now, **kw)


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str) -> list[str]:
    return [path_string(p) for p in FieldSet.from_fields_v1(entries(obj)[manager]["fieldsV1"]).paths()]


def scaled(obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = replicas
    return new


NGINX_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"nginx"}': {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {
                            'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                        },
                    }
                }
            },
        },
    },
}


# -- apply --------------------------------------------------------------------------------------------


def test_apply_creates_the_object_with_an_apply_entry() -> None:
    obj = apply(None, nginx())
    assert obj["metadata"].pop("managedFields") == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": NGINX_FIELDS,
        }
    ]
    assert obj == nginx()


def test_fields_v1_keys_are_in_kube_order() -> None:
    # f: before k:, keys sorted, "." first: the JSON kube-apiserver stores byte for byte.
    obj = apply(None, nginx())
    text = json.dumps(obj["metadata"]["managedFields"][0]["fieldsV1"], separators=(",", ":"))
    assert text == (
        '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":'
        '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":'
        '{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":'
        '{".":{},"f:containerPort":{}}}}}}}}}'
    )


def test_reapplying_the_same_configuration_changes_nothing() -> None:
    obj = apply(None, nginx())
    again = apply(obj, nginx(), now=T1)
    assert again == obj  # the entry keeps its time: nothing changed


def test_apply_updates_fields_and_time() -> None:
    obj = apply(apply(None, nginx()), nginx(image="nginx:1.16"), now=T1)
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.16"
    assert entries(obj)["kubectl"]["time"] == T1


def test_apply_removes_what_it_no_longer_applies() -> None:
    config = nginx()
    config["metadata"]["labels"]["tier"] = "web"
    config["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    obj = apply(None, config)
    obj = apply(obj, nginx(), now=T1)
    assert obj["metadata"]["labels"] == {"app": "nginx"}
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert entries(obj)["kubectl"]["fieldsV1"] == NGINX_FIELDS


def test_apply_keeps_what_another_manager_also_owns() -> None:
    first = nginx()
    first["metadata"]["labels"]["shared"] = "yes"
    obj = apply(None, first, manager="a")
    second = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "labels": {"shared": "yes"}},
    }
    obj = apply(obj, second, manager="b", now=T1)
    obj = apply(obj, nginx(), manager="a", now=T2)
    assert obj["metadata"]["labels"] == {"app": "nginx", "shared": "yes"}
    assert owned(obj, "b") == [".metadata.labels.shared"]
    assert ".metadata.labels.shared" not in owned(obj, "a")


def test_apply_keeps_fields_nobody_owns() -> None:
    live = apply(None, nginx())
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"  # e.g. defaulted
    config = nginx()
    config["spec"]["template"]["spec"]["containers"][0]["ports"] = []
    obj = apply(live, config, now=T1)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    # An empty list owns nothing, so the ports applied before are pruned, as in Kubernetes.
    assert "ports" not in container


def test_conflict_with_an_update_manager() -> None:
    obj = update(apply(None, nginx()), scaled(apply(None, nginx()), 5), "kubectl-scale")
    assert owned(obj, "kubectl-scale") == [".spec.replicas"]
    assert ".spec.replicas" not in owned(obj, "kubectl")
    with pytest.raises(ApiError) as e:
        apply(obj, nginx(replicas=3), now=T2)
    assert (e.value.code, e.value.reason) == (409, "Conflict")
    assert (
        e.value.message
        == 'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert e.value.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-scale" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }


def test_force_moves_the_ownership() -> None:
    obj = apply(None, nginx())
    obj = update(obj, scaled(obj, 5), "kubectl-scale")
    obj = apply(obj, nginx(replicas=3), force=True, now=T2)
    assert obj["spec"]["replicas"] == 3
    assert set(entries(obj)) == {"kubectl"}
    assert entries(obj)["kubectl"]["fieldsV1"] == NGINX_FIELDS


def test_applying_the_live_value_shares_the_field() -> None:
    obj = apply(None, nginx())
    obj = update(obj, scaled(obj, 5), "kubectl-scale")
    obj = apply(obj, nginx(replicas=5), now=T2)
    assert ".spec.replicas" in owned(obj, "kubectl")
    assert owned(obj, "kubectl-scale") == [".spec.replicas"]
    # Dropping it from the configuration leaves it to the other owner.
    config = nginx()
    del config["spec"]["replicas"]
    obj = apply(obj, config, now=T3)
    assert obj["spec"]["replicas"] == 5


def test_conflicts_with_several_managers() -> None:
    obj = apply(None, nginx())
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "labels": {"app": "web"}},
        "spec": {"replicas": 7},
    }
    obj = apply(obj, other, manager="helm", force=True, now=T1)
    obj = update(obj, {**obj, "spec": {**obj["spec"], "paused": True}}, "kubectl-edit", now=T2)
    config = nginx()
    config["spec"]["paused"] = False
    with pytest.raises(ApiError) as e:
        apply(obj, config, now=T3)
    assert e.value.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "helm":\n- .metadata.labels.app\n- .spec.replicas\n'
        'conflicts with "kubectl-edit" using apps/v1:\n- .spec.paused'
    )
    assert [c["field"] for c in e.value.details["causes"]] == [
        ".metadata.labels.app",
        ".spec.replicas",
        ".spec.paused",
    ]


def test_a_null_in_the_configuration_removes_the_field_and_conflicts_like_a_value() -> None:
    obj = update(None, nginx(), "kubectl-create", now=T0)
    config = nginx()
    config["spec"]["replicas"] = None
    with pytest.raises(ApiError) as e:
        apply(obj, config, now=T1)
    assert e.value.message.endswith('conflict with "kubectl-create" using apps/v1: .spec.replicas')
    forced = apply(obj, config, force=True, now=T1)
    assert "replicas" not in forced["spec"]
    assert ".spec.replicas" in owned(forced, "kubectl")


def test_objects_nobody_applied_belong_to_before_first_apply() -> None:
    live = nginx()  # no managedFields: created before tracking, or tracking was reset
    with pytest.raises(ApiError) as e:
        apply(live, nginx(replicas=4), now=T1)
    assert e.value.message == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas'
    )
    obj = apply(live, nginx(), now=T1)
    assert set(entries(obj)) == {"before-first-apply", "kubectl"}
    assert entries(obj)["before-first-apply"]["operation"] == "Update"
    assert entries(obj)["before-first-apply"]["time"] == T1


def test_atomic_maps_are_replaced_and_owned_whole() -> None:
    live = apply(None, nginx())
    config = nginx()
    config["spec"]["selector"] = {"matchLabels": {"app": "nginx", "tier": "web"}}
    obj = apply(live, config, now=T1)
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "nginx", "tier": "web"}}
    config["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    obj = apply(obj, config, now=T2)
    assert obj["spec"]["selector"] == {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    assert ".spec.selector" in owned(obj, "kubectl")


def test_keyed_lists_merge_element_by_element_in_the_applied_order() -> None:
    obj = apply(None, nginx())
    with_sidecar = copy.deepcopy(obj)
    with_sidecar["spec"]["template"]["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})
    obj = update(obj, with_sidecar, "istio")
    assert owned(obj, "istio") == [
        '.spec.template.spec.containers[name="istio-proxy"]',
        '.spec.template.spec.containers[name="istio-proxy"].image',
        '.spec.template.spec.containers[name="istio-proxy"].name',
    ]
    config = nginx()
    config["spec"]["template"]["spec"]["containers"].insert(0, {"name": "init", "image": "busybox"})
    obj = apply(obj, config, now=T2)
    names = [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]
    assert names == ["init", "nginx", "istio-proxy"]


def test_set_lists_apply_update_apply() -> None:
    # structured-merge-diff's apply_update_apply_no_overlap, on finalizers (a set in ObjectMeta).
    def with_finalizers(*names: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": list(names)}}

    obj = apply(None, with_finalizers("a", "c"), manager="default", meta=POD)
    controller = copy.deepcopy(obj)
    controller["metadata"]["finalizers"] = ["a", "b", "c", "d"]
    obj = update(obj, controller, "controller", meta=POD, api_version="v1")
    obj = apply(obj, with_finalizers("a", "aprime", "c", "cprime"), manager="default", meta=POD, now=T2)
    assert obj["metadata"]["finalizers"] == ["a", "b", "aprime", "c", "d", "cprime"]
    assert owned(obj, "default") == [
        '.metadata.finalizers[="a"]',
        '.metadata.finalizers[="aprime"]',
        '.metadata.finalizers[="c"]',
        '.metadata.finalizers[="cprime"]',
    ]
    assert owned(obj, "controller") == ['.metadata.finalizers[="b"]', '.metadata.finalizers[="d"]']


def test_key_defaults_identify_list_elements() -> None:
    obj = apply(None, nginx())
    config = nginx()
    config["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"containerPort": 80, "protocol": "TCP", "name": "http"}
    ]
    obj = apply(obj, config, now=T1)
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"}
    ]


def test_status_is_reset_on_the_main_resource() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"},
    }
    obj = apply(None, pod, meta=POD, reset_fields=["status"])
    assert all(not p.startswith(".status") for p in owned(obj, "kubectl"))
    status = apply(
        obj,
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Failed"}},
        manager="kubelet",
        meta=POD,
        subresource="status",
        reset_fields=["spec"],
        now=T1,
    )
    assert entries(status)["kubelet"]["subresource"] == "status"
    assert owned(status, "kubelet") == [".status.phase"]
    with pytest.raises(ApiError) as e:
        apply(
            status,
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Unknown"}},
            manager="other",
            meta=POD,
            subresource="status",
            now=T2,
        )
    assert e.value.message.endswith('conflict with "kubelet" with subresource "status": .status.phase')


def test_custom_resources_know_only_object_meta() -> None:
    device = {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": "d", "finalizers": ["x"]},
        "spec": {"properties": [{"name": "temp"}]},
    }
    obj = apply(None, device, meta=None)
    assert entries(obj)["kubectl"]["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"x"': {}}},
        "f:spec": {"f:properties": {}},
    }


# structured-merge-diff's multiple appliers cases, on a custom kind with a list keyed by name.
WIDGET = PatchMeta(
    "Widget",
    {
        "spec": FieldMeta(
            type=PatchMeta("WidgetSpec", {"list": FieldMeta(list_type="map", list_keys=("name",))})
        )
    },
)


def widget(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"list": list(items)},
    }


def test_appliers_remove_only_their_own_elements() -> None:
    obj = apply(None, widget({"name": "a"}, {"name": "b"}, {"name": "c"}), manager="one", meta=WIDGET)
    obj = apply(obj, widget({"name": "c"}, {"name": "d"}), manager="two", meta=WIDGET, now=T1)
    obj = apply(obj, widget({"name": "a"}), manager="one", meta=WIDGET, now=T2)
    assert obj["spec"]["list"] == [{"name": "a"}, {"name": "c"}, {"name": "d"}]
    assert owned(obj, "one") == ['.spec.list[name="a"]', '.spec.list[name="a"].name']
    assert owned(obj, "two") == [
        '.spec.list[name="c"]',
        '.spec.list[name="d"]',
        '.spec.list[name="c"].name',
        '.spec.list[name="d"].name',
    ]


def test_appliers_share_equal_values_and_conflict_on_different_ones() -> None:
    obj = apply(None, widget({"name": "a", "value": 0}), manager="one", meta=WIDGET)
    shared = apply(obj, widget({"name": "a", "value": 0}), manager="two", meta=WIDGET, now=T1)
    assert owned(shared, "one") == owned(shared, "two")
    with pytest.raises(ApiError) as e:
        apply(obj, widget({"name": "a", "value": 1}), manager="two", meta=WIDGET, now=T1)
    assert e.value.message == 'Apply failed with 1 conflict: conflict with "one": .spec.list[name="a"].value'


# -- apply errors -------------------------------------------------------------------------------------


def test_managed_fields_in_the_configuration_are_refused() -> None:
    config = nginx()
    config["metadata"]["managedFields"] = []
    with pytest.raises(ApiError) as e:
        apply(None, config)
    assert (e.value.code, e.value.reason, e.value.message) == (
        400,
        "BadRequest",
        "metadata.managedFields must be nil",
    )
    config["metadata"]["managedFields"] = None
    assert apply(None, config)["spec"]["replicas"] == 2


def test_the_field_manager_is_required() -> None:
    with pytest.raises(ApiError) as e:
        apply(None, nginx(), manager="")
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert (
        e.value.message
        == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


@pytest.mark.parametrize(
    ("api_version", "kind", "message"),
    [
        ("apps/v2", "Deployment", "invalid object type: apps/v2, Kind=Deployment"),
        ("apps/v1", "ReplicaSet", "invalid object type: apps/v1, Kind=ReplicaSet"),
        ("v1", "Pod", "invalid object type: /v1, Kind=Pod"),
        (None, None, "invalid object type: /, Kind="),
    ],
)
def test_the_configuration_must_be_of_the_resource_type(api_version: Any, kind: Any, message: str) -> None:
    config = nginx()
    config["apiVersion"], config["kind"] = api_version, kind
    with pytest.raises(ApiError) as e:
        apply(None, config, api_version="apps/v1", kind="Deployment")
    assert (e.value.code, e.value.message) == (400, message)


def test_duplicate_keys_in_the_configuration_are_the_kube_error() -> None:
    config = nginx()
    config["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "other"})
    with pytest.raises(ApiError) as e:
        apply(None, config)
    assert (e.value.code, e.value.reason) == (500, "")
    assert e.value.message == (
        "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers: duplicate entries for key [name="nginx"]'
    )


def test_list_elements_without_their_key_are_the_kube_error() -> None:
    config = nginx()
    config["spec"]["template"]["spec"]["containers"][0]["env"] = [{"value": "x"}]
    with pytest.raises(ApiError) as e:
        apply(None, config)
    assert e.value.message == (
        "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="nginx"].env: element 0: associative list with keys has an '
        'element that omits all key fields ["name"] (and doesn\'t have default values for any key fields)'
    )


def test_unreadable_managed_fields_of_the_live_object_are_500() -> None:
    live = apply(None, nginx())
    live["metadata"]["managedFields"][0]["operation"] = "Patch"
    with pytest.raises(ApiError) as e:
        apply(live, nginx())
    assert (e.value.code, e.value.message) == (
        500,
        "failed to decode managed fields: operation must be `Apply` or `Update`",
    )


def test_apply_does_not_touch_its_inputs() -> None:
    live = update(apply(None, nginx()), scaled(apply(None, nginx()), 5), "kubectl-scale")
    config = nginx(replicas=9)
    live_before, config_before = copy.deepcopy(live), copy.deepcopy(config)
    result = apply(live, config, force=True, now=T2)
    assert live == live_before and config == config_before
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert live == live_before and config == config_before


# -- last-applied-configuration -----------------------------------------------------------------------


def client_side_applied(config: dict[str, Any]) -> dict[str, Any]:
    """What kubectl apply (client side) creates: the annotation and an Update entry."""
    annotated = copy.deepcopy(config)
    annotated["metadata"].setdefault("annotations", {})[LAST_APPLIED_ANNOTATION] = json.dumps(config) + "\n"
    return update(None, annotated, "kubectl-client-side-apply", now=T0)


def test_kubectl_takes_over_what_client_side_apply_set() -> None:
    obj = client_side_applied(nginx())
    result = apply(
        obj, nginx(replicas=3), now=T1
    )  # no conflict although kubectl-client-side-apply owns replicas
    assert result["spec"]["replicas"] == 3
    annotation = result["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    assert json.loads(annotation) == nginx(replicas=3)
    assert annotation.endswith("}\n") and '"apiVersion":"apps/v1"' in annotation


def test_kubectl_does_not_take_over_what_changed_since() -> None:
    obj = client_side_applied(nginx())
    obj = update(obj, scaled(obj, 6), "kubectl-client-side-apply", now=T1)
    with pytest.raises(ApiError) as e:
        apply(obj, nginx(replicas=3), now=T2)
    assert e.value.message.endswith('conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas')


def test_other_managers_do_not_take_over_client_side_apply_fields() -> None:
    with pytest.raises(ApiError):
        apply(client_side_applied(nginx()), nginx(replicas=3), manager="flux", now=T1)


# -- record_update ------------------------------------------------------------------------------------


def test_create_records_an_update_entry() -> None:
    obj = update(None, nginx(), "kubectl-create", now=T0)
    entry = entries(obj)["kubectl-create"]
    assert (entry["operation"], entry["apiVersion"], entry["time"]) == ("Update", "apps/v1", T0)
    # Maps and lists the write created are owned themselves (".").
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}'] == {
        ".": {},
        "f:image": {},
        "f:name": {},
        "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
    }
    assert "f:apiVersion" not in entry["fieldsV1"] and "f:kind" not in entry["fieldsV1"]


def test_update_moves_changed_fields_and_keeps_the_rest() -> None:
    obj = update(None, nginx(), "kubectl-create", now=T0)
    obj = update(obj, scaled(obj, 3), "kubectl-edit", now=T1)
    assert owned(obj, "kubectl-edit") == [".spec.replicas"]
    assert ".spec.replicas" not in owned(obj, "kubectl-create")
    obj = update(obj, scaled(obj, 4), "kubectl-edit", now=T2)
    assert entries(obj)["kubectl-edit"]["time"] == T2
    unchanged = update(obj, copy.deepcopy(obj), "kubectl-edit", now=T3)
    assert entries(unchanged)["kubectl-edit"]["time"] == T2


def test_update_removing_fields_takes_them_from_their_owners() -> None:
    obj = update(None, nginx(), "kubectl-create", now=T0)
    new = copy.deepcopy(obj)
    del new["metadata"]["labels"]
    obj = update(obj, new, "kubectl-edit", now=T1)
    assert all(not p.startswith(".metadata.labels") for p in owned(obj, "kubectl-create"))
    assert "kubectl-edit" not in entries(obj)  # it removed, it added nothing


def test_update_entries_are_per_api_version_and_subresource() -> None:
    obj = update(None, nginx(), "m", now=T0)
    obj = update(obj, scaled(obj, 3), "m", now=T1, api_version="apps/v1beta2")
    obj = update(obj, scaled(obj, 4), "m", now=T2, subresource="scale")
    got = [
        (e["manager"], e["apiVersion"], e.get("subresource", "")) for e in obj["metadata"]["managedFields"]
    ]
    assert got == [("m", "apps/v1", ""), ("m", "apps/v1", "scale")]  # v1beta2 lost its only field


def test_managed_fields_sent_with_an_update_replace_the_stored_ones() -> None:
    obj = update(None, nginx(), "kubectl-create", now=T0)
    edited = copy.deepcopy(obj)
    edited["metadata"]["managedFields"][0]["manager"] = "renamed"
    obj = update(obj, edited, "kubectl-edit", now=T1)
    assert set(entries(obj)) == {"renamed"}


def test_empty_managed_fields_reset_tracking() -> None:
    obj = update(None, nginx(), "kubectl-create", now=T0)
    obj["metadata"]["uid"] = "1234"
    for reset in ([], [{}]):
        cleared = copy.deepcopy(obj)
        cleared["metadata"]["managedFields"] = reset
        result = update(obj, cleared, "kubectl-edit", now=T1)
        assert "managedFields" not in result["metadata"]
        # An object nobody tracks stays untracked until an apply.
        assert "managedFields" not in update(result, scaled(result, 9), "kubectl-edit", now=T2)["metadata"]


def test_update_managers_are_capped() -> None:
    obj = update(
        None,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}},
        "create",
        now="2024-05-01T09:00:00Z",
        api_version="v1",
        meta=None,
    )
    for i in range(11):
        new = copy.deepcopy(obj)
        new["data"]["k%d" % i] = "v"
        obj = update(obj, new, "m%02d" % i, now="2024-05-01T10:%02d:00Z" % i, api_version="v1", meta=None)
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert managers[0] == "ancient-changes" and "create" not in managers and "m00" not in managers
    assert managers[1:] == ["m%02d" % i for i in range(2, 11)]
    assert owned(obj, "ancient-changes") == [".data", ".data.k0", ".data.k1"]
    assert entries(obj)["ancient-changes"]["time"] == "2024-05-01T10:01:00Z"


def test_record_update_does_not_touch_its_inputs() -> None:
    old = update(None, nginx(), "kubectl-create", now=T0)
    new = scaled(old, 3)
    old_before, new_before = copy.deepcopy(old), copy.deepcopy(new)
    result = update(old, new, "kubectl-edit", now=T1)
    assert old == old_before and new == new_before
    result["spec"]["template"]["spec"]["containers"][0]["image"] = "x"
    assert old == old_before and new == new_before


def test_an_unknown_manager_is_unknown() -> None:
    assert set(entries(update(None, nginx(), "", now=T0))) == {"unknown"}


# -- field sets ---------------------------------------------------------------------------------------


def test_field_set_encoding_round_trip_and_order() -> None:
    fields = {
        "f:a": {},
        "f:b": {".": {}, "f:c": {}},
        "f:list": {
            'k:{"name":"x","port":80}': {".": {}, "f:name": {}},
            'k:{"name":"x"}': {},
        },
        "f:set": {'v:"b"': {}, "v:1": {}, 'v:"a"': {}, "v:true": {}, "v:null": {}},
        "f:z": {"i:2": {}, "i:10": {}},
    }
    s = FieldSet.from_fields_v1(fields)
    encoded = s.to_fields_v1()
    assert list(encoded["f:set"]) == ["v:1", 'v:"a"', 'v:"b"', "v:true", "v:null"]
    assert list(encoded["f:list"]) == ['k:{"name":"x"}', 'k:{"name":"x","port":80}']
    assert list(encoded["f:z"]) == ["i:2", "i:10"]
    assert FieldSet.from_fields_v1(encoded) == s
    assert [path_string(p) for p in s.paths()] == [
        ".a",
        ".b",
        ".b.c",
        '.list[name="x"]',
        '.list[name="x",port=80]',
        '.list[name="x",port=80].name',
        ".set[=1]",
        '.set[="a"]',
        '.set[="b"]',
        ".set[=true]",
        ".set[=null]",
        ".z[2]",
        ".z[10]",
    ]


def test_field_set_skips_unknown_element_types_and_refuses_bad_json() -> None:
    assert FieldSet.from_fields_v1({"x:whatever": {}, "f:a": {}}).to_fields_v1() == {"f:a": {}}
    with pytest.raises(ValueError):
        FieldSet.from_fields_v1({"k:{not json": {}})


def test_field_set_operations() -> None:
    a = FieldSet.from_fields_v1({"f:x": {".": {}, "f:y": {}, "f:z": {}}, "f:w": {}})
    b = FieldSet.from_fields_v1({"f:x": {"f:y": {}}, "f:v": {}})
    assert a.union(b).to_fields_v1() == {"f:v": {}, "f:w": {}, "f:x": {".": {}, "f:y": {}, "f:z": {}}}
    assert a.intersection(b).to_fields_v1() == {"f:x": {"f:y": {}}}
    assert a.difference(b).to_fields_v1() == {"f:w": {}, "f:x": {".": {}, "f:z": {}}}
    assert a.without_subtrees(FieldSet.from_fields_v1({"f:x": {}})).to_fields_v1() == {"f:w": {}}
    assert b.with_named_fields_as_members().to_fields_v1() == {"f:v": {}, "f:x": {".": {}, "f:y": {}}}


ELEMENTS = st.one_of(
    st.sampled_from(["a", "b", "spec", "k:x", "."]).map(lambda n: "f:" + n),
    st.integers(0, 20).map(lambda i: "i:%d" % i),
    st.one_of(st.text(max_size=3), st.integers(-5, 5), st.booleans(), st.none()).map(
        lambda v: "v:" + json.dumps(v, separators=(",", ":"))
    ),
    st.dictionaries(
        st.sampled_from(["name", "port"]), st.one_of(st.text(max_size=3), st.integers(0, 99)), min_size=1
    ).map(lambda d: "k:" + json.dumps(d, separators=(",", ":"))),
)


def _fields_v1(paths: list[list[str]]) -> dict[str, Any]:
    """The FieldsV1 object holding `paths` (element strings)."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for element in path[:-1]:
            node = node.setdefault(element, {})
        node.setdefault(path[-1], {})["."] = {}
    return root


@given(st.lists(st.lists(ELEMENTS, min_size=1, max_size=4), max_size=8))
def test_field_set_encoding_round_trips(paths: list[list[str]]) -> None:
    s = FieldSet.from_fields_v1(_fields_v1(paths))
    encoded = s.to_fields_v1()
    assert FieldSet.from_fields_v1(json.loads(json.dumps(encoded))) == s
    assert FieldSet.from_fields_v1(encoded).to_fields_v1() == encoded
    listed = list(s.paths())
    assert len(listed) == len(set(listed)) == len({tuple(p) for p in map(tuple, paths)})
    assert all(s.has(p) for p in listed)


# -- the request body ---------------------------------------------------------------------------------


def test_decode_yaml_and_json_bodies() -> None:
    body = b"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  annotations:
    when: 2024-05-01T10:00:00Z
data:
  on: yes
  2: "two"
---
ignored: true
"""
    assert decode_apply_body(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"when": "2024-05-01T10:00:00Z"}},
        "data": {"true": True, "2": "two"},
    }
    assert decode_apply_body(b' {"kind": "Pod", "spec": {"x": 1.5}}') == {"kind": "Pod", "spec": {"x": 1.5}}
    assert decode_apply_body(b"") == {}
    assert decode_apply_body(b"null") == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"- a\n- b\n",
            "error decoding patch: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}",
        ),
        (
            b"just text",
            "error decoding patch: json: cannot unmarshal string into Go value of type "
            "map[string]interface {}",
        ),
        (b"a: .inf\n", "error encoding patch: json: unsupported value: +Inf"),
    ],
)
def test_decode_bad_bodies(body: bytes, message: str) -> None:
    with pytest.raises(ApiError) as e:
        decode_apply_body(body)
    assert (e.value.code, e.value.message) == (400, message)


def test_decode_broken_yaml() -> None:
    with pytest.raises(ApiError) as e:
        decode_apply_body(b"a: [1, 2\n")
    assert e.value.code == 400 and e.value.message.startswith("error encoding patch: ")


# -- properties ---------------------------------------------------------------------------------------


@st.composite
def pod_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Pod configurations over keyed lists (containers, env), a set (finalizers), a granular map (labels),
    an atomic map (nodeSelector) and an atomic list (tolerations); no nulls or empty lists, which apply
    does not store as sent."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4))
    containers = []
    for name in names:
        container: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            container["image"] = draw(st.sampled_from(["nginx", "redis"]))
        env = draw(st.lists(st.sampled_from(["X", "Y", "Z"]), unique=True, max_size=3))
        if env:
            container["env"] = [{"name": e, "value": draw(st.sampled_from(["1", "2"]))} for e in env]
        containers.append(container)
    spec: dict[str, Any] = {}
    if containers:
        spec["containers"] = containers
    if draw(st.booleans()):
        spec["nodeSelector"] = draw(
            st.dictionaries(st.sampled_from(["zone", "arch"]), st.sampled_from(["1", "2"]))
        )
    if draw(st.booleans()):
        spec["tolerations"] = [{"key": draw(st.sampled_from(["k1", "k2"])), "operator": "Exists"}]
    metadata: dict[str, Any] = {"name": "p"}
    labels = draw(st.dictionaries(st.sampled_from(["app", "tier", "env"]), st.sampled_from(["x", "y"])))
    if labels:
        metadata["labels"] = labels
    finalizers = draw(st.lists(st.sampled_from(["f1", "f2", "f3"]), unique=True, max_size=3))
    if finalizers:
        metadata["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].pop("managedFields", None)
    return out


@given(pod_configs(), pod_configs())
def test_a_lone_manager_ends_with_exactly_its_last_configuration(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    obj = apply(apply(None, first, meta=POD), second, meta=POD, now=T1)
    assert without_managed_fields(obj) == second
    fresh = apply(None, second, meta=POD)
    assert entries(obj)["kubectl"]["fieldsV1"] == entries(fresh)["kubectl"]["fieldsV1"]
    assert apply(obj, second, meta=POD, now=T2) == obj


@given(pod_configs(), pod_configs())
def test_an_update_owns_what_it_changed(first: dict[str, Any], second: dict[str, Any]) -> None:
    created = update(None, first, "creator", meta=POD, api_version="v1", now=T0)
    changed = copy.deepcopy(second)
    changed["metadata"]["managedFields"] = created["metadata"].get("managedFields")
    obj = update(created, changed, "editor", meta=POD, api_version="v1", now=T1)
    assert without_managed_fields(obj) == second
    managers = entries(obj)
    for name, entry in managers.items():
        assert entry["operation"] == "Update" and name in ("creator", "editor")
    # Every owned leaf exists, and nobody owns a field twice unless both wrote the same value.
    sets = {name: FieldSet.from_fields_v1(e["fieldsV1"]) for name, e in managers.items()}
    if len(sets) == 2:
        assert sets["creator"].intersection(sets["editor"]).empty()
