"""kill -9 at random moments never leaves DeviceTwin's tables half-written.

A child rewrites 200 devices per generation g, each with 5 twins whose reported value and edge version
are g, in one `TwinStore.write`, and reports g through a pipe. After a kill the file must hold every
device with all 5 twins, all of one generation, and that generation at least the last reported one.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kedge.edge.devicetwin.store import DeviceRecord, TwinStore
from kedge.edge.devicetwin.twins import Twin, Value, Version

DEVICES = 200
TWINS = 5
ROUNDS = 8


def _records(g: int) -> list[DeviceRecord]:
    out = []
    for d in range(DEVICES):
        rec = DeviceRecord("ns/dev-%d" % d, "dev-%d" % d, state="online", last_online=str(g))
        for t in range(TWINS):
            rec.twins["p%d" % t] = Twin(
                type="int",
                actual=Value(str(g), g),
                actual_version=Version(0, g),
                expected_version=Version(g, 0),
            )
            rec.synced["p%d" % t] = g - 1
        out.append(rec)
    return out


def _child(path: str, fd: int) -> None:
    store = TwinStore(path)
    loaded = store.load()
    g = max((int(r.last_online) for r in loaded.values()), default=0)
    while True:
        g += 1
        store.write(_records(g))
        os.write(fd, b"%d\n" % g)


def _check(path: str, reported: int) -> int:
    store = TwinStore(path)
    try:
        loaded = store.load()
    finally:
        store.close()
    if reported == 0 and not loaded:
        return 0
    assert len(loaded) == DEVICES
    gens = set()
    for rec in loaded.values():
        assert len(rec.twins) == TWINS, rec
        values = {t.actual.value for t in rec.twins.values()} | {rec.last_online}
        versions = {t.actual_version.edge for t in rec.twins.values()} | {s + 1 for s in rec.synced.values()}
        assert len(values) == 1 and len(versions) == 1, rec
        gens.add(int(rec.last_online))
    assert len(gens) == 1, "devices of different generations: %s" % sorted(gens)
    g = gens.pop()
    assert g >= reported, "generation %d was reported committed, the file holds %d" % (reported, g)
    return g


def test_kill_minus_nine_leaves_whole_generations(tmp_path: Path) -> None:
    path = str(tmp_path / "edge.db")
    rng = random.Random(6)
    last = 0
    for _ in range(ROUNDS):
        read_end, write_end = os.pipe()
        child = subprocess.Popen(
            [sys.executable, __file__, path, str(write_end)], pass_fds=(write_end,), close_fds=True
        )
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            wanted = rng.randint(1, 4)
            lines = []
            while len(lines) < wanted:
                line = pipe.readline()
                assert line, "the writer died on its own (exit %s)" % child.poll()
                lines.append(line)
            time.sleep(rng.uniform(0, 0.05))
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait() == -signal.SIGKILL
            lines += pipe.readlines()
        reported = max(int(x) for x in lines)
        last = _check(path, reported)
    assert last >= ROUNDS


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
