"""When a device's properties are read and reported (pure; times in seconds, passed in).

Each property is read every `collectCycle` and its latest value reported every `reportCycle`. Every
cycle reports the latest value, changed or not, as KubeEdge's mappers do: the edge stores only what
changed (an unchanged report costs one small MQTT message), and a report lost on the way is repeated
by the next cycle instead of needing acknowledgements. A stalled loop (a slow device) does not make up
missed cycles in a burst: the next one is a whole cycle after the late one.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedge.mapper.entries import PropertyEntry


class Cycles:
    __slots__ = ("_collect", "_report", "_values")

    def __init__(self, props: Iterable[PropertyEntry], now: float) -> None:
        props = list(props)
        # [cycle, next due]; everything is due at once: read, then report the first values
        self._collect = {p.name: [p.collect_cycle, now] for p in props}
        self._report = {p.name: [p.report_cycle, now] for p in props}
        self._values: dict[str, str] = {}

    @staticmethod
    def _due(table: dict[str, list[float]], now: float) -> list[str]:
        due = []
        for name, slot in table.items():
            cycle, at = slot
            if at <= now:
                due.append(name)
                at += cycle
                slot[1] = at if at > now else now + cycle
        return due

    def due_reads(self, now: float) -> list[str]:
        """Properties to read now (their next read is scheduled)."""
        return self._due(self._collect, now)

    def record(self, name: str, value: str) -> None:
        if name in self._collect:
            self._values[name] = value

    def latest(self, name: str) -> str | None:
        return self._values.get(name)

    def due_report(self, now: float) -> dict[str, str]:
        """The latest values of the properties whose report is due (those never read yet are skipped)."""
        return {n: self._values[n] for n in self._due(self._report, now) if n in self._values}

    def next_due(self) -> float:
        """The earliest time something is due (inf for a device without properties)."""
        times = [slot[1] for slot in self._collect.values()] + [slot[1] for slot in self._report.values()]
        return min(times, default=float("inf"))
