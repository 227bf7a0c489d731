"""Paging and id parameters shared by the entity-listing endpoints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import urlencode

from multidict import MultiMapping

from harvester.simulator.errors import bad_request

DEFAULT_PAGE_SIZE = 25


def query_ids(query: MultiMapping[str], name: str = "id") -> list[str]:
    """Return the ids of a list parameter sent repeated (``?id=a&id=b``) or comma-joined."""
    ids: list[str] = []
    for raw in query.getall(name, []):
        ids.extend(part.strip() for part in raw.split(",") if part.strip())
    return ids


def query_int(query: MultiMapping[str], name: str, default: int) -> int:
    """Return an integer query parameter, or raise a 400 ``ApiError``."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise bad_request(f"Query parameter {name} must be an integer, got {raw!r}.") from error


def paging(query: MultiMapping[str], max_page_size: int) -> tuple[int, int]:
    """Return (pageSize, pageNumber); an oversized pageSize is clamped silently."""
    size = query_int(query, "pageSize", DEFAULT_PAGE_SIZE)
    number = query_int(query, "pageNumber", 1)
    if size < 1:
        raise bad_request(f"pageSize must be 1 or more, got {size}.")
    if number < 1:
        raise bad_request(f"pageNumber must be 1 or more, got {number}.")
    return min(size, max_page_size), number


def entity_listing(
    path: str,
    query: MultiMapping[str],
    entities: Sequence[dict[str, object]],
    size: int,
    number: int,
) -> dict[str, object]:
    """Cut one page out of ``entities`` and wrap it in an ``...EntityListing`` document."""
    total = len(entities)
    page_count = math.ceil(total / size) if total else 0
    other_params = [
        (key, value) for key, value in query.items() if key not in ("pageSize", "pageNumber")
    ]

    def uri(page: int) -> str:
        return f"{path}?{urlencode([('pageSize', str(size)), ('pageNumber', str(page)), *other_params])}"

    document: dict[str, object] = {
        "entities": list(entities[(number - 1) * size : number * size]),
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "firstUri": uri(1),
        "selfUri": uri(number),
        "lastUri": uri(max(page_count, 1)),
        "pageCount": page_count,
    }
    if number < page_count:
        document["nextUri"] = uri(number + 1)
    if number > 1:
        document["previousUri"] = uri(number - 1)
    return document
