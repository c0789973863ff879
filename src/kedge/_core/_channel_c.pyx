# cython: language_level=3, boundscheck=False, wraparound=False, binding=False, auto_pickle=False
# binding=False: methods stay plain method descriptors, which the interpreter calls faster than
# cyfunctions (about 15% of a send); auto_pickle=False: routing state is never pickled.
"""CloudHub per-node queue, compiled twin of `_channel_py` (same API, same behaviour).

Two FIFO lanes (messages that need an ack, and fire-and-forget ones), each bounded, each coalescing
unsent messages per object key: the newest version of an object replaces a queued older one in place
(keeping its place in line), an older version is dropped, and a queued delete is never lost.
"""

cimport cython

LANE_ACK = 0
LANE_NOACK = 1

QUEUED = 0
COALESCED = 1
STALE = 2
FULL = 3

cdef enum:
    _QUEUED = 0
    _COALESCED = 1
    _STALE = 2
    _FULL = 3
    # ring buffers start at _MIN_SLOTS and double as needed; one that grew past _SHRINK_OVER slots
    # goes back to _MIN_SLOTS when it drains, so a burst does not pin memory
    _MIN_SLOTS = 8
    _SHRINK_OVER = 1024


@cython.final
@cython.freelist(1024)
cdef class _Entry:
    """A queued message; mutable so coalescing can rewrite it in place."""

    cdef object key
    cdef long long rv
    cdef object item
    cdef bint is_delete


cdef inline _Entry _entry(object key, long long rv, object item, bint is_delete):
    cdef _Entry e = _Entry.__new__(_Entry)
    e.key = key
    e.rv = rv
    e.item = item
    e.is_delete = is_delete
    return e


@cython.final
cdef class _Lane:
    """One lane: a ring buffer of entries over a list (GC-visible, typed indexing, push at both
    ends) and key -> the last queued entry for that key."""

    cdef list buf
    cdef Py_ssize_t head
    cdef Py_ssize_t count
    cdef Py_ssize_t mask
    cdef dict index

    def __cinit__(self):
        self.index = {}
        self.reset()

    cdef void reset(self):
        self.buf = [None] * _MIN_SLOTS
        self.head = 0
        self.count = 0
        self.mask = _MIN_SLOTS - 1

    cdef void grow(self):
        cdef Py_ssize_t n = self.mask + 1
        cdef Py_ssize_t i
        cdef list new = [None] * (2 * n)
        for i in range(self.count):
            new[i] = self.buf[(self.head + i) & self.mask]
        self.buf = new
        self.head = 0
        self.mask = 2 * n - 1

    cdef inline void push_back(self, _Entry e):
        if self.count > self.mask:
            self.grow()
        self.buf[(self.head + self.count) & self.mask] = e
        self.count += 1

    cdef inline void push_front(self, _Entry e):
        if self.count > self.mask:
            self.grow()
        self.head = (self.head - 1) & self.mask
        self.buf[self.head] = e
        self.count += 1

    cdef inline object pop_item(self):
        """Pop the oldest entry, drop its index entry if it is the key's last, return its item."""
        cdef Py_ssize_t h = self.head
        cdef _Entry e = <_Entry>self.buf[h]
        self.buf[h] = None
        self.head = (h + 1) & self.mask
        self.count -= 1
        if self.count == 0:
            self.head = 0
            if self.mask >= _SHRINK_OVER:
                self.reset()
        key = e.key
        if key is not None and self.index.get(key) is e:
            del self.index[key]
        return e.item


@cython.final
cdef class Channel:
    """Per-node queue with an ack lane and a no-ack lane, each holding up to `capacity` entries.

    Invariant: for every key queued in a lane, the lane's index points at the last entry with that
    key (a delete followed by an update keeps two entries; all the others coalesce into one).
    """

    cdef Py_ssize_t _capacity
    cdef _Lane _ack
    cdef _Lane _noack
    cdef unsigned long long _queued
    cdef unsigned long long _coalesced
    cdef unsigned long long _stale
    cdef unsigned long long _full

    def __cinit__(self, *args, **kwargs):
        # lanes exist even if __init__ is skipped, so no method can meet a None lane
        self._ack = _Lane()
        self._noack = _Lane()

    def __init__(self, capacity):
        cdef Py_ssize_t cap = capacity
        if cap < 1:
            raise ValueError("channel capacity must be >= 1, got %d" % cap)
        self._capacity = cap

    cdef inline _Lane _lane(self, int lane):
        if lane == 0:
            return self._ack
        if lane == 1:
            return self._noack
        raise ValueError("no such lane: %r" % (lane,))

    def put(self, int lane, key, long long rv, item, bint is_delete=False):
        """Queue `item` (version `rv`, 0 = unknown) for object `key` (None = never coalesce).

        Returns QUEUED (appended), COALESCED (replaced the queued entry of `key` in place), STALE
        (dropped: the queued entry has a newer rv) or FULL (dropped: no room; coalescing needs none).
        An update after a queued delete is appended after it, so the delete is still delivered.
        """
        cdef _Lane ln = self._lane(lane)
        cdef _Entry e
        if key is not None:
            obj = ln.index.get(key)
            if obj is not None:
                e = <_Entry>obj
                if rv != 0 and e.rv != 0 and rv < e.rv:
                    self._stale += 1
                    return _STALE
                if not e.is_delete or is_delete:
                    e.rv = rv
                    e.item = item
                    e.is_delete = is_delete
                    self._coalesced += 1
                    return _COALESCED
            if ln.count >= self._capacity:
                self._full += 1
                return _FULL
            e = _entry(key, rv, item, is_delete)
            ln.push_back(e)
            ln.index[key] = e
        else:
            if ln.count >= self._capacity:
                self._full += 1
                return _FULL
            ln.push_back(_entry(None, rv, item, is_delete))
        self._queued += 1
        return _QUEUED

    def unget(self, int lane, key, long long rv, item, bint is_delete=False):
        """Put back at the head of `lane` a message taken but not acknowledged; ignores capacity.

        With no queued entry for `key` (or key None) the message goes to the head: QUEUED.
        Otherwise, with E the queued entry of `key` (queued later, so newer unless rv says otherwise:
        the message is newer only if both rv are known and rv > E.rv):
        - message newer, E a delete, message not a delete: the delete moves to the head and the
          message takes E's place (delete first, then the newer object): QUEUED;
        - message newer otherwise: it replaces E in place: COALESCED;
        - E newer (or same rv, or an rv unknown), message a delete, E not a delete: the delete goes
          to the head as its own entry, before E: QUEUED;
        - E newer otherwise: the message is dropped: STALE.
        So the newer version wins and a delete is never dropped for a non-delete.
        """
        cdef _Lane ln = self._lane(lane)
        cdef _Entry e
        cdef int result
        obj = ln.index.get(key) if key is not None else None
        if obj is None:
            e = _entry(key, rv, item, is_delete)
            ln.push_front(e)
            if key is not None:
                ln.index[key] = e
            self._queued += 1
            return _QUEUED
        e = <_Entry>obj
        if rv != 0 and e.rv != 0 and rv > e.rv:
            if e.is_delete and not is_delete:
                ln.push_front(_entry(key, e.rv, e.item, True))
                result = _QUEUED
            else:
                result = _COALESCED
            e.rv = rv
            e.item = item
            e.is_delete = is_delete
        elif is_delete and not e.is_delete:
            ln.push_front(_entry(key, rv, item, True))
            result = _QUEUED
        else:
            self._stale += 1
            return _STALE
        if result == _QUEUED:
            self._queued += 1
        else:
            self._coalesced += 1
        return result

    def get(self, int lane):
        """The oldest item of `lane`, or None when it is empty."""
        cdef _Lane ln = self._lane(lane)
        if ln.count == 0:
            return None
        return ln.pop_item()

    def get_many(self, int lane, max_n):
        """Up to `max_n` oldest items of `lane` (one frame carries many messages)."""
        cdef _Lane ln = self._lane(lane)
        cdef Py_ssize_t n = max_n
        if n < 0:
            raise ValueError("max_n must be >= 0")
        if n > ln.count:
            n = ln.count
        cdef list out = [None] * n
        cdef Py_ssize_t i
        for i in range(n):
            out[i] = ln.pop_item()
        return out

    def size(self, int lane):
        return self._lane(lane).count

    def __len__(self):
        return self._ack.count + self._noack.count

    def clear(self):
        """Remove everything; returns the items, ack lane first, each lane oldest first."""
        cdef list out = []
        cdef _Lane ln
        cdef Py_ssize_t i
        for ln in (self._ack, self._noack):
            for i in range(ln.count):
                out.append((<_Entry>ln.buf[(ln.head + i) & ln.mask]).item)
            ln.index.clear()
            ln.reset()
        return out

    def stats(self):
        """Results of put and unget so far: queued, coalesced, stale, full."""
        return {
            "queued": self._queued,
            "coalesced": self._coalesced,
            "stale": self._stale,
            "full": self._full,
        }


__all__ = ["COALESCED", "FULL", "LANE_ACK", "LANE_NOACK", "QUEUED", "STALE", "Channel"]
