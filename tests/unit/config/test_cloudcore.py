"""cloudcore config: KubeEdge's defaults and key names, kedge's additions, cross-field rules."""

import msgspec
import pytest

from kedge.config import CloudCoreConfig, ConfigError, default_cloudcore
from kedge.config.cloudcore import AuthorizationMode, CloudHub, EdgeControllerLoad, NodeAuthorization


def test_identity():
    cfg = default_cloudcore()
    assert cfg.api_version == "cloudcore.config.kubeedge.io/v1alpha1"
    assert cfg.kind == "CloudCore"


def test_cloudhub_defaults_match_kubeedge():
    hub = default_cloudcore().modules.cloud_hub
    assert hub.enable is True
    assert (hub.websocket.enable, hub.websocket.address, hub.websocket.port) == (True, "0.0.0.0", 10000)
    assert (hub.quic.enable, hub.quic.address, hub.quic.port) == (False, "0.0.0.0", 10001)
    assert hub.quic.max_incoming_streams == 10000
    assert (hub.https.enable, hub.https.address, hub.https.port) == (True, "0.0.0.0", 10002)
    assert (hub.unixsocket.enable, hub.unixsocket.address) == (True, "unix:///var/lib/kubeedge/kubeedge.sock")
    assert hub.keepalive_interval == 30
    assert hub.write_timeout == 30
    assert hub.node_limit == 500
    assert hub.token_refresh_duration == 12
    assert hub.edge_cert_signing_duration == 365
    assert hub.tls_ca_file == "/etc/kubeedge/ca/rootCA.crt"
    assert hub.tls_ca_key_file == "/etc/kubeedge/ca/rootCA.key"
    assert hub.tls_cert_file == "/etc/kubeedge/certs/server.crt"
    assert hub.tls_private_key_file == "/etc/kubeedge/certs/server.key"
    assert hub.advertise_address == []
    assert hub.dns_names == []
    auth = hub.authorization
    assert (auth.enable, auth.debug) == (False, True)
    assert auth.modes == [AuthorizationMode(node=NodeAuthorization(enable=True))]


def test_other_module_defaults_match_kubeedge():
    cfg = default_cloudcore()
    assert cfg.common_config.monitor_server.bind_address == "127.0.0.1:9091"
    assert cfg.common_config.monitor_server.enable_profiling is False
    assert cfg.common_config.tunnel_port == 10350
    kube = cfg.kube_api_config
    assert (kube.kube_config, kube.master) == ("", "")
    assert kube.content_type == "application/vnd.kubernetes.protobuf"
    assert (kube.qps, kube.burst) == (5 * 500, 10 * 500)
    m = cfg.modules
    router, stream = m.router, m.cloud_stream
    assert (router.enable, router.address, router.port, router.rest_timeout) == (False, "0.0.0.0", 9443, 60)
    assert (stream.enable, stream.stream_port, stream.tunnel_port) == (False, 10003, 10004)
    assert m.cloud_stream.tls_stream_ca_file == "/etc/kubeedge/ca/streamCA.crt"
    assert m.edge_controller.enable is True
    assert m.edge_controller.node_update_frequency == 10
    assert m.device_controller.enable is True
    assert m.sync_controller.enable is True
    assert m.dynamic_controller.enable is False
    assert m.task_manager.enable is False
    assert (m.iptables_manager.enable, m.iptables_manager.mode) == (True, "internal")


def test_edgecontroller_sizes_scale_with_node_limit_as_in_kubeedge():
    ec = default_cloudcore().modules.edge_controller
    assert ec.buffer.patch_node == 1024 + 500 // 2
    assert ec.buffer.query_node == 1024 + 500
    assert ec.buffer.create_lease == 1024 + 500
    assert ec.buffer.update_pod_status == 1024
    assert ec.buffer.pod_event == 1
    assert ec.load.query_node_workers == 500
    assert ec.load.patch_node_workers == 100 + 500 // 50
    assert ec.load.create_lease_workers == 500
    assert ec.load.query_config_map_workers == 100
    assert ec.load.update_pod_status_workers == 1


def test_kedge_additions():
    cfg = default_cloudcore()
    assert cfg.data_dir == "/var/lib/kedge"
    api = cfg.embedded_api_server
    assert (api.enable, api.address, api.port) == (True, "127.0.0.1", 6443)
    assert cfg.uses_embedded_api_server is True
    cfg.kube_api_config.kube_config = "/root/.kube/config"
    assert cfg.uses_embedded_api_server is False


@pytest.mark.parametrize(
    ("cls", "attr", "key"),
    [
        (CloudCoreConfig, "kube_api_config", "kubeAPIConfig"),
        (CloudCoreConfig, "embedded_api_server", "embeddedAPIServer"),
        (CloudCoreConfig, "data_dir", "dataDir"),
        (CloudCoreConfig, "feature_gates", "featureGates"),
        (CloudHub, "tls_ca_file", "tlsCAFile"),
        (CloudHub, "tls_ca_key_file", "tlsCAKeyFile"),
        (CloudHub, "unixsocket", "unixsocket"),
        (CloudHub, "dns_names", "dnsNames"),
        (EdgeControllerLoad, "update_rule_status_workers", "UpdateRuleStatusWorkers"),
        (EdgeControllerLoad, "create_pod_works", "CreatePodWorks"),
    ],
)
def test_key_names_are_kubeedges(cls, attr, key):
    names = {f.name: f.encode_name for f in msgspec.structs.fields(cls)}
    assert names[attr] == key


def test_defaults_validate():
    default_cloudcore().validate()


def test_validate_rechecks_constraints_after_assignment():
    cfg = default_cloudcore()
    cfg.modules.cloud_hub.websocket.port = 0
    with pytest.raises(ConfigError) as info:
        cfg.validate(source="cc.yaml")
    assert info.value.path == "modules.cloudHub.websocket.port"
    assert str(info.value).startswith("cc.yaml: modules.cloudHub.websocket.port: Expected int >= 1")


def test_no_kubernetes_api_is_an_error():
    cfg = default_cloudcore()
    cfg.embedded_api_server.enable = False
    with pytest.raises(ConfigError, match=r"kubeAPIConfig\.kubeConfig: empty while embeddedAPIServer"):
        cfg.validate()
    cfg.kube_api_config.kube_config = "/etc/kubeconfig"
    cfg.validate()


def test_port_clash_between_listeners():
    cfg = default_cloudcore()
    cfg.modules.router.enable = True
    cfg.modules.router.port = 10002
    with pytest.raises(
        ConfigError, match=r"modules\.router\.port: port 10002 is also used by modules\.cloudHub\.https"
    ):
        cfg.validate()


def test_same_port_on_disjoint_addresses_is_fine():
    cfg = default_cloudcore()
    cfg.modules.cloud_hub.websocket.address = "127.0.0.1"
    cfg.modules.cloud_hub.https.address = "127.0.0.2"
    cfg.modules.cloud_hub.https.port = 10000
    cfg.validate()


def test_disabled_listeners_do_not_clash():
    cfg = default_cloudcore()
    cfg.modules.router.port = 10000  # router is off by default
    cfg.validate()


def test_monitor_bind_address_must_be_ip_port():
    cfg = default_cloudcore()
    cfg.common_config.monitor_server.bind_address = "localhost"
    with pytest.raises(ConfigError, match=r"commonConfig\.monitorServer\.bindAddress: must be IP:port"):
        cfg.validate()


def test_listener_address_must_be_ip():
    cfg = default_cloudcore()
    cfg.modules.cloud_hub.websocket.address = "example.com"
    with pytest.raises(ConfigError, match=r"modules\.cloudHub\.websocket\.address: must be an IP address"):
        cfg.validate()


def test_unixsocket_needs_scheme():
    cfg = default_cloudcore()
    cfg.modules.cloud_hub.unixsocket.address = "/var/lib/kubeedge/kubeedge.sock"
    with pytest.raises(ConfigError, match=r"modules\.cloudHub\.unixsocket\.address: must start with unix://"):
        cfg.validate()


def test_all_problems_are_reported_together():
    cfg = default_cloudcore()
    cfg.common_config.monitor_server.bind_address = "nope"
    cfg.modules.cloud_hub.https.address = "nope"
    with pytest.raises(ConfigError) as info:
        cfg.validate(source="cc.yaml")
    paths = [path for path, _ in info.value.problems]
    assert paths == ["commonConfig.monitorServer.bindAddress", "modules.cloudHub.https.address"]
    assert len(str(info.value).splitlines()) == 2
