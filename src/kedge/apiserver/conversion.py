"""Objects of a multi-version CustomResourceDefinition at the version a request names.

The server stores one version of each resource, the CRD's storage version. A request at another served
version has its body converted to the storage version before it is stored, and everything it gets back
(the object written, get, list, watch events, Tables) converted to its own version; a patch applies to
the object at the request's version. kedge's own device CRDs convert field by field with
kedge.model.devices; any other CRD gets Kubernetes' `strategy: None`, where only apiVersion changes.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import ResourceInfo
from kedge.model import devices

log = logging.getLogger(__name__)

#: (object, the apiVersion wanted) -> a new object at that version; raises ValueError when it cannot.
Converter = Callable[[Mapping[str, Any], str], dict[str, Any]]


def none_strategy(obj: Mapping[str, Any], api_version: str) -> dict[str, Any]:
    """Kubernetes' conversion `strategy: None`: the same fields under the other apiVersion (a shallow copy:
    the nested values are obj's)."""
    return {**obj, "apiVersion": api_version}


#: Built-in converters by CRD name (what a conversion webhook does for a CRD in Kubernetes).
CONVERTERS: dict[str, Converter] = {
    "devices.devices.kubeedge.io": devices.convert,
    "devicemodels.devices.kubeedge.io": devices.convert,
}


def needed(info: ResourceInfo) -> bool:
    """Whether objects at `info`'s version differ from the stored ones (a CRD version not stored)."""
    return bool(info.crd) and bool(info.storage_version) and info.version != info.storage_version


def to_request_version(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object at the version of `info`: `obj` itself when that is the stored version (or when the
    object is at it already); ApiError (500) when the converter fails."""
    if not needed(info) or obj.get("apiVersion") == info.api_version:
        return obj
    return _convert(info, obj, info.api_version, inbound=False)


def to_storage_version(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """An object written at the version of `info`, as it is stored: `obj` itself when no conversion is
    needed; ApiError Invalid naming the field when the object has no form at the storage version."""
    if not needed(info):
        return obj
    return _convert(info, obj, "%s/%s" % (info.group, info.storage_version), inbound=True)


def _convert(info: ResourceInfo, obj: dict[str, Any], api_version: str, *, inbound: bool) -> dict[str, Any]:
    converter = CONVERTERS.get(info.crd, none_strategy)
    try:
        return converter(obj, api_version)
    except devices.ConversionError as e:
        if inbound:
            name = (obj.get("metadata") or {}).get("name") or ""
            raise ApiError.invalid(info.kind, name, [(e.field, e.reason, e.message)], info.group) from None
        error: ValueError = e
    except ValueError as e:
        error = e
    name = (obj.get("metadata") or {}).get("name")
    log.error("cannot convert %s %s to %s: %s", info.storage_key, name, api_version, error)
    raise ApiError.internal("conversion of %s %s to %s failed: %s" % (info.kind, name, api_version, error))
