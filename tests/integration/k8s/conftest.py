"""The embedded API server fixture of the apiserver tests, shared here."""

from tests.integration.apiserver.conftest import embedded  # noqa: F401
