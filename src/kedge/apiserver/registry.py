"""The resource registry: which kinds the API server serves, under which names, and how they print.

Built-in resources are registered once (kedge.apiserver.builtin); CustomResourceDefinitions add and
remove theirs at runtime. Discovery, OpenAPI and the REST handlers read from here, and cache on
`Registry.generation`, which changes whenever the set of resources does.
"""

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kedge.apiserver import jsonpath
from kedge.apiserver.errors import ApiError

CRD_GROUP = "apiextensions.k8s.io"
DEFAULT_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

#: A computed Table cell: (object, now) -> cell value (str, int, float, bool or None).
CellFunction = Callable[[Mapping[str, Any], datetime], Any]
#: Table row conditions for an object, e.g. pods that completed.
RowConditions = Callable[[Mapping[str, Any]], list[dict[str, str]]]
#: A validation failure: (field, reason such as FieldValueInvalid, message), as ApiError.invalid takes it.
Cause = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Subresource:
    """What a subresource answers with and to: discovery lists it as `<plural>/<name>`."""

    name: str
    verbs: tuple[str, ...]
    #: (group, version, kind) of the object it takes and returns; None means the parent's kind.
    kind: tuple[str, str, str] | None = None


#: The subresources the registry knows how to describe. Verbs and kinds as kube-apiserver lists them.
SUBRESOURCES: dict[str, Subresource] = {
    "status": Subresource("status", ("get", "patch", "update")),
    "scale": Subresource("scale", ("get", "patch", "update"), ("autoscaling", "v1", "Scale")),
    "binding": Subresource("binding", ("create",), ("", "v1", "Binding")),
}


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One Table column. The cell comes from `json_path` (a CRD-style JSONPath) or from `compute`."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""
    compute: CellFunction | None = None

    def __post_init__(self) -> None:
        if bool(self.json_path) == (self.compute is not None):
            raise ValueError("printer column %r needs exactly one of json_path and compute" % self.name)
        if self.json_path:
            jsonpath.compile_path(self.json_path)


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """Everything the server needs to know about one served group/version/resource."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    #: Table columns besides NAME (AGE is a column too). A column with format "name" replaces the leading
    #: NAME column, for kinds whose name is not printed first (events).
    printer_columns: tuple[PrinterColumn, ...] = ()
    #: OpenAPI v3 schema of the object, self-contained (no $ref); for CRDs their openAPIV3Schema.
    schema: Mapping[str, Any] | None = None
    crd: str = ""
    storage_version: str = ""
    row_conditions: RowConditions | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(self.subresources - SUBRESOURCES.keys())
        if unknown:
            raise ValueError("%s: unknown subresources %s" % (self.plural, ", ".join(unknown)))

    @property
    def api_version(self) -> str:
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def storage_key(self) -> str:
        """The resource's name independent of version: `pods`, `deployments.apps`."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    @property
    def storage_version_hash(self) -> str:
        """As kube-apiserver computes it for discovery: changes when the storage version changes."""
        digest = hashlib.sha256(
            ("%s/%s/%s" % (self.group, self.storage_version or self.version, self.kind)).encode()
        ).digest()
        return base64.b64encode(digest[:8]).decode()

    def subresource_kind(self, name: str) -> tuple[str, str, str]:
        """(group, version, kind) a subresource of this resource takes and returns."""
        return SUBRESOURCES[name].kind or (self.group, self.version, self.kind)


class Registry:
    """The served resources, indexed by group/version/resource and by apiVersion/kind."""

    def __init__(self, resources: Iterable[ResourceInfo] = ()) -> None:
        self._by_resource: dict[tuple[str, str, str], ResourceInfo] = {}
        self._by_kind: dict[tuple[str, str], ResourceInfo] = {}
        self._crds: dict[str, list[ResourceInfo]] = {}
        self._builtin_groups: list[str] = []
        #: Bumped on every change; caches of derived documents key on it.
        self.generation = 0
        for info in resources:
            self._add(info)
            if info.group not in self._builtin_groups:
                self._builtin_groups.append(info.group)

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_resource.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceInfo | None:
        return self._by_kind.get((api_version, kind))

    def resources(self) -> list[ResourceInfo]:
        return list(self._by_resource.values())

    def crd_resources(self, crd_name: str) -> list[ResourceInfo]:
        return list(self._crds.get(crd_name, ()))

    def groups(self) -> list[tuple[str, list[str]]]:
        """Group -> served versions, preferred first. Core first, built-in groups, then CRD groups by name."""
        versions: dict[str, set[str]] = {}
        for group, version, _ in self._by_resource:
            versions.setdefault(group, set()).add(version)
        builtin = [g for g in self._builtin_groups if g in versions]
        custom = sorted(g for g in versions if g not in self._builtin_groups)
        return [(g, sorted(versions[g], key=version_priority_key)) for g in builtin + custom]

    def check_crd(self, crd: Mapping[str, Any]) -> list[ResourceInfo]:
        """The resources a CustomResourceDefinition would serve, without registering them.

        Raises ApiError (Invalid) when the definition is malformed or its names clash with resources
        served already, so a writer can refuse it before storing it.
        """
        causes = validate_crd(crd)
        name = crd.get("metadata", {}).get("name", "")
        if causes:
            raise ApiError.invalid("CustomResourceDefinition", name, causes, CRD_GROUP)
        infos = resources_from_crd(crd)
        clashes = self._clashes(name, infos)
        if clashes:
            raise ApiError.invalid("CustomResourceDefinition", name, clashes, CRD_GROUP)
        return infos

    def add_crd(self, crd: Mapping[str, Any]) -> list[ResourceInfo]:
        """Register every served version of a CustomResourceDefinition, replacing what it had before
        (ApiError as in check_crd)."""
        infos = self.check_crd(crd)
        name = crd.get("metadata", {}).get("name", "")
        for old in self._crds.pop(name, ()):
            self._remove(old)
        for info in infos:
            self._add(info)
        self._crds[name] = infos
        self.generation += 1
        return list(infos)

    def remove_crd(self, crd_name: str) -> None:
        """Stop serving a CRD's resources; a name that is not registered is ignored."""
        infos = self._crds.pop(crd_name, None)
        if infos is None:
            return
        for info in infos:
            self._remove(info)
        self.generation += 1

    def _clashes(self, crd_name: str, infos: list[ResourceInfo]) -> list[Cause]:
        """Names of `infos` already served by a built-in resource or another CRD."""
        causes = []
        for info in infos:
            taken = (
                (
                    "%s/%s %s" % (info.group, info.version, info.plural),
                    self.get(info.group, info.version, info.plural),
                ),
                ("%s %s" % (info.api_version, info.kind), self.by_kind(info.api_version, info.kind)),
            )
            for what, held in taken:
                if held is not None and held.crd != crd_name:
                    owner = 'CustomResourceDefinition "%s"' % held.crd if held.crd else "a built-in resource"
                    causes.append(_invalid("spec.names", what, "already served by " + owner))
        return causes

    def _add(self, info: ResourceInfo) -> None:
        key = (info.group, info.version, info.plural)
        if key in self._by_resource:
            raise ValueError("resource %s/%s %s is registered twice" % key)
        self._by_resource[key] = info
        self._by_kind[(info.api_version, info.kind)] = info

    def _remove(self, info: ResourceInfo) -> None:
        self._by_resource.pop((info.group, info.version, info.plural), None)
        self._by_kind.pop((info.api_version, info.kind), None)


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STABILITY = {"alpha": 0, "beta": 1, None: 2}


def version_priority_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key putting versions in Kubernetes' priority order: v2, v1, v1beta2, v1beta1, v1alpha1, then
    versions that do not look like Kubernetes versions, alphabetically."""
    m = _KUBE_VERSION.match(version)
    if m is None:
        return (1, 0, 0, 0, version)
    stability = _STABILITY[m.group(2)]
    return (0, -stability, -int(m.group(1)), -int(m.group(3) or 0), version)


# -- CustomResourceDefinitions -------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
_SCHEMA_TYPES = ("object", "array", "string", "integer", "number", "boolean")
_DEFAULT_CRD_COLUMNS = (
    PrinterColumn(
        "Age",
        "date",
        ".metadata.creationTimestamp",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
)


def _invalid(field_path: str, value: Any, detail: str) -> Cause:
    shown = '"%s"' % value if isinstance(value, str) else json.dumps(value, default=str)
    return (field_path, "FieldValueInvalid", "Invalid value: %s: %s" % (shown, detail))


def _required(field_path: str) -> Cause:
    return (field_path, "FieldValueRequired", "Required value")


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """The checks kube-apiserver makes that matter for serving: names, versions, columns, and a
    structural schema. Returns (field, reason, message) causes; empty when the definition is valid."""
    causes: list[Cause] = []
    name = crd.get("metadata", {}).get("name", "")
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        return [_required("spec")]
    names = spec.get("names") or {}
    versions = spec.get("versions") or []
    if not isinstance(names, Mapping):
        return [_invalid("spec.names", names, "must be an object")]
    if not isinstance(versions, list) or not all(isinstance(v, Mapping) for v in versions):
        return [_invalid("spec.versions", versions, "must be a list of objects")]
    group = spec.get("group", "")
    plural = names.get("plural", "")
    if not group:
        causes.append(_required("spec.group"))
    elif not _DNS_SUBDOMAIN.match(group) or "." not in group:
        causes.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        causes.append(_required("spec.names.plural"))
    elif not _DNS_LABEL.match(plural):
        causes.append(_invalid("spec.names.plural", plural, "must be a lowercase DNS-1035 label"))
    singular = names.get("singular")
    if singular and not _DNS_LABEL.match(singular):
        causes.append(_invalid("spec.names.singular", singular, "must be a lowercase DNS-1035 label"))
    for i, short in enumerate(names.get("shortNames") or ()):
        if not _DNS_LABEL.match(short):
            causes.append(
                _invalid("spec.names.shortNames[%d]" % i, short, "must be a lowercase DNS-1035 label")
            )
    kind = names.get("kind", "")
    if not kind:
        causes.append(_required("spec.names.kind"))
    elif not _KIND.match(kind):
        causes.append(_invalid("spec.names.kind", kind, "must be a valid kind name"))
    list_kind = names.get("listKind")
    if kind and list_kind and list_kind != kind + "List":
        # Lists are always served as <Kind>List here; refuse rather than answer with another kind.
        causes.append(_invalid("spec.names.listKind", list_kind, 'must be spec.names.kind+"List"'))
    if group and plural and name != "%s.%s" % (plural, group):
        causes.append(_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(
            (
                "spec.scope",
                "FieldValueNotSupported",
                'Unsupported value: "%s": supported values: "Cluster", "Namespaced"' % scope,
            )
        )
    if not versions:
        causes.append(_required("spec.versions"))
    storage = [v.get("name") for v in versions if v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(
            _invalid(
                "spec.versions",
                [v.get("name") for v in versions],
                "must have exactly one version marked as storage version",
            )
        )
    seen: set[str] = set()
    for i, version in enumerate(versions):
        causes.extend(_validate_version(version, "spec.versions[%d]" % i, seen))
    return causes


def _validate_version(version: Mapping[str, Any], path: str, seen: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    vname = version.get("name", "")
    if not vname:
        causes.append(_required(path + ".name"))
    elif not _DNS_LABEL.match(vname):
        causes.append(_invalid(path + ".name", vname, "must be a lowercase DNS-1035 label"))
    elif vname in seen:
        causes.append((path + ".name", "FieldValueDuplicate", 'Duplicate value: "%s"' % vname))
    seen.add(vname)
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    if schema is None:
        causes.append(_required(path + ".schema.openAPIV3Schema"))
    elif not isinstance(schema, Mapping):
        causes.append(_invalid(path + ".schema.openAPIV3Schema", schema, "must be a schema object"))
    else:
        schema_path = path + ".schema.openAPIV3Schema"
        if schema.get("type") != "object":
            causes.append(
                _invalid(schema_path + ".type", schema.get("type", ""), "must be object at the root")
            )
        causes.extend(_structural(schema, schema_path))
    for j, column in enumerate(version.get("additionalPrinterColumns") or ()):
        cpath = "%s.additionalPrinterColumns[%d]" % (path, j)
        if not column.get("name"):
            causes.append(_required(cpath + ".name"))
        if column.get("type") not in _COLUMN_TYPES:
            causes.append(
                (
                    cpath + ".type",
                    "FieldValueNotSupported",
                    'Unsupported value: "%s": supported values: %s'
                    % (column.get("type", ""), ", ".join('"%s"' % t for t in _COLUMN_TYPES)),
                )
            )
        expression = column.get("jsonPath", "")
        if not expression:
            causes.append(_required(cpath + ".jsonPath"))
        else:
            try:
                jsonpath.compile_path(expression)
            except jsonpath.JsonPathError as exc:
                causes.append(_invalid(cpath + ".jsonPath", expression, str(exc)))
    return causes


def _structural(schema: Any, path: str, *, value_validation: bool = False) -> list[Cause]:
    """Structural-schema rules: every node typed (or int-or-string / preserve-unknown), no $ref,
    properties only on objects, items only on arrays and a single schema."""
    if not isinstance(schema, Mapping):
        return [_invalid(path, schema, "must be a schema object")]
    causes: list[Cause] = []
    if "$ref" in schema:
        causes.append((path + ".$ref", "FieldValueForbidden", "Forbidden: $ref is not supported"))
    type_ = schema.get("type")
    if type_ is not None and type_ not in _SCHEMA_TYPES:
        causes.append(
            (
                path + ".type",
                "FieldValueNotSupported",
                'Unsupported value: "%s": supported values: %s'
                % (type_, ", ".join('"%s"' % t for t in _SCHEMA_TYPES)),
            )
        )
    if value_validation:
        for key in ("type", "properties", "items", "additionalProperties", "description", "default"):
            if key in schema:
                causes.append(
                    (path + "." + key, "FieldValueForbidden", "Forbidden: must be empty to be structural")
                )
    elif (
        not type_
        and not schema.get("x-kubernetes-int-or-string")
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        causes.append(_required(path + ".type"))
    if "properties" in schema and schema.get("additionalProperties") not in (None, False):
        causes.append(
            (
                path + ".additionalProperties",
                "FieldValueForbidden",
                "Forbidden: additionalProperties and properties are mutual exclusive",
            )
        )
    for key, sub in (schema.get("properties") or {}).items():
        causes.extend(_structural(sub, "%s.properties[%s]" % (path, key)))
    if "properties" in schema and type_ not in (None, "object"):
        causes.append(_invalid(path + ".type", type_, "must be object when properties are given"))
    items = schema.get("items")
    if items is not None:
        if type_ not in (None, "array"):
            causes.append(_invalid(path + ".type", type_, "must be array when items are given"))
        if isinstance(items, list):
            causes.append(
                (
                    path + ".items",
                    "FieldValueForbidden",
                    "Forbidden: items must be a schema object, not an array",
                )
            )
        else:
            causes.extend(_structural(items, path + ".items"))
    elif type_ == "array":
        causes.append(_required(path + ".items"))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        causes.extend(_structural(extra, path + ".additionalProperties"))
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key) or ()):
            causes.extend(_structural(sub, "%s.%s[%d]" % (path, key, i), value_validation=True))
    if "not" in schema:
        causes.extend(_structural(schema["not"], path + ".not", value_validation=True))
    return causes


def resources_from_crd(crd: Mapping[str, Any]) -> list[ResourceInfo]:
    """The ResourceInfo of every served version of a (valid) CustomResourceDefinition."""
    spec = crd["spec"]
    names = spec["names"]
    kind = names["kind"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    infos = []
    for version in spec["versions"]:
        if not version.get("served"):
            continue
        subresources = set((version.get("subresources") or {}).keys()) & SUBRESOURCES.keys()
        columns = tuple(
            PrinterColumn(
                c["name"],
                c["type"],
                c["jsonPath"],
                c.get("description")
                or "Custom resource definition column (in JSONPath format): %s" % c["jsonPath"],
                int(c.get("priority", 0)),
                c.get("format", ""),
            )
            for c in version.get("additionalPrinterColumns") or ()
        )
        infos.append(
            ResourceInfo(
                group=spec["group"],
                version=version["name"],
                kind=kind,
                plural=names["plural"],
                singular=names.get("singular") or kind.lower(),
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subresources),
                printer_columns=columns or _DEFAULT_CRD_COLUMNS,
                schema=copy.deepcopy(version["schema"]["openAPIV3Schema"]),
                crd=crd["metadata"]["name"],
                storage_version=storage,
            )
        )
    return sorted(infos, key=lambda i: version_priority_key(i.version))
