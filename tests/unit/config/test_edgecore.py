"""edgecore config: KubeEdge's defaults and key names, kedge's additions, cross-field rules."""

import msgspec
import pytest

from kedge.config import ConfigError, EdgeCoreConfig, default_edgecore, go_duration_seconds
from kedge.config.edgecore import Edged, EdgeHub, EventBus, TailoredKubeletConfig


def test_identity_and_database():
    cfg = default_edgecore()
    assert cfg.api_version == "edgecore.config.kubeedge.io/v1alpha2"
    assert cfg.kind == "EdgeCore"
    assert cfg.database.driver_name == "sqlite3"
    assert cfg.database.alias_name == "default"
    assert cfg.database.data_source == "/var/lib/kubeedge/edgecore.db"


def test_edgehub_defaults_match_kubeedge():
    hub = default_edgecore().modules.edge_hub
    assert hub.enable is True
    assert hub.heartbeat == 15
    assert hub.project_id == "e632aba927ea4ac2b575ec1603d56f10"
    assert (hub.message_qps, hub.message_burst) == (30, 60)
    assert hub.tls_ca_file == "/etc/kubeedge/ca/rootCA.crt"
    assert hub.tls_cert_file == "/etc/kubeedge/certs/server.crt"
    assert hub.tls_private_key_file == "/etc/kubeedge/certs/server.key"
    assert hub.rotate_certificates is True
    assert hub.token == ""
    ws = hub.websocket
    assert (ws.enable, ws.handshake_timeout, ws.read_deadline, ws.write_deadline) == (True, 30, 15, 15)
    q = hub.quic
    assert (q.enable, q.handshake_timeout, q.read_deadline, q.write_deadline) == (False, 30, 15, 15)


def test_eventbus_defaults_match_kubeedge():
    bus = default_edgecore().modules.event_bus
    assert bus.enable is True
    assert bus.mqtt_mode == 2
    assert bus.mqtt_server_external == "tcp://127.0.0.1:1883"
    assert bus.mqtt_server_internal == "tcp://127.0.0.1:1884"
    assert (bus.mqtt_qos, bus.mqtt_retain, bus.mqtt_session_queue_size) == (0, False, 100)
    assert bus.event_bus_tls.enable is False
    assert bus.event_bus_tls.tls_mqtt_ca_file == "/etc/kubeedge/ca/rootCA.crt"


def test_other_module_defaults_match_kubeedge():
    m = default_edgecore().modules
    meta = m.meta_manager
    assert (meta.enable, meta.context_send_group, meta.context_send_module) == (True, "hub", "websocket")
    assert meta.remote_query_timeout == 60
    assert (meta.meta_server.enable, meta.meta_server.server) == (False, "127.0.0.1:10550")
    assert meta.meta_server.dummy_server == "169.254.30.10:10550"
    assert meta.meta_server.service_account_issuers == ["https://kubernetes.default.svc.cluster.local"]
    sb = m.service_bus
    assert (sb.enable, sb.server, sb.port, sb.timeout) == (False, "127.0.0.1", 9060, 60)
    assert (m.device_twin.enable, m.device_twin.dmi_sock_path) == (True, "/etc/kubeedge/")
    assert (m.edge_stream.enable, m.edge_stream.server) == (False, "127.0.0.1:10004")
    assert m.db_test.enable is False
    assert m.task_manager.enable is False


def test_edged_defaults_match_kubeedge():
    edged = default_edgecore().modules.edged
    assert (edged.enable, edged.report_event) == (True, False)
    assert edged.register_node_namespace == "default"
    assert edged.pod_sandbox_image == "kubeedge/pause:3.6"
    assert edged.root_directory == "/var/lib/kubelet"
    assert edged.node_labels == {}
    assert (edged.max_container_count, edged.max_per_pod_container_count) == (-1, 1)
    k = edged.tailored_kubelet_config
    assert k.container_runtime_endpoint == "unix:///run/containerd/containerd.sock"
    assert k.image_service_endpoint == "unix:///run/containerd/containerd.sock"
    assert k.cgroup_driver == "cgroupfs"
    assert k.max_pods == 110
    assert k.cluster_domain == "cluster.local"
    assert k.cluster_dns == []
    assert (k.address, k.read_only_port) == ("127.0.0.1", 10350)
    assert k.static_pod_path == "/etc/kubeedge/manifests"
    assert k.node_status_update_frequency == "10s"
    assert k.node_status_report_frequency == "5m0s"
    assert k.node_lease_duration_seconds == 40
    assert (k.image_gc_high_threshold_percent, k.image_gc_low_threshold_percent) == (85, 80)
    assert k.eviction_hard["memory.available"] == "100Mi"
    assert k.enforce_node_allocatable == ["pods"]


def test_kedge_runtime_field():
    assert default_edgecore().modules.edged.runtime == "auto"


@pytest.mark.parametrize(
    ("cls", "attr", "key"),
    [
        (EdgeCoreConfig, "edgecore_version", "edgecoreVersion"),
        (Edged, "node_ip", "nodeIP"),
        (Edged, "minimum_gc_age", "minimumGCAge"),
        (EdgeHub, "project_id", "projectID"),
        (EdgeHub, "message_qps", "messageQPS"),
        (EdgeHub, "tls_ca_file", "tlsCaFile"),
        (EdgeHub, "http_server", "httpServer"),
        (EventBus, "mqtt_qos", "mqttQOS"),
        (EventBus, "mqtt_sub_client_id", "mqttSubClientID"),
        (EventBus, "event_bus_tls", "eventBusTLS"),
        (TailoredKubeletConfig, "cluster_dns", "clusterDNS"),
        (TailoredKubeletConfig, "cgroups_per_qos", "cgroupsPerQOS"),
        (TailoredKubeletConfig, "resolv_conf", "resolvConf"),
        (TailoredKubeletConfig, "make_iptables_util_chains", "makeIPTablesUtilChains"),
    ],
)
def test_key_names_are_kubeedges(cls, attr, key):
    names = {f.name: f.encode_name for f in msgspec.structs.fields(cls)}
    assert names[attr] == key


def test_defaults_validate():
    default_edgecore().validate()


def test_hub_protocol_follows_enabled_transport():
    cfg = default_edgecore()
    cfg.modules.edge_hub.websocket.server = "10.0.0.1:10000"
    cfg.modules.edge_hub.quic.server = "10.0.0.1:10001"
    assert (cfg.hub_protocol, cfg.hub_server) == ("websocket", "10.0.0.1:10000")
    cfg.modules.edge_hub.websocket.enable = False
    cfg.modules.edge_hub.quic.enable = True
    assert (cfg.hub_protocol, cfg.hub_server) == ("quic", "10.0.0.1:10001")
    cfg.validate()
    cfg.modules.edge_hub.websocket.enable = True
    assert (cfg.hub_protocol, cfg.hub_server) == (None, "")


@pytest.mark.parametrize("both", [True, False])
def test_exactly_one_transport(both):
    cfg = default_edgecore()
    cfg.modules.edge_hub.websocket.enable = both
    cfg.modules.edge_hub.quic.enable = both
    with pytest.raises(
        ConfigError, match=r"modules\.edgeHub: exactly one of websocket\.enable and quic\.enable"
    ):
        cfg.validate()
    cfg.modules.edge_hub.enable = False  # a disabled hub is not checked, as in KubeEdge
    cfg.validate()


def test_joined_node_needs_cloud_addresses():
    cfg = default_edgecore()
    cfg.modules.edge_hub.token = "abc.def"
    with pytest.raises(ConfigError) as info:
        cfg.validate(source="ec.yaml")
    assert [p for p, _ in info.value.problems] == [
        "modules.edgeHub.websocket.server",
        "modules.edgeHub.httpServer",
    ]
    cfg.modules.edge_hub.websocket.server = "192.168.1.10:10000"
    cfg.modules.edge_hub.http_server = "https://192.168.1.10:10002"
    cfg.validate()


def test_server_must_be_host_port():
    cfg = default_edgecore()
    cfg.modules.edge_hub.websocket.server = "192.168.1.10"
    with pytest.raises(ConfigError, match=r"modules\.edgeHub\.websocket\.server: must be host:port"):
        cfg.validate()


def test_http_server_must_be_url():
    cfg = default_edgecore()
    cfg.modules.edge_hub.http_server = "192.168.1.10:10002"
    with pytest.raises(ConfigError, match=r"modules\.edgeHub\.httpServer: must be an https://host:port URL"):
        cfg.validate()


def test_hostname_override_must_be_a_node_name():
    cfg = default_edgecore()
    cfg.modules.edged.hostname_override = "Edge_1"
    with pytest.raises(ConfigError, match=r"modules\.edged\.hostnameOverride: must be a lowercase RFC 1123"):
        cfg.validate()
    cfg.modules.edged.hostname_override = "edge-1.site-a"
    cfg.validate()


def test_mqtt_broker_url_checked_for_the_mode_in_use():
    cfg = default_edgecore()
    cfg.modules.event_bus.mqtt_server_internal = "nonsense"  # mode 2 does not use the internal broker
    cfg.validate()
    cfg.modules.event_bus.mqtt_mode = 0
    with pytest.raises(ConfigError, match=r"modules\.eventBus\.mqttServerInternal: must be a broker URL"):
        cfg.validate()


def test_runtime_enum_rechecked():
    cfg = default_edgecore()
    cfg.modules.edged.runtime = "docker"  # type: ignore[assignment]
    with pytest.raises(ConfigError, match=r"modules\.edged\.runtime: Invalid enum value 'docker'"):
        cfg.validate()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0.0),
        ("0", 0.0),
        ("10s", 10.0),
        ("1m0s", 60.0),
        ("4h0m0s", 14400.0),
        ("100ms", 0.1),
        ("1h2m3.5s", 3723.5),
    ],
)
def test_go_duration_seconds(text, seconds):
    assert go_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1 minute", "m", "1d"])
def test_go_duration_rejects(text):
    with pytest.raises(ValueError):
        go_duration_seconds(text)
