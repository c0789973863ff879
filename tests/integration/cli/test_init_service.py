"""`kedge init`, `--minconfig` and the systemd units: minimal configs load to the defaults, units render
with this kedge and the config path (and pass `systemd-analyze verify` where it exists), and a cloudcore
started on an init'ed directory keeps init's CA, serves init's token and joins an edge with it."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from kedge import config
from kedge.cli import service
from kedge.cli.main import main
from tests.e2e.procs import READY, Proc, free_port, kedge

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit_settings(text: str) -> dict[str, str]:
    """key -> value of a unit file (each key appears once in kedge's units)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            assert key not in out, "%s set twice" % key
            out[key] = value
    return out


# -- --minconfig -------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["cloudcore", "edgecore"])
def test_minconfig_loads_to_the_defaults(which: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([which, "--minconfig"]) == 0
    minimal = capsys.readouterr().out
    assert main([which, "--defaultconfig"]) == 0
    full = capsys.readouterr().out
    assert len(minimal.splitlines()) * 2 < len(full.splitlines())

    load = config.load_cloudcore if which == "cloudcore" else config.load_edgecore
    default = config.default_cloudcore() if which == "cloudcore" else config.default_edgecore()
    loaded, warnings = load(minimal)
    assert warnings == []
    assert loaded == default


def test_minconfig_edited_keeps_the_defaults_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cloudcore", "--minconfig"]) == 0
    raw = yaml.safe_load(capsys.readouterr().out)
    raw["modules"]["cloudHub"]["websocket"]["port"] = 12000
    raw["modules"]["cloudHub"]["advertiseAddress"] = ["192.0.2.7"]
    loaded, _ = config.load_cloudcore(yaml.safe_dump(raw))
    expected = config.default_cloudcore()
    expected.modules.cloud_hub.websocket.port = 12000
    expected.modules.cloud_hub.advertise_address = ["192.0.2.7"]
    assert loaded == expected

    assert main(["edgecore", "--minconfig"]) == 0
    raw = yaml.safe_load(capsys.readouterr().out)
    raw["modules"]["edgeHub"]["websocket"]["server"] = "192.0.2.7:10000"
    loaded, _ = config.load_edgecore(yaml.safe_dump(raw))
    expected = config.default_edgecore()
    expected.modules.edge_hub.websocket.server = "192.0.2.7:10000"
    assert loaded == expected


# -- systemd units -----------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["cloudcore", "edgecore"])
def test_unit_runs_this_kedge_with_the_config(unit: str, tmp_path: Path) -> None:
    units = tmp_path / "units"
    cfg = tmp_path / ("%s.yaml" % unit)
    path = service.install(unit, cfg, units, start=False)
    assert path == units / ("%s.service" % unit)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in units.iterdir()) == [path.name]  # no temporary file left behind

    settings = unit_settings(path.read_text())
    exe, *argv = settings["ExecStart"].split(" ")
    assert os.path.isabs(exe) and os.access(exe, os.X_OK), exe
    assert argv[-3:] == [unit, "--config", str(cfg)]
    assert settings["Type"] == "simple"
    assert settings["Restart"] == "always"
    assert settings["RestartSec"] == "5s"
    assert settings["KillSignal"] == "SIGTERM"
    if unit == "cloudcore":
        assert settings["LimitNOFILE"] == "1048576"
        assert settings["KillMode"] == "mixed"
    else:  # the process runtime's pods live in edgecore's cgroup and outlive a restart
        assert settings["KillMode"] == "process"

    # the command the unit runs is this kedge
    version = subprocess.run([exe, *argv[:-3], "version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("kedge ")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["cloudcore", "edgecore"])
def test_unit_passes_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    path = service.install(unit, tmp_path / "some dir" / "50%.yaml", tmp_path, start=False)
    done = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert path.name not in done.stderr, done.stderr  # no warnings about our unit either


def test_exec_start_quotes_what_systemd_would_expand() -> None:
    assert service._quote("/a/b.yaml") == "/a/b.yaml"
    assert service._quote("/a b/50%.yaml") == '"/a b/50%%.yaml"'
    assert service._quote("/$HOME/x") == "/$$HOME/x"
    assert service._quote('a"b\\c') == '"a\\"b\\\\c"'


def test_install_runs_systemctl_or_prints_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "systemctl.log"
    fake = tmp_path / "systemctl"
    fake.write_text('#!/bin/sh\necho "$@" >> %s\n' % log)
    fake.chmod(0o755)
    monkeypatch.setattr(service.shutil, "which", lambda name: str(fake) if name == "systemctl" else None)
    monkeypatch.setattr(service, "systemd_running", lambda: True)
    service.install("edgecore", tmp_path / "edgecore.yaml", tmp_path / "units", start=True)
    assert log.read_text().splitlines() == ["daemon-reload", "enable --now edgecore"]
    assert "enabled and started edgecore" in capsys.readouterr().out

    fake.write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    with pytest.raises(service.ServiceError, match=r"systemctl daemon-reload.*Failed to connect to bus"):
        service.install("edgecore", tmp_path / "edgecore.yaml", tmp_path / "units", start=True)

    monkeypatch.setattr(service.shutil, "which", lambda name: None)
    service.install("edgecore", tmp_path / "edgecore.yaml", tmp_path / "units", start=True)
    out = capsys.readouterr().out
    assert "systemctl not found" in out
    assert "systemctl daemon-reload && systemctl enable --now edgecore" in out


def test_unwritable_systemd_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(
        ["init", "--data-dir", str(tmp_path / "cloud"), "--install-service", "--systemd-dir", str(blocker)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write %s/cloudcore.service" % blocker)
    assert "--systemd-dir" in err


# -- kedge init --------------------------------------------------------------------------------------


def test_init_refuses_an_existing_config_and_bad_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "cloud"
    assert main(["init", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    written = data / "cloudcore.yaml"
    assert "wrote %s" % written in out
    assert "kedge cloudcore --config %s" % written in out
    assert "kedge gettoken --data-dir %s" % data in out
    ca = (data / "cloudhub" / "pki" / "rootCA.crt").read_bytes()

    assert main(["init", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: %s exists" % written) and "--force" in err

    assert main(["init", "--data-dir", str(data), "--force", "--dns-names", "cloud.example"]) == 0
    assert "kept CA" in capsys.readouterr().out
    assert (data / "cloudhub" / "pki" / "rootCA.crt").read_bytes() == ca  # --force never replaces the CA
    cfg, _ = config.load_cloudcore(written)
    assert cfg.modules.cloud_hub.dns_names == ["cloud.example"]

    assert main(["init", "--data-dir", str(tmp_path / "x"), "--advertise-address", "10.0.0.1,10.0.0.x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --advertise-address '10.0.0.x' is not an IP address")
    assert not (tmp_path / "x").exists()


def _free_ports(cfg: dict) -> dict:
    """Point every listener of an init'ed cloudcore.yaml at free loopback ports."""
    cfg["embeddedAPIServer"]["port"] = free_port()
    cfg["commonConfig"]["monitorServer"]["bindAddress"] = "127.0.0.1:%d" % free_port()
    hub = cfg["modules"]["cloudHub"]
    for lane, kind in (("websocket", socket.SOCK_STREAM), ("https", socket.SOCK_STREAM)):
        hub[lane]["address"] = "127.0.0.1"
        hub[lane]["port"] = free_port(kind)
    hub["unixsocket"]["enable"] = False
    return cfg


def test_cloudcore_starts_on_an_initialised_dir_and_joins_an_edge(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    units = tmp_path / "units"
    init = kedge(
        "init", "--data-dir", str(data),
        "--advertise-address", "192.0.2.10", "--dns-names", "cloud.example",
        "--install-service", "--systemd-dir", str(units), "--no-start",
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    config_file = data / "cloudcore.yaml"
    assert "wrote %s" % config_file in init.stdout
    cfg, _ = config.load_cloudcore(config_file)
    assert cfg.data_dir == str(data)
    assert cfg.modules.cloud_hub.advertise_address == ["192.0.2.10"]
    assert unit_settings((units / "cloudcore.service").read_text())["ExecStart"].endswith(
        "cloudcore --config %s" % config_file
    )
    pki_dir = data / "cloudhub" / "pki"
    before = {p.name: p.read_bytes() for p in pki_dir.iterdir()}
    assert sorted(before) == ["rootCA.crt", "rootCA.key", "server.crt", "server.key"]
    init_token = (data / "cloudhub" / "token").read_text().strip()

    raw = _free_ports(yaml.safe_load(config_file.read_text()))
    config_file.write_text(yaml.safe_dump(raw))
    hub = raw["modules"]["cloudHub"]

    # no --data-dir: the config's dataDir must lead cloudcore to init's files
    cloudcore = Proc(tmp_path / "cloudcore.log", "-v", "cloudcore", "--config", str(config_file))
    try:
        cloudcore.wait_for("cloudcore running", timeout=30)
        assert (data / READY).exists()
        after = {p.name: p.read_bytes() for p in pki_dir.iterdir()}
        assert after == before  # neither the CA nor the serving certificate was made again
        for made in ("issuing %s" % (pki_dir / "server.crt"), "created CA %s" % (pki_dir / "rootCA.crt")):
            assert made not in cloudcore.text()

        token = kedge("gettoken", "--data-dir", str(data))
        assert token.returncode == 0, token.stderr
        assert token.stdout.strip() == (data / "cloudhub" / "token").read_text().strip()

        edge = tmp_path / "edge"
        for node, use in (("edge-a", token.stdout.strip()), ("edge-b", init_token)):
            joined = kedge(
                "join",
                "--cloudcore-ipport", "127.0.0.1:%d" % hub["websocket"]["port"],
                "--certport", str(hub["https"]["port"]),
                "--token", use,
                "--edgenode-name", node,
                "--data-dir", str(edge / node),
                "--runtime", "process",
                "--install-service", "--systemd-dir", str(units), "--no-start",
            )  # fmt: skip
            assert joined.returncode == 0, joined.stderr
            assert "node %s joined" % node in joined.stdout
            assert (edge / node / "ca" / "rootCA.crt").read_bytes() == before["rootCA.crt"]
            edge_unit = unit_settings((units / "edgecore.service").read_text())
            assert edge_unit["ExecStart"].endswith("edgecore --config %s" % (edge / node / "edgecore.yaml"))
    finally:
        assert cloudcore.stop() == 0, cloudcore.text()[-4000:]
    assert not (data / READY).exists()


def test_join_writes_no_unit_when_it_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    units = tmp_path / "units"
    code = main(
        [
            "join",
            "--cloudcore-ipport", "127.0.0.1:%d" % free_port(),
            "--certport", str(free_port()),
            "--token", "not-a-token",
            "--edgenode-name", "edge-x",
            "--data-dir", str(tmp_path / "edge"),
            "--install-service", "--systemd-dir", str(units), "--no-start",
        ]
    )  # fmt: skip
    assert code != 0
    assert capsys.readouterr().err.startswith("error: ")
    assert not units.exists()


def test_serving_names_cover_init_and_cloudcore_names() -> None:
    """serving_names works on a copy: the config kedge init writes keeps its advertiseAddress."""
    from kedge.cli.initcmd import serving_names

    hub = config.default_cloudcore().modules.cloud_hub
    hub.advertise_address = ["192.0.2.1"]
    hub.dns_names = ["cloud.example"]
    dns, ips = serving_names(hub)
    assert hub.advertise_address == ["192.0.2.1"]
    assert ips[:2] == ["192.0.2.1", "127.0.0.1"]
    assert dns[:2] == ["cloud.example", "localhost"]
