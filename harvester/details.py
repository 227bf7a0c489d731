"""Paging the analytics conversation details query for the conversations of one window."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from harvester.errors import FatalApiError
from harvester.filters import ResolvedFilters
from harvester.http import ApiClient
from harvester.windows import Window

logger = logging.getLogger(__name__)

DETAILS_QUERY_PATH = "/api/v2/analytics/conversations/details/query"
PAGE_SIZE = 100
#: The details query returns HTTP 400 beyond this many results (pageNumber × pageSize).
MAX_QUERY_RESULTS = 100_000
#: Extra passes over a window whose distinct conversations fell short of ``totalHits``.
MAX_RESCANS = 2

#: Keeps only conversations that have at least one survey.
SURVEY_EXISTS_FILTER: dict[str, Any] = {
    "type": "and",
    "predicates": [{"type": "dimension", "dimension": "surveyId", "operator": "exists"}],
}


def details_query_body(
    window: Window, page_number: int, filters: ResolvedFilters | None = None
) -> dict[str, Any]:
    """Build the query for one page of a window's survey-bearing conversations."""
    survey_filter = dict(SURVEY_EXISTS_FILTER)
    body: dict[str, Any] = {
        "interval": window.query_interval(),
        "order": "asc",
        "orderBy": "conversationStart",
        "surveyFilters": [survey_filter],
        "paging": {"pageSize": PAGE_SIZE, "pageNumber": page_number},
    }
    if filters is not None:
        clauses = filters.survey_clauses()
        if clauses:
            survey_filter["clauses"] = clauses
        segment_filters = filters.segment_filters()
        if segment_filters:
            body["segmentFilters"] = segment_filters
    return body


async def window_conversations(
    client: ApiClient,
    window: Window,
    filters: ResolvedFilters | None = None,
    pages: list[int] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the window's conversations page by page, each conversation once.

    Page-number paging over live data can shift a conversation from one page to another while
    the pages are read. The number of distinct conversations is compared with ``totalHits``,
    and a window that fell short is read again from page 1; conversations already yielded are
    not yielded twice. ``pages``, when given, receives a 1 per page read.
    """
    seen: set[str] = set()
    total_hits = 0
    for scan in range(MAX_RESCANS + 1):
        page_number = 1
        # Some list endpoints clamp pageSize silently, so the first page's length sets the size.
        page_size = PAGE_SIZE
        while True:
            response = await client.post(
                DETAILS_QUERY_PATH,
                "details_query",
                details_query_body(window, page_number, filters),
            )
            if pages is not None:
                pages.append(1)
            total_hits = int(response.get("totalHits") or 0)
            if total_hits > MAX_QUERY_RESULTS:
                msg = (
                    f"day {window.day} has {total_hits} survey conversations, more than the "
                    f"{MAX_QUERY_RESULTS} results the details query can page through; "
                    "use --source jobs, which has no such cap, or narrow the export with filters"
                )
                raise FatalApiError(msg, endpoint="details_query")
            page = response.get("conversations") or []
            fresh = [item for item in page if item.get("conversationId") not in seen]
            seen.update(item["conversationId"] for item in fresh)
            if fresh:
                yield fresh
            if page_number == 1 and 0 < len(page) < min(PAGE_SIZE, total_hits):
                logger.info("day %s: the details query serves %d per page", window.day, len(page))
                page_size = len(page)
            if len(page) < page_size or page_number * page_size >= total_hits:
                break
            page_number += 1
        logger.debug(
            "day %s pass %d: %d pages, %d distinct conversations, totalHits %d",
            window.day,
            scan + 1,
            page_number,
            len(seen),
            total_hits,
        )
        if len(seen) >= total_hits:
            return
        logger.warning(
            "day %s: read %d distinct conversations but totalHits is %d; reading the day again",
            window.day,
            len(seen),
            total_hits,
        )
    logger.warning(
        "day %s: still %d of %d conversations after %d passes; the data changed while it was read",
        window.day,
        len(seen),
        total_hits,
        MAX_RESCANS + 1,
    )


async def conversations_by_id(
    client: ApiClient, window: Window, missing: list[str] | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the window's given conversations, read by id in one request.

    Ids analytics does not know are appended to ``missing``.
    """
    ids = ",".join(window.conversation_ids)
    response = await client.get(
        "/api/v2/analytics/conversations/details", "details_get", [("id", ids)]
    )
    conversations = (response or {}).get("conversations") or []
    found = {item.get("conversationId") for item in conversations}
    for conversation_id in window.conversation_ids:
        if conversation_id not in found:
            logger.warning("conversation %s not found in analytics", conversation_id)
            if missing is not None:
                missing.append(conversation_id)
    if conversations:
        yield conversations
