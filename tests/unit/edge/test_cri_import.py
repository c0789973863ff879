"""The CRI client stays off grpcio (+16-19 MB resident on the edge), and parses KubeEdge's endpoint form."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kedge.edge.edged.runtime.cri import CRIClient

_PROBE = """
import json, sys
import kedge.edge.edged.runtime.cri as cri
assert cri.pb.PodSandboxConfig and cri.pb.NODE == 2
names = [m for m in sys.modules if m == "grpc" or m.startswith(("grpc.", "grpclib", "cri_api"))]
print(json.dumps(names))
"""


def test_importing_the_cri_client_loads_grpclib_but_not_grpcio() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    modules = set(json.loads(out.stdout))
    assert "grpclib.client" in modules
    assert not {m for m in modules if m == "grpc" or m.startswith("grpc.")}
    assert not {m for m in modules if m.startswith("cri_api")}  # its __init__ would import grpcio


def test_endpoint_unix_url_gives_the_socket_path() -> None:
    client = CRIClient.from_endpoint("unix:///run/containerd/containerd.sock", timeout=5)
    assert (client.path, client.timeout) == ("/run/containerd/containerd.sock", 5)


@pytest.mark.parametrize(
    ("endpoint", "complaint"),
    [
        ("/run/containerd/containerd.sock", "no scheme"),
        ("tcp://127.0.0.1:10000", "scheme 'tcp' is not supported"),
        ("npipe:////./pipe/containerd", "scheme 'npipe' is not supported"),
        ("unix://run/containerd.sock", "must be absolute"),
        ("unix://", "must be absolute"),
    ],
)
def test_endpoint_other_forms_are_refused_clearly(endpoint: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        CRIClient.from_endpoint(endpoint)


def test_a_non_positive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        CRIClient("/run/containerd/containerd.sock", timeout=0)
