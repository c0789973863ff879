# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of the edge metadata index (see store.py for the contract).

Same behaviour as the pure twin, different layout: one mutable `_Entry` per key instead of a tuple, so
an update is a single dict lookup and field writes. Each entry carries a `dirty` flag; the journal is a
FIFO list of entries (no journal dict). A deleted key that is still journaled stays in `_data` as a
tombstone (`live` False) until drained, so the key keeps its one journal slot if it comes back.

Entries and buckets are not tracked by the cyclic GC (`no_gc`): they hold keys, types, values and rvs
(str/bytes/int by contract) and buckets hold entries, never the other way, so they form no cycles; and
tracking them made every young-generation collection walk them (a third of the insert time). A value
that referred back to its index would leak, not crash.
"""

cimport cython
from cpython.dict cimport PyDict_SetDefault
from cpython.list cimport PyList_GET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport (
    PyUnicode_DATA,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
    PyUnicode_Substring,
)
from libc.string cimport memcmp

__all__ = ["MetaIndex"]


@cython.final
@cython.no_gc
@cython.freelist(64)
cdef class _Bucket:
    """One secondary-index bucket: key → entry, with the entries in key order cached between changes."""

    cdef object name
    cdef dict members
    cdef list order  # entries sorted by key; None until the next query
    cdef Py_ssize_t slot  # its slot in MetaIndex._pcache, -1 if none

    def __cinit__(self, name):
        self.name = name
        self.members = {}
        self.order = None
        self.slot = -1


@cython.final
@cython.no_gc
@cython.freelist(256)
cdef class _Entry:
    cdef object key  # a str, except for tombstones of whatever mark_dirty was given
    cdef object type
    cdef object value
    cdef object rv
    cdef object prefix  # '<ns>/<type>' (the bucket's own string), None when not prefix-indexed
    cdef tuple row  # (key, type, value, rv) as queries return it; built on demand, None after a write
    cdef bint live  # False: deleted, kept only while journaled
    cdef bint dirty  # in the journal


cdef enum:
    PCACHE_SIZE = 256  # power of two


cdef inline Py_ssize_t _prefix_end(str key, unsigned int *hash):
    """Index of the second '/' of `key` (-1 if none) and an FNV-1a hash of the characters before it."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(key)
    cdef int kind = PyUnicode_KIND(key)
    cdef void *data = PyUnicode_DATA(key)
    cdef const unsigned char *b1
    cdef unsigned int h = 2166136261u
    cdef unsigned int c  # a code point, as a number (Cython treats Py_UCS4 as a character)
    cdef bint seen = False
    if kind == 1:  # the usual case (ASCII/latin-1 keys): a plain byte loop
        b1 = <const unsigned char *>data
        for i in range(n):
            c = b1[i]
            if c == 0x2F:
                if seen:
                    hash[0] = h
                    return i
                seen = True
            h = (h ^ c) * 16777619u
        return -1
    for i in range(n):
        c = <unsigned int>PyUnicode_READ(kind, data, i)
        if c == 0x2F:
            if seen:
                hash[0] = h
                return i
            seen = True
        h = (h ^ c) * 16777619u
    return -1


cdef inline list _nones(Py_ssize_t n):
    return [None] * n


cdef inline tuple _row4(_Entry e):
    # Rows are immutable, so repeated queries of unchanged entries share one tuple.
    if e.row is not None:
        return e.row
    cdef tuple r = PyTuple_New(4)
    Py_INCREF(e.key)
    PyTuple_SET_ITEM(r, 0, e.key)
    Py_INCREF(e.type)
    PyTuple_SET_ITEM(r, 1, e.type)
    Py_INCREF(e.value)
    PyTuple_SET_ITEM(r, 2, e.value)
    Py_INCREF(e.rv)
    PyTuple_SET_ITEM(r, 3, e.rv)
    e.row = r
    return r


cdef inline tuple _row3(_Entry e):
    cdef tuple r = PyTuple_New(3)
    Py_INCREF(e.type)
    PyTuple_SET_ITEM(r, 0, e.type)
    Py_INCREF(e.value)
    PyTuple_SET_ITEM(r, 1, e.value)
    Py_INCREF(e.rv)
    PyTuple_SET_ITEM(r, 2, e.rv)
    return r


@cython.final
cdef class MetaIndex:
    """Key → (type, value, rv) with a prefix index, a type index and a journal of dirty keys."""

    cdef dict _data  # key → _Entry (live entries and journaled tombstones)
    cdef Py_ssize_t _live
    cdef dict _by_prefix  # '<ns>/<type>' → _Bucket
    cdef dict _by_type  # type → _Bucket
    cdef object _last_type  # the type bucket of the last insert: callers reuse one type string
    cdef _Bucket _last_tbucket
    cdef list _jq  # journal FIFO of entries; slots before _jhead are drained
    cdef Py_ssize_t _jhead
    # Direct-mapped cache of prefix buckets by a hash of the key's first two segments: an insert
    # finds its bucket without slicing out, hashing and looking up the prefix string.
    cdef list _pcache
    cdef _Entry _spare  # preallocated entry for the next insert (one dict probe via setdefault)

    def __cinit__(self):
        self._data = {}
        self._live = 0
        self._by_prefix = {}
        self._by_type = {}
        self._jq = []
        self._jhead = 0
        self._pcache = [None] * PCACHE_SIZE

    # -- index maintenance ------------------------------------------------------------------------

    cdef _Bucket _bucket(self, dict index, object name):
        cdef object o = index.get(name)
        if o is not None:
            return <_Bucket>o
        cdef _Bucket b = _Bucket.__new__(_Bucket, name)
        index[name] = b
        return b

    cdef int _unbucket(self, dict index, object name, object key) except -1:
        cdef _Bucket b = <_Bucket>index[name]
        del b.members[key]
        if b.members:
            b.order = None
        else:
            del index[b.name]
            if b is self._last_tbucket:
                self._last_tbucket = None
                self._last_type = None
            if b.slot >= 0 and self._pcache[b.slot] is b:
                self._pcache[b.slot] = None
        return 0

    cdef _Bucket _prefix_bucket(self, str key):
        """The prefix bucket for `key` (created if needed), None if the key has fewer than 3 segments."""
        cdef unsigned int h = 0
        cdef Py_ssize_t j = _prefix_end(key, &h)
        if j < 0:
            return None
        cdef Py_ssize_t slot = h & (PCACHE_SIZE - 1)
        cdef object o = <object>PyList_GET_ITEM(self._pcache, slot)
        cdef _Bucket b
        cdef str name
        cdef int kind = PyUnicode_KIND(key)
        if o is not None:
            b = <_Bucket>o
            name = <str>b.name
            if (
                PyUnicode_GET_LENGTH(name) == j
                and PyUnicode_KIND(name) == kind
                and memcmp(PyUnicode_DATA(name), PyUnicode_DATA(key), j * kind) == 0
            ):
                return b
        b = self._bucket(self._by_prefix, PyUnicode_Substring(key, 0, j))
        b.slot = slot
        self._pcache[slot] = b
        return b

    cdef int _index_type(self, _Entry e) except -1:
        cdef _Bucket b
        if e.type is self._last_type:
            b = self._last_tbucket
        else:
            b = self._bucket(self._by_type, e.type)
            self._last_type = e.type
            self._last_tbucket = b
        b.members[e.key] = e
        b.order = None
        return 0

    cdef int _index(self, _Entry e) except -1:
        cdef _Bucket b = self._prefix_bucket(<str>e.key)  # live entries come from put/load: str
        if b is not None:
            b.members[e.key] = e
            b.order = None
            e.prefix = b.name
        self._index_type(e)
        e.live = True
        self._live += 1
        return 0

    cdef int _unindex(self, _Entry e) except -1:
        if e.prefix is not None:
            self._unbucket(self._by_prefix, e.prefix, e.key)
            e.prefix = None
        self._unbucket(self._by_type, e.type, e.key)
        e.live = False
        self._live -= 1
        return 0

    cdef inline int _journal(self, _Entry e) except -1:
        if not e.dirty:
            e.dirty = True
            self._jq.append(e)
        return 0

    # -- writes -----------------------------------------------------------------------------------

    cdef _Entry _store(self, str key, object type, object value, object rv):
        """The entry written, or None for a stale write."""
        if type is not self._last_type:
            hash(type)  # an unhashable type must fail before anything changes
        cdef _Entry e = self._spare
        if e is None:
            e = self._spare = _Entry.__new__(_Entry)
        cdef object o = <object>PyDict_SetDefault(self._data, key, e)
        if o is e:
            self._spare = None
            e.key = key
            e.type = type
            e.value = value
            e.rv = rv
            self._index(e)
            return e
        e = <_Entry>o
        if not e.live:
            # A journaled tombstone comes back: same entry, same journal slot.
            e.type = type
            e.value = value
            e.rv = rv
            e.row = None
            self._index(e)
            return e
        if rv and e.rv > rv:
            return None
        e.row = None
        if e.type is not type and e.type != type:
            self._unbucket(self._by_type, e.type, key)
            e.type = type
            self._index_type(e)
        e.value = value
        e.rv = rv
        return e

    def put(self, str key not None, type, value, rv=0):
        cdef _Entry e = self._store(key, type, value, rv)
        if e is None:
            return False
        self._journal(e)
        return True

    def load(self, str key not None, type, value, rv=0):
        self._store(key, type, value, rv)

    def delete(self, key):
        cdef object o = self._data.get(key)
        if o is None:
            return False
        cdef _Entry e = <_Entry>o
        if not e.live:
            return False
        self._unindex(e)
        if e.dirty:
            pass  # keep the tombstone in _data: its journal slot drains it as a delete
        else:
            e.dirty = True
            self._jq.append(e)
        return True

    # -- reads ------------------------------------------------------------------------------------

    @cython.always_allow_keywords(False)  # METH_O: the cheapest call for the hottest read
    def get(self, key):
        cdef object o = self._data.get(key)
        if o is None or not (<_Entry>o).live:
            return None
        return _row3(<_Entry>o)

    def __contains__(self, key):
        cdef object o = self._data.get(key)
        return o is not None and (<_Entry>o).live

    def __len__(self):
        return self._live

    def keys(self):
        cdef list out = []
        cdef object e
        for e in self._data.values():
            if (<_Entry>e).live:
                out.append((<_Entry>e).key)
        out.sort()
        return out

    def query_prefix(self, str prefix not None):
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(prefix)
        if n and prefix[n - 1] == "/":
            prefix = PyUnicode_Substring(prefix, 0, n - 1)
        if prefix.count("/") != 1:
            raise ValueError(f"query_prefix wants '<ns>/<type>', got {prefix!r}")
        return self._rows(self._by_prefix.get(prefix))

    def query_type(self, type):
        return self._rows(self._by_type.get(type))

    cdef list _rows(self, object o):
        if o is None:
            return []
        cdef _Bucket b = <_Bucket>o
        cdef dict members = b.members
        cdef object k
        if b.order is None:
            b.order = [members[k] for k in sorted(members)]
        cdef list order = b.order
        cdef Py_ssize_t i, n = len(order)
        cdef list out = _nones(n)
        for i in range(n):
            out[i] = _row4(<_Entry>order[i])
        return out

    # -- dirty journal ----------------------------------------------------------------------------

    def dirty_count(self):
        return len(self._jq) - self._jhead

    def drain(self, Py_ssize_t max_n):
        cdef list jq = self._jq
        cdef Py_ssize_t head = self._jhead
        cdef Py_ssize_t n = len(jq) - head
        if max_n < n:
            n = max_n if max_n > 0 else 0
        cdef list out = _nones(n)
        cdef Py_ssize_t i
        cdef _Entry e
        for i in range(n):
            e = <_Entry>jq[head + i]
            jq[head + i] = None  # drop the reference now; the slot is compacted away later
            e.dirty = False
            if e.live:
                out[i] = (e.key, e.type, e.value, e.rv, False)
            else:
                out[i] = (e.key, None, None, 0, True)
                del self._data[e.key]
        head += n
        if head == len(jq):
            jq.clear()
            head = 0
        elif head > 64 and head * 2 > len(jq):
            del jq[:head]
            head = 0
        self._jhead = head
        return out

    def mark_dirty(self, keys):
        cdef object o
        cdef _Entry e
        for k in keys:
            o = self._data.get(k)
            if o is None:
                # Unknown key: a tombstone so it drains as a delete.
                e = _Entry.__new__(_Entry)
                e.key = k
                e.rv = 0
                self._data[k] = e
            else:
                e = <_Entry>o
            self._journal(e)
