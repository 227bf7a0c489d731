"""The HTTP client: one session, one shared rate limiter, the 429 gate and the retry loop.

Every attempt of every request, retries and token requests included, first waits for the
429 gate and then takes a token from the shared :class:`aiolimiter.AsyncLimiter`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
import orjson
from aiolimiter import AsyncLimiter

from harvester.auth import TokenProvider, request_token
from harvester.errors import (
    ApiError,
    CredentialsError,
    FatalApiError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableError,
    RetriesExhaustedError,
    SkippableError,
)
from harvester.retry import RateLimitGate, RetryPolicy
from harvester.settings import Credentials, Endpoints
from harvester.stats import RunStats

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The permission each endpoint needs, named in the message of a 403.
ENDPOINT_PERMISSIONS: dict[str, str] = {
    "details_query": "analytics:conversationDetail:view",
    "jobs_submit": "analytics:conversationDetail:view",
    "jobs_status": "analytics:conversationDetail:view",
    "jobs_results": "analytics:conversationDetail:view",
    "jobs_delete": "analytics:conversationDetail:view",
    "jobs_availability": "analytics:conversationDetail:view",
    "survey": "quality:survey:view",
    "conversation_surveys": "quality:survey:view",
    "survey_form": "quality:surveyForm:view",
    "evaluation": "quality:evaluation:view",
    "evaluations_query": "quality:evaluation:view",
    "evaluation_form": "quality:evaluationForm:view",
    "queues": "routing:queue:view",
}

#: 401 responses tolerated per request, each followed by a token refresh. Tokens that expire
#: early explain a few; wrong credentials are caught sooner by ``TokenProvider.rejected``.
MAX_REFRESHES_PER_REQUEST = 10

Params = Sequence[tuple[str, str]] | None


def build_limiter(rate: float, period: float) -> AsyncLimiter:
    """Create a limiter that never lets more than ``rate`` requests into any ``period`` window.

    An :class:`AsyncLimiter` lets a burst of its full capacity through at once. Against a
    server that counts requests in a sliding window, a burst of ``rate`` followed by the steady
    rate would exceed the limit, so the capacity is one sixtieth of the window's allowance and
    the steady rate is what remains: burst + steady × period equals ``rate``.
    """
    burst = max(1.0, rate / 60.0)
    steady_per_second = (rate - burst) / period if rate > burst else rate / period
    return AsyncLimiter(max_rate=burst, time_period=burst / steady_per_second)


def build_session(concurrency: int) -> aiohttp.ClientSession:
    """Create the run's session with explicit timeouts and a connection pool sized to the workers."""
    timeout = aiohttp.ClientTimeout(total=120, connect=15, sock_connect=15, sock_read=60)
    connector = aiohttp.TCPConnector(limit=concurrency * 2 + 4, limit_per_host=0)
    return aiohttp.ClientSession(
        timeout=timeout,
        connector=connector,
        json_serialize=lambda value: orjson.dumps(value).decode(),
        headers={"Accept": "application/json"},
    )


@dataclasses.dataclass(slots=True)
class Lane:
    """One OAuth client's share of the run: its token, its rate limiter and its 429 gate.

    Genesys Cloud limits requests per token, so each OAuth client of the same org adds its own
    budget; the org's own limits still apply to all of them together.
    """

    client_id: str
    auth: TokenProvider
    limiter: AsyncLimiter
    gate: RateLimitGate = dataclasses.field(default_factory=RateLimitGate)
    in_flight: int = 0


class ApiClient:
    """Send JSON requests to the Genesys Cloud API under the run's limits and retry policy.

    With several credentials, each request goes to the lane (OAuth client) that can send it
    soonest, and stays on it through its retries.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: Endpoints,
        credentials: Credentials | Sequence[Credentials],
        *,
        limiter: AsyncLimiter,
        policy: RetryPolicy,
        stats: RunStats,
        seed: int | None = None,
    ) -> None:
        self._session = session
        self._endpoints = endpoints
        self._policy = policy
        self._stats = stats
        self._rng = random.Random(seed)
        clients = [credentials] if isinstance(credentials, Credentials) else list(credentials)
        self._lanes: list[Lane] = []
        for index, item in enumerate(clients):
            own = limiter if index == 0 else AsyncLimiter(limiter.max_rate, limiter.time_period)
            self._lanes.append(self._lane(item, own))
        self._next_lane = 0

    def _lane(self, credentials: Credentials, limiter: AsyncLimiter) -> Lane:
        def fetch() -> Awaitable[tuple[str, float]]:
            return self._with_retries("token", lambda: self._fetch_token(credentials), lane=lane)

        lane = Lane(credentials.client_id, TokenProvider(fetch), limiter)
        return lane

    @property
    def auth(self) -> TokenProvider:
        """The token provider of the first OAuth client."""
        return self._lanes[0].auth

    @property
    def lanes(self) -> int:
        """How many OAuth clients share the work."""
        return len(self._lanes)

    async def authenticate(self) -> None:
        """Fetch a token for every OAuth client, so that wrong credentials fail at once."""
        for lane in self._lanes:
            await lane.auth.token()

    def use_limiter(self, limiter: AsyncLimiter) -> None:
        """Replace the rate limiters, for example once the org's own limit is known.

        Every lane gets its own limiter of the same rate, because the limit is per token.
        """
        for index, lane in enumerate(self._lanes):
            lane.limiter = (
                limiter if index == 0 else AsyncLimiter(limiter.max_rate, limiter.time_period)
            )

    def _pick_lane(self) -> Lane:
        """Return the lane that can send soonest: open gate and free capacity, then fewest in flight."""
        if len(self._lanes) == 1:
            return self._lanes[0]
        count = len(self._lanes)
        start = self._next_lane
        self._next_lane = (start + 1) % count
        rotated = [self._lanes[(start + offset) % count] for offset in range(count)]
        now = time.monotonic()
        ready = [
            lane for lane in rotated if lane.gate.open_at <= now and lane.limiter.has_capacity()
        ]
        candidates = ready or [lane for lane in rotated if lane.gate.open_at <= now] or rotated
        return min(candidates, key=lambda lane: lane.in_flight)

    async def get(self, path: str, endpoint: str, params: Params = None) -> Any:
        """GET ``path`` and return the decoded JSON body."""
        return await self.request("GET", path, endpoint, params=params)

    async def post(self, path: str, endpoint: str, body: object) -> Any:
        """POST a JSON body to ``path`` and return the decoded JSON body."""
        return await self.request("POST", path, endpoint, body=body)

    async def request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: Params = None,
        body: object = None,
        max_attempts: int | None = None,
    ) -> Any:
        """Send one API request with retries; see :mod:`harvester.errors` for what it raises.

        ``max_attempts`` lowers the policy's bound on transient failures, for requests that
        may have taken effect even though their response was lost.
        """
        refreshes = 0
        lane = self._pick_lane()

        async def attempt() -> Any:
            nonlocal refreshes
            token = await lane.auth.token()
            try:
                result = await self._send(method, path, endpoint, token, params, body)
            except _Unauthorized as unauthorized:
                refreshes += 1
                credentials_wrong = lane.auth.rejected(token)
                if credentials_wrong or refreshes > MAX_REFRESHES_PER_REQUEST:
                    msg = (
                        "Genesys Cloud rejected freshly issued tokens: check that "
                        "GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET belong to this "
                        "region's organisation and that the OAuth client is active"
                    )
                    raise CredentialsError(
                        msg,
                        status=401,
                        code=unauthorized.error.code,
                        correlation_id=unauthorized.error.correlation_id,
                        endpoint=endpoint,
                    ) from None
                logger.info("token rejected on %s %s; fetching a new one", method, path)
                await lane.auth.refresh(token)
                raise RetriableError("token rejected", status=401, endpoint=endpoint) from None
            except ApiError as exc:
                if exc.status is not None:
                    lane.auth.accepted(token)
                raise
            lane.auth.accepted(token)
            return result

        lane.in_flight += 1
        try:
            return await self._with_retries(
                endpoint, attempt, describe=f"{method} {path}", max_attempts=max_attempts, lane=lane
            )
        finally:
            lane.in_flight -= 1

    async def _with_retries(
        self,
        endpoint: str,
        attempt: Callable[[], Awaitable[T]],
        describe: str | None = None,
        max_attempts: int | None = None,
        *,
        lane: Lane,
    ) -> T:
        started = time.monotonic()
        failures = 0
        attempts = min(max_attempts or self._policy.max_attempts, self._policy.max_attempts)
        label = describe or endpoint
        while True:
            await lane.gate.wait()
            await lane.limiter.acquire()
            self._stats.requests += 1
            self._stats.requests_by_endpoint[endpoint] += 1
            try:
                result = await attempt()
            except RateLimitedError as exc:
                self._stats.rate_limited += 1
                lane.gate.consecutive += 1
                pause = self._policy.rate_limit_pause(
                    exc.retry_after, lane.gate.consecutive, self._rng
                )
                lane.gate.close_for(pause)
                logger.warning(
                    "rate limited on %s (Retry-After %s); pausing all requests of client %s for %.1f s",
                    label,
                    "absent" if exc.retry_after is None else f"{exc.retry_after:g} s",
                    lane.client_id,
                    pause,
                )
                self._check_time(started, label, exc)
                self._stats.retries += 1
                continue
            except RetriableError as exc:
                if exc.status == 401:
                    # The token was refreshed; retry at once without counting a failure.
                    self._stats.retries += 1
                    continue
                failures += 1
                if failures >= attempts:
                    msg = f"{label} failed {failures} times in a row; last error: {exc}"
                    raise RetriesExhaustedError(
                        msg,
                        status=exc.status,
                        code=exc.code,
                        correlation_id=exc.correlation_id,
                        endpoint=endpoint,
                    ) from exc
                self._check_time(started, label, exc)
                delay = self._policy.backoff(failures, self._rng)
                logger.warning(
                    "retrying %s in %.2f s after attempt %d of %d failed: %s",
                    label,
                    delay,
                    failures,
                    attempts,
                    exc,
                )
                self._stats.retries += 1
                await asyncio.sleep(delay)
                continue
            lane.gate.record_success()
            return result

    def _check_time(self, started: float, label: str, exc: ApiError) -> None:
        if time.monotonic() - started > self._policy.max_total_seconds * self._policy.time_scale:
            msg = (
                f"{label} kept failing for more than {self._policy.max_total_seconds:.0f} s; "
                f"last error: {exc}"
            )
            raise RetriesExhaustedError(
                msg,
                status=exc.status,
                code=exc.code,
                correlation_id=exc.correlation_id,
                endpoint=exc.endpoint,
            ) from exc

    async def _fetch_token(self, credentials: Credentials) -> tuple[str, float]:
        return await request_token(self._session, self._endpoints.login_url, credentials)

    async def _send(
        self, method: str, path: str, endpoint: str, token: str, params: Params, body: object
    ) -> Any:
        url = self._endpoints.api_url + path
        headers = {"Authorization": f"Bearer {token}"}
        sent = time.monotonic()
        try:
            async with self._session.request(
                method, url, params=params, json=body, headers=headers
            ) as response:
                status = response.status
                correlation_id = response.headers.get("ININ-Correlation-Id")
                retry_after = response.headers.get("Retry-After")
                payload = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            msg = f"{method} {path} failed: {type(exc).__name__}: {exc}".rstrip(": ")
            raise RetriableError(msg, endpoint=endpoint) from exc
        logger.debug("%s %s -> %d in %.3f s", method, path, status, time.monotonic() - sent)

        if 200 <= status < 300:
            if not payload:
                return None
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                msg = (
                    f"{method} {path} returned a body that is not valid JSON ({len(payload)} bytes)"
                )
                raise RetriableError(
                    msg, status=status, correlation_id=correlation_id, endpoint=endpoint
                ) from exc
        raise classify_error(method, path, endpoint, status, payload, correlation_id, retry_after)


class _Unauthorized(Exception):
    """A 401 on an API call, before the client decides whether to refresh or give up."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


def classify_error(
    method: str,
    path: str,
    endpoint: str,
    status: int,
    payload: bytes,
    correlation_id: str | None,
    retry_after: str | None,
) -> Exception:
    """Map an error response to the exception the retry loop and the pipeline act on."""
    code, message, context_id = _error_body_fields(payload)
    trace_id = context_id or correlation_id
    detail = f"{method} {path}: {message}" if message else f"{method} {path} failed"
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "correlation_id": trace_id,
        "endpoint": endpoint,
    }

    if status == 401:
        return _Unauthorized(ApiError(detail, **common))
    if status == 429:
        return RateLimitedError(detail, retry_after=_parse_retry_after(retry_after), **common)
    if status == 403:
        permission = ENDPOINT_PERMISSIONS.get(endpoint)
        hint = (
            f"the OAuth client's role lacks the permission {permission}; add it to the role"
            if permission
            else "the OAuth client's role lacks a permission this request needs"
        )
        return PermissionDeniedError(f"{detail} ({hint})", permission=permission, **common)
    if status == 404:
        return SkippableError(detail, **common)
    if status in (408, 500, 502, 503, 504) or (status >= 500 and status != 501):
        return RetriableError(detail, **common)
    return FatalApiError(detail, **common)


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


def _error_body_fields(payload: bytes) -> tuple[str | None, str | None, str | None]:
    """Return ``code``, ``message`` and ``contextId`` of a Genesys error body, when it is one."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    code = body.get("code")
    message = body.get("message")
    context_id = body.get("contextId")
    return (
        code if isinstance(code, str) else None,
        message[:300] if isinstance(message, str) else None,
        context_id if isinstance(context_id, str) else None,
    )
