"""cloudcore and edgecore configuration: KubeEdge's cloudcore.yaml / edgecore.yaml as msgspec Structs.

Pure layer: no I/O beyond reading a config file, no asyncio. Names load on first use (PEP 562), so an
edge that reads edgecore.yaml never builds cloudcore's Structs (footprint).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedge.config._base import go_duration_seconds
    from kedge.config.cloudcore import CloudCoreConfig, default_cloudcore
    from kedge.config.edgecore import EdgeCoreConfig, default_edgecore
    from kedge.config.errors import ConfigError
    from kedge.config.loading import dump_yaml, load, load_cloudcore, load_edgecore

_HOMES = {
    "go_duration_seconds": "kedge.config._base",
    "CloudCoreConfig": "kedge.config.cloudcore",
    "default_cloudcore": "kedge.config.cloudcore",
    "EdgeCoreConfig": "kedge.config.edgecore",
    "default_edgecore": "kedge.config.edgecore",
    "ConfigError": "kedge.config.errors",
    "dump_yaml": "kedge.config.loading",
    "load": "kedge.config.loading",
    "load_cloudcore": "kedge.config.loading",
    "load_edgecore": "kedge.config.loading",
}

__all__ = [
    "CloudCoreConfig",
    "ConfigError",
    "EdgeCoreConfig",
    "default_cloudcore",
    "default_edgecore",
    "dump_yaml",
    "go_duration_seconds",
    "load",
    "load_cloudcore",
    "load_edgecore",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError("module 'kedge.config' has no attribute %r" % name)
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
