"""cloudcore and edgecore configuration: KubeEdge's cloudcore.yaml / edgecore.yaml as msgspec Structs.

Pure layer: no I/O beyond reading a config file, no asyncio.
"""

from kedge.config._base import go_duration_seconds
from kedge.config.cloudcore import CloudCoreConfig, default_cloudcore
from kedge.config.edgecore import EdgeCoreConfig, default_edgecore
from kedge.config.errors import ConfigError
from kedge.config.loading import dump_yaml, load, load_cloudcore, load_edgecore

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
