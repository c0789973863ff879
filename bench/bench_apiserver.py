"""The embedded API server end to end: a real `kedge apiserver` process over HTTPS, driven by aiohttp.

Figures (issue 3 targets): creates/s of small configmaps (>= 2,000/s), list of 10,000 pods (<= 200 ms),
one change seen by 1,000 concurrent watchers (p99 <= 100 ms), server memory with 100,000 objects.
Run: `bash ci/bench.sh -k apiserver` (or `make bench`).
"""

import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from tests.e2e.apiserver.conftest import Server, start_server

from bench.bench_apiserver_storage import pod
from kedge.aio import loops
from kedge.apiserver.storage import Storage

CREATES = 2000
CONCURRENCY = 32
WATCHERS = 1000


class Client:
    def __init__(self, server: Server) -> None:
        cfg = yaml.safe_load(server.kubeconfig.read_text())
        self.base = cfg["clusters"][0]["cluster"]["server"]
        self.token = cfg["users"][0]["user"]["token"]
        import base64

        self.ssl = ssl.create_default_context(
            cadata=base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        )
        self.headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}

    def session(self, limit: int = 100) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=limit),
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=None),
        )


def cpu_seconds(pid: int) -> float:
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("bench-apiserver") / "data")
    yield s
    s.stop()


def run(coro):
    """The load-generating client runs on uvloop too (asyncio's loop would make it the bottleneck)."""
    return loops.run(coro)


@pytest.mark.benchmark(group="apiserver creates (2,000 configmaps, 32 concurrent, HTTPS)")
def test_apiserver_creates(benchmark, server: Server) -> None:
    """Steady state: 32 kept-alive HTTPS connections (TLS handshakes happen before timing)."""
    client = Client(server)
    url = client.base + "/api/v1/namespaces/default/configmaps"
    results: list[tuple[float, float]] = []

    async def scenario() -> None:
        async with client.session(CONCURRENCY) as http:
            sem = asyncio.Semaphore(CONCURRENCY)

            async def one(prefix: str, i: int) -> None:
                body = json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "%s-%d" % (prefix, i)},
                        "data": {"k": "v"},
                    }
                )
                async with sem, http.post(url, data=body) as resp:
                    assert resp.status == 201, await resp.text()
                    await resp.read()

            await asyncio.gather(*(one("warm", i) for i in range(CONCURRENCY * 4)))
            for r in range(3):
                cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
                await asyncio.gather(*(one("r%d" % r, i) for i in range(CREATES)))
                results.append((time.perf_counter() - t0, cpu_seconds(server.proc.pid) - cpu0))

    run(scenario())
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    rate = CREATES / statistics.median(t for t, _ in results)
    server_us = statistics.median(c for _, c in results) / CREATES * 1e6
    benchmark.extra_info["creates_per_s"] = round(rate)
    benchmark.extra_info["server_cpu_us_per_create"] = round(server_us)
    print(
        "\ncreates: %.0f/s end to end (median of 3 x %d); server CPU %.0f us per create"
        % (rate, CREATES, server_us)
    )


@pytest.fixture(scope="module")
def pods_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose store was preloaded with 10,000 pods (written with the server's own storage code)."""
    data = tmp_path_factory.mktemp("bench-pods") / "data"
    (data / "apiserver").mkdir(parents=True)
    with Storage(str(data / "apiserver" / "apiserver.db")) as st, st.transaction():
        for i in range(10_000):
            p = pod(i)
            st.create("pods", "default", p["metadata"]["name"], p)
    s = start_server(data)
    yield s
    s.stop()


@pytest.mark.benchmark(group="apiserver list 10,000 pods (HTTPS, JSON)")
def test_apiserver_list_10k_pods(benchmark, pods_server: Server) -> None:
    client = Client(pods_server)
    url = client.base + "/api/v1/namespaces/default/pods"

    async def many(n: int) -> list[float]:
        times = []
        async with client.session(1) as http:
            for _ in range(n):
                t0 = time.perf_counter()
                async with http.get(url) as resp:
                    body = await resp.read()
                times.append(time.perf_counter() - t0)
        assert len(json.loads(body)["items"]) == 10_000
        return times

    times = run(many(10))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["list_ms_median"] = round(statistics.median(times) * 1000, 1)
    benchmark.extra_info["list_ms_max"] = round(max(times) * 1000, 1)
    print(
        "\nlist of 10,000 pods: median %.1f ms, max %.1f ms"
        % (statistics.median(times) * 1000, max(times) * 1000)
    )


@pytest.mark.benchmark(group="apiserver watch fan-out (1 change, 1,000 watchers)")
def test_apiserver_watch_fanout(benchmark, server: Server) -> None:
    client = Client(server)
    base = client.base + "/api/v1/namespaces/default/configmaps"

    async def scenario() -> list[float]:
        async with client.session(WATCHERS + 10) as http:
            async with http.post(
                base, data=json.dumps({"metadata": {"name": "fan"}, "data": {"v": "0"}})
            ) as resp:
                rv = (await resp.json())["metadata"]["resourceVersion"]
            started = asyncio.Event()
            ready = 0
            arrivals: list[list[float]] = [[] for _ in range(5)]

            async def watcher() -> None:
                nonlocal ready
                async with http.get(
                    base,
                    params={
                        "watch": "1",
                        "resourceVersion": rv,
                        "fieldSelector": "metadata.name=fan",
                        "timeoutSeconds": "60",
                    },
                ) as resp:
                    ready += 1
                    if ready == WATCHERS:
                        started.set()
                    n = 0
                    async for _line in resp.content:
                        arrivals[n].append(time.perf_counter())
                        n += 1
                        if n == len(arrivals):
                            return

            tasks = [asyncio.create_task(watcher()) for _ in range(WATCHERS)]
            await asyncio.wait_for(started.wait(), 60)
            await asyncio.sleep(0.5)
            latencies = []
            for i in range(len(arrivals)):
                t0 = time.perf_counter()
                async with http.patch(
                    base + "/fan",
                    data=json.dumps({"data": {"v": str(i + 1)}}),
                    headers={"Content-Type": "application/merge-patch+json"},
                ) as resp:
                    assert resp.status == 200
                while len(arrivals[i]) < WATCHERS:
                    await asyncio.sleep(0.005)
                latencies += [t - t0 for t in arrivals[i]]
                await asyncio.sleep(0.2)
            await asyncio.gather(*tasks)
            return latencies

    lat = sorted(run(scenario()))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
    benchmark.extra_info["fanout_p50_ms"] = round(p50, 1)
    benchmark.extra_info["fanout_p99_ms"] = round(p99, 1)
    print(
        "\nwatch fan-out to %d watchers: p50 %.1f ms, p99 %.1f ms (write to last byte received)"
        % (WATCHERS, p50, p99)
    )


@pytest.mark.benchmark(group="apiserver memory with 100,000 objects")
def test_apiserver_memory_100k(benchmark, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "apiserver").mkdir(parents=True)
    with Storage(str(data / "apiserver" / "apiserver.db")) as st, st.transaction():
        for i in range(100_000):
            name = "cm-%06d" % i
            st.create(
                "configmaps",
                "default",
                name,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": "default", "uid": "u%d" % i},
                    "data": {"k": "v" * 64},
                },
            )
    s = start_server(data)
    try:
        idle = rss_kib(s.proc.pid)
        client = Client(s)

        async def touch() -> int:
            async with (
                client.session(1) as http,
                http.get(client.base + "/api/v1/configmaps", params={"limit": "500"}) as resp,
            ):
                n = 0
                token = (await resp.json())["metadata"].get("continue")
                while token:
                    async with http.get(
                        client.base + "/api/v1/configmaps", params={"limit": "500", "continue": token}
                    ) as r2:
                        body = await r2.json()
                        n += len(body["items"])
                        token = body["metadata"].get("continue")
                return n

        run(touch())
        after = rss_kib(s.proc.pid)
    finally:
        s.stop()
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["rss_idle_mib"] = round(idle / 1024, 1)
    benchmark.extra_info["rss_after_full_paged_list_mib"] = round(after / 1024, 1)
    print(
        "\nserver RSS with 100,000 configmaps: %.1f MiB after start, %.1f MiB after a full paged list"
        % (idle / 1024, after / 1024)
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(
        subprocess.call(
            [sys.executable, "-m", "pytest", __file__, "--benchmark-enable", "-s", *sys.argv[1:]],
            env=os.environ,
        )
    )
