"""Device and DeviceModel (devices.kubeedge.io) in the two API versions kedge serves, and the checks of a
device's desired values against its model. Pure: no I/O.

v1beta1 is what kedge stores and sends to edges; v1alpha2 is KubeEdge's older API (v1.8-v1.14), served so
that its manifests apply unchanged. `convert` maps one to the other:

- DeviceModel `properties[].type.<int|float|double|string|boolean|bytes>{accessMode, minimum, maximum,
  unit}` <-> `properties[]{type: INT|..., accessMode, minimum, maximum (as strings), unit}`.
- Device `nodeSelector` (one term `kubernetes.io/hostname In [<node>]`) <-> `nodeName`;
  `protocol.<modbus|opcua|bluetooth>` and `protocol.common` <-> `protocol{protocolName, configData}` (the
  member's fields and common's, flattened: `ip`, `port`, `serialPort`, ...); `customizedProtocol` <->
  `protocol` as it is; `propertyVisitors[]{propertyName, collectCycle, reportCycle, <member>,
  customizedValues}` <-> `properties[]{name, collectCycle, reportCycle, visitors{protocolName,
  configData}}`; `status.twins[].desired` <-> `spec.properties[].desired` (the property is created by name
  when it has no visitor); `status.twins[].reported` <-> `status.twins[].reported`.

What one version cannot hold (a model's defaultValue, a node selector of another shape, v1beta1's
pushMethod or observedDesired, ...) travels in an annotation of the other: `v1alpha2-fields` on v1beta1
objects, `v1beta1-fields` on v1alpha2 ones, as Kubernetes keeps the fields of lossy conversions. It is put
back, and the annotation dropped, on the way back. The annotation holds only what the other version cannot
express (found by comparing the object with its round trip), so it never overrides an edit made in either
version; it also records the interleaving of lists that one version keeps apart (twins, properties).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

GROUP = "devices.kubeedge.io"
V1ALPHA2 = GROUP + "/v1alpha2"
V1BETA1 = GROUP + "/v1beta1"
KINDS = ("Device", "DeviceModel")
#: annotation of a v1beta1 object holding what its v1alpha2 form had and v1beta1 cannot hold
V1ALPHA2_FIELDS = GROUP + "/v1alpha2-fields"
#: annotation of a v1alpha2 object holding what its v1beta1 form had and v1alpha2 cannot hold
V1BETA1_FIELDS = GROUP + "/v1beta1-fields"
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: KubeEdge's limit on a twin value (the edge refuses longer ones)
MAX_VALUE = 512

_TYPES = ("int", "string", "double", "float", "boolean", "bytes")  # v1alpha2's members, in its order
_NUMERIC = ("INT", "FLOAT", "DOUBLE")
_PROTOCOLS = ("modbus", "opcua", "bluetooth")
_MEMBERS = (*_PROTOCOLS, "customizedProtocol")
_PROTOCOL_KEYS = {
    "modbus": ("slaveID",),
    "opcua": (
        "url",
        "userName",
        "password",
        "securityPolicy",
        "securityMode",
        "certificate",
        "privateKey",
        "timeout",
    ),
    "bluetooth": ("macAddress",),
}
_VISITOR_KEYS = {
    "modbus": ("register", "offset", "limit", "scale", "isSwap", "isRegisterSwap"),
    "opcua": ("nodeID", "browseName"),
    "bluetooth": ("characteristicUUID", "dataWrite", "dataConverter"),
}
_TCP = ("ip", "port")
_COM = ("serialPort", "baudRate", "dataBits", "parity", "stopBits")
_COMMON = (
    "commType",
    "reconnTimeout",
    "reconnRetryTimes",
    "collectTimeout",
    "collectRetryTimes",
    "collectType",
    "customizedValues",
)
_INT = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_NOTHING: Any = object()  # "no residual": distinct from JSON null

Body = dict[str, Any]
Stash = dict[str, Any]


class ConversionError(ValueError):
    """A v1alpha2 object that has no v1beta1 form (KubeEdge's own rules: one member per union, names set
    and unique). field/reason/message as a Kubernetes field error: reason is FieldValueInvalid,
    FieldValueRequired or FieldValueDuplicate."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.reason = reason
        self.message = message


# -- convert ---------------------------------------------------------------------------------------


def convert(obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    """`obj` (a Device or DeviceModel, v1alpha2 or v1beta1) at `version` ("devices.kubeedge.io/v1beta1" or
    just "v1beta1"), as a new dict. ConversionError for a kind or version it does not know and for a
    v1alpha2 object that breaks KubeEdge's rules."""
    target = version if "/" in version else "%s/%s" % (GROUP, version)
    kind, source = obj.get("kind"), obj.get("apiVersion")
    if kind not in KINDS:
        raise ConversionError(
            "kind", "FieldValueInvalid", 'cannot convert kind "%s" (only Device and DeviceModel)' % kind
        )
    for field, value in (("apiVersion", source), ("version", target)):
        if value not in (V1ALPHA2, V1BETA1):
            raise ConversionError(
                field, "FieldValueInvalid", '"%s" is not %s or %s' % (value, V1ALPHA2, V1BETA1)
            )
    if source == target:
        return copy.deepcopy(dict(obj))
    up = target == V1BETA1
    stash_key, keep_key = (V1BETA1_FIELDS, V1ALPHA2_FIELDS) if up else (V1ALPHA2_FIELDS, V1BETA1_FIELDS)
    meta, stash = _take_stash(obj.get("metadata"), stash_key, keep_key)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if up:
        _check_v1alpha2(kind, body)
    there, keep = _CONVERSIONS[(kind, up)]
    out = there(body, stash)
    kept = keep(body, out)
    result: dict[str, Any] = {"apiVersion": target, "kind": kind}
    if meta is not None or kept:
        meta = meta if isinstance(meta, dict) else {}
        if kept:
            annotations = meta.get("annotations")
            if not isinstance(annotations, dict):
                annotations = meta["annotations"] = {}
            annotations[keep_key] = json.dumps(kept, sort_keys=True, separators=(",", ":"))
        result["metadata"] = meta
    result.update(out)
    return result


def _take_stash(meta: Any, stash_key: str, drop_key: str) -> tuple[Any, Stash]:
    """A copy of the metadata without kedge's conversion annotations, and the parsed `stash_key` one."""
    if not isinstance(meta, dict):
        return copy.deepcopy(meta), {}
    meta = copy.deepcopy(meta)
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict) or not (stash_key in annotations or drop_key in annotations):
        return meta, {}
    raw = annotations.pop(stash_key, None)
    annotations.pop(drop_key, None)  # a stale one, e.g. copied from the other version by a user
    if not annotations:
        del meta["annotations"]
    try:
        stash = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        stash = {}  # hand-edited into garbage: what it held is lost, the object is not
    return meta, stash if isinstance(stash, dict) else {}


def _check_v1alpha2(kind: str, body: Body) -> None:
    """KubeEdge's rules that v1beta1 relies on: every listed item named, names unique, one union member."""
    spec = _dict(body.get("spec"))
    if kind == "DeviceModel":
        for i, prop in _named_items(spec.get("properties"), "spec.properties", "name"):
            _one_member(prop.get("type"), _TYPES, "spec.properties[%d].type" % i)
        return
    _one_member(spec.get("protocol"), _MEMBERS, "spec.protocol")
    for i, visitor in _named_items(spec.get("propertyVisitors"), "spec.propertyVisitors", "propertyName"):
        _one_member(visitor, _MEMBERS, "spec.propertyVisitors[%d]" % i)
    _named_items(_dict(body.get("status")).get("twins"), "status.twins", "propertyName")


def _named_items(items: Any, path: str, key: str) -> list[tuple[int, dict[str, Any]]]:
    """The (index, item) of a list whose items must each have a unique `key`."""
    seen: set[str] = set()
    named = []
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            continue
        name = item.get(key)
        if not isinstance(name, str) or not name:
            raise ConversionError("%s[%d].%s" % (path, i, key), "FieldValueRequired", "Required value")
        if name in seen:
            raise ConversionError(
                "%s[%d].%s" % (path, i, key), "FieldValueDuplicate", 'Duplicate value: "%s"' % name
            )
        seen.add(name)
        named.append((i, item))
    return named


def _one_member(union: Any, members: tuple[str, ...], path: str) -> None:
    found = [m for m in members if isinstance(union, dict) and m in union]
    if len(found) > 1:
        raise ConversionError(
            path,
            "FieldValueInvalid",
            "Invalid value: %s: only one of %s may be set" % (", ".join(found), ", ".join(members)),
        )


# -- the generic part: what one form lacks, put back ---------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _list_key(items: list[Any]) -> str | None:
    """The field naming the items of a list of objects, when each has it and no two share it."""
    for key in ("name", "propertyName"):
        names = [i.get(key) if isinstance(i, dict) else None for i in items]
        if items and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return key
    return None


def _residual(x: Any, y: Any) -> Any:
    """What x has and y lacks: missing keys of objects, recursively, and of list items matched by name.
    _NOTHING when y has it all. Values y holds differently are y's (the edit of the other version)."""
    if isinstance(x, dict) and isinstance(y, dict):
        out = {}
        for k, xv in x.items():
            if k not in y:
                out[k] = copy.deepcopy(xv)
            else:
                r = _residual(xv, y[k])
                if r is not _NOTHING:
                    out[k] = r
        return out or _NOTHING
    if isinstance(x, list) and isinstance(y, list):
        key = _list_key(x)
        if key is None or _list_key(y) != key:
            return _NOTHING
        theirs = {i[key]: i for i in y}
        found = []
        for item in x:
            if item[key] in theirs:
                r = _residual(item, theirs[item[key]])
                if r is not _NOTHING:
                    found.append({key: item[key], **r})
        return found or _NOTHING
    return _NOTHING


def _merge(y: Any, residual: Any) -> None:
    """Put a residual back into y (in place). Items of a list that y no longer has are not revived."""
    if isinstance(y, dict) and isinstance(residual, dict):
        for k, rv in residual.items():
            if k not in y:
                y[k] = copy.deepcopy(rv)
            else:
                _merge(y[k], rv)
    elif isinstance(y, list) and isinstance(residual, list):
        key = _list_key(residual)
        if key is None:
            return
        mine: dict[str, Any] = {}
        for item in y:
            if isinstance(item, dict) and isinstance(item.get(key), str):
                mine.setdefault(item[key], item)
        for item in residual:
            if item[key] in mine:
                _merge(mine[item[key]], {k: v for k, v in item.items() if k != key})


def _interleave(
    first: list[dict[str, Any]], second: list[dict[str, Any]], key: str, hint: Any
) -> list[dict[str, Any]]:
    """first + second, or in the order `hint` names them. `first` is ordered by a list of the other version
    and `second` is not: the hint may place second's items anywhere, but is ignored (as stale, after an
    edit) unless it names exactly these items and keeps first's order."""
    natural = first + second
    if not isinstance(hint, list) or not second:
        return natural
    names = [i.get(key) for i in natural]
    if None in names or len(set(names)) != len(names) or sorted(map(str, names)) != sorted(map(str, hint)):
        return natural
    own = [i[key] for i in first]
    if [n for n in hint if n in own] != own:
        return natural
    by_name = {i[key]: i for i in natural}
    return [by_name[n] for n in hint]


def _names(items: Any, key: str) -> list[Any]:
    return [i.get(key) for i in _items(items)]


def _keep(source: Body, back: Body) -> Stash:
    fields = _residual(source, back)
    return {} if fields is _NOTHING else {"fields": fields}


# -- DeviceModel -----------------------------------------------------------------------------------


def _number_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return repr(value) if isinstance(value, float) else str(value)
    except ValueError:  # an integer of more digits than Python prints
        return None


def _number(text: Any, integer: bool) -> int | float | None:
    """A v1beta1 minimum/maximum as v1alpha2's number, when that number prints back to the same text."""
    if not isinstance(text, str):
        return None
    value: int | float
    try:
        if _INT.match(text):
            value = int(text)
        elif not integer and _DECIMAL.match(text):
            value = float(text)
        else:
            return None
    except ValueError:  # more digits than Python reads
        return None
    return value if _number_text(value) == text else None


def _model_up(a: Body, stash: Stash) -> Body:
    spec_a = _dict(a.get("spec"))
    spec: dict[str, Any] = {}
    if "protocol" in spec_a:
        spec["protocol"] = copy.deepcopy(spec_a["protocol"])
    props = []
    for p in _items(spec_a.get("properties")):
        q = {k: copy.deepcopy(p[k]) for k in ("name", "description") if k in p}
        types = _dict(p.get("type"))
        member = next((t for t in _TYPES if isinstance(types.get(t), dict)), None)
        if member is not None:
            section = types[member]
            q["type"] = member.upper()
            if "accessMode" in section:
                q["accessMode"] = section["accessMode"]
            for bound in ("minimum", "maximum"):
                text = _number_text(section.get(bound))
                if text is not None:
                    q[bound] = text
            if "unit" in section:
                q["unit"] = section["unit"]
        props.append(q)
    if props:
        spec["properties"] = props
    out = {"spec": spec} if spec else {}
    _merge(out, stash.get("fields", _NOTHING))
    return out


def _model_down(b: Body, stash: Stash) -> Body:
    spec_b = _dict(b.get("spec"))
    spec: dict[str, Any] = {}
    if "protocol" in spec_b:
        spec["protocol"] = copy.deepcopy(spec_b["protocol"])
    props = []
    for p in _items(spec_b.get("properties")):
        q = {k: copy.deepcopy(p[k]) for k in ("name", "description") if k in p}
        member = str(p.get("type")).lower()
        if member in _TYPES:
            section: dict[str, Any] = {}
            if "accessMode" in p:
                section["accessMode"] = p["accessMode"]
            if member in ("int", "float", "double"):
                for bound in ("minimum", "maximum"):
                    value = _number(p.get(bound), member == "int")
                    if value is not None:
                        section[bound] = value
                if "unit" in p:
                    section["unit"] = p["unit"]
            q["type"] = {member: section}
        props.append(q)
    if props:
        spec["properties"] = props
    out = {"spec": spec} if spec else {}
    fields = copy.deepcopy(stash.get("fields", _NOTHING))
    _fit_type_members(fields, out)
    _merge(out, fields)
    return out


def _fit_type_members(fields: Any, out: Body) -> None:
    """A kept defaultValue belongs to the type it was written for: when the type changed in v1beta1 since,
    it is dropped rather than added as a second member of the type union."""
    kept = _dict(_dict(fields).get("spec")).get("properties")
    if not isinstance(kept, list):
        return
    types = {p.get("name"): _dict(p.get("type")) for p in _items(_dict(out.get("spec")).get("properties"))}
    for item in _items(kept):
        kept_type = item.get("type")
        if isinstance(kept_type, dict) and item.get("name") in types:
            current = types[item.get("name")]
            stale = [m for m in kept_type if m in _TYPES and current and m not in current]
            for member in stale:
                del kept_type[member]
            if stale and not kept_type:
                del item["type"]


def _model_keep_up(a: Body, b: Body) -> Stash:
    return _keep(a, _model_down(b, {}))


def _model_keep_down(b: Body, a: Body) -> Stash:
    return _keep(b, _model_up(a, {}))


# -- Device: protocol and visitors -----------------------------------------------------------------


def _member(union: dict[str, Any]) -> str | None:
    return next((m for m in _MEMBERS if isinstance(union.get(m), dict)), None)


def _customized(section: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(section[k]) for k in ("protocolName", "configData") if k in section}


def _flat_common(common: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for sub, keys in (("tcp", _TCP), ("com", _COM)):
        part = _dict(common.get(sub))
        out.update({k: copy.deepcopy(part[k]) for k in keys if k in part})
    out.update({k: copy.deepcopy(common[k]) for k in _COMMON if k in common})
    return out


def _nested_common(data: dict[str, Any]) -> dict[str, Any]:
    common: dict[str, Any] = {}
    for sub, keys in (("tcp", _TCP), ("com", _COM)):
        part = {k: copy.deepcopy(data[k]) for k in keys if k in data}
        if part:
            common[sub] = part
    common.update({k: copy.deepcopy(data[k]) for k in _COMMON if k in data})
    return common


def _union_up(union: dict[str, Any], beside: dict[str, Any]) -> dict[str, Any]:
    """A v1alpha2 protocol or property visitor (one of modbus, opcua, bluetooth, customizedProtocol) as
    v1beta1's {protocolName, configData}; `beside`: its fields next to the member that go into configData."""
    member = _member(union)
    if member is None:
        return {}  # what is beside no member stays in the annotation
    if member == "customizedProtocol":
        return _customized(union[member])
    data = {**beside, **copy.deepcopy(union[member])}
    return {"protocolName": member, "configData": data} if data else {"protocolName": member}


def _union_down(
    pair: Any, keys: Mapping[str, tuple[str, ...]], beside: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """v1beta1's {protocolName, configData} as the v1alpha2 member; `beside` picks the configData fields
    that go next to the member."""
    pair = _dict(pair)
    name = pair.get("protocolName")
    if name in _PROTOCOLS:
        data = _dict(pair.get("configData"))
        return {name: {k: copy.deepcopy(data[k]) for k in keys[name] if k in data}, **beside(data)}
    custom = _customized(pair)
    return {"customizedProtocol": custom} if custom else {}


def _protocol_up(protocol: Any) -> dict[str, Any]:
    protocol = _dict(protocol)
    return _union_up(protocol, _flat_common(_dict(protocol.get("common"))))


def _protocol_down(protocol: Any) -> dict[str, Any]:
    def common(data: dict[str, Any]) -> dict[str, Any]:
        nested = _nested_common(data)
        return {"common": nested} if nested else {}

    return _union_down(protocol, _PROTOCOL_KEYS, common)


def _visitors_up(visitor: dict[str, Any]) -> dict[str, Any]:
    return _union_up(visitor, _customized_values(visitor))


def _visitors_down(visitors: Any) -> dict[str, Any]:
    return _union_down(visitors, _VISITOR_KEYS, _customized_values)


def _customized_values(fields: dict[str, Any]) -> dict[str, Any]:
    return (
        {"customizedValues": copy.deepcopy(fields["customizedValues"])}
        if "customizedValues" in fields
        else {}
    )


def _selected_node(selector: Any) -> str | None:
    """The node of a selector of exactly KubeEdge's usual shape, else None."""
    try:
        node = selector["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
    except (KeyError, IndexError, TypeError):
        return None
    return node if isinstance(node, str) and node and selector == _node_selector(node) else None


def _node_selector(node: str) -> dict[str, Any]:
    expression = {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}
    return {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}


# -- Device ----------------------------------------------------------------------------------------


def _device_up(a: Body, stash: Stash) -> Body:
    spec_a = _dict(a.get("spec"))
    twins = _items(_dict(a.get("status")).get("twins"))
    spec: dict[str, Any] = {}
    if "deviceModelRef" in spec_a:
        spec["deviceModelRef"] = copy.deepcopy(spec_a["deviceModelRef"])
    node = _selected_node(spec_a.get("nodeSelector"))
    if node is not None:
        spec["nodeName"] = node
    protocol = _protocol_up(spec_a.get("protocol"))
    if protocol:
        spec["protocol"] = protocol
    visited, desired_only = [], []
    by_name: dict[Any, dict[str, Any]] = {}
    for visitor in _items(spec_a.get("propertyVisitors")):
        prop = {k: copy.deepcopy(visitor[k]) for k in ("collectCycle", "reportCycle") if k in visitor}
        if "propertyName" in visitor:
            prop["name"] = visitor["propertyName"]
        visitors = _visitors_up(visitor)
        if visitors:
            prop["visitors"] = visitors
        visited.append(prop)
        by_name.setdefault(prop.get("name"), prop)
    for twin in twins:
        if "desired" in twin:
            name = twin.get("propertyName")
            prop = by_name.get(name)
            if prop is None:
                prop = by_name[name] = {"name": name} if name is not None else {}
                desired_only.append(prop)
            prop["desired"] = copy.deepcopy(twin["desired"])
    props = _interleave(visited, desired_only, "name", stash.get("propertyOrder"))
    if props:
        spec["properties"] = props
    # Twins with a reported value, or no value at all, are status; a desired-only one lives in spec alone.
    kept = stash.get("statusTwins") if isinstance(stash.get("statusTwins"), list) else ()
    entries = []
    for twin in twins:
        if "reported" in twin or "desired" not in twin or twin.get("propertyName") in kept:
            entry = {k: copy.deepcopy(twin[k]) for k in ("propertyName", "reported") if k in twin}
            entries.append(entry)
    out: Body = {}
    if spec:
        out["spec"] = spec
    if entries:
        out["status"] = {"twins": entries}
    _merge(out, stash.get("fields", _NOTHING))
    return out


def _is_visitor(prop: dict[str, Any], also: Any) -> bool:
    """Whether a v1beta1 property shows as a v1alpha2 property visitor: it has more than a desired value
    (or not even that), or the annotation says it was one."""
    return bool(prop.keys() - {"name", "desired"}) or "desired" not in prop or prop.get("name") in also


def _device_down(b: Body, stash: Stash) -> Body:
    spec_b = _dict(b.get("spec"))
    props = _items(spec_b.get("properties"))
    spec: dict[str, Any] = {}
    if "deviceModelRef" in spec_b:
        spec["deviceModelRef"] = copy.deepcopy(spec_b["deviceModelRef"])
    node = spec_b.get("nodeName")
    if isinstance(node, str) and node:
        spec["nodeSelector"] = _node_selector(node)
    protocol = _protocol_down(spec_b.get("protocol"))
    if protocol:
        spec["protocol"] = protocol
    also = stash.get("propertyVisitors") if isinstance(stash.get("propertyVisitors"), list) else ()
    visitors = []
    for prop in props:
        if _is_visitor(prop, also):
            visitor = {k: copy.deepcopy(prop[k]) for k in ("collectCycle", "reportCycle") if k in prop}
            if "name" in prop:
                visitor["propertyName"] = prop["name"]
            visitor.update(_visitors_down(prop.get("visitors")))
            visitors.append(visitor)
    if visitors:
        spec["propertyVisitors"] = visitors
    desired: dict[Any, Any] = {}
    for prop in props:
        if "desired" in prop:
            desired.setdefault(prop.get("name"), prop["desired"])
    reported, desired_only, named = [], [], set()
    for entry in _items(_dict(b.get("status")).get("twins")):
        name = entry.get("propertyName")
        twin = {k: copy.deepcopy(entry[k]) for k in ("propertyName", "reported") if k in entry}
        if name in desired and name not in named:
            twin["desired"] = copy.deepcopy(desired[name])
        named.add(name)
        reported.append(twin)
    for name, value in desired.items():
        if name not in named:
            twin = {"propertyName": name} if name is not None else {}
            twin["desired"] = copy.deepcopy(value)
            desired_only.append(twin)
    twins = _interleave(reported, desired_only, "propertyName", stash.get("twinOrder"))
    out: Body = {}
    if spec:
        out["spec"] = spec
    if twins:
        out["status"] = {"twins": twins}
    _merge(out, stash.get("fields", _NOTHING))
    return out


def _device_keep_up(a: Body, b: Body) -> Stash:
    """What a v1alpha2 Device needs kept for its v1beta1 form `b` to come back as it was."""
    hints: Stash = {}
    back = _device_down(b, hints)
    spec_a, back_spec = _dict(a.get("spec")), _dict(back.get("spec"))
    shown = set(_names(back_spec.get("propertyVisitors"), "propertyName"))
    lost = [n for n in _names(spec_a.get("propertyVisitors"), "propertyName") if n not in shown]
    if lost:
        hints["propertyVisitors"] = lost
        back = _device_down(b, hints)
    order = _names(_dict(a.get("status")).get("twins"), "propertyName")
    if order != _names(_dict(back.get("status")).get("twins"), "propertyName"):
        hints["twinOrder"] = order
        back = _device_down(b, hints)
    return {**hints, **_keep(a, back)}


def _device_keep_down(b: Body, a: Body) -> Stash:
    """What a v1beta1 Device needs kept for its v1alpha2 form `a` to come back as it was."""
    hints: Stash = {}
    back = _device_up(a, hints)
    shown = set(_names(_dict(back.get("status")).get("twins"), "propertyName"))
    lost = [n for n in _names(_dict(b.get("status")).get("twins"), "propertyName") if n not in shown]
    if lost:
        hints["statusTwins"] = lost
        back = _device_up(a, hints)
    order = _names(_dict(b.get("spec")).get("properties"), "name")
    if order != _names(_dict(back.get("spec")).get("properties"), "name"):
        hints["propertyOrder"] = order
        back = _device_up(a, hints)
    return {**hints, **_keep(b, back)}


#: (kind, to v1beta1) -> (convert the body, what to keep for the way back)
_CONVERSIONS: dict[tuple[str, bool], tuple[Callable[[Body, Stash], Body], Callable[[Body, Body], Stash]]] = {
    ("DeviceModel", True): (_model_up, _model_keep_up),
    ("DeviceModel", False): (_model_down, _model_keep_down),
    ("Device", True): (_device_up, _device_keep_up),
    ("Device", False): (_device_down, _device_keep_down),
}


# -- desired values against the model ----------------------------------------------------------------


def value_problem(value: Any, prop: Mapping[str, Any]) -> str | None:
    """What is wrong with `value` for a v1beta1 model property (its type, minimum and maximum), or None."""
    if not isinstance(value, str):
        return "is not a string"
    if len(value) > MAX_VALUE:
        return "is longer than %d characters" % MAX_VALUE
    type_ = str(prop.get("type") or "").upper()
    if type_ == "INT" and not _INT.match(value):
        return "is not an integer (type INT)"
    if type_ in ("FLOAT", "DOUBLE") and not (_DECIMAL.match(value) and math.isfinite(float(value))):
        return "is not a finite number (type %s)" % type_
    if type_ == "BOOLEAN" and value not in ("true", "false"):
        return "is not true or false (type BOOLEAN)"
    if type_ in _NUMERIC:
        number = Decimal(value)
        low, high = _bound(prop.get("minimum")), _bound(prop.get("maximum"))
        if low is not None and number < low:
            return "is less than the minimum %s" % prop["minimum"]
        if high is not None and number > high:
            return "is greater than the maximum %s" % prop["maximum"]
    return None


def _bound(text: Any) -> Decimal | None:
    if isinstance(text, str) and _DECIMAL.match(text.strip()):
        return Decimal(text.strip())
    return None


def device_problems(device: Mapping[str, Any], model: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """What is wrong with a v1beta1 Device's properties and desired values for its v1beta1 DeviceModel, as
    (field path, message) pairs; empty when nothing is. No model (not created yet): nothing to check."""
    if model is None:
        return []
    meta = _dict(model.get("metadata"))
    model_id = "%s/%s" % (meta.get("namespace", ""), meta.get("name", ""))
    defined: dict[str, Mapping[str, Any]] = {}
    for p in _items(_dict(model.get("spec")).get("properties")):
        if isinstance(p.get("name"), str):
            defined.setdefault(p["name"], p)
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, prop in enumerate(_items(_dict(device.get("spec")).get("properties"))):
        path = "spec.properties[%d]" % i
        name = prop.get("name")
        if not isinstance(name, str) or not name:
            problems.append((path + ".name", "a property needs a name"))
            continue
        if name in seen:
            problems.append((path + ".name", 'property "%s" is listed more than once' % name))
            continue
        seen.add(name)
        wanted = defined.get(name)
        if wanted is None:
            problems.append(
                (path + ".name", 'property "%s" is not defined by DeviceModel %s' % (name, model_id))
            )
            continue
        desired = prop.get("desired")
        if not isinstance(desired, dict) or "value" not in desired:
            continue
        if wanted.get("accessMode") == "ReadOnly":
            problems.append(
                (
                    path + ".desired",
                    'property "%s" is ReadOnly in DeviceModel %s: it takes no '
                    "desired value" % (name, model_id),
                )
            )
            continue
        problem = value_problem(desired["value"], wanted)
        if problem is not None:
            problems.append(
                (
                    path + ".desired.value",
                    'desired value %s of property "%s" (DeviceModel %s) %s'
                    % (json.dumps(desired["value"]), name, model_id, problem),
                )
            )
    return problems
