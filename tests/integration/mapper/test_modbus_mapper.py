"""The Modbus TCP mapper against pymodbus's TCP server on loopback (the device) and mosquitto, the edge
played by DeviceTwin's engine: desired values land in the server's registers, changing input registers
are reported, the device going away and coming back is reported offline and online (and the desired
values are written again), a misconfigured property makes the device unhealthy without stopping the
others, an unreachable device stays offline while its neighbour reports."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from kedge.mapper.modbus import ModbusDriver
from tests.integration.mapper.conftest import (
    EdgePeer,
    Mosquitto,
    device,
    fast_mapper,
    free_port,
    model,
    with_desired,
)

pytestmark = pytest.mark.system

SLAVE = 3
CYCLE_NS = 200_000_000
READ, WRITE = "ReadOnly", "ReadWrite"


class ModbusSim:
    """A Modbus TCP device: 64 coils, discrete inputs, holding and input registers, unit SLAVE."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: ModbusTcpServer | None = None

    async def start(self) -> None:
        def block(bits: bool) -> list[SimData]:
            if bits:
                return [SimData(0, count=64, values=False, datatype=DataType.BITS)]
            return [SimData(0, count=64, values=0, datatype=DataType.REGISTERS)]

        dev = SimDevice(SLAVE, simdata=(block(True), block(True), block(False), block(False)))
        self.server = ModbusTcpServer(dev, address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    async def get(self, fc: int, address: int, count: int = 1) -> list[Any]:
        assert self.server is not None
        return await self.server.async_getValues(SLAVE, fc, address, count)

    async def set(self, fc: int, address: int, values: list[Any]) -> None:
        assert self.server is not None
        await self.server.async_setValues(SLAVE, fc, address, values)


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSim]:
    s = ModbusSim(free_port())
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def swapped_float(x: float) -> list[int]:
    """x as an IEEE single in two registers, the low word first (a device with isRegisterSwap)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", x))
    return [lo, hi]


def prop(name: str, register: str, offset: int, limit: int | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"register": register, "offset": offset, **extra}
    if limit is not None:
        data["limit"] = limit
    visitors = {"protocolName": "modbus", "configData": data}
    return {"name": name, "visitors": visitors, "collectCycle": CYCLE_NS, "reportCycle": CYCLE_NS}


MODEL = model(
    "plc-model",
    [
        {"name": "setpoint", "type": "INT", "accessMode": WRITE},
        {"name": "temperature", "type": "FLOAT", "accessMode": READ},
        {"name": "alarm", "type": "BOOLEAN", "accessMode": WRITE},
        {"name": "serial", "type": "STRING", "accessMode": READ},
        {"name": "mode", "type": "INT", "accessMode": WRITE},
    ],
)


def plc(name: str, port: int, props: list[dict[str, Any]], rv: int = 1) -> dict[str, Any]:
    protocol = {"protocolName": "modbus", "configData": {"ip": "127.0.0.1", "port": port, "slaveID": SLAVE}}
    return device(name, "plc-model", props, protocol, rv)


def mapper(url: str):
    return fast_mapper(url, ModbusDriver, driver_factory=lambda: ModbusDriver(timeout=1.0))


async def test_modbus_device(peer: EdgePeer, mosquitto: Mosquitto, sim: ModbusSim, run_mapper) -> None:
    ID = "default/plc"
    await sim.set(4, 0, swapped_float(21.5))
    await sim.set(3, 10, list(struct.unpack(">HHH", b"PLC-7\0")))
    props = [
        prop("setpoint", "HoldingRegister", 2, 1),
        prop("temperature", "InputRegister", 0, 2, isRegisterSwap=True),
        prop("alarm", "CoilRegister", 3),
        prop("serial", "HoldingRegister", 10, 3),
    ]
    props[0]["desired"] = {"value": "42"}
    props[2]["desired"] = {"value": "true"}
    dev = plc("plc", sim.port, props)
    await peer.add(MODEL, dev)
    run_mapper(mapper(mosquitto.url))

    async def holding(address: int) -> int:
        return (await sim.get(3, address))[0]

    # desired values from the twins are written to the device, and the registers reported
    await peer.wait_for(lambda: peer.reported(ID, "setpoint") == "42", "setpoint 42 reported")
    assert await holding(2) == 42
    assert (await sim.get(1, 3))[0] is True
    await peer.wait_for(lambda: peer.reported(ID, "temperature") == "21.5", "temperature 21.5")
    assert peer.reported(ID, "serial") == "PLC-7"
    assert peer.reported(ID, "alarm") == "true"
    assert peer.states(ID)[-1] == "online"

    # a changing input register is reported
    await sim.set(4, 0, swapped_float(22.25))
    await peer.wait_for(lambda: peer.reported(ID, "temperature") == "22.25", "temperature 22.25")

    # a delta is written to the holding register, read back and reported at once
    await peer.update(with_desired(dev, {"setpoint": "17"}, rv=2))
    await peer.wait_for(lambda: peer.reported(ID, "setpoint") == "17", "setpoint 17 reported", timeout=2)
    assert await holding(2) == 17

    # the device goes away: offline; it comes back (blank registers): online, desired written again
    await sim.stop()
    await peer.wait_for(lambda: peer.states(ID)[-1] == "offline", "the device offline")
    await sim.start()
    await sim.set(4, 0, swapped_float(-3.5))
    await peer.wait_for(lambda: peer.states(ID)[-1] == "online", "the device online again")
    await peer.wait_for(lambda: peer.reported(ID, "temperature") == "-3.5", "reports after the return")
    assert await holding(2) == 17
    assert (await sim.get(1, 3))[0] is True
    assert peer.errors == []


async def test_bad_properties_and_unreachable_device(
    peer: EdgePeer, mosquitto: Mosquitto, sim: ModbusSim, run_mapper, caplog: pytest.LogCaptureFixture
) -> None:
    good = plc(
        "plc",
        sim.port,
        [
            prop("setpoint", "HoldingRegister", 2),
            prop("mode", "InputRegister", 5),  # read-write in the model, but an input register
            prop("serial", "Bogus", 0),
        ],
    )
    ghost = plc("ghost", free_port(), [prop("setpoint", "HoldingRegister", 2)])
    await peer.add(MODEL, good)
    await peer.add(MODEL, ghost)
    await sim.set(3, 2, [7])
    run_mapper(mapper(mosquitto.url))
    await peer.wait_for(lambda: peer.reported("default/plc", "setpoint") == "7", "the good property reported")
    await peer.wait_for(lambda: "unhealthy" in peer.states("default/plc"), "plc unhealthy (bad register)")
    assert "register must be one of" in caplog.text
    await peer.wait_for(lambda: "offline" in peer.states("default/ghost"), "the unreachable device offline")
    assert "online" not in peer.states("default/ghost")

    await peer.update(with_desired(good, {"mode": "3"}, rv=2))
    await peer.wait_for(lambda: "InputRegister is read-only" in caplog.text, "the refused write logged")
    assert (await sim.get(4, 5))[0] == 0
    # the good property still works, on this device and with a delta
    await peer.update(with_desired(good, {"mode": "3", "setpoint": "9"}, rv=3))
    await peer.wait_for(lambda: peer.reported("default/plc", "setpoint") == "9", "setpoint 9")
    assert (await sim.get(3, 2))[0] == 9
    assert peer.errors == []
