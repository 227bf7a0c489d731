"""Fault injection: which request gets which fault, and what each fault sends on the wire.

Wire behaviour per kind:

- ``429``: status 429, ErrorBody code ``too.many.requests.retry.after`` and
  ``Retry-After: fault_retry_after`` (scaled, at least 1).
- ``429_no_retry_after``: status 429, code ``too.many.requests``, no ``Retry-After``.
- ``429_long``: like ``429`` with ``Retry-After: long_retry_after`` (default 120, scaled).
- ``500_json``: status 500, ErrorBody code ``internal.server.error``.
- ``503_html``: status 503 with an HTML page as ``text/html``, as a load balancer sends.
- ``drop``: the real response's status and headers, with the full ``Content-Length``, are
  sent. Then the connection closes after none or half of the body, alternating between the two.
- ``truncated``: status 200 and valid headers, but the body is cut to half its length and
  ``Content-Length`` matches the cut body, so only JSON parsing fails.
- ``slow``: the real response, after an extra delay of ``slow_seconds`` (scaled).
- ``token_expire``: the real response; afterwards the token that made the request is expired,
  so its next request gets 401. On the token endpoint the new token is issued already expired.

The three 429 kinds, ``500_json`` and ``503_html`` skip the handler, so they change no state.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping

import orjson
from aiohttp import web

from harvester.simulator.config import JOB_FAULT_KINDS, RESPONSE_FAULT_KINDS, SimConfig
from harvester.simulator.errors import error_body

logger = logging.getLogger(__name__)

#: Faults that replace the response without calling the handler.
ERROR_FAULTS = frozenset({"429", "429_no_retry_after", "429_long", "500_json", "503_html"})

_HTML_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class FaultPlan:
    """Decide faults from the script first, then from the seeded probabilities."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._rng = random.Random(f"{config.seed}:faults")
        self._script: dict[tuple[str, int], str] = {}
        self._job_script: dict[int, str] = {}
        for fault in config.fault_script:
            if fault.kind in JOB_FAULT_KINDS:
                self._job_script.setdefault(fault.at, fault.kind)
            else:
                self._script.setdefault((fault.endpoint, fault.at), fault.kind)
        self._rates: dict[str, list[tuple[str, float]]] = {}
        for key, probability in config.fault_rates.items():
            endpoint, _, kind = key.rpartition(":")
            if kind in RESPONSE_FAULT_KINDS:
                self._rates.setdefault(endpoint, []).append((kind, probability))

    def response_fault(self, endpoint: str, number: int) -> str | None:
        """Return the fault for the ``number``-th request to ``endpoint``, or ``None``."""
        scripted = self._script.get((endpoint, number))
        if scripted is not None:
            return scripted
        for kind, probability in self._rates.get(endpoint, []) + self._rates.get("", []):
            if self._rng.random() < probability:
                return kind
        return None

    def job_fault(self, job_number: int) -> str | None:
        """Return the scripted fate of the ``job_number``-th submitted job, or ``None``."""
        return self._job_script.get(job_number)


def retry_after_seconds(config: SimConfig, seconds: int) -> int:
    """Scale a simulated ``Retry-After`` into whole real seconds, at least 1."""
    return max(1, math.ceil(config.scaled(seconds)))


def error_fault_response(kind: str, config: SimConfig, correlation_id: str) -> web.Response:
    """Build the response of a fault in ``ERROR_FAULTS``."""
    if kind == "503_html":
        return web.Response(status=503, body=_HTML_503, content_type="text/html")
    headers: Mapping[str, str] = {}
    if kind == "500_json":
        status, code = 500, "internal.server.error"
        message = "The server encountered an unexpected condition."
    elif kind == "429_no_retry_after":
        status, code = 429, "too.many.requests"
        message = "Rate limit exceeded the maximum. Retry the request later."
    else:
        wait = retry_after_seconds(
            config, config.long_retry_after if kind == "429_long" else config.fault_retry_after
        )
        status, code = 429, "too.many.requests.retry.after"
        message = f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds"
        headers = {"Retry-After": str(wait)}
    response = web.Response(
        status=status,
        body=orjson.dumps(error_body(status, code, message, correlation_id)),
        content_type="application/json",
    )
    response.headers.update(headers)
    return response


def truncated_response(response: web.Response) -> web.Response:
    """Return a copy of ``response`` whose body is cut to half its length."""
    body = bytes(response.body) if isinstance(response.body, (bytes, bytearray)) else b""
    cut = web.Response(status=response.status, body=body[: len(body) // 2])
    cut.headers.update(
        {
            name: value
            for name, value in response.headers.items()
            if name.lower() != "content-length"
        }
    )
    return cut


async def send_dropped(
    request: web.Request, response: web.Response, *, mid_body: bool
) -> web.StreamResponse:
    """Send the headers of ``response`` and part of its body, then close the connection."""
    body = bytes(response.body) if isinstance(response.body, (bytes, bytearray)) else b""
    stream = web.StreamResponse(status=response.status)
    stream.headers.update(
        {
            name: value
            for name, value in response.headers.items()
            if name.lower() != "content-length"
        }
    )
    stream.content_length = len(body)
    await stream.prepare(request)
    if mid_body:
        await stream.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()
    logger.debug("dropped the connection after %s", "half the body" if mid_body else "the headers")
    return stream
