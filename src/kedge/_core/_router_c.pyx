# cython: language_level=3, boundscheck=False, wraparound=False, binding=False, auto_pickle=False
# binding=False: methods stay plain method descriptors, which the interpreter calls faster than
# cyfunctions (about 15% of a send); auto_pickle=False: routing state is never pickled.
"""Beehive routing tables, compiled twin of `_router_py` (same API, same behaviour).

A Router holds the bounded FIFO inbox of every module, the module groups, and the waiters of sync
requests keyed by message id. It never looks inside messages and never waits: the async layer passes
`on_ready`/`on_space` callbacks to be told about inbox transitions and passes time in as `now`.
"""

cimport cython
from libc.math cimport isnan

from .errors import DuplicateModule, UnknownDestination

#: The heap of waiter deadlines is rebuilt when it holds more than this many dead entries
#: beyond twice the live ones (lazy deletion stays amortised O(1) and memory stays bounded).
HEAP_SLACK = 64

# Ring buffers start at _MIN_SLOTS and double up to the inbox capacity; one that grew past
# _SHRINK_OVER slots goes back to _MIN_SLOTS when it drains, so a burst does not pin memory.
cdef enum:
    _HEAP_SLACK = 64
    _MIN_SLOTS = 8
    _SHRINK_OVER = 1024


@cython.final
cdef class _Inbox:
    """One module's queue (a ring buffer over a list: GC-visible, no deque method calls) and its
    wake-up callbacks, resolved once at registration."""

    cdef readonly str name
    cdef readonly str group
    cdef Py_ssize_t capacity
    cdef object on_ready
    cdef object on_space
    cdef list buf
    cdef Py_ssize_t head
    cdef Py_ssize_t count
    cdef Py_ssize_t mask

    cdef inline void push(self, object msg):
        if self.count > self.mask:
            self.grow()
        self.buf[(self.head + self.count) & self.mask] = msg
        self.count += 1

    cdef inline object pop(self):
        cdef Py_ssize_t h = self.head
        msg = self.buf[h]
        self.buf[h] = None
        self.head = (h + 1) & self.mask
        self.count -= 1
        if self.count == 0:
            self.head = 0
            if self.mask >= _SHRINK_OVER:
                self.reset()
        return msg

    cdef void grow(self):
        cdef Py_ssize_t n = self.mask + 1
        cdef Py_ssize_t i
        cdef list new = [None] * (2 * n)
        for i in range(self.count):
            new[i] = self.buf[(self.head + i) & self.mask]
        self.buf = new
        self.head = 0
        self.mask = 2 * n - 1

    cdef void reset(self):
        self.buf = [None] * _MIN_SLOTS
        self.head = 0
        self.count = 0
        self.mask = _MIN_SLOTS - 1


@cython.final
@cython.freelist(1024)
cdef class _Waiter:
    cdef double deadline
    cdef unsigned long long seq
    cdef object msg_id
    cdef object resolve
    cdef bint live


cdef inline bint _before(_Waiter a, _Waiter b):
    return a.deadline < b.deadline or (a.deadline == b.deadline and a.seq < b.seq)


@cython.final
cdef class Router:
    """Module inboxes, groups and sync waiters (see the module docstring).

    Callbacks run synchronously after the router's state is updated, so they may call back into the
    router; an exception from a callback propagates to the caller (the message stays queued).
    """

    cdef dict _modules
    # group -> members in registration order; replaced, never mutated, so a fan-out in progress
    # iterates a stable snapshot even if a callback registers or unregisters modules.
    cdef dict _groups
    cdef dict _waiters
    cdef list _heap
    cdef unsigned long long _seq
    cdef unsigned long long _sent
    cdef unsigned long long _full
    cdef unsigned long long _unknown
    cdef unsigned long long _resolved
    cdef unsigned long long _expired

    def __cinit__(self):
        self._modules = {}
        self._groups = {}
        self._waiters = {}
        self._heap = []

    # -- modules ------------------------------------------------------------------------------

    def register(self, name, group, capacity=1024, on_ready=None, on_space=None):
        """Add a module with a FIFO inbox of `capacity` messages; group "" means no group."""
        if type(name) is not str or type(group) is not str:
            raise TypeError("module name and group must be str")
        cdef Py_ssize_t cap = capacity
        if cap < 1:
            raise ValueError("inbox capacity must be >= 1, got %d" % cap)
        if name in self._modules:
            raise DuplicateModule("module %r is already registered" % name)
        cdef _Inbox inbox = _Inbox.__new__(_Inbox)
        inbox.name = name
        inbox.group = group
        inbox.capacity = cap
        inbox.on_ready = on_ready
        inbox.on_space = on_space
        inbox.reset()
        self._modules[name] = inbox
        if group:
            self._groups[group] = [*self._groups.get(group, ()), inbox]

    def unregister(self, name):
        """Remove a module; returns the messages left in its inbox, oldest first."""
        obj = self._modules.pop(name, None)
        if obj is None:
            raise self._unknown_module(name)
        cdef _Inbox inbox = <_Inbox>obj
        cdef str group = inbox.group
        if group:
            rest = [m for m in <list>self._groups[group] if m is not inbox]
            if rest:
                self._groups[group] = rest
            else:
                del self._groups[group]
        cdef list left = []
        while inbox.count:
            left.append(inbox.pop())
        return left

    def has_module(self, name):
        return name in self._modules

    def modules(self):
        return list(self._modules)

    def group_members(self, group):
        members = self._groups.get(group)
        if members is None:
            return []
        return [(<_Inbox>m).name for m in <list>members]

    # -- sending and receiving ----------------------------------------------------------------

    def send(self, dest, msg):
        """Queue `msg` for module `dest`; False (not queued) when its inbox is full."""
        obj = self._modules.get(dest)
        if obj is None:
            raise self._unknown_module(dest)
        cdef _Inbox inbox = <_Inbox>obj
        if inbox.count >= inbox.capacity:
            self._full += 1
            return False
        inbox.push(msg)
        self._sent += 1
        if inbox.count == 1 and inbox.on_ready is not None:
            inbox.on_ready()
        return True

    def send_to_group(self, group, msg):
        """Queue `msg` for every member with room; returns the members whose inbox was full."""
        members = self._groups.get(group)
        if members is None:
            self._unknown += 1
            raise UnknownDestination("no module in group %r" % (group,))
        cdef list refused = []
        cdef _Inbox inbox
        for obj in <list>members:
            inbox = <_Inbox>obj
            if inbox.count >= inbox.capacity:
                self._full += 1
                refused.append(inbox.name)
                continue
            inbox.push(msg)
            self._sent += 1
            if inbox.count == 1 and inbox.on_ready is not None:
                inbox.on_ready()
        return refused

    def receive(self, name):
        """The oldest message of module `name`, or None when its inbox is empty."""
        obj = self._modules.get(name)
        if obj is None:
            raise self._unknown_module(name)
        cdef _Inbox inbox = <_Inbox>obj
        if inbox.count == 0:
            return None
        cdef bint was_full = inbox.count >= inbox.capacity
        msg = inbox.pop()
        if was_full and inbox.on_space is not None:
            inbox.on_space()
        return msg

    def receive_many(self, name, max_n):
        """Up to `max_n` oldest messages of module `name` (an empty list when none)."""
        obj = self._modules.get(name)
        if obj is None:
            raise self._unknown_module(name)
        cdef Py_ssize_t n = max_n
        if n < 0:
            raise ValueError("max_n must be >= 0")
        cdef _Inbox inbox = <_Inbox>obj
        if n > inbox.count:
            n = inbox.count
        if n == 0:
            return []
        cdef bint was_full = inbox.count >= inbox.capacity
        cdef list out = [None] * n
        cdef Py_ssize_t i
        for i in range(n):
            out[i] = inbox.pop()
        if was_full and inbox.on_space is not None:
            inbox.on_space()
        return out

    def pending(self, name):
        obj = self._modules.get(name)
        if obj is None:
            raise self._unknown_module(name)
        return (<_Inbox>obj).count

    cdef object _unknown_module(self, name):
        self._unknown += 1
        return UnknownDestination("no module %r" % (name,))

    # -- sync waiters -------------------------------------------------------------------------

    def add_waiter(self, msg_id, deadline, resolve):
        """Wait for the response to `msg_id` until `deadline` (same clock as `expire`'s `now`)."""
        cdef double d = deadline
        if isnan(d):
            raise ValueError("deadline is NaN")
        cdef _Waiter w = _Waiter.__new__(_Waiter)
        w.deadline = d
        w.seq = self._seq + 1
        w.msg_id = msg_id
        w.resolve = resolve
        w.live = True
        # one dict probe for both the duplicate check and the insert
        if self._waiters.setdefault(msg_id, w) is not w:
            raise ValueError("a waiter for message %r already exists" % (msg_id,))
        self._seq += 1
        self._heap_push(w)

    def resolve(self, parent_msg_id, msg):
        """Hand `msg` to the waiter of `parent_msg_id` (removed first); False when none waits."""
        obj = self._waiters.pop(parent_msg_id, None)
        if obj is None:
            return False
        cdef _Waiter w = <_Waiter>obj
        cb = w.resolve
        w.live = False
        w.resolve = None
        self._resolved += 1
        self._maybe_compact()
        cb(msg)
        return True

    def cancel_waiter(self, msg_id):
        obj = self._waiters.pop(msg_id, None)
        if obj is None:
            return False
        cdef _Waiter w = <_Waiter>obj
        w.live = False
        w.resolve = None
        self._maybe_compact()
        return True

    def expire(self, double now):
        """Remove and return (msg_id, resolve) of every waiter due at `now`, earliest deadline first."""
        cdef list heap = self._heap
        cdef list out = []
        cdef _Waiter w
        while len(heap) and (<_Waiter>heap[0]).deadline <= now:
            w = self._heap_pop()
            if w.live:
                del self._waiters[w.msg_id]
                out.append((w.msg_id, w.resolve))
                w.live = False
                w.resolve = None
        self._expired += len(out)
        return out

    def next_deadline(self):
        """The earliest deadline of a live waiter, or None."""
        cdef list heap = self._heap
        cdef _Waiter w
        while len(heap):
            w = <_Waiter>heap[0]
            if w.live:
                return w.deadline
            self._heap_pop()
        return None

    def waiter_count(self):
        return len(self._waiters)

    cdef void _maybe_compact(self):
        cdef list heap = self._heap
        cdef Py_ssize_t i
        if len(heap) > 2 * len(self._waiters) + _HEAP_SLACK:
            heap = [w for w in heap if (<_Waiter>w).live]
            self._heap = heap
            # heapify: sift down every inner node, last first
            for i in range(len(heap) // 2 - 1, -1, -1):
                self._sift_down(i)

    # binary min-heap on (deadline, seq) over a list of _Waiter, compared in C

    cdef void _heap_push(self, _Waiter w):
        cdef list heap = self._heap
        heap.append(w)
        cdef Py_ssize_t i = len(heap) - 1
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            p = heap[parent]
            if not _before(w, <_Waiter>p):
                break
            heap[i] = p
            i = parent
        heap[i] = w

    cdef _Waiter _heap_pop(self):
        cdef list heap = self._heap
        cdef _Waiter top = <_Waiter>heap[0]
        last = heap.pop()
        if len(heap):
            heap[0] = last
            self._sift_down(0)
        return top

    cdef void _sift_down(self, Py_ssize_t i):
        cdef list heap = self._heap
        cdef Py_ssize_t n = len(heap)
        cdef Py_ssize_t child
        cdef _Waiter w = <_Waiter>heap[i]
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and _before(<_Waiter>heap[child + 1], <_Waiter>heap[child]):
                child += 1
            if not _before(<_Waiter>heap[child], w):
                break
            heap[i] = heap[child]
            i = child
        heap[i] = w

    # -- counters -----------------------------------------------------------------------------

    def stats(self):
        """sent: messages queued (a group send counts once per member); full: refusals for lack of
        room; unknown: UnknownDestination raised; resolved / expired: waiters ended that way."""
        return {
            "sent": self._sent,
            "full": self._full,
            "unknown": self._unknown,
            "resolved": self._resolved,
            "expired": self._expired,
        }


__all__ = ["HEAP_SLACK", "Router"]
