"""Retry bounds and backoff, and the gate that pauses every request after a 429."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds of the retries of one request.

    Transient faults (5xx, transport failures, invalid JSON) are retried at most
    ``max_attempts - 1`` times with exponential backoff and full jitter. A 429 does not use up
    an attempt, because the server asked for a pause rather than reported a fault; both kinds
    stop once ``max_total_seconds`` have passed since the first attempt.
    """

    max_attempts: int = 6
    max_total_seconds: float = 900.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    #: Pause after a 429 without Retry-After: the first, doubling per consecutive 429, capped.
    rate_limit_backoff_initial: float = 2.0
    rate_limit_backoff_max: float = 60.0
    #: Multiplies every wait; tests set it low so retry logic runs in milliseconds.
    time_scale: float = 1.0

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Return the wait before the next attempt after ``failures`` transient failures."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1))
        return rng.uniform(ceiling / 2, ceiling) * self.time_scale

    def rate_limit_pause(
        self, retry_after: float | None, consecutive: int, rng: random.Random
    ) -> float:
        """Return how long every request pauses after a 429."""
        if retry_after is not None:
            # A little extra so the server's window has surely moved on when requests resume.
            return (retry_after + 0.1) * self.time_scale
        ceiling = min(
            self.rate_limit_backoff_max, self.rate_limit_backoff_initial * 2 ** (consecutive - 1)
        )
        return rng.uniform(ceiling / 2, ceiling) * self.time_scale


class RateLimitGate:
    """A gate closed after a 429 until its Retry-After has passed; every request waits on it.

    One worker's 429 pauses all of them, so the pause does not turn into N more 429s.
    """

    def __init__(self) -> None:
        #: ``time.monotonic()`` at which the gate opens.
        self.open_at = 0.0
        #: Consecutive 429s without a success in between, for backoff when Retry-After is absent.
        self.consecutive = 0

    async def wait(self) -> None:
        """Return once the gate is open."""
        while (delay := self.open_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def close_for(self, seconds: float) -> None:
        """Keep the gate closed for at least ``seconds`` from now."""
        self.open_at = max(self.open_at, time.monotonic() + seconds)

    def record_success(self) -> None:
        """Reset the count of consecutive 429s."""
        self.consecutive = 0
