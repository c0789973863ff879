"""The `kedge` command: version, --defaultconfig, config checks, the demo (in-process via main())."""

import pytest

from kedge import __version__
from kedge._core import _compat
from kedge.cli.main import main


def test_version_reports_the_core(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kedge %s\n" % __version__)
    expected = "pure-python" if _compat.NO_EXTENSIONS else "compiled"
    assert "core: %s (" % expected in out
    assert "router=" in out and "topic=" in out


@pytest.mark.parametrize(
    ("which", "api"),
    [
        ("cloudcore", "apiVersion: cloudcore.config.kubeedge.io/v1alpha1"),
        ("edgecore", "apiVersion: edgecore.config.kubeedge.io/v1alpha2"),
    ],
)
def test_defaultconfig(which: str, api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([which, "--defaultconfig"]) == 0
    assert api in capsys.readouterr().out


def test_config_check(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "edgecore.yaml"
    good.write_text(
        "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
        "kind: EdgeCore\n"
        "modules:\n  edgeHub:\n    heartbeet: 3\n"
    )
    assert main(["edgecore", "--config", str(good), "--check"]) == 0
    captured = capsys.readouterr()
    assert "configuration is valid" in captured.out
    assert "heartbeet" in captured.err  # unknown field warned about, not fatal
    bad = tmp_path / "cloudcore.yaml"
    bad.write_text("modules:\n  cloudHub:\n    websocket:\n      port: 70000\n")
    assert main(["cloudcore", "--config", str(bad), "--check"]) == 1
    assert "modules.cloudHub.websocket.port" in capsys.readouterr().err
