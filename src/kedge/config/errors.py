"""The one exception the config package raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration file or object is unusable.

    `problems` lists every `(path, reason)` found (path is the dotted field path, "" for the whole
    document); `source` names the file. `str()` gives one line per problem, `source: path: reason`.
    """

    def __init__(self, problems: list[tuple[str, str]] | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [("", problems)]
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self._line(path, reason) for path, reason in self.problems))

    @property
    def path(self) -> str:
        """Path of the first problem ("" when it concerns the whole document)."""
        return self.problems[0][0] if self.problems else ""

    def _line(self, path: str, reason: str) -> str:
        return ": ".join(part for part in (self.source, path, reason) if part)
