"""Pure-Python twin of the MQTT topic-filter trie (see topic.py for the contract)."""

from collections.abc import Hashable

from .errors import InvalidTopic

__all__ = ["TopicTrie", "validate_filter", "validate_topic"]

MAX_BYTES = 65535
# Up to this many code points a string cannot exceed MAX_BYTES in UTF-8 (4 bytes each at most).
_SAFE_LEN = MAX_BYTES // 4


def _show(s: str) -> str:
    return repr(s) if len(s) <= 64 else repr(s[:48]) + f"... ({len(s)} chars)"


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _common_error(kind: str, s: str) -> InvalidTopic | None:
    if not isinstance(s, str):
        raise TypeError(f"topic {kind} must be str, not {type(s).__name__}")
    if not s:
        return InvalidTopic(f"invalid topic {kind} {_show(s)}: empty")
    if "\0" in s:
        return InvalidTopic(f"invalid topic {kind} {_show(s)}: contains U+0000")
    if len(s) > _SAFE_LEN:
        n = _utf8_len(s)
        if n > MAX_BYTES:
            return InvalidTopic(f"invalid topic {kind} {_show(s)}: longer than {MAX_BYTES} UTF-8 bytes ({n})")
    return None


def validate_filter(f: str) -> None:
    """Raise InvalidTopic unless `f` is a valid MQTT 3.1.1 topic filter."""
    err = _common_error("filter", f)
    if err is not None:
        raise err
    if "#" not in f and "+" not in f:
        return
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


def validate_topic(t: str) -> None:
    """Raise InvalidTopic unless `t` is a valid MQTT 3.1.1 topic name (no wildcards)."""
    err = _common_error("name", t)
    if err is not None:
        raise err
    if "+" in t or "#" in t:
        raise InvalidTopic(f"invalid topic name {_show(t)}: wildcards '+' and '#' are not allowed")


class _Node:
    """One trie level: literal children by name, the '+' and '#' children apart (looked up on every
    match), and the subscribers of the filter ending here (dict as an insertion-ordered set)."""

    __slots__ = ("children", "hash", "plus", "subs")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.plus: _Node | None = None
        self.hash: _Node | None = None
        self.subs: dict[Hashable, None] = {}

    def empty(self) -> bool:
        return not self.subs and not self.children and self.plus is None and self.hash is None


class TopicTrie:
    """MQTT topic filters → subscribers.

    `match` order: levels are walked left to right keeping the nodes reached so far in order (for
    each node: its literal child before its '+' child). At each level, the '#' filters hanging off the
    reached nodes contribute first; after the last level, each reached node contributes its own
    subscribers and then its '#' child's. Within one filter, subscribers keep subscription order; a
    subscriber is listed once, at its first position.
    """

    __slots__ = ("_count", "_filters", "_root")

    def __init__(self) -> None:
        self._root = _Node()
        self._filters: dict[str, _Node] = {}  # filter → its node, in order of first subscription
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def filters(self) -> list[str]:
        return list(self._filters)

    def subscribers(self, filter: str) -> list:
        node = self._filters.get(filter)
        return [] if node is None else list(node.subs)

    def subscribe(self, filter: str, subscriber: Hashable) -> bool:
        node = self._filters.get(filter)
        if node is None:
            validate_filter(filter)
            hash(subscriber)  # an unhashable subscriber must fail before any node is created
            node = self._root
            for lvl in filter.split("/"):
                if lvl == "+":
                    nxt = node.plus
                    if nxt is None:
                        nxt = node.plus = _Node()
                elif lvl == "#":
                    nxt = node.hash
                    if nxt is None:
                        nxt = node.hash = _Node()
                else:
                    nxt = node.children.get(lvl)
                    if nxt is None:
                        nxt = node.children[lvl] = _Node()
                node = nxt
            self._filters[filter] = node
        elif subscriber in node.subs:
            return False
        node.subs[subscriber] = None
        self._count += 1
        return True

    def unsubscribe(self, filter: str, subscriber: Hashable) -> bool:
        validate_filter(filter)
        node = self._filters.get(filter)
        if node is None or subscriber not in node.subs:
            return False
        del node.subs[subscriber]
        self._count -= 1
        if node.subs:
            return True
        del self._filters[filter]
        # Walk down again recording the path, then prune empty nodes bottom-up.
        path = []
        node = self._root
        for lvl in filter.split("/"):
            path.append((node, lvl))
            node = node.plus if lvl == "+" else node.hash if lvl == "#" else node.children[lvl]
        for parent, lvl in reversed(path):
            if not node.empty():
                break
            if lvl == "+":
                parent.plus = None
            elif lvl == "#":
                parent.hash = None
            else:
                del parent.children[lvl]
            node = parent
        return True

    def match(self, topic: str) -> list:
        if not topic or "+" in topic or "#" in topic or "\0" in topic or len(topic) > _SAFE_LEN:
            validate_topic(topic)
        levels = topic.split("/")
        found = []  # subscriber dicts of the matching filters, in match order
        if topic[0] == "$":
            # $-topics: wildcards in the first level never match, so start below the literal level.
            node = self._root.children.get(levels[0])
            if node is None:
                return []
            nodes = [node]
            start = 1
        else:
            nodes = [self._root]
            start = 0
        for i in range(start, len(levels)):
            lvl = levels[i]
            nxt = []
            for node in nodes:
                if node.hash is not None:
                    found.append(node.hash.subs)
                child = node.children.get(lvl)
                if child is not None:
                    nxt.append(child)
                if node.plus is not None:
                    nxt.append(node.plus)
            if not nxt:
                break
            nodes = nxt
        else:
            for node in nodes:
                if node.subs:
                    found.append(node.subs)
                if node.hash is not None:
                    found.append(node.hash.subs)
        if not found:
            return []
        if len(found) == 1:
            return list(found[0])
        out: dict = {}
        for subs in found:
            out.update(subs)
        return list(out)
