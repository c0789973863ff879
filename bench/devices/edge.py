"""The edge half of the device benchmarks, as its own process: EventBus + DeviceTwin on a real beehive and
a real edge database, with `--devices` devices given by a fake cloud (the objects MetaManager would hand
over), so the process's memory is the edge's alone.

    python -m bench.devices.edge --mode internal|external --broker tcp://127.0.0.1:PORT --db FILE --devices N

Prints `started`, serves until SIGTERM, then prints its stats as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

import msgspec

from kedge.beehive import Context, Runtime
from kedge.config.edgecore import MQTT_MODE_EXTERNAL, MQTT_MODE_INTERNAL, EventBus
from kedge.edge.devicetwin.module import DeviceTwin
from kedge.edge.devicetwin.store import TwinStore
from kedge.edge.eventbus.module import make_eventbus

NODE = "bench-node"


def model() -> dict:
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "DeviceModel",
        "metadata": {"name": "bench-model", "namespace": "default"},
        "spec": {"properties": [{"name": "value", "type": "INT", "accessMode": "ReadOnly"}]},
    }


def device(i: int) -> dict:
    return {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": "dev-%d" % i, "namespace": "default", "resourceVersion": "1"},
        "spec": {
            "deviceModelRef": {"name": "bench-model"},
            "nodeName": NODE,
            "protocol": {"protocolName": "bench"},
            "properties": [{"name": "value"}],
        },
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("internal", "external"), required=True)
    ap.add_argument("--broker", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--devices", type=int, default=100)
    args = ap.parse_args()
    enc = msgspec.json.encode
    objects = ([enc(device(i)) for i in range(args.devices)], [enc(model())])
    cfg = EventBus()
    if args.mode == "internal":
        cfg.mqtt_mode = MQTT_MODE_INTERNAL
        cfg.mqtt_server_internal = args.broker
    else:
        cfg.mqtt_mode = MQTT_MODE_EXTERNAL
        cfg.mqtt_server_external = args.broker
    ctx = Context()
    store = TwinStore(args.db)
    twin = DeviceTwin(store, NODE, lambda: objects)
    bus = make_eventbus(cfg, NODE)
    runtime = Runtime(ctx)
    runtime.register(twin)
    runtime.register(bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    task = asyncio.create_task(runtime.run(handle_signals=False))
    print("started", flush=True)  # the load generator waits for a membership/get answer before it measures
    try:
        await task
    finally:
        store.close()
        print(json.dumps({"twin": twin.stats, "eventbus": getattr(bus, "stats", {})}), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
