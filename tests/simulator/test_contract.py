"""Contract tests: every simulator response checked against the official SDK's models.

The SDK (PureCloudPlatformClientV2, pinned in the test extra) is generated from the real API's
schema. Its deserializer silently drops unknown keys, so the checks here walk the raw JSON.
Every key must be in the model's ``attribute_map`` and every value must have the type that
``swagger_types`` names. Enum values must be among the values the model's setter allows.
"""

from __future__ import annotations

import ast
import base64
import inspect
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from harvester.simulator import Fault, SimConfig, SimulatorThread
from harvester.simulator.org import day_number

DAY = datetime(2025, 3, 2, tzinfo=UTC)
ONE_DAY = "2025-03-02T00:00:00.000Z/2025-03-03T00:00:00.000Z"
JOBS = "/api/v2/analytics/conversations/details/jobs"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_ALLOWED = re.compile(r"allowed_values = (\[.*?\])", re.S)


@pytest.fixture(scope="session")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Import the SDK with HOME pointing at an empty folder, because its import starts a file watcher there."""
    previous = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path_factory.mktemp("sdk-home"))
    try:
        import PureCloudPlatformClientV2

        yield PureCloudPlatformClientV2
    finally:
        if previous is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = previous


class ContractError(AssertionError):
    """A JSON document does not match an SDK model."""


class ModelChecker:
    """Walk JSON against SDK model classes."""

    def __init__(self, sdk: ModuleType) -> None:
        self.models = sdk.models
        self._enums: dict[tuple[str, str], list[str] | None] = {}

    def allowed_values(self, model: type, attribute: str) -> list[str] | None:
        """Return the enum values the model's setter for ``attribute`` accepts, if it has any."""
        key = (model.__name__, attribute)
        if key not in self._enums:
            setter = getattr(model, attribute).fset
            match = _ALLOWED.search(inspect.getsource(setter))
            self._enums[key] = ast.literal_eval(match.group(1)) if match else None
        return self._enums[key]

    def check(self, type_name: str, value: Any, path: str) -> None:
        """Raise ContractError when ``value`` does not fit the SDK type ``type_name``."""
        if value is None:
            return
        if type_name.startswith("list["):
            if not isinstance(value, list):
                raise ContractError(f"{path}: expected a list for {type_name}, got {value!r:.80}")
            for index, item in enumerate(value):
                self.check(type_name[5:-1], item, f"{path}[{index}]")
            return
        if type_name.startswith("dict("):
            if not isinstance(value, dict):
                raise ContractError(f"{path}: expected an object for {type_name}")
            inner = type_name[5:-1].split(", ", 1)[1]
            for key, item in value.items():
                self.check(inner, item, f"{path}.{key}")
            return
        if type_name == "str":
            if not isinstance(value, str):
                raise ContractError(f"{path}: expected a string, got {value!r:.80}")
        elif type_name == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ContractError(f"{path}: expected an integer, got {value!r}")
        elif type_name == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ContractError(f"{path}: expected a number, got {value!r}")
        elif type_name == "bool":
            if not isinstance(value, bool):
                raise ContractError(f"{path}: expected a boolean, got {value!r}")
        elif type_name == "datetime":
            if not isinstance(value, str) or not TIMESTAMP.match(value):
                raise ContractError(f"{path}: expected an ISO-8601 UTC timestamp, got {value!r}")
            datetime.fromisoformat(value)
        elif type_name == "object":
            return
        else:
            self.check_model(type_name, value, path)

    def check_model(self, model_name: str, value: Any, path: str) -> None:
        """Check a JSON object against one SDK model, recursively."""
        if not isinstance(value, dict):
            raise ContractError(f"{path}: expected an object for {model_name}, got {value!r:.80}")
        model = getattr(self.models, model_name)
        instance = model()
        keys = {json_key: attribute for attribute, json_key in instance.attribute_map.items()}
        for key, item in value.items():
            if key not in keys:
                raise ContractError(f"{path}: {model_name} has no field {key!r}")
            attribute = keys[key]
            type_name = instance.swagger_types[attribute]
            self.check(type_name, item, f"{path}.{key}")
            allowed = (
                self.allowed_values(model, attribute) if isinstance(item, (str, list)) else None
            )
            if allowed is not None:
                for member in item if isinstance(item, list) else [item]:
                    if member not in allowed:
                        raise ContractError(f"{path}.{key}: {member!r} is not one of {allowed}")


class FakeResponse:
    """The part of the SDK's REST response that ``ApiClient.deserialize`` reads."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def getheader(self, name: str) -> str | None:
        return "application/json" if name.lower() == "content-type" else None


@pytest.fixture(scope="module")
def checker(sdk: ModuleType) -> ModelChecker:
    """Return a checker bound to the SDK's models."""
    return ModelChecker(sdk)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    """Serve one simulator for the whole module, with a few deleted objects and fast jobs."""
    config = SimConfig(
        seed=7,
        surveys_per_day=40,
        job_run_seconds=0.05,
        fault_script=(Fault("jobs_submit", "job_fail", 2),),
    )
    with SimulatorThread(config) as thread:
        yield thread


class Http:
    """Blocking requests with one token, through urllib."""

    def __init__(self, sim: SimulatorThread) -> None:
        self.base = sim.base_url
        credentials = base64.b64encode(b"sim-client:sim-secret").decode()
        request = urllib.request.Request(
            self.base + "/oauth/token",
            data=b"grant_type=client_credentials",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            self.token_document = json.loads(response.read())
        self.token = self.token_document["access_token"]

    def fetch(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, bytes]:
        """Return (status, raw body) of one request."""
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method: str, path: str, body: Any = None, *, status: int = 200) -> Any:
        """Return the parsed body of a request whose response must have ``status``."""
        got, raw = self.fetch(method, path, body)
        assert got == status, raw[:300]
        return json.loads(raw)


@pytest.fixture(scope="module")
def http(sim: SimulatorThread) -> Http:
    """Return a logged-in blocking client of the module's simulator."""
    return Http(sim)


def conforms(sdk: ModuleType, checker: ModelChecker, type_name: str, document: Any) -> None:
    """Check ``document`` key by key, then deserialize it with the SDK's own ApiClient."""
    checker.check(type_name, document, "$")
    client = sdk.ApiClient(host="http://127.0.0.1")
    result = client.deserialize(FakeResponse(json.dumps(document).encode()), type_name)
    assert result is not None


def _day_conversations(sim: SimulatorThread) -> Any:
    return sim.org.conversations(day_number(DAY.date()))


# The checker itself.


def test_checker_rejects_renamed_field(sdk: ModuleType, checker: ModelChecker) -> None:
    """A renamed key, a wrong type and an unknown enum value each fail the check."""
    good = {
        "surveyId": "x",
        "surveyStatus": "Finished",
        "surveyType": "Web",
        "oSurveyTotalScore": 80,
    }
    checker.check_model("AnalyticsSurvey", good, "$")
    renamed = {**good, "surveyID": good["surveyId"]}
    with pytest.raises(ContractError, match="no field 'surveyID'"):
        checker.check_model("AnalyticsSurvey", renamed, "$")
    with pytest.raises(ContractError, match="expected an integer"):
        checker.check_model("AnalyticsSurvey", {**good, "oSurveyTotalScore": "80"}, "$")
    with pytest.raises(ContractError, match="not one of"):
        checker.check_model("AnalyticsSurvey", {**good, "surveyType": "Email"}, "$")
    with pytest.raises(ContractError, match="no field 'selfuri'"):
        checker.check("list[Survey]", [{"id": "x", "queue": {"id": "q", "selfuri": "/x"}}], "$")


# One test per endpoint.


def test_token_response_fields(http: Http) -> None:
    """The token response has exactly the client-credentials fields."""
    assert set(http.token_document) == {"access_token", "token_type", "expires_in"}
    assert isinstance(http.token_document["expires_in"], int)


def test_details_query_contract(sdk: ModuleType, checker: ModelChecker, http: Http) -> None:
    """A page with surveys and evaluations matches AnalyticsConversationQueryResponse."""
    filters = [{"type": "and", "predicates": [{"dimension": "evaluationId", "operator": "exists"}]}]
    body = {
        "interval": ONE_DAY,
        "evaluationFilters": filters,
        "paging": {"pageSize": 100, "pageNumber": 1},
    }
    document = http.json("POST", "/api/v2/analytics/conversations/details/query", body)
    assert any("surveys" in conversation for conversation in document["conversations"])
    conforms(sdk, checker, "AnalyticsConversationQueryResponse", document)


def test_details_get_contract(sdk: ModuleType, checker: ModelChecker, http: Http) -> None:
    """Conversations fetched by id match AnalyticsConversationWithoutAttributesMultiGetResponse."""
    body = {"interval": ONE_DAY, "paging": {"pageSize": 5, "pageNumber": 1}}
    page = http.json("POST", "/api/v2/analytics/conversations/details/query", body)
    ids = ",".join(conversation["conversationId"] for conversation in page["conversations"])
    document = http.json("GET", f"/api/v2/analytics/conversations/details?id={ids}")
    assert len(document["conversations"]) == len(page["conversations"])
    conforms(sdk, checker, "AnalyticsConversationWithoutAttributesMultiGetResponse", document)


def test_jobs_contract(sdk: ModuleType, checker: ModelChecker, http: Http) -> None:
    """Submission, status, results and availability of jobs match their models."""
    submitted = http.json("POST", JOBS, {"interval": ONE_DAY}, status=202)
    conforms(sdk, checker, "AsyncQueryResponse", submitted)
    failing = http.json("POST", JOBS, {"interval": ONE_DAY}, status=202)
    conforms(sdk, checker, "AsyncQueryStatus", http.json("GET", f"{JOBS}/{submitted['jobId']}"))
    time.sleep(0.1)
    for job in (submitted, failing):
        conforms(sdk, checker, "AsyncQueryStatus", http.json("GET", f"{JOBS}/{job['jobId']}"))
    results = http.json("GET", f"{JOBS}/{submitted['jobId']}/results?pageSize=20")
    assert results["cursor"]
    conforms(sdk, checker, "AnalyticsConversationAsyncQueryResponse", results)
    conforms(sdk, checker, "DataAvailabilityResponse", http.json("GET", f"{JOBS}/availability"))
    status, raw = http.fetch("DELETE", f"{JOBS}/{submitted['jobId']}")
    assert (status, raw) == (204, b"")


def test_survey_contract(
    sdk: ModuleType, checker: ModelChecker, http: Http, sim: SimulatorThread
) -> None:
    """Surveys of every status match Survey, alone and as the conversation's bare array."""
    seen: set[str] = set()
    for conversation in _day_conversations(sim):
        readable = [survey for survey in conversation.surveys if not survey.deleted]
        if not readable or {survey.status for survey in readable} <= seen:
            continue
        seen |= {survey.status for survey in readable}
        for survey in readable:
            conforms(
                sdk, checker, "Survey", http.json("GET", f"/api/v2/quality/surveys/{survey.id}")
            )
        listed = http.json("GET", f"/api/v2/quality/conversations/{conversation.id}/surveys")
        conforms(sdk, checker, "list[Survey]", listed)
    assert seen == {"Pending", "Sent", "InProgress", "Finished", "OptOut", "Error", "Expired"}


def test_evaluation_contract(
    sdk: ModuleType, checker: ModelChecker, http: Http, sim: SimulatorThread
) -> None:
    """Evaluations match EvaluationResponse with and without expand, and the listing matches."""
    statuses: set[str] = set()
    for conversation in _day_conversations(sim):
        for evaluation in conversation.evaluations:
            if evaluation.deleted or evaluation.status in statuses:
                continue
            statuses.add(evaluation.status)
            path = f"/api/v2/quality/conversations/{conversation.id}/evaluations/{evaluation.id}"
            conforms(sdk, checker, "EvaluationResponse", http.json("GET", path))
            expanded = http.json("GET", path + "?expand=agent,evaluator,assignee,evaluationForm")
            conforms(sdk, checker, "EvaluationResponse", expanded)
            listing = http.json(
                "GET",
                f"/api/v2/quality/evaluations/query?conversationId={conversation.id}"
                "&expandAnswerTotalScores=true",
            )
            conforms(sdk, checker, "EvaluationEntityListing", listing)
    assert len(statuses) >= 4


def test_form_contracts(
    sdk: ModuleType, checker: ModelChecker, http: Http, sim: SimulatorThread
) -> None:
    """Survey forms (single, bulk, by context) and evaluation forms match their models."""
    ids = [form.id for form in sim.org.survey_forms]
    for form_id in ids:
        conforms(
            sdk, checker, "SurveyForm", http.json("GET", f"/api/v2/quality/forms/surveys/{form_id}")
        )
    bulk = http.json("GET", "/api/v2/quality/forms/surveys/bulk?id=" + ",".join(ids))
    conforms(sdk, checker, "SurveyFormEntityListing", bulk)
    contexts = ",".join({form.context_id for form in sim.org.survey_forms})
    by_context = http.json(
        "GET", f"/api/v2/quality/forms/surveys/bulk/contexts?contextId={contexts}"
    )
    conforms(sdk, checker, "list[SurveyForm]", by_context)
    listing = http.json("GET", "/api/v2/quality/forms/surveys?pageSize=100")
    conforms(sdk, checker, "SurveyFormEntityListing", listing)
    for form in sim.org.evaluation_forms:
        document = http.json("GET", f"/api/v2/quality/forms/evaluations/{form.id}")
        conforms(sdk, checker, "EvaluationFormResponse", document)


def test_directory_contracts(sdk: ModuleType, checker: ModelChecker, http: Http) -> None:
    """Users, queues and limits match their listing models."""
    users = http.json("GET", "/api/v2/users?state=any&pageSize=100")
    conforms(sdk, checker, "UserEntityListing", users)
    assert {user["state"] for user in users["entities"]} == {"active", "inactive", "deleted"}
    conforms(
        sdk,
        checker,
        "QueueEntityListing",
        http.json("GET", "/api/v2/routing/queues?pageSize=5&pageNumber=2"),
    )
    limits = http.json("GET", "/api/v2/organizations/limits/namespaces/platform.api")
    conforms(sdk, checker, "LimitsEntityListing", limits)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v2/analytics/conversations/details/query", {"interval": "bad"}, 400),
        ("GET", "/api/v2/quality/surveys/00000000-0000-4000-8000-000000000000", None, 404),
        ("GET", "/api/v2/quality/evaluations/query", None, 400),
        ("GET", "/api/v2/users?state=gone", None, 400),
    ],
    ids=["bad-interval", "unknown-survey", "evaluations-query-without-id", "bad-state"],
)
def test_error_body_contract(
    sdk: ModuleType,
    checker: ModelChecker,
    http: Http,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    """Error responses match ErrorBody."""
    got, raw = http.fetch(method, path, body)
    assert got == status
    conforms(sdk, checker, "ErrorBody", json.loads(raw))


def test_unauthorised_error_body_contract(
    sdk: ModuleType, checker: ModelChecker, http: Http
) -> None:
    """A 401 matches ErrorBody too."""
    status, raw = http.fetch("GET", "/api/v2/users", token="unknown")
    assert status == 401
    conforms(sdk, checker, "ErrorBody", json.loads(raw))


def test_deserialized_values_survive(sdk: ModuleType, http: Http, sim: SimulatorThread) -> None:
    """The SDK reads back the ground truth's values, so no field is lost to a wrong name."""
    expected = next(
        item for item in sim.org.expected_surveys(DAY, DAY + timedelta(days=1)) if not item.deleted
    )
    status, raw = http.fetch("GET", f"/api/v2/quality/surveys/{expected.survey_id}")
    assert status == 200
    survey = sdk.ApiClient(host="http://127.0.0.1").deserialize(FakeResponse(raw), "Survey")
    assert survey.id == expected.survey_id
    assert survey.conversation.id == expected.conversation_id
    assert survey.agent.name == expected.agent_name
    assert survey.answers.total_score == expected.total_score
    assert survey.completed_date == expected.completed_date
