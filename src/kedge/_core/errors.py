"""Exceptions shared by both twins of every _core module (pure Python, so both raise the same classes)."""


class CoreError(Exception):
    """Base class of _core errors."""


class UnknownDestination(CoreError, LookupError):
    """A message was addressed to a module or group that is not registered."""


class DuplicateModule(CoreError, ValueError):
    """A module name was registered twice."""


class InvalidTopic(CoreError, ValueError):
    """An MQTT topic name or topic filter breaks the MQTT 3.1.1 rules; the message says which."""
