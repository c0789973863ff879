"""`kedge mapper` as a process: --help, bad configs refused with one clear line, and the counter mapper
serving a device over mosquitto until SIGTERM, which stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kedge.mapper.counter import CounterDriver
from tests.integration.mapper.conftest import NODE, EdgePeer, Mosquitto, device, model

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def kedge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kedge", *args], capture_output=True, text=True, timeout=60, env=ENV
    )


def test_help() -> None:
    out = kedge("mapper", "counter", "--help")
    assert out.returncode == 0, out.stderr
    assert "--broker" in out.stdout and "--node" in out.stdout and "modbus" in out.stdout


@pytest.mark.parametrize(
    ("text", "args", "needle"),
    [
        ("node: [a, b]\n", (), "node must be a string"),
        ("node: n1\nbrokr: tcp://x:1\n", (), "unknown setting brokr"),
        ("node: n1\nbroker: http://x:1\n", (), "scheme must be one of"),
        ("node: n1\ntls: {ca: /nonexistent/ca.crt}\n", (), "tls.ca: no such file"),
        ("node: n1\n  bad: indent\n", (), "not valid YAML at line"),
        ("broker: tcp://127.0.0.1:1\n", (), "node is required"),
        ("node: n1\n", ("--broker", "tcp://host:99999"), "mapper.yaml: broker 'tcp://host:99999'"),
    ],
)
def test_bad_config_exits_with_one_clear_line(tmp_path: Path, text: str, args: tuple, needle: str) -> None:
    cfg = tmp_path / "mapper.yaml"
    cfg.write_text(text)
    out = kedge("mapper", "counter", "--config", str(cfg), *args)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert needle in lines[0]


def test_the_counter_mapper_stays_lean() -> None:
    """What `kedge mapper counter` loads: no pymodbus, no Kubernetes client, no aiohttp, no SQLite."""
    code = (
        "import sys, kedge.cli.main, kedge.mapper.app, kedge.mapper.runner, kedge.mapper.counter\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))"
        % (
            (
                "pymodbus",
                "aiohttp",
                "kubernetes_asyncio",
                "kubernetes",
                "apsw",
                "aioquic",
                "amqtt",
                "cryptography",
            ),
        )
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_missing_config_file(tmp_path: Path) -> None:
    out = kedge("mapper", "modbus", "--config", str(tmp_path / "absent.yaml"))
    assert out.returncode == 1
    assert "absent.yaml: cannot read" in out.stderr


@pytest.mark.system
async def test_counter_process_serves_until_sigterm(
    tmp_path: Path, mosquitto: Mosquitto, peer: EdgePeer
) -> None:
    props = [
        {
            "name": "status",
            "desired": {"value": "ON"},
            "collectCycle": 200_000_000,
            "reportCycle": 200_000_000,
        }
    ]
    await peer.add(
        model("counter-model", [{"name": "status", "type": "STRING", "accessMode": "ReadWrite"}]),
        device("counter", "counter-model", props, {"protocolName": CounterDriver.protocol}),
    )
    cfg = tmp_path / "mapper.yaml"
    cfg.write_text("node: %s\nbroker: tcp://127.0.0.1:1\n" % NODE)  # the flag overrides the broker
    log = tmp_path / "mapper.log"
    with open(log, "w") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kedge", "mapper", "counter", "--config", str(cfg),
            "--broker", mosquitto.url, "--log-level", "info",
            stdout=out, stderr=subprocess.STDOUT, env=ENV,
        )  # fmt: skip
    try:
        await peer.wait_for(
            lambda: [v for v in peer.reports("default/counter", "status") if int(v) >= 1],
            "the count rising",
            30,
        )
        assert peer.states("default/counter")[-1] == "online"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            rc = await proc.wait()
    text = log.read_text()
    assert rc == 0, text
    assert "kedge mapper counter stopped" in text
    assert "Traceback" not in text
