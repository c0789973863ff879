"""Walking raw YAML mappings against the config Structs: unknown keys, nulls, readable errors."""

from __future__ import annotations

import difflib
import functools
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from kedge.config.errors import ConfigError

_NONE = type(None)
_MISSING = object()


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    tp = _strip(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return tuple(_strip(a) for a in get_args(tp))
    return (tp,)


def _accepts_none(tp: Any) -> bool:
    return any(m is _NONE or m is Any for m in _members(tp))


def _struct_of(tp: Any) -> type[msgspec.Struct] | None:
    for m in _members(tp):
        if isinstance(m, type) and issubclass(m, msgspec.Struct):
            return m
    return None


def _container_of(tp: Any, origin: type) -> Any:
    """Element type of list[X] (origin=list) or value type of dict[str, X] (origin=dict), else None."""
    for m in _members(tp):
        if get_origin(m) is origin:
            return get_args(m)[-1]
    return None


@functools.cache
def _fields(cls: type[msgspec.Struct]) -> dict[str, Any]:
    """encode name -> declared type."""
    return {f.encode_name: f.type for f in msgspec.structs.fields(cls)}


@functools.cache
def _fields_folded(cls: type[msgspec.Struct]) -> dict[str, str]:
    return {name.lower(): name for name in _fields(cls)}


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def clean(raw: dict[Any, Any], cls: type[msgspec.Struct], warnings: list[str], prefix: str = "") -> dict:
    """Copy of `raw` ready for msgspec.convert into `cls`, with a warning for each key it dropped.

    - Unknown keys are dropped with a warning naming their full path (a typo must not stop a node).
    - Keys that differ from a field name only in case are accepted under the right name: KubeEdge
      decodes through Go's encoding/json, which matches names case-insensitively.
    - `key:` with no value (null) means "the default" unless the field itself may be null.
    """
    fields = _fields(cls)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = _join(prefix, key)
        if not isinstance(key, str):
            warnings.append(f"{path}: unknown field (keys must be strings)")
            continue
        name = key
        if name not in fields:
            canonical = _fields_folded(cls).get(key.lower())
            if canonical is not None and canonical not in raw:
                warnings.append(f"{path}: read as {canonical} (names differ only in case)")
                name = canonical
            else:
                hint = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.75)
                warnings.append(f"{path}: unknown field" + (f" (did you mean {hint[0]}?)" if hint else ""))
                continue
        tp = fields[name]
        if value is None and not _accepts_none(tp):
            continue
        sub = _struct_of(tp)
        if sub is not None and isinstance(value, dict):
            value = clean(value, sub, warnings, path)
        else:
            item = _container_of(tp, list)
            item_struct = _struct_of(item) if item is not None else None
            if item_struct is not None and isinstance(value, list):
                value = [
                    clean(v, item_struct, warnings, f"{path}[{i}]") if isinstance(v, dict) else v
                    for i, v in enumerate(value)
                ]
        out[name] = value
    return out


_TOKEN_RE = re.compile(r"\.([^.\[\]]+)|\[(\d+|\.\.\.)\]")


def _tokens(path: str) -> list[str | int | None]:
    """ "a.b[2].c" -> ["a", "b", 2, "c"]; msgspec's "[...]" (a dict value) becomes None."""
    out: list[str | int | None] = []
    for name, index in _TOKEN_RE.findall("." + path if path and path[0] != "[" else path):
        if name:
            out.append(name)
        elif index == "...":
            out.append(None)
        else:
            out.append(int(index))
    return out


def _value_at(data: Any, tokens: list[str | int | None]) -> Any:
    for tok in tokens:
        if (isinstance(tok, str) and isinstance(data, dict) and tok in data) or (
            isinstance(tok, int) and isinstance(data, list) and 0 <= tok < len(data)
        ):
            data = data[tok]
        else:
            return _MISSING
    return data


def _type_at(cls: type, tokens: list[str | int | None]) -> Any:
    tp: Any = cls
    for tok in tokens:
        if isinstance(tok, str):
            struct = _struct_of(tp)
            if struct is None or tok not in _fields(struct):
                return None
            tp = _fields(struct)[tok]
        else:
            tp = _container_of(tp, list if isinstance(tok, int) else dict)
            if tp is None:
                return None
    return tp


def _literal_values(tp: Any) -> tuple[Any, ...]:
    for m in _members(tp):
        if get_origin(m) is Literal:
            return get_args(m)
    return ()


def _description(tp: Any) -> str | None:
    if get_origin(tp) is Annotated:
        for meta in get_args(tp)[1:]:
            if isinstance(meta, msgspec.Meta) and meta.description:
                return meta.description
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def config_error(exc: msgspec.ValidationError, data: Any, cls: type, source: str) -> ConfigError:
    """A ConfigError naming the field path, from msgspec's "<reason> - at `$.path`" message."""
    text = str(exc)
    reason, sep, where = text.rpartition(" - at ")
    if not sep:
        return ConfigError([("", text.replace("`", ""))], source=source)
    reason = reason.replace("`", "")
    where = where.strip()
    is_key = where.startswith("`key` in ")
    where = where.removeprefix("`key` in ").strip("`")
    path = where.removeprefix("$").lstrip(".")
    if is_key:
        return ConfigError([(path, reason + " (a mapping key)")], source=source)
    tokens = _tokens(path)
    value = _value_at(data, tokens)
    if reason.startswith("Invalid enum value"):
        allowed = _literal_values(_type_at(cls, tokens))
        if allowed:
            reason += " (expected one of " + ", ".join(_show(v) for v in allowed) + ")"
        return ConfigError([(path, reason)], source=source)
    if "matching regex" in reason and (described := _description(_type_at(cls, tokens))):
        # A regex is no help to whoever edits the file; say what the value should look like.
        reason = f"Expected {described}"
    if "got " not in reason and value is not _MISSING:
        reason += f", got {_show(value)}"
    return ConfigError([(path, reason)], source=source)


def recheck(cfg: msgspec.Struct, source: str) -> None:
    """Re-apply field constraints (assignment after loading does not check them); raise ConfigError."""
    data = msgspec.to_builtins(cfg)
    try:
        msgspec.convert(data, type(cfg))
    except msgspec.ValidationError as exc:
        raise config_error(exc, data, type(cfg), source) from None
