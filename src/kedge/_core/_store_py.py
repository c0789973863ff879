"""Pure-Python twin of the edge metadata index (see store.py for the contract)."""

from itertools import islice

__all__ = ["MetaIndex"]


class _Bucket:
    """Keys of one secondary-index bucket, with their sorted order cached until the set changes."""

    __slots__ = ("keys", "order")

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.order: list[str] | None = None  # sorted keys; None until the next query


def _prefix_of(key: str) -> str | None:
    """'<ns>/<type>' of a key with at least three segments, else None (not indexed by prefix)."""
    i = key.find("/")
    if i < 0:
        return None
    j = key.find("/", i + 1)
    if j < 0:
        return None
    return key[:j]


class MetaIndex:
    """Key → (type, value, rv) with a prefix index, a type index and a journal of dirty keys.

    Entries are stored as immutable (type, value, rv) tuples, so `get` hands out the stored tuple and
    the secondary indexes hold keys only (a value update touches neither index).
    """

    __slots__ = ("_by_prefix", "_by_type", "_data", "_journal")

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, bytes, int]] = {}
        self._by_prefix: dict[str, _Bucket] = {}
        self._by_type: dict[str, _Bucket] = {}
        # Insertion-ordered dict used as an ordered set: first-dirtied order, one slot per key.
        self._journal: dict[str, None] = {}

    # -- writes -----------------------------------------------------------------------------------

    def _store(self, key: str, type: str, value: bytes, rv: int) -> bool:
        data = self._data
        old = data.get(key)
        # The type bucket goes first: an unhashable type fails there before anything changed.
        if old is None:
            _bucket_add(self._by_type, type, key)
            prefix = _prefix_of(key)
            if prefix is not None:
                _bucket_add(self._by_prefix, prefix, key)
        else:
            if rv and old[2] > rv:
                return False
            if old[0] != type:
                _bucket_add(self._by_type, type, key)
                _bucket_discard(self._by_type, old[0], key)
        data[key] = (type, value, rv)
        return True

    def put(self, key: str, type: str, value: bytes, rv: int = 0) -> bool:
        if self._store(key, type, value, rv):
            self._journal.setdefault(key)
            return True
        return False

    def load(self, key: str, type: str, value: bytes, rv: int = 0) -> None:
        self._store(key, type, value, rv)

    def delete(self, key: str) -> bool:
        old = self._data.pop(key, None)
        if old is None:
            return False
        prefix = _prefix_of(key)
        if prefix is not None:
            _bucket_discard(self._by_prefix, prefix, key)
        _bucket_discard(self._by_type, old[0], key)
        self._journal.setdefault(key)
        return True

    # -- reads ------------------------------------------------------------------------------------

    def get(self, key: str) -> tuple[str, bytes, int] | None:
        return self._data.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> list[str]:
        return sorted(self._data)

    def query_prefix(self, prefix: str) -> list[tuple[str, str, bytes, int]]:
        if prefix.endswith("/"):
            prefix = prefix[:-1]
        if prefix.count("/") != 1:
            raise ValueError(f"query_prefix wants '<ns>/<type>', got {prefix!r}")
        return self._rows(self._by_prefix.get(prefix))

    def query_type(self, type: str) -> list[tuple[str, str, bytes, int]]:
        return self._rows(self._by_type.get(type))

    def _rows(self, bucket: _Bucket | None) -> list[tuple[str, str, bytes, int]]:
        if bucket is None:
            return []
        order = bucket.order
        if order is None:
            order = bucket.order = sorted(bucket.keys)
        data = self._data
        return [(k, *data[k]) for k in order]

    # -- dirty journal ----------------------------------------------------------------------------

    def dirty_count(self) -> int:
        return len(self._journal)

    def drain(self, max_n: int) -> list[tuple[str, str | None, bytes | None, int, bool]]:
        journal = self._journal
        taken = list(islice(journal, max_n)) if max_n > 0 else []
        if len(taken) == len(journal):
            # Clearing also drops the holes that deleting from the front leaves in a dict.
            journal.clear()
        else:
            for k in taken:
                del journal[k]
        data = self._data
        out = []
        for k in taken:
            e = data.get(k)
            out.append((k, None, None, 0, True) if e is None else (k, e[0], e[1], e[2], False))
        return out

    def mark_dirty(self, keys) -> None:
        journal = self._journal
        for k in keys:
            journal.setdefault(k)


def _bucket_add(index: dict[str, _Bucket], name: str, key: str) -> None:
    b = index.get(name)
    if b is None:
        b = index[name] = _Bucket()
    b.keys.add(key)
    b.order = None


def _bucket_discard(index: dict[str, _Bucket], name: str, key: str) -> None:
    b = index[name]
    b.keys.discard(key)
    if b.keys:
        b.order = None
    else:
        del index[name]
