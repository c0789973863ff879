"""Modbus TCP devices through pymodbus's asyncio client (the only module that imports pymodbus).

One TCP connection per device, opened by `connect` and dropped by `close`; pymodbus's own reconnect is
off (reconnect_delay=0): the SDK decides when to retry. A timeout or a lost connection is
DeviceUnavailable (the device goes offline); a Modbus exception answer (illegal address, ...) or a
setting or value the codec refuses is a PropertyError for that property alone. Only coils and holding
registers can be written. Register layout and value encoding: modbus_codec.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from kedge.mapper import modbus_codec as codec
from kedge.mapper.driver import DeviceUnavailable, Driver, DriverError, PropertyError
from kedge.mapper.entries import DeviceEntry, PropertyEntry

#: Modbus exception codes (application protocol spec 7)
_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def quiet_pymodbus(level: int = logging.CRITICAL) -> None:
    """pymodbus logs every failed request as an error with a frame dump; the driver reports failures
    itself, in one line naming the device."""
    logging.getLogger("pymodbus").setLevel(level)


class ModbusDriver(Driver):
    protocol = "modbus"

    def __init__(self, *, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self.target: codec.Target | None = None
        self._client: AsyncModbusTcpClient | None = None
        self._visitors: dict[str, codec.Visitor | codec.CodecError] = {}

    def handles(self, prop: PropertyEntry) -> bool:
        # a model property the device gives no visitor is not on this device's registers
        return bool(prop.visitor_config)

    async def connect(self, device: DeviceEntry) -> None:
        try:
            target = self.target = codec.parse_target(device.config_data)
        except codec.CodecError as e:
            raise DriverError(str(e)) from None
        self._visitors = {}
        client = AsyncModbusTcpClient(
            target.host, port=target.port, timeout=self.timeout, retries=0, reconnect_delay=0
        )
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as e:  # pymodbus returns False, but be safe
            client.close()
            raise DeviceUnavailable(
                "cannot connect to Modbus TCP %s:%d: %s" % (target.host, target.port, e)
            ) from None
        if not ok:
            client.close()
            raise DeviceUnavailable("cannot connect to Modbus TCP %s:%d" % (target.host, target.port))
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _visitor(self, prop: PropertyEntry) -> codec.Visitor:
        v = self._visitors.get(prop.name)
        if v is None:
            try:
                v = codec.parse_visitor(prop.visitor_config, prop.type)
            except codec.CodecError as e:
                v = e
            self._visitors[prop.name] = v
        if isinstance(v, codec.CodecError):
            raise PropertyError(str(v))
        return v

    def _require(self) -> tuple[AsyncModbusTcpClient, codec.Target]:
        client, target = self._client, self.target
        if client is None or target is None or not client.connected:
            where = "%s:%d" % (target.host, target.port) if target is not None else "device"
            raise DeviceUnavailable("the connection to Modbus TCP %s is closed" % where)
        return client, target

    async def _call(self, what: str, v: codec.Visitor, request: Callable[[], Awaitable[Any]]) -> Any:
        target = self.target
        assert target is not None
        try:
            response = await request()  # pymodbus raises at the call, not the await, when disconnected
        except ModbusException as e:
            raise DeviceUnavailable(
                "Modbus TCP %s:%d: %s %s %d: %s" % (target.host, target.port, what, v.register, v.offset, e)
            ) from None
        if response.isError():
            code = getattr(response, "exception_code", 0)
            raise PropertyError(
                "the device refused to %s %s %d (count %d): exception %d (%s)"
                % (what, v.register, v.offset, v.limit, code, _EXCEPTIONS.get(code, "unknown"))
            )
        return response

    async def read(self, prop: PropertyEntry) -> str:
        v = self._visitor(prop)
        client, target = self._require()
        method = {
            codec.COIL: client.read_coils,
            codec.DISCRETE_INPUT: client.read_discrete_inputs,
            codec.HOLDING: client.read_holding_registers,
            codec.INPUT: client.read_input_registers,
        }[v.register]
        r = await self._call("read", v, lambda: method(v.offset, count=v.limit, device_id=target.slave_id))
        try:
            return codec.decode(r.bits if v.bits else r.registers, prop.type, v)
        except codec.CodecError as e:
            raise PropertyError(str(e)) from None

    async def write(self, prop: PropertyEntry, value: str) -> None:
        v = self._visitor(prop)
        if v.register not in codec.WRITABLE:
            raise PropertyError(
                "%s is read-only in Modbus: only CoilRegister and HoldingRegister can be written" % v.register
            )
        try:
            values = codec.encode(value, prop.type, v)
        except codec.CodecError as e:
            raise PropertyError(str(e)) from None
        client, target = self._require()
        unit = target.slave_id
        # single writes (functions 5 and 6) where one value is written: the functions every device has
        if v.register == codec.COIL:
            bits = [bool(b) for b in values]
            if len(bits) == 1:
                await self._call("write", v, lambda: client.write_coil(v.offset, bits[0], device_id=unit))
            else:
                await self._call("write", v, lambda: client.write_coils(v.offset, bits, device_id=unit))
        else:
            regs = [int(r) for r in values]
            if len(regs) == 1:
                await self._call("write", v, lambda: client.write_register(v.offset, regs[0], device_id=unit))
            else:
                await self._call("write", v, lambda: client.write_registers(v.offset, regs, device_id=unit))
