"""The organisation's own request limit, read at the start of a run."""

from __future__ import annotations

import logging

from harvester.errors import ApiError, CredentialsError
from harvester.http import ApiClient

logger = logging.getLogger(__name__)

#: Namespace and key of the per-token request limit of client-credentials tokens.
LIMITS_NAMESPACE = "platform.api"
TOKEN_RATE_KEY = "client.credentials.token.rate.per.minute"


async def read_token_rate(client: ApiClient) -> float | None:
    """Return the org's per-token requests per minute, or ``None`` when it cannot be read.

    ``GET /api/v2/organizations/limits/namespaces/{namespace}`` needs no permission and returns
    the org's effective limits, which support can raise above the documented default.

    :raises ApiError: no token could be obtained, or the credentials were rejected
    """
    path = f"/api/v2/organizations/limits/namespaces/{LIMITS_NAMESPACE}"
    try:
        listing = await client.get(path, "limits")
    except CredentialsError:
        raise
    except ApiError as exc:
        # Without a token no other request can succeed either, so going on would only repeat
        # the token endpoint's failure and its retries.
        if exc.endpoint == "token":
            raise
        logger.warning("could not read the org's request limit: %s", exc)
        return None
    for entity in (listing or {}).get("entities") or []:
        value = entity.get("value")
        if entity.get("key") == TOKEN_RATE_KEY and isinstance(value, int | float) and value > 0:
            return float(value)
    logger.warning("the org's limits in %s do not name %s", LIMITS_NAMESPACE, TOKEN_RATE_KEY)
    return None
