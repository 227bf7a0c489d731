"""The simulator's HTTP server: request pipeline, permissions, faults and lifecycle.

Every request passes, in order: correlation id, statistics, authentication (bearer token),
the per-token rate limit, the permission check, latency, fault injection and the handler.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final

from aiohttp import web

from harvester.simulator.analytics import DetailsQueryService
from harvester.simulator.config import ENDPOINTS, SimConfig
from harvester.simulator.errors import ApiError, error_response, json_response
from harvester.simulator.faults import (
    ERROR_FAULTS,
    FaultPlan,
    error_fault_response,
    send_dropped,
    truncated_response,
)
from harvester.simulator.jobs import JobService
from harvester.simulator.org import Org
from harvester.simulator.routes import ISSUE_EXPIRED_TOKEN, Routes
from harvester.simulator.stats import Stats
from harvester.simulator.tokens import TokenEndpointError, TokenStore

logger = logging.getLogger(__name__)

HOST: Final[str] = "127.0.0.1"
CORRELATION_HEADER: Final[str] = "ININ-Correlation-Id"
CORRELATION_ID: Final = web.RequestKey("correlation_id", str)

#: Route names that share an endpoint name with another route.
_ROUTE_ENDPOINTS: Final[dict[str, str]] = {
    "survey_form_bulk": "survey_form",
    "survey_form_list": "survey_form",
    "survey_form_contexts": "survey_form",
}
_SIM_ROUTES: Final[frozenset[str]] = frozenset({"sim_stats", "sim_expected"})

#: The one permission each endpoint needs. For some endpoints the real API also accepts
#: ``analytics:agentConversationDetail:view``, ``quality:evaluation:assign`` or
#: ``quality:evaluation:release``. The simulator models a role with only the view permissions,
#: so denying the view permission denies the endpoint.
PERMISSIONS: Final[dict[str, str]] = {
    "details_query": "analytics:conversationDetail:view",
    "details_get": "analytics:conversationDetail:view",
    "jobs_submit": "analytics:conversationDetail:view",
    "jobs_status": "analytics:conversationDetail:view",
    "jobs_results": "analytics:conversationDetail:view",
    "jobs_delete": "analytics:conversationDetail:view",
    "jobs_availability": "analytics:conversationDetail:view",
    "survey": "quality:survey:view",
    "conversation_surveys": "quality:survey:view",
    "evaluation": "quality:evaluation:view",
    "evaluations_query": "quality:evaluation:view",
    "survey_form": "quality:surveyForm:view",
    "evaluation_form": "quality:evaluationForm:view",
    "queues": "routing:queue:view",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class Simulator:
    """A Genesys Cloud API simulator on 127.0.0.1.

    Use ``await start()`` and ``await stop()``, or ``async with``. ``stop`` is idempotent.
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.org = Org(self.config)
        self.stats = Stats()
        self.tokens = TokenStore(self.config)
        self.faults = FaultPlan(self.config)
        self.details = DetailsQueryService(
            self.org,
            unstable_paging=self.config.unstable_paging,
            page_size_clamp=self.config.details_page_size_clamp,
        )
        self.jobs = JobService(self.config, self.org, self.faults, self.stats)
        self._latency_rng = random.Random(f"{self.config.seed}:latency")
        self._drop_count = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; the API and ``/oauth/token`` share it."""
        if self._port is None:
            msg = "the simulator is not running; call start() first"
            raise RuntimeError(msg)
        return f"http://{HOST}:{self._port}"

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._port is None:
            msg = "the simulator is not running; call start() first"
            raise RuntimeError(msg)
        return self._port

    def build_app(self) -> web.Application:
        """Create the aiohttp application with all routes and the request pipeline."""
        app = web.Application(middlewares=[self._pipeline])
        Routes(self.config, self.org, self.tokens, self.details, self.jobs, self.stats).register(
            app
        )
        app.on_response_prepare.append(self._add_correlation_header)
        return app

    async def start(self) -> None:
        """Bind 127.0.0.1 on ``config.port`` (0 picks a free port) and serve."""
        if self._runner is not None:
            msg = "the simulator is already running"
            raise RuntimeError(msg)
        runner = web.AppRunner(self.build_app(), access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self.config.port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        logger.info("simulator listening on %s", self.base_url)

    async def stop(self) -> None:
        """Stop serving; calling it again does nothing."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await runner.cleanup()
        logger.info("simulator on port %s stopped", self._port)
        self._port = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # Pipeline.

    @staticmethod
    async def _add_correlation_header(request: web.Request, response: web.StreamResponse) -> None:
        correlation_id = request.get(CORRELATION_ID)
        if correlation_id is not None:
            response.headers[CORRELATION_HEADER] = correlation_id

    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        correlation_id = str(uuid.uuid4())
        request[CORRELATION_ID] = correlation_id
        route_name = request.match_info.route.name
        if route_name in _SIM_ROUTES:
            if not _is_loopback(request.remote):
                return error_response(
                    ApiError(403, "forbidden", "Loopback peers only."), correlation_id
                )
            return await handler(request)
        endpoint = _ROUTE_ENDPOINTS.get(route_name or "", route_name)
        if endpoint not in ENDPOINTS:
            return self._unrouted(request, correlation_id)
        number = self.stats.request_started(endpoint)
        status = 500
        try:
            response = await self._serve(request, handler, endpoint, number)
            status = response.status
            return response
        except ApiError as error:
            status = error.status
            logger.debug(
                "%s request %d failed with %d %s (correlation id %s)",
                endpoint,
                number,
                error.status,
                error.code,
                correlation_id,
            )
            return error_response(error, correlation_id)
        except TokenEndpointError as error:
            status = error.status
            logger.debug("token request %d failed with %d %s", number, error.status, error.error)
            return json_response(
                {
                    "error": error.error,
                    "description": error.description,
                    "error_description": error.description,
                },
                status=error.status,
            )
        finally:
            self.stats.request_finished(status)

    def _unrouted(self, request: web.Request, correlation_id: str) -> web.Response:
        exception = request.match_info.http_exception
        if exception is not None and exception.status == 405:
            error = ApiError(
                405, "method.not.allowed", f"Method {request.method} is not allowed here."
            )
        else:
            error = ApiError(404, "not.found", f"No resource at {request.path}.")
        return error_response(error, correlation_id)

    async def _serve(
        self, request: web.Request, handler: Handler, endpoint: str, number: int
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        config = self.config

        token_state = None
        if endpoint != "token":
            token_state = self.tokens.authenticate(
                request.headers.get("Authorization"), loop.time()
            )
            self.stats.per_token[token_state.label] += 1
            wait = token_state.window.acquire(loop.time())
            if wait is not None:
                self.stats.rate_limited += 1
                raise ApiError(
                    429,
                    "too.many.requests.retry.after",
                    f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds",
                    headers={"Retry-After": str(wait)},
                )
            permission = PERMISSIONS.get(endpoint)
            if permission is not None and permission in config.denied_permissions:
                # NOTE: the exact 403 code of the real API is unconfirmed.
                raise ApiError(
                    403,
                    "missing.any.permissions",
                    f"You are missing the permission {permission} that this request needs.",
                )

        latency = config.latency.get(endpoint)
        if latency is not None:
            await asyncio.sleep(config.scaled(self._latency_rng.uniform(*latency)))

        kind = self.faults.response_fault(endpoint, number)
        if kind is not None:
            self.stats.faults[kind] += 1
            logger.debug("injecting fault %s into request %d of %s", kind, number, endpoint)
        if kind in ERROR_FAULTS:
            assert kind is not None
            return error_fault_response(kind, config, request[CORRELATION_ID])
        if kind == "slow":
            await asyncio.sleep(config.scaled(config.slow_seconds))
        if kind == "token_expire" and endpoint == "token":
            request[ISSUE_EXPIRED_TOKEN] = True

        response = await handler(request)
        if kind == "token_expire" and token_state is not None:
            self.tokens.expire(token_state, loop.time())
        if kind == "truncated" and isinstance(response, web.Response):
            return truncated_response(response)
        if kind == "drop" and isinstance(response, web.Response):
            self._drop_count += 1
            return await send_dropped(request, response, mid_body=self._drop_count % 2 == 0)
        return response
