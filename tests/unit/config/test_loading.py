"""Loading and dumping cloudcore.yaml / edgecore.yaml: defaults, warnings, errors, deployment assets."""

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedge.config import (
    CloudCoreConfig,
    ConfigError,
    EdgeCoreConfig,
    default_cloudcore,
    default_edgecore,
    dump_yaml,
    load,
    load_cloudcore,
    load_edgecore,
)

REPO = Path(__file__).resolve().parents[3]


def _yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _key_paths(node: Any, prefix: str = "") -> list[str]:
    """Every key path in document order (list items by index): equal lists mean the same structure and
    key order, which a dict comparison alone would not check."""
    if isinstance(node, dict):
        out: list[str] = []
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out += [path, *_key_paths(value, path)]
        return out
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _key_paths(item, f"{prefix}[{i}]")]
    return []


def _header(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[: next(i for i, line in enumerate(lines) if not line.startswith("#"))])


# --- deployment assets ------------------------------------------------------------------------------

ASSETS = [("cloud/cloudcore.yaml", default_cloudcore), ("edge/edgecore.yaml", default_edgecore)]


@pytest.mark.parametrize(("asset", "default"), ASSETS)
def test_assets_equal_defaults(asset, default):
    # The assets are annotated: comments may sit anywhere, so compare what the YAML means, not its text.
    ours, builtin = yaml.safe_load((REPO / asset).read_text()), yaml.safe_load(dump_yaml(default()))
    assert ours == builtin
    assert _key_paths(ours) == _key_paths(builtin), "same keys in the same order as --defaultconfig"


@pytest.mark.parametrize("asset", [a for a, _ in ASSETS])
def test_asset_header_says_values_are_the_defaults(asset):
    which = asset.split("/")[1].removesuffix(".yaml")
    header = " ".join(_header((REPO / asset).read_text()).replace("#", " ").split())
    assert f"exactly what `kedge {which} --defaultconfig` prints" in header
    assert "comments explain them" in header
    assert "regenerate" not in header, "annotated by hand: regenerating would lose the comments"


@pytest.mark.parametrize("asset", [a for a, _ in ASSETS])
def test_asset_comments_fit_the_line_length(asset):
    long = [n for n, line in enumerate((REPO / asset).read_text().splitlines(), 1) if len(line) > 110]
    assert long == [], f"{asset}: lines over 110 characters: {long}"


def test_assets_load_cleanly():
    cfg, warnings = load_cloudcore(REPO / "cloud/cloudcore.yaml")
    assert (cfg, warnings) == (default_cloudcore(), [])
    cfg, warnings = load_edgecore(REPO / "edge/edgecore.yaml")
    assert (cfg, warnings) == (default_edgecore(), [])


# --- round trips and defaults -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [CloudCoreConfig, EdgeCoreConfig])
def test_default_round_trip(cls):
    cfg = cls()
    loaded, warnings = load(cls, dump_yaml(cfg), source="x.yaml")
    assert loaded == cfg
    assert warnings == []


def test_customised_round_trip():
    cfg = default_edgecore()
    hub = cfg.modules.edge_hub
    hub.websocket.enable, hub.quic.enable = False, True
    hub.quic.server = "[fd00::1]:10001"
    hub.http_server = "https://[fd00::1]:10002"
    hub.token = "abcd.efgh"
    cfg.modules.edged.node_labels = {"zone": "a", "kedge.io/rack": "7"}
    cfg.modules.edged.runtime = "process"
    cfg.modules.edged.tailored_kubelet_config.cluster_dns = ["10.96.0.10"]
    cfg.modules.edged.tailored_kubelet_config.max_parallel_image_pulls = 3
    cfg.feature_gates = {"requireAuthorization": True}
    loaded, warnings = load_edgecore(dump_yaml(cfg).encode())
    assert loaded == cfg
    assert warnings == []


def test_dump_key_order_is_kubeedges():
    doc = yaml.safe_load(dump_yaml(default_cloudcore()))
    assert list(doc)[:4] == ["apiVersion", "kind", "commonConfig", "kubeAPIConfig"]
    assert list(doc["modules"]["cloudHub"])[:3] == ["enable", "keepaliveInterval", "nodeLimit"]
    doc = yaml.safe_load(dump_yaml(default_edgecore()))
    # KubeEdge's keys in KubeEdge's order, then kedge's own
    kubeedge = ["apiVersion", "kind", "database", "modules", "featureGates", "edgecoreVersion"]
    assert list(doc) == [*kubeedge, "monitorServer"]


def test_dump_leaves_out_unset_optional_keys():
    text = dump_yaml(default_edgecore())
    assert "null" not in text
    assert "maxParallelImagePulls" not in text


def test_partial_yaml_fills_defaults():
    cfg, warnings = load_cloudcore(
        _yaml(
            """
            modules:
              cloudHub:
                advertiseAddress: [192.168.1.10]
                websocket:
                  port: 20000
            """
        )
    )
    assert warnings == []
    hub = cfg.modules.cloud_hub
    assert hub.advertise_address == ["192.168.1.10"]
    assert hub.websocket.port == 20000
    assert (hub.websocket.enable, hub.websocket.address) == (True, "0.0.0.0")
    assert hub.https.port == 10002
    assert cfg.modules.router.port == 9443
    assert cfg.api_version == "cloudcore.config.kubeedge.io/v1alpha1"


def test_edgecore_partial_yaml():
    cfg, warnings = load_edgecore(
        _yaml(
            """
            apiVersion: edgecore.config.kubeedge.io/v1alpha2
            kind: EdgeCore
            modules:
              edgeHub:
                websocket:
                  server: 10.0.0.5:10000
                httpServer: https://10.0.0.5:10002
                token: tok
              edged:
                hostnameOverride: edge-1
                runtime: process
                tailoredKubeletConfig:
                  clusterDNS: [169.254.96.16]
            """
        )
    )
    assert warnings == []
    assert cfg.hub_server == "10.0.0.5:10000"
    assert cfg.modules.edge_hub.heartbeat == 15
    assert cfg.modules.edged.runtime == "process"
    assert cfg.modules.edged.tailored_kubelet_config.cluster_dns == ["169.254.96.16"]
    assert cfg.modules.edged.tailored_kubelet_config.max_pods == 110


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n"])
def test_empty_document_gives_defaults(text):
    assert load(EdgeCoreConfig, text, source="e.yaml") == (default_edgecore(), [])


def test_null_value_means_default():
    cfg, warnings = load_cloudcore("modules:\n  cloudHub:\n    websocket:\n    token:\n  router:\n")
    assert cfg.modules.cloud_hub.websocket == default_cloudcore().modules.cloud_hub.websocket
    assert warnings == ["modules.cloudHub.token: unknown field"]


def test_kubeedge_helm_cloudcore_yaml_loads():
    # Shape of the cloudcore.yaml that KubeEdge's Helm chart renders (note its v1alpha2 apiVersion).
    text = _yaml(
        """
        apiVersion: cloudcore.config.kubeedge.io/v1alpha2
        kind: CloudCore
        featureGates:
          requireAuthorization: false
        kubeAPIConfig:
          kubeConfig: ""
          master: ""
        modules:
          cloudHub:
            advertiseAddress:
            - 192.168.0.2
            dnsNames:
            - cloudcore.example.com
            nodeLimit: 1000
            tlsCAFile: /etc/kubeedge/ca/rootCA.crt
            tlsCertFile: /etc/kubeedge/certs/edge.crt
            tlsPrivateKeyFile: /etc/kubeedge/certs/edge.key
            unixsocket:
              address: unix:///var/lib/kubeedge/kubeedge.sock
              enable: true
            websocket:
              address: 0.0.0.0
              enable: true
              port: 10000
            quic:
              address: 0.0.0.0
              enable: false
              maxIncomingStreams: 10000
              port: 10001
            https:
              address: 0.0.0.0
              enable: true
              port: 10002
          cloudStream:
            enable: true
            streamPort: 10003
            tunnelPort: 10004
          dynamicController:
            enable: false
          router:
            enable: false
          iptablesManager:
            enable: true
            mode: internal
          taskManager:
            enable: false
        """
    )
    cfg, warnings = load_cloudcore(text)
    assert warnings == []
    assert cfg.api_version == "cloudcore.config.kubeedge.io/v1alpha2"
    assert cfg.modules.cloud_hub.node_limit == 1000
    assert cfg.modules.cloud_hub.dns_names == ["cloudcore.example.com"]
    assert cfg.feature_gates == {"requireAuthorization": False}


# --- warnings -----------------------------------------------------------------------------------------


def test_unknown_field_is_a_warning_with_its_path():
    cfg, warnings = load_cloudcore(
        _yaml(
            """
            modules:
              cloudHub:
                websockte:
                  port: 1234
                nodeLimit: 10
            extra: 1
            """
        ),
        source="cloudcore.yaml",
    )
    assert warnings == [
        "modules.cloudHub.websockte: unknown field (did you mean websocket?)",
        "extra: unknown field",
    ]
    assert cfg.modules.cloud_hub.node_limit == 10
    assert cfg.modules.cloud_hub.websocket.port == 10000


def test_unknown_field_inside_list_items():
    _, warnings = load_cloudcore(
        _yaml(
            """
            modules:
              cloudHub:
                authorization:
                  modes:
                  - node: {enable: true, strict: true}
            """
        )
    )
    assert warnings == ["modules.cloudHub.authorization.modes[0].node.strict: unknown field"]


def test_free_form_maps_are_not_checked_for_unknown_keys():
    cfg, warnings = load_edgecore(
        _yaml(
            """
            modules:
              edged:
                nodeLabels: {anything.example.com/goes: "yes"}
                tailoredKubeletConfig:
                  evictionHard: {memory.available: 5%}
                  logging: {format: json, verbosity: 4}
            """
        )
    )
    assert warnings == []
    assert cfg.modules.edged.node_labels == {"anything.example.com/goes": "yes"}
    assert cfg.modules.edged.tailored_kubelet_config.logging == {"format": "json", "verbosity": 4}


def test_key_differing_only_in_case_is_accepted_like_go():
    cfg, warnings = load_cloudcore("modules:\n  cloudHub:\n    tlsCaFile: /x/ca.crt\n")
    assert cfg.modules.cloud_hub.tls_ca_file == "/x/ca.crt"
    assert warnings == ["modules.cloudHub.tlsCaFile: read as tlsCAFile (names differ only in case)"]


def test_non_string_key_is_a_warning():
    cfg, warnings = load_edgecore("modules:\n  1: x\n")
    assert cfg == default_edgecore()
    assert warnings == ["modules.1: unknown field (keys must be strings)"]


# --- errors -------------------------------------------------------------------------------------------


def _error(cls, text: str, source: str = "cloudcore.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(cls, text, source=source)
    return info.value


def test_port_out_of_range():
    err = _error(CloudCoreConfig, "modules:\n  cloudHub:\n    websocket:\n      port: 70000\n")
    assert str(err) == "cloudcore.yaml: modules.cloudHub.websocket.port: Expected int <= 65535, got 70000"
    assert err.path == "modules.cloudHub.websocket.port"
    assert err.source == "cloudcore.yaml"


def test_port_zero_rejected():
    err = _error(CloudCoreConfig, "modules:\n  router:\n    port: 0\n")
    assert "modules.router.port: Expected int >= 1, got 0" in str(err)


def test_wrong_type():
    err = _error(EdgeCoreConfig, "modules:\n  edgeHub:\n    heartbeat: often\n", source="edgecore.yaml")
    assert str(err) == "edgecore.yaml: modules.edgeHub.heartbeat: Expected int, got str"


def test_bool_is_not_an_int():
    err = _error(EdgeCoreConfig, "modules:\n  serviceBus:\n    port: true\n")
    assert "modules.serviceBus.port: Expected int, got bool" in str(err)


def test_non_positive_interval():
    err = _error(CloudCoreConfig, "modules:\n  cloudHub:\n    keepaliveInterval: 0\n")
    assert "modules.cloudHub.keepaliveInterval: Expected int >= 1, got 0" in str(err)


def test_bad_enum_lists_choices():
    err = _error(EdgeCoreConfig, "modules:\n  eventBus:\n    mqttMode: 3\n")
    assert "modules.eventBus.mqttMode: Invalid enum value 3 (expected one of 0, 1, 2)" in str(err)
    err = _error(EdgeCoreConfig, "modules:\n  edged:\n    runtime: docker\n")
    want = "modules.edged.runtime: Invalid enum value 'docker' (expected one of 'auto', 'cri', 'process')"
    assert want in str(err)
    err = _error(
        EdgeCoreConfig, "modules:\n  edged:\n    tailoredKubeletConfig:\n      cgroupDriver: cgroupv2\n"
    )
    assert "modules.edged.tailoredKubeletConfig.cgroupDriver: Invalid enum value 'cgroupv2'" in str(err)


def test_bad_duration_is_explained():
    err = _error(
        EdgeCoreConfig, "modules:\n  edged:\n    tailoredKubeletConfig:\n      syncFrequency: 1 minute\n"
    )
    assert str(err) == (
        "cloudcore.yaml: modules.edged.tailoredKubeletConfig.syncFrequency: "
        'Expected a Go duration such as "1m0s" or "10s", got \'1 minute\''
    )


def test_error_inside_a_list():
    err = _error(CloudCoreConfig, "modules:\n  cloudHub:\n    advertiseAddress: [1.2.3.4, 5]\n")
    assert "modules.cloudHub.advertiseAddress[1]: Expected str, got int" in str(err)


def test_section_of_wrong_shape():
    err = _error(CloudCoreConfig, "modules:\n  cloudHub: on\n")
    assert "modules.cloudHub: Expected object, got bool" in str(err)


def test_cross_field_rule_reported_with_source():
    err = _error(EdgeCoreConfig, "modules:\n  edgeHub:\n    quic: {enable: true}\n", source="edgecore.yaml")
    assert str(err) == (
        "edgecore.yaml: modules.edgeHub: exactly one of websocket.enable and quic.enable must be true"
    )


def test_yaml_syntax_error_names_line_and_column():
    err = _error(CloudCoreConfig, "modules:\n  cloudHub:\n    websocket: [port: 1\n")
    assert str(err).startswith("cloudcore.yaml: line 4, column 1: YAML syntax error: ")
    err = _error(CloudCoreConfig, "modules:\n\tcloudHub: {}\n")
    assert str(err).startswith("cloudcore.yaml: line 2, column 1: YAML syntax error: ")


def test_wrong_api_version():
    err = _error(
        EdgeCoreConfig, "apiVersion: edgecore.config.kubeedge.io/v1alpha1\nkind: EdgeCore\n", "e.yaml"
    )
    assert str(err) == (
        "e.yaml: apiVersion: expected edgecore.config.kubeedge.io/v1alpha2, "
        "got 'edgecore.config.kubeedge.io/v1alpha1'"
    )
    err = _error(CloudCoreConfig, "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n")
    assert "apiVersion: expected cloudcore.config.kubeedge.io/v1alpha1" in str(err)


def test_wrong_kind():
    err = _error(CloudCoreConfig, "kind: EdgeCore\n")
    assert str(err) == "cloudcore.yaml: kind: expected CloudCore, got 'EdgeCore'"


@pytest.mark.parametrize(
    ("text", "what"), [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "int")]
)
def test_non_mapping_document(text, what):
    err = _error(CloudCoreConfig, text)
    assert str(err) == f"cloudcore.yaml: expected a mapping at the top level, got {what}"


# --- sources --------------------------------------------------------------------------------------------


def test_load_from_path_names_the_file(tmp_path):
    path = tmp_path / "cloudcore.yaml"
    path.write_text("modules:\n  router:\n    port: 99999\n")
    for arg in (path, str(path)):
        with pytest.raises(ConfigError) as info:
            load_cloudcore(arg)
        assert str(info.value).startswith(f"{path}: modules.router.port: ")


def test_load_from_path_ok(tmp_path):
    path = tmp_path / "edgecore.yaml"
    path.write_text(dump_yaml(default_edgecore()))
    assert load_edgecore(str(path)) == (default_edgecore(), [])


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read config file"):
        load_edgecore(path)


def test_text_source_defaults_and_override():
    with pytest.raises(ConfigError, match=r"^edgecore\.yaml: "):
        load_edgecore("- x\n")
    with pytest.raises(ConfigError, match=r"^inline: "):
        load_edgecore(b"- x\n", source="inline")


def test_config_package_is_pure():
    code = (
        "import sys, kedge.config\n"
        "bad = [m for m in ('asyncio', 'socket', 'apsw', 'aiohttp', 'kubernetes_asyncio', 'amqtt') "
        "if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
