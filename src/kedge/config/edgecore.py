"""edgecore configuration: the shape of KubeEdge's edgecore.yaml (edgecore.config.kubeedge.io/v1alpha2).

Keys, nesting and defaults follow KubeEdge's componentconfig/edgecore/v1alpha2 (types.go, default.go,
default_kubelet_configuration.go). Differences, all deliberate:
- Values KubeEdge derives from the machine when it prints a default file (hostnameOverride, the cloud
  addresses in edgeHub.websocket/quic.server and httpServer) default to "" here; `kedge join` fills
  them. An empty hostnameOverride means "this host's name".
- The kedge addition is `modules.edged.runtime` ("cri" or "process").
The transport is chosen as KubeEdge does: by which of edgeHub.websocket / edgeHub.quic is enabled.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from kedge.config._base import (
    GoDuration,
    NonNegative,
    Port,
    PortOrZero,
    Positive,
    Section,
    split_host_port,
)
from kedge.config._schema import recheck
from kedge.config.errors import ConfigError

API_GROUP = "edgecore.config.kubeedge.io"
API_VERSION = f"{API_GROUP}/v1alpha2"
ACCEPTED_API_VERSIONS = (API_VERSION,)
KIND = "EdgeCore"

DEFAULT_CA_FILE = "/etc/kubeedge/ca/rootCA.crt"
DEFAULT_CERT_FILE = "/etc/kubeedge/certs/server.crt"
DEFAULT_KEY_FILE = "/etc/kubeedge/certs/server.key"
DEFAULT_CRI_ENDPOINT = "unix:///run/containerd/containerd.sock"
DEFAULT_PROJECT_ID = "e632aba927ea4ac2b575ec1603d56f10"

MqttMode = Literal[0, 1, 2]  # 0 internal broker only, 1 both, 2 external broker only
MQTT_MODE_INTERNAL, MQTT_MODE_BOTH, MQTT_MODE_EXTERNAL = 0, 1, 2


class DataBase(Section, kw_only=True):
    driver_name: str = "sqlite3"
    alias_name: str = "default"
    data_source: str = "/var/lib/kubeedge/edgecore.db"


def _default_eviction_hard() -> dict[str, str]:
    # The kubelet's Linux defaults, which KubeEdge copies.
    return {
        "memory.available": "100Mi",
        "nodefs.available": "10%",
        "nodefs.inodesFree": "5%",
        "imagefs.available": "15%",
        "imagefs.inodesFree": "5%",
    }


def _default_logging() -> dict[str, Any]:
    # component-base's recommended logging configuration, as KubeEdge's default file prints it.
    return {
        "flushFrequency": "5s",
        "format": "text",
        "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
        "verbosity": 0,
    }


def _list_of(*items: str):
    return lambda: list(items)


class TailoredKubeletConfig(Section, kw_only=True):
    """The kubelet settings KubeEdge lets edgecore.yaml carry. kedge's edged reads the few it needs
    (maxPods, clusterDNS, cgroupDriver, endpoints, status frequencies, ...); the rest are kept so a
    KubeEdge file loads without warnings and survives a rewrite."""

    static_pod_path: str = "/etc/kubeedge/manifests"
    pod_logs_dir: str = "/var/log/pods"
    sync_frequency: GoDuration = "1m0s"
    file_check_frequency: GoDuration = "20s"
    address: str = "127.0.0.1"
    read_only_port: PortOrZero = 10350
    registry_pull_qps: NonNegative = msgspec.field(default=5, name="registryPullQPS")
    registry_burst: NonNegative = 10
    event_record_qps: NonNegative = msgspec.field(default=50, name="eventRecordQPS")
    event_burst: NonNegative = 100
    enable_debugging_handlers: bool = True
    enable_contention_profiling: bool = False
    oom_score_adj: int = -999
    cluster_domain: str = "cluster.local"
    cluster_dns: list[str] = msgspec.field(default_factory=list, name="clusterDNS")
    streaming_connection_idle_timeout: GoDuration = "4h0m0s"
    node_status_update_frequency: GoDuration = "10s"
    node_status_report_frequency: GoDuration = "5m0s"
    node_lease_duration_seconds: Positive = 40
    image_minimum_gc_age: GoDuration = msgspec.field(default="2m0s", name="imageMinimumGCAge")
    image_maximum_gc_age: GoDuration = msgspec.field(default="0s", name="imageMaximumGCAge")
    image_gc_high_threshold_percent: int = msgspec.field(default=85, name="imageGCHighThresholdPercent")
    image_gc_low_threshold_percent: int = msgspec.field(default=80, name="imageGCLowThresholdPercent")
    volume_stats_agg_period: GoDuration = "1m0s"
    kubelet_cgroups: str = ""
    system_cgroups: str = ""
    cgroup_root: str = ""
    cgroups_per_qos: bool = msgspec.field(default=True, name="cgroupsPerQOS")
    cgroup_driver: Literal["cgroupfs", "systemd"] = "cgroupfs"
    single_process_oom_kill: bool | None = msgspec.field(default=None, name="singleProcessOOMKill")
    cpu_manager_policy: str = "none"
    cpu_manager_policy_options: dict[str, str] = msgspec.field(default_factory=dict)
    cpu_manager_reconcile_period: GoDuration = "10s"
    memory_manager_policy: str = "None"
    topology_manager_policy: str = "none"
    topology_manager_scope: str = "container"
    topology_manager_policy_options: dict[str, str] = msgspec.field(default_factory=dict)
    qos_reserved: dict[str, str] = msgspec.field(default_factory=dict)
    runtime_request_timeout: GoDuration = "2m0s"
    hairpin_mode: str = "promiscuous-bridge"
    max_pods: Positive = 110
    pod_cidr: str = msgspec.field(default="", name="podCIDR")
    pod_pids_limit: int = -1
    resolv_conf: str = "/etc/resolv.conf"
    cpu_cfs_quota: bool = msgspec.field(default=True, name="cpuCFSQuota")
    cpu_cfs_quota_period: GoDuration = msgspec.field(default="100ms", name="cpuCFSQuotaPeriod")
    node_status_max_images: int = 0
    max_open_files: Positive = 1000000
    content_type: str = "application/json"
    serialize_image_pulls: bool = True
    max_parallel_image_pulls: int | None = None
    eviction_hard: dict[str, str] = msgspec.field(default_factory=_default_eviction_hard)
    eviction_soft: dict[str, str] = msgspec.field(default_factory=dict)
    eviction_soft_grace_period: dict[str, str] = msgspec.field(default_factory=dict)
    eviction_pressure_transition_period: GoDuration = "5m0s"
    eviction_max_pod_grace_period: int = 0
    eviction_minimum_reclaim: dict[str, str] = msgspec.field(default_factory=dict)
    pods_per_core: NonNegative = 0
    enable_controller_attach_detach: bool = True
    protect_kernel_defaults: bool = False
    make_iptables_util_chains: bool = msgspec.field(default=True, name="makeIPTablesUtilChains")
    iptables_masquerade_bit: int = 14
    iptables_drop_bit: int = 15
    feature_gates: dict[str, bool] = msgspec.field(default_factory=dict)
    fail_swap_on: bool = False
    memory_swap: dict[str, Any] = msgspec.field(default_factory=dict)
    container_log_max_size: str = "10Mi"
    container_log_max_files: int = 5
    container_log_max_workers: int = 1
    container_log_monitor_interval: GoDuration = "10s"
    config_map_and_secret_change_detection_strategy: str = "Get"
    system_reserved: dict[str, str] = msgspec.field(default_factory=dict)
    kube_reserved: dict[str, str] = msgspec.field(default_factory=dict)
    reserved_system_cpus: str = msgspec.field(default="", name="reservedSystemCPUs")
    show_hidden_metrics_for_version: str = ""
    system_reserved_cgroup: str = ""
    kube_reserved_cgroup: str = ""
    enforce_node_allocatable: list[str] = msgspec.field(default_factory=_list_of("pods"))
    allowed_unsafe_sysctls: list[str] = msgspec.field(default_factory=list)
    volume_plugin_dir: str = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/"
    kernel_memcg_notification: bool = False
    logging: dict[str, Any] = msgspec.field(default_factory=_default_logging)
    enable_system_log_handler: bool = True
    enable_system_log_query: bool | None = None
    shutdown_grace_period: GoDuration = "0s"
    shutdown_grace_period_critical_pods: GoDuration = "0s"
    shutdown_grace_period_by_pod_priority: list[dict[str, Any]] = msgspec.field(default_factory=list)
    crash_loop_back_off: dict[str, Any] = msgspec.field(default_factory=dict)
    reserved_memory: list[dict[str, Any]] = msgspec.field(default_factory=list)
    enable_profiling_handler: bool = True
    enable_debug_flags_handler: bool = True
    seccomp_default: bool = False
    memory_throttling_factor: float = 0.9
    register_with_taints: list[dict[str, Any]] = msgspec.field(default_factory=list)
    register_node: bool = True
    local_storage_capacity_isolation: bool = True
    container_runtime_endpoint: str = DEFAULT_CRI_ENDPOINT
    image_service_endpoint: str = DEFAULT_CRI_ENDPOINT
    fail_cgroup_v1: bool = msgspec.field(default=False, name="failCgroupV1")


class Edged(Section, kw_only=True):
    enable: bool = True
    report_event: bool = False
    tailored_kubelet_config: TailoredKubeletConfig = msgspec.field(default_factory=TailoredKubeletConfig)
    # KubeEdge inlines its TailoredKubeletFlag and ContainerRuntimeOptions here, so these sit directly
    # under `edged`.
    hostname_override: str = ""  # empty: this host's name (also the node name)
    node_ip: str = msgspec.field(default="", name="nodeIP")  # empty: the address that reaches the cloud
    runtime_cgroups: str = ""
    pod_sandbox_image: str = "kubeedge/pause:3.6"
    root_directory: str = "/var/lib/kubelet"
    windows_service: bool = False
    windows_priority_class: str = ""
    experimental_mounter_path: str = ""
    experimental_node_allocatable_ignore_eviction_threshold: bool = False
    node_labels: dict[str, str] = msgspec.field(default_factory=dict)
    minimum_gc_age: GoDuration = msgspec.field(default="0s", name="minimumGCAge")
    max_per_pod_container_count: int = 1
    max_container_count: int = -1
    register_schedulable: bool = True
    seccomp_default: bool = False
    custom_interface_name: str = ""
    register_node_namespace: str = "default"
    # kedge only: "cri" drives containerd (containerRuntimeEndpoint); "process" runs pod containers as
    # local processes, for hosts without a container runtime; "auto": cri when its socket exists.
    runtime: Literal["auto", "cri", "process"] = "auto"


class EdgeHubQUIC(Section, kw_only=True):
    enable: bool = False
    handshake_timeout: Positive = 30  # seconds
    read_deadline: Positive = 15
    server: str = ""  # host:port of cloudhub's QUIC listener
    write_deadline: Positive = 15


class EdgeHubWebSocket(Section, kw_only=True):
    enable: bool = True
    handshake_timeout: Positive = 30  # seconds
    read_deadline: Positive = 15
    server: str = ""  # host:port of cloudhub's WebSocket listener
    write_deadline: Positive = 15


class EdgeHub(Section, kw_only=True):
    enable: bool = True
    heartbeat: Positive = 15  # seconds between keepalives
    message_qps: NonNegative = msgspec.field(default=30, name="messageQPS")
    message_burst: NonNegative = 60
    project_id: str = msgspec.field(default=DEFAULT_PROJECT_ID, name="projectID")
    tls_ca_file: str = DEFAULT_CA_FILE
    tls_cert_file: str = DEFAULT_CERT_FILE
    tls_private_key_file: str = DEFAULT_KEY_FILE
    quic: EdgeHubQUIC = msgspec.field(default_factory=EdgeHubQUIC)
    websocket: EdgeHubWebSocket = msgspec.field(default_factory=EdgeHubWebSocket)
    token: str = ""  # join token; KubeEdge clears it once the edge certificate is issued
    http_server: str = ""  # https://host:port of cloudhub's certificate server (10002)
    rotate_certificates: bool = True
    # kedge: seconds a bus upload (eventbus → rest) may wait in the outbox while the cloud is away before
    # it is dropped as stale; 0 keeps them until the outbox is full (then the oldest go first)
    upload_ttl: NonNegative = msgspec.field(default=3600, name="uploadTTL")


class EventBusTLS(Section, kw_only=True):
    enable: bool = False
    tls_mqtt_ca_file: str = msgspec.field(default=DEFAULT_CA_FILE, name="tlsMqttCAFile")
    tls_mqtt_cert_file: str = DEFAULT_CERT_FILE
    tls_mqtt_private_key_file: str = DEFAULT_KEY_FILE


class EventBus(Section, kw_only=True):
    enable: bool = True
    mqtt_qos: Literal[0, 1, 2] = msgspec.field(default=0, name="mqttQOS")
    mqtt_retain: bool = False
    mqtt_session_queue_size: Positive = 100
    mqtt_server_internal: str = "tcp://127.0.0.1:1884"
    mqtt_server_external: str = "tcp://127.0.0.1:1883"
    mqtt_sub_client_id: str = msgspec.field(default="", name="mqttSubClientID")
    mqtt_pub_client_id: str = msgspec.field(default="", name="mqttPubClientID")
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_mode: MqttMode = MQTT_MODE_EXTERNAL
    event_bus_tls: EventBusTLS = msgspec.field(default_factory=EventBusTLS, name="eventBusTLS")


class MetaServer(Section, kw_only=True):
    enable: bool = False
    server: str = "127.0.0.1:10550"
    tls_ca_file: str = DEFAULT_CA_FILE
    tls_cert_file: str = DEFAULT_CERT_FILE
    tls_private_key_file: str = DEFAULT_KEY_FILE
    service_account_issuers: list[str] = msgspec.field(
        default_factory=_list_of("https://kubernetes.default.svc.cluster.local")
    )
    api_audiences: list[str] = msgspec.field(default_factory=list)
    service_account_key_files: list[str] = msgspec.field(default_factory=list)
    dummy_server: str = "169.254.30.10:10550"


class MetaManager(Section, kw_only=True):
    enable: bool = True
    context_send_group: str = "hub"
    context_send_module: str = "websocket"
    remote_query_timeout: Positive = 60  # seconds
    meta_server: MetaServer = msgspec.field(default_factory=MetaServer)


class ServiceBus(Section, kw_only=True):
    enable: bool = False
    server: str = "127.0.0.1"
    port: Port = 9060
    timeout: Positive = 60  # seconds
    tls_cert_file: str = ""
    tls_private_key_file: str = ""


class DeviceTwin(Section, kw_only=True):
    enable: bool = True
    dmi_sock_path: str = "/etc/kubeedge/"


class DBTest(Section, kw_only=True):
    enable: bool = False


class EdgeStream(Section, kw_only=True):
    enable: bool = False
    tls_tunnel_ca_file: str = msgspec.field(default=DEFAULT_CA_FILE, name="tlsTunnelCAFile")
    tls_tunnel_cert_file: str = DEFAULT_CERT_FILE
    tls_tunnel_private_key_file: str = DEFAULT_KEY_FILE
    handshake_timeout: Positive = 30
    read_deadline: Positive = 15
    server: str = "127.0.0.1:10004"  # cloudstream's tunnel port
    write_deadline: Positive = 15


class TaskManager(Section, kw_only=True):
    enable: bool = False


class EdgeCoreModules(Section, kw_only=True):
    edged: Edged = msgspec.field(default_factory=Edged)
    edge_hub: EdgeHub = msgspec.field(default_factory=EdgeHub)
    event_bus: EventBus = msgspec.field(default_factory=EventBus)
    meta_manager: MetaManager = msgspec.field(default_factory=MetaManager)
    service_bus: ServiceBus = msgspec.field(default_factory=ServiceBus)
    device_twin: DeviceTwin = msgspec.field(default_factory=DeviceTwin)
    db_test: DBTest = msgspec.field(default_factory=DBTest)
    edge_stream: EdgeStream = msgspec.field(default_factory=EdgeStream)
    task_manager: TaskManager = msgspec.field(default_factory=TaskManager)


class EdgeMonitorServer(Section, kw_only=True):
    """kedge: /metrics, /healthz and /readyz of edgecore (KubeEdge's edgecore has none)."""

    enable: bool = True
    bind_address: str = "127.0.0.1:10351"


class EdgeCoreConfig(Section, kw_only=True):
    api_version: str = API_VERSION
    kind: str = KIND
    database: DataBase = msgspec.field(default_factory=DataBase)
    modules: EdgeCoreModules = msgspec.field(default_factory=EdgeCoreModules)
    feature_gates: dict[str, bool] = msgspec.field(default_factory=dict)
    edgecore_version: str = ""
    monitor_server: EdgeMonitorServer = msgspec.field(default_factory=EdgeMonitorServer)

    @property
    def hub_protocol(self) -> Literal["websocket", "quic"] | None:
        """The transport edgehub uses: the enabled one of websocket/quic (None if not exactly one)."""
        hub = self.modules.edge_hub
        if hub.websocket.enable == hub.quic.enable:
            return None
        return "websocket" if hub.websocket.enable else "quic"

    @property
    def hub_server(self) -> str:
        """host:port edgehub dials ("" when no single transport is enabled or it is not set)."""
        protocol = self.hub_protocol
        if protocol is None:
            return ""
        return getattr(self.modules.edge_hub, protocol).server

    def validate(self, *, source: str = "edgecore.yaml") -> None:
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
        if not self.database.data_source:
            yield "database.dataSource", "must not be empty"

        hub = self.modules.edge_hub
        if hub.enable:
            # KubeEdge's rule: edgehub speaks exactly one transport.
            if hub.websocket.enable == hub.quic.enable:
                yield (
                    "modules.edgeHub",
                    "exactly one of websocket.enable and quic.enable must be true",
                )
            else:
                protocol = self.hub_protocol
                server = self.hub_server
                path = f"modules.edgeHub.{protocol}.server"
                if server and split_host_port(server) is None:
                    yield path, f"must be host:port, got {server!r}"
                # A token means the node has been joined, so it must know where the cloud is.
                if hub.token and not server:
                    yield path, "must be set (host:port of cloudcore) when a join token is present"
            if hub.token and not hub.http_server:
                yield (
                    "modules.edgeHub.httpServer",
                    "must be set (https://host:port of cloudcore) when a join token is present",
                )
            if hub.http_server and not _is_url(hub.http_server, ("https", "http")):
                yield (
                    "modules.edgeHub.httpServer",
                    f"must be an https://host:port URL, got {hub.http_server!r}",
                )

        edged = self.modules.edged
        if edged.enable and edged.hostname_override and not _is_dns_subdomain(edged.hostname_override):
            yield (
                "modules.edged.hostnameOverride",
                "must be a lowercase RFC 1123 subdomain (it is the node name), "
                f"got {edged.hostname_override!r}",
            )

        bus = self.modules.event_bus
        if bus.enable:
            if bus.mqtt_mode in (MQTT_MODE_EXTERNAL, MQTT_MODE_BOTH) and not _is_mqtt_url(
                bus.mqtt_server_external
            ):
                yield (
                    "modules.eventBus.mqttServerExternal",
                    f"must be a broker URL such as tcp://127.0.0.1:1883, got {bus.mqtt_server_external!r}",
                )
            if bus.mqtt_mode in (MQTT_MODE_INTERNAL, MQTT_MODE_BOTH) and not _is_mqtt_url(
                bus.mqtt_server_internal
            ):
                yield (
                    "modules.eventBus.mqttServerInternal",
                    f"must be a broker URL such as tcp://127.0.0.1:1884, got {bus.mqtt_server_internal!r}",
                )

        meta = self.modules.meta_manager
        if meta.enable and meta.meta_server.enable and split_host_port(meta.meta_server.server) is None:
            yield (
                "modules.metaManager.metaServer.server",
                f"must be host:port, got {meta.meta_server.server!r}",
            )

        stream = self.modules.edge_stream
        if stream.enable and split_host_port(stream.server) is None:
            yield "modules.edgeStream.server", f"must be host:port, got {stream.server!r}"


_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_RE = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")


def _is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and bool(_DNS_SUBDOMAIN_RE.match(name))


def _is_url(text: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname) and port is not None


def _is_mqtt_url(text: str) -> bool:
    return _is_url(text, ("tcp", "ssl", "tls", "mqtt", "mqtts", "ws", "wss"))


def default_edgecore() -> EdgeCoreConfig:
    """edgecore's defaults (what `kedge edgecore --defaultconfig` prints)."""
    return EdgeCoreConfig()
