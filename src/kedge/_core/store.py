"""Edge metadata index: the in-memory front of MetaManager's SQLite `meta` table (key, type, value).

Keys follow KubeEdge's `<ns>/<type>/<name>` (the name may contain '/'); keys with fewer than three
segments (`membership/detail`) are stored and fetched by key but not indexed by prefix.

`MetaIndex`:
- `put(key, type, value, rv=0) -> bool` upserts and journals the key; a stale write (rv != 0 and the
  stored rv greater) returns False and changes nothing. Equal rv replaces; rv 0 always replaces.
- `load(...)` is `put` without journaling (filling the index from SQLite at start).
- `get(key) -> (type, value, rv) | None`, `in`, `len`, `delete(key) -> bool` (journaled as a delete),
  `keys()` (sorted).
- `query_prefix('<ns>/<type>')` (a trailing '/' is accepted; anything else raises ValueError) and
  `query_type(type)` return `(key, type, value, rv)` rows sorted by key, from secondary indexes.
- Dirty journal for batched SQLite writes: `dirty_count()`, `drain(max_n)` returns up to max_n keys in
  first-dirtied order as `(key, type, value, rv, deleted)` with their current state (a gone key drains
  as `(key, None, None, 0, True)`), `mark_dirty(keys)` re-journals keys after a failed write.
"""

from ._compat import NO_EXTENSIONS

if NO_EXTENSIONS:
    from ._store_py import MetaIndex

    COMPILED = False
else:
    try:
        from ._store_c import MetaIndex

        COMPILED = True
    except ImportError:  # a test asserts COMPILED when extensions are expected
        from ._store_py import MetaIndex

        COMPILED = False

__all__ = ["MetaIndex"]
