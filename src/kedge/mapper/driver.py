"""The protocol driver a mapper is built from: one instance per device.

The SDK (kedge.mapper.worker) calls `connect` once per connection attempt, then `read` and `write`
from one task at a time (a driver needs no locking), and `close` after a failure and at the end.
Values are strings, as twins hold them; the property's `type` says how to encode them.

Errors say what failed: `DeviceUnavailable` (the device cannot be reached: the SDK reports it offline,
closes the driver and reconnects with backoff), `PropertyError` (this property cannot be read or
written — a bad visitor, a value out of range, a rejected request: logged and reported as the state
`unhealthy`, the device stays connected). Any other exception counts as the device failing.
"""

from __future__ import annotations

import abc

from kedge.mapper.entries import DeviceEntry, PropertyEntry


class DriverError(Exception):
    """A driver failure; the text names the device, property or setting."""


class DeviceUnavailable(DriverError):
    """The device cannot be reached (connection refused, lost, timed out)."""


class PropertyError(DriverError):
    """One property cannot be read or written; the device itself is fine."""


class Driver(abc.ABC):
    #: the protocolName of the devices this driver serves by default
    protocol: str = ""

    @classmethod
    def claims(cls, device: DeviceEntry, protocol: str) -> bool:
        """Whether a mapper configured for `protocol` takes this device."""
        return device.protocol_name == protocol

    def handles(self, prop: PropertyEntry) -> bool:
        """Whether this driver reads the property (e.g. only properties with a visitor for its
        protocol); the others are left alone."""
        return True

    @abc.abstractmethod
    async def connect(self, device: DeviceEntry) -> None:
        """Open the connection to the device (raise DeviceUnavailable or DriverError if it cannot)."""

    @abc.abstractmethod
    async def read(self, prop: PropertyEntry) -> str:
        """The property's current value as a twin string."""

    @abc.abstractmethod
    async def write(self, prop: PropertyEntry, value: str) -> None:
        """Set the property to a desired value (a twin string)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection; safe to call when not connected, and more than once."""
