"""Genesys ``ErrorBody`` responses and the exception that carries them out of a handler."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web


class ApiError(Exception):
    """An API error that the server turns into an ``ErrorBody`` response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(status: int, code: str, message: str, correlation_id: str) -> dict[str, object]:
    """Build an ``ErrorBody`` whose ``contextId`` is the response's correlation id."""
    return {
        "message": message,
        "code": code,
        "status": status,
        "contextId": correlation_id,
        "details": [],
        "errors": [],
    }


def json_response(payload: object, status: int = 200) -> web.Response:
    """Serialise ``payload`` with orjson into an ``application/json`` response."""
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def error_response(error: ApiError, correlation_id: str) -> web.Response:
    """Render ``error`` as an ``ErrorBody`` JSON response."""
    response = json_response(
        error_body(error.status, error.code, error.message, correlation_id), status=error.status
    )
    response.headers.update(error.headers)
    return response


def bad_request(message: str) -> ApiError:
    """Return a 400 ``bad.request`` error."""
    return ApiError(400, "bad.request", message)


def not_found(message: str = "The requested resource was not found.") -> ApiError:
    """Return a 404 ``not.found`` error."""
    return ApiError(404, "not.found", message)
