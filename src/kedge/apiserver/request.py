"""Reading a request: which resource a path names, what the client accepts, and the decoded body.

Pure functions over strings and bytes, so the routing rules are unit-tested without a server.
"""

from dataclasses import dataclass
from typing import Any

import msgspec
import yaml

from kedge.apiserver.errors import ApiError
from kedge.apiserver.protobuf import decode_kubernetes_protobuf
from kedge.apiserver.registry import Registry, ResourceInfo

#: Kubernetes' request body limit (3 MiB, apiserver `MaxRequestBodyBytes`).
MAX_BODY = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

_json_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Target:
    """A resource request: collection when name is "", all namespaces when namespace is "" on a
    namespaced resource's collection."""

    info: ResourceInfo
    namespace: str = ""
    name: str = ""
    subresource: str = ""

    @property
    def is_collection(self) -> bool:
        return not self.name


@dataclass(frozen=True, slots=True)
class GroupVersion:
    """A discovery request for /api/v1 or /apis/<group>/<version>."""

    group: str
    version: str


def _not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def resolve(registry: Registry, path: str) -> Target | GroupVersion:
    """Map `/api/v1/...` or `/apis/<g>/<v>/...` to what it names; NotFound for anything else."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise _not_found()
    if not rest:
        return GroupVersion(group, version)
    if any(not p for p in rest):
        raise _not_found()
    # Legacy watch paths (/api/v1/watch/...) are deprecated and unused by current clients.
    if rest[0] == "namespaces" and len(rest) >= 3:
        info = registry.get(group, version, rest[2])
        if info is not None and info.namespaced:
            if len(rest) > 5:
                raise _not_found()
            return _target(info, rest[1], rest[3] if len(rest) > 3 else "", rest[4] if len(rest) > 4 else "")
    info = registry.get(group, version, rest[0])
    if info is None or len(rest) > 3:
        raise _not_found()
    return _target(info, "", rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else "")


def _target(info: ResourceInfo, namespace: str, name: str, sub: str) -> Target:
    if sub and sub not in info.subresources:
        raise _not_found()
    return Target(info, namespace, name, sub)


@dataclass(frozen=True, slots=True)
class Accept:
    """What representation the client asked for."""

    as_: str = ""  # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    version: str = "v1"  # meta.k8s.io version of a Table/PartialObjectMetadata
    yaml: bool = False


_ANY = Accept()


def negotiate(header: str | None) -> Accept:
    """Pick the first media type we can produce from an Accept header (kubectl lists Table first)."""
    if not header:
        return _ANY
    protobuf_only = False
    for item in header.split(","):
        fields = [f.strip() for f in item.split(";")]
        media = fields[0].lower()
        params = {}
        for f in fields[1:]:
            k, _, v = f.partition("=")
            params[k.strip().lower()] = v.strip()
        if media in (JSON, "*/*", "application/*", YAML):
            as_ = params.get("as", "")
            if as_:
                if params.get("g") != "meta.k8s.io" or as_ not in (
                    "Table",
                    "PartialObjectMetadata",
                    "PartialObjectMetadataList",
                ):
                    continue
                return Accept(as_, params.get("v", "v1"), media == YAML)
            return Accept(yaml=media == YAML)
        if media == PROTOBUF:
            protobuf_only = True
    if protobuf_only or header:
        raise ApiError.not_acceptable(
            "only the following media types are accepted: application/json, application/yaml"
        )
    return _ANY


def media_type(content_type: str | None) -> str:
    return (content_type or JSON).split(";", 1)[0].strip().lower()


def decode_body(data: bytes, content_type: str | None) -> Any:
    """Decode a create/update body (JSON or YAML); errors name what is wrong."""
    media = media_type(content_type)
    if media in (JSON, "", "*/*", MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH):
        if not data.strip():
            raise ApiError.bad_request("the request body is empty")
        try:
            return _json_decoder.decode(data)
        except msgspec.DecodeError as e:
            raise ApiError.bad_request("the request body is not valid JSON: %s" % e) from None
    if media == PROTOBUF:  # kubectl's typed commands send built-in objects this way, with no fallback
        return decode_kubernetes_protobuf(data)
    if media in (YAML, "application/x-yaml", "text/yaml", APPLY_PATCH):
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise ApiError.bad_request("the request body is not valid YAML: %s" % e) from None
    raise ApiError.unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


def decode_object(data: bytes, content_type: str | None) -> dict[str, Any]:
    obj = decode_body(data, content_type)
    if not isinstance(obj, dict):
        raise ApiError.bad_request(
            "the request body must be a JSON object (a Kubernetes object), got %s" % _json_type(obj)
        )
    return obj


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def query_bool(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "t")


def query_int(params: Any, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError.bad_request("invalid value for %s: %r is not an integer" % (name, value)) from None
