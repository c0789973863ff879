"""Message ids are version-4 UUID strings, as KubeEdge's, unique, and not repeated by a forked child."""

from __future__ import annotations

import os
import uuid

from kedge.model.message import new_id


def test_ids_are_uuid4_strings() -> None:
    for _ in range(1000):
        text = new_id()
        u = uuid.UUID(text)
        assert (u.version, u.variant, str(u)) == (4, uuid.RFC_4122, text)


def test_ids_are_unique() -> None:
    assert len({new_id() for _ in range(100_000)}) == 100_000


def test_a_forked_child_draws_other_ids() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, to the parent
        os.write(w, new_id().encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 64).decode()
    os.waitpid(pid, 0)
    os.close(r)
    assert child != new_id()  # without the reseed both would draw the same next id
