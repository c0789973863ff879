"""MetaStore and Outbox on ':memory:' (the hollow nodes' default): no file, no lock, same behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedge.edge.edgehub.outbox import Outbox
from kedge.edge.metamanager.store import MEMORY, MetaStore, MetaStoreError


def test_memory_store_keeps_rows_and_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = MetaStore(MEMORY), MetaStore(MEMORY)  # private databases: no lock between them
    assert a.put("default/pod/p", "pod", b"{}", 3)
    assert not a.put("default/pod/p", "pod", b"{}", 2)
    assert a.commit() == 1
    assert a.get("default/pod/p") == ("pod", b"{}", 3)
    assert "default/pod/p" not in b
    a.close()
    a.close()
    b.close()
    with pytest.raises(MetaStoreError):
        a.commit()
    out = Outbox(MEMORY)
    out.close()
    assert list(tmp_path.iterdir()) == []
