"""API errors as Kubernetes `Status` objects: the code, reason, message and details real clients expect.

Messages follow kube-apiserver's wording (k8s.io/apimachinery/pkg/api/errors), because kubectl prints
them verbatim and users and scripts match on them.
"""

from typing import Any


def qualified(resource: str, group: str) -> str:
    """`pods`, `deployments.apps`: how Kubernetes names a resource in messages."""
    return "%s.%s" % (resource, group) if group else resource


class ApiError(Exception):
    """An error answered to the client as a Status object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            s["details"] = self.details
        return s

    def __repr__(self) -> str:
        return "ApiError(%d, %s, %r)" % (self.code, self.reason, self.message)

    # -- constructors, one per Kubernetes StatusReason ------------------------------------------

    @classmethod
    def not_found(cls, resource: str, name: str, group: str = "") -> "ApiError":
        return cls(
            404,
            "NotFound",
            '%s "%s" not found' % (qualified(resource, group), name),
            details=_details(name, group, resource),
        )

    @classmethod
    def already_exists(cls, resource: str, name: str, group: str = "") -> "ApiError":
        return cls(
            409,
            "AlreadyExists",
            '%s "%s" already exists' % (qualified(resource, group), name),
            details=_details(name, group, resource),
        )

    @classmethod
    def conflict(cls, resource: str, name: str, why: str, group: str = "") -> "ApiError":
        return cls(
            409,
            "Conflict",
            'Operation cannot be fulfilled on %s "%s": %s' % (qualified(resource, group), name, why),
            details=_details(name, group, resource),
        )

    @classmethod
    def stale(cls, resource: str, name: str, group: str = "") -> "ApiError":
        """Optimistic concurrency failure (update with an old resourceVersion)."""
        return cls.conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
            group,
        )

    @classmethod
    def invalid(cls, kind: str, name: str, causes: list[tuple[str, str, str]], group: str = "") -> "ApiError":
        """causes: (field, reason, message) with reason like FieldValueInvalid / FieldValueRequired."""
        text = "; ".join("%s: %s" % (f, m) if f else m for f, _, m in causes)
        if len(causes) > 1:
            text = "[%s]" % ", ".join("%s: %s" % (f, m) if f else m for f, _, m in causes)
        details = _details(name, group, kind)
        details["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
        return cls(
            422, "Invalid", '%s "%s" is invalid: %s' % (qualified(kind, group), name, text), details=details
        )

    @classmethod
    def bad_request(cls, message: str) -> "ApiError":
        return cls(400, "BadRequest", message)

    @classmethod
    def expired(cls, message: str) -> "ApiError":
        return cls(410, "Expired", message)

    @classmethod
    def gone(cls, message: str) -> "ApiError":
        return cls(410, "Gone", message)

    @classmethod
    def unauthorized(cls, message: str = "Unauthorized") -> "ApiError":
        return cls(401, "Unauthorized", message)

    @classmethod
    def forbidden(cls, resource: str, name: str, why: str, group: str = "") -> "ApiError":
        target = '%s "%s"' % (qualified(resource, group), name) if name else qualified(resource, group)
        return cls(
            403, "Forbidden", "%s is forbidden: %s" % (target, why), details=_details(name, group, resource)
        )

    @classmethod
    def method_not_allowed(cls, message: str) -> "ApiError":
        return cls(405, "MethodNotAllowed", message)

    @classmethod
    def not_acceptable(cls, message: str) -> "ApiError":
        return cls(406, "NotAcceptable", message)

    @classmethod
    def too_large(cls, message: str) -> "ApiError":
        return cls(413, "RequestEntityTooLarge", message)

    @classmethod
    def unsupported_media_type(cls, message: str) -> "ApiError":
        return cls(415, "UnsupportedMediaType", message)

    @classmethod
    def internal(cls, message: str) -> "ApiError":
        return cls(500, "InternalError", "Internal error occurred: %s" % message)

    @classmethod
    def timeout(cls, message: str) -> "ApiError":
        return cls(504, "Timeout", message)


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": kind}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    return d
