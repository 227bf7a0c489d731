"""Live counters of what the simulator received and sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Counters of one simulator run; read them in-process or at ``GET /_sim/stats``.

    ``per_token`` is keyed by a token label ``"<client id>#<n>"``, where n numbers the tokens
    issued, so that no secret appears in the statistics.
    """

    requests: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    per_token: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    too_many_requests: int = 0
    tokens_issued: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    jobs_submitted: int = 0

    def request_started(self, endpoint: str) -> int:
        """Count a request to ``endpoint`` and return its 1-based number for that endpoint."""
        self.requests[endpoint] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self.requests[endpoint]

    def request_finished(self, status: int) -> None:
        """Count a response with ``status`` and mark the request as no longer in flight."""
        self.in_flight -= 1
        self.responses[status] += 1
        if status == 429:
            self.too_many_requests += 1

    def to_json(self) -> dict[str, object]:
        """Return the counters as a JSON-ready dictionary."""
        return {
            "requests": dict(self.requests),
            "responses": {str(status): count for status, count in self.responses.items()},
            "faults": dict(self.faults),
            "perToken": dict(self.per_token),
            "rateLimited": self.rate_limited,
            "tooManyRequests": self.too_many_requests,
            "tokensIssued": self.tokens_issued,
            "inFlight": self.in_flight,
            "maxInFlight": self.max_in_flight,
            "jobsSubmitted": self.jobs_submitted,
        }
