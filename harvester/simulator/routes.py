"""Request handlers of the simulated API. Authentication, faults and statistics live in server.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Final

import orjson
from aiohttp import web

from harvester.simulator.analytics import DetailsQueryService
from harvester.simulator.config import SimConfig
from harvester.simulator.errors import bad_request, json_response, not_found
from harvester.simulator.jobs import JobService
from harvester.simulator.listing import entity_listing, paging, query_ids
from harvester.simulator.org import Org, SimConversation, SimEvaluation, day_number
from harvester.simulator.render import (
    analytics_conversation_json,
    evaluation_form_json,
    evaluation_json,
    iso,
    queue_json,
    survey_form_json,
    survey_json,
    user_json,
)
from harvester.simulator.stats import Stats
from harvester.simulator.tokens import TokenEndpointError, TokenStore

USER_STATES: Final[frozenset[str]] = frozenset({"active", "inactive", "deleted", "any"})
MAX_FORM_IDS: Final[int] = 100
MAX_DETAILS_IDS: Final[int] = 100
#: Set by the fault stage when the token endpoint must issue an already expired token.
ISSUE_EXPIRED_TOKEN: Final = web.RequestKey("issue_expired_token", bool)
#: Limit namespaces that the simulator fills; other valid namespaces return no entities.
PLATFORM_NAMESPACES: Final[frozenset[str]] = frozenset({"platform.api", "auth.api"})


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


async def read_json(request: web.Request) -> object:
    """Parse the JSON body of ``request`` or raise a 400 ``ApiError``."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"The request body is not valid JSON: {error}.") from error


def _expand(request: web.Request) -> frozenset[str]:
    return frozenset(query_ids(request.query, "expand"))


def _parse_time(raw: str | None, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as error:
        raise bad_request(f"{name} must be an ISO-8601 date-time, got {raw!r}.") from error
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Routes:
    """Handlers bound to one simulator's org, services and counters."""

    def __init__(
        self,
        config: SimConfig,
        org: Org,
        tokens: TokenStore,
        details: DetailsQueryService,
        jobs: JobService,
        stats: Stats,
    ) -> None:
        self.config = config
        self.org = org
        self.tokens = tokens
        self.details = details
        self.jobs = jobs
        self.stats = stats

    def register(self, app: web.Application) -> None:
        """Add every route; each route name is the endpoint name used by stats and faults."""
        jobs = "/api/v2/analytics/conversations/details/jobs"
        router = app.router
        router.add_post("/oauth/token", self.token, name="token")

        router.add_post(
            "/api/v2/analytics/conversations/details/query",
            self.details_query,
            name="details_query",
        )

        router.add_get(
            "/api/v2/analytics/conversations/details", self.details_get, name="details_get"
        )

        router.add_post(jobs, self.jobs_submit, name="jobs_submit")
        router.add_get(f"{jobs}/availability", self.jobs_availability, name="jobs_availability")
        router.add_get(f"{jobs}/{{jobId}}/results", self.jobs_results, name="jobs_results")
        router.add_get(f"{jobs}/{{jobId}}", self.jobs_status, name="jobs_status")
        router.add_delete(f"{jobs}/{{jobId}}", self.jobs_delete, name="jobs_delete")

        router.add_get("/api/v2/quality/surveys/{surveyId}", self.survey, name="survey")
        router.add_get(
            "/api/v2/quality/conversations/{conversationId}/surveys",
            self.conversation_surveys,
            name="conversation_surveys",
        )
        router.add_get(
            "/api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}",
            self.evaluation,
            name="evaluation",
        )
        router.add_get(
            "/api/v2/quality/evaluations/query", self.evaluations_query, name="evaluations_query"
        )

        router.add_get(
            "/api/v2/quality/forms/surveys", self.survey_forms_list, name="survey_form_list"
        )
        router.add_get(
            "/api/v2/quality/forms/surveys/bulk", self.survey_forms_bulk, name="survey_form_bulk"
        )
        router.add_get(
            "/api/v2/quality/forms/surveys/bulk/contexts",
            self.survey_forms_by_context,
            name="survey_form_contexts",
        )
        router.add_get(
            "/api/v2/quality/forms/surveys/{formId}", self.survey_form, name="survey_form"
        )
        router.add_get(
            "/api/v2/quality/forms/evaluations/{formId}",
            self.evaluation_form,
            name="evaluation_form",
        )

        router.add_get("/api/v2/users", self.users, name="users")
        router.add_get("/api/v2/routing/queues", self.queues, name="queues")
        router.add_get(
            "/api/v2/organizations/limits/namespaces/{namespaceName}", self.limits, name="limits"
        )

        router.add_get("/_sim/stats", self.sim_stats, name="sim_stats")
        router.add_get("/_sim/expected", self.sim_expected, name="sim_expected")

    # OAuth.

    async def token(self, request: web.Request) -> web.Response:
        """``POST /oauth/token`` with the client-credentials grant."""
        client_id = self.tokens.check_client(request.headers.get("Authorization"))
        form = await request.post()
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            raise TokenEndpointError(
                400,
                "unsupported_grant_type",
                f"Unsupported grant_type {grant_type!r}; expected client_credentials.",
            )
        token, _ = self.tokens.issue(
            client_id, _loop_time(), expired=request.get(ISSUE_EXPIRED_TOKEN, False)
        )
        self.stats.tokens_issued += 1
        return json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": self.tokens.lifetime}
        )

    # Analytics.

    async def details_query(self, request: web.Request) -> web.Response:
        """``POST /api/v2/analytics/conversations/details/query``."""
        return json_response(self.details.run(await read_json(request)))

    async def details_get(self, request: web.Request) -> web.Response:
        """``GET /api/v2/analytics/conversations/details?id=a,b``: the conversations found.

        Unknown ids are left out of ``conversations``, which is omitted when nothing matched.
        """
        ids = query_ids(request.query)
        if not ids:
            raise bad_request("Query parameter id is required.")
        # NOTE: the real maximum of ids per request is undocumented; 100 matches other bulk GETs.
        if len(ids) > MAX_DETAILS_IDS:
            raise bad_request(f"At most {MAX_DETAILS_IDS} ids are allowed, got {len(ids)}.")
        conversations = [
            analytics_conversation_json(self.org, conversation)
            for conversation in (self.org.conversation(item) for item in dict.fromkeys(ids))
            if conversation is not None
        ]
        return json_response({"conversations": conversations} if conversations else {})

    async def jobs_submit(self, request: web.Request) -> web.Response:
        """``POST /api/v2/analytics/conversations/details/jobs``."""
        document = self.jobs.submit(await read_json(request), _loop_time())
        self.stats.jobs_submitted += 1
        return json_response(document, status=202)

    async def jobs_status(self, request: web.Request) -> web.Response:
        """``GET .../details/jobs/{jobId}``."""
        return json_response(self.jobs.status(request.match_info["jobId"], _loop_time()))

    async def jobs_results(self, request: web.Request) -> web.Response:
        """``GET .../details/jobs/{jobId}/results``."""
        return json_response(
            self.jobs.results(request.match_info["jobId"], request.query, _loop_time())
        )

    async def jobs_delete(self, request: web.Request) -> web.Response:
        """``DELETE .../details/jobs/{jobId}``."""
        self.jobs.delete(request.match_info["jobId"])
        return web.Response(status=204)

    async def jobs_availability(self, request: web.Request) -> web.Response:
        """``GET .../details/jobs/availability``."""
        return json_response({"dataAvailabilityDate": iso(self.jobs.watermark())})

    # Quality.

    async def survey(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/surveys/{surveyId}``; deleted surveys are 404."""
        survey_id = request.match_info["surveyId"]
        found = self.org.find_survey(survey_id)
        if found is None or found[1].deleted:
            raise not_found(f"Survey {survey_id} was not found.")
        conversation, survey = found
        return json_response(survey_json(self.org, conversation, survey))

    async def conversation_surveys(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/conversations/{conversationId}/surveys``: a bare JSON array."""
        conversation = self._conversation(request.match_info["conversationId"])
        return json_response(
            [
                survey_json(self.org, conversation, survey)
                for survey in conversation.surveys
                if not survey.deleted
            ]
        )

    def _conversation(self, conversation_id: str) -> SimConversation:
        conversation = self.org.conversation(conversation_id)
        if conversation is None:
            raise not_found(f"Conversation {conversation_id} was not found.")
        return conversation

    async def evaluation(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}``."""
        conversation_id = request.match_info["conversationId"]
        evaluation_id = request.match_info["evaluationId"]
        found = self.org.find_evaluation(evaluation_id)
        if found is None or found[0].id != conversation_id or found[1].deleted:
            raise not_found(
                f"Evaluation {evaluation_id} of conversation {conversation_id} was not found."
            )
        conversation, evaluation = found
        return json_response(evaluation_json(self.org, conversation, evaluation, _expand(request)))

    async def evaluations_query(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/evaluations/query``.

        Sorted by assigned date, except when only ``agentUserId`` is given: then by release
        date, without "never release" evaluations.
        """
        query = request.query
        conversation_id = query.get("conversationId")
        agent_id = query.get("agentUserId")
        evaluator_id = query.get("evaluatorUserId")
        assignee_id = query.get("assigneeUserId")
        if not (conversation_id or agent_id or evaluator_id or assignee_id):
            raise bad_request(
                "One of conversationId, evaluatorUserId, agentUserId or assigneeUserId is required."
            )
        size, number = paging(query, self.config.list_max_page_size)
        start = _parse_time(query.get("startTime"), "startTime")
        end = _parse_time(query.get("endTime"), "endTime")
        if conversation_id:
            conversation = self.org.conversation(conversation_id)
            candidates = [conversation] if conversation else []
        else:
            candidates = list(self._conversations_between(start, end))
        found: list[tuple[SimConversation, SimEvaluation]] = []
        for conversation in candidates:
            if agent_id and conversation.agent_id != agent_id:
                continue
            for evaluation in conversation.evaluations:
                if evaluation.deleted:
                    continue
                if evaluator_id and evaluation.evaluator_id != evaluator_id:
                    continue
                if assignee_id and evaluation.evaluator_id != assignee_id:
                    continue
                found.append((conversation, evaluation))
        agent_only = bool(agent_id) and not (conversation_id or evaluator_id or assignee_id)
        if agent_only:
            found = [item for item in found if not item[1].never_release]
            found.sort(
                key=lambda item: (
                    item[1].release_date is None,
                    item[1].release_date or item[1].created,
                )
            )
        else:
            found.sort(key=lambda item: item[1].created)
        with_totals = query.get("expandAnswerTotalScores", "false").lower() == "true"
        expand = _expand(request)
        entities: list[dict[str, object]] = []
        for conversation, evaluation in found:
            entity = evaluation_json(self.org, conversation, evaluation, expand, listing=True)
            if with_totals and evaluation.total_score is not None:
                entity["answers"] = {
                    "totalScore": evaluation.total_score,
                    "totalCriticalScore": evaluation.critical_score,
                    "totalNonCriticalScore": evaluation.total_score,
                }
            entities.append(entity)
        return json_response(
            entity_listing("/api/v2/quality/evaluations/query", query, entities, size, number)
        )

    def _conversations_between(
        self, start: datetime | None, end: datetime | None
    ) -> list[SimConversation]:
        # NOTE: without startTime and endTime this scans every day of the org, which takes
        # seconds for the default three-year range.
        first = start.date() if start else self.config.first_day
        last = end.date() if end else self.config.last_day
        result: list[SimConversation] = []
        for day in self.org.day_range(first, last):
            for conversation in self.org.conversations(day):
                if start and conversation.start < start:
                    continue
                if end and conversation.start >= end:
                    continue
                result.append(conversation)
        return result

    async def survey_form(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/forms/surveys/{formId}``."""
        form_id = request.match_info["formId"]
        form = self.org.form(form_id)
        if form is None or form not in self.org.survey_forms:
            raise not_found(f"Survey form {form_id} was not found.")
        return json_response(survey_form_json(form))

    async def survey_forms_list(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/forms/surveys?name=``: a ``SurveyFormEntityListing`` sorted by name."""
        query = request.query
        size, number = paging(query, self.config.list_max_page_size)
        name = query.get("name")
        forms = [
            form for form in self.org.survey_forms if not name or _name_matches(form.name, name)
        ]
        forms.sort(key=lambda form: (form.name.lower(), form.id))
        entities = [survey_form_json(form) for form in forms]
        return json_response(
            entity_listing("/api/v2/quality/forms/surveys", query, entities, size, number)
        )

    async def survey_forms_bulk(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/forms/surveys/bulk?id=...``: a ``SurveyFormEntityListing``."""
        ids = query_ids(request.query)
        if not ids:
            raise bad_request("Query parameter id is required.")
        if len(ids) > MAX_FORM_IDS:
            raise bad_request(f"At most {MAX_FORM_IDS} ids are allowed, got {len(ids)}.")
        forms = [form for form in self.org.survey_forms if form.id in ids]
        entities = [survey_form_json(form) for form in forms]
        size = max(len(entities), 1)
        return json_response(
            entity_listing("/api/v2/quality/forms/surveys/bulk", request.query, entities, size, 1)
        )

    async def survey_forms_by_context(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/forms/surveys/bulk/contexts``: the latest version per context."""
        context_ids = query_ids(request.query, "contextId")
        if not context_ids:
            raise bad_request("Query parameter contextId is required.")
        if len(context_ids) > MAX_FORM_IDS:
            raise bad_request(
                f"At most {MAX_FORM_IDS} context ids are allowed, got {len(context_ids)}."
            )
        latest: dict[str, dict[str, object]] = {}
        for form in self.org.survey_forms:
            if form.context_id in context_ids:
                latest[form.context_id] = survey_form_json(form)  # later versions come later
        return json_response(
            [latest[context_id] for context_id in context_ids if context_id in latest]
        )

    async def evaluation_form(self, request: web.Request) -> web.Response:
        """``GET /api/v2/quality/forms/evaluations/{formId}``."""
        form_id = request.match_info["formId"]
        form = self.org.form(form_id)
        if form is None or form not in self.org.evaluation_forms:
            raise not_found(f"Evaluation form {form_id} was not found.")
        return json_response(evaluation_form_json(form))

    # Directory.

    async def users(self, request: web.Request) -> web.Response:
        """``GET /api/v2/users``; ``state`` defaults to ``active``, so leavers are hidden."""
        query = request.query
        state = query.get("state", "active")
        if state not in USER_STATES:
            raise bad_request(f"Invalid state {state!r}; expected one of {sorted(USER_STATES)}.")
        size, number = paging(query, self.config.list_max_page_size)
        ids = set(query_ids(query))
        users = [
            user
            for user in self.org.users
            if (state == "any" or user.state == state) and (not ids or user.id in ids)
        ]
        users.sort(
            key=lambda user: (user.name, user.id),
            reverse=query.get("sortOrder", "ASC").upper() == "DESC",
        )
        entities = [user_json(self.org, user) for user in users]
        return json_response(entity_listing("/api/v2/users", query, entities, size, number))

    async def queues(self, request: web.Request) -> web.Response:
        """``GET /api/v2/routing/queues``, sorted by name."""
        query = request.query
        size, number = paging(query, self.config.list_max_page_size)
        ids = set(query_ids(query))
        name = query.get("name")
        queues = [queue for queue in self.org.queues if not ids or queue.id in ids]
        if name:
            queues = [queue for queue in queues if _name_matches(queue.name, name)]
        queues.sort(
            key=lambda queue: (queue.name.lower(), queue.id),
            reverse=query.get("sortOrder", "asc").lower() == "desc",
        )
        entities = [queue_json(self.org, queue) for queue in queues]
        return json_response(
            entity_listing("/api/v2/routing/queues", query, entities, size, number)
        )

    async def limits(self, request: web.Request) -> web.Response:
        """``GET /api/v2/organizations/limits/namespaces/{namespaceName}``: a ``LimitsEntityListing``."""
        namespace = request.match_info["namespaceName"]
        entities: list[dict[str, object]] = []
        if namespace in PLATFORM_NAMESPACES:
            entities.append(
                {
                    "key": "client.credentials.token.rate.per.minute",
                    "namespace": namespace,
                    "value": self.config.rate_limit_per_minute,
                }
            )
        if namespace == "platform.api":
            entities.append({"key": "request.bytes.max", "namespace": namespace, "value": 512000})
        return json_response({"entities": entities})

    # Local helpers.

    async def sim_stats(self, request: web.Request) -> web.Response:
        """``GET /_sim/stats``: the simulator's counters."""
        return json_response(self.stats.to_json())

    async def sim_expected(self, request: web.Request) -> web.Response:
        """``GET /_sim/expected?from=&to=&status=``: ground truth of the surveys in [from, to)."""
        query = request.query
        start = _parse_time(query.get("from"), "from")
        end = _parse_time(query.get("to"), "to")
        if start is None or end is None:
            raise bad_request("Query parameters from and to are required.")
        statuses = frozenset(query_ids(query, "status")) or frozenset({"Finished"})
        if day_number(end.date()) - day_number(start.date()) > 400:
            raise bad_request("The ground-truth window may span at most 400 days.")
        documents = [
            {
                "surveyId": item.survey_id,
                "conversationId": item.conversation_id,
                "conversationStart": iso(item.conversation_start),
                "status": item.status,
                "surveyType": item.survey_type,
                "partial": item.partial,
                "completedDate": iso(item.completed_date) if item.completed_date else None,
                "formId": item.form_id,
                "formName": item.form_name,
                "agentId": item.agent_id,
                "agentName": item.agent_name,
                "queueId": item.queue_id,
                "queueName": item.queue_name,
                "npsScore": item.nps_score,
                "totalScore": item.total_score,
                "deleted": item.deleted,
                "evaluationIds": list(item.evaluation_ids),
                "deletedEvaluationIds": list(item.deleted_evaluation_ids),
                "questionCount": item.question_count,
            }
            for item in self.org.iter_expected_surveys(start, end, statuses)
        ]
        return json_response(documents)


def _name_matches(name: str, pattern: str) -> bool:
    """Match a queue name against a pattern with optional leading and trailing ``*``."""
    lowered, text = name.lower(), pattern.lower()
    if text.startswith("*") and text.endswith("*") and len(text) > 1:
        return text[1:-1] in lowered
    if text.startswith("*"):
        return lowered.endswith(text[1:])
    if text.endswith("*"):
        return lowered.startswith(text[:-1])
    return lowered == text
