"""Local port choice for `kedge join` and `kedge demo`: several kedge processes on one host (the demo runs
two edgecores) each need their own broker, MetaServer, ServiceBus and monitor ports. The default is kept
when it is free; otherwise the next free port above it is taken and the choice is said out loud."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kedge.config._base import split_host_port

SPAN = 200  # ports tried above a taken default before giving up


@dataclass(frozen=True)
class Want:
    name: str  # what the port is for, as the user knows it ("MQTT broker (eventBus.mqttServerInternal)")
    host: str
    port: int
    udp: bool = False


class NoFreePort(Exception):
    pass


def choose(wants: Iterable[Want], is_free: Callable[[Want, int], bool]) -> dict[str, int]:
    """The port for each want: its default when free, else the next free one not chosen already."""
    taken: set[tuple[bool, int]] = set()
    out: dict[str, int] = {}
    for w in wants:
        for port in range(w.port, min(w.port + SPAN, 65536)):
            if (w.udp, port) not in taken and is_free(w, port):
                break
        else:
            raise NoFreePort(
                "no free port for the %s in %d-%d on %s" % (w.name, w.port, w.port + SPAN - 1, w.host)
            )
        taken.add((w.udp, port))
        out[w.name] = port
    return out


def bindable(w: Want, port: int) -> bool:
    """True when a server could bind host:port now. SO_REUSEADDR as servers set it, so a port held only by
    closed connections in TIME_WAIT counts as free and a listening one does not."""
    host = w.host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM if w.udp else socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def split_hostport(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT or a URL's netloc part (tcp://HOST:PORT), from a validated config; an empty
    host is `default_host`."""
    hp = split_host_port(text.split("://", 1)[-1].rstrip("/"))
    if hp is None:
        raise ValueError("%r is not HOST:PORT" % text)
    return hp[0] or default_host, hp[1]
