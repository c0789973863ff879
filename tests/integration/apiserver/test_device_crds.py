"""The device CRDs at both versions against the embedded API server: KubeEdge's v1alpha2 counter example
applied unchanged with the real kubectl, read and patched at v1alpha2 and v1beta1, watched at v1alpha2,
bad desired values refused, and a status patch as the DeviceController makes it."""

import asyncio

import yaml
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch

from kedge.model.devices import V1ALPHA2_FIELDS

GROUP = "devices.kubeedge.io"
DEVICE_V1ALPHA2 = "devices.v1alpha2.devices.kubeedge.io"
MODEL_V1ALPHA2 = "devicemodels.v1alpha2.devices.kubeedge.io"

# From KubeEdge's docs, unchanged.
COUNTER = """apiVersion: devices.kubeedge.io/v1alpha2
kind: DeviceModel
metadata: {name: counter-model, namespace: default}
spec:
  properties:
  - name: status
    description: counter status
    type:
      string: {accessMode: ReadWrite, defaultValue: ''}
---
apiVersion: devices.kubeedge.io/v1alpha2
kind: Device
metadata: {name: counter, labels: {description: counter}}
spec:
  deviceModelRef: {name: counter-model}
  nodeSelector:
    nodeSelectorTerms:
    - matchExpressions:
      - {key: 'kubernetes.io/hostname', operator: In, values: [edge-node]}
status:
  twins:
  - propertyName: status
    desired: {metadata: {type: string}, value: 'OFF'}
    reported: {metadata: {type: string}, value: '0'}
"""

THERMOSTAT_MODEL = """apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermostat, namespace: default}
spec:
  properties:
  - {name: setpoint, type: INT, accessMode: ReadWrite, minimum: '0', maximum: '100'}
  - {name: temperature, type: INT, accessMode: ReadOnly}
"""


async def _api(embedded) -> aclient.ApiClient:
    cfg = aclient.Configuration()
    await aconfig.load_kube_config(config_file=str(embedded.kubeconfig), client_configuration=cfg)
    return aclient.ApiClient(configuration=cfg)


async def test_the_v1alpha2_counter_example_applies_unchanged_and_reads_at_both_versions(kubectl) -> None:
    _, out, _ = await kubectl("apply", "-f", "-", input=COUNTER)
    assert "devicemodel.devices.kubeedge.io/counter-model created" in out
    assert "device.devices.kubeedge.io/counter created" in out

    stored = await kubectl.get("device", "counter")  # v1beta1: the preferred version
    assert stored["apiVersion"] == "devices.kubeedge.io/v1beta1"
    assert stored["spec"]["nodeName"] == "edge-node"
    assert stored["spec"]["properties"][0]["name"] == "status"
    assert stored["spec"]["properties"][0]["desired"]["value"] == "OFF"
    assert stored["status"]["twins"][0]["reported"] == {"metadata": {"type": "string"}, "value": "0"}

    old = await kubectl.get(DEVICE_V1ALPHA2, "counter")
    assert old["apiVersion"] == "devices.kubeedge.io/v1alpha2"
    assert old["spec"] == yaml.safe_load(COUNTER.split("---")[1])["spec"]
    assert old["status"] == yaml.safe_load(COUNTER.split("---")[1])["status"]
    assert old["metadata"]["uid"] == stored["metadata"]["uid"]
    assert old["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]

    model = await kubectl.get("devicemodel", "counter-model")
    assert model["spec"]["properties"][0]["type"] == "STRING"
    assert V1ALPHA2_FIELDS in model["metadata"]["annotations"]  # defaultValue has no v1beta1 field
    old_model = await kubectl.get(MODEL_V1ALPHA2, "counter-model")
    assert old_model["spec"]["properties"][0]["type"] == {
        "string": {"accessMode": "ReadWrite", "defaultValue": ""}
    }
    assert V1ALPHA2_FIELDS not in old_model["metadata"].get("annotations", {})

    # applying the same manifest again changes nothing
    _, out, _ = await kubectl("apply", "-f", "-", input=COUNTER)
    assert "device.devices.kubeedge.io/counter unchanged" in out
    assert (await kubectl.get("device", "counter"))["metadata"]["resourceVersion"] == stored["metadata"][
        "resourceVersion"
    ]
    _, table, _ = await kubectl("get", DEVICE_V1ALPHA2)
    assert table.split("\n")[0].split() == ["NAME", "AGE"] and table.split("\n")[1].startswith("counter ")
    _, table, _ = await kubectl("get", "devices")
    assert table.split("\n")[1].split()[:3] == ["counter", "edge-node", "counter-model"]


async def test_desired_value_patched_at_either_version(kubectl) -> None:
    await kubectl("apply", "-f", "-", input=COUNTER)
    before = await kubectl.get("device", "counter")
    await kubectl(
        "patch",
        "device",
        "counter",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"ON"}]',
    )
    old = await kubectl.get(DEVICE_V1ALPHA2, "counter")
    assert old["status"]["twins"][0]["desired"]["value"] == "ON"
    assert old["status"]["twins"][0]["reported"]["value"] == "0"
    after = await kubectl.get("device", "counter")
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1

    await kubectl(
        "patch",
        "device",
        "counter",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"OFF"}]',
    )
    await kubectl(
        "patch",
        DEVICE_V1ALPHA2,
        "counter",
        "--type=merge",
        "-p",
        '{"status":{"twins":[{"propertyName":"status","desired":{"value":"ON","metadata":{"type":"string"}}}]}}',
    )
    stored = await kubectl.get("device", "counter")
    assert stored["spec"]["properties"][0]["desired"] == {"value": "ON", "metadata": {"type": "string"}}
    # a v1alpha2 twin holds desired and reported together: the merge patch replaced both, as in KubeEdge
    # (the edge's next report brings the reported value back)
    assert "twins" not in stored.get("status", {})
    assert stored["metadata"]["generation"] == after["metadata"]["generation"] + 2
    # nodeName edited in v1beta1 shows as the node selector in v1alpha2
    await kubectl("patch", "device", "counter", "--type=merge", "-p", '{"spec":{"nodeName":"edge-2"}}')
    old = await kubectl.get(DEVICE_V1ALPHA2, "counter")
    assert old["spec"]["nodeSelector"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["edge-2"]


async def test_a_watch_at_v1alpha2_sees_converted_objects(embedded, kubectl) -> None:
    await kubectl("apply", "-f", "-", input=COUNTER)
    async with await _api(embedded) as api:
        custom = aclient.CustomObjectsApi(api)
        listed = await custom.list_namespaced_custom_object(GROUP, "v1alpha2", "default", "devices")
        assert listed["apiVersion"] == "devices.kubeedge.io/v1alpha2"
        assert listed["items"][0]["status"]["twins"][0]["desired"]["value"] == "OFF"
        seen: list[dict] = []

        async def watch() -> None:
            w = awatch.Watch()
            async with w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                "v1alpha2",
                "default",
                "devices",
                resource_version=listed["metadata"]["resourceVersion"],
                timeout_seconds=10,
            ) as stream:
                async for event in stream:
                    seen.append(event)
                    w.stop()

        task = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        await kubectl(
            "patch",
            "device",
            "counter",
            "--type=json",
            "-p",
            '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"ON"}]',
        )
        await asyncio.wait_for(task, 10)
    assert [e["type"] for e in seen] == ["MODIFIED"]
    obj = seen[0]["object"]
    assert obj["apiVersion"] == "devices.kubeedge.io/v1alpha2"
    assert obj["spec"]["nodeSelector"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
        "edge-node"
    ]
    assert obj["status"]["twins"][0]["desired"]["value"] == "ON"


async def test_a_status_patch_of_reported_twins_shows_in_v1alpha2(embedded, kubectl) -> None:
    await kubectl("apply", "-f", "-", input=COUNTER)
    async with await _api(embedded) as api:
        custom = aclient.CustomObjectsApi(api)
        patched = await custom.patch_namespaced_custom_object_status(
            GROUP,
            "v1beta1",
            "default",
            "devices",
            "counter",
            {
                "status": {
                    "twins": [
                        {
                            "propertyName": "status",
                            "reported": {"value": "5", "metadata": {"timestamp": "1", "type": "string"}},
                        }
                    ]
                }
            },
            _content_type="application/merge-patch+json",
        )
        assert patched["status"]["twins"][0]["reported"]["value"] == "5"
        old = await custom.get_namespaced_custom_object(GROUP, "v1alpha2", "default", "devices", "counter")
    twin = old["status"]["twins"][0]
    assert twin["reported"] == {"value": "5", "metadata": {"timestamp": "1", "type": "string"}}
    assert twin["desired"]["value"] == "OFF"


async def test_invalid_desired_values_are_refused_naming_the_property(kubectl) -> None:
    await kubectl("apply", "-f", "-", input=THERMOSTAT_MODEL)
    bad_type = """apiVersion: devices.kubeedge.io/v1alpha2
kind: Device
metadata: {name: t1, namespace: default}
spec: {deviceModelRef: {name: thermostat}}
status:
  twins:
  - propertyName: setpoint
    desired: {value: abc}
"""
    code, _, err = await kubectl("apply", "-f", "-", input=bad_type, check=False)
    assert code != 0
    assert "status.twins[0].desired.value" in err and '"abc"' in err and '"setpoint"' in err
    assert "not an integer" in err

    unknown = """apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: t2, namespace: default}
spec:
  deviceModelRef: {name: thermostat}
  properties:
  - {name: humidity, desired: {value: '3'}}
"""
    code, _, err = await kubectl("apply", "-f", "-", input=unknown, check=False)
    assert code != 0
    assert "spec.properties[0].name: Invalid value" not in err  # our message, not a generic one
    assert 'property "humidity" is not defined by DeviceModel default/thermostat' in err

    good = unknown.replace("humidity", "setpoint")
    await kubectl("apply", "-f", "-", input=good)
    code, _, err = await kubectl(
        "patch",
        "device",
        "t2",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"101"}]',
        check=False,
    )
    assert code != 0 and "greater than the maximum 100" in err and '"setpoint"' in err
    code, _, err = await kubectl(
        "patch",
        "device",
        "t2",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/spec/properties/-","value":{"name":"temperature","desired":{"value":"20"}}}]',
        check=False,
    )
    assert code != 0 and '"temperature" is ReadOnly' in err
    assert (await kubectl.get("device", "t2"))["spec"]["properties"] == [
        {"name": "setpoint", "desired": {"value": "3"}}
    ]


async def test_a_device_may_come_before_its_model_and_is_checked_once_it_exists(kubectl) -> None:
    orphan = """apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: early, namespace: default}
spec:
  deviceModelRef: {name: thermostat}
  properties:
  - {name: setpoint, desired: {value: high}}
"""
    await kubectl("apply", "-f", "-", input=orphan)
    await kubectl("apply", "-f", "-", input=THERMOSTAT_MODEL)
    # unchanged properties are not re-checked (a label still goes in), a changed one is
    await kubectl("label", "device", "early", "room=1")
    code, _, err = await kubectl(
        "patch",
        "device",
        "early",
        "--type=merge",
        "-p",
        '{"spec":{"properties":[{"name":"setpoint","desired":{"value":"higher"}}]}}',
        check=False,
    )
    assert code != 0 and '"higher"' in err


async def test_a_v1alpha2_object_breaking_kubeedges_rules_is_refused(kubectl) -> None:
    two_protocols = """apiVersion: devices.kubeedge.io/v1alpha2
kind: Device
metadata: {name: twice, namespace: default}
spec:
  protocol: {modbus: {slaveID: 1}, opcua: {url: 'opc.tcp://x'}}
"""
    code, _, err = await kubectl("apply", "-f", "-", input=two_protocols, check=False)
    assert code != 0 and "spec.protocol" in err and "only one of" in err
    assert (await kubectl("get", "device", "twice", check=False))[0] != 0


async def test_a_crd_without_a_converter_changes_only_the_api_version(embedded, kubectl) -> None:
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
        }
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v1beta1", "served": True, "storage": False, "schema": schema},
            ],
        },
    }
    await kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))
    await kubectl("wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=20s")
    widget = "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: w1, namespace: default}\n"
    widget += "spec: {size: 3}\n"
    await kubectl("apply", "-f", "-", input=widget)
    stored = embedded.server.storage.get("widgets.example.com", "default", "w1")
    assert stored.obj["apiVersion"] == "example.com/v1"  # stored at the storage version
    for version in ("v1", "v1beta1"):
        obj = await kubectl.get("widgets.%s.example.com" % version, "w1")
        assert obj["apiVersion"] == "example.com/" + version and obj["spec"] == {"size": 3}
    async with await _api(embedded) as api:
        listed = await aclient.CustomObjectsApi(api).list_namespaced_custom_object(
            "example.com", "v1beta1", "default", "widgets"
        )
    assert [i["apiVersion"] for i in listed["items"]] == ["example.com/v1beta1"]
