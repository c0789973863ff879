"""`kedge debug check`: keadm's `debug check` for a kedge node. Each check says what is wrong and how
to fix it, so an operator need not know edgecore's internals to get a node back.

Pure parts (classifying certificates and clock skew, the listening addresses a config asks for,
formatting, the exit code) are separate from the probes (files, sockets, TLS, MQTT, CRI, SQLite), so
the decisions are unit tested without I/O. Module-level imports stay light: the parser is built for
every `kedge` command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

    from kedge.config import CloudCoreConfig, EdgeCoreConfig

OK, WARN, FAIL = "OK", "WARN", "FAIL"
_LABELS = {OK: "[ OK ]", WARN: "[WARN]", FAIL: "[FAIL]"}

CERT_WARN_DAYS = 7.0
SKEW_WARN = 5.0  # seconds
SKEW_FAIL = 60.0
DEFAULT_TIMEOUT = 5.0  # seconds for each network probe
DEFAULT_EDGE_CONFIG = Path("/var/lib/kedge/edgecore.yaml")

REJOIN = "rejoin the node: `kedge reset` then `kedge join --cloudcore-ipport HOST:PORT --token TOKEN`"


@dataclass(frozen=True, slots=True)
class Result:
    check: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Listener:
    """An address the core binds, named after its config field."""

    name: str
    host: str
    port: int
    proto: str = "tcp"  # "udp" for QUIC


# -- pure logic --------------------------------------------------------------------------------------


def exit_code(results: Iterable[Result]) -> int:
    return 1 if any(r.status == FAIL for r in results) else 0


def format_text(results: Iterable[Result]) -> str:
    """One line per check, and an indented `fix:` line under each WARN/FAIL."""
    rows = list(results)
    width = max((len(r.check) for r in rows), default=0)
    lines = []
    for r in rows:
        lines.append("%s %-*s  %s" % (_LABELS[r.status], width, r.check, r.detail))
        if r.status != OK and r.fix:
            lines.append("       %-*s  fix: %s" % (width, "", r.fix))
    return "\n".join(lines) + "\n"


def format_json(results: Iterable[Result]) -> str:
    return json.dumps([asdict(r) for r in results], indent=2) + "\n"


def classify_skew(skew: float, cloud: str) -> Result:
    """`skew` = cloud's clock minus ours, in seconds. Certificate validity and token expiry are judged
    on both sides' clocks, so a large skew looks like an expired certificate or token."""
    ahead = "behind" if skew > 0 else "ahead of"
    text = "local clock is %.1f s %s cloudcore (%s)" % (abs(skew), ahead, cloud)
    fix = "synchronise the clock (e.g. `timedatectl set-ntp true` or chrony) on this node and on cloudcore"
    if abs(skew) > SKEW_FAIL:
        return Result("clock", FAIL, text, fix)
    if abs(skew) > SKEW_WARN:
        return Result("clock", WARN, text, fix)
    return Result("clock", OK, "within %.1f s of cloudcore (%s)" % (abs(skew), cloud))


def parse_http_date(value: str) -> float:
    """Unix seconds of an HTTP `Date` header; ValueError if it is not one."""
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise ValueError("not an HTTP date: %r" % value) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _same_key(cert: x509.Certificate, key: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def validity_result(
    check: str, cert: x509.Certificate, path: Path | str, now: float, *, expired_fix: str, renew_fix: str
) -> Result:
    """FAIL when not yet valid or expired, WARN when fewer than CERT_WARN_DAYS are left."""
    not_before = cert.not_valid_before_utc.timestamp()
    not_after = cert.not_valid_after_utc.timestamp()
    if now < not_before:
        return Result(
            check,
            FAIL,
            "%s is not valid before %s (check the clock)" % (path, cert.not_valid_before_utc.isoformat()),
            "set this machine's clock right (`timedatectl set-ntp true`)",
        )
    if now >= not_after:
        return Result(
            check, FAIL, "%s expired on %s" % (path, cert.not_valid_after_utc.isoformat()), expired_fix
        )
    days = (not_after - now) / 86400.0
    if days < CERT_WARN_DAYS:
        return Result(check, WARN, "%s expires in %.1f days" % (path, days), renew_fix)
    return Result(check, OK, "%s valid for %d more days" % (path, int(days)))


def leaf_result(
    check: str,
    cert: x509.Certificate,
    key: Any,
    ca: x509.Certificate | None,
    paths: tuple[Path | str, Path | str, Path | str],
    now: float,
    *,
    expired_fix: str,
    renew_fix: str,
) -> Result:
    """A certificate with its key, against its CA (None: the CA is reported on its own line)."""
    from kedge.security import pki

    cert_path, key_path, ca_path = paths
    if not _same_key(cert, key):
        return Result(check, FAIL, "%s is not the key of %s" % (key_path, cert_path), expired_fix)
    if ca is not None and not pki.issued_by(cert, ca):
        return Result(
            check,
            FAIL,
            "%s was not signed by the CA %s" % (cert_path, ca_path),
            "the CA and certificate come from different clusters; " + expired_fix,
        )
    return validity_result(check, cert, cert_path, now, expired_fix=expired_fix, renew_fix=renew_fix)


def edge_listeners(cfg: EdgeCoreConfig) -> list[Listener]:
    """The addresses an edgecore with this config binds (disabled modules bind nothing)."""
    from kedge.config._base import split_host_port
    from kedge.config.edgecore import MQTT_MODE_BOTH, MQTT_MODE_INTERNAL
    from kedge.edge.eventbus.topics import parse_broker_url

    out: list[Listener] = []
    mods = cfg.modules
    meta = mods.meta_manager.meta_server
    if mods.meta_manager.enable and meta.enable and (hp := split_host_port(meta.server)):
        out.append(Listener("metaManager.metaServer.server", *hp))
    bus = mods.event_bus
    if bus.enable and bus.mqtt_mode in (MQTT_MODE_INTERNAL, MQTT_MODE_BOTH):
        try:
            url = parse_broker_url(bus.mqtt_server_internal, "mqttServerInternal")
        except ValueError:
            pass  # config validation reports it
        else:
            out.append(Listener("eventBus.mqttServerInternal", url.host or "127.0.0.1", url.port))
    if mods.service_bus.enable:
        out.append(Listener("serviceBus.server", mods.service_bus.server, mods.service_bus.port))
    mon = cfg.monitor_server
    if mon.enable and (hp := split_host_port(mon.bind_address)):
        out.append(Listener("monitorServer.bindAddress", *hp))
    return out


def cloud_listeners(cfg: CloudCoreConfig) -> list[Listener]:
    """The addresses a cloudcore with this config binds."""
    from kedge.config._base import split_host_port

    out: list[Listener] = []
    hub = cfg.modules.cloud_hub
    if hub.enable:
        if hub.websocket.enable:
            out.append(Listener("cloudHub.websocket", hub.websocket.address, hub.websocket.port))
        if hub.quic.enable:
            out.append(Listener("cloudHub.quic", hub.quic.address, hub.quic.port, "udp"))
        if hub.https.enable:
            out.append(Listener("cloudHub.https", hub.https.address, hub.https.port))
    if cfg.uses_embedded_api_server:
        api = cfg.embedded_api_server
        out.append(Listener("embeddedAPIServer", api.address, api.port))
    if hp := split_host_port(cfg.common_config.monitor_server.bind_address):
        out.append(Listener("commonConfig.monitorServer.bindAddress", *hp))
    stream = cfg.modules.cloud_stream
    if stream.enable:
        out.append(Listener("cloudStream.tunnelPort", "0.0.0.0", stream.tunnel_port))
        out.append(Listener("cloudStream.streamPort", "0.0.0.0", stream.stream_port))
    router = cfg.modules.router
    if router.enable:
        out.append(Listener("router", router.address, router.port))
    return out


def _host_port_of(url_or_addr: str) -> tuple[str, int] | None:
    """(host, port) of `https://host:port[/...]` or `host:port`."""
    from urllib.parse import urlsplit

    from kedge.config._base import split_host_port

    if "://" in url_or_addr:
        try:
            parts = urlsplit(url_or_addr)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None
        return (parts.hostname, port) if parts.hostname else None
    return split_host_port(url_or_addr)


# -- probes ------------------------------------------------------------------------------------------


def core_running(bind_address: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when the core's monitor server answers /healthz at `bind_address`: then the ports it is
    configured with are in use by it, as they should be."""
    import urllib.request

    try:
        with urllib.request.urlopen("http://%s/healthz" % bind_address, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def check_port(listener: Listener, owner: str | None = None) -> Result:
    """Whether `listener` could be bound now: free, already in use (by `owner`, the running core, when
    it is known to run), or not bindable at all."""
    import errno
    import socket

    name = "port %s" % listener.name
    where = "%s:%d/%s" % (listener.host or "*", listener.port, listener.proto)
    kind = socket.SOCK_DGRAM if listener.proto == "udp" else socket.SOCK_STREAM
    try:
        infos = socket.getaddrinfo(listener.host or None, listener.port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        return Result(
            name,
            FAIL,
            "%s: cannot resolve %r: %s" % (where, listener.host, e.strerror),
            "set %s to an address of this machine" % listener.name,
        )
    family, _, _, _, sockaddr = infos[0]
    try:
        with socket.socket(family, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
            s.bind(sockaddr)
    except OSError as e:
        if e.errno == errno.EADDRINUSE and owner:
            return Result(name, OK, "%s in use by the running %s" % (where, owner))
        if e.errno == errno.EADDRINUSE:
            return Result(
                name,
                WARN,
                "%s in use (kedge core running?)" % where,
                "fine if the kedge core owns it (`ss -lntup | grep :%d`); else stop the other process or "
                "change %s" % (listener.port, listener.name),
            )
        if e.errno == errno.EADDRNOTAVAIL:
            return Result(
                name,
                FAIL,
                "%s: %s is not an address of this machine" % (where, listener.host),
                "set %s to an address of this machine (or 0.0.0.0)" % listener.name,
            )
        if e.errno == errno.EACCES:
            return Result(
                name,
                FAIL,
                "%s: permission denied" % where,
                "run the core as root or use a port above 1023 in %s" % listener.name,
            )
        return Result(name, FAIL, "%s: %s" % (where, e.strerror or e), "check %s" % listener.name)
    return Result(name, OK, "%s free" % where)


def _load_cert(path: Path | str) -> tuple[x509.Certificate | None, str]:
    from kedge.security import pki
    from kedge.security.errors import PKIError

    try:
        return pki.load_cert(path), ""
    except PKIError as e:
        return None, str(e)


def _load_key(path: Path | str) -> tuple[Any, str]:
    from kedge.security import pki
    from kedge.security.errors import PKIError

    try:
        return pki.load_key(path), ""
    except PKIError as e:
        return None, str(e)


def check_edge_certificates(ca_path: str, cert_path: str, key_path: str, now: float) -> list[Result]:
    """edgeHub's CA, and the node certificate with its key, chained to that CA."""
    results: list[Result] = []
    ca = None
    if not Path(ca_path).exists():
        results.append(Result("ca certificate", FAIL, "%s is missing" % ca_path, REJOIN))
    else:
        ca, err = _load_cert(ca_path)
        if ca is None:
            results.append(Result("ca certificate", FAIL, err, REJOIN))
        else:
            results.append(
                validity_result(
                    "ca certificate",
                    ca,
                    ca_path,
                    now,
                    expired_fix=REJOIN,
                    renew_fix="the cluster's CA is about to expire: " + REJOIN,
                )
            )
    check = "edge certificate"
    missing = [p for p in (cert_path, key_path) if not Path(p).exists()]
    if missing:
        results.append(Result(check, FAIL, "%s missing" % ", ".join(missing), REJOIN))
        return results
    cert, err = _load_cert(cert_path)
    key, key_err = _load_key(key_path)
    if cert is None or key is None:
        results.append(Result(check, FAIL, err or key_err, REJOIN))
        return results
    renew = "restart edgecore with edgeHub.rotateCertificates: true (it renews before expiry), or " + REJOIN
    results.append(
        leaf_result(
            check, cert, key, ca, (cert_path, key_path, ca_path), now, expired_fix=REJOIN, renew_fix=renew
        )
    )
    return results


def check_cloud_certificates(cfg: CloudCoreConfig, now: float) -> list[Result]:
    """cloudhub's CA and serving certificate under dataDir, when cloudcore has created them."""
    from kedge.cloud.cloudhub.certs import CertPaths

    paths = CertPaths.resolve(cfg.modules.cloud_hub, Path(cfg.data_dir))
    results: list[Result] = []
    ca = None
    ca_fix = "every node must rejoin against a new CA: remove %s and %s, restart cloudcore, rejoin nodes" % (
        paths.ca_cert_path,
        paths.ca_key_path,
    )
    if not paths.ca_cert_path.exists():
        results.append(
            Result(
                "ca certificate", OK, "%s absent; cloudcore creates it on first start" % paths.ca_cert_path
            )
        )
    else:
        ca, err = _load_cert(paths.ca_cert_path)
        ca_key, key_err = _load_key(paths.ca_key_path) if paths.ca_key_path.exists() else (None, "")
        if ca is None or key_err:
            results.append(Result("ca certificate", FAIL, err or key_err, ca_fix))
        elif ca_key is not None and not _same_key(ca, ca_key):
            results.append(
                Result(
                    "ca certificate",
                    FAIL,
                    "%s is not the key of %s" % (paths.ca_key_path, paths.ca_cert_path),
                    ca_fix,
                )
            )
        else:
            results.append(
                validity_result(
                    "ca certificate", ca, paths.ca_cert_path, now, expired_fix=ca_fix, renew_fix=ca_fix
                )
            )
    check = "cloudhub certificate"
    if not paths.cert_path.exists():
        results.append(Result(check, OK, "%s absent; cloudcore creates it on first start" % paths.cert_path))
        return results
    cert, err = _load_cert(paths.cert_path)
    key, key_err = _load_key(paths.key_path)
    reissue = "remove %s and %s and restart cloudcore: it issues a new one" % (
        paths.cert_path,
        paths.key_path,
    )
    if cert is None or key is None:
        results.append(Result(check, FAIL, err or key_err, reissue))
        return results
    paths3 = (paths.cert_path, paths.key_path, paths.ca_cert_path)
    results.append(leaf_result(check, cert, key, ca, paths3, now, expired_fix=reissue, renew_fix=reissue))
    return results


async def _http_date(host: str, port: int, ssl_ctx: Any, timeout: float, clock: Callable[[], float]):
    """(cloud's Date, our clock halfway through the request) from `GET /ca.crt`."""
    import asyncio
    import contextlib
    import ssl

    async with asyncio.timeout(timeout):
        before = clock()
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_ctx, server_hostname=host)
        try:
            request = "GET /ca.crt HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (host, port)
            writer.write(request.encode("ascii"))
            head = await reader.readuntil(b"\r\n\r\n")
            after = clock()
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "date":
            return parse_http_date(value.strip()), (before + after) / 2
    raise ValueError("the answer has no Date header")


async def check_clock(
    http_server: str,
    ca_file: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] | None = None,
) -> Result:
    """Compare our clock with the `Date` cloudcore's certificate port answers with. If the server fails
    verification (perhaps because of the very skew being checked), the Date is read without it."""
    import asyncio
    import ssl
    import time

    clock = clock or time.time
    if not http_server:
        return Result(
            "clock",
            WARN,
            "edgeHub.httpServer is not set; cannot compare with cloudcore",
            "set edgeHub.httpServer (`kedge join` does)",
        )
    hp = _host_port_of(http_server)
    if hp is None:
        return Result(
            "clock",
            WARN,
            "edgeHub.httpServer %r is not https://HOST:PORT" % http_server,
            "fix edgeHub.httpServer",
        )
    host, port = hp
    note = ""
    ctx: ssl.SSLContext
    try:
        from kedge.security.tls import client_ssl_context

        ctx = client_ssl_context(ca_file)
    except Exception:
        ctx, note = _unverified(), " (not verified: no usable CA at %s)" % ca_file
    try:
        try:
            cloud, local = await _http_date(host, port, ctx, timeout, clock)
        except ssl.SSLCertVerificationError as e:
            note = " (certificate not verified: %s)" % e.verify_message
            cloud, local = await _http_date(host, port, _unverified(), timeout, clock)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        reason = "timed out" if isinstance(e, TimeoutError) else str(e) or type(e).__name__
        return Result(
            "clock",
            WARN,
            "cloudcore at %s unreachable (%s); clock not compared" % (http_server, reason),
            "start cloudcore or open port %d; check edgeHub.httpServer" % port,
        )
    except ValueError as e:
        return Result(
            "clock", WARN, "%s: %s; clock not compared" % (http_server, e), "check edgeHub.httpServer"
        )
    r = classify_skew(cloud - local, http_server)
    return Result(r.check, r.status, r.detail + note, r.fix)


def _unverified() -> Any:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def check_containerd(cfg: EdgeCoreConfig, *, timeout: float = DEFAULT_TIMEOUT) -> Result | None:
    """The CRI socket answers `Version` (edged.runtime cri, or auto with the socket present)."""
    edged = cfg.modules.edged
    if not edged.enable or edged.runtime == "process":
        return None
    endpoint = edged.tailored_kubelet_config.container_runtime_endpoint
    from kedge.edge.edged.runtime.cri import CRIClient, CRIError

    try:
        client = CRIClient.from_endpoint(endpoint, timeout=timeout)
    except ValueError as e:
        return Result("containerd", FAIL, str(e), "set containerRuntimeEndpoint to unix:///path/to/socket")
    if not Path(client.path).exists():
        if edged.runtime == "auto":
            return Result("containerd", OK, "no CRI socket at %s: process runtime will be used" % client.path)
        return Result(
            "containerd",
            FAIL,
            "no CRI socket at %s (edged.runtime: cri)" % client.path,
            "install and start containerd (ci/containerd.sh), or set edged.runtime: auto",
        )
    try:
        async with client:
            v = await client.version()
    except CRIError as e:
        return Result(
            "containerd",
            FAIL,
            "%s exists but %s" % (client.path, e),
            "start containerd (`systemctl restart containerd`); see `journalctl -u containerd`",
        )
    return Result(
        "containerd",
        OK,
        "%s %s (CRI %s) at %s" % (v.runtime_name, v.runtime_version, v.runtime_api_version, client.path),
    )


async def check_broker(cfg: EdgeCoreConfig, *, timeout: float = DEFAULT_TIMEOUT) -> Result | None:
    """MQTT CONNECT/CONNACK with the external broker edgecore bridges to (mqttMode 1 or 2)."""
    import os

    from kedge.config.edgecore import MQTT_MODE_BOTH, MQTT_MODE_EXTERNAL
    from kedge.edge.eventbus.topics import parse_broker_url
    from kedge.transport.mqtt_client import MqttClient, MqttConnectRefused, MqttError

    bus = cfg.modules.event_bus
    if not bus.enable or bus.mqtt_mode not in (MQTT_MODE_EXTERNAL, MQTT_MODE_BOTH):
        return None
    try:
        url = parse_broker_url(bus.mqtt_server_external, "mqttServerExternal")
    except ValueError as e:
        return Result("mqtt broker", FAIL, str(e), "fix eventBus.mqttServerExternal")
    ssl_ctx = None
    try:
        if bus.event_bus_tls.enable:
            from kedge.security.tls import client_ssl_context

            t = bus.event_bus_tls
            ssl_ctx = client_ssl_context(
                t.tls_mqtt_ca_file, t.tls_mqtt_cert_file, t.tls_mqtt_private_key_file
            )
        elif url.tls:
            import ssl

            ssl_ctx = ssl.create_default_context()
    except Exception as e:
        return Result("mqtt broker", FAIL, "eventBusTLS: %s" % e, "fix the eventBusTLS files")
    client = MqttClient(
        url.connect_host,
        url.port,
        client_id="kedge-debug-check-%d" % os.getpid(),
        ssl=ssl_ctx,
        username=bus.mqtt_username or None,
        password=bus.mqtt_password.encode() if bus.mqtt_username and bus.mqtt_password else None,
        connect_timeout=timeout,
    )
    try:
        await client.connect()
    except MqttConnectRefused as e:
        return Result(
            "mqtt broker", FAIL, str(e), "check eventBus.mqttUsername/mqttPassword and the broker's ACL"
        )
    except (OSError, MqttError) as e:
        return Result(
            "mqtt broker",
            FAIL,
            "cannot reach the MQTT broker at %s: %s"
            % (url, e.strerror or e if isinstance(e, OSError) else e),
            "start the broker (`systemctl start mosquitto`), fix eventBus.mqttServerExternal, or use the "
            "internal broker (eventBus.mqttMode: 0)",
        )
    finally:
        await client.close()
    return Result("mqtt broker", OK, "%s answered CONNECT" % url)


def check_database(path: str) -> Result:
    """`PRAGMA quick_check` on the edge database, opened read-only (edgecore may be running)."""
    import sqlite3
    from urllib.parse import quote

    p = Path(path)
    if not p.exists():
        return Result(
            "database",
            WARN,
            "%s does not exist: created on first start" % path,
            "start edgecore (nothing to fix if it has never run)",
        )
    fix = "stop edgecore, move %s aside and start it again: the cloud resends the node's state" % path
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % quote(str(p.resolve())), uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return Result("database", FAIL, "%s: %s" % (path, e), fix)
    if rows == [("ok",)]:
        return Result("database", OK, "%s passes quick_check" % path)
    return Result("database", FAIL, "%s: %s" % (path, "; ".join(str(r[0]) for r in rows[:3])), fix)


async def check_cloud_connectivity(cfg: EdgeCoreConfig, *, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """TCP connect to cloudhub's WebSocket address (QUIC is UDP: only its name is resolved)."""
    import asyncio
    import contextlib
    import socket

    hub = cfg.modules.edge_hub
    quic = hub.quic.enable
    field = "edgeHub.quic.server" if quic else "edgeHub.websocket.server"
    server = hub.quic.server if quic else hub.websocket.server
    if not server:
        return Result("cloud connectivity", FAIL, "%s is empty" % field, "set %s (`kedge join` does)" % field)
    hp = _host_port_of(server)
    if hp is None:
        return Result(
            "cloud connectivity", FAIL, "%s %r is not HOST:PORT" % (field, server), "fix %s" % field
        )
    host, port = hp
    if quic:
        try:
            await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as e:
            return Result("cloud connectivity", FAIL, "cannot resolve %s: %s" % (host, e), "fix %s" % field)
        return Result("cloud connectivity", OK, "%s resolves (QUIC is UDP: reachability not probed)" % server)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as e:
        reason = "timed out after %.0f s" % timeout if isinstance(e, TimeoutError) else e.strerror or str(e)
        return Result(
            "cloud connectivity",
            FAIL,
            "cannot connect to cloudcore at %s: %s" % (server, reason),
            "check that cloudcore runs and port %d is open between this node and it; check %s"
            % (port, field),
        )
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Result("cloud connectivity", OK, "TCP connect to %s" % server)


async def run_edge_checks(
    cfg: EdgeCoreConfig, *, timeout: float = DEFAULT_TIMEOUT, now: float
) -> list[Result]:
    import asyncio

    eh = cfg.modules.edge_hub
    results = check_edge_certificates(eh.tls_ca_file, eh.tls_cert_file, eh.tls_private_key_file, now)
    probes = await asyncio.gather(
        check_clock(eh.http_server, eh.tls_ca_file, timeout=timeout),
        check_cloud_connectivity(cfg, timeout=timeout),
        check_containerd(cfg, timeout=timeout),
        check_broker(cfg, timeout=timeout),
    )
    results += [r for r in probes if r is not None]
    mon = cfg.monitor_server
    running = mon.enable and await asyncio.to_thread(core_running, mon.bind_address, min(timeout, 2.0))
    results += [check_port(li, "edgecore" if running else None) for li in edge_listeners(cfg)]
    results.append(check_database(cfg.database.data_source))
    return results


def run_cloud_checks(cfg: CloudCoreConfig, *, now: float) -> list[Result]:
    running = core_running(cfg.common_config.monitor_server.bind_address, 2.0)
    owner = "cloudcore" if running else None
    return check_cloud_certificates(cfg, now) + [check_port(li, owner) for li in cloud_listeners(cfg)]


# -- command -----------------------------------------------------------------------------------------


def _kind_of(path: Path) -> str | None:
    import yaml

    try:
        raw = yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError):
        return None  # the loader reports it
    return raw.get("kind") if isinstance(raw, dict) else None


def load_config(path: str | None, role: str | None) -> tuple[str, Any, str]:
    """(role, config, where it came from); ConfigError when the file is bad."""
    from kedge import config

    if path is None and role != "cloud" and DEFAULT_EDGE_CONFIG.exists():
        path = str(DEFAULT_EDGE_CONFIG)
    if path is None:
        if role == "cloud":
            return "cloud", config.default_cloudcore(), "default cloudcore config"
        return "edge", config.default_edgecore(), "default edgecore config"
    if role is None:
        role = "cloud" if _kind_of(Path(path)) == "CloudCore" else "edge"
    loader = config.load_cloudcore if role == "cloud" else config.load_edgecore
    cfg, _ = loader(path)
    return role, cfg, path


def cmd_check(args: argparse.Namespace) -> int:
    import time

    from kedge import config
    from kedge.aio.loops import run

    try:
        role, cfg, source = load_config(args.config, args.role)
    except config.ConfigError as e:
        print("error: %s; fix the file or pass another --config" % e, file=sys.stderr)
        return 1
    now = time.time()
    if role == "cloud":
        results = run_cloud_checks(cfg, now=now)
    else:
        results = run(run_edge_checks(cfg, timeout=args.timeout, now=now))
    if args.output == "json":
        sys.stdout.write(format_json(results))
    else:
        print("%s node, config: %s" % (role, source))
        sys.stdout.write(format_text(results))
    return exit_code(results)


def add_parsers(sub: Any) -> None:
    dp = sub.add_parser("debug", help="diagnose this node", description="Diagnose a kedge node.")
    dsub = dp.add_subparsers(dest="debug_command", required=True, metavar="COMMAND")
    cp = dsub.add_parser(
        "check",
        help="check certificates, clock, ports, runtime, broker, database and cloud connectivity",
        description="Check this node and say what is wrong and how to fix it (keadm debug check). "
        "Exit code 1 when a check fails.",
    )
    cp.add_argument(
        "--config",
        help="edgecore.yaml or cloudcore.yaml (default: %s if present, else the default edgecore config)"
        % DEFAULT_EDGE_CONFIG,
    )
    cp.add_argument("--role", choices=("edge", "cloud"), help="default: from the config's kind")
    cp.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    cp.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds for each network probe (default 5)"
    )
    cp.set_defaults(func=cmd_check)
