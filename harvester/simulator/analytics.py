"""Conversation detail queries: request validation, filters, day selection, order and paging.

Selection follows the real index: a query returns the conversations that *started* on any UTC
day touched by the interval, where day d is touched when [d, d + 1 day) intersects
[start, end). The exact start need not lie inside the interval.

Unstable paging (``SimConfig.unstable_paging``): the real API gives no snapshot guarantee
between pages. When enabled, the simulator counts, per query (the request body without
``paging``), how many times page 1 was requested. The first scan is the time until page 1 has
been requested twice, so it also covers pages requested before any page 1. During the first
scan, every page with ``pageNumber >= 2`` is cut from a reordered list. In that list the last
conversation of the result moves to the front. A client that reads pages 1, 2, ... in
sequence therefore receives the last conversation of page 1 twice and never the moved
conversation, while ``totalHits`` stays correct. From the second request of page 1 on, the
query is stable. A client that compares the number of distinct conversation ids with
``totalHits`` and scans the window again thus recovers everything. Results that fit on one
page are never affected.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import orjson

from harvester.simulator.errors import bad_request
from harvester.simulator.org import Org, SimConversation, day_from_number, day_number
from harvester.simulator.render import analytics_conversation_json, iso

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE: Final[int] = 100
DEFAULT_PAGE_SIZE: Final[int] = 25
MAX_PAGED_RESULTS: Final[int] = 100_000
MAX_DAYS_UNFILTERED: Final[int] = 7
MAX_DAYS_FILTERED: Final[int] = 31
ORDERS: Final[frozenset[str]] = frozenset({"asc", "desc", "unordered"})
ORDER_BYS: Final[frozenset[str]] = frozenset(
    {"conversationStart", "conversationEnd", "segmentStart", "segmentEnd"}
)
OPERATORS: Final[frozenset[str]] = frozenset({"matches", "exists", "notExists"})

# Dimension and metric names that the API accepts per filter list. The simulator models the
# values of only some of them. The others have no value here, so ``exists`` never matches
# them and ``notExists`` always does.
SURVEY_DIMENSIONS: Final[frozenset[str]] = frozenset(
    {
        "eventTime",
        "queueId",
        "surveyCompletedDate",
        "surveyFormContextId",
        "surveyFormId",
        "surveyId",
        "surveyPartialResponse",
        "surveyPromoterScore",
        "surveyStatus",
        "surveyType",
        "userId",
    }
)
SURVEY_METRICS: Final[frozenset[str]] = frozenset({"oSurveyTotalScore"})
EVALUATION_DIMENSIONS: Final[frozenset[str]] = frozenset(
    {
        "assigneeApplicable",
        "assigneeId",
        "calibrationId",
        "contextId",
        "deleted",
        "evaluationId",
        "evaluationStatus",
        "evaluatorId",
        "eventTime",
        "formId",
        "formName",
        "queueId",
        "released",
        "rescored",
        "systemSubmitted",
        "userId",
    }
)
EVALUATION_METRICS: Final[frozenset[str]] = frozenset({"oTotalCriticalScore", "oTotalScore"})
CONVERSATION_DIMENSIONS: Final[frozenset[str]] = frozenset(
    {
        "accessAttribute",
        "conversationEnd",
        "conversationId",
        "conversationInitiator",
        "conversationStart",
        "customerParticipation",
        "divisionId",
        "externalTag",
        "mediaStatsMinConversationMos",
        "originatingDirection",
        "originatingSocialMediaPublic",
    }
)
SEGMENT_DIMENSIONS: Final[frozenset[str]] = frozenset(
    {
        "addressFrom",
        "addressTo",
        "agentAssistantId",
        "agentOwned",
        "ani",
        "authenticated",
        "bargedParticipantId",
        "callbackNumber",
        "callbackScheduledTime",
        "canonicalExternalContactId",
        "cleared",
        "coachedParticipantId",
        "conference",
        "deliveryPushed",
        "deliveryStatus",
        "destinationAddress",
        "destinationConversationId",
        "detectedSpeechEnd",
        "detectedSpeechStart",
        "direction",
        "disconnectType",
        "dnis",
        "edgeId",
        "engagementSource",
        "errorCode",
        "exitReason",
        "extendedDeliveryStatus",
        "externalContactId",
        "externalOrganizationId",
        "flaggedReason",
        "flowId",
        "flowName",
        "flowOutType",
        "flowOutcome",
        "flowOutcomeId",
        "flowOutcomeValue",
        "flowVersion",
        "groupId",
        "journeyActionId",
        "journeyActionMapId",
        "journeyCustomerId",
        "journeyCustomerIdType",
        "journeyCustomerSessionId",
        "mediaCount",
        "mediaType",
        "messageType",
        "monitoredParticipantId",
        "outboundCampaignId",
        "outboundContactId",
        "outboundContactListId",
        "participantName",
        "protocolCallId",
        "provider",
        "purpose",
        "queueId",
        "recording",
        "remote",
        "remoteNameDisplayable",
        "requestedLanguageId",
        "requestedRouting",
        "requestedRoutingSkillId",
        "scoredAgentId",
        "screenMonitoredUserId",
        "screenRecording",
        "scriptId",
        "segmentEnd",
        "segmentType",
        "sessionDnis",
        "sipResponseCode",
        "skillExpressionId",
        "snippetRecording",
        "subject",
        "teamId",
        "transferTargetAddress",
        "transferTargetName",
        "transferType",
        "usedRouting",
        "userId",
        "wrapUpCode",
        "wrapUpNote",
    }
)
SEGMENT_METRICS: Final[frozenset[str]] = frozenset({"tSegmentDuration"})

Values = Mapping[str, object]
EntityValues = Callable[[Org, SimConversation], list[Values]]
ConversationTest = Callable[[Org, SimConversation], bool]


def parse_interval(value: object) -> tuple[datetime, datetime]:
    """Parse an ISO-8601 ``start/end`` interval into two aware UTC datetimes."""
    if not isinstance(value, str) or value.count("/") != 1:
        raise bad_request(f"Invalid interval {value!r}: expected 'start/end' in ISO-8601.")
    start_text, end_text = value.split("/")
    try:
        start = datetime.fromisoformat(start_text)
        end = datetime.fromisoformat(end_text)
    except ValueError as error:
        raise bad_request(f"Invalid interval {value!r}: {error}.") from error
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise bad_request(f"Invalid interval {value!r}: the end must be after the start.")
    return start, end


def touched_days(start: datetime, end: datetime) -> range:
    """Return the day numbers whose UTC day intersects [start, end)."""
    last = (end - timedelta(microseconds=1)).date()
    return range(day_number(start.date()), day_number(last) + 1)


# Values of one entity, keyed by dimension or metric name.


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _survey_values(org: Org, conversation: SimConversation) -> list[Values]:
    return [
        {
            "eventTime": iso(survey.event_time),
            "queueId": conversation.queue_id,
            "surveyCompletedDate": iso(survey.completed) if survey.completed else None,
            "surveyFormContextId": survey.form.context_id,
            "surveyFormId": survey.form.id,
            "surveyId": survey.id,
            "surveyPartialResponse": _bool(survey.partial),
            "surveyPromoterScore": survey.nps_score,
            "surveyStatus": survey.status,
            "surveyType": survey.survey_type,
            "userId": conversation.agent_id,
            "oSurveyTotalScore": survey.total_score,
        }
        for survey in conversation.surveys
    ]


def _evaluation_values(org: Org, conversation: SimConversation) -> list[Values]:
    return [
        {
            "assigneeApplicable": "true",
            "assigneeId": evaluation.evaluator_id,
            "contextId": evaluation.form.context_id,
            "deleted": _bool(evaluation.listed_as_deleted),
            "evaluationId": evaluation.id,
            "evaluationStatus": evaluation.status,
            "evaluatorId": evaluation.evaluator_id,
            "eventTime": iso(evaluation.event_time),
            "formId": evaluation.form.id,
            "formName": evaluation.form.name,
            "queueId": conversation.queue_id,
            "released": _bool(evaluation.released),
            "rescored": _bool(evaluation.rescored),
            "systemSubmitted": _bool(evaluation.system_submitted),
            "userId": conversation.agent_id,
            "oTotalScore": None
            if evaluation.total_score is None
            else round(evaluation.total_score),
            "oTotalCriticalScore": (
                None if evaluation.critical_score is None else round(evaluation.critical_score)
            ),
        }
        for evaluation in conversation.evaluations
    ]


def _conversation_values(org: Org, conversation: SimConversation) -> list[Values]:
    return [
        {
            "conversationEnd": iso(conversation.end),
            "conversationId": conversation.id,
            "conversationStart": iso(conversation.start),
            "divisionId": conversation.division_id,
            "originatingDirection": conversation.direction,
        }
    ]


def _segment_values(org: Org, conversation: SimConversation) -> list[Values]:
    agent = org.user(conversation.agent_id)
    queue = org.queue(conversation.queue_id)
    common = {"mediaType": conversation.media_type, "direction": conversation.direction}
    duration_ms = int((conversation.end - conversation.start).total_seconds() * 1000)
    return [
        {
            **common,
            "purpose": "customer",
            "segmentType": "interact",
            "disconnectType": conversation.disconnect_type,
            "tSegmentDuration": duration_ms,
        },
        {
            **common,
            "purpose": "acd",
            "segmentType": "interact",
            "queueId": conversation.queue_id,
            "participantName": queue.name if queue else None,
            "disconnectType": "transfer",
        },
        {
            **common,
            "purpose": "agent",
            "segmentType": "interact",
            "queueId": conversation.queue_id,
            "userId": conversation.agent_id,
            "participantName": agent.name if agent else None,
            "teamId": agent.team_id if agent else None,
        },
        {
            **common,
            "purpose": "agent",
            "segmentType": "wrapup",
            "queueId": conversation.queue_id,
            "userId": conversation.agent_id,
            "wrapUpCode": conversation.wrap_up_code,
            "disconnectType": "peer",
            "teamId": agent.team_id if agent else None,
        },
    ]


@dataclass(frozen=True)
class _FilterKind:
    name: str
    dimensions: frozenset[str]
    metrics: frozenset[str]
    values: EntityValues


FILTER_KINDS: Final[tuple[_FilterKind, ...]] = (
    _FilterKind("conversationFilters", CONVERSATION_DIMENSIONS, frozenset(), _conversation_values),
    _FilterKind("segmentFilters", SEGMENT_DIMENSIONS, SEGMENT_METRICS, _segment_values),
    _FilterKind("evaluationFilters", EVALUATION_DIMENSIONS, EVALUATION_METRICS, _evaluation_values),
    _FilterKind("surveyFilters", SURVEY_DIMENSIONS, SURVEY_METRICS, _survey_values),
)

EntityTest = Callable[[Values], bool]


def _compare_range(actual: object, bounds: Mapping[str, object]) -> bool:
    if actual is None:
        return False
    for key, bound in bounds.items():
        try:
            if isinstance(actual, str):
                left: float = datetime.fromisoformat(actual).timestamp()
                right = datetime.fromisoformat(str(bound)).timestamp()
            else:
                left = float(actual)  # type: ignore[arg-type]
                right = float(bound)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        if key == "gt" and not left > right:
            return False
        if key == "gte" and not left >= right:
            return False
        if key == "lt" and not left < right:
            return False
        if key == "lte" and not left <= right:
            return False
    return True


def _compile_predicate(kind: _FilterKind, predicate: object, where: str) -> EntityTest:
    if not isinstance(predicate, dict):
        raise bad_request(f"{where}: a predicate must be an object.")
    predicate_type = predicate.get("type", "dimension")
    if predicate_type == "property":
        raise bad_request(f"{where}: property predicates are not supported.")
    if predicate_type == "metric":
        name = predicate.get("metric")
        if name not in kind.metrics:
            raise bad_request(f"{where}: unknown metric {name!r} in {kind.name}.")
    elif predicate_type == "dimension":
        name = predicate.get("dimension")
        if name not in kind.dimensions:
            raise bad_request(f"{where}: unknown dimension {name!r} in {kind.name}.")
    else:
        raise bad_request(f"{where}: invalid predicate type {predicate_type!r}.")
    operator = predicate.get("operator", "matches")
    if operator not in OPERATORS:
        raise bad_request(f"{where}: invalid operator {operator!r}.")
    key = str(name)

    if operator == "exists":
        return lambda values: values.get(key) is not None
    if operator == "notExists":
        return lambda values: values.get(key) is None

    bounds = predicate.get("range")
    if bounds is not None:
        if (
            not isinstance(bounds, dict)
            or not set(bounds) <= {"gt", "gte", "lt", "lte"}
            or not bounds
        ):
            raise bad_request(f"{where}: invalid range {bounds!r}.")
        range_bounds: dict[str, object] = bounds
        return lambda values: _compare_range(values.get(key), range_bounds)
    if "value" not in predicate or predicate["value"] is None:
        raise bad_request(f"{where}: operator 'matches' needs a value or a range.")
    raw = predicate["value"]
    expected = _bool(raw) if isinstance(raw, bool) else str(raw)
    return lambda values: values.get(key) is not None and str(values.get(key)) == expected


def _compile_group(kind: _FilterKind, group: object, where: str, depth: int) -> EntityTest:
    if not isinstance(group, dict):
        raise bad_request(f"{where}: a filter must be an object.")
    group_type = group.get("type")
    if group_type not in ("and", "or"):
        raise bad_request(f"{where}: filter type must be 'and' or 'or', got {group_type!r}.")
    predicates = group.get("predicates") or []
    clauses = group.get("clauses") or []
    if not isinstance(predicates, list) or not isinstance(clauses, list):
        raise bad_request(f"{where}: predicates and clauses must be lists.")
    if clauses and depth >= 2:
        raise bad_request(f"{where}: clauses may not be nested more than two levels.")
    tests = [
        _compile_predicate(kind, predicate, f"{where}.predicates[{index}]")
        for index, predicate in enumerate(predicates)
    ]
    tests += [
        _compile_group(kind, clause, f"{where}.clauses[{index}]", depth + 1)
        for index, clause in enumerate(clauses)
    ]
    if not tests:
        raise bad_request(f"{where}: a filter needs at least one predicate or clause.")
    if group_type == "and":
        return lambda values: all(test(values) for test in tests)
    return lambda values: any(test(values) for test in tests)


def compile_filters(body: Mapping[str, object]) -> tuple[ConversationTest | None, bool]:
    """Compile the filter lists of a query body into (test, whether any filter was given).

    A conversation passes a filter when at least one of its entities (surveys, evaluations,
    segments, or the conversation itself) passes. A conversation without entities of that
    kind is tested as one entity without values, so ``notExists`` matches it.
    """
    parts: list[tuple[EntityValues, EntityTest]] = []
    for kind in FILTER_KINDS:
        filters = body.get(kind.name)
        if filters is None:
            continue
        if not isinstance(filters, list):
            raise bad_request(f"{kind.name} must be a list.")
        for index, group in enumerate(filters):
            parts.append((kind.values, _compile_group(kind, group, f"{kind.name}[{index}]", 0)))
    if body.get("resolutionFilters"):
        raise bad_request("resolutionFilters are not supported by the simulator.")
    if not parts:
        return None, False

    def test(org: Org, conversation: SimConversation) -> bool:
        for values_of, entity_test in parts:
            entities = values_of(org, conversation) or [{}]
            if not any(entity_test(values) for values in entities):
                return False
        return True

    return test, True


@dataclass(frozen=True)
class DetailQuery:
    """A validated details query, without paging."""

    start: datetime
    end: datetime
    order: str
    order_by: str
    test: ConversationTest | None
    key: bytes


def parse_query(body: object, *, allow_paging: bool) -> DetailQuery:
    """Validate the common part of ``ConversationQuery`` and ``AsyncConversationQuery``."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    if "interval" not in body:
        raise bad_request("The interval is required.")
    if not allow_paging and "paging" in body:
        raise bad_request("Paging is not supported by asynchronous jobs; use the results cursor.")
    start, end = parse_interval(body["interval"])
    order = body.get("order", "asc")
    if order not in ORDERS:
        raise bad_request(f"Invalid order {order!r}; expected one of {sorted(ORDERS)}.")
    order_by = body.get("orderBy", "conversationStart")
    if order_by not in ORDER_BYS:
        raise bad_request(f"Invalid orderBy {order_by!r}; expected one of {sorted(ORDER_BYS)}.")
    test, filtered = compile_filters(body)
    if allow_paging:
        limit_days = MAX_DAYS_FILTERED if filtered else MAX_DAYS_UNFILTERED
        if end - start > timedelta(days=limit_days):
            kind = "with" if filtered else "without"
            raise bad_request(
                f"The interval {body['interval']} exceeds the maximum of {limit_days} days "
                f"for queries {kind} filters."
            )
    key_body = {name: value for name, value in body.items() if name != "paging"}
    key = orjson.dumps(key_body, option=orjson.OPT_SORT_KEYS)
    return DetailQuery(start, end, str(order), str(order_by), test, key)


def parse_paging(body: Mapping[str, object]) -> tuple[int, int]:
    """Return (pageSize, pageNumber) of a details query, enforcing the API's limits."""
    paging = body.get("paging")
    if paging is None:
        return DEFAULT_PAGE_SIZE, 1
    if not isinstance(paging, dict):
        raise bad_request("paging must be an object with pageSize and pageNumber.")
    size = paging.get("pageSize")
    number = paging.get("pageNumber")
    if not isinstance(size, int) or isinstance(size, bool):
        raise bad_request("paging.pageSize is required and must be an integer.")
    if not isinstance(number, int) or isinstance(number, bool):
        raise bad_request("paging.pageNumber is required and must be an integer.")
    if size < 1 or size > MAX_PAGE_SIZE:
        raise bad_request(f"paging.pageSize must be between 1 and {MAX_PAGE_SIZE}, got {size}.")
    if number < 1:
        raise bad_request(f"paging.pageNumber must be 1 or more, got {number}.")
    if size * number > MAX_PAGED_RESULTS:
        raise bad_request(f"Pagination may not exceed {MAX_PAGED_RESULTS} results.")
    return size, number


def pack(conversation: SimConversation) -> int:
    """Return a compact integer reference to a conversation."""
    return (conversation.day << 24) | conversation.index


def unpack(org: Org, ref: int) -> SimConversation:
    """Return the conversation behind a reference made by ``pack``."""
    return org.conversations(ref >> 24)[ref & 0xFFFFFF]


def _order(
    conversations: Iterable[SimConversation], order: str, order_by: str
) -> list[SimConversation]:
    items = list(conversations)
    if order_by in ("conversationEnd", "segmentEnd"):
        items.sort(key=lambda item: (item.end, item.id))
    if order == "desc":
        items.reverse()
    return items


def select_start_days(org: Org, query: DetailQuery) -> Iterator[SimConversation]:
    """Yield conversations that started on a UTC day touched by the interval, in start order."""
    for day in touched_days(query.start, query.end):
        if not org.config.first_day <= day_from_number(day) <= org.config.last_day:
            continue
        for conversation in org.conversations(day):
            if query.test is None or query.test(org, conversation):
                yield conversation


def select_overlapping(org: Org, query: DetailQuery) -> Iterator[SimConversation]:
    """Yield conversations whose lifetime overlaps the interval, in start order."""
    # A conversation lasts at most 30 minutes, so one day before the interval is enough.
    for day in range(day_number(query.start.date()) - 1, day_number(query.end.date()) + 1):
        if not org.config.first_day <= day_from_number(day) <= org.config.last_day:
            continue
        for conversation in org.conversations(day):
            if conversation.start >= query.end or conversation.end <= query.start:
                continue
            if query.test is None or query.test(org, conversation):
                yield conversation


class DetailsQueryService:
    """Run ``POST /api/v2/analytics/conversations/details/query`` requests."""

    def __init__(
        self, org: Org, *, unstable_paging: bool, cache_size: int = 16, page_size_clamp: int = 0
    ) -> None:
        #: Largest page served whatever pageSize requests; 0 serves pageSize as asked.
        self.page_size_clamp = page_size_clamp
        self.org = org
        self.unstable_paging = unstable_paging
        self._results: OrderedDict[bytes, list[int]] = OrderedDict()
        self._first_page_requests: OrderedDict[bytes, int] = OrderedDict()
        self._cache_size = cache_size

    def _result(self, query: DetailQuery) -> list[int]:
        cached = self._results.get(query.key)
        if cached is not None:
            self._results.move_to_end(query.key)
            return cached
        ordered = _order(select_start_days(self.org, query), query.order, query.order_by)
        refs = [pack(conversation) for conversation in ordered]
        self._results[query.key] = refs
        while len(self._results) > self._cache_size:
            self._results.popitem(last=False)
        return refs

    def _scan_count(self, key: bytes, page_number: int) -> int:
        count = self._first_page_requests.get(key, 0)
        if page_number == 1:
            count += 1
        self._first_page_requests[key] = count
        self._first_page_requests.move_to_end(key)
        while len(self._first_page_requests) > 4096:
            self._first_page_requests.popitem(last=False)
        return count

    def run(self, body: object) -> dict[str, object]:
        """Validate and run one query; raise ``ApiError`` for an invalid request."""
        query = parse_query(body, allow_paging=True)
        assert isinstance(body, dict)  # parse_query checked it
        size, number = parse_paging(body)
        if self.page_size_clamp:
            size = min(size, self.page_size_clamp)
        refs = self._result(query)
        scans = self._scan_count(query.key, number)
        if self.unstable_paging and scans <= 1 and number >= 2 and len(refs) > size:
            logger.debug("serving page %d of a query from the reordered list", number)
            refs = [refs[-1], *refs[:-1]]
        page = refs[(number - 1) * size : number * size]
        response: dict[str, object] = {"totalHits": len(refs)}
        if page:
            response["conversations"] = [
                analytics_conversation_json(self.org, unpack(self.org, ref)) for ref in page
            ]
        return response
