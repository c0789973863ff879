"""The Modbus flow end to end, on both brokers: a pymodbus TCP server on loopback is the device,
`kedge mapper modbus` runs beside a real edgecore, and kubectl drives the cloud. A desired value set with
`kubectl patch` lands in a holding register; a changing input register reaches the Device status."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.e2e.devices.conftest import Devices
from tests.e2e.procs import free_port, until

pytestmark = [pytest.mark.system, pytest.mark.slow]

SLAVE = 1
CYCLE_NS = 200_000_000


class ThreadSim:
    """pymodbus's TCP server on its own thread and loop (the test itself is synchronous)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modbus-sim", daemon=True)
        self.server: Any = None

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        self.thread.start()

        async def start() -> None:
            bits = [SimData(0, count=32, values=False, datatype=DataType.BITS)]
            regs = [SimData(0, count=32, values=0, datatype=DataType.REGISTERS)]
            dev = SimDevice(SLAVE, simdata=(bits, bits, regs, regs))
            self.server = ModbusTcpServer(dev, address=("127.0.0.1", self.port))
            await self.server.serve_forever(background=True)

        self._run(start())

    def stop(self) -> None:
        if self.server is not None:
            self._run(self.server.shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def get(self, fc: int, address: int) -> Any:
        return self._run(self.server.async_getValues(SLAVE, fc, address, 1))[0]

    def set(self, fc: int, address: int, values: list[Any]) -> None:
        self._run(self.server.async_setValues(SLAVE, fc, address, values))


def ieee(x: float) -> list[int]:
    """x as an IEEE single in two registers, the low word first (the device swaps registers)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", x))
    return [lo, hi]


@pytest.fixture
def sim() -> Iterator[ThreadSim]:
    s = ThreadSim()
    s.start()
    try:
        yield s
    finally:
        s.stop()


def manifests(node: str, port: int) -> str:
    def prop(name: str, register: str, offset: int, limit: int, **extra: Any) -> dict[str, Any]:
        data = {"register": register, "offset": offset, "limit": limit, **extra}
        return {
            "name": name,
            "visitors": {"protocolName": "modbus", "configData": data},
            "collectCycle": CYCLE_NS,
            "reportCycle": CYCLE_NS,
            "reportToCloud": True,
        }

    model = {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "DeviceModel",
        "metadata": {"name": "plc-model", "namespace": "default"},
        "spec": {
            "properties": [
                {
                    "name": "setpoint",
                    "type": "INT",
                    "accessMode": "ReadWrite",
                    "minimum": "0",
                    "maximum": "500",
                },
                {"name": "temperature", "type": "FLOAT", "accessMode": "ReadOnly"},
            ]
        },
    }
    setpoint = prop("setpoint", "HoldingRegister", 2, 1)
    setpoint["desired"] = {"value": "42"}
    device = {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": "plc", "namespace": "default"},
        "spec": {
            "deviceModelRef": {"name": "plc-model"},
            "nodeName": node,
            "protocol": {
                "protocolName": "modbus",
                "configData": {"ip": "127.0.0.1", "port": port, "slaveID": SLAVE},
            },
            "properties": [setpoint, prop("temperature", "InputRegister", 0, 2, isRegisterSwap=True)],
        },
    }
    return yaml.safe_dump_all([model, device])


def test_modbus_desired_to_register_and_register_to_status(devices: Devices, sim: ThreadSim) -> None:
    d = devices
    sim.set(4, 0, ieee(21.5))  # input registers 0-1
    d.start_edge()
    d.wait_node_ready()
    d.apply_yaml(manifests(d.node, sim.port))
    d.start_mapper("modbus")
    # the desired value from the Device reaches the holding register; the register reaches the status
    until(lambda: sim.get(3, 2) == 42, 60, "setpoint 42 in holding register 2")
    until(lambda: d.reported("plc", "setpoint") == "42", 30, "setpoint 42 reported")
    until(lambda: d.reported("plc", "temperature") == "21.5", 30, "temperature 21.5 reported")
    # kubectl patch of the desired value → the register
    d.kubectl(
        "patch", "device", "plc", "--type=json",
        "-p", '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"17"}]',
    )  # fmt: skip
    until(lambda: sim.get(3, 2) == 17, 30, "setpoint 17 in holding register 2")
    # a changing input register is reported to the cloud
    sim.set(4, 0, ieee(23.25))
    until(lambda: d.reported("plc", "temperature") == "23.25", 30, "temperature 23.25 reported")
    # an out-of-range desired value is refused by the API with the reason; the register keeps 17
    bad = d.kubectl(
        "patch", "device", "plc", "--type=json",
        "-p", '[{"op":"replace","path":"/spec/properties/0/desired/value","value":"900"}]',
        check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "maximum 500" in bad.stderr, bad.stderr
    assert sim.get(3, 2) == 17
