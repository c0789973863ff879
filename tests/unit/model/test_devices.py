"""Device/DeviceModel conversion between v1alpha2 and v1beta1; desired values checked against the model."""

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.model.devices import (
    V1ALPHA2,
    V1ALPHA2_FIELDS,
    V1BETA1,
    V1BETA1_FIELDS,
    ConversionError,
    convert,
    device_problems,
    value_problem,
)

HOSTNAME_SELECTOR = {
    "nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["edge-node"]}]}
    ]
}

# KubeEdge's docs' counter example, as kubectl sends it (YAML to JSON).
COUNTER_MODEL = {
    "apiVersion": V1ALPHA2,
    "kind": "DeviceModel",
    "metadata": {"name": "counter-model", "namespace": "default"},
    "spec": {
        "properties": [
            {
                "name": "status",
                "description": "counter status",
                "type": {"string": {"accessMode": "ReadWrite", "defaultValue": ""}},
            }
        ]
    },
}
COUNTER = {
    "apiVersion": V1ALPHA2,
    "kind": "Device",
    "metadata": {"name": "counter", "labels": {"description": "counter"}},
    "spec": {"deviceModelRef": {"name": "counter-model"}, "nodeSelector": HOSTNAME_SELECTOR},
    "status": {
        "twins": [
            {
                "propertyName": "status",
                "desired": {"metadata": {"type": "string"}, "value": "OFF"},
                "reported": {"metadata": {"type": "string"}, "value": "0"},
            }
        ]
    },
}


def _annotation(obj: dict, key: str) -> dict:
    return json.loads(obj["metadata"]["annotations"][key])


# -- the counter example -------------------------------------------------------------------------


def test_counter_model_to_v1beta1_keeps_the_default_value_in_the_annotation() -> None:
    b = convert(COUNTER_MODEL, V1BETA1)
    assert b["apiVersion"] == V1BETA1 and b["kind"] == "DeviceModel"
    assert b["spec"] == {
        "properties": [
            {"name": "status", "description": "counter status", "type": "STRING", "accessMode": "ReadWrite"}
        ]
    }
    assert _annotation(b, V1ALPHA2_FIELDS) == {
        "fields": {"spec": {"properties": [{"name": "status", "type": {"string": {"defaultValue": ""}}}]}}
    }
    back = convert(b, V1ALPHA2)
    assert back == COUNTER_MODEL


def test_counter_device_to_v1beta1_and_back() -> None:
    b = convert(COUNTER, "v1beta1")
    assert b == {
        "apiVersion": V1BETA1,
        "kind": "Device",
        "metadata": {"name": "counter", "labels": {"description": "counter"}},
        "spec": {
            "deviceModelRef": {"name": "counter-model"},
            "nodeName": "edge-node",
            "properties": [{"name": "status", "desired": {"metadata": {"type": "string"}, "value": "OFF"}}],
        },
        "status": {
            "twins": [{"propertyName": "status", "reported": {"metadata": {"type": "string"}, "value": "0"}}]
        },
    }
    assert convert(b, "v1alpha2") == COUNTER


def test_a_reported_value_written_in_v1beta1_shows_in_the_v1alpha2_twin() -> None:
    b = convert(COUNTER, V1BETA1)
    b["status"]["twins"] = [
        {
            "propertyName": "status",
            "reported": {"value": "5", "metadata": {"timestamp": "1", "type": "string"}},
            "observedDesired": {"value": "OFF"},
        }
    ]
    b["status"]["state"] = "online"
    a = convert(b, V1ALPHA2)
    assert a["status"] == {
        "twins": [
            {
                "propertyName": "status",
                "desired": {"metadata": {"type": "string"}, "value": "OFF"},
                "reported": {"value": "5", "metadata": {"timestamp": "1", "type": "string"}},
            }
        ]
    }
    # what v1alpha2 cannot show waits in the annotation, and comes back
    assert _annotation(a, V1BETA1_FIELDS)["fields"]["status"]["state"] == "online"
    assert convert(a, V1BETA1) == b


# -- Modbus and other protocols -----------------------------------------------------------------------


MODBUS = {
    "apiVersion": V1ALPHA2,
    "kind": "Device",
    "metadata": {"name": "sensor", "namespace": "plant"},
    "spec": {
        "deviceModelRef": {"name": "thermometer"},
        "nodeSelector": HOSTNAME_SELECTOR,
        "protocol": {
            "modbus": {"slaveID": 1},
            "common": {"tcp": {"ip": "127.0.0.1", "port": 5502}, "collectType": "sync", "reconnTimeout": 5},
        },
        "propertyVisitors": [
            {
                "propertyName": "temperature",
                "collectCycle": 500000000,
                "reportCycle": 1000000000,
                "modbus": {
                    "register": "InputRegister",
                    "offset": 2,
                    "limit": 1,
                    "scale": 0.1,
                    "isSwap": False,
                },
            },
            {
                "propertyName": "setpoint",
                "modbus": {"register": "HoldingRegister", "offset": 0, "limit": 1},
                "customizedValues": {"unitId": 3},
            },
        ],
    },
    "status": {
        "twins": [
            {"propertyName": "temperature", "reported": {"value": "19.5"}},
            {"propertyName": "setpoint", "desired": {"value": "21", "metadata": {"type": "int"}}},
        ]
    },
}


def test_modbus_device_flattens_protocol_and_visitors_into_config_data() -> None:
    b = convert(MODBUS, V1BETA1)
    spec = b["spec"]
    assert spec["nodeName"] == "edge-node"
    assert spec["protocol"] == {
        "protocolName": "modbus",
        "configData": {
            "slaveID": 1,
            "ip": "127.0.0.1",
            "port": 5502,
            "collectType": "sync",
            "reconnTimeout": 5,
        },
    }
    assert spec["properties"] == [
        {
            "name": "temperature",
            "collectCycle": 500000000,
            "reportCycle": 1000000000,
            "visitors": {
                "protocolName": "modbus",
                "configData": {
                    "register": "InputRegister",
                    "offset": 2,
                    "limit": 1,
                    "scale": 0.1,
                    "isSwap": False,
                },
            },
        },
        {
            "name": "setpoint",
            "visitors": {
                "protocolName": "modbus",
                "configData": {
                    "register": "HoldingRegister",
                    "offset": 0,
                    "limit": 1,
                    "customizedValues": {"unitId": 3},
                },
            },
            "desired": {"value": "21", "metadata": {"type": "int"}},
        },
    ]
    assert b["status"] == {"twins": [{"propertyName": "temperature", "reported": {"value": "19.5"}}]}
    assert "annotations" not in b["metadata"]  # all of it has a v1beta1 place
    assert convert(b, V1ALPHA2) == MODBUS


def test_a_modbus_device_written_in_v1beta1_reads_as_v1alpha2() -> None:
    b = {
        "apiVersion": V1BETA1,
        "kind": "Device",
        "metadata": {"name": "m"},
        "spec": {
            "protocol": {
                "protocolName": "modbus",
                "configData": {"ip": "10.0.0.2", "port": 502, "slaveID": 7},
            },
            "properties": [
                {
                    "name": "coil",
                    "visitors": {
                        "protocolName": "modbus",
                        "configData": {"register": "CoilRegister", "offset": 1},
                    },
                    "reportToCloud": True,
                }
            ],
        },
    }
    a = convert(b, V1ALPHA2)
    assert a["spec"]["protocol"] == {
        "modbus": {"slaveID": 7},
        "common": {"tcp": {"ip": "10.0.0.2", "port": 502}},
    }
    assert a["spec"]["propertyVisitors"] == [
        {"propertyName": "coil", "modbus": {"register": "CoilRegister", "offset": 1}}
    ]
    assert _annotation(a, V1BETA1_FIELDS) == {
        "fields": {"spec": {"properties": [{"name": "coil", "reportToCloud": True}]}}
    }
    assert convert(a, V1BETA1) == b


def test_customized_protocol_passes_through_and_its_common_part_is_kept() -> None:
    a = {
        "apiVersion": V1ALPHA2,
        "kind": "Device",
        "metadata": {"name": "v"},
        "spec": {
            "protocol": {
                "customizedProtocol": {"protocolName": "virtualProtocol", "configData": {"seed": 1}},
                "common": {"tcp": {"ip": "1.2.3.4"}},
            },
            "propertyVisitors": [
                {
                    "propertyName": "count",
                    "customizedProtocol": {"protocolName": "virtualProtocol", "configData": {"step": 2}},
                    "customizedValues": {"x": 1},
                }
            ],
            "data": {"dataTopic": "t", "dataProperties": [{"propertyName": "count"}]},
        },
    }
    b = convert(a, V1BETA1)
    assert b["spec"]["protocol"] == {"protocolName": "virtualProtocol", "configData": {"seed": 1}}
    assert b["spec"]["properties"] == [
        {"name": "count", "visitors": {"protocolName": "virtualProtocol", "configData": {"step": 2}}}
    ]
    kept = _annotation(b, V1ALPHA2_FIELDS)["fields"]["spec"]
    assert kept["protocol"] == {"common": {"tcp": {"ip": "1.2.3.4"}}}
    assert kept["data"] == a["spec"]["data"]
    assert convert(b, V1ALPHA2) == a


def test_a_node_selector_of_another_shape_is_kept_and_an_edit_of_node_name_wins() -> None:
    selector = {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["a", "b"]}]}
        ]
    }
    a = {
        "apiVersion": V1ALPHA2,
        "kind": "Device",
        "metadata": {"name": "d"},
        "spec": {"nodeSelector": selector},
    }
    b = convert(a, V1BETA1)
    assert "nodeName" not in b.get("spec", {})
    assert convert(b, V1ALPHA2) == a
    b.setdefault("spec", {})["nodeName"] = "c"
    again = convert(b, V1ALPHA2)
    assert again["spec"]["nodeSelector"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["c"]
    assert "annotations" not in again["metadata"]


def test_an_edit_in_v1alpha2_of_a_v1beta1_device_keeps_what_v1alpha2_cannot_show() -> None:
    b = {
        "apiVersion": V1BETA1,
        "kind": "Device",
        "metadata": {"name": "d", "namespace": "default", "annotations": {"owner": "me"}},
        "spec": {
            "nodeName": "n1",
            "properties": [
                {"name": "x", "desired": {"value": "1"}},
                {
                    "name": "y",
                    "pushMethod": {"mqtt": {"topic": "t"}},
                    "visitors": {"protocolName": "p", "configData": {}},
                },
            ],
            "methods": [{"name": "m", "propertyNames": ["x"]}],
        },
        "status": {"twins": [{"propertyName": "y", "reported": {"value": "2"}}], "lastOnlineTime": "t"},
    }
    a = convert(b, V1ALPHA2)
    assert [t["propertyName"] for t in a["status"]["twins"]] == ["y", "x"]
    a["status"]["twins"][1]["desired"]["value"] = "9"  # as a merge patch at v1alpha2 would
    back = convert(a, V1BETA1)
    assert back["spec"]["properties"][0] == {"name": "x", "desired": {"value": "9"}}
    assert back["spec"]["properties"][1] == b["spec"]["properties"][1]
    assert back["spec"]["methods"] == b["spec"]["methods"]
    assert back["status"] == b["status"]
    assert back["metadata"]["annotations"] == {"owner": "me"}


def test_a_desired_value_removed_in_v1alpha2_is_gone_in_v1beta1() -> None:
    b = convert(COUNTER, V1BETA1)
    a = convert(b, V1ALPHA2)
    del a["status"]["twins"][0]["desired"]
    back = convert(a, V1BETA1)
    assert "properties" not in back["spec"]  # the property had no visitor: it was only a desired value
    assert back["status"] == b["status"]


def test_a_model_type_changed_in_v1beta1_drops_the_kept_default_value() -> None:
    b = convert(COUNTER_MODEL, V1BETA1)
    b["spec"]["properties"][0]["type"] = "INT"
    b["spec"]["properties"][0]["minimum"] = "0"
    a = convert(b, V1ALPHA2)
    assert a["spec"]["properties"][0]["type"] == {"int": {"accessMode": "ReadWrite", "minimum": 0}}


def test_model_bounds_are_numbers_in_v1alpha2_and_strings_in_v1beta1() -> None:
    a = {
        "apiVersion": V1ALPHA2,
        "kind": "DeviceModel",
        "metadata": {"name": "m"},
        "spec": {
            "protocol": "modbus",
            "properties": [
                {
                    "name": "t",
                    "type": {
                        "double": {"accessMode": "ReadOnly", "minimum": -40, "maximum": 85.5, "unit": "C"}
                    },
                },
                {"name": "n", "type": {"int": {"accessMode": "ReadWrite", "minimum": 0, "maximum": 100}}},
            ],
        },
    }
    b = convert(a, V1BETA1)
    assert b["spec"]["properties"] == [
        {
            "name": "t",
            "type": "DOUBLE",
            "accessMode": "ReadOnly",
            "minimum": "-40",
            "maximum": "85.5",
            "unit": "C",
        },
        {"name": "n", "type": "INT", "accessMode": "ReadWrite", "minimum": "0", "maximum": "100"},
    ]
    assert b["spec"]["protocol"] == "modbus" and "annotations" not in b["metadata"]
    assert convert(b, V1ALPHA2) == a
    # a bound v1alpha2 cannot hold as a number waits in the annotation
    b["spec"]["properties"][1]["maximum"] = "lots"
    a2 = convert(b, V1ALPHA2)
    assert a2["spec"]["properties"][1]["type"] == {"int": {"accessMode": "ReadWrite", "minimum": 0}}
    assert convert(a2, V1BETA1) == b


# -- errors and edges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field", "reason"),
    [
        (
            {"kind": "Device", "spec": {"protocol": {"modbus": {}, "opcua": {}}}},
            "spec.protocol",
            "FieldValueInvalid",
        ),
        (
            {"kind": "Device", "spec": {"propertyVisitors": [{"propertyName": "a"}, {"propertyName": "a"}]}},
            "spec.propertyVisitors[1].propertyName",
            "FieldValueDuplicate",
        ),
        (
            {
                "kind": "Device",
                "spec": {"propertyVisitors": [{"propertyName": "a", "modbus": {}, "bluetooth": {}}]},
            },
            "spec.propertyVisitors[0]",
            "FieldValueInvalid",
        ),
        (
            {"kind": "Device", "status": {"twins": [{"desired": {"value": "1"}}]}},
            "status.twins[0].propertyName",
            "FieldValueRequired",
        ),
        (
            {
                "kind": "DeviceModel",
                "spec": {"properties": [{"name": "p", "type": {"int": {}, "string": {}}}]},
            },
            "spec.properties[0].type",
            "FieldValueInvalid",
        ),
        (
            {"kind": "DeviceModel", "spec": {"properties": [{"type": {"int": {}}}]}},
            "spec.properties[0].name",
            "FieldValueRequired",
        ),
    ],
)
def test_v1alpha2_objects_breaking_kubeedges_rules_are_refused_with_the_field(
    obj: dict, field: str, reason: str
) -> None:
    with pytest.raises(ConversionError) as e:
        convert({"apiVersion": V1ALPHA2, "metadata": {"name": "x"}, **obj}, V1BETA1)
    assert e.value.field == field and e.value.reason == reason
    assert field in str(e.value)


def test_unknown_kinds_and_versions_are_refused() -> None:
    with pytest.raises(ConversionError, match="Pod"):
        convert({"apiVersion": V1ALPHA2, "kind": "Pod"}, V1BETA1)
    with pytest.raises(ConversionError, match="v2"):
        convert(COUNTER, "devices.kubeedge.io/v2")
    with pytest.raises(ConversionError, match="apps/v1"):
        convert({**COUNTER, "apiVersion": "apps/v1"}, V1BETA1)


def test_same_version_is_a_copy() -> None:
    out = convert(COUNTER, V1ALPHA2)
    assert out == COUNTER and out is not COUNTER
    out["status"]["twins"][0]["desired"]["value"] = "ON"
    assert COUNTER["status"]["twins"][0]["desired"]["value"] == "OFF"


def test_the_input_is_not_changed() -> None:
    before = copy.deepcopy(MODBUS)
    convert(convert(MODBUS, V1BETA1), V1ALPHA2)
    assert before == MODBUS


def test_a_garbled_annotation_is_dropped_not_fatal() -> None:
    b = convert(COUNTER_MODEL, V1BETA1)
    b["metadata"]["annotations"][V1ALPHA2_FIELDS] = "{not json"
    a = convert(b, V1ALPHA2)
    assert a["spec"]["properties"][0]["type"] == {"string": {"accessMode": "ReadWrite"}}
    assert "annotations" not in a["metadata"]


# -- round trips (hypothesis) ---------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
TEXT = st.text(alphabet="abcxyz-./019 ", max_size=8)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    TEXT,
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON_VALUE = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
FREE = st.dictionaries(TEXT, JSON_VALUE, max_size=3)
STRINGS = st.dictionaries(TEXT, TEXT, max_size=2)


def _some(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """Dicts with any subset of the given fields."""
    return st.fixed_dictionaries({}, optional=fields)


def _unique_named(key: str, item: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(NAMES, unique=True, max_size=4).flatmap(
        lambda names: st.tuples(*[item.map(lambda d, n=n: {key: n, **d}) for n in names]).map(list)
    )


META = st.fixed_dictionaries(
    {"name": st.just("obj")},
    optional={
        "namespace": st.just("default"),
        "labels": STRINGS,
        "annotations": st.dictionaries(
            st.sampled_from(["x", "kubectl.kubernetes.io/last-applied-configuration"]), TEXT, min_size=1
        ),
    },
)
VALUE = _some(value=TEXT, metadata=STRINGS)

# v1alpha2 Device
PROTOCOL_SECTIONS = {
    "modbus": _some(slaveID=st.integers(0, 255)),
    "opcua": _some(url=TEXT, userName=TEXT, timeout=st.integers(0, 60), securityMode=TEXT),
    "bluetooth": _some(macAddress=TEXT),
    "customizedProtocol": _some(protocolName=st.sampled_from(["virtualProtocol", "x", ""]), configData=FREE),
}
COMMON = _some(
    tcp=_some(ip=TEXT, port=st.integers(0, 65535)),
    com=_some(
        serialPort=TEXT, baudRate=st.sampled_from([9600, 115200]), parity=st.sampled_from(["none", "odd"])
    ),
    commType=TEXT,
    collectRetryTimes=st.integers(0, 9),
    customizedValues=FREE,
)
VISITOR_SECTIONS = {
    "modbus": _some(
        register=st.sampled_from(["CoilRegister", "HoldingRegister"]),
        offset=st.integers(0, 99),
        limit=st.integers(1, 4),
        scale=st.floats(0.1, 10),
        isSwap=st.booleans(),
    ),
    "opcua": _some(nodeID=TEXT, browseName=TEXT),
    "bluetooth": _some(
        characteristicUUID=TEXT, dataConverter=_some(startIndex=st.integers(0, 9), endIndex=st.integers(0, 9))
    ),
    "customizedProtocol": _some(protocolName=st.sampled_from(["virtualProtocol", "x"]), configData=FREE),
}


def _union(sections: dict, **extra: st.SearchStrategy) -> st.SearchStrategy:
    """At most one member of a union, plus optional fields beside it."""
    one = st.one_of(st.just({}), *[s.map(lambda v, m=m: {m: v}) for m, s in sections.items()])
    return st.tuples(one, _some(**extra)).map(lambda t: {**t[0], **t[1]})


SELECTOR = st.one_of(
    TEXT.filter(bool).map(
        lambda n: {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [n]}]}
            ]
        }
    ),
    st.just(
        {
            "nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}
            ]
        }
    ),
    st.just({"nodeSelectorTerms": []}),
)
DEVICE_V1ALPHA2 = st.fixed_dictionaries(
    {"apiVersion": st.just(V1ALPHA2), "kind": st.just("Device"), "metadata": META},
    optional={
        "spec": _some(
            deviceModelRef=_some(name=TEXT),
            nodeSelector=SELECTOR,
            protocol=_union(PROTOCOL_SECTIONS, common=COMMON),
            propertyVisitors=_unique_named(
                "propertyName",
                _union(
                    VISITOR_SECTIONS,
                    collectCycle=st.integers(0, 10**10),
                    reportCycle=st.integers(0, 10**10),
                    customizedValues=FREE,
                ),
            ),
            data=_some(dataTopic=TEXT, dataProperties=_unique_named("propertyName", _some(metadata=STRINGS))),
        ),
        "status": _some(twins=_unique_named("propertyName", _some(desired=VALUE, reported=VALUE))),
    },
)

# v1alpha2 DeviceModel
NUMBER = st.one_of(st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False))
TYPE_SECTIONS = {
    "int": _some(
        accessMode=st.sampled_from(["ReadWrite", "ReadOnly"]),
        defaultValue=st.integers(),
        minimum=st.integers(),
        maximum=st.integers(),
        unit=TEXT,
    ),
    "float": _some(
        accessMode=st.just("ReadOnly"), defaultValue=NUMBER, minimum=NUMBER, maximum=NUMBER, unit=TEXT
    ),
    "double": _some(defaultValue=NUMBER, minimum=NUMBER, maximum=NUMBER),
    "string": _some(accessMode=st.just("ReadWrite"), defaultValue=TEXT),
    "boolean": _some(accessMode=st.just("ReadWrite"), defaultValue=st.booleans()),
    "bytes": _some(accessMode=st.just("ReadOnly")),
}
MODEL_V1ALPHA2 = st.fixed_dictionaries(
    {"apiVersion": st.just(V1ALPHA2), "kind": st.just("DeviceModel"), "metadata": META},
    optional={
        "spec": _some(
            protocol=TEXT,
            properties=_unique_named("name", _some(description=TEXT, type=_union(TYPE_SECTIONS))),
        )
    },
)

# v1beta1, as written by v1beta1 clients (status twins carry a reported value, as v1beta1 requires)
VISITORS = _some(
    protocolName=st.sampled_from(["modbus", "opcua", "bluetooth", "virtualProtocol"]), configData=FREE
)
DEVICE_V1BETA1 = st.fixed_dictionaries(
    {"apiVersion": st.just(V1BETA1), "kind": st.just("Device"), "metadata": META},
    optional={
        "spec": _some(
            deviceModelRef=_some(name=TEXT),
            nodeName=TEXT,
            protocol=_some(
                protocolName=st.sampled_from(["modbus", "opcua", "bluetooth", "virtualProtocol"]),
                configData=st.one_of(
                    FREE, st.fixed_dictionaries({"ip": TEXT, "port": st.integers(), "slaveID": st.integers()})
                ),
            ),
            properties=_unique_named(
                "name",
                _some(
                    desired=VALUE,
                    visitors=VISITORS,
                    collectCycle=st.integers(0, 10**10),
                    reportToCloud=st.booleans(),
                    pushMethod=_some(mqtt=_some(topic=TEXT, qos=st.integers(0, 2))),
                ),
            ),
            methods=st.lists(_some(name=TEXT, propertyNames=st.lists(NAMES)), max_size=2),
            stateReport=_some(reportToCloud=st.booleans()),
        ),
        "status": _some(
            twins=_unique_named(
                "propertyName",
                st.fixed_dictionaries({"reported": VALUE}, optional={"observedDesired": VALUE}),
            ),
            state=st.sampled_from(["online", "offline"]),
            lastOnlineTime=TEXT,
            reportCycle=st.integers(0, 10),
        ),
    },
)
NUMBER_TEXT = st.one_of(
    TEXT, NUMBER.map(lambda v: repr(v) if isinstance(v, float) else str(v)), st.just("+5")
)
MODEL_V1BETA1 = st.fixed_dictionaries(
    {"apiVersion": st.just(V1BETA1), "kind": st.just("DeviceModel"), "metadata": META},
    optional={
        "spec": _some(
            protocol=TEXT,
            protocolConfigData=FREE,
            properties=_unique_named(
                "name",
                _some(
                    description=TEXT,
                    type=st.sampled_from(["INT", "FLOAT", "DOUBLE", "STRING", "BOOLEAN", "BYTES", "STREAM"]),
                    accessMode=st.sampled_from(["ReadWrite", "ReadOnly"]),
                    minimum=NUMBER_TEXT,
                    maximum=NUMBER_TEXT,
                    unit=TEXT,
                    visitors=VISITORS,
                ),
            ),
        )
    },
)


@given(st.one_of(DEVICE_V1ALPHA2, MODEL_V1ALPHA2))
def test_v1alpha2_to_v1beta1_and_back_gives_back_what_the_user_wrote(obj: dict) -> None:
    b = convert(obj, V1BETA1)
    assert b["apiVersion"] == V1BETA1
    assert convert(b, V1ALPHA2) == obj


@given(st.one_of(DEVICE_V1BETA1, MODEL_V1BETA1))
def test_v1beta1_to_v1alpha2_and_back_gives_back_what_was_stored(obj: dict) -> None:
    a = convert(obj, V1ALPHA2)
    assert a["apiVersion"] == V1ALPHA2
    assert convert(a, V1BETA1) == obj


@given(DEVICE_V1ALPHA2)
def test_desired_and_reported_values_land_where_v1beta1_keeps_them(obj: dict) -> None:
    b = convert(obj, V1BETA1)
    twins = (obj.get("status") or {}).get("twins") or []
    props = {p["name"]: p for p in (b.get("spec") or {}).get("properties") or []}
    status = {t["propertyName"]: t for t in (b.get("status") or {}).get("twins") or []}
    for twin in twins:
        name = twin["propertyName"]
        assert props.get(name, {}).get("desired") == twin.get("desired")
        assert status.get(name, {}).get("reported") == twin.get("reported")


# -- device_problems ---------------------------------------------------------------------------------

MODEL = {
    "apiVersion": V1BETA1,
    "kind": "DeviceModel",
    "metadata": {"name": "counter-model", "namespace": "default"},
    "spec": {
        "properties": [
            {"name": "status", "type": "STRING", "accessMode": "ReadWrite"},
            {"name": "count", "type": "INT", "accessMode": "ReadWrite", "minimum": "0", "maximum": "100"},
            {"name": "ratio", "type": "FLOAT", "accessMode": "ReadWrite", "minimum": "-0.5"},
            {"name": "level", "type": "DOUBLE", "accessMode": "ReadWrite", "maximum": "1e3"},
            {"name": "on", "type": "BOOLEAN", "accessMode": "ReadWrite"},
            {"name": "raw", "type": "BYTES", "accessMode": "ReadWrite"},
            {"name": "temperature", "type": "INT", "accessMode": "ReadOnly"},
            {"name": "loose", "type": "INT", "minimum": "", "maximum": "n/a"},
        ]
    },
}


def _device(*props: dict) -> dict:
    return {
        "apiVersion": V1BETA1,
        "kind": "Device",
        "metadata": {"name": "counter"},
        "spec": {"properties": list(props)},
    }


def _desired(name: str, value: str) -> dict:
    return {"name": name, "desired": {"value": value}}


def test_valid_desired_values_have_no_problems() -> None:
    device = _device(
        _desired("status", "ON"),
        _desired("count", "100"),
        _desired("ratio", "-0.5"),
        _desired("level", "999.9"),
        _desired("on", "false"),
        _desired("raw", "\x00anything"),
        {"name": "temperature"},  # read-only without a desired value is fine
        _desired("loose", "-7"),  # bounds that are not numbers are not checked
    )
    assert device_problems(device, MODEL) == []


def test_no_model_means_nothing_to_check() -> None:
    assert device_problems(_device(_desired("nope", "x")), None) == []


@pytest.mark.parametrize(
    ("prop", "field", "words"),
    [
        (
            {"name": "x"},
            "spec.properties[0].name",
            ['property "x" is not defined by DeviceModel default/counter-model'],
        ),
        (
            _desired("count", "abc"),
            "spec.properties[0].desired.value",
            ['"abc"', '"count"', "not an integer", "INT"],
        ),
        (_desired("count", " 5"), "spec.properties[0].desired.value", ["not an integer"]),
        (
            _desired("count", "101"),
            "spec.properties[0].desired.value",
            ['"count"', "greater than the maximum 100"],
        ),
        (_desired("count", "-1"), "spec.properties[0].desired.value", ["less than the minimum 0"]),
        (_desired("ratio", "nan"), "spec.properties[0].desired.value", ["not a finite number", "FLOAT"]),
        (_desired("ratio", "1e400"), "spec.properties[0].desired.value", ["not a finite number"]),
        (_desired("ratio", "-0.6"), "spec.properties[0].desired.value", ["less than the minimum -0.5"]),
        (_desired("level", "1001"), "spec.properties[0].desired.value", ["greater than the maximum 1e3"]),
        (_desired("on", "yes"), "spec.properties[0].desired.value", ["not true or false", "BOOLEAN"]),
        (_desired("temperature", "20"), "spec.properties[0].desired", ['"temperature" is ReadOnly']),
        (_desired("status", "x" * 513), "spec.properties[0].desired.value", ["longer than 512"]),
        ({"desired": {"value": "1"}}, "spec.properties[0].name", ["needs a name"]),
    ],
)
def test_problems_name_the_field_the_property_and_the_problem(
    prop: dict, field: str, words: list[str]
) -> None:
    problems = device_problems(_device(prop), MODEL)
    assert len(problems) == 1, problems
    assert problems[0][0] == field
    for word in words:
        assert word in problems[0][1]


def test_every_problem_is_reported_with_its_index() -> None:
    problems = device_problems(
        _device(
            _desired("status", "ok"), _desired("count", "x"), {"name": "ghost"}, _desired("status", "again")
        ),
        MODEL,
    )
    assert [p[0] for p in problems] == [
        "spec.properties[1].desired.value",
        "spec.properties[2].name",
        "spec.properties[3].name",
    ]
    assert "more than once" in problems[2][1]


def test_value_problem_for_string_and_untyped_properties() -> None:
    assert value_problem("anything at all", {"type": "STRING"}) is None
    assert value_problem("7", {}) is None
    assert value_problem(7, {"type": "INT"}) == "is not a string"
