"""Edged's container environment: the kubelet's makeEnvironmentVariables semantics and texts."""

import base64
import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.edge.edged.env import (
    CONFIG_ERROR,
    ConfigError,
    QuantityError,
    expand,
    field_value,
    parse_quantity,
    resolve_env,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


POD = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": 'say "hi"\nbye'},
    },
    "spec": {"nodeName": "edge-1", "serviceAccountName": "sa1"},
    "status": {},
}

OBJECTS = {
    ("configmap", "shop", "cfg"): {"kind": "ConfigMap", "data": {"A": "from-cm", "B": "b", "MODE": "fast"}},
    ("secret", "shop", "sec"): {"kind": "Secret", "data": {"PASS": b64("s3cret"), "A": b64("from-secret")}},
}


class Lookup:
    def __init__(self, objects=OBJECTS):
        self.objects = objects
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, kind, namespace, name):
        self.calls.append((kind, namespace, name))
        return self.objects.get((kind, namespace, name))


def env_of(container, pod=POD, lookup=None, **kw):
    return resolve_env(pod, container, lookup or Lookup(), **kw)


def test_plain_values_keep_their_order_and_empty_values_are_set():
    assert env_of({"env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}, {"name": "E"}]}) == [
        ("B", "2"),
        ("A", "1"),
        ("E", ""),
    ]


def test_expansion_uses_earlier_variables_only_and_escapes():
    env = [
        {"name": "HOST", "value": "db"},
        {"name": "URL", "value": "pg://$(HOST):$(PORT)/x"},
        {"name": "PORT", "value": "5432"},
        {"name": "COST", "value": "$$(HOST) costs $$5 $x $(HOST"},
        {"name": "END", "value": "ends in $"},
    ]
    assert dict(env_of({"env": env})) == {
        "HOST": "db",
        "URL": "pg://db:$(PORT)/x",  # PORT comes later: left as written
        "PORT": "5432",
        "COST": "$(HOST) costs $5 $x $(HOST",
        "END": "ends in $",
    }


def test_expansion_sees_env_from_values_and_redefinitions():
    c = {
        "envFrom": [{"configMapRef": {"name": "cfg"}}],
        "env": [
            {"name": "X", "value": "$(MODE)-$(A)"},
            {"name": "A", "value": "new"},
            {"name": "Y", "value": "$(A)"},
        ],
    }
    assert dict(env_of(c))["X"] == "fast-from-cm"
    assert dict(env_of(c))["Y"] == "new"


# A model of the expansion written differently (one regex) that the implementation must agree with.
_MODEL = re.compile(r"\$(\$|\(([^)]*)\)|.)", re.DOTALL)


def _model(text: str, env: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(1) == "$":
            return "$"
        if m.group(2) is not None:
            return env.get(m.group(2), "$(" + m.group(2) + ")")
        if m.group(1) == "(":  # an unclosed "$(": kept
            return "$("
        return "$" + m.group(1)

    return _MODEL.sub(repl, text)


@given(
    st.text(alphabet="$()ABab x\n", max_size=40),
    st.dictionaries(st.sampled_from(["A", "B", "ab", ""]), st.text(alphabet="$()xy", max_size=5)),
)
def test_expansion_matches_the_model(text, env):
    assert expand(text, lambda k: env.get(k, "$(" + k + ")")) == _model(text, env)


@given(st.text(max_size=40))
def test_doubling_every_dollar_makes_any_text_literal(text):
    assert expand(text.replace("$", "$$"), lambda k: "WRONG") == text


def test_config_map_and_secret_keys():
    c = {
        "env": [
            {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
            {"name": "P", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASS"}}},
        ]
    }
    lookup = Lookup()
    assert env_of(c, lookup=lookup) == [("M", "fast"), ("P", "s3cret")]
    assert lookup.calls == [("configmap", "shop", "cfg"), ("secret", "shop", "sec")]


def test_each_object_is_looked_up_once():
    c = {
        "envFrom": [{"configMapRef": {"name": "cfg"}}],
        "env": [
            {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
            {"name": "N", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "B"}}},
        ],
    }
    lookup = Lookup()
    env_of(c, lookup=lookup)
    assert lookup.calls == [("configmap", "shop", "cfg")]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        ({"configMapKeyRef": {"name": "cfg", "key": "k"}}, "couldn't find key k in ConfigMap shop/cfg"),
        ({"secretKeyRef": {"name": "sec", "key": "k"}}, "couldn't find key k in Secret shop/sec"),
    ],
)
def test_missing_references_fail_with_the_kubelet_texts(ref, message):
    with pytest.raises(ConfigError) as info:
        env_of({"env": [{"name": "V", "valueFrom": ref}]})
    assert info.value.reason == CONFIG_ERROR == "CreateContainerConfigError"
    assert info.value.message == message


@pytest.mark.parametrize(
    "ref",
    [
        {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}},
        {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}},
        {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}},
        {"secretKeyRef": {"name": "sec", "key": "k", "optional": True}},
    ],
)
def test_optional_references_leave_the_variable_unset(ref):
    assert env_of({"env": [{"name": "V", "valueFrom": ref}, {"name": "W", "value": "w"}]}) == [("W", "w")]


def test_env_from_prefix_secret_and_override_order():
    c = {
        "envFrom": [
            {"configMapRef": {"name": "cfg"}},
            {"secretRef": {"name": "sec"}, "prefix": "S_"},
            {"secretRef": {"name": "sec"}},  # A from the secret replaces A from the configmap
            {"configMapRef": {"name": "gone", "optional": True}},
        ],
        "env": [{"name": "B", "value": "env-wins"}],
    }
    assert dict(env_of(c)) == {
        "A": "from-secret",
        "B": "env-wins",
        "MODE": "fast",
        "S_PASS": "s3cret",
        "S_A": "from-secret",
        "PASS": "s3cret",
    }


def test_env_from_missing_object_fails_unless_optional():
    with pytest.raises(ConfigError, match=r'^secret "gone" not found$'):
        env_of({"envFrom": [{"secretRef": {"name": "gone"}}]})


def test_field_refs():
    fields = [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels['app']",
        "metadata.labels['missing']",
        "metadata.annotations['note']",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.podIP",
        "status.hostIP",
        "metadata.labels",
    ]
    c = {
        "env": [
            {"name": "F%d" % i, "valueFrom": {"fieldRef": {"fieldPath": f}}} for i, f in enumerate(fields)
        ]
    }
    values = [v for _, v in env_of(c, pod_ip="10.0.0.5", host_ip="192.168.1.9")]
    assert values == [
        "web",
        "shop",
        "u-1",
        "web",
        "",
        'say "hi"\nbye',
        "edge-1",
        "sa1",
        "10.0.0.5",
        "192.168.1.9",
        'app="web"\ntier="front"',
    ]
    assert field_value(POD, "metadata.annotations") == 'note="say \\"hi\\"\\nbye"'


def test_unsupported_field_path():
    with pytest.raises(ConfigError, match=r"unsupported fieldPath: spec\.hostname"):
        env_of({"env": [{"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "spec.hostname"}}}]})


RESOURCES = {
    "name": "app",
    "resources": {"limits": {"memory": "300Mi", "cpu": "1500m"}, "requests": {"cpu": "250m", "memory": "1G"}},
}


@pytest.mark.parametrize(
    ("ref", "value"),
    [
        ({"resource": "limits.memory"}, str(300 * 1024 * 1024)),
        ({"resource": "limits.memory", "divisor": "1Mi"}, "300"),
        ({"resource": "limits.memory", "divisor": "1Gi"}, "1"),  # rounded up
        ({"resource": "limits.cpu"}, "2"),  # 1.5 cores rounded up
        ({"resource": "limits.cpu", "divisor": "1m"}, "1500"),
        ({"resource": "requests.cpu", "divisor": "100m"}, "3"),
        ({"resource": "requests.memory", "divisor": "1M"}, "1000"),
        ({"resource": "requests.ephemeral-storage"}, "0"),
        ({"resource": "limits.ephemeral-storage", "divisor": "1Gi"}, "20"),  # node allocatable
        ({"resource": "limits.memory", "containerName": "side"}, "64"),
    ],
)
def test_resource_field_refs(ref, value):
    pod = {
        **POD,
        "spec": {"containers": [RESOURCES, {"name": "side", "resources": {"limits": {"memory": 64}}}]},
    }
    c = {**RESOURCES, "env": [{"name": "R", "valueFrom": {"resourceFieldRef": ref}}]}
    assert env_of(c, pod=pod, node_allocatable={"ephemeral-storage": "20Gi", "cpu": "4"}) == [("R", value)]


def test_unsupported_resource_and_bad_divisor():
    with pytest.raises(ConfigError, match=r"unsupported container resource : limits\.gpu"):
        env_of({"env": [{"name": "R", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]})
    with pytest.raises(ConfigError, match=r"limits\.cpu"):
        env_of(
            {
                "env": [
                    {
                        "name": "R",
                        "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "x"}},
                    }
                ]
            }
        )


def test_bad_secret_encoding_and_nul_bytes_are_config_errors():
    objects = {
        ("secret", "shop", "bad"): {"kind": "Secret", "metadata": {"name": "bad"}, "data": {"K": "%%%"}}
    }
    with pytest.raises(ConfigError, match=r"data\[K\] is not valid base64"):
        env_of({"envFrom": [{"secretRef": {"name": "bad"}}]}, lookup=Lookup(objects))
    objects = {("secret", "shop", "nul"): {"data": {"K": b64("a\x00b")}}}
    with pytest.raises(ConfigError, match="'K'"):
        env_of({"envFrom": [{"secretRef": {"name": "nul"}}]}, lookup=Lookup(objects))


def test_non_utf8_secret_bytes_survive_for_execve():
    objects = {("secret", "shop", "bin"): {"data": {"K": base64.b64encode(b"\xff\xfe").decode()}}}
    [(_name, value)] = env_of({"envFrom": [{"secretRef": {"name": "bin"}}]}, lookup=Lookup(objects))
    assert value.encode("utf-8", "surrogateescape") == b"\xff\xfe"


def test_namespace_defaults_to_default():
    lookup = Lookup()
    with pytest.raises(ConfigError):
        resolve_env({"metadata": {"name": "p"}}, {"envFrom": [{"configMapRef": {"name": "x"}}]}, lookup)
    assert lookup.calls == [("configmap", "default", "x")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("512Mi", 512 * 2**20),
        ("1e3", 1000),
        ("1.5Gi", 3 * 2**29),
        ("2", 2),
        (2, 2),
        (0.5, Fraction(1, 2)),
        ("1k", 1000),
        ("1E", 10**18),
        ("1Ki", 1024),
        ("+3", 3),
        (".5", Fraction(1, 2)),
    ],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1Zi", "1..2", True, None, "1 Mi", "--1"])
def test_parse_quantity_rejects(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)
