"""Token bucket for the edge's upstream messages (KubeEdge edgeHub messageQPS / messageBurst)."""

from __future__ import annotations


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. rate 0 means unlimited."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must be >= 0, got rate=%r burst=%r" % (rate, burst))
        self.rate = rate
        self.burst = max(burst, 1.0) if rate else 0.0
        self._tokens = self.burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:  # a clock step backwards must not earn the same interval twice
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def allowance(self, now: float, want: int) -> int:
        """How many of `want` messages may go now (and takes their tokens)."""
        if not self.rate:
            return want
        self._refill(now)
        n = min(want, int(self._tokens))
        self._tokens -= n
        return n

    def wait_time(self, now: float) -> float:
        """Seconds until the next token (0 if one is available)."""
        if not self.rate:
            return 0.0
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
