"""Classification of error responses into what the retry loop and the pipeline do."""

from __future__ import annotations

import orjson
import pytest

from harvester.errors import (
    FatalApiError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableError,
    SkippableError,
)
from harvester.http import classify_error


def _body(status: int, code: str) -> bytes:
    return orjson.dumps(
        {"message": "text", "code": code, "status": status, "contextId": "ctx-1", "details": [], "errors": []}
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, FatalApiError),
        (403, PermissionDeniedError),
        (404, SkippableError),
        (408, RetriableError),
        (429, RateLimitedError),
        (500, RetriableError),
        (501, FatalApiError),
        (502, RetriableError),
        (503, RetriableError),
        (504, RetriableError),
        (521, RetriableError),
        (413, FatalApiError),
    ],
    ids=lambda value: str(value) if isinstance(value, int) else value.__name__,
)
def test_status_classes(status: int, expected: type[Exception]) -> None:
    """Each status maps to the exception class named for the caller's action."""
    error = classify_error("GET", "/api/v2/x", "survey", status, _body(status, "c"), "hdr-1", None)
    assert type(error) is expected


def test_error_carries_support_ids() -> None:
    """Errors carry status, Genesys code and the body's contextId before the header's id."""
    error = classify_error("GET", "/p", "survey", 404, _body(404, "not.found"), "hdr-1", None)
    assert isinstance(error, SkippableError)
    assert error.status == 404
    assert error.code == "not.found"
    assert error.correlation_id == "ctx-1"
    assert "not.found" in str(error)


def test_correlation_header_used_for_html_body() -> None:
    """A non-JSON body falls back to the ININ-Correlation-Id header."""
    error = classify_error("GET", "/p", "survey", 503, b"<html>busy</html>", "hdr-9", None)
    assert isinstance(error, RetriableError)
    assert error.correlation_id == "hdr-9"


@pytest.mark.parametrize(
    ("endpoint", "permission"),
    [
        ("survey", "quality:survey:view"),
        ("details_query", "analytics:conversationDetail:view"),
        ("evaluation", "quality:evaluation:view"),
        ("queues", "routing:queue:view"),
    ],
)
def test_forbidden_names_permission(endpoint: str, permission: str) -> None:
    """A 403 names the permission the endpoint needs."""
    error = classify_error("GET", "/p", endpoint, 403, _body(403, "missing.permissions"), None, None)
    assert isinstance(error, PermissionDeniedError)
    assert error.permission == permission
    assert permission in str(error)


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), (" 120 ", 120.0), ("soon", None), (None, None)])
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    """Retry-After in seconds is honoured; an unparsable or missing one is None."""
    error = classify_error("GET", "/p", "survey", 429, _body(429, "too.many.requests"), None, header)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == seconds
