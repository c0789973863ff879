"""The HTTP face of the API server: one aiohttp handler that routes by path, as kube-apiserver does.

One catch-all route (no per-request middleware chain) keeps the per-request cost low; paths are
resolved against the live registry, so CRDs appear and disappear without re-routing.
"""

import asyncio
import hmac
import logging
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from kedge.apiserver import conversion, discovery, openapi, selectors, tables
from kedge.apiserver.errors import ApiError
from kedge.apiserver.patch import apply_patch
from kedge.apiserver.registry import Registry, ResourceInfo
from kedge.apiserver.request import (
    MAX_BODY,
    Accept,
    GroupVersion,
    Target,
    decode_body,
    decode_object,
    negotiate,
    query_bool,
    query_int,
    resolve,
)
from kedge.apiserver.rest import Rest, WriteResult, list_options
from kedge.apiserver.storage import Storage, Stored
from kedge.apiserver.watch import (
    ChunkSink,
    Watcher,
    WatchHub,
    bookmark_line,
    error_line,
    event_line,
    transition,
)

log = logging.getLogger(__name__)

_encode = msgspec.json.encode
JSON_TYPE = "application/json"
#: How often an idle watch that asked for bookmarks gets one (kube-apiserver: about once a minute).
BOOKMARK_INTERVAL = 60.0
#: How often an idle watch checks that its client is still there. aiohttp does not cancel a handler
#: whose client went away, so without this a watch nobody reads would live until its timeout (minutes).
DISCONNECT_POLL = 5.0
#: kube-apiserver's --min-request-timeout: watches without timeoutSeconds end after 1-2x this.
MIN_REQUEST_TIMEOUT = 1800.0
_PUBLIC_PATHS = frozenset(("/healthz", "/livez", "/readyz", "/version", "/version/"))


class Api:
    """Request handling for one API server: auth, routing, representation."""

    def __init__(
        self,
        storage: Storage,
        registry: Registry,
        rest: Rest,
        hub: WatchHub,
        *,
        tokens: Iterable[str],
        clock: Callable[[], float],
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.rest = rest
        self.hub = hub
        self.tokens = tuple(t.encode() for t in tokens)
        self.clock = clock
        self.ready = False

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY + 1)
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    # -- entry --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            path = request.path
            if path not in _PUBLIC_PATHS:
                self._authenticate(request)
            if path.startswith("/api/") or path.startswith("/apis/"):
                target = resolve(self.registry, path)
                if isinstance(target, GroupVersion):
                    return self._json(
                        discovery.api_resource_list(self.registry, target.group, target.version)
                    )
                return await self._resource(request, target)
            return await self._other(request, path)
        except ApiError as e:
            return self._error(e)
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug: answer like kube-apiserver does and keep serving
            log.exception("error serving %s %s", request.method, request.path_qs)
            return self._error(ApiError.internal(repr(e)))

    def _authenticate(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip().encode()
            for known in self.tokens:
                if hmac.compare_digest(token, known):
                    return
        raise ApiError.unauthorized()

    async def _other(self, request: web.Request, path: str) -> web.StreamResponse:
        if request.method != "GET":
            raise ApiError.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        accept = request.headers.get("Accept", "")
        if path in ("/healthz", "/livez", "/readyz"):
            ok = self.ready or path == "/livez"
            return web.Response(text="ok" if ok else "not ready", status=200 if ok else 500)
        if path in ("/version", "/version/"):
            return self._json(discovery.version_info())
        if path in ("/api", "/api/"):
            if "as=APIGroupDiscoveryList" in accept:
                return self._json(
                    discovery.aggregated(self.registry, core=True), discovery.AGGREGATED_CONTENT_TYPE
                )
            return self._json(discovery.api_versions(request.host))
        if path in ("/apis", "/apis/"):
            if "as=APIGroupDiscoveryList" in accept:
                return self._json(
                    discovery.aggregated(self.registry, core=False), discovery.AGGREGATED_CONTENT_TYPE
                )
            return self._json(discovery.api_group_list(self.registry))
        if path.startswith("/apis/") and path.count("/") == 2:
            return self._json(discovery.api_group(self.registry, path.split("/")[2]))
        if path == "/openapi/v2":
            if "json" not in accept and "*/*" not in accept and accept:
                raise ApiError.not_acceptable("only application/json is served for /openapi/v2")
            body, digest = openapi.v2_document_bytes(self.registry)
            return web.Response(body=body, content_type=JSON_TYPE, headers={"ETag": '"%s"' % digest})
        if path == "/openapi/v3":
            return self._json(openapi.v3_index(self.registry))
        if path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/") :].strip("/").split("/")
            if rest[0] == "api" and len(rest) == 2:
                group, version = "", rest[1]
            elif rest[0] == "apis" and len(rest) == 3:
                group, version = rest[1], rest[2]
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            body, digest = openapi.v3_document_bytes(self.registry, group, version)
            return web.Response(
                body=body,
                content_type=JSON_TYPE,
                headers={"ETag": '"%s"' % digest, "Cache-Control": "public, immutable"},
            )
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    # -- resources ----------------------------------------------------------------------------

    async def _resource(self, request: web.Request, t: Target) -> web.StreamResponse:
        method = request.method
        params = request.query
        info = t.info
        if method == "GET":
            accept = negotiate(request.headers.get("Accept"))
            if t.is_collection:
                if query_bool(params.get("watch")):
                    return await self._watch(request, t, accept)
                return self._list(t, params, accept)
            stored = self.rest.get_stored(t)
            if t.subresource == "scale":
                return self._json(_scale(stored.obj))
            return self._object(stored, info, accept)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            body = await self._read_body(request)
            ua = request.headers.get("User-Agent")
            ctype = request.headers.get("Content-Type")
            if method == "POST":
                if not t.is_collection:
                    if t.subresource == "binding":
                        return self._json(self._bind(t, decode_object(body, ctype)), status=201)
                    raise ApiError.method_not_allowed("POST is not supported on a single %s" % info.singular)
                return self._written(self.rest.create(t, decode_object(body, ctype), params, ua), info)
            if t.is_collection:
                if method == "DELETE":
                    opts = _delete_options(body, ctype)
                    items = self.rest.delete_collection(t, opts, params)
                    return self._json(
                        {
                            "kind": info.list_kind,
                            "apiVersion": info.api_version,
                            "metadata": {},
                            "items": items,
                        }
                    )
                raise ApiError.method_not_allowed("%s is not supported on a collection" % method)
            if t.subresource == "scale":
                return self._scale_write(request, t, body, ctype, params, ua)
            if method == "PUT":
                return self._written(self.rest.update(t, decode_object(body, ctype), params, ua), info)
            if method == "PATCH":
                return self._written(self.rest.patch(t, decode_body(body, ctype), ctype, params, ua), info)
            return self._written(self.rest.delete(t, _delete_options(body, ctype), params), info)
        raise ApiError.method_not_allowed("the server does not allow this method on the requested resource")

    async def _read_body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise ApiError.too_large(
                "the request body is %d bytes, more than the limit of %d" % (request.content_length, MAX_BODY)
            )
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError.too_large(
                "the request body is more than the limit of %d bytes" % MAX_BODY
            ) from None

    def _list(self, t: Target, params: Any, accept: Accept) -> web.Response:
        info = t.info
        opts = list_options(info, params)
        items, revision, cont, remaining = self.rest.list_objects(t, opts)
        # Stored bytes go out as they are unless the request's version is not the stored one.
        converted = (
            [conversion.to_request_version(info, s.obj) for s in items] if conversion.needed(info) else None
        )

        def objects() -> list[dict[str, Any]]:
            return converted if converted is not None else [s.obj for s in items]

        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if cont:
            meta["continue"] = cont
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if accept.as_ == "Table":
            table = tables.to_table(
                info,
                objects(),
                now=self._now(),
                include_object=params.get("includeObject") or "Metadata",
                list_meta=meta,
                table_version=accept.version,
            )
            return self._json(table)
        if accept.as_ == "PartialObjectMetadataList":
            return self._json(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/" + accept.version,
                    "metadata": meta,
                    "items": [_partial(obj, accept.version) for obj in objects()],
                }
            )
        head = b'{"kind":"%s","apiVersion":"%s","metadata":%s,"items":[' % (
            info.list_kind.encode(),
            info.api_version.encode(),
            _encode(meta),
        )
        datas = [_encode(obj) for obj in converted] if converted is not None else [s.data for s in items]
        return web.Response(body=head + b",".join(datas) + b"]}", content_type=JSON_TYPE)

    def _object(self, stored: Stored, info: ResourceInfo, accept: Accept) -> web.Response:
        if not accept.as_ and not conversion.needed(info):
            return web.Response(body=stored.data, content_type=JSON_TYPE)
        obj = conversion.to_request_version(info, stored.obj)
        if accept.as_ == "Table":
            return self._json(tables.to_table(info, [obj], now=self._now(), table_version=accept.version))
        if accept.as_ == "PartialObjectMetadata":
            return self._json(_partial(obj, accept.version))
        return self._json(obj)

    def _written(self, result: WriteResult, info: ResourceInfo) -> web.Response:
        resp = self._json(result.obj, status=result.status)
        for w in result.warnings:
            resp.headers.add("Warning", '299 - "%s"' % w.replace('"', "'"))
        return resp

    # -- watch --------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, t: Target, accept: Accept) -> web.StreamResponse:
        info, params = t.info, request.query
        opts = list_options(info, params)
        namespace = t.namespace if info.namespaced else ""
        matcher = opts.matcher(info.kind)
        bookmarks = query_bool(params.get("allowWatchBookmarks"))
        send_initial = query_bool(params.get("sendInitialEvents"))
        timeout = query_int(params, "timeoutSeconds")
        if timeout is None:
            timeout = int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
        encoder = self._watch_encoder(info, accept, params)

        resp = web.StreamResponse(headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        transport = request.transport
        if transport is None:
            return resp
        sink = ChunkSink(transport)
        # From here to hub.add nothing awaits: no commit can slip between the backlog and the live feed.
        storage = self.storage
        floor = storage.revision
        backlog: list[bytes] = []
        rv = opts.resource_version
        try:
            if send_initial or rv in ("", "0"):
                for stored in storage.list(info.storage_key, namespace or None).items:
                    if matcher is None or matcher(stored.obj):
                        backlog.append(_line(encoder, "ADDED", stored.data, stored.obj))
                if send_initial:
                    backlog.append(bookmark_line(info.api_version, info.kind, floor, initial_events_end=True))
            else:
                try:
                    since = int(rv)
                except ValueError:
                    raise ApiError.bad_request("invalid resourceVersion %r" % rv) from None
                for event in storage.events_since(since, info.storage_key, namespace or None):
                    type_ = event.type
                    if matcher is not None:
                        type_ = transition(event, matcher)
                        if type_ is None:
                            continue
                    backlog.append(_line(encoder, type_, event.data, event.obj))
        except ApiError as e:
            backlog = [error_line(e.status())]
            timeout = 0
        selector = "%s\0%s" % (params.get("labelSelector", ""), params.get("fieldSelector", ""))
        watcher = Watcher(
            info.storage_key,
            namespace,
            sink=sink,
            matcher=matcher,
            encoder=encoder,
            floor=floor,
            selector=selector,
        )
        if backlog:
            watcher.push(b"".join(backlog))
        if timeout == 0:
            watcher.close()
        else:
            self.hub.add(watcher)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else loop.time()
        next_bookmark = loop.time() + BOOKMARK_INTERVAL
        try:
            while not watcher.closed.done():
                left = deadline - loop.time()
                if left <= 0:
                    break
                if transport.is_closing():
                    break  # the client is gone
                now = loop.time()
                wait = (
                    min(left, DISCONNECT_POLL, max(next_bookmark - now, 0.0))
                    if bookmarks
                    else min(left, DISCONNECT_POLL)
                )
                done, _ = await asyncio.wait((watcher.closed,), timeout=wait)
                now = loop.time()
                if not done and bookmarks and now >= next_bookmark and now < deadline:
                    watcher.push(bookmark_line(info.api_version, info.kind, storage.revision))
                    next_bookmark = now + BOOKMARK_INTERVAL
        finally:
            self.hub.remove(watcher)
            watcher.close()
        if not transport.is_closing():
            try:
                await resp.write_eof()
            except (ConnectionResetError, ConnectionError):
                pass
        return resp

    def _watch_encoder(self, info: ResourceInfo, accept: Accept, params: Any) -> Any:
        encoder = self._representation_encoder(info, accept, params)
        if not conversion.needed(info):
            return encoder

        def converted_line(type_: str, data: bytes, obj: dict[str, Any] | None) -> bytes:
            try:
                out = conversion.to_request_version(
                    info, obj if obj is not None else msgspec.json.decode(data)
                )
            except ApiError as e:  # a watch reports it as an event; the commit that published it goes on
                return error_line(e.status())
            return encoder(type_, b"", out) if encoder is not None else event_line(type_, _encode(out))

        return converted_line

    def _representation_encoder(self, info: ResourceInfo, accept: Accept, params: Any) -> Any:
        if accept.as_ == "Table":
            first = [True]
            include = params.get("includeObject") or "Metadata"

            def table_line(type_: str, data: bytes, obj: dict[str, Any] | None) -> bytes:
                table = tables.to_table(
                    info,
                    [obj if obj is not None else msgspec.json.decode(data)],
                    now=self._now(),
                    include_object=include,
                    table_version=accept.version,
                    no_headers=not first[0],
                )
                first[0] = False
                return event_line(type_, _encode(table))

            return table_line
        if accept.as_ == "PartialObjectMetadata":

            def partial_line(type_: str, data: bytes, obj: dict[str, Any] | None) -> bytes:
                return event_line(type_, _encode(_partial(obj or msgspec.json.decode(data), accept.version)))

            return partial_line
        return None

    # -- subresources -------------------------------------------------------------------------

    def _bind(self, t: Target, binding: dict[str, Any]) -> dict[str, Any]:
        if t.info.kind != "Pod":
            raise ApiError.method_not_allowed("binding is only supported for pods")
        target = binding.get("target") or {}
        node = target.get("name") if isinstance(target, dict) else None
        if not node:
            raise ApiError.invalid(
                "Binding", t.name, [("target.name", "FieldValueRequired", "Required value")]
            )
        self.rest.bind(t.namespace, t.name, node, uid=((binding.get("metadata") or {}).get("uid")))
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _scale_write(
        self, request: web.Request, t: Target, body: bytes, ctype: str | None, params: Any, ua: str | None
    ) -> web.Response:
        stored = self.rest.get_stored(t)
        current = _scale(stored.obj)
        if request.method == "PATCH":
            patched = apply_patch(
                current, ctype or JSON_TYPE, decode_body(body, ctype), group="autoscaling", kind="Scale"
            )
        else:
            patched = decode_object(body, ctype)
        replicas = (patched.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError.invalid(
                "Scale",
                t.name,
                [
                    (
                        "spec.replicas",
                        "FieldValueInvalid",
                        "Invalid value: %r: must be greater than or equal to 0" % (replicas,),
                    )
                ],
                "autoscaling",
            )
        obj = dict(stored.obj)
        obj["spec"] = {**(obj.get("spec") or {}), "replicas": replicas}
        result = self.rest.write(
            Target(t.info, t.namespace, t.name), stored, obj, params, ua, expect_rev=stored.rev
        )
        return self._json(_scale(result.obj))

    # -- responses ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    @staticmethod
    def _json(obj: Any, content_type: str = JSON_TYPE, status: int = 200) -> web.Response:
        resp = web.Response(body=_encode(obj), status=status)
        resp.headers["Content-Type"] = content_type
        return resp

    def _error(self, e: ApiError) -> web.Response:
        return self._json(e.status(), status=e.code)


def _line(encoder: Any, type_: str, data: bytes, obj: dict[str, Any] | None) -> bytes:
    return encoder(type_, data, obj) if encoder is not None else event_line(type_, data)


def _partial(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/" + version,
        "metadata": obj.get("metadata", {}),
    }


def _scale(dep: dict[str, Any]) -> dict[str, Any]:
    meta = dep["metadata"]
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    selector = spec.get("selector")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {
            "replicas": status.get("replicas", 0),
            "selector": selectors.selector_from_object(selector).__str__()
            if isinstance(selector, dict)
            else "",
        },
    }


def _delete_options(body: bytes, ctype: str | None) -> dict[str, Any]:
    if not body.strip():
        return {}
    opts = decode_object(body, ctype)
    kind = opts.get("kind")
    if kind not in (None, "", "DeleteOptions"):
        raise ApiError.bad_request("the body of a DELETE must be DeleteOptions, got kind %r" % kind)
    return opts
