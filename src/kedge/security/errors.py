"""Errors of kedge.security, importable without loading cryptography (the edge imports it lazily)."""


class PKIError(Exception):
    """A key, certificate or request that cannot be used; the message names the file or field and why."""
