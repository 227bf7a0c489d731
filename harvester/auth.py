"""OAuth client-credentials tokens: cached, renewed before expiry, one refresh at a time."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from harvester.errors import CredentialsError, RetriableError
from harvester.settings import Credentials

logger = logging.getLogger(__name__)

#: Renew this many seconds before expiry, capped at a tenth of the token's lifetime.
RENEW_MARGIN_SECONDS = 300.0

#: Fresh tokens rejected in a row, none accepted in between, before the credentials are
#: called wrong. One is not enough: a token can expire early before its first use.
MAX_UNPROVEN_REJECTIONS = 3

TokenFetcher = Callable[[], Awaitable[tuple[str, float]]]


class TokenProvider:
    """Hand out a bearer token, fetching a new one when it is due or was rejected.

    Many workers may ask at once; only one request goes to the token endpoint and the others
    wait for its result. The token itself is never logged.
    """

    def __init__(self, fetch: TokenFetcher, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        #: Whether the API has accepted the current token at least once.
        self._proven = False
        #: Consecutive tokens rejected before the API accepted them even once.
        self._unproven_rejections = 0
        self._last_rejected: str | None = None
        #: How many tokens this provider has fetched.
        self.fetched = 0

    async def token(self) -> str:
        """Return a valid token, fetching one first when none is cached or it is due."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                await self._renew()
            assert self._token is not None
            return self._token

    def accepted(self, token: str) -> None:
        """Record that the API accepted ``token``, so a later 401 on it means it expired."""
        if token == self._token:
            self._proven = True
            self._unproven_rejections = 0

    def rejected(self, token: str) -> bool:
        """Record a 401 on ``token``; return whether the credentials look wrong.

        A token the API accepted before and now rejects has expired or was revoked, which a
        new token fixes. Fresh tokens rejected before any use succeeded, several in a row, mean
        the credentials themselves are rejected. Each token counts once, however many
        concurrent requests it failed.
        """
        if token == self._token and not self._proven and token != self._last_rejected:
            self._last_rejected = token
            self._unproven_rejections += 1
        return self._unproven_rejections >= MAX_UNPROVEN_REJECTIONS

    async def refresh(self, rejected: str) -> str:
        """Replace ``rejected`` after a 401, unless another caller has already replaced it."""
        async with self._lock:
            if self._token == rejected:
                await self._renew()
            assert self._token is not None
            return self._token

    async def _renew(self) -> None:
        token, expires_in = await self._fetch()
        margin = min(RENEW_MARGIN_SECONDS, expires_in / 10)
        self._token = token
        self._proven = False
        self._renew_at = self._clock() + max(expires_in - margin, 0.0)
        self.fetched += 1
        logger.info("obtained an access token valid for %.0f s", expires_in)


def basic_authorization(credentials: Credentials) -> str:
    """Build the ``Authorization`` header value for the token endpoint."""
    pair = f"{credentials.client_id}:{credentials.client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


async def request_token(
    session: aiohttp.ClientSession, login_url: str, credentials: Credentials
) -> tuple[str, float]:
    """POST the client-credentials grant and return the token and its lifetime in seconds.

    :raises CredentialsError: the login service rejected the client id or secret
    :raises RetriableError: a 5xx, a transport failure or a body that is not JSON
    """
    url = f"{login_url}/oauth/token"
    headers = {
        "Authorization": basic_authorization(credentials),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    try:
        async with session.post(
            url, data="grant_type=client_credentials", headers=headers
        ) as response:
            status = response.status
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        msg = f"token request to {login_url} failed: {type(exc).__name__}"
        raise RetriableError(msg, endpoint="token") from exc

    if status in (400, 401, 403):
        msg = (
            f"the login service at {login_url} rejected the OAuth client {credentials.client_id!r}: "
            "check GENESYS_CLOUD_CLIENT_ID, GENESYS_CLOUD_CLIENT_SECRET and the region"
        )
        raise CredentialsError(msg, status=status, code=_oauth_error_code(body), endpoint="token")
    if status >= 400:
        msg = f"token request to {login_url} failed"
        raise RetriableError(msg, status=status, endpoint="token")
    try:
        payload = orjson.loads(body)
        token = str(payload["access_token"])
        expires_in = float(payload.get("expires_in") or 86400)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        msg = f"token response from {login_url} is not a valid token document"
        raise RetriableError(msg, status=status, endpoint="token") from exc
    return token, expires_in


def _oauth_error_code(body: bytes) -> str | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])
    return None
