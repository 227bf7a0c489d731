"""Asynchronous conversation detail jobs (``/api/v2/analytics/conversations/details/jobs``).

A job spends the first 20% of ``job_run_seconds`` QUEUED and the rest PENDING, then turns
FULFILLED (or FAILED), and EXPIRED ``job_ttl_seconds`` later. Only QUEUED and PENDING jobs
count toward ``max_concurrent_jobs``. The data-availability watermark is fixed at submission:
conversations that start at or after it are missing from the results without any error.
"""

from __future__ import annotations

import base64
import binascii
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harvester.simulator.analytics import (
    DetailQuery,
    pack,
    parse_query,
    select_overlapping,
    select_start_days,
    unpack,
)
from harvester.simulator.config import SimConfig
from harvester.simulator.errors import ApiError, bad_request, not_found
from harvester.simulator.faults import FaultPlan
from harvester.simulator.org import Org
from harvester.simulator.render import analytics_conversation_json, iso
from harvester.simulator.stats import Stats

_ACTIVE = ("QUEUED", "PENDING")


@dataclass
class Job:
    """One submitted job and its fate."""

    id: str
    query: DetailQuery
    limit: int | None
    start_of_day: bool
    submitted_wall: datetime
    submitted_at: float
    run_seconds: float
    ttl_seconds: float
    watermark: datetime
    fail: bool
    expire_after_first_page: bool
    cancelled: bool = False
    expired_early: bool = False
    refs: list[int] | None = None

    def state(self, now: float) -> str:
        """Return the job state at loop time ``now``."""
        elapsed = now - self.submitted_at
        if self.cancelled:
            return "CANCELLED"
        if self.expired_early:
            return "EXPIRED"
        if elapsed < 0.2 * self.run_seconds:
            return "QUEUED"
        if elapsed < self.run_seconds:
            return "PENDING"
        if self.fail:
            return "FAILED"
        if elapsed >= self.run_seconds + self.ttl_seconds:
            return "EXPIRED"
        return "FULFILLED"


class JobService:
    """Submit, report, page through and cancel jobs."""

    def __init__(self, config: SimConfig, org: Org, faults: FaultPlan, stats: Stats) -> None:
        self.config = config
        self.org = org
        self.faults = faults
        self.stats = stats
        self._jobs: dict[str, Job] = {}
        self._submitted = 0
        self._rng = random.Random(f"{config.seed}:jobs")

    def watermark(self) -> datetime:
        """Return the current data-availability date."""
        if self.config.data_availability_date is not None:
            return self.config.data_availability_date.astimezone(UTC)
        return datetime.now(UTC) - self.config.data_lag

    def active_jobs(self, now: float) -> int:
        """Return the number of QUEUED or PENDING jobs."""
        return sum(1 for job in self._jobs.values() if job.state(now) in _ACTIVE)

    def submit(self, body: object, now: float) -> dict[str, object]:
        """Validate an ``AsyncConversationQuery`` and start a job."""
        query = parse_query(body, allow_paging=False)
        assert isinstance(body, dict)  # parse_query checked it
        limit = body.get("limit")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise bad_request(f"limit must be a positive integer, got {limit!r}.")

        start_of_day = body.get("startOfDayIntervalMatching", False)
        if not isinstance(start_of_day, bool):
            raise bad_request("startOfDayIntervalMatching must be a boolean.")
        if self.active_jobs(now) >= self.config.max_concurrent_jobs:
            raise ApiError(
                429,
                "too.many.requests",
                f"The maximum of {self.config.max_concurrent_jobs} concurrent conversation "
                "detail jobs is reached. Wait for a job to finish or delete one.",
            )

        self._submitted += 1
        fate = self.faults.job_fault(self._submitted)
        fail = fate == "job_fail" or (
            fate is None and self._rng.random() < self.config.job_fail_probability
        )
        expire = fate == "job_expire" or (
            fate is None and self._rng.random() < self.config.job_expire_probability
        )

        job = Job(
            id=str(uuid.uuid4()),
            query=query,
            limit=limit,
            start_of_day=start_of_day,
            submitted_wall=datetime.now(UTC),
            submitted_at=now,
            run_seconds=self.config.scaled(self.config.job_run_seconds),
            ttl_seconds=self.config.scaled(self.config.job_ttl_seconds),
            watermark=self.watermark(),
            fail=fail,
            expire_after_first_page=expire and not fail,
        )
        self._jobs[job.id] = job
        if job.fail:
            self.stats.faults["job_fail"] += 1
        if job.expire_after_first_page:
            self.stats.faults["job_expire"] += 1
        return {"jobId": job.id}

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"Job {job_id} was not found.")
        return job

    def status(self, job_id: str, now: float) -> dict[str, object]:
        """Return the ``AsyncQueryStatus`` of a job."""
        job = self._job(job_id)
        state = job.state(now)
        document: dict[str, object] = {
            "state": state,
            "submissionDate": iso(job.submitted_wall),
        }
        completed = job.submitted_wall + timedelta(seconds=job.run_seconds)
        if state in ("FULFILLED", "FAILED", "EXPIRED"):
            document["completionDate"] = iso(completed)
        if state in ("FULFILLED", "EXPIRED"):
            document["expirationDate"] = iso(completed + timedelta(seconds=job.ttl_seconds))
        if state == "FAILED":
            document["errorMessage"] = (
                "The job failed while reading the data lake. Submit it again."
            )
        return document

    def delete(self, job_id: str) -> None:
        """Cancel a job, which frees its concurrency slot."""
        self._job(job_id).cancelled = True

    def results(self, job_id: str, query: Mapping[str, str], now: float) -> dict[str, object]:
        """Return one ``AnalyticsConversationAsyncQueryResponse`` page."""
        job = self._job(job_id)
        state = job.state(now)
        # NOTE: the statuses and codes the real API returns for results of unfinished,
        # failed, cancelled or expired jobs are unconfirmed.
        if state == "CANCELLED":
            raise not_found(f"Job {job_id} was cancelled.")
        if state == "EXPIRED":
            raise not_found(f"The results of job {job_id} have expired. Submit the job again.")
        if state != "FULFILLED":
            raise bad_request(f"Job {job_id} has no results: its state is {state}.")
        size = self._page_size(query.get("pageSize"))
        offset = self._offset(job, query.get("cursor"))
        refs = self._refs(job)
        page = refs[offset : offset + size]
        document: dict[str, object] = {}
        if page:
            document["conversations"] = [
                analytics_conversation_json(self.org, unpack(self.org, ref), with_attributes=True)
                for ref in page
            ]
        if offset + size < len(refs):
            document["cursor"] = _cursor(job.id, offset + size)
        document["dataAvailabilityDate"] = iso(job.watermark)
        if job.expire_after_first_page:
            job.expired_early = True
        return document

    def _page_size(self, raw: str | None) -> int:
        if raw is None:
            return self.config.job_results_default_page_size
        try:
            size = int(raw)
        except ValueError as error:
            raise bad_request(f"pageSize must be an integer, got {raw!r}.") from error
        if size < 1:
            raise bad_request(f"pageSize must be 1 or more, got {size}.")
        return min(size, self.config.job_results_max_page_size)

    @staticmethod
    def _offset(job: Job, cursor: str | None) -> int:
        if cursor is None or cursor == "":
            return 0
        try:
            decoded = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
            job_id, _, offset = decoded.rpartition(":")
            value = int(offset)
        except (binascii.Error, UnicodeError, ValueError) as error:
            raise bad_request(f"Invalid cursor {cursor!r}.") from error
        if job_id != job.id or value < 0:
            raise bad_request(f"Invalid cursor {cursor!r} for job {job.id}.")
        return value

    def _refs(self, job: Job) -> list[int]:
        if job.refs is None:
            select = select_start_days if job.start_of_day else select_overlapping
            matched = [
                conversation
                for conversation in select(self.org, job.query)
                if conversation.start < job.watermark
            ]
            if job.query.order_by in ("conversationEnd", "segmentEnd"):
                matched.sort(key=lambda item: (item.end, item.id))
            if job.query.order == "desc":
                matched.reverse()
            if job.limit is not None:
                matched = matched[: job.limit]
            job.refs = [pack(conversation) for conversation in matched]
        return job.refs


def _cursor(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode("ascii")).decode("ascii")
