"""Label and field selectors, parsed and matched as kube-apiserver does (apimachinery labels and fields).

`parse_label_selector` follows `labels.Parse` token for token, so malformed selectors fail with the
messages kubectl users know (`unable to parse requirement: ...`, `found 'b', expected: ...`);
`parse_field_selector` follows `fields.ParseSelector` and the per-kind field label conversion.
Errors are `ApiError.bad_request`, as the handlers of kube-apiserver answer them.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kedge.apiserver.errors import ApiError
from kedge.apiserver.validation import (
    Cause,
    Decoder,
    aggregate_text,
    invalid,
    is_label_key,
    is_label_value,
    not_supported,
    validate_label_selector,
)

IN: Final = "in"
NOT_IN: Final = "notin"
EQUALS: Final = "="
DOUBLE_EQUALS: Final = "=="
NOT_EQUALS: Final = "!="
EXISTS: Final = "exists"
DOES_NOT_EXIST: Final = "!"
GREATER_THAN: Final = "gt"
LESS_THAN: Final = "lt"

_BINARY_OPERATORS: Final = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_OPERATORS: Final = (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST)
_INT64_RE: Final = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64), None where Go fails."""
    if not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


class InvalidSelector(ValueError):
    """A metav1.LabelSelector object that does not validate; `causes` are its field errors."""

    def __init__(self, causes: list[Cause]) -> None:
        super().__init__(aggregate_text(causes))
        self.causes = causes


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: key, operator (IN, EQUALS, ...) and its values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if self.operator in (GREATER_THAN, LESS_THAN) and present and len(self.values) == 1:
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if self.operator == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator == EXISTS:
            return self.key
        symbol = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(
            self.operator, self.operator
        )
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            values = "(%s)" % values
        return self.key + symbol + values


def _requirement_causes(key: str, operator: str, values: Sequence[str]) -> list[Cause]:
    """labels.NewRequirement's checks, with its field paths (key, values[i][key])."""
    causes = [invalid("key", key, "; ".join(errs))] if (errs := is_label_key(key)) else []
    if operator in (IN, NOT_IN):
        if not values:
            causes.append(
                invalid("values", list(values), "for 'in', 'notin' operators, values set can't be empty")
            )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            causes.append(
                invalid("values", list(values), "exact-match compatibility requires one single value")
            )
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if values:
            causes.append(
                invalid("values", list(values), "values set must be empty for exists and does not exist")
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            causes.append(
                invalid("values", list(values), "for 'Gt', 'Lt' operators, exactly one value is required")
            )
        causes.extend(
            invalid("values[%d]" % i, v, "for 'Gt', 'Lt' operators, the value must be an integer")
            for i, v in enumerate(values)
            if _parse_int64(v) is None
        )
    else:
        causes.append(not_supported("operator", operator, _OPERATORS))
    for i, value in enumerate(values):
        errs = is_label_value(value)
        if errs:
            causes.append(invalid("values[%d][%s]" % (i, key), value, "; ".join(errs)))
    return causes


def new_requirement(key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
    """A validated Requirement; ValueError with labels.NewRequirement's message otherwise."""
    values = tuple(values)
    causes = _requirement_causes(key, operator, values)
    if causes:
        raise ValueError(aggregate_text(causes))
    return Requirement(key, operator, values)


class LabelSelector:
    """An AND of requirements. Everything (no requirements) matches all; `nothing()` matches none."""

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        # sorted by key as labels.Parse and LabelSelectorAsSelector do, for a stable string form
        self._requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing

    @classmethod
    def everything(cls) -> "LabelSelector":
        return cls()

    @classmethod
    def nothing(cls) -> "LabelSelector":
        return cls(nothing=True)

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return self._requirements

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict the selection (matches everything)."""
        return not self._nothing and not self._requirements

    @property
    def matches_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self._requirements)

    def exact_value(self, key: str) -> str | None:
        """The value the selector pins `key` to (`=`, `==`, or `in` with one value), if any."""
        for requirement in self._requirements:
            if requirement.key == key:
                single = requirement.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(requirement.values) == 1
                return requirement.values[0] if single else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        return "LabelSelector(%r)" % ("<nothing>" if self._nothing else str(self))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        normalized = [(r.key, r.operator, tuple(sorted(set(r.values)))) for r in self._requirements]
        others = [(r.key, r.operator, tuple(sorted(set(r.values)))) for r in other._requirements]
        return self._nothing == other._nothing and normalized == others

    def __hash__(self) -> int:
        return hash((self._nothing, str(self)))


# -- labels.Parse ---------------------------------------------------------------------------------------

_IDENTIFIER: Final = "identifier"
_END: Final = "end"
_ERROR: Final = "error"
_TOKENS: Final = {
    ")": "closed-par",
    ",": "comma",
    "!": "does-not-exist",
    "==": "double-equals",
    "=": "equals",
    ">": "greater-than",
    "in": "in",
    "<": "less-than",
    "!=": "not-equals",
    "notin": "not-in",
    "(": "open-par",
}
_OPERATOR_TOKENS: Final = {
    "in": IN,
    "equals": EQUALS,
    "double-equals": DOUBLE_EQUALS,
    "greater-than": GREATER_THAN,
    "less-than": LESS_THAN,
    "not-in": NOT_IN,
    "not-equals": NOT_EQUALS,
}
_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[str, str]]:
    """The labels.Lexer tokens of text, ending with the end token (a NUL character ends input, as in Go)."""
    text = text.split("\0", 1)[0]
    tokens = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos == len(text):
            tokens.append((_END, ""))
            return tokens
        start = pos
        if text[pos] in _SPECIAL:
            # the longest run of special characters that is still an operator
            best = None
            while pos < len(text) and text[pos] in _SPECIAL:
                if text[start : pos + 1] in _TOKENS:
                    best = pos + 1
                elif best is not None:
                    break
                pos += 1
            if best is None:
                tokens.append((_ERROR, "error expected: keyword found '%s'" % text[start:pos]))
            else:
                pos = best
                tokens.append((_TOKENS[text[start:pos]], text[start:pos]))
            continue
        while pos < len(text) and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        literal = text[start:pos]
        tokens.append((_TOKENS.get(literal, _IDENTIFIER), literal))


class _ParseError(Exception):
    pass


class _Parser:
    """labels.Parser: recursive descent over the tokens, `in`/`notin` read as values where one is expected."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        return self._value_context(self.tokens[self.position], values)

    def consume(self, values: bool = True) -> tuple[str, str]:
        self.position += 1
        return self._value_context(self.tokens[self.position - 1], values)

    @staticmethod
    def _value_context(token: tuple[str, str], values: bool) -> tuple[str, str]:
        if values and token[0] in ("in", "not-in"):
            return _IDENTIFIER, token[1]
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self.lookahead()
            if token in (_IDENTIFIER, "does-not-exist"):
                try:
                    requirements.append(self.requirement())
                except _ParseError as e:
                    raise _ParseError("unable to parse requirement: %s" % e) from None
                token, literal = self.consume()
                if token == _END:
                    return requirements
                if token == "comma":
                    following, following_literal = self.lookahead()
                    if following not in (_IDENTIFIER, "does-not-exist"):
                        raise _ParseError("found '%s', expected: identifier after ','" % following_literal)
                    continue
                raise _ParseError("found '%s', expected: ',' or 'end of string'" % literal)
            if token == _END:
                return requirements
            raise _ParseError("found '%s', expected: !, identifier, or 'end of string'" % literal)

    def requirement(self) -> Requirement:
        key, operator = self.key_and_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return self.checked(key, operator, [])
        operator = self.operator()
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return self.checked(key, operator, sorted(values))

    @staticmethod
    def checked(key: str, operator: str, values: list[str]) -> Requirement:
        causes = _requirement_causes(key, operator, values)
        if causes:
            raise _ParseError(aggregate_text(causes))
        return Requirement(key, operator, tuple(values))

    def key_and_operator(self) -> tuple[str, str]:
        operator = ""
        token, literal = self.consume()
        if token == "does-not-exist":
            operator = DOES_NOT_EXIST
            token, literal = self.consume()
        if token != _IDENTIFIER:
            raise _ParseError("found '%s', expected: identifier" % literal)
        errs = is_label_key(literal)
        if errs:
            # kube passes a nil field path here, which prints as <nil>
            raise _ParseError("<nil>: " + invalid("", literal, "; ".join(errs))[2])
        if self.lookahead()[0] in (_END, "comma") and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return literal, operator

    def operator(self) -> str:
        token, literal = self.consume(values=False)
        if token not in _OPERATOR_TOKENS:
            raise _ParseError("found '%s', expected: %s" % (literal, ", ".join(_BINARY_OPERATORS)))
        return _OPERATOR_TOKENS[token]

    def value_set(self) -> set[str]:
        token, literal = self.consume()
        if token != "open-par":
            raise _ParseError("found '%s' expected: '('" % literal)
        token, literal = self.lookahead()
        if token in (_IDENTIFIER, "comma"):
            values = self.identifiers()
            if self.consume()[0] != "closed-par":
                raise _ParseError("found '%s', expected: ')'" % literal)
            return values
        if token == "closed-par":  # "()" is the empty value
            self.consume()
            return {""}
        raise _ParseError("found '%s', expected: ',', ')' or identifier" % literal)

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self.consume()
            if token == _IDENTIFIER:
                values.add(literal)
                following, following_literal = self.lookahead()
                if following == "comma":
                    continue
                if following == "closed-par":
                    return values
                raise _ParseError("found '%s', expected: ',' or ')'" % following_literal)
            if token == "comma":
                # empty values around commas: "(,a)", "(a,)", "(a,,b)"
                if not values:
                    values.add("")
                following = self.lookahead()[0]
                if following == "closed-par":
                    values.add("")
                    return values
                if following == "comma":
                    values.add("")
                continue
            raise _ParseError("found '%s', expected: ',', or identifier" % literal)

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_END, "comma"):
            return {""}
        token, literal = self.consume()
        if token == _IDENTIFIER:
            return {literal}
        raise _ParseError("found '%s', expected: identifier" % literal)


def parse_label_selector(text: str) -> LabelSelector:
    """labels.Parse: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-ANDed.

    An empty text selects everything. Errors are ApiError.bad_request with kube-apiserver's message.
    """
    try:
        return LabelSelector(_Parser(text).parse())
    except _ParseError as e:
        raise ApiError.bad_request(str(e)) from None


_SELECTOR_OPERATORS: Final = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def selector_from_object(selector: Mapping[str, Any] | None, *, path: str = "selector") -> LabelSelector:
    """LabelSelectorAsSelector for a metav1.LabelSelector object.

    None selects nothing, an empty selector everything. A selector that does not validate raises
    InvalidSelector, whose causes (ValidateLabelSelector's, under `path`) fit ApiError.invalid.
    """
    if selector is None:
        return LabelSelector.nothing()
    causes = validate_label_selector(selector, path, Decoder("LabelSelector", "v1"))
    if causes:
        raise InvalidSelector(causes)
    requirements = [Requirement(k, EQUALS, (v,)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        values = tuple(expr.get("values") or ())
        requirements.append(Requirement(expr["key"], _SELECTOR_OPERATORS[expr["operator"]], values))
    return LabelSelector(requirements)


# -- fields.ParseSelector ------------------------------------------------------------------------------


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out = []
    escaping = False
    for ch in value:
        if escaping:
            if ch not in "\\,=":
                raise ApiError.bad_request("invalid field selector: invalid escape sequence: \\" + ch)
            out.append(ch)
            escaping = False
        elif ch == "\\":
            escaping = True
        elif ch in ",=":
            # Go prints the rune with %v: its code point
            raise ApiError.bad_request("invalid field selector: unescaped character in value: %d" % ord(ch))
        else:
            out.append(ch)
    if escaping:
        raise ApiError.bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    # commas split terms unless escaped
    terms, start, escaping = [], 0, False
    for i, ch in enumerate(text):
        if escaping:
            escaping = False
        elif ch == "\\":
            escaping = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms if text else []


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, i):
                return term[:i], operator, term[i + len(operator) :]
    return None


@dataclass(frozen=True)
class FieldSelector:
    """An AND of `(field, operator, value)` requirements, operator "=" or "!="."""

    requirements: tuple[tuple[str, str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        """A missing field reads as "", as in kube-apiserver."""
        for field, operator, value in self.requirements:
            if (fields.get(field, "") == value) != (operator == "="):
                return False
        return True

    def exact_value(self, field: str) -> str | None:
        """The value an `=` requirement pins `field` to, if any (used to narrow lookups)."""
        for name, operator, value in self.requirements:
            if name == field and operator == "=":
                return value
        return None

    def __str__(self) -> str:
        return ",".join("%s%s%s" % (f, o, escape_field_value(v)) for f, o, v in self.requirements)


def parse_field_selector(text: str, *, supported: frozenset[str], kind: str | None = None) -> FieldSelector:
    """fields.ParseSelector plus the field label check of the resource.

    supported: the selectable fields (`supported_fields(kind)`). kind: the built-in kind being listed,
    which decides kube-apiserver's wording for an unsupported field and Pod's `spec.host` alias; leave
    it None for custom resources. Errors are ApiError.bad_request.
    """
    requirements = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise ApiError.bad_request("invalid selector: '%s'; can't understand '%s'" % (text, term))
        field, operator, value = split
        requirements.append((field, "!=" if operator == "!=" else "=", _unescape_field_value(value)))
    converted = []
    for field, operator, value in requirements:
        if kind == "Pod" and field == "spec.host":
            field = "spec.nodeName"  # for old v1 clients
        if field not in supported:
            raise ApiError.bad_request(unsupported_field_message(field, kind))
        converted.append((field, operator, value))
    return FieldSelector(tuple(converted))


# -- selectable fields -----------------------------------------------------------------------------------

_META_FIELDS: Final = frozenset({"metadata.name", "metadata.namespace"})
_POD_FIELDS: Final = frozenset(
    {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    }
)
_EVENT_FIELDS: Final = frozenset(
    {
        *("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid"),
        *("involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath"),
        *("reason", "reportingComponent", "source", "type"),
    }
)
# kinds with their own field label conversion in kube-apiserver, which say "field label not supported"
_FIELD_LABELS: Final = {
    "Pod": _META_FIELDS | _POD_FIELDS,
    "Node": frozenset({"metadata.name", "spec.unschedulable"}),
    "Namespace": frozenset({"metadata.name", "status.phase"}),
    "Event": _META_FIELDS | _EVENT_FIELDS,
    "Secret": _META_FIELDS | {"type"},
    "Service": _META_FIELDS | {"spec.clusterIP", "spec.type"},
    "ReplicationController": _META_FIELDS | {"status.replicas"},
    "ReplicaSet": _META_FIELDS | {"status.replicas"},
}
# built-in kinds left to the generic conversion, which words its refusal differently
_GENERIC_FIELD_LABEL_KINDS: Final = frozenset(
    {
        *("ConfigMap", "ServiceAccount", "Endpoints", "EndpointSlice", "Lease", "PersistentVolume"),
        *("PersistentVolumeClaim", "LimitRange", "ResourceQuota", "PodTemplate", "Deployment", "DaemonSet"),
        *("StatefulSet", "ControllerRevision", "CronJob", "Role", "RoleBinding", "ClusterRole"),
        *("ClusterRoleBinding", "CustomResourceDefinition", "StorageClass", "PriorityClass", "RuntimeClass"),
        *("Ingress", "IngressClass", "NetworkPolicy", "HorizontalPodAutoscaler", "PodDisruptionBudget"),
        *("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService", "CSIDriver"),
        *("CSINode", "VolumeAttachment"),
    }
)


def supported_fields(kind: str) -> frozenset[str]:
    """The field labels kube-apiserver accepts in fieldSelector for a kind (others: name and namespace)."""
    return _FIELD_LABELS.get(kind, _META_FIELDS)


def unsupported_field_message(field: str, kind: str | None) -> str:
    if kind in _GENERIC_FIELD_LABEL_KINDS:
        return '"%s" is not a known field selector: only "metadata.name", "metadata.namespace"' % field
    return "field label not supported: %s" % field


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _member(obj: Mapping[str, Any], *path: str) -> Any:
    for name in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(name)
    return obj


def object_fields(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable field values of an object (what kube-apiserver's GetAttrs returns).

    Fields the API defaults (a Pod's restartPolicy, a Secret's type, ...) read as their default when absent.
    """
    fields = {
        "metadata.name": _text(_member(obj, "metadata", "name")),
        "metadata.namespace": _text(_member(obj, "metadata", "namespace")),
    }
    if kind == "Pod":
        pod_ips = _member(obj, "status", "podIPs") or []
        pod_ip = (pod_ips[0] or {}).get("ip") if pod_ips and isinstance(pod_ips[0], Mapping) else None
        fields.update(
            {
                "spec.nodeName": _text(_member(obj, "spec", "nodeName")),
                "spec.restartPolicy": _text(_member(obj, "spec", "restartPolicy") or "Always"),
                "spec.schedulerName": _text(_member(obj, "spec", "schedulerName") or "default-scheduler"),
                "spec.serviceAccountName": _text(_member(obj, "spec", "serviceAccountName")),
                "spec.hostNetwork": _text(bool(_member(obj, "spec", "hostNetwork"))),
                "status.phase": _text(_member(obj, "status", "phase")),
                "status.podIP": _text(pod_ip or _member(obj, "status", "podIP")),
                "status.nominatedNodeName": _text(_member(obj, "status", "nominatedNodeName")),
            }
        )
    elif kind == "Node":
        fields["spec.unschedulable"] = _text(bool(_member(obj, "spec", "unschedulable")))
    elif kind == "Namespace":
        fields["status.phase"] = _text(_member(obj, "status", "phase"))
    elif kind == "Secret":
        fields["type"] = _text(obj.get("type") or "Opaque")
    elif kind == "Service":
        fields["spec.clusterIP"] = _text(_member(obj, "spec", "clusterIP"))
        fields["spec.type"] = _text(_member(obj, "spec", "type") or "ClusterIP")
    elif kind in ("ReplicationController", "ReplicaSet"):
        fields["status.replicas"] = _text(_member(obj, "status", "replicas") or 0)
    elif kind == "Event":
        for member in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            fields["involvedObject." + member] = _text(_member(obj, "involvedObject", member))
        reporting = _text(obj.get("reportingComponent"))
        fields["reason"] = _text(obj.get("reason"))
        fields["reportingComponent"] = reporting
        fields["source"] = _text(_member(obj, "source", "component")) or reporting
        fields["type"] = _text(obj.get("type"))
    return fields
