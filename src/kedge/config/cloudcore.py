"""cloudcore configuration: the shape of KubeEdge's cloudcore.yaml (cloudcore.config.kubeedge.io/v1alpha1).

Keys, nesting and defaults follow KubeEdge's componentconfig/cloudcore/v1alpha1 (types.go, default.go).
Differences, all deliberate:
- `advertiseAddress` and `dnsNames` default to empty lists; KubeEdge fills in the host's address when it
  prints a default file, which would bake one machine's IP into a shared asset.
- kedge additions are the top-level `dataDir` and `embeddedAPIServer` keys.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from kedge.config._base import (
    NonNegative,
    Port,
    Positive,
    Section,
    is_ip,
    split_host_port,
)
from kedge.config._schema import recheck
from kedge.config.errors import ConfigError

API_GROUP = "cloudcore.config.kubeedge.io"
API_VERSION = f"{API_GROUP}/v1alpha1"
# KubeEdge's own Helm chart writes v1alpha2 into cloudcore.yaml (and cloudcore never checks), so a
# config migrated from KubeEdge may carry it; the schema is the same.
ACCEPTED_API_VERSIONS = (API_VERSION, f"{API_GROUP}/v1alpha2")
KIND = "CloudCore"

# KubeEdge's DefaultNodeLimit; several defaults below scale with it, as in KubeEdge's default.go.
DEFAULT_NODE_LIMIT = 500

DEFAULT_CA_FILE = "/etc/kubeedge/ca/rootCA.crt"
DEFAULT_CA_KEY_FILE = "/etc/kubeedge/ca/rootCA.key"
DEFAULT_CERT_FILE = "/etc/kubeedge/certs/server.crt"
DEFAULT_KEY_FILE = "/etc/kubeedge/certs/server.key"
DEFAULT_STREAM_CA_FILE = "/etc/kubeedge/ca/streamCA.crt"
DEFAULT_STREAM_CERT_FILE = "/etc/kubeedge/certs/stream.crt"
DEFAULT_STREAM_KEY_FILE = "/etc/kubeedge/certs/stream.key"


class MonitorServer(Section, kw_only=True):
    bind_address: str = "127.0.0.1:9091"  # Prometheus /metrics (and /debug/pprof when profiling)
    enable_profiling: bool = False


class CommonConfig(Section, kw_only=True):
    # Edge-side kubelet server port that cloudstream tunnels to (KubeEdge's constants.ServerPort).
    tunnel_port: Port = 10350
    monitor_server: MonitorServer = msgspec.field(default_factory=MonitorServer)


class KubeAPIConfig(Section, kw_only=True):
    master: str = ""
    content_type: str = "application/vnd.kubernetes.protobuf"
    qps: NonNegative = 5 * DEFAULT_NODE_LIMIT
    burst: NonNegative = 10 * DEFAULT_NODE_LIMIT
    # Empty: use kedge's embedded API server (see CloudCoreConfig.embedded_api_server).
    kube_config: str = ""


class EmbeddedAPIServer(Section, kw_only=True):
    """kedge only: the Kubernetes-compatible API server cloudcore runs when no kubeconfig is given."""

    enable: bool = True
    address: str = "127.0.0.1"
    port: Port = 6443


class CloudHubQUIC(Section, kw_only=True):
    enable: bool = False
    address: str = "0.0.0.0"
    port: Port = 10001
    max_incoming_streams: Positive = 10000


class CloudHubUnixSocket(Section, kw_only=True):
    enable: bool = True
    address: str = "unix:///var/lib/kubeedge/kubeedge.sock"


class CloudHubWebSocket(Section, kw_only=True):
    enable: bool = True
    address: str = "0.0.0.0"
    port: Port = 10000


class CloudHubHTTPS(Section, kw_only=True):
    enable: bool = True
    address: str = "0.0.0.0"
    port: Port = 10002


class NodeAuthorization(Section, kw_only=True):
    enable: bool = True


class AuthorizationMode(Section, kw_only=True, omit_defaults=True):
    node: NodeAuthorization | None = None


def _default_modes() -> list[AuthorizationMode]:
    return [AuthorizationMode(node=NodeAuthorization(enable=True))]


class CloudHubAuthorization(Section, kw_only=True):
    enable: bool = False
    debug: bool = True  # KubeEdge's default: log denials but let messages through
    modes: list[AuthorizationMode] = msgspec.field(default_factory=_default_modes)


class CloudHub(Section, kw_only=True):
    enable: bool = True
    keepalive_interval: Positive = 30  # seconds without a keepalive before the session is dropped
    node_limit: Positive = DEFAULT_NODE_LIMIT
    tls_ca_file: str = msgspec.field(default=DEFAULT_CA_FILE, name="tlsCAFile")
    tls_ca_key_file: str = msgspec.field(default=DEFAULT_CA_KEY_FILE, name="tlsCAKeyFile")
    tls_cert_file: str = DEFAULT_CERT_FILE
    tls_private_key_file: str = DEFAULT_KEY_FILE
    write_timeout: Positive = 30  # seconds
    quic: CloudHubQUIC = msgspec.field(default_factory=CloudHubQUIC)
    unixsocket: CloudHubUnixSocket = msgspec.field(default_factory=CloudHubUnixSocket)
    websocket: CloudHubWebSocket = msgspec.field(default_factory=CloudHubWebSocket)
    https: CloudHubHTTPS = msgspec.field(default_factory=CloudHubHTTPS)
    advertise_address: list[str] = msgspec.field(default_factory=list)
    dns_names: list[str] = msgspec.field(default_factory=list)
    edge_cert_signing_duration: Positive = 365  # days
    token_refresh_duration: Positive = 12  # hours
    authorization: CloudHubAuthorization = msgspec.field(default_factory=CloudHubAuthorization)


class EdgeControllerBuffer(Section, kw_only=True):
    process_event: NonNegative = 1024
    update_pod_status: NonNegative = 1024
    update_node_status: NonNegative = 1024
    query_config_map: NonNegative = 1024
    query_secret: NonNegative = 1024
    pod_event: NonNegative = 1
    config_map_event: NonNegative = 1
    secret_event: NonNegative = 1
    rules_event: NonNegative = 1
    rule_endpoints_event: NonNegative = 1
    query_persistent_volume: NonNegative = 1024
    query_persistent_volume_claim: NonNegative = 1024
    query_volume_attachment: NonNegative = 1024
    create_node: NonNegative = 1024
    patch_node: NonNegative = 1024 + DEFAULT_NODE_LIMIT // 2
    query_node: NonNegative = 1024 + DEFAULT_NODE_LIMIT
    update_node: NonNegative = 1024
    patch_pod: NonNegative = 1024
    delete_pod: NonNegative = 1024
    create_lease: NonNegative = 1024 + DEFAULT_NODE_LIMIT
    query_lease: NonNegative = 1024
    service_account_token: NonNegative = 1024
    create_pod: NonNegative = 1024
    certificate_signing_request: NonNegative = 1024


class EdgeControllerLoad(Section, kw_only=True):
    process_event_workers: Positive = 4
    update_pod_status_workers: Positive = 1
    update_node_status_workers: Positive = 1
    query_config_map_workers: Positive = 100
    query_secret_workers: Positive = 100
    query_persistent_volume_workers: Positive = 4
    query_persistent_volume_claim_workers: Positive = 4
    query_volume_attachment_workers: Positive = 4
    create_node_workers: Positive = 100
    patch_node_workers: Positive = 100 + DEFAULT_NODE_LIMIT // 50
    query_node_workers: Positive = DEFAULT_NODE_LIMIT
    update_node_workers: Positive = 4
    patch_pod_workers: Positive = 100
    delete_pod_workers: Positive = 100
    create_lease_workers: Positive = DEFAULT_NODE_LIMIT
    query_lease_workers: Positive = 100
    # KubeEdge spells these three with a capital first letter (and "Works"); kept for compatibility.
    update_rule_status_workers: Positive = msgspec.field(default=4, name="UpdateRuleStatusWorkers")
    service_account_token_workers: Positive = msgspec.field(default=100, name="ServiceAccountTokenWorkers")
    create_pod_works: Positive = msgspec.field(default=4, name="CreatePodWorks")
    certificate_signing_request_workers: Positive = 4


class EdgeController(Section, kw_only=True):
    enable: bool = True
    node_update_frequency: Positive = 10  # seconds
    buffer: EdgeControllerBuffer = msgspec.field(default_factory=EdgeControllerBuffer)
    load: EdgeControllerLoad = msgspec.field(default_factory=EdgeControllerLoad)


class DeviceControllerBuffer(Section, kw_only=True):
    update_device_twins: NonNegative = 1024
    update_device_states: NonNegative = msgspec.field(default=1024, name="updateDeviceStatus")
    device_event: NonNegative = 1
    device_model_event: NonNegative = 1
    # KubeEdge leaves this unset (0, an unbuffered channel) although its comment says 1.
    device_status_event: NonNegative = 0


class DeviceControllerLoad(Section, kw_only=True):
    update_device_status_workers: Positive = 1


class DeviceController(Section, kw_only=True):
    enable: bool = True
    # kedge: at most one Device status write per device per this many seconds (latest report wins)
    status_update_interval: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    # kedge: Device status writes in flight at once
    status_write_concurrency: Positive = 16
    buffer: DeviceControllerBuffer = msgspec.field(default_factory=DeviceControllerBuffer)
    load: DeviceControllerLoad = msgspec.field(default_factory=DeviceControllerLoad)


class TaskManagerBuffer(Section, kw_only=True):
    task_status: NonNegative = 1024
    task_event: NonNegative = 1


class TaskManagerLoad(Section, kw_only=True):
    task_workers: Positive = 1


class TaskManager(Section, kw_only=True):
    enable: bool = False
    buffer: TaskManagerBuffer = msgspec.field(default_factory=TaskManagerBuffer)
    load: TaskManagerLoad = msgspec.field(default_factory=TaskManagerLoad)


class SyncController(Section, kw_only=True):
    enable: bool = True


class DynamicController(Section, kw_only=True):
    enable: bool = False


class CloudStream(Section, kw_only=True):
    enable: bool = False
    tls_tunnel_ca_file: str = msgspec.field(default=DEFAULT_CA_FILE, name="tlsTunnelCAFile")
    tls_tunnel_cert_file: str = DEFAULT_CERT_FILE
    tls_tunnel_private_key_file: str = DEFAULT_KEY_FILE
    tunnel_port: Port = 10004  # edgestream dials this
    tls_stream_ca_file: str = msgspec.field(default=DEFAULT_STREAM_CA_FILE, name="tlsStreamCAFile")
    tls_stream_cert_file: str = DEFAULT_STREAM_CERT_FILE
    tls_stream_private_key_file: str = DEFAULT_STREAM_KEY_FILE
    stream_port: Port = 10003  # kube-apiserver reaches logs/exec through this


class Router(Section, kw_only=True):
    enable: bool = False
    address: str = "0.0.0.0"
    port: Port = 9443
    rest_timeout: Positive = 60  # seconds
    # kedge: serve the REST endpoint over TLS with this certificate and key (both, or neither)
    tls_cert_file: str = ""
    tls_private_key_file: str = ""


class IptablesManager(Section, kw_only=True):
    # KubeEdge's default; only meaningful with cloudstream, which is off by default.
    enable: bool = True
    mode: Literal["internal", "external"] = "internal"


class CloudCoreModules(Section, kw_only=True):
    cloud_hub: CloudHub = msgspec.field(default_factory=CloudHub)
    edge_controller: EdgeController = msgspec.field(default_factory=EdgeController)
    device_controller: DeviceController = msgspec.field(default_factory=DeviceController)
    task_manager: TaskManager = msgspec.field(default_factory=TaskManager)
    sync_controller: SyncController = msgspec.field(default_factory=SyncController)
    dynamic_controller: DynamicController = msgspec.field(default_factory=DynamicController)
    cloud_stream: CloudStream = msgspec.field(default_factory=CloudStream)
    router: Router = msgspec.field(default_factory=Router)
    iptables_manager: IptablesManager = msgspec.field(default_factory=IptablesManager)


class CloudCoreConfig(Section, kw_only=True):
    api_version: str = API_VERSION
    kind: str = KIND
    common_config: CommonConfig = msgspec.field(default_factory=CommonConfig)
    kube_api_config: KubeAPIConfig = msgspec.field(default_factory=KubeAPIConfig, name="kubeAPIConfig")
    # kedge only: where cloudcore keeps its state (embedded API server database, admin.kubeconfig).
    data_dir: str = "/var/lib/kedge"
    # kedge only: used when kubeAPIConfig names no cluster (no kubeConfig and no master).
    embedded_api_server: EmbeddedAPIServer = msgspec.field(
        default_factory=EmbeddedAPIServer, name="embeddedAPIServer"
    )
    modules: CloudCoreModules = msgspec.field(default_factory=CloudCoreModules)
    feature_gates: dict[str, bool] = msgspec.field(default_factory=dict)

    @property
    def uses_embedded_api_server(self) -> bool:
        """True when cloudcore must start (and talk to) its own API server."""
        kube = self.kube_api_config
        return not kube.kube_config and not kube.master and self.embedded_api_server.enable

    def validate(self, *, source: str = "cloudcore.yaml") -> None:
        """Raise ConfigError listing every broken rule: field constraints and cross-field rules."""
        recheck(self, source)
        problems = list(self._problems())
        if problems:
            raise ConfigError(problems, source=source)

    def _problems(self):
        if self.api_version not in ACCEPTED_API_VERSIONS:
            yield "apiVersion", f"expected {API_VERSION}, got {self.api_version!r}"
        if self.kind != KIND:
            yield "kind", f"expected {KIND}, got {self.kind!r}"
        bind = self.common_config.monitor_server.bind_address
        hp = split_host_port(bind)
        if hp is None or not is_ip(hp[0]):
            yield "commonConfig.monitorServer.bindAddress", f"must be IP:port, got {bind!r}"

        kube = self.kube_api_config
        if not kube.kube_config and not kube.master and not self.embedded_api_server.enable:
            yield (
                "kubeAPIConfig.kubeConfig",
                "empty while embeddedAPIServer.enable is false: there is no Kubernetes API to use",
            )
        if self.uses_embedded_api_server and not is_ip(self.embedded_api_server.address):
            yield (
                "embeddedAPIServer.address",
                f"must be an IP address, got {self.embedded_api_server.address!r}",
            )
        if not self.data_dir:
            yield "dataDir", "must not be empty"

        hub = self.modules.cloud_hub
        if hub.enable:
            for name in ("websocket", "quic", "https"):
                listener = getattr(hub, name)
                if listener.enable and not is_ip(listener.address):
                    yield (
                        f"modules.cloudHub.{name}.address",
                        f"must be an IP address, got {listener.address!r}",
                    )
            if hub.unixsocket.enable and not hub.unixsocket.address.lower().startswith("unix://"):
                yield "modules.cloudHub.unixsocket.address", "must start with unix://"
        yield from self._port_clashes()

    def _tcp_listeners(self):
        """(path, address, port) of every TCP listener this config turns on."""
        hub = self.modules.cloud_hub
        if hub.enable and hub.websocket.enable:
            yield "modules.cloudHub.websocket.port", hub.websocket.address, hub.websocket.port
        if hub.enable and hub.https.enable:
            yield "modules.cloudHub.https.port", hub.https.address, hub.https.port
        router = self.modules.router
        if router.enable:
            yield "modules.router.port", router.address, router.port
        stream = self.modules.cloud_stream
        if stream.enable:
            yield "modules.cloudStream.streamPort", "0.0.0.0", stream.stream_port
            yield "modules.cloudStream.tunnelPort", "0.0.0.0", stream.tunnel_port
        hp = split_host_port(self.common_config.monitor_server.bind_address)
        if hp is not None:
            yield "commonConfig.monitorServer.bindAddress", hp[0], hp[1]
        if self.uses_embedded_api_server:
            api = self.embedded_api_server
            yield "embeddedAPIServer.port", api.address, api.port

    def _port_clashes(self):
        seen: list[tuple[str, str, int]] = []
        for path, address, port in self._tcp_listeners():
            for other_path, other_address, other_port in seen:
                if port == other_port and _overlap(address, other_address):
                    yield path, f"port {port} is also used by {other_path}"
                    break
            seen.append((path, address, port))


def _overlap(a: str, b: str) -> bool:
    wildcard = ("0.0.0.0", "::", "")
    return a == b or a in wildcard or b in wildcard


def default_cloudcore() -> CloudCoreConfig:
    """cloudcore's defaults (what `kedge cloudcore --defaultconfig` prints)."""
    return CloudCoreConfig()
