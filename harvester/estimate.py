"""Estimates of an export's requests, counted from the analytics API alone, per detail level."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from harvester.resolve import NAME_BATCH_SIZE
from harvester.settings import DETAIL_LEVELS


@dataclasses.dataclass(slots=True)
class Estimate:
    """Counts of a dry run; no survey or evaluation was read to get them."""

    days: int = 0
    details_pages: int = 0
    #: Requests the dry run made to find the conversations: token, limits, name lookups of
    #: filters, details pages and details jobs. The export makes the same ones again.
    enumeration_requests: int = 0
    conversations: int = 0
    surveys: int = 0
    evaluations: int = 0
    agents: set[str] = dataclasses.field(default_factory=set)
    evaluators: set[str] = dataclasses.field(default_factory=set)
    queues: set[str] = dataclasses.field(default_factory=set)

    def add(self, conversation: Mapping[str, Any], surveys: list[Mapping[str, Any]]) -> None:
        """Count one conversation and the surveys of it that the export selects."""
        self.conversations += 1
        self.surveys += len(surveys)
        evaluations = conversation.get("evaluations") or []
        self.evaluations += len(
            {item.get("evaluationId") for item in evaluations if item.get("evaluationId")}
        )
        for listed in surveys:
            if isinstance(listed.get("userId"), str):
                self.agents.add(listed["userId"])
            if isinstance(listed.get("queueId"), str):
                self.queues.add(listed["queueId"])
        for item in evaluations:
            for key in ("evaluatorId", "userId"):
                if isinstance(item.get(key), str):
                    self.evaluators.add(item[key])

    def requests(self, detail: str) -> int:
        """Estimate the requests of an export at ``detail``, finding the conversations included.

        The name lookups are counted as full batches, so the estimate is a lower bound when the
        lookups of concurrent workers split into smaller batches.
        """
        lookups = math.ceil(len(self.queues) / NAME_BATCH_SIZE)
        if detail == "full":
            # Evaluations read with expand carry their users' names.
            lookups += math.ceil(len(self.agents) / NAME_BATCH_SIZE)
        else:
            lookups += math.ceil(len(self.agents | self.evaluators) / NAME_BATCH_SIZE)
        total = max(self.enumeration_requests, self.details_pages) + lookups
        if detail in ("answers", "full"):
            total += self.surveys
        if detail == "full":
            total += self.evaluations
        return total

    def table(self, rate_per_minute: float) -> list[tuple[str, int, float]]:
        """Return (level, requests, seconds at ``rate_per_minute``) for every detail level."""
        rows = []
        for level in DETAIL_LEVELS:
            requests = self.requests(level)
            rows.append((level, requests, requests / rate_per_minute * 60))
        return rows
