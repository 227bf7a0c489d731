"""A thin HTTP client for simulator tests: fetches a token and sends authorised requests."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import orjson

from harvester.simulator import Simulator

DETAILS = "/api/v2/analytics/conversations/details/query"
JOBS = "/api/v2/analytics/conversations/details/jobs"


def basic(client_id: str = "sim-client", secret: str = "sim-secret") -> str:
    """Return an HTTP Basic ``Authorization`` header value."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class Api:
    """Requests against one simulator with one bearer token."""

    def __init__(self, session: aiohttp.ClientSession, simulator: Simulator) -> None:
        self.session = session
        self.simulator = simulator
        self.token = ""

    async def login(self, client_id: str = "sim-client", secret: str = "sim-secret") -> str:
        """Fetch a token and keep it for later requests."""
        async with self.session.post(
            self.simulator.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic(client_id, secret)},
        ) as response:
            assert response.status == 200, await response.text()
            self.token = (await response.json())["access_token"]
        return self.token

    async def call(
        self, method: str, path: str, *, json: Any = None, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """Send a request; return (status, parsed JSON body or text, response)."""
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        data = None if json is None else orjson.dumps(json)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.simulator.base_url + path, data=data, headers=headers, **kwargs
        ) as response:
            raw = await response.read()
            body: Any = raw.decode("utf-8", "replace")
            if response.content_type == "application/json" and raw:
                body = orjson.loads(raw)
            return response.status, body, response

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
        """Send a GET request."""
        return await self.call("GET", path, **kwargs)

    async def post(
        self, path: str, body: Any, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """Send a POST request with a JSON body."""
        return await self.call("POST", path, json=body, **kwargs)

    async def query(self, body: dict[str, Any]) -> tuple[int, Any, aiohttp.ClientResponse]:
        """Send a details query."""
        return await self.post(DETAILS, body)
