"""Enumerating a window through the analytics conversation details jobs API.

A job runs the same query as the synchronous details query, asynchronously and against the
data lake: submit it, poll its status, page its results by cursor, delete it. The data lake
is complete only before ``dataAvailabilityDate``; a job silently omits anything after it, so
only windows that end before that watermark may use jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from harvester.details import details_query_body
from harvester.errors import FatalApiError, SkippableError
from harvester.filters import ResolvedFilters
from harvester.http import ApiClient
from harvester.records import parse_timestamp
from harvester.windows import Window

logger = logging.getLogger(__name__)

JOBS_PATH = "/api/v2/analytics/conversations/details/jobs"
RESULTS_PAGE_SIZE = 1000
#: Submissions per window when jobs end FAILED or EXPIRED before their results are read.
MAX_SUBMISSIONS = 3
#: Transient failures tolerated per submit. A submit whose response was lost may still have
#: created a job, so it is repeated only this often, and the possible orphan is logged.
SUBMIT_ATTEMPTS = 2
POLL_INITIAL_SECONDS = 1.0
POLL_MAX_SECONDS = 30.0

#: Called with (day, job id) when a job is submitted, and (day, None) once it is deleted.
JobRecorder = Callable[[str, str | None], Awaitable[None]]


class JobFailed(Exception):
    """The job ended FAILED or EXPIRED, or disappeared, before its results were all read."""


async def data_availability(client: ApiClient) -> datetime:
    """Return the instant before which the data lake contains every conversation."""
    response = await client.get(f"{JOBS_PATH}/availability", "jobs_availability")
    return parse_timestamp(str(response["dataAvailabilityDate"]))


def job_query_body(window: Window, filters: ResolvedFilters | None) -> dict[str, Any]:
    """Build the job's query: the details query's filters, start-day matching and no paging."""
    body = details_query_body(window, 1, filters)
    del body["paging"]
    body["startOfDayIntervalMatching"] = True
    return body


async def job_conversations(
    client: ApiClient,
    window: Window,
    filters: ResolvedFilters | None,
    *,
    existing_job: str | None,
    record: JobRecorder,
    poll_scale: float = 1.0,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the window's conversations page by page from a details job.

    ``existing_job`` is a job a previous run submitted for this window; it is reused while it
    can still serve results. Conversations may repeat when a job is replaced; the caller
    deduplicates by survey id.
    """
    job_id = existing_job
    submissions = 0
    while True:
        if job_id is None:
            if submissions >= MAX_SUBMISSIONS:
                msg = f"day {window.day}: {MAX_SUBMISSIONS} details jobs failed in a row; run the export again later or use --source query"
                raise FatalApiError(msg, endpoint="jobs_submit")
            job_id = await _submit(client, window, filters)
            submissions += 1
            await record(window.day, job_id)
        else:
            logger.info("day %s: re-attaching to details job %s", window.day, job_id)
        try:
            await _wait_until_fulfilled(client, job_id, window, poll_scale)
            async for page in _results(client, job_id, window):
                yield page
        except JobFailed as exc:
            logger.warning(
                "day %s: details job %s %s; submitting a new one", window.day, job_id, exc
            )
            await _delete(client, job_id)
            await record(window.day, None)
            job_id = None
            continue
        await _delete(client, job_id)
        await record(window.day, None)
        return


async def prepare_job(
    client: ApiClient,
    window: Window,
    filters: ResolvedFilters | None,
    *,
    existing_job: str | None,
    record: JobRecorder,
    poll_scale: float = 1.0,
) -> str | None:
    """Submit a job for ``window`` unless one exists, and wait until it is FULFILLED.

    Runs ahead of the window being read, so that jobs compute while earlier windows' surveys
    are fetched. Returns ``None`` when the job failed; :func:`job_conversations` then submits
    another.
    """
    job_id = existing_job
    if job_id is None:
        job_id = await _submit(client, window, filters)
        await record(window.day, job_id)
    try:
        await _wait_until_fulfilled(client, job_id, window, poll_scale)
    except JobFailed as exc:
        logger.warning("day %s: details job %s %s", window.day, job_id, exc)
        await _delete(client, job_id)
        await record(window.day, None)
        return None
    return job_id


async def _submit(client: ApiClient, window: Window, filters: ResolvedFilters | None) -> str:
    try:
        response = await client.request(
            "POST",
            JOBS_PATH,
            "jobs_submit",
            body=job_query_body(window, filters),
            max_attempts=SUBMIT_ATTEMPTS,
        )
    except FatalApiError:
        logger.warning(
            "day %s: submitting a details job failed; a job may exist on the server without "
            "its id, and it expires on its own",
            window.day,
        )
        raise
    job_id = str(response["jobId"])
    logger.info("day %s: submitted details job %s", window.day, job_id)
    return job_id


async def _wait_until_fulfilled(
    client: ApiClient, job_id: str, window: Window, poll_scale: float
) -> None:
    delay = POLL_INITIAL_SECONDS
    while True:
        try:
            status = await client.get(f"{JOBS_PATH}/{job_id}", "jobs_status")
        except SkippableError as exc:
            raise JobFailed("is gone") from exc
        state = status.get("state")
        if state == "FULFILLED":
            return
        if state in ("FAILED", "EXPIRED", "CANCELLED"):
            reason = status.get("errorMessage") or state
            raise JobFailed(f"ended {state} ({reason})")
        logger.debug("day %s: details job %s is %s", window.day, job_id, state)
        await asyncio.sleep(delay * poll_scale)
        delay = min(delay * 2, POLL_MAX_SECONDS)


async def _results(
    client: ApiClient, job_id: str, window: Window
) -> AsyncIterator[list[dict[str, Any]]]:
    cursor: str | None = None
    seen_cursors: set[str] = set()
    pages = 0
    while True:
        params = [("pageSize", str(RESULTS_PAGE_SIZE))]
        if cursor is not None:
            params.append(("cursor", cursor))
        try:
            response = await client.get(f"{JOBS_PATH}/{job_id}/results", "jobs_results", params)
        except SkippableError as exc:
            raise JobFailed("expired while its results were read") from exc
        pages += 1
        conversations = response.get("conversations") or []
        if conversations:
            yield conversations
        cursor = response.get("cursor")
        if not cursor:
            logger.debug("day %s: details job %s served %d pages", window.day, job_id, pages)
            return
        if cursor in seen_cursors:
            msg = f"day {window.day}: details job {job_id} returned a cursor it had already returned; stopping instead of looping"
            raise FatalApiError(msg, endpoint="jobs_results")
        seen_cursors.add(cursor)


async def _delete(client: ApiClient, job_id: str) -> None:
    try:
        await client.request("DELETE", f"{JOBS_PATH}/{job_id}", "jobs_delete")
    except SkippableError:
        logger.debug("details job %s was already gone", job_id)
