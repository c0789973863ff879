"""The PATCH body types of kube-apiserver, as pure functions on decoded JSON values.

- `merge_patch`: RFC 7386 JSON merge patch (``application/merge-patch+json``).
- `json_patch`: RFC 6902 JSON patch (``application/json-patch+json``) with the semantics of the library
  kube-apiserver uses (gopkg.in/evanphx/json-patch.v4), quirks included, because clients depend on them:
  ``replace`` of a missing object key adds it, ``copy`` from a missing object key copies null, a ``test``
  of a missing key passes when ``value`` is null or absent, negative array indices count from the end,
  the empty path only works for ``replace`` and ``test``.
- `strategic_merge_patch`: Kubernetes strategic merge patch (``application/strategic-merge-patch+json``),
  the server side of k8s.io/apimachinery/pkg/util/strategicpatch: merge keys, ``$patch``,
  ``$retainKeys``, ``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``, null deletes.
  Metadata comes from `kedge.apiserver.smp_meta`.
- `apply_patch`: dispatch on the Content-Type, with kube-apiserver's checks of the outcome.

Every function leaves its inputs untouched and returns a value that shares nothing with them.

Errors are kube-apiserver's: 400 BadRequest for malformed patches, 413 for too many JSON patch operations,
422 Invalid for patches that do not apply, and 500 with an empty (Unknown) reason for the strategic merge
patch failures kube-apiserver does not classify (a missing merge key, an unknown ``$patch`` value).
For 422 kube-apiserver answers only "the server rejected our request due to an error in our request";
kedge appends the reason (which operation, which path) after a colon, so the text still starts the same.
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from kedge.apiserver.errors import ApiError
from kedge.apiserver.smp_meta import (
    APPLY_PATCH,
    CUSTOM_RESOURCE_PATCH_TYPES,
    JSON_PATCH,
    MERGE_PATCH,
    PATCH_TYPES,
    PLAIN,
    STRATEGIC_MERGE_PATCH,
    FieldMeta,
    PatchMeta,
    meta_for,
    require_strategic_meta,
    unsupported_patch_type,
)

__all__ = [
    "apply_patch",
    "create_merge_patch",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]

MAX_JSON_PATCH_OPERATIONS = 10000
# kube-apiserver's --json-patch-max-copy-bytes default (JSONPatchMaxCopyBytes).
MAX_JSON_PATCH_COPY_BYTES = 3 * 1024 * 1024

_REJECTED = "the server rejected our request due to an error in our request"


def _rejected(reason: str) -> ApiError:
    """422 as kube-apiserver builds it with NewGenericServerResponse, with the reason appended."""
    return ApiError(422, "Invalid", "%s: %s" % (_REJECTED, reason))


def _unclassified(message: str) -> ApiError:
    """A plain Go error that kube-apiserver turns into a 500 Status with the Unknown (empty) reason."""
    return ApiError(500, "", message)


def _copy(value: Any) -> Any:
    """Deep copy of a JSON value (much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """JSON equality that keeps true apart from 1 and 1 apart from 1.0, as Go's interface comparison does."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _go_kind(value: Any) -> str:
    """The JSON kind names Go's encoding/json uses in its errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def _go_type(value: Any) -> str:
    """reflect.TypeOf of a decoded JSON value, as it appears in apimachinery messages."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>"


def _go_fmt(value: Any) -> str:
    """Go's %v of a decoded JSON value, so messages read like kube-apiserver's."""
    if isinstance(value, dict):
        return "map[%s]" % " ".join("%s:%s" % (k, _go_fmt(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return "[%s]" % " ".join(_go_fmt(v) for v in value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): shortest digits, exponent form below 1e-4 and from 1e21."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # digits before the decimal point
    minus = "-" if sign else ""
    if value == 0:
        return minus + "0"
    if point - 1 < -4 or point - 1 >= 21:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return "%s%se%s%02d" % (minus, mantissa, "-" if point - 1 < 0 else "+", abs(point - 1))
    if point <= 0:
        return "%s0.%s%s" % (minus, "0" * -point, text)
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return "%s%s.%s" % (minus, text[:point], text[point:])


# -- RFC 7386 merge patch -----------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return _copy(patch)
    result = {k: _copy(v) for k, v in target.items()} if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The smallest RFC 7386 patch turning `original` into `modified`.

    Merge patch cannot express a null object member (null means delete), so nulls inside objects of
    `modified` are not reproduced.
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return _copy(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = _copy(value)
        elif not _same(original[key], value):
            if isinstance(original[key], dict) and isinstance(value, dict):
                patch[key] = create_merge_patch(original[key], value)
            else:
                patch[key] = _copy(value)
    return patch


# -- RFC 6902 JSON patch ------------------------------------------------------------------------------


class _OpError(Exception):
    """One JSON patch operation failed; the text is the library's message."""


_ABSENT: Any = object()
_POINTER_ESCAPE = re.compile(r"~[01]")
_GO_INT = re.compile(r"[+-]?[0-9]+")


def _unescape(token: str) -> str:
    return _POINTER_ESCAPE.sub(lambda m: "/" if m.group() == "~1" else "~", token)


def _atoi(key: str) -> int:
    """strconv.Atoi, which (unlike int()) refuses spaces and underscores."""
    if not _GO_INT.fullmatch(key):
        raise _OpError('strconv.Atoi: parsing "%s": invalid syntax' % key)
    return int(key)


def _invalid_index(index: int) -> _OpError:
    return _OpError("Unable to access invalid index: %d: invalid index referenced" % index)


def _array_position(array: list[Any], key: str) -> int:
    """The index an existing element is read, replaced or removed at (negative counts from the end)."""
    index = _atoi(key)
    resolved = index + len(array) if index < 0 else index
    if resolved < 0 or resolved >= len(array):
        raise _invalid_index(index)
    return resolved


def _get(container: dict[str, Any] | list[Any], key: str) -> Any:
    """The value at key; a missing object key reads as _ABSENT (the library does not fail there)."""
    if isinstance(container, dict):
        return container.get(key, _ABSENT)
    return container[_array_position(container, key)]


def _add(container: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _atoi(key)
    except _OpError as e:
        raise _OpError("value was not a proper array index: '%s': %s" % (key, e)) from None
    size = len(container) + 1
    if index >= size or index < -size:
        raise _invalid_index(index)
    container.insert(index + size if index < 0 else index, value)


def _remove(container: dict[str, Any] | list[Any], key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OpError("Unable to remove nonexistent key: %s: missing value" % key)
        del container[key]
        return
    del container[_array_position(container, key)]


def _locate(doc: dict[str, Any] | list[Any], path: str) -> tuple[dict[str, Any] | list[Any] | None, str]:
    """The container holding the last token of `path` and that token, or (None, "") when a parent is
    missing or not a container (the library's findObject)."""
    tokens = path.split("/")
    if len(tokens) < 2:
        return None, ""
    current: Any = doc
    for token in tokens[1:-1]:
        try:
            current = _get(current, _unescape(token))
        except _OpError:
            return None, ""
        if not isinstance(current, dict | list):
            return None, ""
    return current, _unescape(tokens[-1])


def _op_string(op: dict[str, Any], name: str) -> str:
    value = op.get(name)
    if value is None:
        raise _OpError("operation missing %s field: missing value" % name)
    if not isinstance(value, str):
        raise _OpError("json: cannot unmarshal %s into Go value of type string" % _go_kind(value))
    return value


def _op_path(op: dict[str, Any], kind: str, always_missing: bool) -> str:
    try:
        return _op_string(op, "path")
    except _OpError as e:
        # add, remove and copy report every path decoding failure as a missing value.
        raise _OpError(
            "%s operation failed to decode path: %s" % (kind, "missing value" if always_missing else e)
        ) from None


def _op_from(op: dict[str, Any], kind: str) -> str:
    try:
        return _op_string(op, "from")
    except _OpError as e:
        text = str(e).replace("operation missing", "operation, missing")
        raise _OpError("%s operation failed to decode from: %s" % (kind, text)) from None


def _json_size(value: Any) -> int:
    return len(msgspec.json.encode(value))


class _JsonPatcher:
    """Applies operations to a private copy of the document."""

    def __init__(self, doc: dict[str, Any] | list[Any]) -> None:
        self.doc = doc
        self.copied_bytes = 0

    def apply(self, op: dict[str, Any]) -> None:
        kind = op.get("op")
        handler: Callable[[dict[str, Any]], None] | None = (
            {
                "add": self.add,
                "remove": self.remove,
                "replace": self.replace,
                "move": self.move,
                "test": self.test,
                "copy": self.copy,
            }.get(kind)
            if isinstance(kind, str)
            else None
        )
        if handler is None:
            raise _OpError("Unexpected kind: %s" % (kind if isinstance(kind, str) else "unknown"))
        handler(op)

    def add(self, op: dict[str, Any]) -> None:
        path = _op_path(op, "add", always_missing=True)
        container, key = _locate(self.doc, path)
        if container is None:
            raise _OpError('add operation does not apply: doc is missing path: "%s": missing value' % path)
        try:
            _add(container, key, _copy(op.get("value")))
        except _OpError as e:
            raise _OpError("error in add for path: '%s': %s" % (path, e)) from None

    def remove(self, op: dict[str, Any]) -> None:
        path = _op_path(op, "remove", always_missing=True)
        container, key = _locate(self.doc, path)
        if container is None:
            raise _OpError('remove operation does not apply: doc is missing path: "%s": missing value' % path)
        try:
            _remove(container, key)
        except _OpError as e:
            raise _OpError("error in remove for path: '%s': %s" % (path, e)) from None

    def replace(self, op: dict[str, Any]) -> None:
        path = _op_path(op, "replace", always_missing=False)
        value = op.get("value")
        if path == "":
            if not isinstance(value, dict | list):
                raise _OpError("replace operation value must be object or array")
            self.doc = _copy(value)
            return
        container, key = _locate(self.doc, path)
        if container is None:
            raise _OpError("replace operation does not apply: doc is missing path: %s: missing value" % path)
        if isinstance(container, list):
            try:
                index = _array_position(container, key)
            except _OpError:
                raise _OpError(
                    "replace operation does not apply: doc is missing key: %s: missing value" % path
                ) from None
            container[index] = _copy(value)
        else:
            # A missing object key is added, not refused (the library's partialDoc.get never fails).
            container[key] = _copy(value)

    def move(self, op: dict[str, Any]) -> None:
        source = _op_from(op, "move")
        container, key = _locate(self.doc, source)
        if container is None:
            raise _OpError(
                "move operation does not apply: doc is missing from path: %s: missing value" % source
            )
        try:
            value = _get(container, key)
            _remove(container, key)
        except _OpError as e:
            raise _OpError("error in move for path: '%s': %s" % (key, e)) from None
        path = _op_path(op, "move", always_missing=False)
        target, key = _locate(self.doc, path)
        if target is None:
            raise _OpError(
                "move operation does not apply: doc is missing destination path: %s: missing value" % path
            )
        try:
            _add(target, key, value)
        except _OpError as e:
            raise _OpError("error in move for path: '%s': %s" % (path, e)) from None

    def test(self, op: dict[str, Any]) -> None:
        path = _op_path(op, "test", always_missing=False)
        expected = op.get("value", _ABSENT)
        if path == "":
            if expected is _ABSENT or not _same(self.doc, expected):
                raise _OpError("testing value %s failed: test failed" % path)
            return
        container, key = _locate(self.doc, path)
        if container is None:
            raise _OpError("test operation does not apply: is missing path: %s: missing value" % path)
        try:
            actual = _get(container, key)
        except _OpError as e:
            raise _OpError("error in test for path: '%s': %s" % (path, e)) from None
        if actual is _ABSENT:
            # A missing key equals an absent or null value: clients test for absence this way.
            if expected is _ABSENT or expected is None:
                return
        elif expected is not _ABSENT and _same(actual, expected):
            return
        raise _OpError("testing value %s failed: test failed" % path)

    def copy(self, op: dict[str, Any]) -> None:
        source = _op_from(op, "copy")
        container, key = _locate(self.doc, source)
        if container is None:
            raise _OpError(
                "copy operation does not apply: doc is missing from path: %s: missing value" % source
            )
        try:
            value = _get(container, key)
        except _OpError as e:
            raise _OpError("error in copy for from: '%s': %s" % (source, e)) from None
        value = None if value is _ABSENT else _copy(value)
        path = _op_path(op, "copy", always_missing=True)
        target, key = _locate(self.doc, path)
        if target is None:
            raise _OpError(
                "copy operation does not apply: doc is missing destination path: %s: missing value" % path
            )
        self.copied_bytes += _json_size(value)
        if self.copied_bytes > MAX_JSON_PATCH_COPY_BYTES:
            raise _OpError(
                "Unable to complete the copy, the accumulated size increase of copy is %d, "
                "exceeding the limit %d" % (self.copied_bytes, MAX_JSON_PATCH_COPY_BYTES)
            )
        try:
            _add(target, key, value)
        except _OpError as e:
            raise _OpError("error while adding value during copy: %s" % e) from None


def json_patch(doc: dict[str, Any] | list[Any], ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch (a list of operations) to a document."""
    if not isinstance(ops, list):
        raise ApiError.bad_request(
            "json: cannot unmarshal %s into Go value of type jsonpatch.Patch" % _go_kind(ops)
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise ApiError.bad_request(
                "json: cannot unmarshal %s into Go value of type jsonpatch.Operation" % _go_kind(op)
            )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError.too_large(
            "The allowed maximum operations in a JSON patch is %d, got %d"
            % (MAX_JSON_PATCH_OPERATIONS, len(ops))
        )
    patcher = _JsonPatcher(_copy(doc))
    for index, op in enumerate(ops):
        try:
            patcher.apply(op or {})
        except _OpError as e:
            raise _rejected("operation %d: %s" % (index, e)) from None
    return patcher.doc


# -- strategic merge patch ----------------------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
_SET_ELEMENT_ORDER = "$setElementOrder"

_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"


def _no_merge_key(item: dict[str, Any], key: str) -> ApiError:
    return _unclassified("map: %s does not contain declared merge key: %s" % (_go_fmt(item), key))


def _bad_arg_type(expected: str, value: Any) -> ApiError:
    return _unclassified("expected a %s, but received a %s" % (expected, _go_type(value)))


def _is_directive_key(key: str) -> bool:
    return (
        key in (_DIRECTIVE, _RETAIN_KEYS)
        or key.startswith(_SET_ELEMENT_ORDER + "/")
        or key.startswith(_DELETE_FROM_PRIMITIVE_LIST + "/")
    )


def drop_nulls(value: Any) -> Any:
    """A copy without null object members (strategicpatch's discardNullValuesFromPatch; server-side
    apply stores applied values the same way)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def _decoded(value: Any) -> Any:
    """What decoding into the Go type leaves of a patch value: no nulls in objects, no directive keys.

    kube-apiserver converts the merged map to its Go struct, which drops both; kedge stores JSON, so it
    drops them where patch content lands in the result.
    """
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items() if v is not None and not _is_directive_key(k)}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _without_directives(value: Any) -> tuple[Any, bool]:
    """strategicpatch's removeDirectives: a map carrying ``$patch`` disappears, in lists too."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        out = {}
        for k, v in value.items():
            kept, keep = _without_directives(v)
            if keep:
                out[k] = kept
        return out, True
    if isinstance(value, list):
        out_list = []
        for v in value:
            kept, keep = _without_directives(v)
            if keep:
                out_list.append(kept)
        return out_list, True
    return value, True


def _patch_content(value: Any) -> tuple[Any, bool]:
    """A patch value taken as is (the original has no such key, or of another type)."""
    kept, keep = _without_directives(drop_nulls(value))
    return _decoded(kept), keep


def _extract_key(key: str, prefix: str, error: str) -> str:
    head, sep, tail = key.partition("/")
    if not sep or head != prefix:
        raise ApiError.bad_request(error)
    return tail


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: every element of every list must have the same kind, and not be a list."""
    kind = ""
    for items in lists:
        for item in items:
            current = "map" if isinstance(item, dict) else "list" if isinstance(item, list) else _scalar(item)
            if not kind:
                if current == "list":
                    raise _rejected("lists of lists are not supported")
                kind = current
            elif current != kind:
                raise _unclassified(
                    "list element types are not identical: [%s]" % " ".join(_go_fmt(v) for v in lists)
                )
    if not kind:
        raise _unclassified("no elements in any of the given slices")
    return kind


def _scalar(item: Any) -> str:
    # int64 and float64 differ in Go, but a JSON number list mixing both is one list of numbers.
    return "number" if isinstance(item, int | float) and not isinstance(item, bool) else _go_type(item)


class _Key:
    """A hashable, type-aware identity for scalars (True is not 1), as Go map keys of interface{}."""

    __slots__ = ("kind", "value")

    def __init__(self, value: Any) -> None:
        self.kind = type(value)
        self.value = value

    def __hash__(self) -> int:
        return hash((self.kind, self.value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.kind is other.kind and self.value == other.value


def _merge_value(item: Any, merge_key: str) -> Any:
    """The value an element is identified by: its merge key for maps, itself for primitives."""
    if merge_key:
        return item.get(merge_key) if isinstance(item, dict) else None
    return item


def _index_of(items: list[Any], wanted: Any, merge_key: str) -> int:
    target = _merge_value(wanted, merge_key)
    for position, item in enumerate(items):
        if _same(_merge_value(item, merge_key), target):
            return position
    return -1


def _find_by_key(items: list[Any], key: str, value: Any) -> int:
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise _unclassified("value for key %d is not a map" % position)
        if key in item and _same(item[key], value):
            return position
    return -1


def _require_keys(merge_key: str, *lists: list[Any]) -> None:
    for items in lists:
        for item in items:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)


def _sort_by(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """normalizeSliceOrder: stable sort by position in `order`; `$patch: delete` items go last."""
    deletes: list[Any] = []
    if kind == "map":
        _require_keys(merge_key, items, order)
        deletes = [i for i in items if i.get(_DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(_DIRECTIVE) != "delete"]
    ranked = sorted(items, key=lambda item: _index_of(order, item, merge_key))
    return ranked + deletes


def _interleave(server: list[Any], patch: list[Any], server_order: list[Any], merge_key: str) -> list[Any]:
    """mergeSortedSlice: server-only items go before the first patch item they preceded in the live list."""
    out: list[Any] = []
    i = j = 0
    while i < len(server) or j < len(patch):
        if i >= len(server):
            out.append(patch[j])
            j += 1
        elif j >= len(patch):
            out.append(server[i])
            i += 1
        else:
            left = _index_of(server_order, server[i], merge_key)
            right = _index_of(server_order, patch[j], merge_key)
            if left >= 0 and right >= 0 and left < right:
                out.append(server[i])
                i += 1
            else:
                out.append(patch[j])
                j += 1
    return out


def _normalize_order(
    patch_items: list[Any],
    server_items: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    patch_items = _sort_by(patch_items, patch_order, merge_key, kind)
    server_items = _sort_by(server_items, server_order, merge_key, kind)
    return _interleave(server_items, patch_items, server_order, merge_key)


def _partition(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split `items` into those present in `by` (by merge key, or by value) and the rest."""
    inside: list[Any] = []
    outside: list[Any] = []
    if not merge_key:
        present = {_Key(v) for v in by if not isinstance(v, dict | list)}
        for item in items:
            (inside if not isinstance(item, dict | list) and _Key(item) in present else outside).append(item)
        return inside, outside
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        (inside if _find_by_key(by, merge_key, item[merge_key]) >= 0 else outside).append(item)
    return inside, outside


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[_Key] = set()
    out = []
    for item in items:
        key = _Key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


class _GoSlice:
    """What the Go code's view of the live list holds after merging into it.

    strategicpatch deletes elements from the live slice and appends patch elements to it in place, and
    the ``$setElementOrder`` code goes on ordering by its own, older slice header over the same array: it
    then sees deleted positions shifted and appended elements that fit in the spare capacity. The orders
    kube-apiserver produces (and its tests pin) depend on it, so kedge replays it, assuming the capacity
    of a slice built by appending: the next power of two.
    """

    __slots__ = ("array", "detached", "length", "size")

    def __init__(self, items: list[Any]) -> None:
        self.size = len(items)  # the length of the older header
        self.length = len(items)  # the length of the slice being modified
        capacity = 1 << (len(items) - 1).bit_length() if items else 0
        self.array: list[Any] = list(items) + [None] * (capacity - len(items))
        self.detached = False

    def delete(self, position: int) -> None:
        if not self.detached:
            self.array[position : self.length - 1] = self.array[position + 1 : self.length]
            self.length -= 1

    def append(self, item: Any) -> None:
        if self.detached or self.length >= len(self.array):
            self.detached = True  # append reallocated: the old array no longer changes
            return
        self.array[self.length] = item
        self.length += 1

    def detach(self) -> None:
        self.detached = True

    def view(self) -> list[Any]:
        return self.array[: self.size]


class _StrategicMerger:
    """A port of strategicpatch.mergeMap with the server-side options (MergeParallelList and
    IgnoreUnmatchedNulls). It works on private copies and mutates them as the Go code does."""

    def merge_map(self, original: dict[str, Any] | None, patch: dict[str, Any], meta: FieldMeta) -> Any:
        if _DIRECTIVE in patch:
            directive = patch[_DIRECTIVE]
            if directive == "replace":
                return _decoded(patch)
            if directive == "delete":
                return {}
            raise _unclassified("unknown patch type: %s in map: %s" % (_go_fmt(directive), _go_fmt(patch)))
        if original is None:
            original = {}
        self.retain_keys(original, patch)
        self.ordered_lists(original, patch, meta)
        for raw_key, patch_value in list(patch.items()):
            key = raw_key
            delete_list = raw_key.startswith(_DELETE_FROM_PRIMITIVE_LIST)
            if delete_list:
                key = _extract_key(raw_key, _DELETE_FROM_PRIMITIVE_LIST, _BAD_PRIMITIVE_LIST)
            if patch_value is None:
                original.pop(key, None)
                continue
            if key not in original or _container(original[key]) != _container(patch_value):
                if not delete_list:
                    content, keep = _patch_content(patch_value)
                    if keep:
                        original[key] = content
                    else:
                        original.pop(key, None)
                continue
            fm = meta.child(key)
            if isinstance(patch_value, dict):
                if fm.strategy == "replace":
                    original[key] = _decoded(patch_value)
                else:
                    original[key] = self.merge_map(original[key], patch_value, fm)
            elif isinstance(patch_value, list):
                original[key] = self.merge_list_field(original[key], patch_value, fm, delete_list)
            else:
                original[key] = patch_value
        return original

    def merge_list_field(
        self,
        original: list[Any],
        patch: list[Any],
        fm: FieldMeta,
        delete_list: bool,
        live: "_GoSlice | None" = None,
    ) -> Any:
        """mergeSliceHandler: only lists with the merge strategy (or deletion lists) merge."""
        if fm.strategy == "merge" or delete_list:
            return self.merge_list(original, patch, fm, delete_list, live)
        return _decoded(patch)

    def merge_list(
        self,
        original: list[Any],
        patch: list[Any],
        fm: FieldMeta,
        delete_list: bool,
        live: "_GoSlice | None" = None,
    ) -> list[Any]:
        if not original and not patch:
            return original
        kind = _element_kind(original, patch)
        merge_key = fm.merge_key
        if kind != "map":
            if delete_list:
                doomed = {_Key(v) for v in patch}
                return [v for v in original if _Key(v) not in doomed]
            merged = _dedupe(original + patch)
            merge_key = ""
        else:
            if not merge_key:
                raise _unclassified("cannot merge lists without merge key for struct")
            live = live if live is not None else _GoSlice(original)
            original, patch = self.special_elements(original, patch, merge_key, live)
            merged = self.merge_elements(original, patch, merge_key, fm.item, live)
        inside, outside = _partition(merged, patch, merge_key)
        return _normalize_order(inside, outside, patch, original, merge_key, kind)

    def special_elements(
        self, original: list[Any], patch: list[Any], merge_key: str, live: "_GoSlice"
    ) -> tuple[list[Any], list[Any]]:
        """Elements carrying ``$patch``: delete removes every element with that key, replace makes the
        patch list the whole list."""
        plain = []
        replace = False
        for item in patch:
            if _DIRECTIVE not in item:
                plain.append(item)
                continue
            directive = item[_DIRECTIVE]
            if directive == "delete":
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
                while (position := _find_by_key(original, merge_key, item[merge_key])) >= 0:
                    original = original[:position] + original[position + 1 :]
                    live.delete(position)
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                raise _unclassified("merging lists cannot yet be specified in the patch")
            else:
                raise _unclassified("unknown patch type: %s in map: %s" % (_go_fmt(directive), _go_fmt(item)))
        if replace:
            live.detach()
            return [_decoded(p) for p in plain], []
        return original, plain

    def merge_elements(
        self, original: list[Any], patch: list[Any], merge_key: str, item_meta: FieldMeta, live: "_GoSlice"
    ) -> list[Any]:
        """Merge each patch element into the live element with its key, or append it. `original` itself
        stays as it was: it still gives the live order afterwards."""
        merged = list(original)
        for item in patch:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            position = _find_by_key(merged, merge_key, item[merge_key])
            if position >= 0:
                merged[position] = self.merge_map(merged[position], item, item_meta)
            else:
                merged.append(_decoded(item))
                live.append(merged[-1])
        return merged

    def retain_keys(self, original: dict[str, Any], patch: dict[str, Any]) -> None:
        """``$retainKeys``: the patch may only set listed keys; unlisted keys leave the original."""
        if _RETAIN_KEYS not in patch:
            return
        retained = patch.pop(_RETAIN_KEYS)
        if not isinstance(retained, list):
            raise ApiError.bad_request(_BAD_RETAIN_KEYS)
        allowed = {k for k in retained if isinstance(k, str)}
        for key, value in patch.items():
            if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
                continue
            if key not in allowed:
                raise ApiError.bad_request(_BAD_RETAIN_KEYS)
        for key in [k for k in original if k not in allowed]:
            del original[key]

    def ordered_lists(self, original: dict[str, Any], patch: dict[str, Any], meta: FieldMeta) -> None:
        """``$setElementOrder/<field>``: merge that list now and order it as the directive says (then the
        patch order, then the live order)."""
        for directive_key in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
            order = patch.pop(directive_key)
            if not isinstance(order, list):
                raise _bad_arg_type("[]interface {}", order)
            key = _extract_key(directive_key, _SET_ELEMENT_ORDER, _BAD_SET_ELEMENT_ORDER)
            in_original, in_patch = key in original, key in patch
            live = original.get(key) if in_original else []
            change = patch.get(key) if in_patch else []
            if not isinstance(live, list):
                raise _bad_arg_type("[]interface {}", live)
            if not isinstance(change, list):
                raise _bad_arg_type("[]interface {}", change)
            fm = meta.child(key)
            _check_order(change, order, fm.merge_key)
            live_view = _GoSlice(live)
            if in_original and not in_patch:
                merged = live
            elif in_patch and not in_original:
                merged, _ = _without_directives(change)
                merged = _decoded(merged)
            elif in_patch and in_original:
                merged = self.merge_list_field(live, change, fm, False, live_view)
            else:
                continue
            inside, outside = _partition(merged, order, fm.merge_key)
            kind = _element_kind(live_view.view(), change)
            original[key] = _normalize_order(inside, outside, order, live_view.view(), fm.merge_key, kind)
            patch.pop(key, None)


def _container(value: Any) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list must follow the relative order of ``$setElementOrder`` (deletions aside)."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
        items = [i for i in patch_list if i.get(_DIRECTIVE) != "delete"]
    p = o = 0
    while p < len(items) and o < len(order):
        item = items[p]
        if isinstance(item, dict) and _DIRECTIVE in item:
            p += 1
            continue
        if merge_key:
            wanted = order[o]
            if not isinstance(wanted, dict):
                raise _bad_arg_type("map[string]interface {}", wanted)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            if merge_key not in wanted:
                raise _no_merge_key(wanted, merge_key)
            equal = _same(item[merge_key], wanted[merge_key])
        else:
            equal = _same(item, order[o])
        if equal:
            p += 1
        o += 1
    if p < len(items) and o >= len(order):
        raise _unclassified(
            "The order in patch list:\n%s\n doesn't match %s list:\n%s\n"
            % (_go_fmt(patch_list), _SET_ELEMENT_ORDER, _go_fmt(order))
        )


def strategic_merge_patch(original: dict[str, Any], patch: Any, meta: PatchMeta | None) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to an object of a built-in kind.

    `meta` is the kind's metadata (`smp_meta.meta_for`); None merges every list by replacement, which is
    what kube-apiserver would do for a type without patch tags.
    """
    if patch is None:
        return _copy(original)
    if not isinstance(patch, dict):
        raise ApiError.bad_request(
            "json: cannot unmarshal %s into Go value of type map[string]interface {}" % _go_kind(patch)
        )
    position = meta.as_value if meta is not None else PLAIN
    result = _StrategicMerger().merge_map(_copy(original), _copy(patch), position)
    return result


# -- dispatch -----------------------------------------------------------------------------------------


def apply_patch(
    obj: dict[str, Any], content_type: str, patch: Any, *, group: str, kind: str
) -> dict[str, Any]:
    """Apply a json, merge or strategic merge patch (already decoded from JSON) to a stored object, as
    kube-apiserver's PATCH handler does. Server-side apply (``application/apply-patch+yaml``) needs a field
    manager and lives in `kedge.apiserver.apply`."""
    media_type = content_type.split(";", 1)[0].strip()
    if media_type == JSON_PATCH:
        result = json_patch(obj, patch)
    elif media_type == MERGE_PATCH:
        if patch is None:
            raise ApiError.bad_request("Invalid JSON Patch")
        result = merge_patch(obj, patch)
    elif media_type == STRATEGIC_MERGE_PATCH:
        result = strategic_merge_patch(obj, patch, require_strategic_meta(group, kind))
    elif media_type == APPLY_PATCH:
        raise ValueError(
            "%s needs a field manager: use kedge.apiserver.apply.server_side_apply" % APPLY_PATCH
        )
    else:
        accepted = PATCH_TYPES if meta_for(group, kind) is not None else CUSTOM_RESOURCE_PATCH_TYPES
        raise unsupported_patch_type(accepted)
    if not isinstance(result, dict):
        raise ApiError(
            422,
            "Invalid",
            "%s: the patched object is a JSON %s, not an object" % (_REJECTED, _go_kind(result)),
        )
    return result
