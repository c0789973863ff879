"""TopicTrie and topic validation: both twins, MQTT 3.1.1 examples, and a brute-force property test."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedge._core import topic
from kedge._core.errors import CoreError, InvalidTopic
from tests.twins import load_twin


def test_selector_exports():
    assert topic.__all__ == ["TopicTrie", "validate_filter", "validate_topic"]
    assert isinstance(topic.COMPILED, bool)


def _trie(mod, *filters):
    t = mod.TopicTrie()
    for f in filters:
        assert t.subscribe(f, f) is True
    return t


def _matches(t, name):
    return sorted(t.match(name))


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f",
    [
        "a",
        "a/b",
        "/",
        "//",
        "a//b",
        "/a",
        "a/",
        "#",
        "+",
        "+/+",
        "/+",
        "+/",
        "a/#",
        "a/+/b/#",
        "$SYS/#",
        "é/ü",
    ],
)
def test_valid_filters(topic_mod, f):
    assert topic_mod.validate_filter(f) is None


@pytest.mark.parametrize(
    ("f", "msg"),
    [
        ("", "invalid topic filter '': empty"),
        ("a/\0", "invalid topic filter 'a/\\x00': contains U+0000"),
        ("a#", "invalid topic filter 'a#': '#' must be alone in its level"),
        ("a/#b", "invalid topic filter 'a/#b': '#' must be alone in its level"),
        ("#/a", "invalid topic filter '#/a': '#' must be the last level"),
        ("a/#/", "invalid topic filter 'a/#/': '#' must be the last level"),
        ("a+", "invalid topic filter 'a+': '+' must be alone in its level"),
        ("a/+b/c", "invalid topic filter 'a/+b/c': '+' must be alone in its level"),
        ("++", "invalid topic filter '++': '+' must be alone in its level"),
        # Several problems: levels are checked left to right, '#' before '+' within one level.
        ("+#", "invalid topic filter '+#': '#' must be alone in its level"),
        ("a+/#/b", "invalid topic filter 'a+/#/b': '+' must be alone in its level"),
    ],
)
def test_invalid_filters(topic_mod, f, msg):
    with pytest.raises(InvalidTopic) as ei:
        topic_mod.validate_filter(f)
    assert str(ei.value) == msg
    assert isinstance(ei.value, CoreError)
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("t", ["a", "a/b", "/", "a//b", "/a", "a/", "$SYS/x", "é"])
def test_valid_topics(topic_mod, t):
    assert topic_mod.validate_topic(t) is None


@pytest.mark.parametrize(
    ("t", "msg"),
    [
        ("", "invalid topic name '': empty"),
        ("a\0b", "invalid topic name 'a\\x00b': contains U+0000"),
        ("a/+", "invalid topic name 'a/+': wildcards '+' and '#' are not allowed"),
        ("#", "invalid topic name '#': wildcards '+' and '#' are not allowed"),
        ("a/b#", "invalid topic name 'a/b#': wildcards '+' and '#' are not allowed"),
        ("+\0", "invalid topic name '+\\x00': contains U+0000"),
    ],
)
def test_invalid_topics(topic_mod, t, msg):
    with pytest.raises(InvalidTopic) as ei:
        topic_mod.validate_topic(t)
    assert str(ei.value) == msg


def test_length_limit_counts_utf8_bytes(topic_mod):
    ok_ascii = "a" * 65535
    topic_mod.validate_topic(ok_ascii)
    topic_mod.validate_filter(ok_ascii)
    with pytest.raises(InvalidTopic, match=r"longer than 65535 UTF-8 bytes \(65536\)") as ei:
        topic_mod.validate_topic("a" * 65536)
    assert str(ei.value).startswith("invalid topic name 'aaaa")
    assert "... (65536 chars)" in str(ei.value)
    # 'é' is 2 bytes: 32768 of them are 65536 bytes though only 32768 characters.
    with pytest.raises(InvalidTopic, match=r"longer than 65535 UTF-8 bytes \(65536\)"):
        topic_mod.validate_filter("é" * 32768)
    topic_mod.validate_filter("é" * 32767 + "a")
    with pytest.raises(InvalidTopic, match="longer than 65535"):
        topic_mod.TopicTrie().match("€" * 21846)  # 3 bytes each: 65538
    # A long but valid topic still matches.
    t = topic_mod.TopicTrie()
    t.subscribe("#", "all")
    assert t.match("é" * 32767) == ["all"]
    assert t.match("x/" + "é" * 32760) == ["all"]


def test_non_str_is_a_type_error(topic_mod):
    for bad in (None, b"a/b", 3):
        with pytest.raises(TypeError):
            topic_mod.validate_topic(bad)
        with pytest.raises(TypeError):
            topic_mod.validate_filter(bad)
        with pytest.raises(TypeError):
            topic_mod.TopicTrie().match(bad)
        with pytest.raises(TypeError):
            topic_mod.TopicTrie().subscribe(bad, "s")


def test_subscribe_and_match_validate(topic_mod):
    t = topic_mod.TopicTrie()
    with pytest.raises(InvalidTopic, match="'a/#/b': '#' must be the last level"):
        t.subscribe("a/#/b", "s")
    with pytest.raises(InvalidTopic, match="'a/#/b': '#' must be the last level"):
        t.unsubscribe("a/#/b", "s")
    with pytest.raises(InvalidTopic, match="invalid topic name 'a/\\+'"):
        t.match("a/+")
    with pytest.raises(InvalidTopic, match="empty"):
        t.match("")
    assert len(t) == 0
    assert t.filters() == []


# -- matching: MQTT 3.1.1 §4.7 examples -----------------------------------------------------------


def test_multi_level_wildcard_spec_examples(topic_mod):
    t = _trie(topic_mod, "sport/tennis/player1/#")
    for name in (
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ):
        assert t.match(name) == ["sport/tennis/player1/#"], name
    assert t.match("sport/tennis/player1/") == ["sport/tennis/player1/#"]
    assert t.match("sport/tennis/player2") == []
    assert t.match("sport/tennis") == []
    t = _trie(topic_mod, "sport/#")
    assert t.match("sport") == ["sport/#"]
    assert t.match("sport/") == ["sport/#"]
    assert t.match("sports") == []


def test_single_level_wildcard_spec_examples(topic_mod):
    t = _trie(topic_mod, "sport/tennis/+")
    assert t.match("sport/tennis/player1") == ["sport/tennis/+"]
    assert t.match("sport/tennis/player2") == ["sport/tennis/+"]
    assert t.match("sport/tennis/player1/ranking") == []
    t = _trie(topic_mod, "sport/+")
    assert t.match("sport") == []
    assert t.match("sport/") == ["sport/+"]  # '+' matches an empty level
    t = _trie(topic_mod, "+/+", "/+", "+")
    assert _matches(t, "/finance") == ["+/+", "/+"]
    assert t.match("finance") == ["+"]
    assert _matches(t, "/") == ["+/+", "/+"]
    assert t.match("a/b/c") == []
    t = _trie(topic_mod, "+/tennis/#")
    assert t.match("sport/tennis") == ["+/tennis/#"]
    assert t.match("sport/tennis/x/y") == ["+/tennis/#"]


def test_hash_alone_matches_everything_but_dollar_topics(topic_mod):
    t = _trie(topic_mod, "#")
    for name in ("a", "/", "a/b/c", "//", "x$", "a/$b"):
        assert t.match(name) == ["#"], name
    assert t.match("$SYS") == []
    assert t.match("$SYS/x") == []


def test_dollar_topics(topic_mod):
    t = _trie(topic_mod, "#", "+/monitor/Clients", "+", "+/#", "$SYS/#", "$SYS/monitor/+", "$SYS")
    assert _matches(t, "$SYS/monitor/Clients") == ["$SYS/#", "$SYS/monitor/+"]
    assert _matches(t, "$SYS") == ["$SYS", "$SYS/#"]
    assert _matches(t, "$SYS/") == ["$SYS/#"]
    assert t.match("$other/monitor/Clients") == []
    assert _matches(t, "A/monitor/Clients") == ["#", "+/#", "+/monitor/Clients"]
    # Only the first level counts: '$' further down is an ordinary character.
    assert _matches(t, "a/$SYS") == ["#", "+/#"]


def test_empty_levels(topic_mod):
    t = _trie(topic_mod, "a//b", "a/+/b", "/a", "a/", "+/")
    assert _matches(t, "a//b") == ["a/+/b", "a//b"]
    assert t.match("/a") == ["/a"]
    assert _matches(t, "a/") == ["+/", "a/"]
    assert t.match("a") == []


def test_match_lists_each_subscriber_once(topic_mod):
    t = topic_mod.TopicTrie()
    t.subscribe("a/b", "s1")
    t.subscribe("a/+", "s1")
    t.subscribe("#", "s1")
    t.subscribe("a/#", "s2")
    t.subscribe("a/b", "s2")
    assert _matches(t, "a/b") == ["s1", "s2"]
    assert len(t.match("a/b")) == 2


def test_match_order_is_documented_walk_order(topic_mod):
    t = topic_mod.TopicTrie()
    for f, s in [("a/b", "exact"), ("a/+", "plus"), ("#", "root#"), ("a/#", "a#"), ("a/b/#", "ab#")]:
        t.subscribe(f, s)
    t.subscribe("a/b", "exact2")
    # Level 'a': root's '#'; level 'b': a's '#'; end: 'a/b' subs, then its '#', then 'a/+'.
    assert t.match("a/b") == ["root#", "a#", "exact", "exact2", "ab#", "plus"]
    # A subscriber matched twice stays at its first position.
    t.subscribe("a/+", "root#")
    assert t.match("a/b") == ["root#", "a#", "exact", "exact2", "ab#", "plus"]


def test_subscribers_are_arbitrary_hashables(topic_mod):
    t = topic_mod.TopicTrie()
    s1, s2 = object(), ("module", 3)
    t.subscribe("x/+", s1)
    t.subscribe("x/y", s2)
    assert t.match("x/y") == [s2, s1]
    with pytest.raises(TypeError):
        t.subscribe("x/z", [])  # unhashable
    assert t.filters() == ["x/+", "x/y"]
    assert len(t) == 2


# -- subscribe / unsubscribe ---------------------------------------------------------------------


def test_duplicate_subscription(topic_mod):
    t = topic_mod.TopicTrie()
    assert t.subscribe("a/+", "s") is True
    assert t.subscribe("a/+", "s") is False
    assert t.subscribe("a/+", "s2") is True
    assert t.subscribe("a/#", "s") is True
    assert len(t) == 3
    assert t.subscribers("a/+") == ["s", "s2"]
    assert t.subscribers("a/#") == ["s"]
    assert t.subscribers("a/b") == []
    assert t.filters() == ["a/+", "a/#"]


def test_unsubscribe(topic_mod):
    t = topic_mod.TopicTrie()
    t.subscribe("a/+", "s")
    t.subscribe("a/+", "s2")
    assert t.unsubscribe("a/+", "nope") is False
    assert t.unsubscribe("b/+", "s") is False
    assert t.unsubscribe("a/+", "s") is True
    assert t.unsubscribe("a/+", "s") is False
    assert len(t) == 1
    assert t.match("a/x") == ["s2"]
    assert t.unsubscribe("a/+", "s2") is True
    assert len(t) == 0
    assert t.filters() == []
    assert t.match("a/x") == []
    assert t.subscribers("a/+") == []


def _node_count(trie) -> int:
    # White-box: both twins expose the nodes (read-only in the compiled one) under the same names.
    seen = 0
    stack = [trie._root]
    while stack:
        n = stack.pop()
        seen += 1
        stack.extend(n.children.values())
        stack.extend(x for x in (n.plus, n.hash) if x is not None)
    return seen


def test_unsubscribe_prunes_empty_nodes(topic_mod):
    t = topic_mod.TopicTrie()
    assert _node_count(t) == 1
    t.subscribe("a/b/c/d", 1)
    t.subscribe("a/b/+/#", 2)
    t.subscribe("a/x", 3)
    assert _node_count(t) == 8  # root a b c d + # x
    t.unsubscribe("a/b/c/d", 1)
    assert _node_count(t) == 6  # c and d gone; b stays for '+/#'
    t.unsubscribe("a/b/+/#", 2)
    assert _node_count(t) == 3  # root a x
    t.unsubscribe("a/x", 3)
    assert _node_count(t) == 1
    assert t._root.children == {}
    assert t._root.plus is None
    assert t._root.hash is None


def test_unsubscribe_of_one_of_several_keeps_nodes(topic_mod):
    t = topic_mod.TopicTrie()
    t.subscribe("a/+", 1)
    t.subscribe("a/+", 2)
    t.unsubscribe("a/+", 1)
    assert _node_count(t) == 3
    t.subscribe("#", 1)
    t.unsubscribe("#", 1)
    assert _node_count(t) == 3
    assert t._root.hash is None


def test_resubscribe_after_prune(topic_mod):
    t = topic_mod.TopicTrie()
    t.subscribe("a/b/c", 1)
    t.subscribe("a/#", 2)
    t.unsubscribe("a/b/c", 1)
    assert t.match("a/b/c") == [2]
    t.unsubscribe("a/#", 2)
    assert t.match("a/b/c") == []
    assert t.match("a") == []
    t.subscribe("a/b/c", 1)
    assert t.match("a/b/c") == [1]
    assert t.filters() == ["a/b/c"]


def test_unsubscribe_keeps_shared_prefix(topic_mod):
    t = topic_mod.TopicTrie()
    t.subscribe("a/b", 1)
    t.subscribe("a/b/c", 2)
    t.subscribe("a", 3)
    t.unsubscribe("a/b", 1)
    assert t.match("a/b/c") == [2]
    assert t.match("a") == [3]
    assert t.match("a/b") == []
    t.unsubscribe("a/b/c", 2)
    assert t.match("a") == [3]


# -- shapes that leave the compiled twin's fast path (many levels, wide frontiers, many children) --


def test_deep_topic(topic_mod):
    t = topic_mod.TopicTrie()
    deep = "/".join("l%d" % i for i in range(40))
    t.subscribe(deep, "exact")
    t.subscribe("/".join(["+"] * 40), "plus")
    t.subscribe("l0/#", "hash")
    t.subscribe("/".join(["+"] * 39), "short")
    assert t.match(deep) == ["hash", "exact", "plus"]
    assert t.match(deep + "/x") == ["hash"]
    assert t.match("a/a") == []
    with pytest.raises(InvalidTopic, match="wildcards"):
        t.match(deep + "/#")  # the wildcard sits past the levels the compiled twin splits in C
    with pytest.raises(InvalidTopic, match="U\\+0000"):
        t.match(deep + "/\0")


def test_wide_frontier_and_many_matching_filters(topic_mod):
    # Every filter over {a, +} for 7 levels: 128 nodes are reached at the last level.
    t = topic_mod.TopicTrie()
    filters = []
    for bits in range(128):
        f = "/".join("+" if bits >> i & 1 else "a" for i in range(7))
        filters.append(f)
        t.subscribe(f, f)
    t.subscribe("#", "all")
    got = t.match("a/a/a/a/a/a/a")
    assert sorted(got) == sorted([*filters, "all"])
    assert got[0] == "all"
    assert got[1] == "a/a/a/a/a/a/a"  # literal branches come first at every level
    assert got[-1] == "+/+/+/+/+/+/+"
    assert sorted(t.match("b/a/a/a/a/a/a")) == sorted([f for f in filters if f[0] == "+"] + ["all"])


def test_many_children_added_and_removed(topic_mod):
    t = topic_mod.TopicTrie()
    for i in range(1000):
        t.subscribe("x/%d/y" % i, i)
    for i in range(0, 1000, 2):
        assert t.unsubscribe("x/%d/y" % i, i) is True
    for i in range(1000):
        assert t.match("x/%d/y" % i) == ([] if i % 2 == 0 else [i])
    for i in range(1, 1000, 2):
        t.unsubscribe("x/%d/y" % i, i)
    assert _node_count(t) == 1
    for i in range(0, 1000, 3):
        t.subscribe("x/%d/y" % i, -i)
    assert t.match("x/999/y") == [-999]
    assert t.match("x/998/y") == []
    assert len(t.filters()) == 334


def test_non_ascii_levels(topic_mod):
    t = topic_mod.TopicTrie()
    t.subscribe("a/b", "ab")
    t.subscribe("é/+", "e+")
    t.subscribe("+/€", "euro")
    t.subscribe("💡/#", "bulb")
    t.subscribe("a/€/b", "aeb")
    assert t.match("é/b") == ["e+"]  # a wide topic, a narrow stored level
    assert t.match("a/b") == ["ab"]
    assert t.match("é/€") == ["e+", "euro"]
    assert t.match("💡/x/y") == ["bulb"]
    assert t.match("a/€/b") == ["aeb"]
    assert t.match("a/€") == ["euro"]
    assert t.match("a/e") == []


# -- property test against a brute-force matcher ---------------------------------------------------


def brute_match(f: str, name: str) -> bool:
    fl, tl = f.split("/"), name.split("/")
    if name.startswith("$") and fl[0] in ("+", "#"):
        return False
    for i, lvl in enumerate(fl):
        if lvl == "#":
            return True  # matches the parent level and everything below
        if i >= len(tl):
            return False
        if lvl != "+" and lvl != tl[i]:
            return False
    return len(fl) == len(tl)


_NAME_LEVELS = ["", "a", "b", "$x", "x$", "é", "💡"]
_FILTER_LEVELS = [*_NAME_LEVELS, "+"]


@st.composite
def _filters(draw):
    levels = draw(st.lists(st.sampled_from(_FILTER_LEVELS), min_size=1, max_size=4))
    if draw(st.booleans()):
        levels = [*levels[:3], "#"]
    f = "/".join(levels)
    return f or "a"  # a single empty level joins to '' which is not a valid filter


_names = st.lists(st.sampled_from(_NAME_LEVELS), min_size=1, max_size=5).map("/".join).filter(bool)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subs=st.lists(st.tuples(_filters(), st.integers(0, 5)), max_size=25),
    removals=st.lists(st.integers(0, 30), max_size=5),
    names=st.lists(_names, min_size=1, max_size=8),
)
def test_match_equals_brute_force(topic_mod, subs, removals, names):
    t = topic_mod.TopicTrie()
    pairs: dict[tuple[str, int], None] = {}
    for f, s in subs:
        assert t.subscribe(f, s) is ((f, s) not in pairs)
        pairs[(f, s)] = None
    for r in removals:
        if pairs and r < len(subs):
            f, s = subs[r]
            assert t.unsubscribe(f, s) is ((f, s) in pairs)
            pairs.pop((f, s), None)
    assert len(t) == len(pairs)
    assert sorted(t.filters()) == sorted({f for f, _ in pairs})
    for name in names:
        got = t.match(name)
        assert len(got) == len(set(got)), got
        expected = {s for f, s in pairs if brute_match(f, name)}
        assert set(got) == expected, (name, got, expected)


@settings(max_examples=200, deadline=None)
@given(
    subs=st.lists(st.tuples(_filters(), st.integers(0, 5)), max_size=25),
    names=st.lists(_names, min_size=1, max_size=8),
)
def test_twins_agree_on_match_order(subs, names):
    c, py = load_twin("topic", "c").TopicTrie(), load_twin("topic", "py").TopicTrie()
    for f, s in subs:
        assert c.subscribe(f, s) == py.subscribe(f, s)
    assert c.filters() == py.filters()
    for name in names:
        assert c.match(name) == py.match(name)
