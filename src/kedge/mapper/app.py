"""`kedge mapper counter|modbus`: load the config, run the mapper until SIGINT/SIGTERM.

Drivers are imported by name when chosen, so the counter mapper never loads pymodbus.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys

from kedge.mapper.config import MapperConfig, MapperConfigError, load_config, ssl_context
from kedge.mapper.driver import Driver

#: mapper name -> (module, driver class)
MAPPERS = {
    "counter": ("kedge.mapper.counter", "CounterDriver"),
    "modbus": ("kedge.mapper.modbus", "ModbusDriver"),
}

log = logging.getLogger(__name__)


def driver_class(kind: str) -> type[Driver]:
    try:
        module, name = MAPPERS[kind]
    except KeyError:
        raise MapperConfigError("unknown mapper %r (known: %s)" % (kind, ", ".join(MAPPERS))) from None
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise MapperConfigError(
            "the %s mapper needs %s, which is not installed (pip install 'kedge[mapper]')" % (kind, e.name)
        ) from None


async def serve(kind: str, cls: type[Driver], cfg: MapperConfig) -> int:
    """Run until SIGINT or SIGTERM; every device driver is closed on the way out."""
    from kedge.mapper.runner import Mapper

    mapper = Mapper(cfg, cls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("kedge mapper %s for node %s on %s (protocol %s)", kind, cfg.node, cfg.broker, cfg.protocol)
    try:
        await mapper.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("kedge mapper %s stopped", kind)
    return 0


def main(kind: str, *, config: str | None, node: str | None, broker: str | None) -> int:
    try:
        cls = driver_class(kind)
        cfg = load_config(config, default_protocol=cls.protocol, node=node, broker=broker)
        ssl_context(cfg)  # certificate problems are config errors, reported before anything runs
    except MapperConfigError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    if kind == "modbus" and logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        from kedge.mapper.modbus import quiet_pymodbus

        quiet_pymodbus()
    from kedge.aio.loops import run

    # lean like edgecore: asyncio's own loop unless KEDGE_UVLOOP=1 (uvloop costs resident memory)
    return run(serve(kind, cls, cfg), prefer_uvloop=False)
