"""Strategic merge patch (kedge.apiserver.patch.strategic_merge_patch) and its metadata (smp_meta)."""

import copy
from typing import Any

import pytest

from kedge.apiserver.errors import ApiError
from kedge.apiserver.patch import strategic_merge_patch
from kedge.apiserver.smp_meta import (
    OBJECT_META,
    field_meta,
    meta_for,
    meta_from_openapi_schema,
    require_strategic_meta,
)

DEPLOYMENT = meta_for("apps", "Deployment")
POD = meta_for("", "Pod")
NODE = meta_for("", "Node")


def patch_demo() -> dict[str, Any]:
    """The Deployment of the Kubernetes docs page "Update API Objects in Place Using kubectl patch"."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "patch-demo"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                    "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}],
                },
            },
        },
    }


def pod_spec(patch: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": patch}}}


def template_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def smp(original: dict[str, Any], patch: Any, meta: Any = DEPLOYMENT) -> dict[str, Any]:
    return strategic_merge_patch(original, patch, meta)


# -- the docs page ------------------------------------------------------------------------------------


def test_docs_containers_merge_by_name_and_the_new_one_comes_first() -> None:
    result = smp(patch_demo(), pod_spec({"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}))
    assert template_spec(result)["containers"] == [
        {"name": "patch-demo-ctr-2", "image": "redis"},
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]
    assert template_spec(result)["tolerations"] == template_spec(patch_demo())["tolerations"]
    assert result["spec"]["replicas"] == 2


def test_docs_tolerations_have_no_patch_strategy_so_they_are_replaced() -> None:
    patch = pod_spec({"tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]})
    result = smp(patch_demo(), patch)
    assert template_spec(result)["tolerations"] == [
        {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}
    ]
    assert template_spec(result)["containers"] == [{"name": "patch-demo-ctr", "image": "nginx"}]


def retainkeys_demo() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "retainkeys-demo"},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%"}}},
    }


def test_docs_without_retain_keys_the_strategy_merges() -> None:
    result = smp(retainkeys_demo(), {"spec": {"strategy": {"type": "Recreate"}}})
    assert result["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": {"maxSurge": "30%"}}


def test_docs_retain_keys_clears_the_other_fields() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(retainkeys_demo(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_refuses_a_patch_field_it_does_not_retain() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}}}}
    with pytest.raises(ApiError) as e:
        smp(retainkeys_demo(), patch)
    assert (e.value.code, e.value.reason, e.value.message) == (
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
    )


def test_retain_keys_must_be_a_list() -> None:
    with pytest.raises(ApiError) as e:
        smp(retainkeys_demo(), {"spec": {"strategy": {"$retainKeys": "type"}}})
    assert (e.value.code, e.value.message) == (400, "invalid patch format of retainKeys")


def test_volumes_retain_keys_switch_the_volume_source() -> None:
    # What kubectl apply sends when a volume changes from emptyDir to a configMap.
    live = {"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "other", "emptyDir": {}}]}}
    patch = {
        "spec": {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "other"}],
            "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "data"}],
        }
    }
    result = smp(live, patch, POD)
    assert result["spec"]["volumes"] == [
        {"name": "data", "configMap": {"name": "cm"}},
        {"name": "other", "emptyDir": {}},
    ]


# -- directives ---------------------------------------------------------------------------------------


def test_patch_replace_in_a_list_replaces_the_list() -> None:
    patch = pod_spec({"containers": [{"$patch": "replace"}, {"name": "only", "image": "busybox"}]})
    assert template_spec(smp(patch_demo(), patch))["containers"] == [{"name": "only", "image": "busybox"}]


def test_patch_replace_alone_empties_the_list() -> None:
    assert (
        template_spec(smp(patch_demo(), pod_spec({"containers": [{"$patch": "replace"}]})))["containers"]
        == []
    )


def test_patch_replace_in_a_map_replaces_the_map() -> None:
    obj = patch_demo()
    obj["metadata"]["labels"] = {"a": "1", "b": "2"}
    result = smp(obj, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})
    assert result["metadata"] == {"name": "patch-demo", "labels": {"c": "3"}}


def test_patch_delete_in_a_list_removes_every_element_with_the_key() -> None:
    obj = patch_demo()
    template_spec(obj)["containers"] += [
        {"name": "b", "image": "x"},
        {"name": "patch-demo-ctr", "image": "dup"},
    ]
    result = smp(obj, pod_spec({"containers": [{"name": "patch-demo-ctr", "$patch": "delete"}]}))
    assert template_spec(result)["containers"] == [{"name": "b", "image": "x"}]


def test_patch_delete_in_a_map_empties_it() -> None:
    result = smp(patch_demo(), {"spec": {"selector": {"$patch": "delete"}}})
    assert result["spec"]["selector"] == {}


def test_a_new_map_with_a_directive_is_dropped_as_kube_apiserver_does() -> None:
    result = smp(patch_demo(), {"metadata": {"annotations": {"$patch": "replace", "a": "b"}}})
    assert "annotations" not in result["metadata"]


def test_null_deletes_and_a_null_for_a_missing_key_is_ignored() -> None:
    result = smp(
        patch_demo(), {"spec": {"replicas": None, "paused": None, "selector": {"matchLabels": None}}}
    )
    assert "replicas" not in result["spec"] and "paused" not in result["spec"]
    assert result["spec"]["selector"] == {}


def test_nulls_and_directives_inside_new_content_are_dropped() -> None:
    patch = pod_spec(
        {
            "containers": [
                {
                    "name": "new",
                    "image": None,
                    "env": [{"name": "A", "value": "1", "valueFrom": None}],
                    "$setElementOrder/env": [{"name": "A"}],
                }
            ],
            "hostname": None,
        }
    )
    containers = template_spec(smp(patch_demo(), patch))["containers"]
    assert containers[0] == {"name": "new", "env": [{"name": "A", "value": "1"}]}


def test_delete_from_primitive_list_and_merge_of_a_set() -> None:
    pod = {"metadata": {"finalizers": ["a", "b", "c"]}}
    result = smp(
        pod, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"], "finalizers": ["d", "a"]}}, POD
    )
    assert result["metadata"]["finalizers"] == ["d", "a", "c"]


def test_merge_of_a_primitive_set_keeps_server_elements_after_their_live_predecessors() -> None:
    node = {"spec": {"podCIDRs": ["10.0.0.0/24", "10.0.1.0/24"]}}
    result = smp(node, {"spec": {"podCIDRs": ["10.0.2.0/24", "10.0.0.0/24"]}}, NODE)
    assert result["spec"]["podCIDRs"] == ["10.0.2.0/24", "10.0.0.0/24", "10.0.1.0/24"]


def test_delete_from_primitive_list_of_a_missing_list_adds_nothing() -> None:
    result = smp({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, POD)
    assert result == {"metadata": {}}


def test_delete_from_primitive_list_needs_a_field() -> None:
    with pytest.raises(ApiError) as e:
        smp({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}, POD)
    assert (e.value.code, e.value.message) == (400, "invalid patch format of primitive list")


def test_set_element_order_orders_the_merged_list() -> None:
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}}
    assert [c["name"] for c in smp(pod, patch, POD)["spec"]["containers"]] == ["c", "a", "b"]


def test_kubectl_apply_patch_adds_a_container_before_a_server_side_sidecar() -> None:
    live = {
        "spec": {"containers": [{"name": "app", "image": "v1"}, {"name": "istio-proxy", "image": "proxy"}]}
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "logger"}],
            "containers": [{"name": "app", "image": "v2"}, {"name": "logger", "image": "fluent"}],
        }
    }
    assert smp(live, patch, POD)["spec"]["containers"] == [
        {"name": "app", "image": "v2"},
        {"name": "logger", "image": "fluent"},
        {"name": "istio-proxy", "image": "proxy"},
    ]


def test_kubectl_apply_patch_replacing_a_container_keeps_kube_apiserver_order() -> None:
    # A deletion frees a slot of the live slice that the Go code then reads the new element from.
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "b"}, {"name": "d", "image": "d"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
            "containers": [{"name": "c"}, {"name": "a", "$patch": "delete"}],
        }
    }
    assert smp(live, patch, POD)["spec"]["containers"] == [
        {"name": "b", "image": "b"},
        {"name": "d", "image": "d"},
        {"name": "c"},
    ]


def test_set_element_order_must_agree_with_the_patch_list() -> None:
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}],
        }
    }
    with pytest.raises(ApiError) as e:
        smp(pod, patch, POD)
    assert (e.value.code, e.value.reason) == (500, "")
    assert e.value.message == (
        "The order in patch list:\n[map[image:x name:b] map[image:y name:a]]\n"
        " doesn't match $setElementOrder list:\n[map[name:a] map[name:b]]\n"
    )


def test_set_element_order_needs_a_field() -> None:
    with pytest.raises(ApiError) as e:
        smp({"spec": {}}, {"spec": {"$setElementOrderX": []}}, POD)
    assert (e.value.code, e.value.message) == (400, "invalid patch format of setElementOrder list")


def test_set_element_order_of_primitives() -> None:
    pod = {"metadata": {"finalizers": ["a", "b"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}}
    assert smp(pod, patch, POD)["metadata"]["finalizers"] == ["b", "c", "a"]


# -- nested merge keys and the metadata of the core types ---------------------------------------------


def test_env_and_ports_merge_inside_a_container() -> None:
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                }
            ]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
                    "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                    "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                }
            ]
        }
    }
    assert smp(pod, patch, POD)["spec"]["containers"] == [
        {
            "name": "app",
            "env": [{"name": "B", "value": "3"}],
            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}],
            "volumeMounts": [{"mountPath": "/data", "name": "data", "readOnly": True}],
        }
    ]


def test_node_status_conditions_and_addresses_merge_by_type() -> None:
    node = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady"},
                {"type": "MemoryPressure", "status": "False"},
            ],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "images": [{"names": ["a"]}],
        }
    }
    patch = {
        "status": {
            "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "Ready"}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [{"type": "Hostname", "address": "edge-1"}],
            "images": [{"names": ["b"]}],
        }
    }
    status = smp(node, patch, NODE)["status"]
    assert status["conditions"] == [
        {"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": "True", "reason": "KubeletReady"},
    ]
    assert status["addresses"] == [
        {"type": "Hostname", "address": "edge-1"},
        {"type": "InternalIP", "address": "10.0.0.1"},
    ]
    assert status["images"] == [{"names": ["b"]}]


def test_pod_status_conditions_merge_and_container_statuses_are_replaced() -> None:
    pod = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": False}, {"name": "b", "ready": False}],
        }
    }
    patch = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": True}],
        }
    }
    status = smp(pod, patch, POD)["status"]
    assert status["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]
    assert status["containerStatuses"] == [{"name": "a", "ready": True}]


def test_owner_references_merge_by_uid() -> None:
    pod = {"metadata": {"ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "kind": "Node", "name": "n"}]}}
    assert [o["uid"] for o in smp(pod, patch, POD)["metadata"]["ownerReferences"]] == ["2", "1"]


def test_fields_without_metadata_merge_maps_and_replace_lists() -> None:
    obj = {"spec": {"custom": {"a": 1, "list": [1, 2]}}}
    result = smp(obj, {"spec": {"custom": {"b": 2, "list": [3]}}}, POD)
    assert result == {"spec": {"custom": {"a": 1, "list": [3], "b": 2}}}


def test_without_metadata_every_list_is_replaced() -> None:
    assert smp({"l": [{"name": "a"}]}, {"l": [{"name": "b"}]}, None) == {"l": [{"name": "b"}]}


def test_a_value_of_another_shape_replaces() -> None:
    result = smp({"spec": {"replicas": 1, "x": {"a": 1}}}, {"spec": {"replicas": {"a": 1}, "x": [1]}})
    assert result == {"spec": {"replicas": {"a": 1}, "x": [1]}}


def test_null_patch_is_a_no_op() -> None:
    assert smp(patch_demo(), None) == patch_demo()


def test_inputs_are_untouched_and_the_result_shares_nothing() -> None:
    obj = patch_demo()
    patch = {
        "metadata": {"labels": {"x": "y"}},
        "spec": {
            "template": {"spec": {"containers": [{"name": "patch-demo-ctr", "image": "v2"}, {"name": "new"}]}}
        },
    }
    obj_before, patch_before = copy.deepcopy(obj), copy.deepcopy(patch)
    result = smp(obj, patch)
    assert obj == obj_before and patch == patch_before
    template_spec(result)["containers"][0]["image"] = "changed"
    template_spec(result)["containers"][1]["image"] = "changed"
    result["spec"]["selector"]["matchLabels"]["app"] = "changed"
    result["metadata"]["labels"]["x"] = "changed"
    assert obj == obj_before and patch == patch_before


# -- errors -------------------------------------------------------------------------------------------


def test_missing_merge_key_is_the_go_error() -> None:
    with pytest.raises(ApiError) as e:
        smp(patch_demo(), pod_spec({"containers": [{"image": "nginx:2"}]}))
    assert (e.value.code, e.value.reason) == (500, "")
    assert e.value.message == "map: map[image:nginx:2] does not contain declared merge key: name"


def test_patch_merge_in_a_list_is_not_supported() -> None:
    with pytest.raises(ApiError) as e:
        smp(patch_demo(), pod_spec({"containers": [{"name": "x", "$patch": "merge"}]}))
    assert (e.value.code, e.value.message) == (500, "merging lists cannot yet be specified in the patch")


@pytest.mark.parametrize("directive", ["merge", "frobnicate"])
def test_unknown_patch_directive_in_a_map(directive: str) -> None:
    with pytest.raises(ApiError) as e:
        smp(patch_demo(), {"spec": {"selector": {"$patch": directive, "a": "b"}}})
    assert (e.value.code, e.value.message) == (
        500,
        "unknown patch type: %s in map: map[$patch:%s a:b]" % (directive, directive),
    )


def test_lists_of_lists_are_422() -> None:
    with pytest.raises(ApiError) as e:
        smp({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, POD)
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert e.value.message.endswith(": lists of lists are not supported")


def test_mixed_element_types_are_the_go_error() -> None:
    with pytest.raises(ApiError) as e:
        smp({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": [{"b": 1.5}]}}, POD)
    assert e.value.message == "list element types are not identical: [[a] [map[b:1.5]]]"


@pytest.mark.parametrize(("patch", "kind"), [([1], "array"), ("x", "string"), (3, "number")])
def test_a_patch_that_is_not_an_object_is_400(patch: Any, kind: str) -> None:
    with pytest.raises(ApiError) as e:
        smp(patch_demo(), patch)
    assert (e.value.code, e.value.message) == (
        400,
        "json: cannot unmarshal %s into Go value of type map[string]interface {}" % kind,
    )


# -- metadata -----------------------------------------------------------------------------------------


def test_meta_of_pod_template_bearing_kinds() -> None:
    for group, kind, path in [
        ("", "Pod", "spec"),
        ("apps", "Deployment", "spec.template.spec"),
        ("apps", "DaemonSet", "spec.template.spec"),
        ("apps", "StatefulSet", "spec.template.spec"),
        ("apps", "ReplicaSet", "spec.template.spec"),
        ("batch", "Job", "spec.template.spec"),
        ("batch", "CronJob", "spec.jobTemplate.spec.template.spec"),
    ]:
        meta = meta_for(group, kind)
        assert meta is not None
        for lst in ("containers", "initContainers", "ephemeralContainers", "imagePullSecrets"):
            fm = field_meta(meta, "%s.%s" % (path, lst))
            assert (fm.strategy, fm.merge_key, fm.list_type, fm.list_keys) == (
                "merge",
                "name",
                "map",
                ("name",),
            )
        volumes = field_meta(meta, path + ".volumes")
        assert (volumes.strategy, volumes.retain_keys, volumes.merge_key) == ("merge", True, "name")
        assert field_meta(meta, path + ".tolerations").strategy == ""
        assert field_meta(meta, path + ".tolerations").list_type == "atomic"
        assert field_meta(meta, path + ".hostAliases").merge_key == "ip"
        assert field_meta(meta, path + ".topologySpreadConstraints").merge_key == "topologyKey"
        assert field_meta(meta, path + ".readinessGates").strategy == ""
        assert field_meta(meta, path + ".nodeSelector").atomic


def test_meta_of_containers() -> None:
    ports = field_meta(POD, "spec.containers.ports")
    assert (ports.merge_key, ports.list_keys, dict(ports.key_defaults)) == (
        "containerPort",
        ("containerPort", "protocol"),
        {"protocol": "TCP"},
    )
    assert field_meta(POD, "spec.containers.env").merge_key == "name"
    assert field_meta(POD, "spec.containers.volumeMounts").merge_key == "mountPath"
    assert field_meta(POD, "spec.containers.volumeDevices").merge_key == "devicePath"
    assert field_meta(POD, "spec.containers.envFrom").strategy == ""
    assert field_meta(POD, "spec.initContainers.env.valueFrom.secretKeyRef").atomic


def test_meta_of_status_and_metadata() -> None:
    assert field_meta(POD, "status.conditions").merge_key == "type"
    assert field_meta(POD, "status.containerStatuses").strategy == ""
    hostips = field_meta(POD, "status.hostIPs")
    assert (hostips.strategy, hostips.merge_key, hostips.list_type) == ("merge", "ip", "atomic")
    finalizers = field_meta(POD, "metadata.finalizers")
    assert (finalizers.strategy, finalizers.list_type) == ("merge", "set")
    owners = field_meta(POD, "metadata.ownerReferences")
    assert (owners.merge_key, owners.item.atomic) == ("uid", True)
    assert field_meta(NODE, "spec.taints").list_type == "atomic"
    assert field_meta(NODE, "spec.podCIDRs").strategy == "merge"
    assert field_meta(NODE, "status.addresses").merge_key == "type"
    assert field_meta(NODE, "status.images").strategy == ""
    service = meta_for("", "Service")
    assert service is not None
    assert field_meta(service, "spec.ports").list_keys == ("port", "protocol")
    assert field_meta(meta_for("", "Endpoints"), "subsets").strategy == ""  # type: ignore[arg-type]
    assert field_meta(DEPLOYMENT, "status.conditions").merge_key == "type"
    assert field_meta(DEPLOYMENT, "spec.selector").atomic
    assert field_meta(DEPLOYMENT, "spec.strategy").retain_keys
    namespace = meta_for("", "Namespace")
    assert namespace is not None and field_meta(namespace, "spec.finalizers").strategy == ""
    for kind in ("ConfigMap", "Secret", "ServiceAccount", "Event"):
        meta = meta_for("", kind)
        assert meta is not None and field_meta(meta, "metadata.finalizers").list_type == "set"
    assert meta_for("apiextensions.k8s.io", "CustomResourceDefinition") is not None
    assert meta_for("coordination.k8s.io", "Lease") is not None


def test_custom_resources_have_no_strategic_metadata() -> None:
    assert meta_for("devices.kubeedge.io", "Device") is None
    assert meta_for("", "Device") is None
    with pytest.raises(ApiError) as e:
        require_strategic_meta("devices.kubeedge.io", "Device")
    assert (e.value.code, e.value.reason) == (415, "UnsupportedMediaType")
    assert e.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    assert require_strategic_meta("", "Pod") is POD


def test_meta_from_a_crd_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "properties": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "kind"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "kind": {"type": "string", "default": "int"},
                                "tags": {
                                    "type": "array",
                                    "x-kubernetes-list-type": "set",
                                    "items": {"type": "string"},
                                },
                            },
                        },
                    },
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {}},
                    "plain": {"type": "array", "items": {"type": "string"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
        },
    }
    meta = meta_from_openapi_schema(schema, "Device")
    props = field_meta(meta, "spec.properties")
    assert (props.list_type, props.list_keys, dict(props.key_defaults)) == (
        "map",
        ("name", "kind"),
        {"kind": "int"},
    )
    assert field_meta(meta, "spec.properties.tags").list_type == "set"
    assert field_meta(meta, "spec.selector").atomic
    assert field_meta(meta, "spec.plain").list_type == "atomic"
    assert field_meta(meta, "spec.labels").atomic is False
    assert field_meta(meta, "metadata.finalizers").list_type == "set"
    assert field_meta(OBJECT_META, "metadata.ownerReferences").merge_key == "uid"
