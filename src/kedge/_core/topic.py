"""MQTT 3.1.1 topic-filter trie for the EventBus.

`validate_filter(f)` / `validate_topic(t)` raise InvalidTopic naming the problem and the string: empty,
U+0000, longer than 65535 UTF-8 bytes, a filter's '#' not alone in its level or not last, a filter's '+'
not alone in its level, any '+' or '#' in a topic name. Empty levels are legal.

`TopicTrie`: `subscribe(filter, sub) -> bool` (True if the pair is new), `unsubscribe(filter, sub) ->
bool` (prunes empty nodes), `subscribers(filter)` (exact filter), `len()` (number of pairs), `filters()`
(in order of first subscription), `match(topic)` (each subscriber once). '+' matches one level (also an
empty one); '#' matches the parent level and everything below; topics starting with '$' are not matched
by a first-level '+' or '#'.

`match` order (deterministic, the same in both twins): levels are walked left to right keeping the nodes
reached so far in order (per node: literal child before '+' child). At each level the '#' filters hanging
off the reached nodes contribute first; after the last level each reached node contributes its own
subscribers, then its '#' child's. Within one filter subscribers keep subscription order; a subscriber
appears once, at its first position.
"""

from ._compat import NO_EXTENSIONS

if NO_EXTENSIONS:
    from ._topic_py import TopicTrie, validate_filter, validate_topic

    COMPILED = False
else:
    try:
        from ._topic_c import TopicTrie, validate_filter, validate_topic

        COMPILED = True
    except ImportError:  # a test asserts COMPILED when extensions are expected
        from ._topic_py import TopicTrie, validate_filter, validate_topic

        COMPILED = False

__all__ = ["TopicTrie", "validate_filter", "validate_topic"]
