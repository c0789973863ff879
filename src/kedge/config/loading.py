"""Reading and writing cloudcore.yaml / edgecore.yaml.

Loading is forgiving where KubeEdge is (unknown keys become warnings, missing keys take defaults, a key
with no value means its default) and strict where a wrong value would bite later (types, ranges, enums,
cross-field rules), always naming the file and the field path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import yaml

from kedge.config._schema import clean, config_error
from kedge.config.edgecore import EdgeCoreConfig, default_edgecore
from kedge.config.errors import ConfigError

if TYPE_CHECKING:  # cloudcore's Structs load only when a cloudcore config is read: edgecore never needs them
    from kedge.config.cloudcore import CloudCoreConfig

__all__ = [
    "ConfigError",
    "default_cloudcore",
    "default_edgecore",
    "dump_yaml",
    "load",
    "load_cloudcore",
    "load_edgecore",
]

Config = TypeVar("Config", "CloudCoreConfig", EdgeCoreConfig)


def default_cloudcore() -> CloudCoreConfig:
    from kedge.config.cloudcore import default_cloudcore

    return default_cloudcore()


def _identity(cls: type) -> tuple[str, tuple[str, ...], str]:
    """(apiVersion, accepted apiVersions, kind) from the module that defines the config Struct."""
    mod = sys.modules[cls.__module__]
    return mod.API_VERSION, mod.ACCEPTED_API_VERSIONS, mod.KIND


def load(cls: type[Config], data: bytes | str, *, source: str) -> tuple[Config, list[str]]:
    """Parse YAML `data` into `cls`; return the config and the warnings (unknown fields and the like).

    Raises ConfigError (naming `source` and the field path) for YAML syntax errors, a document that is
    not a mapping, a wrong apiVersion/kind, values of the wrong type or out of range, and broken
    cross-field rules. An empty document gives the defaults.
    """
    raw = _parse_yaml(data, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([("", f"expected a mapping at the top level, got {_kind_of(raw)}")], source=source)
    _check_identity(cls, raw, source)
    warnings: list[str] = []
    cleaned = clean(raw, cls, warnings)
    try:
        cfg = msgspec.convert(cleaned, cls)
    except msgspec.ValidationError as exc:
        raise config_error(exc, cleaned, cls, source) from None
    cfg.validate(source=source)
    return cfg, warnings


def load_cloudcore(
    path_or_text: str | os.PathLike[str] | bytes, *, source: str | None = None
) -> tuple[CloudCoreConfig, list[str]]:
    """Load cloudcore.yaml from a path, or from YAML text/bytes (see `_read` for how a str is taken)."""
    from kedge.config.cloudcore import CloudCoreConfig

    data, name = _read(path_or_text, source, "cloudcore.yaml")
    return load(CloudCoreConfig, data, source=name)


def load_edgecore(
    path_or_text: str | os.PathLike[str] | bytes, *, source: str | None = None
) -> tuple[EdgeCoreConfig, list[str]]:
    """Load edgecore.yaml from a path, or from YAML text/bytes (see `_read` for how a str is taken)."""
    data, name = _read(path_or_text, source, "edgecore.yaml")
    return load(EdgeCoreConfig, data, source=name)


def dump_yaml(cfg: CloudCoreConfig | EdgeCoreConfig) -> str:
    """YAML for `cfg`, keys in KubeEdge's order (the Structs' field order); unset optional keys left out."""
    return yaml.safe_dump(
        _drop_none(msgspec.to_builtins(cfg)),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
    )


def _read(
    path_or_text: str | os.PathLike[str] | bytes, source: str | None, fallback: str
) -> tuple[bytes | str, str]:
    """A PathLike is a file and bytes are YAML. A str is YAML text if it holds a newline or is empty,
    else a file path (config text worth loading is never a single line without one)."""
    if isinstance(path_or_text, bytes):
        return path_or_text, source or fallback
    if isinstance(path_or_text, str) and ("\n" in path_or_text or not path_or_text.strip()):
        return path_or_text, source or fallback
    path = Path(path_or_text)
    try:
        return path.read_bytes(), source or str(path)
    except OSError as exc:
        raise ConfigError(
            [("", f"cannot read config file: {exc.strerror or exc}")], source=source or str(path)
        ) from None


def _parse_yaml(data: bytes | str, source: str) -> Any:
    try:
        return yaml.safe_load(data)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = ": ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise ConfigError([("", f"{where}YAML syntax error: {what}")], source=source) from None
    except yaml.YAMLError as exc:  # e.g. bytes that are not UTF-8
        what = " ".join(str(exc).split())
        raise ConfigError([("", f"YAML syntax error: {what}")], source=source) from None


def _check_identity(cls: type, raw: dict[Any, Any], source: str) -> None:
    """A missing apiVersion/kind takes the default; a different one means the wrong file was given."""
    expected_version, accepted, expected_kind = _identity(cls)
    version = raw.get("apiVersion")
    if version is not None and version not in accepted:
        raise ConfigError([("apiVersion", f"expected {expected_version}, got {version!r}")], source=source)
    kind = raw.get("kind")
    if kind is not None and kind != expected_kind:
        raise ConfigError([("kind", f"expected {expected_kind}, got {kind!r}")], source=source)


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
