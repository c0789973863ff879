"""The REST verbs on stored objects: get, list, create, update, patch, delete, deletecollection.

Each write runs synchronously on the event loop from read to commit (storage is synchronous), so a
read-modify-write such as a patch cannot interleave with another write: no retry loop is needed.
A write works at the version its request names (defaults, pruning, validation, patches, managedFields)
and converts to the storage version just before admission and the commit; the object it returns is at
the request's version again.
"""

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from kedge.apiserver import admission, conversion, objects, schema, selectors, smp_meta, validation
from kedge.apiserver import apply as ssa
from kedge.apiserver.errors import ApiError
from kedge.apiserver.patch import apply_patch
from kedge.apiserver.registry import Registry, ResourceInfo
from kedge.apiserver.request import APPLY_PATCH, PATCH_TYPES, Target, media_type, query_bool, query_int
from kedge.apiserver.storage import Storage, Stored

log = logging.getLogger(__name__)

_decode = msgspec.json.decode
NAMESPACES = "namespaces"
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


@dataclass(slots=True)
class WriteResult:
    obj: dict[str, Any]
    status: int = 200
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListOptions:
    label: selectors.LabelSelector | None
    field: selectors.FieldSelector | None
    limit: int
    continue_token: str | None
    resource_version: str

    def matcher(self, kind: str) -> Callable[[dict[str, Any]], bool] | None:
        label, field = self.label, self.field
        if label is None and field is None:
            return None

        def matches(obj: dict[str, Any]) -> bool:
            if label is not None and not label.matches((obj.get("metadata") or {}).get("labels") or {}):
                return False
            return field is None or field.matches(selectors.object_fields(kind, obj))

        return matches


def list_options(info: ResourceInfo, params: Mapping[str, str]) -> ListOptions:
    label = field = None
    text = params.get("labelSelector")
    if text:
        label = selectors.parse_label_selector(text)
    text = params.get("fieldSelector")
    if text:
        field = selectors.parse_field_selector(
            text, supported=selectors.supported_fields(info.kind), kind=info.kind
        )
    limit = query_int(params, "limit", 0) or 0
    if limit < 0:
        raise ApiError.bad_request("limit must not be negative")
    return ListOptions(
        label, field, limit, params.get("continue") or None, params.get("resourceVersion") or ""
    )


def manager_name(params: Mapping[str, str], user_agent: str | None) -> str:
    """fieldManager, or what kube-apiserver derives from the User-Agent (`kubectl/v1.37 (...)` → kubectl)."""
    name = params.get("fieldManager")
    if name:
        if len(name) > 128:
            raise ApiError.invalid(
                "", "", [("fieldManager", "FieldValueTooLong", "Too long: may not be more than 128 bytes")]
            )
        return name
    ua = (user_agent or "unknown").split("/", 1)[0].strip()
    return ua[:128] or "unknown"


def field_validation(params: Mapping[str, str]) -> str:
    value = params.get("fieldValidation") or "Warn"
    if value not in FIELD_VALIDATION:
        raise ApiError.bad_request(
            'fieldValidation must be one of "Ignore", "Warn", or "Strict", got %r' % value
        )
    return value


def dry_run(params: Mapping[str, Any]) -> bool:
    values = params.getall("dryRun", []) if hasattr(params, "getall") else [params.get("dryRun")]
    values = [v for v in values if v]
    for v in values:
        if v != "All":
            raise ApiError.bad_request('Invalid dry run value: %s; accepted values are "All"' % v)
    return bool(values)


class Rest:
    """Verbs over one Storage and Registry. `clock` returns Unix seconds (tests pass a fake)."""

    def __init__(
        self,
        storage: Storage,
        registry: Registry,
        *,
        clock: Callable[[], float] = time.time,
        on_crd: Callable[[str, dict[str, Any] | None], None] | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.clock = clock
        self.on_crd = on_crd
        # namespace -> phase, so creates need not read the namespace from SQLite each time;
        # filled on demand and kept current by observe() from the commit stream.
        self._namespace_phase: dict[str, str] = {}

    def observe(self, event: Any) -> None:
        """Called with every committed storage event (keeps in-memory caches current)."""
        if event.res == NAMESPACES:
            if event.type == "DELETED":
                self._namespace_phase.pop(event.name, None)
            else:
                self._namespace_phase[event.name] = (event.obj.get("status") or {}).get("phase", "Active")

    # -- reads --------------------------------------------------------------------------------

    def get_stored(self, t: Target) -> Stored:
        stored = self.storage.get(t.info.storage_key, t.namespace, t.name)
        if stored is None:
            raise ApiError.not_found(t.info.plural, t.name, t.info.group)
        return stored

    def list_objects(self, t: Target, opts: ListOptions) -> tuple[list[Stored], int, str | None, int | None]:
        ns = t.namespace if t.info.namespaced and t.namespace else None
        revision = None
        rv = opts.resource_version
        if rv and rv != "0" and not opts.continue_token:
            try:
                revision = int(rv)
            except ValueError:
                raise ApiError.bad_request("invalid resourceVersion %r" % rv) from None
            if revision >= self.storage.revision:
                revision = None  # NotOlderThan: the current state satisfies it
        matcher = opts.matcher(t.info.kind)
        predicate = None
        if matcher is not None:

            def predicate(stored: Stored) -> bool:
                return matcher(stored.obj)

        result = self.storage.list(
            t.info.storage_key,
            ns,
            limit=opts.limit,
            continue_token=opts.continue_token,
            revision=revision,
            predicate=predicate,
        )
        return result.items, result.revision, result.continue_token, result.remaining

    # -- create -------------------------------------------------------------------------------

    def create(
        self,
        t: Target,
        obj: dict[str, Any],
        params: Mapping[str, Any],
        user_agent: str | None,
        *,
        managed: bool = False,
    ) -> WriteResult:
        """managed: the object's managedFields are already set (a server-side apply that creates)."""
        info = t.info
        if t.subresource:
            raise ApiError.method_not_allowed(
                "create is not supported on %s/%s" % (info.plural, t.subresource)
            )
        if info.namespaced and not t.namespace:
            raise ApiError.bad_request(
                "the server could not find the requested resource: a namespace is required"
            )
        objects.check_type(info, obj)
        meta = objects.metadata(obj)
        objects.check_namespace(info, meta, t.namespace)
        if info.namespaced:
            self._check_namespace_usable(t.namespace)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = objects.generated_name(str(meta["generateName"]))
        now = self.clock()
        warnings = self._default_and_prune(info, obj, params)
        objects.prepare_create(info, obj, t.namespace, now=now)
        self._validate(info, obj, None)
        name = meta["name"]
        if info.kind == "Service" and not info.group:
            self._allocate_cluster_ip(obj)
        if info.kind == "CustomResourceDefinition":
            self._prepare_crd(obj, None)
        if not managed:
            obj = ssa.record_update(
                None,
                obj,
                manager=manager_name(params, user_agent),
                now=objects.rfc3339(now),
                api_version=info.api_version,
                meta=self._patch_meta(info),
            )
        new = conversion.to_storage_version(info, obj)
        admission.admit(info, new, None, self._lookup, request_obj=obj)
        if dry_run(params):
            if self.storage.get(info.storage_key, t.namespace, name) is not None:
                raise ApiError.already_exists(info.plural, name, info.group)
            return WriteResult(obj, 201, warnings)
        stored = self.storage.create(info.storage_key, t.namespace, name, new, now=now)
        if info.kind == "CustomResourceDefinition" and self.on_crd is not None:
            self.on_crd(name, stored.obj)
        return WriteResult(conversion.to_request_version(info, stored.obj), 201, warnings)

    # -- update and patch ---------------------------------------------------------------------

    def update(
        self, t: Target, obj: dict[str, Any], params: Mapping[str, Any], user_agent: str | None
    ) -> WriteResult:
        stored = self.get_stored(t)
        meta = objects.metadata(obj)
        rv = meta.get("resourceVersion")
        expect = self._expect_rev(rv, t) if rv else None
        if expect is not None and expect != stored.rev:
            raise ApiError.stale(t.info.plural, t.name, t.info.group)
        return self.write(t, stored, obj, params, user_agent, expect_rev=stored.rev)

    def patch(
        self,
        t: Target,
        body: Any,
        content_type: str | None,
        params: Mapping[str, Any],
        user_agent: str | None,
    ) -> WriteResult:
        info = t.info
        media = media_type(content_type)
        if media not in PATCH_TYPES:
            raise smp_meta.unsupported_patch_type(
                PATCH_TYPES
                if self._patch_meta(info) is not None and not info.crd
                else smp_meta.CUSTOM_RESOURCE_PATCH_TYPES
            )
        stored = self.storage.get(info.storage_key, t.namespace, t.name)
        now = self.clock()
        if media == APPLY_PATCH:
            if not isinstance(body, dict):
                raise ApiError.bad_request("the apply patch body must be an object")
            live = (
                objects.json_copy(conversion.to_request_version(info, stored.obj))
                if stored is not None
                else None
            )
            if stored is None and t.subresource:
                raise ApiError.not_found(info.plural, t.name, info.group)
            patched = ssa.server_side_apply(
                live,
                body,
                manager=params.get("fieldManager") or "",
                force=query_bool(params.get("force")),
                meta=self._patch_meta(info),
                now=objects.rfc3339(now),
                api_version=info.api_version,
                kind=info.kind,
                subresource=t.subresource,
                reset_fields=self._reset_fields(info, t.subresource),
            )
            if stored is None:
                meta = objects.metadata(patched)
                meta.setdefault("name", t.name)
                if meta["name"] != t.name:
                    raise ApiError.bad_request(
                        "the name of the object (%s) does not match the name on the URL (%s)"
                        % (meta["name"], t.name)
                    )
                return self.create(Target(info, t.namespace), patched, params, user_agent, managed=True)
            return self.write(t, stored, patched, params, user_agent, expect_rev=stored.rev, managed=True)
        if stored is None:
            raise ApiError.not_found(info.plural, t.name, info.group)
        patched = apply_patch(
            objects.json_copy(conversion.to_request_version(info, stored.obj)),
            media,
            body,
            group=info.group,
            kind=info.kind if not info.crd else "",
        )
        rv = (patched.get("metadata") or {}).get("resourceVersion")
        if rv and rv != stored.obj["metadata"].get("resourceVersion"):
            raise ApiError.stale(info.plural, t.name, info.group)
        return self.write(t, stored, patched, params, user_agent, expect_rev=stored.rev)

    def write(
        self,
        t: Target,
        stored: Stored,
        new: dict[str, Any],
        params: Mapping[str, Any],
        user_agent: str | None,
        *,
        expect_rev: int,
        managed: bool = False,
    ) -> WriteResult:
        info = t.info
        stored_old = stored.obj
        old = conversion.to_request_version(info, stored_old)
        warnings = self._default_and_prune(info, new, params)
        new = objects.prepare_update(info, old, new, subresource=t.subresource)
        self._validate(info, new, old)
        now = self.clock()
        if not managed:
            new = ssa.record_update(
                old,
                new,
                manager=manager_name(params, user_agent),
                now=objects.rfc3339(now),
                api_version=info.api_version,
                meta=self._patch_meta(info),
                subresource=t.subresource,
                reset_fields=self._reset_fields(info, t.subresource),
            )
        if info.kind == "CustomResourceDefinition" and not t.subresource:
            self._prepare_crd(new, old)
        target = conversion.to_storage_version(info, new)
        if target is not new:
            objects.set_generation(stored_old, target)
        if not t.subresource:
            admission.admit(info, target, stored_old, self._lookup, request_obj=new)
        if objects.same_content(stored_old, target):
            return WriteResult(old, 200, warnings)
        if dry_run(params):
            return WriteResult(conversion.to_request_version(info, target), 200, warnings)
        meta = target["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not _pending_graceful(info, target)
        ):
            # The last finalizer is gone from an object being deleted: it goes now.
            deleted = self.storage.delete(info.storage_key, t.namespace, t.name, now=now)
            self._after_delete(info, t.namespace, deleted.obj)
            return WriteResult(conversion.to_request_version(info, deleted.obj), 200, warnings)
        written = self.storage.update(
            info.storage_key, t.namespace, t.name, target, expect_rev=expect_rev, now=now
        )
        if info.kind == "CustomResourceDefinition" and self.on_crd is not None:
            self.on_crd(t.name, written.obj)
        return WriteResult(conversion.to_request_version(info, written.obj), 200, warnings)

    def bind(self, namespace: str, name: str, node: str, *, uid: str | None = None) -> WriteResult:
        """Assign a pod to a node: the pods/binding subresource, also used by the scheduler."""
        info = self.registry.get("", "v1", "pods")
        assert info is not None
        stored = self.get_stored(Target(info, namespace, name))
        pod = stored.obj
        if uid and uid != pod["metadata"].get("uid"):
            raise ApiError.conflict("pods", name, "the UID in the binding does not match the pod")
        spec = pod.get("spec") or {}
        if spec.get("nodeName"):
            raise ApiError.conflict(
                "pods", name, 'pod %s is already assigned to node "%s"' % (name, spec["nodeName"])
            )
        if pod["metadata"].get("deletionTimestamp"):
            raise ApiError.conflict(
                "pods", name, "pod %s is being deleted, cannot be assigned to a host" % name
            )
        status = dict(pod.get("status") or {})
        conditions = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": objects.rfc3339(self.clock()),
            }
        )
        status["conditions"] = conditions
        new = {**pod, "spec": {**spec, "nodeName": node}, "status": status}
        written = self.storage.update(
            info.storage_key, namespace, name, new, expect_rev=stored.rev, now=self.clock()
        )
        return WriteResult(written.obj, 201)

    # -- delete -------------------------------------------------------------------------------

    def delete(self, t: Target, options: dict[str, Any], params: Mapping[str, Any]) -> WriteResult:
        result = self._delete(t, options, params)
        result.obj = conversion.to_request_version(t.info, result.obj)
        return result

    def _delete(self, t: Target, options: dict[str, Any], params: Mapping[str, Any]) -> WriteResult:
        info = t.info
        if t.subresource:
            raise ApiError.method_not_allowed(
                "delete is not supported on %s/%s" % (info.plural, t.subresource)
            )
        stored = self.get_stored(t)
        obj = stored.obj
        meta = obj["metadata"]
        self._check_preconditions(info, obj, options.get("preconditions") or {})
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = query_int(params, "gracePeriodSeconds")
        if dry_run(params) or (options.get("dryRun") or []) == ["All"]:
            return WriteResult(obj, 200)
        now = self.clock()
        policy = options.get("propagationPolicy") or params.get("propagationPolicy") or ""
        if policy not in ("", "Orphan", "Background", "Foreground"):
            raise ApiError.bad_request(
                'propagationPolicy must be one of "Orphan", "Background", "Foreground", got %r' % policy
            )
        graceful = self._grace_period(info, obj, grace)
        if graceful or meta.get("finalizers") or info.kind == "Namespace":
            if meta.get("deletionTimestamp") and not graceful:
                return WriteResult(obj, 202 if info.kind != "Namespace" else 200)
            new = objects.json_copy(obj)
            nmeta = new["metadata"]
            if graceful and (
                not nmeta.get("deletionTimestamp")
                or graceful < nmeta.get("deletionGracePeriodSeconds", graceful + 1)
            ):
                nmeta["deletionTimestamp"] = objects.rfc3339(now + graceful)
                nmeta["deletionGracePeriodSeconds"] = graceful
            elif not nmeta.get("deletionTimestamp"):
                nmeta["deletionTimestamp"] = objects.rfc3339(now)
                nmeta["deletionGracePeriodSeconds"] = 0
            if info.kind == "Namespace":
                new.setdefault("status", {})["phase"] = "Terminating"
            if new == obj:
                return WriteResult(obj, 200)
            written = self.storage.update(
                info.storage_key, t.namespace, t.name, new, expect_rev=stored.rev, now=now
            )
            return WriteResult(written.obj, 200)
        deleted = self.storage.delete(info.storage_key, t.namespace, t.name, now=now)
        self._after_delete(info, t.namespace, deleted.obj, policy)
        return WriteResult(deleted.obj, 200)

    def delete_collection(
        self, t: Target, options: dict[str, Any], params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        info = t.info
        if "deletecollection" not in info.verbs:
            raise ApiError.method_not_allowed("deletecollection is not supported on %s" % info.plural)
        opts = list_options(info, params)
        items, _, _, _ = self.list_objects(
            Target(info, t.namespace), ListOptions(opts.label, opts.field, 0, None, "")
        )
        out = []
        for stored in items:
            meta = stored.obj["metadata"]
            one = Target(info, meta.get("namespace", ""), meta["name"])
            try:
                out.append(self.delete(one, options, params).obj)
            except ApiError as e:
                if e.code != 404:  # deleted meanwhile: that is the goal anyway
                    raise
        return out

    def _grace_period(self, info: ResourceInfo, obj: dict[str, Any], grace: int | None) -> int:
        """Seconds of graceful deletion: only pods bound to a node that may still run them get any;
        the node confirms with a delete of grace 0."""
        if info.kind != "Pod" or info.group:
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace < 0:
            raise ApiError.invalid(
                info.kind,
                obj["metadata"]["name"],
                [("gracePeriodSeconds", "FieldValueInvalid", "Invalid value: %d: must be >= 0" % grace)],
            )
        return int(grace)

    def _after_delete(
        self, info: ResourceInfo, namespace: str, obj: dict[str, Any], policy: str = ""
    ) -> None:
        if info.kind == "CustomResourceDefinition" and self.on_crd is not None:
            self.on_crd(obj["metadata"]["name"], None)
        if info.namespaced and policy != "Orphan":
            self._collect_dependents(namespace, obj["metadata"].get("uid", ""))

    def _collect_dependents(self, namespace: str, owner_uid: str) -> None:
        """Background garbage collection of objects whose ownerReferences name the deleted owner."""
        if not owner_uid:
            return
        for info, stored in self._namespaced_objects(namespace):
            refs = stored.obj["metadata"].get("ownerReferences") or ()
            if any(isinstance(r, dict) and r.get("uid") == owner_uid for r in refs):
                name = stored.obj["metadata"]["name"]
                try:
                    self.delete(Target(info, namespace, name), {}, {})
                except ApiError as e:
                    if e.code != 404:
                        log.warning("garbage collection of %s/%s failed: %s", info.plural, name, e)

    def delete_namespace_contents(self, namespace: str) -> int:
        """Delete every object in a terminating namespace (the namespace controller's job); returns
        how many remain (objects in graceful deletion)."""
        remaining = 0
        for info, stored in self._namespaced_objects(namespace):
            name = stored.obj["metadata"]["name"]
            try:
                result = self.delete(Target(info, namespace, name), {}, {})
            except ApiError as e:
                if e.code == 404:
                    continue
                raise
            if result.obj["metadata"].get("deletionTimestamp") and self.storage.get(
                info.storage_key, namespace, name
            ):
                remaining += 1
        return remaining

    def _namespaced_objects(self, namespace: str) -> Iterator[tuple[ResourceInfo, Stored]]:
        """Every stored object in a namespace, each resource read once (through its storage version)."""
        for info in self.registry.resources():
            if info.namespaced and info.storage_version in ("", info.version):
                for stored in self.storage.list(info.storage_key, namespace).items:
                    yield info, stored

    # -- helpers ------------------------------------------------------------------------------

    def _lookup(self, storage_key: str, namespace: str, name: str) -> dict[str, Any] | None:
        stored = self.storage.get(storage_key, namespace, name)
        return stored.obj if stored is not None else None

    def _expect_rev(self, rv: Any, t: Target) -> int:
        try:
            return int(rv)
        except (TypeError, ValueError):
            raise ApiError.invalid(
                t.info.kind,
                t.name,
                [
                    (
                        "metadata.resourceVersion",
                        "FieldValueInvalid",
                        'Invalid value: "%s": must be a decimal integer' % rv,
                    )
                ],
                t.info.group,
            ) from None

    def _check_preconditions(self, info: ResourceInfo, obj: dict[str, Any], pre: dict[str, Any]) -> None:
        meta = obj["metadata"]
        kind = "%s.%s" % (info.kind, info.group) if info.group else info.kind
        uid = pre.get("uid")
        if uid and uid != meta.get("uid"):
            raise ApiError(
                409,
                "Conflict",
                'Operation cannot be fulfilled on %s "%s": the UID in the precondition (%s) does not match '
                "the UID in record (%s). The object might have been deleted and then recreated"
                % (kind, meta["name"], uid, meta.get("uid")),
                details={
                    "name": meta["name"],
                    "kind": info.plural,
                    **({"group": info.group} if info.group else {}),
                },
            )
        rv = pre.get("resourceVersion")
        if rv and rv != meta.get("resourceVersion"):
            raise ApiError(
                409,
                "Conflict",
                'Operation cannot be fulfilled on %s "%s": the ResourceVersion in the precondition (%s) '
                "does not match the ResourceVersion in record (%s). The object might have been modified"
                % (kind, meta["name"], rv, meta.get("resourceVersion")),
                details={
                    "name": meta["name"],
                    "kind": info.plural,
                    **({"group": info.group} if info.group else {}),
                },
            )

    def _check_namespace_usable(self, namespace: str) -> None:
        phase = self._namespace_phase.get(namespace)
        if phase is None:
            stored = self.storage.get(NAMESPACES, "", namespace)
            if stored is None:
                raise ApiError.not_found(NAMESPACES, namespace)
            phase = self._namespace_phase[namespace] = (stored.obj.get("status") or {}).get("phase", "Active")
        if phase == "Terminating":
            raise ApiError(
                403,
                "Forbidden",
                "unable to create new content in namespace %s because it is being terminated" % namespace,
                details={"name": namespace, "kind": NAMESPACES},
            )

    def _patch_meta(self, info: ResourceInfo) -> Any:
        if info.crd:
            return smp_meta.meta_from_openapi_schema(info.schema or {}, info.kind) if info.schema else None
        return smp_meta.meta_for(info.group, info.kind)

    @staticmethod
    def _reset_fields(info: ResourceInfo, subresource: str) -> tuple[str, ...]:
        if "status" not in info.subresources:
            return ()
        return ("status",) if not subresource else ()

    def _default_and_prune(
        self, info: ResourceInfo, obj: dict[str, Any], params: Mapping[str, Any]
    ) -> tuple[str, ...]:
        mode = field_validation(params)
        if info.crd:
            unknown = schema.prune(obj, info.schema or {}) if info.schema else []
            schema.apply_defaults(obj, info.schema)
        else:
            objects.apply_defaults(info, obj)
            unknown = []
        if not unknown or mode == "Ignore":
            return ()
        messages = tuple('unknown field "%s"' % p for p in unknown)
        if mode == "Strict":
            raise ApiError.bad_request("strict decoding error: " + ", ".join(messages))
        return messages

    def _validate(self, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        name = (obj.get("metadata") or {}).get("name") or ""
        if info.crd:
            causes = validation.validate_metadata(
                obj, namespaced=info.namespaced, name_rule="subdomain", require_name=True, old=old
            )
            if info.schema:
                causes += schema.validate_against(obj, info.schema)
        else:
            causes = validation.validate_builtin(info.kind, obj, old=old)
        validation.raise_if_invalid(info.kind, name, causes, info.group)

    def _allocate_cluster_ip(self, svc: dict[str, Any]) -> None:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        if spec.get("clusterIP"):
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            return
        used = set()
        for stored in self.storage.list("services").items:
            ip = (stored.obj.get("spec") or {}).get("clusterIP")
            if ip:
                used.add(ip)
        spec["clusterIP"] = objects.allocate_cluster_ip(used)
        spec["clusterIPs"] = [spec["clusterIP"]]

    def _prepare_crd(self, crd: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Check the definition as the registry will take it (so nothing is stored that then cannot be
        served), and set the status conditions clients wait on."""
        self.registry.check_crd(crd)
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", str(names.get("plural", "")))
        names.setdefault("listKind", str(names.get("kind", "")) + "List")
        now = objects.rfc3339(self.clock())
        prior = {c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or ()}

        def condition(type_: str, reason: str, message: str) -> dict[str, Any]:
            was = prior.get(type_)
            since = was["lastTransitionTime"] if was and was.get("status") == "True" else now
            return {
                "type": type_,
                "status": "True",
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }

        crd["status"] = {
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "acceptedNames": names,
            "storedVersions": sorted(
                {v["name"] for v in spec.get("versions") or () if isinstance(v, dict) and v.get("storage")}
                | set(((old or {}).get("status") or {}).get("storedVersions") or ())
            ),
        }


def _pending_graceful(info: ResourceInfo, obj: dict[str, Any]) -> bool:
    """A bound pod in graceful deletion stays until its node confirms (delete with grace 0)."""
    return (
        info.kind == "Pod"
        and not info.group
        and bool((obj.get("spec") or {}).get("nodeName"))
        and (obj["metadata"].get("deletionGracePeriodSeconds", 0) > 0)
    )
