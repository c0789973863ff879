"""Exponential backoff with jitter. Pure: the random source is passed in, so tests are exact."""

import random


class Backoff:
    """Delays initial, initial*factor, ... capped at `cap`, each scaled by a random factor in
    [1 - jitter, 1 + jitter] so that many peers restarting together do not retry in lockstep."""

    __slots__ = ("_attempt", "cap", "factor", "initial", "jitter", "rng")

    def __init__(
        self,
        initial: float = 1.0,
        factor: float = 2.0,
        cap: float = 30.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if initial < 0 or factor < 1 or cap < initial or not 0 <= jitter < 1:
            raise ValueError(
                "backoff needs 0 <= initial <= cap, factor >= 1 and 0 <= jitter < 1 "
                "(got initial=%r factor=%r cap=%r jitter=%r)" % (initial, factor, cap, jitter)
            )
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self.rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        return self._attempt

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * self.factor**self._attempt)
        self._attempt += 1
        if self.jitter:
            base *= 1 + self.jitter * (2 * self.rng.random() - 1)
        return min(base, self.cap)

    def reset(self) -> None:
        self._attempt = 0
