"""Counters of one run, shared by the HTTP client, the pipeline and the progress display."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter


@dataclasses.dataclass(slots=True)
class RunStats:
    """Live counters of a run. Only the event loop's thread changes them."""

    started: float = dataclasses.field(default_factory=time.monotonic)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    surveys_written: int = 0
    errors_written: int = 0
    conversations_seen: int = 0
    windows_total: int = 0
    windows_done: int = 0
    #: The request rate the run uses, in requests per minute, once it is known.
    rate_per_minute: float = 0.0
    #: Surveys that analytics listed with a status the export does not select, by status.
    skipped_statuses: Counter[str] = dataclasses.field(default_factory=Counter)
    requests_by_endpoint: Counter[str] = dataclasses.field(default_factory=Counter)
    #: Given conversations that had no survey to export, with the statuses their surveys have.
    unselected_conversations: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    #: Given conversations that analytics does not know.
    missing_conversations: list[str] = dataclasses.field(default_factory=list)

    def elapsed(self) -> float:
        """Return the seconds since the run started."""
        return time.monotonic() - self.started

    def request_rate(self) -> float:
        """Return the mean requests per second since the run started."""
        elapsed = self.elapsed()
        return self.requests / elapsed if elapsed > 0 else 0.0
