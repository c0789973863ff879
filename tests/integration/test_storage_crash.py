"""kill -9 at random moments never leaves kedge.apiserver.storage inconsistent nor loses a committed write.

A child process writes in a tight loop (creates, updates, deletes, small transactions, compactions) and
reports each write to the parent through a pipe once its commit returned. The parent kills it with
SIGKILL after a random number of reports, reopens the database and checks it, then starts the next child
on the same file.
"""

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import apsw
import msgspec

from kedge.apiserver.errors import ApiError
from kedge.apiserver.storage import Storage

ROUNDS = 10
KEEP_REVISIONS = 100  # compactions in the child keep this many; more than a round's unreported tail
NAMES = [(ns, "obj-%02d" % i) for ns in ("a", "b") for i in range(20)]


def _child(path: str, seed: int, fd: int) -> None:
    """Write forever; report `rev type ns name` per committed write."""
    rng = random.Random(seed)
    store = Storage(path)
    clock = float(store.revision)  # a logical clock for event timestamps and compaction
    while True:
        clock += 1
        roll = rng.random()
        if roll < 0.05:
            store.compact(now=clock, keep_revisions=KEEP_REVISIONS, min_age=0)
            continue
        batch = 1 if roll < 0.85 else rng.randint(2, 4)
        committed: list[tuple[int, str, str, str]] = []
        with store.transaction():
            for _ in range(batch):
                ns, name = rng.choice(NAMES)
                # From one page to several; `n` makes every update a change (an unchanged one writes nothing).
                data = {"v": "x" * rng.randint(1, 3000), "n": str(store.revision)}
                body = {"metadata": {"name": name, "namespace": ns}, "data": data}
                try:
                    if store.get("configmaps", ns, name) is None:
                        s, kind = store.create("configmaps", ns, name, body, now=clock), "ADDED"
                    elif rng.random() < 0.7:
                        s, kind = store.update("configmaps", ns, name, body, now=clock), "MODIFIED"
                    else:
                        s, kind = store.delete("configmaps", ns, name, now=clock), "DELETED"
                except ApiError as err:  # cannot happen: one writer, checked above
                    raise AssertionError("unexpected %r" % err) from err
                committed.append((s.rev, kind, ns, name))
        for rev, kind, ns, name in committed:
            os.write(fd, b"%d %s %s %s\n" % (rev, kind.encode(), ns.encode(), name.encode()))


def _run_and_kill(path: str, seed: int, reports: int) -> list[tuple[int, str, str, str]]:
    """Start a child, SIGKILL it after `reports` reported writes; every write it reported."""
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, __file__, path, str(seed), str(write_end)], pass_fds=(write_end,), close_fds=True
    )
    os.close(write_end)
    lines: list[bytes] = []
    try:
        with os.fdopen(read_end, "rb") as pipe:
            while len(lines) < reports:
                line = pipe.readline()
                assert line, "the writer died on its own (exit %s)" % child.poll()
                lines.append(line)
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait() == -signal.SIGKILL
            lines += pipe.readlines()  # reports already in the pipe when it died
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    out = []
    for line in lines:
        rev, kind, ns, name = line.decode().split()
        out.append((int(rev), kind, ns, name))
    return out


def _check(path: str, reported: list[tuple[int, str, str, str]]) -> list[tuple[int, str, str, str]]:
    """Assert the invariants; return the writes committed after the last report (the kill beat them)."""
    with Storage(path) as store:
        revision, compacted = store.revision, store.compacted
        conn = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READONLY)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            events = {
                rev: (kind, res, ns, name, prev, data)
                for rev, kind, res, ns, name, prev, data in conn.execute(
                    "SELECT rev, type, res, ns, name, prev_rev, data FROM events"
                )
            }
            objects = {(ns, name): rev for ns, name, rev in conn.execute("SELECT ns, name, rev FROM objects")}
        finally:
            conn.close()

    # The counter is the newest write; compaction never dropped it below what was written.
    assert revision == max([*events, compacted])
    # Every live object's bytes are its version's event row.
    for (ns, name), rev in objects.items():
        kind, res, ens, ename, _, _ = events[rev]
        assert (kind in ("ADDED", "MODIFIED"), res, ens, ename) == (True, "configmaps", ns, name)
    # Every event row carries its own revision; retained history links to the versions it replaced.
    for rev, (kind, _, ns, name, prev, data) in events.items():
        assert msgspec.json.decode(data)["metadata"]["resourceVersion"] == str(rev)
        if rev > compacted and kind != "ADDED":
            assert events[prev][2:4] == (ns, name)

    # No reported write is missing: each is in the history (unless compacted) and the state is the
    # replay of the reports plus at most the writes committed but not reported before the kill.
    last = max(rev for rev, *_ in reported)
    assert revision - last <= 4, "more unreported commits than one transaction: %d > %d" % (revision, last)
    state: dict[tuple[str, str], int] = {}
    for rev, kind, ns, name in sorted(reported):
        if rev > compacted:
            assert events[rev][0:4] == (kind, "configmaps", ns, name)
        if kind == "DELETED":
            del state[(ns, name)]
        else:
            state[(ns, name)] = rev
    unreported = [(rev, *events[rev][0:1], *events[rev][2:4]) for rev in range(last + 1, revision + 1)]
    for rev, kind, ns, name in unreported:
        if kind == "DELETED":
            del state[(ns, name)]
        else:
            state[(ns, name)] = rev
    assert state == objects
    return unreported


def test_kill_9_at_random_moments_keeps_the_store_consistent(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    rng = random.Random(20250101)
    reported: list[tuple[int, str, str, str]] = []
    for round_ in range(ROUNDS):
        reported += _run_and_kill(path, rng.randrange(1 << 30), rng.randint(50, 600))
        revisions = [r[0] for r in reported]
        assert revisions == sorted(set(revisions)), "revisions are unique and increasing"
        reported += _check(path, reported)
        with Storage(path) as store:
            assert store.revision >= reported[-1][0], "round %d lost committed writes" % round_


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
