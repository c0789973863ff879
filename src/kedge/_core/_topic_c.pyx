# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of the MQTT topic-filter trie (see topic.py for the contract).

Same trie and the same walk as the pure twin. The difference is how a level is looked up: besides the
`children` dict (name → node, the source of truth), every node keeps a small open-addressing table
keyed by an FNV-1a hash of the level's code points, pointing at the dict's own key and value. match()
hashes each level straight out of the topic's buffer and compares characters in place, so a match
allocates no level strings and no lists, and computes no Python string hashes.
"""

cimport cython
from cpython.dict cimport PyDict_Keys, PyDict_Next
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from cpython.object cimport PyObject
from cpython.unicode cimport (
    PyUnicode_DATA,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
)
from libc.stdint cimport uint64_t
from libc.string cimport memcmp

from .errors import InvalidTopic

__all__ = ["TopicTrie", "validate_filter", "validate_topic"]

cdef enum:
    MAX_BYTES = 65535
    # Up to this many code points a string cannot exceed MAX_BYTES in UTF-8 (4 bytes each at most).
    SAFE_LEN = 16383
    MAX_LEVELS = 32  # topics with more levels are matched on Python lists (same walk)
    FRONTIER = 64  # trie nodes reached at one level before the same fallback
    MAX_FOUND = 64  # matching filters before the same fallback


# -- validation: a C scan decides, the error messages come from the same Python-level checks as the
# pure twin so both twins raise identical messages.


def _show(s):
    return repr(s) if len(s) <= 64 else repr(s[:48]) + f"... ({len(s)} chars)"


def _common_error(kind, s):
    if not s:
        return InvalidTopic(f"invalid topic {kind} {_show(s)}: empty")
    if "\0" in s:
        return InvalidTopic(f"invalid topic {kind} {_show(s)}: contains U+0000")
    if len(s) > SAFE_LEN:
        n = len(s.encode("utf-8", "surrogatepass"))
        if n > MAX_BYTES:
            return InvalidTopic(f"invalid topic {kind} {_show(s)}: longer than {MAX_BYTES} UTF-8 bytes ({n})")
    return None


cdef bint _plain(str s) except -1:
    """True when `s` is short, non-empty and has no '+', '#' or U+0000 (valid as name and filter)."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(s)
    if n == 0 or n > SAFE_LEN:
        return False
    cdef int kind = PyUnicode_KIND(s)
    cdef void *data = PyUnicode_DATA(s)
    cdef Py_UCS4 c
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c == 0x2B or c == 0x23 or c == 0:  # '+', '#', NUL
            return False
    return True


def validate_filter(str f not None):
    """Raise InvalidTopic unless `f` is a valid MQTT 3.1.1 topic filter."""
    if _plain(f):
        return
    err = _common_error("filter", f)
    if err is not None:
        raise err
    levels = f.split("/")
    last = len(levels) - 1
    for i, lvl in enumerate(levels):
        if "#" in lvl:
            if lvl != "#":
                raise InvalidTopic(f"invalid topic filter {_show(f)}: '#' must be alone in its level")
            if i != last:
                raise InvalidTopic(f"invalid topic filter {_show(f)}: '#' must be the last level")
        elif "+" in lvl and lvl != "+":
            raise InvalidTopic(f"invalid topic filter {_show(f)}: '+' must be alone in its level")


def validate_topic(str t not None):
    """Raise InvalidTopic unless `t` is a valid MQTT 3.1.1 topic name (no wildcards)."""
    if _plain(t):
        return
    err = _common_error("name", t)
    if err is not None:
        raise err
    if "+" in t or "#" in t:
        raise InvalidTopic(f"invalid topic name {_show(t)}: wildcards '+' and '#' are not allowed")


# -- per-node level tables


ctypedef struct _Slot:
    uint64_t h
    PyObject *name  # borrowed: the key in the node's children dict; NULL = never used
    PyObject *child  # borrowed: the value in that dict; NULL with a name = deleted


cdef inline uint64_t _fnv(int kind, const void *data, Py_ssize_t start, Py_ssize_t end) noexcept:
    cdef uint64_t h = 14695981039346656037ULL
    cdef Py_ssize_t i
    cdef const unsigned char *b
    if kind == 1:
        b = <const unsigned char *>data
        for i in range(start, end):
            h = (h ^ b[i]) * 1099511628211ULL
    else:
        for i in range(start, end):
            h = (h ^ <uint64_t>PyUnicode_READ(kind, data, i)) * 1099511628211ULL
    return h


cdef inline bint _same(PyObject *name, int kind, const void *data, Py_ssize_t start, Py_ssize_t n) noexcept:
    """Is the str `name` equal to data[start:start+n] (a slice of a str of `kind`)?"""
    cdef object s = <object>name
    if PyUnicode_GET_LENGTH(s) != n:
        return False
    cdef int k = PyUnicode_KIND(s)
    if k == kind:
        return memcmp(PyUnicode_DATA(s), <const char *>data + start * kind, n * kind) == 0
    cdef const void *d = PyUnicode_DATA(s)
    cdef Py_ssize_t i
    for i in range(n):
        if PyUnicode_READ(k, d, i) != PyUnicode_READ(kind, data, start + i):
            return False
    return True


# -- trie


@cython.final
@cython.freelist(256)
cdef class _Node:
    """One trie level: literal children by name, the '+' and '#' children apart (looked up on every
    match), and the subscribers of the filter ending here (dict as an insertion-ordered set)."""

    # readonly: tests inspect the trie shape (pruning) the same way in both twins.
    cdef readonly dict children
    cdef readonly _Node plus
    cdef readonly _Node hash
    cdef readonly dict subs
    cdef _Slot *tab  # mirrors `children`; NULL while there are none
    cdef Py_ssize_t cap  # power of two
    cdef Py_ssize_t used  # slots holding a name (live or deleted)

    def __cinit__(self):
        self.children = {}
        self.subs = {}

    def __dealloc__(self):
        PyMem_Free(self.tab)

    cdef inline bint empty(self):
        return not self.subs and not self.children and self.plus is None and self.hash is None

    cdef inline PyObject *lookup(self, uint64_t h, int kind, const void *data, Py_ssize_t start,
                                 Py_ssize_t n) noexcept:
        if self.tab is NULL:
            return NULL
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>mask)
        cdef _Slot *slot
        while True:
            slot = &self.tab[i]
            if slot.name is NULL:
                return NULL
            if slot.child is not NULL and slot.h == h and _same(slot.name, kind, data, start, n):
                return slot.child
            i = (i + 1) & mask

    cdef int rebuild(self) except -1:
        """Rebuild the table from `children`, sized for them plus room to grow; drops deleted slots."""
        PyMem_Free(self.tab)
        self.tab = NULL
        self.cap = 0
        self.used = 0
        cdef Py_ssize_t n = len(self.children)
        if n == 0:
            return 0
        cdef Py_ssize_t cap = 8
        while cap < 2 * n:
            cap *= 2
        cdef _Slot *tab = <_Slot *>PyMem_Calloc(cap, sizeof(_Slot))
        if tab is NULL:
            raise MemoryError()
        cdef Py_ssize_t pos = 0, i
        cdef PyObject *k
        cdef PyObject *v
        cdef uint64_t h
        cdef object key
        while PyDict_Next(self.children, &pos, &k, &v):
            key = <object>k
            h = _fnv(PyUnicode_KIND(key), PyUnicode_DATA(key), 0, PyUnicode_GET_LENGTH(key))
            i = <Py_ssize_t>(h & <uint64_t>(cap - 1))
            while tab[i].name is not NULL:
                i = (i + 1) & (cap - 1)
            tab[i].h = h
            tab[i].name = k
            tab[i].child = v
        self.tab = tab
        self.cap = cap
        self.used = n
        return 0

    cdef int add_child(self, str name, _Node child) except -1:
        self.children[name] = child
        if (self.used + 1) * 4 > self.cap * 3:
            return self.rebuild()
        # The dict holds the references; point at its own key object.
        cdef uint64_t h = _fnv(PyUnicode_KIND(name), PyUnicode_DATA(name), 0, PyUnicode_GET_LENGTH(name))
        cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>(self.cap - 1))
        while self.tab[i].name is not NULL:
            i = (i + 1) & (self.cap - 1)
        self.tab[i].h = h
        self.tab[i].name = <PyObject *>name
        self.tab[i].child = <PyObject *>child
        self.used += 1
        return 0

    cdef int del_child(self, str name) except -1:
        cdef int kind = PyUnicode_KIND(name)
        cdef const void *data = PyUnicode_DATA(name)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(name)
        cdef uint64_t h = _fnv(kind, data, 0, n)
        cdef Py_ssize_t probes, i = <Py_ssize_t>(h & <uint64_t>(self.cap - 1))
        cdef _Slot *slot
        for probes in range(self.cap):
            slot = &self.tab[i]
            if slot.name is NULL:
                break
            if slot.child is not NULL and slot.h == h and _same(slot.name, kind, data, 0, n):
                slot.child = NULL  # deleted: probing continues past it
                break
            i = (i + 1) & (self.cap - 1)
        del self.children[name]
        if not self.children or len(self.children) * 8 < self.used:
            self.rebuild()
        return 0


@cython.final
cdef class TopicTrie:
    """MQTT topic filters → subscribers.

    `match` order: levels are walked left to right keeping the nodes reached so far in order (for
    each node: its literal child before its '+' child). At each level, the '#' filters hanging off the
    reached nodes contribute first; after the last level, each reached node contributes its own
    subscribers and then its '#' child's. Within one filter, subscribers keep subscription order; a
    subscriber is listed once, at its first position.
    """

    cdef readonly _Node _root
    cdef dict _filters  # filter → its node, in order of first subscription
    cdef Py_ssize_t _count

    def __cinit__(self):
        self._root = _Node.__new__(_Node)
        self._filters = {}
        self._count = 0

    def __len__(self):
        return self._count

    def filters(self):
        return list(self._filters)

    def subscribers(self, filter):
        cdef object node = self._filters.get(filter)
        return [] if node is None else list((<_Node>node).subs)

    def subscribe(self, str filter not None, subscriber):
        cdef object o = self._filters.get(filter)
        cdef _Node node, nxt
        if o is None:
            validate_filter(filter)
            hash(subscriber)  # an unhashable subscriber must fail before any node is created
            node = self._root
            for lvl in filter.split("/"):
                if lvl == "+":
                    if node.plus is None:
                        node.plus = _Node.__new__(_Node)
                    nxt = node.plus
                elif lvl == "#":
                    if node.hash is None:
                        node.hash = _Node.__new__(_Node)
                    nxt = node.hash
                else:
                    o = node.children.get(lvl)
                    if o is None:
                        nxt = _Node.__new__(_Node)
                        node.add_child(lvl, nxt)
                    else:
                        nxt = <_Node>o
                node = nxt
            self._filters[filter] = node
        else:
            node = <_Node>o
            if subscriber in node.subs:
                return False
        node.subs[subscriber] = None
        self._count += 1
        return True

    def unsubscribe(self, str filter not None, subscriber):
        validate_filter(filter)
        cdef object o = self._filters.get(filter)
        if o is None:
            return False
        cdef _Node node = <_Node>o
        if subscriber not in node.subs:
            return False
        del node.subs[subscriber]
        self._count -= 1
        if node.subs:
            return True
        del self._filters[filter]
        # Walk down again recording the path, then prune empty nodes bottom-up.
        cdef list path = []
        node = self._root
        for lvl in filter.split("/"):
            path.append((node, lvl))
            if lvl == "+":
                node = node.plus
            elif lvl == "#":
                node = node.hash
            else:
                node = <_Node>node.children[lvl]
        cdef _Node parent
        for parent, lvl in reversed(path):
            if not node.empty():
                break
            if lvl == "+":
                parent.plus = None
            elif lvl == "#":
                parent.hash = None
            else:
                parent.del_child(lvl)
            node = parent
        return True

    def match(self, str topic not None):
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(topic)
        if n == 0 or n > SAFE_LEN:
            validate_topic(topic)  # raises unless it is a long but valid name
            return self._match_lists(topic)
        cdef int kind = PyUnicode_KIND(topic)
        cdef const void *data = PyUnicode_DATA(topic)
        # One pass: validate, find the levels and hash them.
        cdef Py_ssize_t lstart[MAX_LEVELS]
        cdef Py_ssize_t lend[MAX_LEVELS]
        cdef uint64_t lhash[MAX_LEVELS]
        cdef Py_ssize_t i, nlev = 0, start = 0
        cdef uint64_t h = 14695981039346656037ULL
        cdef uint64_t c
        for i in range(n):
            c = <uint64_t>PyUnicode_READ(kind, data, i)
            if c == 0x2F:  # '/'
                if nlev == MAX_LEVELS - 1:
                    validate_topic(topic)  # the rest of the topic was not scanned yet
                    return self._match_lists(topic)
                lstart[nlev] = start
                lend[nlev] = i
                lhash[nlev] = h
                nlev += 1
                start = i + 1
                h = 14695981039346656037ULL
            elif c == 0x2B or c == 0x23 or c == 0:  # '+', '#', NUL
                validate_topic(topic)  # raises with the message
            else:
                h = (h ^ c) * 1099511628211ULL
        lstart[nlev] = start
        lend[nlev] = n
        lhash[nlev] = h
        nlev += 1

        # The frontier and the matched subscriber dicts are borrowed pointers: no Python code runs
        # during the walk, so the trie cannot change under it.
        cdef PyObject *bufa[FRONTIER]
        cdef PyObject *bufb[FRONTIER]
        cdef PyObject *found[MAX_FOUND]
        cdef PyObject **cur = bufa
        cdef PyObject **nxt = bufb
        cdef PyObject **swap
        cdef PyObject *child
        cdef Py_ssize_t j, ncur, nnxt, first, nfound = 0
        cdef _Node node
        if PyUnicode_READ(kind, data, 0) == 0x24:  # '$'
            # $-topics: wildcards in the first level never match, so start below the literal level.
            child = self._root.lookup(lhash[0], kind, data, lstart[0], lend[0] - lstart[0])
            if child is NULL:
                return []
            cur[0] = child
            first = 1
        else:
            cur[0] = <PyObject *>self._root
            first = 0
        ncur = 1
        for i in range(first, nlev):
            nnxt = 0
            for j in range(ncur):
                node = <_Node>cur[j]
                if node.hash is not None:
                    if nfound == MAX_FOUND:
                        return self._match_lists(topic)
                    found[nfound] = <PyObject *>node.hash.subs
                    nfound += 1
                child = node.lookup(lhash[i], kind, data, lstart[i], lend[i] - lstart[i])
                if child is not NULL:
                    if nnxt == FRONTIER:
                        return self._match_lists(topic)
                    nxt[nnxt] = child
                    nnxt += 1
                if node.plus is not None:
                    if nnxt == FRONTIER:
                        return self._match_lists(topic)
                    nxt[nnxt] = <PyObject *>node.plus
                    nnxt += 1
            if nnxt == 0:
                break
            swap = cur
            cur = nxt
            nxt = swap
            ncur = nnxt
        else:
            for j in range(ncur):
                node = <_Node>cur[j]
                if node.subs:
                    if nfound == MAX_FOUND:
                        return self._match_lists(topic)
                    found[nfound] = <PyObject *>node.subs
                    nfound += 1
                if node.hash is not None:
                    if nfound == MAX_FOUND:
                        return self._match_lists(topic)
                    found[nfound] = <PyObject *>node.hash.subs
                    nfound += 1
        if nfound == 0:
            return []
        if nfound == 1:
            return PyDict_Keys(<object>found[0])
        # Merging may run subscribers' __eq__: own the dicts first.
        return _merge([<object>found[j] for j in range(nfound)])

    cdef list _match_lists(self, str topic):
        """The same walk as match() on Python lists and the children dicts (for a validated topic
        too long, too deep or too wide for match()'s C arrays)."""
        cdef list levels = topic.split("/")
        cdef Py_ssize_t i, j, start, nlev = len(levels)
        cdef list found = []
        cdef list nodes, nxt
        cdef _Node node
        cdef object o, lvl
        if topic[0] == "$":
            o = self._root.children.get(levels[0])
            if o is None:
                return []
            nodes = [o]
            start = 1
        else:
            nodes = [self._root]
            start = 0
        for i in range(start, nlev):
            lvl = levels[i]
            nxt = []
            for j in range(len(nodes)):
                node = <_Node>nodes[j]
                if node.hash is not None:
                    found.append(node.hash.subs)
                o = node.children.get(lvl)
                if o is not None:
                    nxt.append(o)
                if node.plus is not None:
                    nxt.append(node.plus)
            if not nxt:
                break
            nodes = nxt
        else:
            for j in range(len(nodes)):
                node = <_Node>nodes[j]
                if node.subs:
                    found.append(node.subs)
                if node.hash is not None:
                    found.append(node.hash.subs)
        if not found:
            return []
        return _merge(found)


cdef list _merge(list dicts):
    """Keys of several subscriber dicts, each once, in first-seen order."""
    if len(dicts) == 1:
        return PyDict_Keys(dicts[0])
    cdef dict out = {}
    for d in dicts:
        out.update(<dict>d)
    return PyDict_Keys(out)
