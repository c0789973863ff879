"""Server-side apply (``application/apply-patch+yaml``) and the ``metadata.managedFields`` of every write.

A port of what kube-apiserver runs (k8s.io/apimachinery/pkg/util/managedfields and
sigs.k8s.io/structured-merge-diff), on plain JSON objects:

- `server_side_apply` merges an applied configuration into the live object: maps merge field by field,
  ``map`` lists merge element by element on their keys (key defaults included, e.g. a port's ``protocol``
  is ``TCP``), ``set`` lists merge as sets, atomic lists and atomic maps (``nodeSelector``, label selectors)
  are replaced. Fields this manager applied last time and no longer applies are removed unless another
  manager owns them. Setting a field to another value than the live one, when another manager owns it, is a
  conflict (409, kube-apiserver's message) unless ``force``, which moves the ownership. The manager's entry
  is an ``Apply`` entry holding the exact field set of the applied configuration.
- `record_update` maintains ``managedFields`` for every other write (create, update, json/merge/strategic
  patch): the writing manager's ``Update`` entry gains the fields the write changed, other managers lose
  them. This is what makes an apply conflict with ``kubectl edit``, ``kubectl scale`` or a controller.
- the details kube-apiserver adds around them: managers of an object that has no managedFields yet are
  recorded as ``before-first-apply``; at most 10 ``Update`` entries (the oldest merge into
  ``ancient-changes``); ``metadata.name`` and the like are never owned; ``managedFields: []`` in an update
  resets tracking; manager ``kubectl`` keeps the ``kubectl.kubernetes.io/last-applied-configuration``
  annotation up to date and may take over fields client-side apply set, so ``kubectl apply`` migrates to
  ``kubectl apply --server-side`` without conflicts.

What the field sets cover: object fields (``f:``), elements of keyed lists (``k:{"name":"x"}``), elements of
sets (``v:"x"``), atomic lists and maps as single leaves; the encoding is structured-merge-diff's FieldsV1.

Not supported, by design: the schema is the patch metadata of `kedge.apiserver.smp_meta` (list types and
keys, atomic maps and structs), not a full OpenAPI type system, so

- scalars are not type-checked (the caller validates objects) and a value of an unexpected shape is a leaf;
- every object key counts as a struct field: a non-empty map is never owned as a whole, which matches
  Kubernetes for structs but not for ``map[string]object`` fields or schemaless custom resources;
- unions (discriminated oneOf) are not cleared, and objects are compared in their stored version only (no
  conversion between API versions per manager);
- kube-apiserver compares a created object against the zero value of its Go type, where structs such as
  ``spec`` and fields without ``omitempty`` such as ``containers`` already exist; kedge compares against
  nothing, so an ``Update`` entry written at creation also owns those maps and lists themselves
  (``".": {}``). Conflicts are unaffected: an existing map or list is never added, so owning it never
  conflicts.
- null values are owned but never stored (Go drops them when it decodes the object); a map that pruning
  empties stays as ``{}`` where Go would drop a pointer or map and keep a struct.
"""

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cmp_to_key, lru_cache
from typing import Any

import msgspec
import yaml

from kedge.apiserver.errors import ApiError
from kedge.apiserver.patch import drop_nulls
from kedge.apiserver.smp_meta import OBJECT_META, FieldMeta, PatchMeta

__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "MAX_UPDATE_MANAGERS",
    "FieldSet",
    "decode_apply_body",
    "path_string",
    "record_update",
    "server_side_apply",
]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
_ANNOTATIONS_SIZE_LIMIT = 256 * 1024
_BEFORE_FIRST_APPLY = "before-first-apply"
_ANCIENT_CHANGES = "ancient-changes"

# -- values and path elements -------------------------------------------------------------------------

_MISSING: Any = object()

# Path elements are tuples: ("f", name), ("k", ((key, frozen value), ...)), ("v", frozen value), ("i", n).
# Frozen values are hashable and tagged so that true differs from 1 (and 1 equals 1.0, as in SMD).
Frozen = tuple[Any, ...]
PathElement = tuple[str, Any]
Path = tuple[PathElement, ...]


def _freeze(value: Any) -> Frozen:
    if value is None:
        return ("z",)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("m", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    raise TypeError("not a JSON value: %r" % (value,))


def _thaw(frozen: Frozen) -> Any:
    tag = frozen[0]
    if tag == "z":
        return None
    if tag == "l":
        return [_thaw(v) for v in frozen[1]]
    if tag == "m":
        return {k: _thaw(v) for k, v in frozen[1]}
    return frozen[1]


_RANK = {"n": 0, "s": 1, "b": 2, "l": 3, "m": 4, "z": 5}


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def _value_cmp(a: Frozen, b: Frozen) -> int:
    """structured-merge-diff's total order of values: numbers, strings, bools, lists, maps, null."""
    if a[0] != b[0]:
        return _cmp(_RANK[a[0]], _RANK[b[0]])
    if a[0] == "z":
        return 0
    if a[0] in ("l", "m"):
        for x, y in zip(a[1], b[1], strict=False):
            c = _value_cmp(x, y) if a[0] == "l" else (_cmp(x[0], y[0]) or _value_cmp(x[1], y[1]))
            if c:
                return c
        return _cmp(len(a[1]), len(b[1]))
    return _cmp(a[1], b[1])


_PE_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _pe_cmp(a: PathElement, b: PathElement) -> int:
    """PathElement.Compare: field names, then keys, then values, then indices."""
    if a[0] != b[0]:
        return _cmp(_PE_RANK[a[0]], _PE_RANK[b[0]])
    if a[0] == "k":
        for (ka, va), (kb, vb) in zip(a[1], b[1], strict=False):
            c = _cmp(ka, kb) or _value_cmp(va, vb)
            if c:
                return c
        return _cmp(len(a[1]), len(b[1]))
    if a[0] == "v":
        return _value_cmp(a[1], b[1])
    return _cmp(a[1], b[1])


_pe_key = cmp_to_key(_pe_cmp)
_json_encode = msgspec.json.Encoder().encode


def _go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped, integral floats bare).

    On every write's hot path (field-set keys), so scalars take msgspec's encoder and the escaping
    passes run only when a character that needs them is present."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, dict):
        return "{%s}" % ",".join("%s:%s" % (_go_json(k), _go_json(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return "[%s]" % ",".join(_go_json(v) for v in value)
    text = _json_encode(value).decode()
    if "<" in text or ">" in text or "&" in text:
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escape)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


def _go_quote(text: str) -> str:
    """Go's %q of a string (close enough: JSON quoting without HTML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _value_string(frozen: Frozen) -> str:
    """value.ToString, used in paths of messages."""
    tag = frozen[0]
    if tag == "z":
        return "null"
    if tag == "s":
        return _go_quote(frozen[1])
    if tag == "b":
        return "true" if frozen[1] else "false"
    if tag == "n":
        number = frozen[1]
        return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)
    if tag == "l":
        return "[%s]" % ",".join(_value_string(v) for v in frozen[1])
    return "".join("%s=%s" % (k, _value_string(v)) for k, v in frozen[1])


def _pe_string(pe: PathElement) -> str:
    """PathElement.String: ``.name``, ``[name="x",port=80]``, ``[="x"]``, ``[3]``."""
    kind, content = pe
    if kind == "f":
        return "." + content
    if kind == "k":
        return "[%s]" % ",".join("%s=%s" % (k, _value_string(v)) for k, v in content)
    if kind == "v":
        return "[=%s]" % _value_string(content)
    return "[%d]" % content


def path_string(path: Path) -> str:
    """A field path as Kubernetes prints it in conflicts: ``.spec.containers[name="app"].image``."""
    return "".join(_pe_string(pe) for pe in path)


@lru_cache(maxsize=65536)
def _pe_serialize(pe: PathElement) -> str:
    kind, content = pe
    if kind == "f":
        return "f:" + content
    if kind == "k":
        return "k:{%s}" % ",".join("%s:%s" % (_go_json(k), _go_json(_thaw(v))) for k, v in content)
    if kind == "v":
        return "v:" + _go_json(_thaw(content))
    return "i:%d" % content


@lru_cache(maxsize=65536)
def _pe_parse(text: str) -> PathElement | None:
    """DeserializePathElement; None for element types it does not know (skipped, as SMD does)."""
    if len(text) < 2 or text[1] != ":":
        raise ValueError("invalid path element %r" % text)
    kind, body = text[0], text[2:]
    if kind == "f":
        return ("f", body)
    if kind == "k":
        fields = msgspec.json.decode(body)
        if not isinstance(fields, dict):
            raise ValueError("key path element %r is not a JSON object" % text)
        return ("k", tuple(sorted((k, _freeze(v)) for k, v in fields.items())))
    if kind == "v":
        return ("v", _freeze(msgspec.json.decode(body)))
    if kind == "i":
        return ("i", int(body))
    return None


# -- field sets ---------------------------------------------------------------------------------------


class FieldSet:
    """A set of field paths, stored as a trie: `members` are paths ending here, `children` go deeper.

    Sets are built with `insert` and never changed afterwards: operations return new sets that share the
    subtrees they leave alone.
    """

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, paths: Iterable[Path]) -> "FieldSet":
        s = cls()
        for path in paths:
            s.insert(path)
        return s

    def insert(self, path: Path) -> None:
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        if path:
            node.members.add(path[-1])

    def has(self, path: Path) -> bool:
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe) if node is not None else None
        return node is not None and bool(path) and path[-1] in node.members

    def child(self, pe: PathElement) -> "FieldSet | None":
        return self.children.get(pe)

    def empty(self) -> bool:
        return not self.members and all(c.empty() for c in self.children.values())

    def union(self, other: "FieldSet") -> "FieldSet":
        out = FieldSet()
        out.members = self.members | other.members
        for pe, mine in self.children.items():
            theirs = other.children.get(pe)
            merged = mine.union(theirs) if theirs is not None else mine
            if not merged.empty():
                out.children[pe] = merged
        for pe, theirs in other.children.items():
            if pe not in self.children and not theirs.empty():
                out.children[pe] = theirs
        return out

    def difference(self, other: "FieldSet") -> "FieldSet":
        """Paths of self that are not paths of other (exact paths: a member of other at P leaves the
        paths below P alone)."""
        out = FieldSet()
        out.members = self.members - other.members
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            rest = child.difference(theirs) if theirs is not None else child
            if not rest.empty():
                out.children[pe] = rest
        return out

    def intersection(self, other: "FieldSet") -> "FieldSet":
        out = FieldSet()
        out.members = self.members & other.members
        small, large = (self, other) if len(self.children) <= len(other.children) else (other, self)
        for pe, child in small.children.items():
            theirs = large.children.get(pe)
            if theirs is not None:
                both = child.intersection(theirs)
                if not both.empty():
                    out.children[pe] = both
        return out

    def without_subtrees(self, other: "FieldSet") -> "FieldSet":
        """RecursiveDifference: drop the members of other and everything below them."""
        out = FieldSet()
        out.members = self.members - other.members
        for pe, child in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            rest = child.without_subtrees(theirs) if theirs is not None else child
            if not rest.empty():
                out.children[pe] = rest
        return out

    def with_named_fields_as_members(self) -> "FieldSet":
        """EnsureNamedFieldsAreMembers: a field with owned fields below it is owned itself (so that pruning
        can remove it); list elements are not fields."""
        out = FieldSet()
        out.members = set(self.members)
        for pe, child in self.children.items():
            if pe[0] == "f":
                out.members.add(pe)
            out.children[pe] = child.with_named_fields_as_members()
        return out

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every path, in structured-merge-diff's iteration order (members, then children, sorted)."""
        for pe in sorted(self.members, key=_pe_key):
            yield (*prefix, pe)
        for pe in sorted(self.children, key=_pe_key):
            yield from self.children[pe].paths((*prefix, pe))

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 encoding: ``{"f:spec": {"f:replicas": {}}, "k:{...}": {".": {}, ...}}``."""
        out: dict[str, Any] = {}
        for pe in sorted(self.members | self.children.keys(), key=_pe_key):
            child = self.children.get(pe)
            if child is None:
                out[_pe_serialize(pe)] = {}
                continue
            inner = child.to_fields_v1()
            out[_pe_serialize(pe)] = {".": {}, **inner} if pe in self.members else inner
        return out

    @classmethod
    def from_fields_v1(cls, fields: Any) -> "FieldSet":
        out = cls()
        if not isinstance(fields, dict):
            raise ValueError("FieldsV1 must be a JSON object, not %s" % type(fields).__name__)
        for key, value in fields.items():
            if key == ".":
                continue
            pe = _pe_parse(key)
            if pe is None:
                continue
            if not isinstance(value, dict):
                raise ValueError("FieldsV1 entry %r must be a JSON object" % key)
            child = cls.from_fields_v1(value)
            if not value or "." in value:
                out.members.add(pe)
            if not child.empty():
                out.children[pe] = child
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.to_fields_v1() == other.to_fields_v1()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "FieldSet(%s)" % ", ".join(path_string(p) for p in self.paths())


# -- walking objects with their metadata --------------------------------------------------------------


class _TypedError(Exception):
    """A value does not fit its schema (structured-merge-diff's ValidationError)."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__("%s: %s" % (path_string(path), message) if path else message)


def _item_element(item: Any, fm: FieldMeta, path: Path, index: int) -> PathElement:
    """The path element of a list element: its keys for a map list, itself for a set."""
    if fm.list_type == "map":
        if item is None:
            raise _TypedError(
                path, "element %d: associative list with keys may not have a null element" % index
            )
        if not isinstance(item, dict):
            raise _TypedError(
                path, "element %d: associative list with keys may not have non-map elements" % index
            )
        defaults = dict(fm.key_defaults)
        fields = []
        for key in fm.list_keys:
            if key in item:
                fields.append((key, _freeze(item[key])))
            elif key in defaults:
                fields.append((key, _freeze(defaults[key])))
        if fm.list_keys and not fields:
            raise _TypedError(
                path,
                "element %d: associative list with keys has an element that omits all key fields [%s] "
                "(and doesn't have default values for any key fields)"
                % (index, " ".join(_go_quote(k) for k in fm.list_keys)),
            )
        return ("k", tuple(sorted(fields)))
    if isinstance(item, dict):
        raise _TypedError(
            path, "element %d: associative list without keys has an element that's a map type" % index
        )
    if isinstance(item, list):
        raise _TypedError(path, "element %d: not supported: associative list with lists as elements" % index)
    if item is None:
        raise _TypedError(
            path, "element %d: associative list without keys has an element that's an explicit null" % index
        )
    return ("v", _freeze(item))


def _elements(items: list[Any], fm: FieldMeta, path: Path) -> list[PathElement]:
    return [_item_element(item, fm, path, i) for i, item in enumerate(items)]


def _is_granular_list(value: Any, fm: FieldMeta) -> bool:
    return isinstance(value, list) and fm.list_type != "atomic"


def _field_set(value: Any, fm: FieldMeta, *, allow_duplicates: bool) -> FieldSet:
    """ToFieldSet: every leaf, every list element, and maps that are empty or null."""
    out = FieldSet()
    if _is_container(value, fm):
        _collect_children(value, fm, (), out, allow_duplicates)
    return out


def _is_container(value: Any, fm: FieldMeta) -> bool:
    return (isinstance(value, dict) and not fm.atomic) or _is_granular_list(value, fm)


def _collect_children(value: Any, fm: FieldMeta, path: Path, node: FieldSet, allow_duplicates: bool) -> None:
    """Add the paths below the map or list `value` (at `path`) to `node`, the set node of `path`."""
    if isinstance(value, dict):
        for key, child in value.items():
            _collect(child, fm.child(key), (*path, ("f", key)), node, allow_duplicates)
        return
    elements = _elements(value, fm, path)
    seen: set[PathElement] = set()
    duplicates: set[PathElement] = set()
    for pe in elements:
        if pe in seen:
            if not allow_duplicates:
                raise _TypedError(path, "duplicate entries for key %s" % _pe_string(pe))
            duplicates.add(pe)
        seen.add(pe)
    node.members.update(seen)
    item_meta = fm.item
    for pe, item in zip(elements, value, strict=True):
        if pe not in duplicates and _is_container(item, item_meta):
            _collect(item, item_meta, (*path, pe), node, allow_duplicates, member=True)


def _collect(
    value: Any, fm: FieldMeta, path: Path, parent: FieldSet, allow_duplicates: bool, member: bool = False
) -> None:
    """Add `value`, the child `path[-1]` of `parent`, and what is below it."""
    pe = path[-1]
    if not _is_container(value, fm):
        parent.members.add(pe)
        return
    if not value:
        if isinstance(value, dict):
            parent.members.add(pe)  # an empty map is owned; an empty list owns nothing
        return
    node = FieldSet()
    _collect_children(value, fm, path, node, allow_duplicates)
    if not node.empty():
        parent.children[pe] = node
    elif member:
        parent.members.add(pe)


def _equal(a: Any, b: Any) -> bool:
    """value.Equals: numbers compare numerically (1 equals 1.0), true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _merge(live: Any, config: Any, fm: FieldMeta, path: Path) -> Any:
    """TypedValue.Merge: the applied configuration laid over the live value. Nulls of the configuration
    are kept here (they are changes, and conflicts) and dropped from the final object."""
    if live is _MISSING:
        return _copy(config)
    if isinstance(live, dict) and isinstance(config, dict) and not fm.atomic:
        out = {}
        for key, value in live.items():
            if key in config:
                out[key] = _merge(value, config[key], fm.child(key), (*path, ("f", key)))
            else:
                out[key] = _copy(value)
        for key, value in config.items():
            if key not in live:
                out[key] = _copy(value)
        return out
    if _is_granular_list(live, fm) and _is_granular_list(config, fm) and (live or config):
        return _merge_list(live, config, fm, path)
    return _copy(config)


def _merge_list(live: list[Any], config: list[Any], fm: FieldMeta, path: Path) -> list[Any]:
    """Merge list elements by key, keeping the order of the applied list for the elements it names and the
    live order around them (structured-merge-diff's mergingWalker.visitListItems)."""
    config_pes = _elements(config, fm, path)
    observed_config: dict[PathElement, Any] = {}
    for pe, item in zip(config_pes, config, strict=True):
        if pe in observed_config:
            raise _TypedError(path, "duplicate entries for key %s" % _pe_string(pe))
        observed_config[pe] = item
    live_pes = _elements(live, fm, path)
    observed_live: dict[PathElement, Any] = {}
    for pe, item in zip(live_pes, live, strict=True):
        # A duplicated live key merges as null: the applied element wins.
        observed_live[pe] = None if pe in observed_live else item
    shared = [pe for pe in config_pes if pe in observed_live]
    shared_index = 0
    next_shared = shared[0] if shared else None
    item_meta = fm.item
    merged_config: set[PathElement] = set()
    out: list[Any] = []

    def merge_item(pe: PathElement, lhs: Any, rhs: Any) -> None:
        item_path = (*path, pe)
        if rhs is _MISSING:
            out.append(_copy(lhs))
        elif lhs is None or lhs is _MISSING:
            out.append(_copy(rhs))
        else:
            out.append(_merge(lhs, rhs, item_meta, item_path))

    li = ri = 0
    while li < len(live_pes) or ri < len(config_pes):
        if li < len(live_pes) and ri < len(config_pes):
            pe = live_pes[li]
            if pe == config_pes[ri]:
                merged_config.add(pe)
                merge_item(pe, observed_live[pe], observed_config[pe])
                li += 1
                ri += 1
                shared_index += 1
                next_shared = shared[shared_index] if shared_index < len(shared) else None
                continue
            if pe in observed_config and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(live_pes):
            pe = live_pes[li]
            if pe not in observed_config:
                merge_item(pe, live[li], _MISSING)
                li += 1
                continue
            if pe in merged_config:
                li += 1
        if ri < len(config_pes):
            pe = config_pes[ri]
            merged_config.add(pe)
            merge_item(pe, observed_live.get(pe, _MISSING), observed_config[pe])
            ri += 1
            if next_shared is not None and next_shared == pe:
                shared_index += 1
                next_shared = shared[shared_index] if shared_index < len(shared) else None
    return out


@dataclass(slots=True)
class _Comparison:
    removed: FieldSet
    modified: FieldSet
    added: FieldSet

    def without_subtrees(self, ignored: FieldSet) -> "_Comparison":
        return _Comparison(
            self.removed.without_subtrees(ignored),
            self.modified.without_subtrees(ignored),
            self.added.without_subtrees(ignored),
        )


def _compare(old: Any, new: Any, fm: FieldMeta) -> _Comparison:
    """TypedValue.Compare: which fields a write removed, modified and added."""
    result = _Comparison(FieldSet(), FieldSet(), FieldSet())
    _compare_into(old, new, fm, (), result)
    return result


def _walk_kind(old: Any, new: Any, fm: FieldMeta) -> str:
    """How two values at one position are compared: as maps, as lists of elements, or as leaves. Empty
    maps and lists are leaves, and so is a value whose shape changed."""
    sides = [v for v in (old, new) if v is not _MISSING]
    if all(isinstance(v, dict) for v in sides) and not fm.atomic:
        return "map" if any(sides) else "leaf"
    if all(_is_granular_list(v, fm) for v in sides):
        return "list" if any(sides) else "leaf"
    return "leaf"


def _compare_into(old: Any, new: Any, fm: FieldMeta, path: Path, c: _Comparison) -> None:
    # Most of an object is untouched by a write. (Python's == takes true for 1, a change a typed field
    # cannot make.)
    if old is new or (type(old) is type(new) and old == new):
        return
    kind = _walk_kind(old, new, fm)
    if kind == "map":
        old_map = old if isinstance(old, dict) else {}
        new_map = new if isinstance(new, dict) else {}
        for key, value in old_map.items():
            _compare_into(value, new_map.get(key, _MISSING), fm.child(key), (*path, ("f", key)), c)
        for key, value in new_map.items():
            if key not in old_map:
                _compare_into(_MISSING, value, fm.child(key), (*path, ("f", key)), c)
        _mark_container(old, new, path, c)
        return
    if kind == "list":
        _compare_lists(
            old if isinstance(old, list) else [], new if isinstance(new, list) else [], fm, path, c
        )
        _mark_container(old, new, path, c)
        return
    if old is _MISSING:
        c.added.insert(path)
    elif new is _MISSING:
        c.removed.insert(path)
    elif not _equal(old, new):
        c.modified.insert(path)


def _mark_container(old: Any, new: Any, path: Path, c: _Comparison) -> None:
    if old is _MISSING:
        c.added.insert(path)
    elif new is _MISSING:
        c.removed.insert(path)


def _compare_lists(old: list[Any], new: list[Any], fm: FieldMeta, path: Path, c: _Comparison) -> None:
    order: list[PathElement] = []
    old_items: dict[PathElement, list[Any]] = {}
    for pe, item in zip(_elements(old, fm, path), old, strict=True):
        if pe not in old_items:
            order.append(pe)
        old_items.setdefault(pe, []).append(item)
    new_items: dict[PathElement, list[Any]] = {}
    for pe, item in zip(_elements(new, fm, path), new, strict=True):
        if pe not in new_items and pe not in old_items:
            order.append(pe)
        new_items.setdefault(pe, []).append(item)
    item_meta = fm.item
    for pe in order:
        before, after = old_items.get(pe, []), new_items.get(pe, [])
        item_path = (*path, pe)
        if len(before) <= 1 and len(after) <= 1:
            _compare_into(
                before[0] if before else _MISSING, after[0] if after else _MISSING, item_meta, item_path, c
            )
        elif len(before) >= 2 and len(after) >= 2:
            if not _equal(before, after):
                c.modified.insert(item_path)
        elif len(before) >= 2:
            if after:
                _compare_into(_MISSING, after[0], item_meta, item_path, c)
            c.removed.insert(item_path)
        else:
            if before:
                _compare_into(before[0], _MISSING, item_meta, item_path, c)
            c.added.insert(item_path)


def _remove_items(value: Any, doomed: FieldSet, fm: FieldMeta, path: Path) -> Any:
    """TypedValue.RemoveItems: drop every path of `doomed` with what is below it.

    What the removal empties stays, as Go leaves it (null, which its struct decoding turns into an empty
    struct or nothing): an emptied map stays an empty map and an emptied list becomes null, dropped when
    the object is stored. Both still count as present (owned) for the pruning steps that follow.
    """
    if isinstance(value, dict) and value and not fm.atomic:
        out = {}
        for key, child in value.items():
            pe = ("f", key)
            if pe in doomed.members:
                continue
            below = doomed.children.get(pe)
            if below is not None and not below.empty():
                child = _remove_items(child, below, fm.child(key), (*path, pe))
            out[key] = child
        return out
    if _is_granular_list(value, fm) and value:
        kept = []
        item_meta = fm.item
        for pe, item in zip(_elements(value, fm, path), value, strict=True):
            if pe in doomed.members:
                continue
            below = doomed.children.get(pe)
            if below is not None and not below.empty():
                item = _remove_items(item, below, item_meta, (*path, pe))
            kept.append(item)
        return kept if kept else None
    return value


def _remove(obj: dict[str, Any], doomed: FieldSet, fm: FieldMeta) -> dict[str, Any]:
    result: dict[str, Any] = _remove_items(obj, doomed, fm, ())
    return result


# -- managers -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    """One managedFields entry."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet
    # The stored encoding of `fields` while they are unchanged: written back as is.
    stored: tuple[FieldSet, dict[str, Any]] | None = None

    @property
    def encoded_fields(self) -> dict[str, Any]:
        if self.stored is not None and self.stored[0] is self.fields:
            return _copy(self.stored[1])
        return self.fields.to_fields_v1()

    @property
    def identity(self) -> str:
        """BuildManagerIdentifier: apply entries are one per manager whatever the API version."""
        return _identity(self.manager, self.operation, self.api_version, self.subresource)

    @property
    def applied(self) -> bool:
        return self.operation == "Apply"


@lru_cache(maxsize=1024)
def _identity(manager: str, operation: str, api_version: str, subresource: str) -> str:
    parts = {"manager": manager, "operation": operation}
    if operation != "Apply" and api_version:
        parts["apiVersion"] = api_version
    if subresource:
        parts["subresource"] = subresource
    return "{%s}" % ",".join("%s:%s" % (_go_json(k), _go_json(v)) for k, v in parts.items())


def _describe(entry: _Entry) -> str:
    """printManager: how conflicts name a manager."""
    text = _go_quote(entry.manager)
    if entry.subresource:
        text += " with subresource %s" % _go_quote(entry.subresource)
    if entry.operation == "Update":
        text += " using %s" % entry.api_version
    return text


Managers = dict[str, _Entry]


def _decode_managers(managed_fields: Any) -> Managers:
    """DecodeManagedFields; raises ValueError with kube-apiserver's wording."""
    if managed_fields is None:
        return {}
    if not isinstance(managed_fields, list):
        raise ValueError("managedFields must be a list")
    managers: Managers = {}
    for index, raw in enumerate(managed_fields):
        if not isinstance(raw, dict):
            raise ValueError("managed fields entry %d is not an object" % index)
        operation = raw.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = raw.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = raw.get("fieldsType") or ""
        if fields_type == "":
            raise ValueError("missing fieldsType in managed fields entry %d" % index)
        if fields_type != "FieldsV1":
            raise ValueError('invalid fieldsType "%s" in managed fields entry %d' % (fields_type, index))
        stored = raw.get("fieldsV1") or {}
        try:
            fields = FieldSet.from_fields_v1(stored)
        except (ValueError, msgspec.DecodeError) as e:
            raise ValueError("error decoding set of managed fields entry %d: %s" % (index, e)) from None
        entry = _Entry(
            manager=str(raw.get("manager") or ""),
            operation=operation,
            api_version=str(api_version),
            subresource=str(raw.get("subresource") or ""),
            time=raw.get("time"),
            fields=fields,
            stored=(fields, stored),
        )
        managers[entry.identity] = entry
    return managers


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time).timestamp())
    except ValueError:
        return 0


def _encode_managers(managers: Managers) -> list[dict[str, Any]] | None:
    """The managedFields list, sorted as kube-apiserver sorts it."""
    if not managers:
        return None
    out = []
    for e in managers.values():
        raw: dict[str, Any] = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            raw["time"] = e.time
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = e.encoded_fields
        if e.subresource:
            raw["subresource"] = e.subresource
        out.append(raw)
    out.sort(key=_stored_order)
    return out


def _stored_order(e: dict[str, Any]) -> tuple[str, int, str, str, str]:
    """How kube-apiserver sorts managedFields entries (stable: ties keep their order)."""
    subresource = e.get("subresource") or ""
    return (e["operation"], _seconds(e.get("time")), e["manager"], e["apiVersion"], subresource)


def _set_managed_fields(obj: dict[str, Any], managers: Managers) -> None:
    encoded = _encode_managers(managers)
    metadata = obj.get("metadata")
    if encoded is None:
        if isinstance(metadata, dict):
            metadata.pop("managedFields", None)
        return
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    metadata["managedFields"] = encoded


def _without_managed_fields(obj: dict[str, Any] | None) -> dict[str, Any]:
    """A read-only view of `obj` without its managedFields (it shares everything else with `obj`)."""
    if obj is None:
        return {}
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def _metadata(obj: dict[str, Any] | None) -> dict[str, Any]:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return metadata if isinstance(metadata, dict) else {}


# Fields nobody owns: identity and server-maintained metadata (stripMetaManager).
_STRIPPED = FieldSet.of(
    [(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)]
    + [
        (("f", "metadata"), ("f", name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ]
)


def _reset_set(reset_fields: Iterable[str]) -> FieldSet:
    return FieldSet.of(tuple(("f", name) for name in dotted.split(".")) for dotted in reset_fields)


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[str, FieldSet], managers: Managers) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts
        self.managers = managers

    def pairs(self) -> list[tuple[str, Path]]:
        return [(ident, path) for ident in sorted(self.conflicts) for path in self.conflicts[ident].paths()]

    def error(self) -> ApiError:
        """NewConflictError, as kube-apiserver words it."""
        pairs = self.pairs()
        if len(pairs) == 1:
            ident, path = pairs[0]
            message = "Apply failed with 1 conflict: conflict with %s: %s" % (
                _describe(self.managers[ident]),
                path_string(path),
            )
        else:
            lines = []
            for ident in sorted(self.conflicts):
                lines.append("conflicts with %s:" % _describe(self.managers[ident]))
                lines.extend("- %s" % path_string(p) for p in self.conflicts[ident].paths())
            message = "Apply failed with %d conflicts: %s" % (len(pairs), "\n".join(lines))
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": "conflict with %s" % _describe(self.managers[ident]),
                "field": path_string(path),
            }
            for ident, path in pairs
        ]
        return ApiError(409, "Conflict", message, details={"causes": causes})


def _take_over(
    old: dict[str, Any],
    new: dict[str, Any],
    managers: Managers,
    workflow: str,
    force: bool,
    fm: FieldMeta,
    ignored: FieldSet,
) -> _Comparison:
    """Updater.update: other managers lose the fields this write changed (a conflict unless forced) and
    the fields it removed."""
    comparison = _compare(old, new, fm).without_subtrees(ignored)
    changed = comparison.modified.union(comparison.added)
    conflicts: dict[str, FieldSet] = {}
    for ident, entry in managers.items():
        if ident == workflow:
            continue
        clash = entry.fields.intersection(changed)
        if not clash.empty():
            conflicts[ident] = clash
    if conflicts and not force:
        raise _Conflicts(conflicts, managers)
    removed = comparison.removed
    for ident in list(managers):
        entry = managers[ident]
        if ident != workflow:
            # Replace the set only when it loses something: an untouched entry is written back as stored.
            if ident in conflicts:
                entry.fields = entry.fields.difference(conflicts[ident])
            if not removed.empty() and not entry.fields.intersection(removed).empty():
                entry.fields = entry.fields.difference(removed)
        if entry.fields.empty():
            del managers[ident]
    return comparison


def _record(
    old: dict[str, Any],
    new: dict[str, Any],
    managers: Managers,
    entry: _Entry,
    fm: FieldMeta,
    ignored: FieldSet,
) -> None:
    """An Update write by `entry`'s manager (managedFieldsUpdater over Updater.Update)."""
    workflow = "current-operation"
    comparison = _take_over(old, new, managers, workflow, True, fm, ignored)
    changed = comparison.modified.union(comparison.added).without_subtrees(ignored)
    changed = changed.difference(_STRIPPED)
    if changed.empty():
        return
    previous = managers.get(entry.identity)
    if previous is not None:
        changed = changed.union(previous.fields)
    entry.fields = changed
    managers[entry.identity] = entry


def _cap_update_managers(managers: Managers) -> None:
    """Keep at most MAX_UPDATE_MANAGERS Update entries: the oldest merge, per API version, into
    ``ancient-changes``."""
    updaters = [ident for ident, e in managers.items() if not e.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda ident: (_seconds(managers[ident].time), ident))
    first_by_version: dict[str, str] = {}
    count = len(updaters)
    for ident in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        entry = managers[ident]
        version = entry.api_version
        bucket = _identity(_ANCIENT_CHANGES, "Update", version, "")
        if version not in first_by_version:
            first_by_version[version] = ident
            continue
        if bucket not in managers:
            first = managers.pop(first_by_version[version])
            managers[bucket] = _Entry(_ANCIENT_CHANGES, "Update", version, "", first.time, first.fields)
        ancient = managers[bucket]
        ancient.fields = entry.fields.union(ancient.fields)
        ancient.time = entry.time
        del managers[ident]
        count -= 1


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return "%s/%s, Kind=%s" % (group, version, kind)


def _describe_object(obj: dict[str, Any]) -> str:
    """objectGVKNN: ``namespace/name; group/version, Kind=Kind``."""
    metadata = _metadata(obj)
    return "%s/%s; %s" % (
        metadata.get("namespace", ""),
        metadata.get("name", ""),
        _gvk_string(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))),
    )


def _unclassified(message: str) -> ApiError:
    """A plain Go error: kube-apiserver answers 500 with the Unknown (empty) reason."""
    return ApiError(500, "", message)


# -- server-side apply --------------------------------------------------------------------------------


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    meta: PatchMeta | None,
    now: str,
    api_version: str | None = None,
    kind: str | None = None,
    subresource: str = "",
    reset_fields: Iterable[str] = (),
) -> dict[str, Any]:
    """Apply `applied` (the decoded apply-patch body) as `manager`; return the new object with its
    managedFields. `live` is None when the apply creates the object.

    meta: the kind's metadata (`smp_meta.meta_for`, or `smp_meta.meta_from_openapi_schema` for a custom
      resource); None knows only ObjectMeta.
    now: RFC 3339 time of the write, recorded in the manager's entry when the object changed.
    api_version, kind: the request's, when the caller knows them: the body must match (400 otherwise).
    subresource: e.g. ``"status"`` for an apply to the status subresource.
    reset_fields: dotted paths the resource's strategy resets on this endpoint (``"status"`` for the main
      resource of most kinds); they are neither owned nor conflicts.
    """
    if not manager:
        raise ApiError.invalid(
            "PatchOptions",
            "",
            [("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")],
            group="meta.k8s.io",
        )
    if not isinstance(applied, dict):
        raise ApiError.bad_request(
            "error decoding patch: json: cannot unmarshal %s into Go value of type map[string]interface {}"
            % _json_kind(applied)
        )
    body_version, body_kind = applied.get("apiVersion"), applied.get("kind")
    want_version = api_version if api_version is not None else (live or {}).get("apiVersion", body_version)
    want_kind = kind if kind is not None else (live or {}).get("kind", body_kind)
    if (
        not isinstance(body_version, str)
        or not isinstance(body_kind, str)
        or not body_version
        or (body_version, body_kind) != (want_version, want_kind)
    ):
        raise ApiError.bad_request(
            "invalid object type: %s"
            % _gvk_string(body_version if isinstance(body_version, str) else "", str(body_kind or ""))
        )
    if _metadata(applied).get("managedFields") is not None:
        raise ApiError.bad_request("metadata.managedFields must be nil")
    fm = (meta or OBJECT_META).as_value
    ignored = _reset_set(reset_fields)
    try:
        managers = _decode_managers(_metadata(live).get("managedFields"))
    except ValueError as e:
        raise _unclassified("failed to decode managed fields: %s" % e) from None
    try:
        config_set = _field_set(applied, fm, allow_duplicates=False)
    except _TypedError as e:
        raise _unclassified(
            "failed to create typed patch object (%s): %s" % (_describe_object(applied), e)
        ) from None
    base = _without_managed_fields(live)
    try:
        try:
            return _apply(base, applied, config_set, managers, manager, force, fm, now, subresource, ignored)
        except _Conflicts as conflicts:
            remaining = _uncovered_conflicts(base, manager, fm, body_version, conflicts)
            if remaining is not None:
                raise remaining.error() from None
            return _apply(base, applied, config_set, managers, manager, True, fm, now, subresource, ignored)
    except _TypedError as e:
        raise _unclassified(
            "failed to create typed live object (%s): %s" % (_describe_object(base), e)
        ) from None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def _apply(
    live: dict[str, Any],
    applied: dict[str, Any],
    config_set: FieldSet,
    original_managers: Managers,
    manager: str,
    force: bool,
    fm: FieldMeta,
    now: str,
    subresource: str,
    ignored: FieldSet,
) -> dict[str, Any]:
    # Field sets are never changed in place, only replaced: fresh entries suffice for a retry.
    managers = {ident: dataclasses.replace(e) for ident, e in original_managers.items()}
    version = str(applied["apiVersion"])
    if not managers and live:
        # Fields set before anyone applied belong to a pseudo-manager, so applying other values conflicts.
        _record(
            {},
            live,
            managers,
            _Entry(_BEFORE_FIRST_APPLY, "Update", version, subresource, now, FieldSet()),
            fm,
            ignored,
        )
    ident = _identity(manager, "Apply", version, subresource)
    previous = managers.get(ident)
    last_set = previous.fields if previous is not None else None
    new = _merge(live, applied, fm, ())
    managers[ident] = _Entry(
        manager,
        "Apply",
        version,
        subresource,
        previous.time if previous else None,
        config_set.without_subtrees(ignored),
    )
    new = _prune(new, managers, ident, last_set, fm)
    _take_over(live, new, managers, ident, force, fm, ignored)
    entry = managers[ident]
    entry.fields = entry.fields.difference(_STRIPPED)
    if entry.fields.empty():
        del managers[ident]
    if live != new and ident in managers:
        managers[ident].time = now
    result = drop_nulls(new)  # applied values are stored without null members (module docstring)
    if manager == "kubectl" and LAST_APPLIED_ANNOTATION in (_metadata(result).get("annotations") or {}):
        _set_last_applied(result, applied)
    _set_managed_fields(result, managers)
    return result


def _prune(
    merged: dict[str, Any], managers: Managers, ident: str, last_set: FieldSet | None, fm: FieldMeta
) -> dict[str, Any]:
    """Updater.prune: remove what the manager applied last time and no longer applies, unless another
    manager (or the new configuration) owns it; fields nobody ever owned stay."""
    if last_set is None or last_set.difference(managers[ident].fields).empty():
        return merged  # it applies all it applied before: nothing to remove
    last = last_set.with_named_fields_as_members()
    pruned = _remove(merged, last, fm)
    owned = FieldSet()
    for entry in managers.values():
        owned = owned.union(entry.fields)
    merged_set = _field_set(merged, fm, allow_duplicates=True).with_named_fields_as_members()
    pruned_set = _field_set(pruned, fm, allow_duplicates=True).with_named_fields_as_members()
    keep = pruned_set.union(owned.with_named_fields_as_members())
    pruned = _remove(merged, merged_set.difference(keep), fm)
    pruned_set = _field_set(pruned, fm, allow_duplicates=True).with_named_fields_as_members()
    return _remove(merged, merged_set.difference(pruned_set).intersection(last), fm)


def _uncovered_conflicts(
    live: dict[str, Any], manager: str, fm: FieldMeta, version: str, conflicts: _Conflicts
) -> "_Conflicts | None":
    """lastAppliedManager: manager ``kubectl`` may take over, without force, the fields client-side apply
    set (those of the last-applied annotation that still hold its value). Returns the conflicts left, or
    None when the annotation covers them all."""
    if manager != "kubectl":
        return conflicts
    text = (_metadata(live).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    if not isinstance(text, str) or not text:
        return conflicts
    try:
        last_applied = msgspec.json.decode(text)
        if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != version:
            return conflicts
        allowed = _field_set(last_applied, fm, allow_duplicates=False)
        comparison = _compare(last_applied, live, fm)
    except (msgspec.DecodeError, _TypedError):
        return conflicts
    allowed = (
        allowed.difference(comparison.modified).difference(comparison.added).difference(comparison.removed)
    )
    remaining = {ident: s.difference(allowed) for ident, s in conflicts.conflicts.items()}
    remaining = {ident: s for ident, s in remaining.items() if not s.empty()}
    return _Conflicts(remaining, conflicts.managers) if remaining else None


def _set_last_applied(obj: dict[str, Any], applied: dict[str, Any]) -> None:
    """lastAppliedUpdater: the annotation becomes the applied configuration (without the annotation), or
    goes away if it would make the annotations too large."""
    config = _copy(applied)
    annotations_of_config = _metadata(config).get("annotations")
    if isinstance(annotations_of_config, dict):
        annotations_of_config.pop(LAST_APPLIED_ANNOTATION, None)
    annotations = obj["metadata"].setdefault("annotations", {})
    annotations[LAST_APPLIED_ANNOTATION] = _go_json(config) + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]


# -- every other write --------------------------------------------------------------------------------


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    now: str,
    api_version: str,
    meta: PatchMeta | None = None,
    subresource: str = "",
    reset_fields: Iterable[str] = (),
) -> dict[str, Any]:
    """The object `new` with the managedFields of a write that is not an apply (create: `old` is None;
    update; json, merge or strategic merge patch), written by `manager` (kube-apiserver takes it from the
    ``fieldManager`` parameter, else from the User-Agent: ``kubectl-edit``, ``kubectl-client-side-apply``).

    managedFields sent in `new` replace the stored ones (how users edit them); ``[]`` or ``[{}]`` clears
    them, after which an existing object is no longer tracked until the next apply. The result shares
    nothing with the arguments.
    """
    fm = (meta or OBJECT_META).as_value
    result = _copy(_without_managed_fields(new))
    quick = _owner_rewrite(old, new, result, manager, now, api_version, fm, subresource, reset_fields)
    if quick is not None:
        if quick:
            result.setdefault("metadata", {})["managedFields"] = quick
        return result
    managers = _managers_for_update(old, new, subresource)
    old_uid = _metadata(old).get("uid")
    if not managers and old_uid:
        # Objects nobody tracked (or whose tracking was reset) stay untracked until an apply.
        return result
    entry = _Entry(manager or "unknown", "Update", api_version, subresource, now, FieldSet())
    try:
        _record(_without_managed_fields(old), result, managers, entry, fm, _reset_set(reset_fields))
    except _TypedError:
        # kube-apiserver keeps the stored managedFields when it cannot compute new ones (UpdateNoErrors).
        stored = _metadata(old).get("managedFields")
        if stored is not None:
            result.setdefault("metadata", {})["managedFields"] = _copy(stored)
        return result
    _cap_update_managers(managers)
    _set_managed_fields(result, managers)
    return result


def _owner_rewrite(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    result: dict[str, Any],
    manager: str,
    now: str,
    api_version: str,
    fm: FieldMeta,
    subresource: str,
    reset_fields: Iterable[str],
) -> list[dict[str, Any]] | None:
    """The managedFields of the commonest write, without decoding them: a manager changing values it
    alone already owns (a lease renewal, a node or pod status heartbeat). They are the stored ones with
    that manager's time moved to `now`, or unchanged when nothing owned changed. None when the write is
    anything else, for the general path: fields added, removed, or owned by another manager, or managed
    fields edited in the request. (A third of a lease renewal went to decoding and re-encoding them.)"""
    stored = _metadata(old).get("managedFields")
    if not isinstance(stored, list) or not stored:
        return None
    if not subresource and _metadata(new).get("managedFields", stored) != stored:
        return None
    for raw in stored:
        if not isinstance(raw, dict) or not isinstance(raw.get("fieldsV1"), dict) or not raw.get("time"):
            return None
    try:
        comparison = _compare(_without_managed_fields(old), result, fm).without_subtrees(
            _reset_set(reset_fields)
        )
    except _TypedError:
        return None
    if not comparison.removed.empty():
        return None
    changed = comparison.modified.union(comparison.added)
    name = manager or "unknown"
    mine = None
    for i, raw in enumerate(stored):
        if (
            raw.get("manager") == name
            and raw.get("operation") == "Update"
            and raw.get("apiVersion") == api_version
            and (raw.get("subresource") or "") == subresource
        ):
            mine = i
    owned = changed.difference(_STRIPPED)
    for path in changed.paths():
        for i, raw in enumerate(stored):
            if i != mine and _fields_have(raw["fieldsV1"], path):
                return None  # another manager loses it (or conflicts): the general path
    if owned.empty():
        return _copy(stored)
    if mine is None:
        return None
    for path in owned.paths():
        if not _fields_have(stored[mine]["fieldsV1"], path):
            return None
    out = _copy(stored)
    out[mine]["time"] = now
    out.sort(key=_stored_order)
    return out


def _fields_have(fields_v1: dict[str, Any], path: Path) -> bool:
    """FieldSet.has on the FieldsV1 encoding (as this server stores it): the path is a member."""
    node: Any = fields_v1
    for pe in path:
        node = node.get(_pe_serialize(pe)) if isinstance(node, dict) else None
        if node is None:
            return False
    return isinstance(node, dict) and (not node or "." in node)


def _managers_for_update(
    old: dict[str, Any] | None, new: dict[str, Any] | None, subresource: str
) -> Managers:
    """decodeLiveOrNew: the request's managedFields if it has valid ones, else the stored ones."""
    if new is not None and not subresource:
        sent = _metadata(new).get("managedFields")
        if sent is not None and (sent == [] or sent == [{}]):
            return {}
        try:
            managers = _decode_managers(sent)
        except ValueError:
            managers = {}
        if managers:
            return managers
    try:
        return _decode_managers(_metadata(old).get("managedFields"))
    except ValueError:
        return {}


# -- the request body ---------------------------------------------------------------------------------


class _YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 as sigs.k8s.io/yaml reads it: timestamps stay strings."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _json_compatible(value: Any) -> Any:
    """Map keys become strings and non-finite floats are refused, as YAML-to-JSON conversion does."""
    if isinstance(value, dict):
        return {_key_string(k): _json_compatible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_compatible(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError(
            "json: unsupported value: %s" % ("NaN" if value != value else "%sInf" % "+-"[value < 0])
        )
    if isinstance(value, bytes):
        raise ValueError("json: unsupported binary value")
    return value


def _key_string(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def decode_apply_body(body: bytes) -> dict[str, Any]:
    """The object of an ``application/apply-patch+yaml`` body (YAML or JSON; only the first YAML
    document counts), with kube-apiserver's 400 errors."""
    stripped = body.lstrip()
    value: Any = None
    if stripped[:1] == b"{":
        try:
            value = msgspec.json.decode(stripped)
        except msgspec.DecodeError:
            value = _MISSING
    else:
        value = _MISSING
    if value is _MISSING:
        try:
            value = _json_compatible(next(yaml.load_all(body, Loader=_YamlLoader), None))
        except (yaml.YAMLError, ValueError) as e:
            raise ApiError.bad_request("error encoding patch: %s" % e) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError.bad_request(
            "error decoding patch: json: cannot unmarshal %s into Go value of type map[string]interface {}"
            % _json_kind(value)
        )
    return value
