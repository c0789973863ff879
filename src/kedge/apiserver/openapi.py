"""OpenAPI documents: /openapi/v3 (index and one document per group-version) and /openapi/v2.

kubectl reads OpenAPI v3: `kubectl explain` renders the component schemas and finds a resource through
the `x-kubernetes-group-version-kind` of its operations; `kubectl apply` computes strategic merge patches
from the `x-kubernetes-patch-*` extensions and checks the PATCH operation for the `fieldValidation`
parameter to know the server validates fields itself. Schemas are named as Kubernetes names them
(io.k8s.api.core.v1.Pod) and, for CRDs, by the reverse domain of the group (io.kubeedge.devices.v1beta1.
Device). Documents are cached per Registry and rebuilt when its generation changes.
"""

import hashlib
import json
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kedge.apiserver import builtin_schemas as schemas
from kedge.apiserver.discovery import GIT_VERSION
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import SUBRESOURCES, Registry, ResourceInfo

Schema = dict[str, Any]

OBJECT_META = schemas.META + "ObjectMeta"
LIST_META = schemas.META + "ListMeta"
STATUS = schemas.META + "Status"
DELETE_OPTIONS = schemas.META + "DeleteOptions"
PATCH = schemas.META + "Patch"

JSON_TYPES = ("application/json", "application/yaml")
LIST_TYPES = ("application/json", "application/yaml", "application/json;stream=watch")
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
_V2_STRIP = ("nullable", "oneOf", "anyOf", "not")
_SECURITY_SCHEME = {
    "type": "apiKey",
    "name": "authorization",
    "in": "header",
    "description": "Bearer Token authentication",
}


# -- public API ----------------------------------------------------------------------------------------


def v3_path(group: str, version: str) -> str:
    """The key of a group-version in the /openapi/v3 index: `api/v1`, `apis/apps/v1`."""
    return "apis/%s/%s" % (group, version) if group else "api/%s" % version


def v3_index(reg: Registry) -> dict[str, Any]:
    """/openapi/v3: every group-version with the URL of its document, hash included for caching."""
    cache = _cache(reg)
    return {
        "paths": {
            v3_path(group, version): {
                "serverRelativeURL": "/openapi/v3/%s?hash=%s"
                % (v3_path(group, version), cache.v3(group, version)[1])
            }
            for group, versions in reg.groups()
            for version in versions
        }
    }


def v3_document(reg: Registry, group: str, version: str) -> dict[str, Any]:
    """/openapi/v3/api/v1, /openapi/v3/apis/<group>/<version>. Raises ApiError (404) for an unknown one."""
    return _cache(reg).v3(group, version)[2]


def v3_document_bytes(reg: Registry, group: str, version: str) -> tuple[bytes, str]:
    """The serialized document and its hash, which is also the `hash` query parameter and the ETag."""
    _, digest, _, body = _cache(reg).v3(group, version)
    return body, digest


def v2_document(reg: Registry) -> dict[str, Any]:
    """/openapi/v2 as JSON (Swagger 2.0) for clients that ask for application/json."""
    return _cache(reg).v2()[0]


def v2_document_bytes(reg: Registry) -> tuple[bytes, str]:
    _, body, digest = _cache(reg).v2()
    return body, digest


def schema_name(info: ResourceInfo, kind: str = "") -> str:
    """Component name of a kind: Kubernetes' for built-ins, reverse domain of the group for CRDs."""
    if not info.crd:
        return schemas.GROUP_PREFIXES[info.group] + (kind or info.kind)
    package = ".".join(reversed(info.group.split(".")))
    return "%s.%s.%s" % (package, info.version, kind or info.kind)


# -- caching -------------------------------------------------------------------------------------------


def _serialize(doc: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return body, hashlib.sha512(body).hexdigest().upper()


class _Cache:
    """Documents built for one generation of a registry: v3 per group-version, and v2."""

    __slots__ = ("generation", "v2", "v3")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        #: (group, version) -> (generation, hash, document, body)
        self.v3: dict[tuple[str, str], tuple[int, str, dict[str, Any], bytes]] = {}
        self.v2: tuple[dict[str, Any], bytes, str] | None = None


_CACHES: "weakref.WeakKeyDictionary[Registry, _Cache]" = weakref.WeakKeyDictionary()


def _cache(reg: Registry) -> "_BoundCache":
    cache = _CACHES.get(reg)
    if cache is None or cache.generation != reg.generation:
        cache = _Cache(reg.generation)
        _CACHES[reg] = cache
    return _BoundCache(reg, cache)


@dataclass(slots=True)
class _BoundCache:
    reg: Registry
    cache: _Cache

    def v3(self, group: str, version: str) -> tuple[int, str, dict[str, Any], bytes]:
        hit = self.cache.v3.get((group, version))
        if hit is None:
            doc = _build_v3(self.reg, group, version)
            body, digest = _serialize(doc)
            hit = (self.cache.generation, digest, doc, body)
            self.cache.v3[(group, version)] = hit
        return hit

    def v2(self) -> tuple[dict[str, Any], bytes, str]:
        if self.cache.v2 is None:
            doc = _build_v2(self.reg)
            body, digest = _serialize(doc)
            self.cache.v2 = (doc, body, digest)
        return self.cache.v2


# -- the operation model, rendered as v3 and as v2 -----------------------------------------------------


@dataclass(slots=True)
class _Param:
    name: str
    location: str  # "path" or "query"
    type: str
    description: str


@dataclass(slots=True)
class _Op:
    method: str
    operation_id: str
    action: str
    description: str
    gvk: tuple[str, str, str]
    tag: str
    query: list[_Param]
    responses: list[tuple[str, str, str | None]]  # code, description, schema name
    produces: tuple[str, ...] = JSON_TYPES
    body: str | None = None
    body_types: tuple[str, ...] = ("*/*",)
    body_required: bool = True


@dataclass(slots=True)
class _PathItem:
    params: list[_Param]
    ops: list[_Op] = field(default_factory=list)


def _q(name: str, type_: str, description: str) -> _Param:
    return _Param(name, "query", type_, description)


P_PRETTY = _q("pretty", "string", "If 'true', then the output is pretty printed.")
P_DRY_RUN = _q(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. Valid values are: All.",
)
P_FIELD_MANAGER = _q(
    "fieldManager", "string", "A name associated with the actor or entity that is making these changes."
)
P_FIELD_VALIDATION = _q(
    "fieldValidation",
    "string",
    "How the server treats unknown or duplicate fields in the request: Ignore, Warn (default) or Strict.",
)
P_FORCE = _q("force", "boolean", "Force an apply request to take fields owned by other managers.")
P_LIST = [
    _q("allowWatchBookmarks", "boolean", "Request watch events of type BOOKMARK."),
    _q("continue", "string", "The continue token of the previous page, to fetch the next one."),
    _q("fieldSelector", "string", "Restrict the returned objects by their fields."),
    _q("labelSelector", "string", "Restrict the returned objects by their labels."),
    _q(
        "limit", "integer", "Maximum number of objects to return; the list continues with the continue token."
    ),
    _q("resourceVersion", "string", "Which version of the collection to serve; see resourceVersionMatch."),
    _q("resourceVersionMatch", "string", "How resourceVersion applies: Exact or NotOlderThan."),
    _q("sendInitialEvents", "boolean", "With watch: send the current objects as ADDED events first."),
    _q("timeoutSeconds", "integer", "Timeout of the list or watch call."),
    _q("watch", "boolean", "Watch for changes and stream them as events."),
]
P_DELETE = [
    P_DRY_RUN,
    _q("gracePeriodSeconds", "integer", "Seconds before the object is deleted; 0 deletes immediately."),
    _q(
        "ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "Delete an object that cannot be read."
    ),
    _q("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    _q(
        "propagationPolicy",
        "string",
        "Whether and how dependents are garbage-collected: Orphan, Background, Foreground.",
    ),
]


def _camel_group(info: ResourceInfo) -> str:
    if not info.group:
        return "Core"
    group = info.group if info.crd else info.group.removesuffix(".k8s.io").split(".")[0]
    return "".join(part[:1].upper() + part[1:] for part in group.replace("-", ".").split("."))


def _tag(info: ResourceInfo) -> str:
    camel = _camel_group(info)
    return "%s_%s" % (camel[:1].lower() + camel[1:], info.version)


def _resource_paths(info: ResourceInfo) -> dict[str, _PathItem]:
    """Operations of one resource, its subresources and its all-namespaces list."""
    prefix = "/apis/%s/%s" % (info.group, info.version) if info.group else "/api/%s" % info.version
    gv = _camel_group(info) + info.version[:1].upper() + info.version[1:]
    scope = "Namespaced" if info.namespaced else ""
    tag = _tag(info)
    gvk = (info.group, info.version, info.kind)
    obj, lst = schema_name(info), schema_name(info, info.list_kind)
    writes = [P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION]
    patch_types = (*PATCH_TYPES, STRATEGIC_MERGE) if not info.crd else PATCH_TYPES
    name_param = _Param("name", "path", "string", "name of the %s" % info.kind)
    ns_param = _Param(
        "namespace", "path", "string", "object name and auth scope, such as for teams and projects"
    )
    base = ([ns_param] if info.namespaced else []) + [P_PRETTY]
    collection = "%s%s/%s" % (prefix, "/namespaces/{namespace}" if info.namespaced else "", info.plural)
    item = collection + "/{name}"
    verbs = set(info.verbs)
    kind = info.kind
    paths: dict[str, _PathItem] = {}

    ops = []
    if "list" in verbs:
        ops.append(
            _Op(
                "get",
                "list%s%s%s" % (gv, scope, kind),
                "list",
                "list or watch objects of kind %s" % kind,
                gvk,
                tag,
                P_LIST,
                [("200", "OK", lst)],
                LIST_TYPES,
            )
        )
    if "create" in verbs:
        ops.append(
            _Op(
                "post",
                "create%s%s%s" % (gv, scope, kind),
                "post",
                "create a %s" % kind,
                gvk,
                tag,
                writes,
                [("200", "OK", obj), ("201", "Created", obj), ("202", "Accepted", obj)],
                body=obj,
            )
        )
    if "deletecollection" in verbs:
        ops.append(
            _Op(
                "delete",
                "delete%sCollection%s%s" % (gv, scope, kind),
                "deletecollection",
                "delete collection of %s" % kind,
                gvk,
                tag,
                [
                    P_LIST[1],
                    P_DRY_RUN,
                    P_LIST[2],
                    P_DELETE[1],
                    P_DELETE[2],
                    P_LIST[3],
                    P_LIST[4],
                    P_DELETE[3],
                    P_DELETE[4],
                    P_LIST[5],
                    P_LIST[6],
                    P_LIST[7],
                    P_LIST[8],
                ],
                [("200", "OK", STATUS)],
                body=DELETE_OPTIONS,
                body_required=False,
            )
        )
    if ops:
        paths[collection] = _PathItem(base, ops)

    ops = []
    if "get" in verbs:
        ops.append(
            _Op(
                "get",
                "read%s%s%s" % (gv, scope, kind),
                "get",
                "read the specified %s" % kind,
                gvk,
                tag,
                [],
                [("200", "OK", obj)],
            )
        )
    if "update" in verbs:
        ops.append(
            _Op(
                "put",
                "replace%s%s%s" % (gv, scope, kind),
                "put",
                "replace the specified %s" % kind,
                gvk,
                tag,
                writes,
                [("200", "OK", obj), ("201", "Created", obj)],
                body=obj,
            )
        )
    if "delete" in verbs:
        ops.append(
            _Op(
                "delete",
                "delete%s%s%s" % (gv, scope, kind),
                "delete",
                "delete a %s" % kind,
                gvk,
                tag,
                P_DELETE,
                [("200", "OK", STATUS), ("202", "Accepted", STATUS)],
                body=DELETE_OPTIONS,
                body_required=False,
            )
        )
    if "patch" in verbs:
        ops.append(
            _Op(
                "patch",
                "patch%s%s%s" % (gv, scope, kind),
                "patch",
                "partially update the specified %s" % kind,
                gvk,
                tag,
                [*writes, P_FORCE],
                [("200", "OK", obj), ("201", "Created", obj)],
                body=PATCH,
                body_types=patch_types,
            )
        )
    if ops:
        paths[item] = _PathItem([name_param, *base], ops)

    for sub in sorted(info.subresources):
        sub_gvk = info.subresource_kind(sub)
        sub_schema = obj if sub_gvk == gvk else schemas.GROUP_PREFIXES[sub_gvk[0]] + sub_gvk[2]
        suffix = sub[:1].upper() + sub[1:]
        sub_verbs = set(SUBRESOURCES[sub].verbs)
        ops = []
        what = "%s of the specified %s" % (sub, kind)
        if "create" in sub_verbs:
            ops.append(
                _Op(
                    "post",
                    "create%s%s%s%s" % (gv, scope, kind, suffix),
                    "post",
                    "create %s" % what,
                    sub_gvk,
                    tag,
                    writes,
                    [
                        ("200", "OK", sub_schema),
                        ("201", "Created", sub_schema),
                        ("202", "Accepted", sub_schema),
                    ],
                    body=sub_schema,
                )
            )
        if "get" in sub_verbs:
            ops.append(
                _Op(
                    "get",
                    "read%s%s%s%s" % (gv, scope, kind, suffix),
                    "get",
                    "read %s" % what,
                    sub_gvk,
                    tag,
                    [],
                    [("200", "OK", sub_schema)],
                )
            )
        if "update" in sub_verbs:
            ops.append(
                _Op(
                    "put",
                    "replace%s%s%s%s" % (gv, scope, kind, suffix),
                    "put",
                    "replace %s" % what,
                    sub_gvk,
                    tag,
                    writes,
                    [("200", "OK", sub_schema), ("201", "Created", sub_schema)],
                    body=sub_schema,
                )
            )
        if "patch" in sub_verbs:
            ops.append(
                _Op(
                    "patch",
                    "patch%s%s%s%s" % (gv, scope, kind, suffix),
                    "patch",
                    "partially update %s" % what,
                    sub_gvk,
                    tag,
                    [*writes, P_FORCE],
                    [("200", "OK", sub_schema), ("201", "Created", sub_schema)],
                    body=PATCH,
                    body_types=patch_types,
                )
            )
        paths["%s/%s" % (item, sub)] = _PathItem(
            [_Param("name", "path", "string", "name of the %s" % sub_schema.rsplit(".", 1)[-1]), *base], ops
        )

    if info.namespaced and "list" in verbs:
        paths["%s/%s" % (prefix, info.plural)] = _PathItem(
            [P_PRETTY],
            [
                _Op(
                    "get",
                    "list%s%sForAllNamespaces" % (gv, kind),
                    "list",
                    "list or watch objects of kind %s" % kind,
                    gvk,
                    tag,
                    P_LIST,
                    [("200", "OK", lst)],
                    LIST_TYPES,
                )
            ],
        )
    return paths


def _v3_ref(name: str) -> Schema:
    return {"$ref": schemas.REF_PREFIX + name}


def _v3_param(p: _Param) -> Schema:
    out: Schema = {"name": p.name, "in": p.location, "description": p.description}
    if p.location == "path":
        out["required"] = True
    out["schema"] = {"type": p.type, "uniqueItems": True}
    return out


def _v3_op(op: _Op) -> Schema:
    out: Schema = {
        "tags": [op.tag],
        "description": op.description,
        "operationId": op.operation_id,
    }
    if op.query:
        out["parameters"] = [_v3_param(p) for p in op.query]
    if op.body is not None:
        out["requestBody"] = {"content": {t: {"schema": _v3_ref(op.body)} for t in op.body_types}}
        if op.body_required:
            out["requestBody"]["required"] = True
    responses: Schema = {}
    for code, description, name in op.responses:
        responses[code] = {"description": description}
        if name is not None:
            responses[code]["content"] = {t: {"schema": _v3_ref(name)} for t in op.produces}
    responses["401"] = {"description": "Unauthorized"}
    out["responses"] = responses
    out["x-kubernetes-action"] = op.action
    out["x-kubernetes-group-version-kind"] = {"group": op.gvk[0], "version": op.gvk[1], "kind": op.gvk[2]}
    return out


def _paths_v3(infos: Iterable[ResourceInfo]) -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for info in infos:
        for path, item in _resource_paths(info).items():
            rendered: Schema = {op.method: _v3_op(op) for op in item.ops}
            rendered["parameters"] = [_v3_param(p) for p in item.params]
            out[path] = rendered
    return out


# -- components ----------------------------------------------------------------------------------------

_COMMON = (OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH)


def _kind_schema(info: ResourceInfo) -> Schema:
    """The component schema of a resource's kind; for CRDs built from their openAPIV3Schema."""
    if not info.crd:
        return schemas.DEFINITIONS[schema_name(info)]
    schema = dict(info.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = schemas.string(
        "APIVersion defines the versioned schema of this representation of an object."
    )
    properties["kind"] = schemas.string(
        "Kind is a string value representing the REST resource this object represents."
    )
    properties["metadata"] = schemas.ref(OBJECT_META, "Standard object's metadata.")
    schema["type"] = "object"
    schema["properties"] = properties
    schema["x-kubernetes-group-version-kind"] = [
        {"group": info.group, "kind": info.kind, "version": info.version}
    ]
    return schema


def _list_schema(info: ResourceInfo) -> Schema:
    return {
        "description": "%s is a list of %s" % (info.list_kind, info.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": schemas.string(
                "APIVersion defines the versioned schema of this representation of an object."
            ),
            "items": {
                "description": "List of %s." % info.plural,
                "type": "array",
                "items": _v3_ref(schema_name(info)),
            },
            "kind": schemas.string(
                "Kind is a string value representing the REST resource this object represents."
            ),
            "metadata": schemas.ref(LIST_META, "Standard list metadata."),
        },
        "x-kubernetes-group-version-kind": [
            {"group": info.group, "kind": info.list_kind, "version": info.version}
        ],
    }


def _components(infos: list[ResourceInfo]) -> dict[str, Schema]:
    needed: set[str] = set()
    out: dict[str, Schema] = {}
    for info in infos:
        out[schema_name(info)] = _kind_schema(info)
        out[schema_name(info, info.list_kind)] = _list_schema(info)
        if not info.crd:
            needed |= schemas.references(schema_name(info))
        for sub in info.subresources:
            group, _, kind = info.subresource_kind(sub)
            if (group, kind) != (info.group, info.kind):
                needed |= schemas.references(schemas.GROUP_PREFIXES[group] + kind)
    for name in _COMMON:
        needed |= schemas.references(name)
    for name in needed:
        out.setdefault(name, schemas.DEFINITIONS[name])
    return dict(sorted(out.items()))


def _build_v3(reg: Registry, group: str, version: str) -> dict[str, Any]:
    infos = sorted(
        (i for i in reg.resources() if i.group == group and i.version == version), key=lambda i: i.plural
    )
    if not infos:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": _paths_v3(infos),
        "components": {
            "schemas": _components(infos),
            "securitySchemes": {"BearerToken": dict(_SECURITY_SCHEME)},
        },
        "security": [{"BearerToken": []}],
    }


# -- Swagger 2.0 ---------------------------------------------------------------------------------------


def _v2_schema(schema: Any) -> Any:
    """A v3 schema as Swagger 2.0 has it: #/definitions refs, no oneOf/anyOf/not/nullable, and a ref with a
    description as `{"$ref", "description"}` the way Kubernetes writes it."""
    if isinstance(schema, list):
        return [_v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    all_of = schema.get("allOf")
    if (
        isinstance(all_of, list)
        and len(all_of) == 1
        and isinstance(all_of[0], dict)
        and set(all_of[0]) == {"$ref"}
        and set(schema) <= {"allOf", "description", "default"}
    ):
        out: Schema = {"$ref": _v2_ref_target(all_of[0]["$ref"])}
        if "description" in schema:
            out["description"] = schema["description"]
        return out
    out = {}
    for key, value in schema.items():
        if key in _V2_STRIP:
            continue
        if key == "$ref":
            out[key] = _v2_ref_target(value)
        elif key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {k: _v2_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = _v2_schema(value)
        else:
            out[key] = value
    return out


def _v2_ref_target(ref: str) -> str:
    return "#/definitions/" + ref.removeprefix(schemas.REF_PREFIX)


def _v2_param(p: _Param) -> Schema:
    out: Schema = {
        "uniqueItems": True,
        "type": p.type,
        "description": p.description,
        "name": p.name,
        "in": p.location,
    }
    if p.location == "path":
        out["required"] = True
    return out


def _v2_op(op: _Op) -> Schema:
    params = [_v2_param(p) for p in op.query]
    if op.body is not None:
        params.insert(
            0,
            {
                "name": "body",
                "in": "body",
                "required": op.body_required,
                "schema": {"$ref": "#/definitions/" + op.body},
            },
        )
    out: Schema = {
        "description": op.description,
        "consumes": list(op.body_types),
        "produces": list(op.produces),
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.operation_id,
    }
    if params:
        out["parameters"] = params
    responses: Schema = {}
    for code, description, name in op.responses:
        responses[code] = {"description": description}
        if name is not None:
            responses[code]["schema"] = {"$ref": "#/definitions/" + name}
    responses["401"] = {"description": "Unauthorized"}
    out["responses"] = responses
    out["x-kubernetes-action"] = op.action
    out["x-kubernetes-group-version-kind"] = {"group": op.gvk[0], "kind": op.gvk[2], "version": op.gvk[1]}
    return out


def _build_v2(reg: Registry) -> dict[str, Any]:
    infos = sorted(reg.resources(), key=lambda i: (i.group, i.version, i.plural))
    paths: dict[str, Schema] = {}
    for info in infos:
        for path, item in _resource_paths(info).items():
            rendered: Schema = {op.method: _v2_op(op) for op in item.ops}
            rendered["parameters"] = [_v2_param(p) for p in item.params]
            paths[path] = rendered
    definitions = {name: _v2_schema(schema) for name, schema in _components(infos).items()}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": dict(sorted(paths.items())),
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": dict(_SECURITY_SCHEME)},
        "security": [{"BearerToken": []}],
    }
