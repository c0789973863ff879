"""`kedge gettoken`, `kedge join` and `kedge reset`: keadm's node-joining commands.

Module-level imports stay light (the parser is built for every `kedge` command); each command imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from kedge.cli import ports

DEFAULT_DATA_DIR = "/var/lib/kedge"
EDGECORE_YAML = "edgecore.yaml"
TOKEN_MARGIN = 600.0  # seconds: a token printed for someone to paste must not expire while they do


def _error(message: str, code: int = 1) -> int:
    print("error: %s" % message, file=sys.stderr)
    return code


# -- gettoken ----------------------------------------------------------------------------------------


def cmd_gettoken(args: argparse.Namespace) -> int:
    """Print the token cloudcore hands out (<data-dir>/cloudhub/token) or, when that file is missing or
    no longer valid, mint one from the CA (created if this is the first use of the data directory)."""
    import datetime as dt
    import time

    from kedge import config
    from kedge.cloud.cloudhub.certs import (
        CertPaths,
        load_or_create_ca,
        read_token,
        token_usable,
        write_token,
    )
    from kedge.security import tokens
    from kedge.security.errors import PKIError

    hub_cfg = config.default_cloudcore().modules.cloud_hub
    data_dir = args.data_dir
    if args.config:
        try:
            cfg, _ = config.load_cloudcore(args.config)
        except config.ConfigError as e:
            return _error(str(e))
        hub_cfg = cfg.modules.cloud_hub
        data_dir = data_dir or cfg.data_dir
    paths = CertPaths.resolve(hub_cfg, Path(data_dir or DEFAULT_DATA_DIR))
    now = time.time()
    try:
        ca_key, ca_cert = load_or_create_ca(
            paths.ca_cert_path, paths.ca_key_path, now=dt.datetime.fromtimestamp(now, dt.UTC)
        )
        token = read_token(paths.token_path)
        if token is None or not token_usable(token, ca_key, ca_cert, now + TOKEN_MARGIN):
            ttl = 2 * hub_cfg.token_refresh_duration * 3600.0
            token = tokens.issue_token(ca_key, ca_cert, now=now, ttl=ttl)
            write_token(paths.token_path, token)
    except PKIError as e:
        return _error(str(e))
    print(token)
    return 0


# -- join --------------------------------------------------------------------------------------------


def _host_port(text: str) -> tuple[str, int]:
    """HOST:PORT or [V6]:PORT."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # a bare IPv6 address needs brackets
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("--cloudcore-ipport %r: expected HOST:PORT (an IPv6 address as [ADDR]:PORT)" % text)
    return host, int(port)


def _url_host(host: str) -> str:
    try:
        return "[%s]" % host if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


class JoinPaths:
    """The files `kedge join` creates under the data directory (and `kedge reset` removes)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.config = data_dir / EDGECORE_YAML
        self.ca_dir = data_dir / "ca"
        self.certs_dir = data_dir / "certs"
        self.ca_file = self.ca_dir / "rootCA.crt"
        self.cert_file = self.certs_dir / "server.crt"
        self.key_file = self.certs_dir / "server.key"
        self.database = data_dir / "edgecore.db"


def edge_config(args: argparse.Namespace, paths: JoinPaths, host: str, port: int):
    """edgecore.yaml for this node: KubeEdge's defaults with the cloud's addresses, this node's name,
    and every TLS file and the database under the data directory."""
    from kedge import config

    cfg = config.default_edgecore()
    hub = cfg.modules.edge_hub
    url_host = _url_host(host)
    hub.websocket.enable = args.hub_protocol == "websocket"
    hub.websocket.server = "%s:%d" % (url_host, port)
    hub.quic.enable = args.hub_protocol == "quic"
    hub.quic.server = "%s:%d" % (url_host, args.quicport)
    hub.http_server = "https://%s:%d" % (url_host, args.certport)
    hub.token = ""  # KubeEdge blanks it once the certificate is issued; kedge joins before writing
    ca, cert, key = str(paths.ca_file), str(paths.cert_file), str(paths.key_file)
    hub.tls_ca_file, hub.tls_cert_file, hub.tls_private_key_file = ca, cert, key
    meta = cfg.modules.meta_manager.meta_server
    meta.tls_ca_file, meta.tls_cert_file, meta.tls_private_key_file = ca, cert, key
    bus = cfg.modules.event_bus.event_bus_tls
    bus.tls_mqtt_ca_file, bus.tls_mqtt_cert_file, bus.tls_mqtt_private_key_file = ca, cert, key
    stream = cfg.modules.edge_stream
    stream.tls_tunnel_ca_file, stream.tls_tunnel_cert_file, stream.tls_tunnel_private_key_file = ca, cert, key
    cfg.database.data_source = str(paths.database)
    cfg.modules.device_twin.dmi_sock_path = str(paths.data_dir) + os.sep
    edged = cfg.modules.edged
    edged.hostname_override = args.edgenode_name
    edged.runtime = args.runtime
    if paths.data_dir.resolve() != Path(DEFAULT_DATA_DIR):
        # A node in a directory of its own keeps its pods there too: two nodes on one host (the demo's)
        # must not share /var/lib/kubelet, and a user without root can run one.
        edged.root_directory = str(paths.data_dir / "kubelet")
        edged.tailored_kubelet_config.pod_logs_dir = str(paths.data_dir / "pod-logs")
        edged.tailored_kubelet_config.static_pod_path = str(paths.data_dir / "manifests")
    cfg.modules.event_bus.mqtt_mode = args.mqtt_mode
    return cfg


def local_wants(cfg) -> list[ports.Want]:
    """The ports this edgecore may listen on, as configured."""
    mods = cfg.modules
    wants = []
    for name, text in (
        ("MQTT broker (eventBus.mqttServerInternal)", mods.event_bus.mqtt_server_internal),
        ("MetaServer (metaManager.metaServer.server)", mods.meta_manager.meta_server.server),
        ("monitor server (monitorServer.bindAddress)", cfg.monitor_server.bind_address),
    ):
        host, port = ports.split_hostport(text)
        wants.append(ports.Want(name, host, port))
    wants.append(ports.Want("ServiceBus (serviceBus.port)", mods.service_bus.server, mods.service_bus.port))
    return wants


def choose_local_ports(cfg, is_free=ports.bindable) -> list[str]:
    """Move each local port that is taken on this host to the next free one, in `cfg`; returns what moved,
    for the user to read."""
    wants = local_wants(cfg)
    chosen = ports.choose(wants, is_free)
    moved = [
        "%s: %d is in use, using %d" % (w.name, w.port, chosen[w.name])
        for w in wants
        if chosen[w.name] != w.port
    ]
    mods = cfg.modules
    broker, meta, monitor, bus = (chosen[w.name] for w in wants)
    scheme, _, _ = mods.event_bus.mqtt_server_internal.rpartition("://")
    host = _url_host(wants[0].host)
    mods.event_bus.mqtt_server_internal = "%s://%s:%d" % (scheme or "tcp", host, broker)
    mods.meta_manager.meta_server.server = "%s:%d" % (_url_host(wants[1].host), meta)
    cfg.monitor_server.bind_address = "%s:%d" % (_url_host(wants[2].host), monitor)
    mods.service_bus.port = bus
    return moved


def cmd_join(args: argparse.Namespace) -> int:
    import datetime as dt

    from kedge import config
    from kedge.aio.loops import run
    from kedge.edge.edgehub import certmanager
    from kedge.security import certdates, pki
    from kedge.security.errors import PKIError

    try:
        host, port = _host_port(args.cloudcore_ipport)
    except ValueError as e:
        return _error(str(e), 2)
    paths = JoinPaths(Path(args.data_dir))
    if paths.config.exists() and not args.force:
        return _error(
            "%s exists: this directory already holds a joined node; run `kedge reset --data-dir %s` "
            "first, or pass --force to join again over it" % (paths.config, paths.data_dir)
        )
    cfg = edge_config(args, paths, host, port)
    try:
        moved = choose_local_ports(cfg)
    except ports.NoFreePort as e:
        return _error("%s; free one of them or edit %s after joining" % (e, EDGECORE_YAML))
    try:
        cfg.validate(source="the generated %s" % EDGECORE_YAML)
    except config.ConfigError as e:
        return _error(str(e), 2)
    node = args.edgenode_name
    http_server = cfg.modules.edge_hub.http_server
    # What this join creates goes again when it fails: a wrong token leaves the directory as it was.
    new = [p for p in (paths.data_dir, paths.ca_dir, paths.certs_dir, paths.ca_file) if not p.exists()]
    try:
        # Certificate and key are written last, together, only on success: a failure leaves neither.
        run(
            certmanager.join(
                http_server,
                args.token,
                node,
                ca_file=paths.ca_file,
                cert_file=paths.cert_file,
                key_file=paths.key_file,
                allow_existing=args.force,
            )
        )
    except (certmanager.CertificateRequestError, PKIError) as e:
        _remove_new(new)
        return _error("joining %s as node %s failed: %s" % (http_server, node, e))
    try:
        pki.write_pem(paths.config, config.dump_yaml(cfg).encode(), mode=0o644)
    except PKIError as e:
        for issued in (paths.cert_file, paths.key_file):  # a node without its config is no node
            with contextlib.suppress(FileNotFoundError):
                issued.unlink()
        return _error("node %s was issued a certificate, but %s" % (node, e))
    _, not_after = certdates.cert_validity(certdates.pem_to_der(paths.cert_file.read_bytes()))
    expiry = dt.datetime.fromtimestamp(not_after, dt.UTC).isoformat().replace("+00:00", "Z")
    print("node %s joined %s; certificate %s valid until %s" % (node, http_server, paths.cert_file, expiry))
    for line in moved:
        print("port %s" % line)
    print("wrote %s; start the node with: kedge edgecore --config %s" % (paths.config, paths.config))
    from kedge.cli import service

    return service.install_from_args(args, "edgecore", paths.config)


def _remove_new(created: list[Path]) -> None:
    for p in reversed(created):  # files before the directories holding them
        with contextlib.suppress(OSError):
            p.rmdir() if p.is_dir() else p.unlink()


# -- reset -------------------------------------------------------------------------------------------


def _joined_files(paths: JoinPaths) -> list[Path]:
    db = paths.database
    suffixes = ("", "-wal", "-shm", "-journal", "-lock")
    candidates = [paths.config, paths.cert_file, paths.key_file, paths.ca_file]
    candidates += [db.with_name(db.name + s) for s in suffixes]
    return [p for p in candidates if p.is_file() or p.is_symlink()]


def cmd_reset(args: argparse.Namespace) -> int:
    """Remove what `kedge join` created in the data directory, and nothing else: certs/ and ca/ go only
    when they are empty afterwards."""
    paths = JoinPaths(Path(args.data_dir))
    files = _joined_files(paths)
    if not files:
        print("nothing to reset in %s" % paths.data_dir)
        return 0
    if not args.force:
        if not sys.stdin.isatty():
            return _error(
                "reset would remove %s; pass --force to confirm" % ", ".join(str(f) for f in files), 2
            )
        answer = input("remove %s? [y/N] " % ", ".join(str(f) for f in files))
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    failed = False
    for f in files:
        try:
            f.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            print("error: cannot remove %s: %s" % (f, e.strerror or e), file=sys.stderr)
            failed = True
            continue
        print("removed %s" % f)
    for d in (paths.certs_dir, paths.ca_dir):
        with contextlib.suppress(FileNotFoundError, OSError):
            d.rmdir()  # only succeeds when empty: files someone else put there stay
            print("removed %s%s" % (d, os.sep))
    return 1 if failed else 0


# -- parsers -----------------------------------------------------------------------------------------


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("%r is not a port number (1-65535)" % text)
    return int(text)


def add_parsers(sub: Any) -> None:
    """Adds gettoken, join and reset to the `kedge` subcommand parsers `sub`."""
    gp = sub.add_parser("gettoken", help="print a join token for edge nodes")
    gp.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="cloudcore's data directory (default: the config's, else %s)" % DEFAULT_DATA_DIR,
    )
    gp.add_argument("--config", help="cloudcore.yaml, for configured CA file locations and dataDir")
    gp.set_defaults(func=cmd_gettoken)

    jp = sub.add_parser("join", help="join this machine to a cloudcore as an edge node")
    jp.add_argument("--cloudcore-ipport", required=True, metavar="HOST:PORT", help="cloudcore's hub address")
    jp.add_argument(
        "--token", required=True, help="join token (kedge gettoken / keadm gettoken on the cloud)"
    )
    jp.add_argument("--edgenode-name", required=True, metavar="NAME", help="this node's name")
    jp.add_argument(
        "--data-dir",
        metavar="DIR",
        default=DEFAULT_DATA_DIR,
        help="where to write edgecore.yaml, certificates and the database (default %(default)s); in any"
        " other directory the node's pod directories go there too",
    )
    jp.add_argument(
        "--runtime",
        choices=("auto", "cri", "process"),
        default="auto",
        help="pod runtime: cri (containerd), process (host processes), auto: cri when its socket exists"
        " (default %(default)s)",
    )
    jp.add_argument(
        "--hub-protocol",
        choices=("websocket", "quic"),
        default="websocket",
        help="cloud-edge transport (default %(default)s)",
    )
    jp.add_argument(
        "--mqtt-mode",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="EventBus broker: 0 the embedded one, 1 both, 2 an external one such as mosquitto on 1883"
        " (default %(default)s, as KubeEdge)",
    )
    jp.add_argument(
        "--certport", type=_port, default=10002, help="cloudcore's certificate port (default %(default)s)"
    )
    jp.add_argument(
        "--quicport", type=_port, default=10001, help="cloudcore's QUIC port (default %(default)s)"
    )
    jp.add_argument(
        "--force",
        action="store_true",
        help="join even if the cloud has a node of this name already, or DIR holds a joined node",
    )
    from kedge.cli import service

    service.add_arguments(jp, "edgecore")
    jp.set_defaults(func=cmd_join)

    rp = sub.add_parser(
        "reset", help="remove the configuration, certificates and database kedge join created"
    )
    rp.add_argument(
        "--data-dir",
        metavar="DIR",
        default=DEFAULT_DATA_DIR,
        help="the data directory given to kedge join (default %(default)s)",
    )
    rp.add_argument("--force", action="store_true", help="do not ask for confirmation")
    rp.set_defaults(func=cmd_reset)
