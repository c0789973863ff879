"""Admission checks beyond the schema, for kedge's own kinds: what a validating webhook would do.

They run on every create and update of the main resource, at the storage version whatever version the
request used, and answer 422 Invalid with a cause per problem. As Kubernetes ratchets validation, an update
is refused only for what it changes: a device property left as it was is not re-checked, so a model edited
since never blocks unrelated writes (labels, finalizers) to its devices; likewise a Rule whose endpoint was
deleted since still takes the Router's status patches (it has no status subresource).
"""

from collections.abc import Callable
from typing import Any

from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import Cause, ResourceInfo
from kedge.model import devices, rules

#: (storage key, namespace, name) -> the stored object, or None
Lookup = Callable[[str, str, str], dict[str, Any] | None]
DEVICES = "devices.devices.kubeedge.io"
DEVICE_MODELS = "devicemodels.devices.kubeedge.io"
RULES = "rules.rules.kubeedge.io"
RULE_ENDPOINTS = "ruleendpoints.rules.kubeedge.io"
_PROPERTY = "spec.properties["


def admit(
    info: ResourceInfo,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    lookup: Lookup,
    *,
    request_obj: dict[str, Any] | None = None,
) -> None:
    """Refuse (ApiError Invalid) a write of `obj` (storage version; `old` the stored one, None on create).
    request_obj: the object as the request wrote it, when at another version, to name its fields."""
    if info.crd == DEVICES:
        causes = _device_causes(obj, old, lookup)
        if causes and request_obj is not None and request_obj.get("apiVersion") == devices.V1ALPHA2:
            causes = [(_v1alpha2_field(path, obj, request_obj), r, m) for path, r, m in causes]
    elif info.crd == RULE_ENDPOINTS:
        causes = _ratcheted(rules.endpoint_problems, obj, old)
    elif info.crd == RULES:

        def endpoint(namespace: str, name: str) -> dict[str, Any] | None:
            return lookup(RULE_ENDPOINTS, namespace, name)

        causes = _ratcheted(lambda rule: rules.rule_problems(rule, endpoint), obj, old)
    else:
        return
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise ApiError.invalid(info.kind, name, causes, info.group)


def _ratcheted(
    problems_of: Callable[[dict[str, Any]], list[tuple[str, str]]],
    obj: dict[str, Any],
    old: dict[str, Any] | None,
) -> list[Cause]:
    """obj's problems as causes, less those the stored object has too: an update is refused only for what it
    breaks."""
    problems = problems_of(obj)
    if old is not None and problems:
        before = set(problems_of(old))
        problems = [p for p in problems if p not in before]
    return [(path, "FieldValueInvalid", message) for path, message in problems]


def _device_causes(device: dict[str, Any], old: dict[str, Any] | None, lookup: Lookup) -> list[Cause]:
    ref = _field(device, "spec", "deviceModelRef", "name")
    namespace = _field(device, "metadata", "namespace") or ""
    model = lookup(DEVICE_MODELS, namespace, ref) if isinstance(ref, str) and ref else None
    problems = devices.device_problems(device, model)
    if old is not None and problems:
        unchanged = _properties(old)
        props = _properties(device)
        problems = [(p, m) for p, m in problems if _index(p) is None or props[_index(p)] not in unchanged]
    return [(path, "FieldValueInvalid", message) for path, message in problems]


def _field(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _properties(device: dict[str, Any]) -> list[Any]:
    props = _field(device, "spec", "properties")
    return [p for p in props if isinstance(p, dict)] if isinstance(props, list) else []


def _index(path: str) -> int | None:
    if not path.startswith(_PROPERTY):
        return None
    return int(path[len(_PROPERTY) : path.index("]")])


def _v1alpha2_field(path: str, device: dict[str, Any], request: dict[str, Any]) -> str:
    """A v1beta1 property path as the v1alpha2 field the user wrote: a desired value is a twin's, a property
    a twin's or a property visitor's."""
    i = _index(path)
    if i is None:
        return path
    name = _properties(device)[i].get("name")
    rest = path[path.index("]") + 1 :]
    places = (("status", "twins"), ("spec", "propertyVisitors"))
    if rest.startswith(".desired"):
        places = places[:1]
    for top, field in places:
        items = _field(request, top, field)
        for j, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, dict) and item.get("propertyName") == name:
                return "%s.%s[%d]%s" % (top, field, j, rest.replace(".name", ".propertyName", 1))
    return path
