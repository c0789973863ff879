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
    cfg.modules.edged.hostname_override = args.edgenode_name
    cfg.modules.edged.runtime = args.runtime
    return cfg


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
        cfg.validate(source="the generated %s" % EDGECORE_YAML)
    except config.ConfigError as e:
        return _error(str(e), 2)
    node = args.edgenode_name
    http_server = cfg.modules.edge_hub.http_server
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
    print("wrote %s; start the node with: kedge edgecore --config %s" % (paths.config, paths.config))
    return 0


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
        help="where to write edgecore.yaml, certificates and the database (default %(default)s)",
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
