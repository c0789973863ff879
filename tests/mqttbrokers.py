"""MQTT brokers for tests on loopback, and the event loops to run them on.

- `MosquittoBroker`: mosquitto as a child process on a free port, stoppable and restartable on the same
  port, optionally TLS with certificates from tests/hubpki.py (skips without mosquitto; CI installs it).
- `EmbeddedBroker`: kedge's own (kedge.edge.eventbus.broker, amqtt with KubeEdge's `$hw` topics).
- `AmqttBroker`: amqtt 0.12.1 as it ships, for facts about it.
- `LOOPS` / `run_on`: run a coroutine on asyncio's loop or uvloop (edgecore's), for uvloop variants of
  async tests (pytest-asyncio runs the rest on asyncio's loop).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import uvloop

from kedge.edge.eventbus.broker import EmbeddedBroker, ListenerTLS
from tests.conftest import require_binary
from tests.hubpki import HubPKI

WAIT = 15.0

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def run_on(loop: str, main: Callable[[], Awaitable[Any]]) -> Any:
    """Run `main()` to completion on a fresh loop of kind `loop` ("asyncio" or "uvloop")."""
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(main())  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(cond: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError("%s not reached within %.0f s" % (what, timeout)) from None


class Broker(Protocol):
    port: int

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def wait_listening(port: int, proc: asyncio.subprocess.Process | None = None) -> None:
    for _ in range(500):
        if proc is not None and proc.returncode is not None:
            raise RuntimeError("broker exited with %s before listening on %d" % (proc.returncode, port))
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        w.close()
        await w.wait_closed()
        return
    raise RuntimeError("broker did not listen on %d" % port)


class MosquittoBroker:
    """A private mosquitto on 127.0.0.1:port. With `pki`, it serves TLS with the PKI's loopback server
    certificate and requires a client certificate from its CA."""

    def __init__(
        self,
        tmp_path: Path,
        port: int | None = None,
        *,
        allow_anonymous: bool = True,
        pki: HubPKI | None = None,
        max_queued: int = 1000,
    ) -> None:
        self.binary = require_binary("mosquitto")
        self.port = port or free_port()
        self.conf = tmp_path / ("mosquitto-%d.conf" % self.port)
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "allow_anonymous %s" % ("true" if allow_anonymous else "false"),
            "persistence false",
            "set_tcp_nodelay true",
            # mosquitto's default (1000) drops QoS 1 messages queued for a subscriber that reads slower
            # than the publishers write (edge-measurements B.1); tests that need them all raise it
            "max_queued_messages %d" % max_queued,
            "log_dest stderr",
            "log_type error",
        ]
        if pki is not None:
            lines += [
                "cafile %s" % pki.ca_path,
                "certfile %s" % pki.server_cert_path,
                "keyfile %s" % pki.server_key_path,
                "require_certificate true",
            ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to user mosquitto, who cannot read the test's files
        self.conf.write_text("\n".join(lines) + "\n")
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return "tcp://127.0.0.1:%d" % self.port

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", str(self.conf), stdin=asyncio.subprocess.DEVNULL
        )
        await wait_listening(self.port, self._proc)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            await proc.wait()


class AmqttBroker:
    """amqtt 0.12.1 as it ships (no kedge overrides), anonymous access only when allowed."""

    def __init__(self, port: int | None = None, allow_anonymous: bool = True) -> None:
        self.port = port or free_port()
        self.allow_anonymous = allow_anonymous
        self._broker: Any = None

    async def start(self) -> None:
        from amqtt.broker import Broker as Amqtt

        self._broker = Amqtt(
            {
                "listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % self.port}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {
                        "allow_anonymous": self.allow_anonymous
                    }
                },
            }
        )
        await self._broker.start()

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()


def embedded(
    port: int | None = None, *, pki: HubPKI | None = None, max_backlog: int = 1000
) -> EmbeddedBroker:
    tls = None
    if pki is not None:
        tls = ListenerTLS(str(pki.server_cert_path), str(pki.server_key_path), str(pki.ca_path))
    return EmbeddedBroker("127.0.0.1", port or free_port(), tls=tls, max_backlog=max_backlog)


def make_broker(kind: str, tmp_path: Path, **kw: Any) -> Broker:
    """ "embedded" (kedge's amqtt), "mosquitto" or "amqtt" (as it ships), not started."""
    if kind == "embedded":
        return embedded(**kw)
    if kind == "mosquitto":
        return MosquittoBroker(tmp_path, **kw)
    if kind == "amqtt":
        return AmqttBroker(**kw)
    raise ValueError("unknown broker kind %r" % kind)


@asynccontextmanager
async def running(broker: Broker) -> AsyncIterator[Broker]:
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
