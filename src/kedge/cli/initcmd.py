"""`kedge init` (keadm init): prepare a cloud's data directory, and the minimal configs `--minconfig`
prints (KubeEdge's `cloudcore --minconfig` / `edgecore --minconfig`).

`kedge init` creates exactly the files cloudcore would create at its first start (CloudHub's CA, serving
certificate and join token, through kedge.cloud.cloudhub.certs) and a cloudcore.yaml naming that data
directory, so `kedge cloudcore --config` finds them and recreates nothing.

Module-level imports stay light: the parser is built for every `kedge` command.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from kedge.cli import service

DEFAULT_DATA_DIR = "/var/lib/kedge"
CLOUDCORE_YAML = "cloudcore.yaml"
TOKEN_MARGIN = 600.0  # seconds, as `kedge gettoken`: a printed token must outlive its copy and paste


def _error(message: str, code: int = 1) -> int:
    print("error: %s" % message, file=sys.stderr)
    return code


def _split(values: list[str] | None) -> list[str]:
    """Comma-separated, repeatable option values, in order, without blanks or repeats."""
    out: list[str] = []
    for value in values or ():
        for item in value.split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def _addresses(values: list[str] | None) -> list[str]:
    out = []
    for item in _split(values):
        try:
            out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ValueError(
                "--advertise-address %r is not an IP address; give IPs here and host names in --dns-names"
                % item
            ) from None
    return list(dict.fromkeys(out))


def serving_names(hub_cfg: Any) -> tuple[list[str], list[str]]:
    """(DNS names, IPs) for the serving certificate: what cloudcore asks for with this config
    (advertiseAddress and dnsNames) plus what it asks for without an advertiseAddress (127.0.0.1,
    localhost, the host name), so local edges and tools can dial it too. A superset of what cloudcore
    requests at start, so cloudcore keeps the certificate instead of re-issuing it."""
    import msgspec

    from kedge.cloud.cloudhub.certs import server_names

    listen = [hub_cfg.websocket.address, hub_cfg.quic.address, hub_cfg.https.address]
    dns, ips = server_names(hub_cfg, listen)
    more_dns, more_ips = server_names(msgspec.structs.replace(hub_cfg, advertise_address=[]), listen)
    return list(dict.fromkeys([*dns, *more_dns])), list(dict.fromkeys([*ips, *more_ips]))


def cmd_init(args: argparse.Namespace) -> int:
    import datetime as dt
    import time

    from kedge import config
    from kedge.cloud.cloudhub.certs import (
        CertPaths,
        ensure_server_pair,
        load_or_create_ca,
        read_token,
        token_usable,
        write_token,
    )
    from kedge.security import pki, tokens
    from kedge.security.errors import PKIError

    try:
        advertise = _addresses(args.advertise_address)
    except ValueError as e:
        return _error(str(e), 2)
    data_dir = Path(args.data_dir).absolute()
    config_out = Path(args.config_out).absolute() if args.config_out else data_dir / CLOUDCORE_YAML
    if config_out.exists() and not args.force:
        return _error(
            "%s exists: this cloud is initialised already; start it with `kedge cloudcore --config %s`, "
            "or pass --force to rewrite the config (the CA is kept)" % (config_out, config_out)
        )
    cfg = config.default_cloudcore()
    cfg.data_dir = str(data_dir)
    hub = cfg.modules.cloud_hub
    hub.advertise_address = advertise
    hub.dns_names = _split(args.dns_names)
    try:
        cfg.validate(source="the generated %s" % CLOUDCORE_YAML)
    except config.ConfigError as e:
        return _error(str(e), 2)

    paths = CertPaths.resolve(hub, data_dir)
    now = time.time()
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    ca_existed = paths.ca_cert_path.exists()
    try:
        ca = load_or_create_ca(paths.ca_cert_path, paths.ca_key_path, now=when)
        dns, ips = serving_names(hub)
        ensure_server_pair(paths.cert_path, paths.key_path, ca, dns, ips, now=when)
        token = read_token(paths.token_path)
        if token is None or not token_usable(token, *ca, now + TOKEN_MARGIN):
            ttl = 2 * hub.token_refresh_duration * 3600.0
            write_token(paths.token_path, tokens.issue_token(*ca, now=now, ttl=ttl))
        pki.write_pem(config_out, config.dump_yaml(cfg).encode(), mode=0o644)
    except PKIError as e:
        return _error("%s; fix or remove the file, then run kedge init again" % e)

    print(
        "%s CA %s (sha256 %s)"
        % ("kept" if ca_existed else "created", paths.ca_cert_path, tokens.ca_hash(ca[1]))
    )
    print("serving certificate %s for %s" % (paths.cert_path, ", ".join([*ips, *dns])))
    print("join token in %s" % paths.token_path)
    print("wrote %s" % config_out)
    code = service.install_from_args(args, "cloudcore", config_out)
    if code:
        return code
    print("next:")
    if not args.install_service:
        print("  kedge cloudcore --config %s" % config_out)
    print("  kedge gettoken --data-dir %s" % data_dir)
    print(
        "  kedge join --cloudcore-ipport %s:%d --token <token> --edgenode-name <node>  (on the edge)"
        % (_url_host(advertise[0]) if advertise else "<cloud-ip>", hub.websocket.port)
    )
    return 0


def _url_host(host: str) -> str:
    return "[%s]" % host if ":" in host else host


# -- --minconfig -------------------------------------------------------------------------------------

# The keys users usually edit (KubeEdge's NewMinCloudCoreConfig / NewMinEdgeCoreConfig, plus kedge's own
# dataDir and embedded API server). Every other key is left out and takes its default.
_MIN_KEYS: dict[str, tuple[str, ...]] = {
    "cloudcore": (
        "apiVersion",
        "kind",
        "dataDir",
        "kubeAPIConfig.master",
        "kubeAPIConfig.kubeConfig",
        "embeddedAPIServer.enable",
        "embeddedAPIServer.address",
        "embeddedAPIServer.port",
        "commonConfig.monitorServer.bindAddress",
        "modules.cloudHub.nodeLimit",
        "modules.cloudHub.tlsCAFile",
        "modules.cloudHub.tlsCAKeyFile",
        "modules.cloudHub.tlsCertFile",
        "modules.cloudHub.tlsPrivateKeyFile",
        "modules.cloudHub.advertiseAddress",
        "modules.cloudHub.dnsNames",
        "modules.cloudHub.websocket",
        "modules.cloudHub.quic.enable",
        "modules.cloudHub.quic.address",
        "modules.cloudHub.quic.port",
        "modules.cloudHub.https",
        "modules.cloudHub.unixsocket",
        "modules.cloudHub.edgeCertSigningDuration",
        "modules.cloudHub.tokenRefreshDuration",
        "modules.router.enable",
        "modules.router.address",
        "modules.router.port",
    ),
    "edgecore": (
        "apiVersion",
        "kind",
        "database.dataSource",
        "modules.edged.hostnameOverride",
        "modules.edged.nodeIP",
        "modules.edged.runtime",
        "modules.edged.podSandboxImage",
        "modules.edged.tailoredKubeletConfig.cgroupDriver",
        "modules.edged.tailoredKubeletConfig.containerRuntimeEndpoint",
        "modules.edged.tailoredKubeletConfig.imageServiceEndpoint",
        "modules.edgeHub.heartbeat",
        "modules.edgeHub.tlsCaFile",
        "modules.edgeHub.tlsCertFile",
        "modules.edgeHub.tlsPrivateKeyFile",
        "modules.edgeHub.websocket.enable",
        "modules.edgeHub.websocket.server",
        "modules.edgeHub.quic.enable",
        "modules.edgeHub.quic.server",
        "modules.edgeHub.httpServer",
        "modules.edgeHub.token",
        "modules.eventBus.mqttMode",
        "modules.eventBus.mqttServerInternal",
        "modules.eventBus.mqttServerExternal",
        "modules.metaManager.metaServer.enable",
        "monitorServer.bindAddress",
    ),
}


def _pick(full: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The sub-mapping of `full` holding `keys` (dotted paths), in `full`'s key order."""
    wanted: dict[str, Any] = {}
    for key in keys:
        node, parts = wanted, key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = True

    def walk(src: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in src.items():
            if k in want:
                out[k] = walk(v, want[k]) if isinstance(want[k], dict) else v
        missing = set(want) - set(src)
        if missing:  # a key renamed in the config Structs must not vanish silently from --minconfig
            raise KeyError("--minconfig names unknown keys: %s" % ", ".join(sorted(missing)))
        return out

    return walk(full, wanted)


def minimal_config_yaml(which: str) -> str:
    """`which`'s minimal config: the keys users usually edit, at their defaults (loading it gives the
    defaults for everything, like an empty file, but shows where the usual settings go)."""
    import yaml

    from kedge import config

    default = config.default_cloudcore() if which == "cloudcore" else config.default_edgecore()
    picked = _pick(yaml.safe_load(config.dump_yaml(default)), _MIN_KEYS[which])
    body = yaml.safe_dump(picked, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return (
        "# Minimal %s.yaml: the settings usually edited. Every key left out takes its default\n"
        "# (see `kedge %s --defaultconfig`).\n%s" % (which, which, body)
    )


# -- parser ------------------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """Adds `init` to the `kedge` subcommand parsers `sub`."""
    ip = sub.add_parser(
        "init",
        help="prepare this machine as the cloud: CA, certificates, join token and cloudcore.yaml",
        description="Create CloudHub's CA, serving certificate and join token in DIR and write a "
        "cloudcore.yaml for it, as cloudcore would at its first start (keadm init).",
    )
    ip.add_argument(
        "--data-dir",
        metavar="DIR",
        default=DEFAULT_DATA_DIR,
        help="cloudcore's data directory (default %(default)s)",
    )
    ip.add_argument(
        "--advertise-address",
        metavar="IP[,IP...]",
        action="append",
        help="addresses edges dial (cloudHub.advertiseAddress; IP SANs of the serving certificate)",
    )
    ip.add_argument(
        "--dns-names",
        metavar="NAME[,NAME...]",
        action="append",
        help="host names edges dial (cloudHub.dnsNames; DNS SANs of the serving certificate)",
    )
    ip.add_argument(
        "--config-out", metavar="PATH", help="where to write cloudcore.yaml (default DIR/%s)" % CLOUDCORE_YAML
    )
    ip.add_argument(
        "--force",
        action="store_true",
        help="rewrite an existing config (an existing CA is kept: everything it signed depends on it)",
    )
    service.add_arguments(ip, "cloudcore")
    ip.set_defaults(func=cmd_init)
