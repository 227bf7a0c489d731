"""OAuth client-credentials tokens: issuing, lookup, expiry and per-token rate limits."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field

from harvester.simulator.config import SimConfig
from harvester.simulator.errors import ApiError
from harvester.simulator.ratelimit import SlidingWindow


@dataclass
class TokenState:
    """One issued access token."""

    client_id: str
    label: str
    expires_at: float
    window: SlidingWindow = field(repr=False)


class TokenStore:
    """Issue and check bearer tokens. Times are ``loop.time()`` values in real seconds."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._tokens: dict[str, TokenState] = {}
        self._issued = 0

    @property
    def lifetime(self) -> int:
        """Real lifetime of a new token in whole seconds, at least 1."""
        return max(1, round(self.config.scaled(self.config.token_ttl)))

    def check_client(self, authorization: str | None) -> str:
        """Return the client id of valid Basic credentials, or raise the token endpoint's 401."""
        if authorization is None or not authorization.lower().startswith("basic "):
            raise _invalid_client("Client credentials are missing: send HTTP Basic authentication.")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise _invalid_client("Client credentials are not valid Base64.") from error
        client_id, separator, secret = decoded.partition(":")
        expected = self.config.clients.get(client_id)
        if not separator or expected is None or not secrets.compare_digest(expected, secret):
            raise _invalid_client("Client authentication failed: unknown client or wrong secret.")
        return client_id

    def issue(self, client_id: str, now: float, *, expired: bool = False) -> tuple[str, TokenState]:
        """Create a token for ``client_id``; ``expired`` makes it unusable from the start."""
        self._issued += 1
        token = secrets.token_urlsafe(48)
        state = TokenState(
            client_id=client_id,
            label=f"{client_id}#{self._issued}",
            expires_at=now if expired else now + self.config.scaled(self.config.token_ttl),
            window=SlidingWindow(self.config.rate_limit_per_minute, self.config.scaled(60.0)),
        )
        self._tokens[token] = state
        return token, state

    def issued_tokens(self) -> list[str]:
        """Return every access token issued so far, for tests that check no output contains one."""
        return list(self._tokens)

    def authenticate(self, authorization: str | None, now: float) -> TokenState:
        """Return the state of the bearer token in ``authorization`` or raise a 401 ``ApiError``."""
        if authorization is None or not authorization.lower().startswith("bearer "):
            raise ApiError(
                401,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            )
        state = self._tokens.get(authorization[7:].strip())
        if state is None:
            raise ApiError(
                401,
                "authentication.required",
                "Authentication failed: the bearer token is unknown.",
            )
        if now >= state.expires_at:
            raise ApiError(401, "bad.credentials", "Invalid login credentials.")
        return state

    @staticmethod
    def expire(state: TokenState, now: float) -> None:
        """End the lifetime of a token now."""
        state.expires_at = min(state.expires_at, now)


class TokenEndpointError(Exception):
    """An OAuth error of ``POST /oauth/token``, rendered as ``{"error", "description", ...}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _invalid_client(description: str) -> TokenEndpointError:
    return TokenEndpointError(401, "invalid_client", description)
