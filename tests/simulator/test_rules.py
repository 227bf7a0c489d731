"""Each documented rule of the simulated API, checked over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from harvester.simulator import Fault, SimConfig, Simulator
from harvester.simulator.config import load_fault_script
from harvester.simulator.org import day_number
from tests.conftest import MakeSimulator
from tests.simulator.client import JOBS, Api, basic

DAY = datetime(2025, 3, 2, tzinfo=UTC)
ONE_DAY = "2025-03-02T00:00:00.000Z/2025-03-03T00:00:00.000Z"
ANY_SURVEY = [{"type": "and", "predicates": [{"dimension": "surveyId", "operator": "exists"}]}]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield an HTTP client session that is closed after the test."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def api(session: aiohttp.ClientSession, simulator: Simulator) -> Api:
    """Return a logged-in client of the default simulator."""
    client = Api(session, simulator)
    await client.login()
    return client


async def logged_in(session: aiohttp.ClientSession, simulator: Simulator) -> Api:
    """Return a logged-in client of ``simulator``."""
    client = Api(session, simulator)
    await client.login()
    return client


def assert_error_body(body: Any, response: aiohttp.ClientResponse, status: int, code: str) -> None:
    """Check the Genesys ErrorBody shape and that contextId is the correlation id."""
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body["details"] == []
    assert body["errors"] == []
    assert body["contextId"] == response.headers["ININ-Correlation-Id"]


def day_conversations(simulator: Simulator, day: datetime) -> int:
    """Return how many conversations started on ``day`` according to the org."""
    return len(simulator.org.conversations(day_number(day.date())))


# OAuth and authentication.


async def test_token_issued_for_basic_credentials(
    simulator: Simulator, session: aiohttp.ClientSession
) -> None:
    """A correct client id and secret get a bearer token with the default lifetime."""
    async with session.post(
        simulator.base_url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic()},
    ) as response:
        body = await response.json()
        assert response.status == 200
        assert response.headers["ININ-Correlation-Id"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert len(body["access_token"]) > 20
    assert simulator.stats.tokens_issued == 1


async def test_token_wrong_secret_is_invalid_client(
    simulator: Simulator, session: aiohttp.ClientSession
) -> None:
    """A wrong secret gets 401 with the OAuth error fields."""
    async with session.post(
        simulator.base_url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(secret="wrong")},
    ) as response:
        body = await response.json()
        assert response.status == 401
    assert body["error"] == "invalid_client"
    assert body["description"]
    assert body["error_description"] == body["description"]


async def test_token_needs_client_credentials_grant(
    simulator: Simulator, session: aiohttp.ClientSession
) -> None:
    """Any other grant type gets 400."""
    async with session.post(
        simulator.base_url + "/oauth/token",
        data={"grant_type": "password"},
        headers={"Authorization": basic()},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"


async def test_several_clients_have_separate_tokens(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """Every configured client can log in; each token counts its own requests."""
    simulator = await make_simulator(clients={"a": "secret-a", "b": "secret-b"})
    first = Api(session, simulator)
    second = Api(session, simulator)
    await first.login("a", "secret-a")
    await second.login("b", "secret-b")
    await first.get("/api/v2/users")
    await first.get("/api/v2/users")
    await second.get("/api/v2/users")
    assert simulator.stats.per_token == {"a#1": 2, "b#2": 1}


async def test_missing_bearer_is_authentication_required(api: Api) -> None:
    """A request without a bearer token gets 401 authentication.required."""
    status, body, response = await api.get("/api/v2/users", token="")
    assert status == 401
    assert_error_body(body, response, 401, "authentication.required")


async def test_unknown_bearer_is_authentication_required(api: Api) -> None:
    """A token the simulator never issued gets 401 authentication.required."""
    status, body, response = await api.get("/api/v2/users", token="made-up-token")
    assert status == 401
    assert_error_body(body, response, 401, "authentication.required")


async def test_expired_token_is_bad_credentials(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """After its lifetime a token gets 401 bad.credentials with the real message."""
    simulator = await make_simulator(token_ttl=1, time_scale=10)
    api = await logged_in(session, simulator)
    status, _, _ = await api.get("/api/v2/users")
    assert status == 200
    await asyncio.sleep(0.15)
    status, body, response = await api.get("/api/v2/users")
    assert status == 401
    assert_error_body(body, response, 401, "bad.credentials")
    assert body["message"] == "Invalid login credentials."


@pytest.mark.parametrize(
    "simulator", [{"denied_permissions": frozenset({"quality:survey:view"})}], indirect=True
)
async def test_denied_permission_is_403(api: Api, simulator: Simulator) -> None:
    """An endpoint that needs a denied permission gets 403 naming it; others still work."""
    survey = simulator.org.expected_surveys(DAY, DAY + timedelta(days=1))[0]
    status, body, response = await api.get(f"/api/v2/quality/surveys/{survey.survey_id}")
    assert status == 403
    assert_error_body(body, response, 403, "missing.any.permissions")
    assert "quality:survey:view" in body["message"]
    status, _, _ = await api.get("/api/v2/users")
    assert status == 200


async def test_every_response_has_correlation_id(api: Api) -> None:
    """Successes and errors alike carry a fresh ININ-Correlation-Id."""
    _, _, ok = await api.get("/api/v2/users")
    _, body, missing = await api.get("/api/v2/no/such/route")
    assert ok.headers["ININ-Correlation-Id"] != missing.headers["ININ-Correlation-Id"]
    assert_error_body(body, missing, 404, "not.found")


# Details query.


async def test_query_needs_interval(api: Api) -> None:
    """A query without an interval gets 400."""
    status, body, response = await api.query({"paging": {"pageSize": 25, "pageNumber": 1}})
    assert status == 400
    assert_error_body(body, response, 400, "bad.request")


async def test_query_rejects_malformed_interval(api: Api) -> None:
    """An interval that is not ISO start/end gets 400."""
    status, _, _ = await api.query({"interval": "yesterday"})
    assert status == 400


@pytest.mark.parametrize(
    ("days", "filtered", "expected"),
    [(7, False, 200), (8, False, 400), (31, True, 200), (32, True, 400)],
    ids=["7-days-unfiltered", "8-days-unfiltered", "31-days-filtered", "32-days-filtered"],
)
async def test_query_interval_limits(api: Api, days: int, filtered: bool, expected: int) -> None:
    """Intervals may span 7 days without filters and 31 days with one."""
    end = DAY + timedelta(days=days)
    body: dict[str, Any] = {"interval": f"{DAY.isoformat()}/{end.isoformat()}"}
    if filtered:
        body["surveyFilters"] = ANY_SURVEY
    status, _, _ = await api.query(body)
    assert status == expected


async def test_query_default_page_size_is_25(api: Api) -> None:
    """Without paging the first 25 conversations come back."""
    status, body, _ = await api.query({"interval": ONE_DAY})
    assert status == 200
    assert len(body["conversations"]) == 25
    assert body["totalHits"] > 25


async def test_query_rejects_page_size_over_100(api: Api) -> None:
    """pageSize 101 gets 400."""
    status, _, _ = await api.query(
        {"interval": ONE_DAY, "paging": {"pageSize": 101, "pageNumber": 1}}
    )
    assert status == 400


async def test_query_paging_needs_both_fields(api: Api) -> None:
    """paging without pageNumber gets 400."""
    status, _, _ = await api.query({"interval": ONE_DAY, "paging": {"pageSize": 10}})
    assert status == 400


async def test_query_pagination_cap(api: Api) -> None:
    """pageNumber x pageSize above 100,000 gets the real 400 message; exactly 100,000 passes."""
    status, body, response = await api.query(
        {"interval": ONE_DAY, "paging": {"pageSize": 100, "pageNumber": 1001}}
    )
    assert status == 400
    assert_error_body(body, response, 400, "bad.request")
    assert body["message"] == "Pagination may not exceed 100000 results."
    status, body, _ = await api.query(
        {"interval": ONE_DAY, "paging": {"pageSize": 100, "pageNumber": 1000}}
    )
    assert status == 200
    assert "conversations" not in body


async def test_query_selects_whole_start_days(api: Api, simulator: Simulator) -> None:
    """A two-millisecond interval across midnight returns both touched days in full."""
    interval = "2025-03-01T23:59:59.999Z/2025-03-02T00:00:00.001Z"
    expected = day_conversations(simulator, DAY - timedelta(days=1)) + day_conversations(
        simulator, DAY
    )
    status, body, _ = await api.query(
        {"interval": interval, "paging": {"pageSize": 100, "pageNumber": 1}}
    )
    assert status == 200
    assert body["totalHits"] == expected
    starts = [c["conversationStart"] for c in body["conversations"]]
    assert starts[0] == "2025-03-01T00:00:00.000Z"
    assert starts == sorted(starts)


async def test_query_day_boundaries_are_exact(api: Api, simulator: Simulator) -> None:
    """A midnight-to-midnight interval contains the 00:00:00.000 and 23:59:59.999 conversations of its day only."""
    total = day_conversations(simulator, DAY)
    last_page = (total - 1) // 100 + 1
    status, first, _ = await api.query(
        {"interval": ONE_DAY, "paging": {"pageSize": 100, "pageNumber": 1}}
    )
    status, last, _ = await api.query(
        {"interval": ONE_DAY, "paging": {"pageSize": 100, "pageNumber": last_page}}
    )
    assert status == 200
    assert first["totalHits"] == total
    assert first["conversations"][0]["conversationStart"] == "2025-03-02T00:00:00.000Z"
    assert last["conversations"][-1]["conversationStart"] == "2025-03-02T23:59:59.999Z"


async def test_query_order_desc(api: Api) -> None:
    """order desc lists the latest start first."""
    status, body, _ = await api.query({"interval": ONE_DAY, "order": "desc"})
    assert status == 200
    assert body["conversations"][0]["conversationStart"] == "2025-03-02T23:59:59.999Z"


async def test_query_empty_result_omits_conversations(api: Api) -> None:
    """A day without data returns totalHits 0 and no conversations key."""
    status, body, _ = await api.query({"interval": "2024-06-01T00:00:00Z/2024-06-02T00:00:00Z"})
    assert status == 200
    assert body == {"totalHits": 0}


async def test_query_survey_exists_filter(api: Api, simulator: Simulator) -> None:
    """surveyId exists drops conversations without surveys."""
    day = simulator.org.conversations(day_number(DAY.date()))
    with_surveys = sum(1 for conversation in day if conversation.surveys)
    assert 0 < with_surveys < len(day)
    status, body, _ = await api.query(
        {
            "interval": ONE_DAY,
            "surveyFilters": ANY_SURVEY,
            "paging": {"pageSize": 100, "pageNumber": 1},
        }
    )
    assert status == 200
    assert body["totalHits"] == with_surveys
    assert all(conversation["surveys"] for conversation in body["conversations"])


async def test_query_survey_status_filter_matches_ground_truth(
    api: Api, simulator: Simulator
) -> None:
    """surveyStatus Finished finds exactly the conversations of the ground truth."""
    filters = [{"type": "and", "predicates": [{"dimension": "surveyStatus", "value": "Finished"}]}]
    status, body, _ = await api.query(
        {
            "interval": ONE_DAY,
            "surveyFilters": filters,
            "paging": {"pageSize": 100, "pageNumber": 1},
        }
    )
    expected = simulator.org.expected_surveys(DAY, DAY + timedelta(days=1))
    assert status == 200
    assert body["totalHits"] == len({item.conversation_id for item in expected})
    listed = {
        survey["surveyId"]
        for conversation in body["conversations"]
        for survey in conversation["surveys"]
        if survey["surveyStatus"] == "Finished"
    }
    assert listed == {item.survey_id for item in expected}


@pytest.mark.parametrize(
    ("kind", "predicate"),
    [
        ("segmentFilters", {"dimension": "mediaType", "value": "voice"}),
        ("segmentFilters", {"dimension": "disconnectType", "value": "client"}),
        ("evaluationFilters", {"dimension": "evaluationId", "operator": "exists"}),
        ("conversationFilters", {"dimension": "originatingDirection", "value": "outbound"}),
        ("surveyFilters", {"dimension": "surveyPartialResponse", "value": "true"}),
        ("surveyFilters", {"dimension": "surveyType", "value": "Voice"}),
        ("surveyFilters", {"type": "metric", "metric": "oSurveyTotalScore", "range": {"gte": 50}}),
    ],
    ids=[
        "media-type",
        "disconnect-type",
        "evaluation-exists",
        "direction",
        "partial",
        "voice",
        "metric-range",
    ],
)
async def test_query_filters_narrow_results(api: Api, kind: str, predicate: dict[str, Any]) -> None:
    """Each supported filter returns a non-empty strict subset of the day."""
    _, unfiltered, _ = await api.query({"interval": ONE_DAY})
    status, body, _ = await api.query(
        {"interval": ONE_DAY, kind: [{"type": "and", "predicates": [predicate]}]}
    )
    assert status == 200
    assert 0 < body["totalHits"] < unfiltered["totalHits"]


async def test_query_or_clause(api: Api) -> None:
    """An or-filter of two statuses matches at least as much as either status."""

    def status_filter(*statuses: str) -> list[dict[str, Any]]:
        predicates = [{"dimension": "surveyStatus", "value": value} for value in statuses]
        return [{"type": "or", "predicates": predicates}]

    _, finished, _ = await api.query(
        {"interval": ONE_DAY, "surveyFilters": status_filter("Finished")}
    )
    _, both, _ = await api.query(
        {"interval": ONE_DAY, "surveyFilters": status_filter("Finished", "Expired")}
    )
    assert both["totalHits"] > finished["totalHits"]


@pytest.mark.parametrize(
    "filters",
    [
        {
            "surveyFilters": [
                {"type": "and", "predicates": [{"dimension": "surveyColour", "value": "x"}]}
            ]
        },
        {
            "segmentFilters": [
                {"type": "and", "predicates": [{"dimension": "surveyId", "operator": "exists"}]}
            ]
        },
        {
            "surveyFilters": [
                {"type": "xor", "predicates": [{"dimension": "surveyId", "operator": "exists"}]}
            ]
        },
        {
            "surveyFilters": [
                {"type": "and", "predicates": [{"dimension": "surveyId", "operator": "like"}]}
            ]
        },
        {"surveyFilters": [{"type": "and", "predicates": [{"dimension": "surveyId"}]}]},
        {"surveyFilters": [{"type": "and", "predicates": []}]},
    ],
    ids=[
        "unknown-dimension",
        "dimension-of-other-kind",
        "bad-type",
        "bad-operator",
        "no-value",
        "empty",
    ],
)
async def test_query_rejects_invalid_filters(api: Api, filters: dict[str, Any]) -> None:
    """Invalid filters get 400."""
    status, _, _ = await api.query({"interval": ONE_DAY, **filters})
    assert status == 400


@pytest.mark.parametrize("simulator", [{"unstable_paging": True}], indirect=True)
async def test_unstable_paging_first_scan_misses_one(api: Api) -> None:
    """The first page-by-page scan misses one conversation and repeats one; a rescan is complete."""

    async def scan() -> tuple[list[str], int]:
        ids: list[str] = []
        page = 1
        while True:
            status, body, _ = await api.query(
                {"interval": ONE_DAY, "paging": {"pageSize": 10, "pageNumber": page}}
            )
            assert status == 200
            ids += [c["conversationId"] for c in body.get("conversations", [])]
            if page * 10 >= body["totalHits"]:
                return ids, body["totalHits"]
            page += 1

    first, total = await scan()
    assert len(first) == total
    assert len(set(first)) == total - 1
    second, total_again = await scan()
    assert total_again == total
    assert len(set(second)) == total
    assert set(first) < set(second)


# Quality.


async def test_survey_get_matches_ground_truth(api: Api, simulator: Simulator) -> None:
    """A finished survey's GET returns the ground truth's scores, answers and references."""
    expected = next(
        item
        for item in simulator.org.expected_surveys(DAY, DAY + timedelta(days=1))
        if not item.deleted
    )
    status, body, _ = await api.get(f"/api/v2/quality/surveys/{expected.survey_id}")
    assert status == 200
    assert body["status"] == "Finished"
    assert body["conversation"]["id"] == expected.conversation_id
    assert body["agent"] == {
        "id": expected.agent_id,
        "name": expected.agent_name,
        "selfUri": f"/api/v2/users/{expected.agent_id}",
    }
    assert body["queue"] == {
        "id": expected.queue_id,
        "selfUri": f"/api/v2/routing/queues/{expected.queue_id}",
    }
    assert body["surveyForm"]["id"] == expected.form_id
    assert body["answers"]["totalScore"] == expected.total_score
    assert body["answers"].get("npsScore") == expected.nps_score
    scores = [
        q for group in body["answers"]["questionGroupScores"] for q in group["questionScores"]
    ]
    assert len(scores) == expected.question_count
    assert body["missingRequiredAnswer"] is False


@pytest.mark.parametrize("simulator", [{"deleted_fraction": 0.3}], indirect=True)
async def test_deleted_survey_listed_but_404(api: Api, simulator: Simulator) -> None:
    """A deleted survey still appears in analytics while its GET returns 404 not.found."""
    deleted = next(
        item
        for item in simulator.org.expected_surveys(DAY, DAY + timedelta(days=1))
        if item.deleted
    )
    filters = [
        {"type": "and", "predicates": [{"dimension": "surveyId", "value": deleted.survey_id}]}
    ]
    _, listed, _ = await api.query({"interval": ONE_DAY, "surveyFilters": filters})
    assert listed["totalHits"] == 1
    status, body, response = await api.get(f"/api/v2/quality/surveys/{deleted.survey_id}")
    assert status == 404
    assert_error_body(body, response, 404, "not.found")


async def test_unknown_survey_is_404(api: Api) -> None:
    """An id the org never issued gets 404."""
    status, _, _ = await api.get("/api/v2/quality/surveys/00000000-0000-4000-8000-000000000000")
    assert status == 404


async def test_conversation_surveys_bare_array(api: Api, simulator: Simulator) -> None:
    """The conversation's surveys come back as a bare JSON array."""
    conversation = next(
        c for c in simulator.org.conversations(day_number(DAY.date())) if len(c.surveys) == 2
    )
    status, body, _ = await api.get(f"/api/v2/quality/conversations/{conversation.id}/surveys")
    assert status == 200
    assert isinstance(body, list)
    assert [survey["id"] for survey in body] == [
        survey.id for survey in conversation.surveys if not survey.deleted
    ]


async def test_evaluation_expand_adds_names(api: Api, simulator: Simulator) -> None:
    """Without expand users are id references; with expand they carry names; status is upper case."""
    conversation, evaluation = next(
        (c, e)
        for c in simulator.org.conversations(day_number(DAY.date()))
        for e in c.evaluations
        if not e.deleted
    )
    path = f"/api/v2/quality/conversations/{conversation.id}/evaluations/{evaluation.id}"
    status, plain, _ = await api.get(path)
    assert status == 200
    assert plain["status"] == evaluation.status.upper()
    assert set(plain["agent"]) == {"id", "selfUri"}
    assert set(plain["evaluationForm"]) == {"id", "selfUri"}
    status, expanded, _ = await api.get(path, params={"expand": "agent,evaluator,evaluationForm"})
    assert status == 200
    assert expanded["agent"]["name"]
    assert expanded["evaluator"]["name"]
    assert expanded["evaluationForm"]["questionGroups"]


@pytest.mark.parametrize("simulator", [{"deleted_fraction": 0.3}], indirect=True)
async def test_deleted_evaluation_is_404(api: Api, simulator: Simulator) -> None:
    """A deleted evaluation is in the ground truth's deleted ids and its GET returns 404."""
    conversation, evaluation = next(
        (c, e)
        for c in simulator.org.conversations(day_number(DAY.date()))
        for e in c.evaluations
        if e.deleted
    )
    path = f"/api/v2/quality/conversations/{conversation.id}/evaluations/{evaluation.id}"
    status, _, _ = await api.get(path)
    assert status == 404


async def test_evaluations_query_needs_an_id(api: Api) -> None:
    """The evaluations query without conversationId, agent, evaluator or assignee gets 400."""
    status, body, response = await api.get("/api/v2/quality/evaluations/query")
    assert status == 400
    assert_error_body(body, response, 400, "bad.request")


async def test_evaluations_query_by_conversation(api: Api, simulator: Simulator) -> None:
    """A conversationId query lists that conversation's readable evaluations."""
    conversation = next(
        c for c in simulator.org.conversations(day_number(DAY.date())) if c.evaluations
    )
    status, body, _ = await api.get(
        "/api/v2/quality/evaluations/query", params={"conversationId": conversation.id}
    )
    assert status == 200
    assert [entity["id"] for entity in body["entities"]] == [
        e.id for e in sorted(conversation.evaluations, key=lambda e: e.created) if not e.deleted
    ]
    assert body["pageSize"] == 25
    assert "nextUri" not in body


async def test_evaluations_query_pages_with_next_uri(api: Api, simulator: Simulator) -> None:
    """An evaluator query over a day pages with nextUri until the last page."""
    evaluator = simulator.org.evaluators[0]
    params = {
        "evaluatorUserId": evaluator.id,
        "startTime": "2025-03-01T00:00:00Z",
        "endTime": "2025-03-08T00:00:00Z",
        "pageSize": "2",
    }
    status, body, _ = await api.get("/api/v2/quality/evaluations/query", params=params)
    assert status == 200
    assert body["total"] > 2
    assert body["nextUri"].startswith("/api/v2/quality/evaluations/query?")
    assert len(body["entities"]) == 2


async def test_survey_forms(api: Api, simulator: Simulator) -> None:
    """Forms are readable by id, in bulk and by context, where the latest version wins."""
    old, new = simulator.org.survey_forms[0], simulator.org.survey_forms[1]
    status, form, _ = await api.get(f"/api/v2/quality/forms/surveys/{old.id}")
    assert status == 200
    assert form["questionGroups"][0]["questions"][1]["answerOptions"]
    status, bulk, _ = await api.get(
        "/api/v2/quality/forms/surveys/bulk", params=[("id", old.id), ("id", new.id)]
    )
    assert status == 200
    assert {entity["id"] for entity in bulk["entities"]} == {old.id, new.id}
    status, latest, _ = await api.get(
        "/api/v2/quality/forms/surveys/bulk/contexts", params={"contextId": old.context_id}
    )
    assert status == 200
    assert [entity["id"] for entity in latest] == [new.id]
    too_many = ",".join(f"00000000-0000-4000-8000-{n:012d}" for n in range(101))
    status, _, _ = await api.get(
        "/api/v2/quality/forms/surveys/bulk/contexts", params={"contextId": too_many}
    )
    assert status == 400


async def test_evaluation_form(api: Api, simulator: Simulator) -> None:
    """An evaluation form is readable by id; a survey form id is not an evaluation form."""
    form = simulator.org.evaluation_forms[0]
    status, body, _ = await api.get(f"/api/v2/quality/forms/evaluations/{form.id}")
    assert status == 200
    assert body["contextId"] == form.context_id
    survey_form = simulator.org.survey_forms[0]
    status, _, _ = await api.get(f"/api/v2/quality/forms/evaluations/{survey_form.id}")
    assert status == 404


# Users, queues, limits.


async def test_users_default_state_hides_leavers(api: Api, simulator: Simulator) -> None:
    """Without state only active users are listed; state=any adds those who left."""
    leaver = next(user for user in simulator.org.agents if user.state != "active")
    _, active, _ = await api.get("/api/v2/users", params={"id": leaver.id})
    assert active["entities"] == []
    _, anyone, _ = await api.get("/api/v2/users", params={"id": leaver.id, "state": "any"})
    assert [user["id"] for user in anyone["entities"]] == [leaver.id]
    assert anyone["entities"][0]["state"] == leaver.state


async def test_users_ids_repeated_or_joined(api: Api, simulator: Simulator) -> None:
    """?id=a&id=b and ?id=a,b select the same users."""
    ids = [user.id for user in simulator.org.agents[:6] if user.state == "active"][:3]
    _, repeated, _ = await api.get("/api/v2/users", params=[("id", value) for value in ids])
    _, joined, _ = await api.get("/api/v2/users", params={"id": ",".join(ids)})
    assert {user["id"] for user in repeated["entities"]} == set(ids)
    assert {user["id"] for user in joined["entities"]} == set(ids)


async def test_users_page_size_clamped(api: Api, simulator: Simulator) -> None:
    """pageSize 500 is clamped to 100 silently; paging URIs follow."""
    status, body, _ = await api.get("/api/v2/users", params={"pageSize": "500", "state": "any"})
    assert status == 200
    assert body["pageSize"] == 100
    assert body["total"] == len(simulator.org.users)
    assert len(body["entities"]) == min(100, body["total"])
    status, small, _ = await api.get("/api/v2/users", params={"pageSize": "10", "pageNumber": "2"})
    assert small["nextUri"] == "/api/v2/users?pageSize=10&pageNumber=3"
    assert small["previousUri"] == "/api/v2/users?pageSize=10&pageNumber=1"
    assert small["pageCount"] == -(-small["total"] // 10)


async def test_users_rejects_unknown_state(api: Api) -> None:
    """An unknown state gets 400."""
    status, _, _ = await api.get("/api/v2/users", params={"state": "retired"})
    assert status == 400


async def test_queues_listing(api: Api, simulator: Simulator) -> None:
    """Queues are listed by name and selectable by id."""
    status, body, _ = await api.get("/api/v2/routing/queues", params={"pageSize": "100"})
    assert status == 200
    names = [queue["name"] for queue in body["entities"]]
    assert names == sorted(names, key=str.lower)
    assert body["total"] == len(simulator.org.queues)
    wanted = simulator.org.queues[0]
    _, one, _ = await api.get("/api/v2/routing/queues", params={"id": wanted.id})
    assert [queue["name"] for queue in one["entities"]] == [wanted.name]


@pytest.mark.parametrize("simulator", [{"rate_limit_per_minute": 123}], indirect=True)
async def test_limits_namespace_reports_rate_limit(api: Api) -> None:
    """platform.api reports the configured token rate limit."""
    status, body, _ = await api.get("/api/v2/organizations/limits/namespaces/platform.api")
    assert status == 200
    limits = {entity["key"]: entity["value"] for entity in body["entities"]}
    assert limits["client.credentials.token.rate.per.minute"] == 123


# Rate limit.


async def test_rate_limit_429_with_retry_after(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """Over the limit a token gets 429 with Retry-After; rejected calls do not extend the wait."""
    simulator = await make_simulator(rate_limit_per_minute=3, time_scale=60)
    api = await logged_in(session, simulator)
    other = await logged_in(session, simulator)
    for _ in range(3):
        status, _, _ = await api.get("/api/v2/users")
        assert status == 200
    status, body, response = await api.get("/api/v2/users")
    assert status == 429
    assert_error_body(body, response, 429, "too.many.requests.retry.after")
    assert response.headers["Retry-After"] == "1"
    assert body["message"] == "Rate limit exceeded the maximum. Retry the request in [1] seconds"
    status, _, _ = await other.get("/api/v2/users")
    assert status == 200
    for _ in range(5):
        await api.get("/api/v2/users")
    await asyncio.sleep(1.05)
    status, _, _ = await api.get("/api/v2/users")
    assert status == 200
    assert simulator.stats.rate_limited == 6


# Jobs.


async def _wait_for_state(api: Api, job_id: str, states: set[str]) -> dict[str, Any]:
    for _ in range(200):
        status, body, _ = await api.get(f"{JOBS}/{job_id}")
        assert status == 200
        if body["state"] in states:
            document: dict[str, Any] = body
            return document
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {states}")


async def _all_results(api: Api, job_id: str, page_size: int) -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"pageSize": str(page_size)}
        if cursor:
            params["cursor"] = cursor
        status, body, _ = await api.get(f"{JOBS}/{job_id}/results", params=params)
        assert status == 200, body
        conversations += body.get("conversations", [])
        cursor = body.get("cursor")
        if cursor is None:
            return conversations


@pytest.mark.parametrize("simulator", [{"job_run_seconds": 0.2}], indirect=True)
async def test_job_lifecycle(api: Api, simulator: Simulator) -> None:
    """A job goes QUEUED/PENDING to FULFILLED and pages with a cursor to the query's result."""
    status, submitted, _ = await api.post(
        JOBS, {"interval": ONE_DAY, "startOfDayIntervalMatching": True, "surveyFilters": ANY_SURVEY}
    )
    assert status == 202
    job_id = submitted["jobId"]
    status, early, _ = await api.get(f"{JOBS}/{job_id}")
    assert early["state"] in {"QUEUED", "PENDING"}
    status, _, _ = await api.get(f"{JOBS}/{job_id}/results")
    assert status == 400
    done = await _wait_for_state(api, job_id, {"FULFILLED"})
    assert {"submissionDate", "completionDate", "expirationDate"} <= set(done)
    results = await _all_results(api, job_id, page_size=7)
    _, queried, _ = await api.query(
        {
            "interval": ONE_DAY,
            "surveyFilters": ANY_SURVEY,
            "paging": {"pageSize": 100, "pageNumber": 1},
        }
    )
    assert [c["conversationId"] for c in results] == [
        c["conversationId"] for c in queried["conversations"]
    ]
    assert "attributes" in results[0]["participants"][0]


async def test_job_rejects_paging(api: Api) -> None:
    """A job body with paging gets 400."""
    status, _, _ = await api.post(
        JOBS, {"interval": ONE_DAY, "paging": {"pageSize": 10, "pageNumber": 1}}
    )
    assert status == 400


@pytest.mark.parametrize("simulator", [{"job_run_seconds": 0.05}], indirect=True)
async def test_job_overlap_includes_previous_day_spill(api: Api, simulator: Simulator) -> None:
    """Without startOfDayIntervalMatching a job adds the previous day's conversation that ends in the interval."""
    previous = simulator.org.conversations(day_number(DAY.date()) - 1)[-1]
    assert previous.end > DAY
    ids = {}
    for start_of_day in (False, True):
        _, submitted, _ = await api.post(
            JOBS, {"interval": ONE_DAY, "startOfDayIntervalMatching": start_of_day}
        )
        await _wait_for_state(api, submitted["jobId"], {"FULFILLED"})
        results = await _all_results(api, submitted["jobId"], page_size=1000)
        ids[start_of_day] = [c["conversationId"] for c in results]
    assert ids[False][0] == previous.id
    assert previous.id not in ids[True]


@pytest.mark.parametrize(
    "simulator",
    [{"job_run_seconds": 0.05, "data_availability_date": datetime(2025, 3, 2, 12, tzinfo=UTC)}],
    indirect=True,
)
async def test_job_watermark_hides_recent_data(api: Api) -> None:
    """Conversations starting at or after the watermark are silently missing from job results."""
    status, body, _ = await api.get(f"{JOBS}/availability")
    assert status == 200
    assert body["dataAvailabilityDate"] == "2025-03-02T12:00:00.000Z"
    _, submitted, _ = await api.post(
        JOBS, {"interval": ONE_DAY, "startOfDayIntervalMatching": True}
    )
    await _wait_for_state(api, submitted["jobId"], {"FULFILLED"})
    results = await _all_results(api, submitted["jobId"], page_size=1000)
    _, queried, _ = await api.query({"interval": ONE_DAY})
    assert 0 < len(results) < queried["totalHits"]
    assert max(c["conversationStart"] for c in results) < "2025-03-02T12:00:00.000Z"


@pytest.mark.parametrize(
    "simulator", [{"max_concurrent_jobs": 2, "job_run_seconds": 30}], indirect=True
)
async def test_job_concurrency_limit(api: Api) -> None:
    """A third running job gets 429; deleting one cancels it and frees the slot."""
    _, first, _ = await api.post(JOBS, {"interval": ONE_DAY})
    _, _, _ = await api.post(JOBS, {"interval": ONE_DAY})
    status, body, response = await api.post(JOBS, {"interval": ONE_DAY})
    assert status == 429
    assert_error_body(body, response, 429, "too.many.requests")
    status, _, _ = await api.call("DELETE", f"{JOBS}/{first['jobId']}")
    assert status == 204
    _, cancelled, _ = await api.get(f"{JOBS}/{first['jobId']}")
    assert cancelled["state"] == "CANCELLED"
    status, _, _ = await api.post(JOBS, {"interval": ONE_DAY})
    assert status == 202


@pytest.mark.parametrize(
    "simulator",
    [
        {
            "job_run_seconds": 0.05,
            "fault_script": (
                Fault("jobs_submit", "job_fail", 1),
                Fault("jobs_submit", "job_expire", 2),
            ),
        }
    ],
    indirect=True,
)
async def test_job_fail_and_expire(api: Api) -> None:
    """Scripted jobs end FAILED with a message, or EXPIRE after their first results page."""
    _, failing, _ = await api.post(JOBS, {"interval": ONE_DAY})
    _, expiring, _ = await api.post(JOBS, {"interval": ONE_DAY})
    failed = await _wait_for_state(api, failing["jobId"], {"FAILED", "FULFILLED"})
    assert failed["state"] == "FAILED"
    assert failed["errorMessage"]
    await _wait_for_state(api, expiring["jobId"], {"FULFILLED"})
    status, page, _ = await api.get(
        f"{JOBS}/{expiring['jobId']}/results", params={"pageSize": "10"}
    )
    assert status == 200
    assert page["cursor"]
    _, state, _ = await api.get(f"{JOBS}/{expiring['jobId']}")
    assert state["state"] == "EXPIRED"
    status, _, _ = await api.get(
        f"{JOBS}/{expiring['jobId']}/results", params={"pageSize": "10", "cursor": page["cursor"]}
    )
    assert status == 404


# Faults.


async def _fault_simulator(
    make_simulator: MakeSimulator, *faults: Fault, **overrides: Any
) -> Simulator:
    return await make_simulator(fault_script=faults, **overrides)


@pytest.mark.parametrize(
    ("kind", "status", "retry_after"),
    [
        ("429", 429, "2"),
        ("429_no_retry_after", 429, None),
        ("429_long", 429, "120"),
        ("500_json", 500, None),
    ],
    ids=["429", "429-no-retry-after", "429-long", "500-json"],
)
async def test_fault_error_responses(
    make_simulator: MakeSimulator,
    session: aiohttp.ClientSession,
    kind: str,
    status: int,
    retry_after: str | None,
) -> None:
    """JSON error faults carry an ErrorBody and the expected Retry-After; the next call succeeds."""
    simulator = await _fault_simulator(make_simulator, Fault("users", kind, 1))
    api = await logged_in(session, simulator)
    got, body, response = await api.get("/api/v2/users")
    assert got == status
    assert body["status"] == status
    assert body["contextId"] == response.headers["ININ-Correlation-Id"]
    assert response.headers.get("Retry-After") == retry_after
    assert (await api.get("/api/v2/users"))[0] == 200
    assert simulator.stats.faults[kind] == 1


async def test_fault_503_html(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """A 503_html fault returns an HTML page."""
    simulator = await _fault_simulator(make_simulator, Fault("users", "503_html", 1))
    api = await logged_in(session, simulator)
    status, body, response = await api.get("/api/v2/users")
    assert status == 503
    assert response.content_type == "text/html"
    assert "<html>" in body


async def test_fault_drop_closes_connection(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """Drop faults close the connection after the headers, then mid-body."""
    simulator = await _fault_simulator(
        make_simulator, Fault("users", "drop", 1), Fault("users", "drop", 2)
    )
    api = await logged_in(session, simulator)
    for _ in range(2):
        with pytest.raises(aiohttp.ClientPayloadError):
            await api.get("/api/v2/users")
    assert (await api.get("/api/v2/users"))[0] == 200


async def test_fault_truncated_body(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """A truncated fault sends 200 with consistent headers but JSON cut short."""
    simulator = await _fault_simulator(make_simulator, Fault("users", "truncated", 1))
    api = await logged_in(session, simulator)
    headers = {"Authorization": f"Bearer {api.token}"}
    async with session.get(simulator.base_url + "/api/v2/users", headers=headers) as response:
        raw = await response.read()
        assert response.status == 200
        assert response.content_length == len(raw)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)


async def test_fault_slow(make_simulator: MakeSimulator, session: aiohttp.ClientSession) -> None:
    """A slow fault delays an otherwise normal response."""
    simulator = await _fault_simulator(make_simulator, Fault("users", "slow", 1), slow_seconds=0.3)
    api = await logged_in(session, simulator)
    started = time.monotonic()
    status, _, _ = await api.get("/api/v2/users")
    assert status == 200
    assert time.monotonic() - started >= 0.3


async def test_fault_token_expire(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """token_expire responds normally, then the same token gets 401."""
    simulator = await _fault_simulator(make_simulator, Fault("users", "token_expire", 1))
    api = await logged_in(session, simulator)
    assert (await api.get("/api/v2/users"))[0] == 200
    status, body, _ = await api.get("/api/v2/users")
    assert status == 401
    assert body["code"] == "bad.credentials"
    await api.login()
    assert (await api.get("/api/v2/users"))[0] == 200


async def test_fault_rates_apply_per_endpoint(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """A probability of 1 for one endpoint faults every call there and none elsewhere."""
    simulator = await make_simulator(fault_rates={"users:500_json": 1.0})
    api = await logged_in(session, simulator)
    assert [(await api.get("/api/v2/users"))[0] for _ in range(3)] == [500, 500, 500]
    assert (await api.get("/api/v2/routing/queues"))[0] == 200


async def test_faults_leave_ground_truth_unchanged(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """Faulted survey reads change nothing: the org's ground truth is identical to a fault-free org."""
    simulator = await make_simulator(
        fault_rates={"survey:drop": 0.3, "survey:500_json": 0.3, "survey:truncated": 0.2}
    )
    api = await logged_in(session, simulator)
    truth = simulator.org.expected_surveys(DAY, DAY + timedelta(days=1))
    for item in truth[:10]:
        try:
            await api.get(f"/api/v2/quality/surveys/{item.survey_id}")
        except (aiohttp.ClientPayloadError, orjson.JSONDecodeError):
            continue
    clean = Simulator(SimConfig(seed=7, surveys_per_day=40))
    assert clean.org.expected_surveys(DAY, DAY + timedelta(days=1)) == truth
    assert sum(simulator.stats.faults.values()) > 0


def test_fault_script_loads_from_json(tmp_path: Path) -> None:
    """A JSON fault script becomes Fault objects; an unknown kind raises ValueError."""
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"endpoint": "survey", "kind": "drop", "at": 3}]), encoding="utf-8")
    assert load_fault_script(path) == (Fault("survey", "drop", 3),)
    path.write_text(
        json.dumps([{"endpoint": "survey", "kind": "explode", "at": 3}]), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="unknown fault kind"):
        load_fault_script(path)


# Latency and statistics.


async def test_latency_and_in_flight_counter(
    make_simulator: MakeSimulator, session: aiohttp.ClientSession
) -> None:
    """Latency delays each request, so concurrent requests show up as in flight together."""
    simulator = await make_simulator(latency={"users": (0.2, 0.2)})
    api = await logged_in(session, simulator)
    started = time.monotonic()
    results = await asyncio.gather(*(api.get("/api/v2/users") for _ in range(4)))
    assert [status for status, _, _ in results] == [200] * 4
    assert time.monotonic() - started >= 0.2
    assert simulator.stats.max_in_flight == 4


async def test_stats_route_and_counters(
    api: Api, simulator: Simulator, session: aiohttp.ClientSession
) -> None:
    """/_sim/stats reports requests per endpoint, statuses and tokens."""
    await api.get("/api/v2/users")
    await api.get("/api/v2/users", token="nope")
    async with session.get(simulator.base_url + "/_sim/stats") as response:
        stats = await response.json()
    assert stats["requests"] == {"token": 1, "users": 2}
    assert stats["responses"] == {"200": 2, "401": 1}
    assert stats["tokensIssued"] == 1
    assert stats["perToken"] == {"sim-client#1": 1}


async def test_expected_route_matches_org(
    simulator: Simulator, session: aiohttp.ClientSession
) -> None:
    """/_sim/expected returns the ground truth of the org for a window and statuses."""
    params = {
        "from": "2025-03-02T00:00:00Z",
        "to": "2025-03-03T00:00:00Z",
        "status": "Finished,InProgress",
    }
    async with session.get(simulator.base_url + "/_sim/expected", params=params) as response:
        body = await response.json()
    truth = simulator.org.expected_surveys(
        DAY, DAY + timedelta(days=1), frozenset({"Finished", "InProgress"})
    )
    assert [item["surveyId"] for item in body] == [item.survey_id for item in truth]
    assert {item["status"] for item in body} == {"Finished", "InProgress"}
