"""Export filters against the simulator: each filter selects exactly the matching surveys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harvester.errors import InputError
from harvester.filters import _exactly_one, is_id
from harvester.pipeline import run_export
from harvester.retry import RetryPolicy
from harvester.settings import Credentials, Endpoints, ExportOptions, FilterSpec, parse_filter_spec
from harvester.simulator import ExpectedSurvey, Simulator
from tests.conftest import MakeSimulator
from tests.export_helpers import read_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 3, tzinfo=UTC)
CREDENTIALS = Credentials("sim-client", "sim-secret")


async def _export_ids(simulator: Simulator, out: Path, filters: FilterSpec) -> set[str]:
    options = ExportOptions(
        start=START, end=END, out=out, rate_per_minute=100_000, detail="summary", filters=filters
    )
    endpoints = Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)
    await run_export(CREDENTIALS, endpoints, options, policy=RetryPolicy(time_scale=0.001))
    return {record["surveyId"] for record in read_lines(out, "surveys")}


def _expected(simulator: Simulator, keep: Callable[[ExpectedSurvey], bool]) -> set[str]:
    return {item.survey_id for item in simulator.org.expected_surveys(START, END) if keep(item)}


async def test_queue_by_name(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A queue given by name selects that queue's surveys only."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    first = simulator.org.expected_surveys(START, END)[0]
    queue = simulator.org.queue(first.queue_id)
    assert queue is not None
    got = await _export_ids(simulator, tmp_path / "out", FilterSpec(queues=(queue.name,)))
    assert got == _expected(simulator, lambda item: item.queue_id == queue.id)
    assert got


async def test_agent_by_id_and_type(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """Agent ids and survey types combine with AND; several agents combine with OR."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    expected = simulator.org.expected_surveys(START, END)
    agents = tuple(sorted({item.agent_id for item in expected})[:3])
    spec = FilterSpec(agents=agents, survey_types=("Web",))
    got = await _export_ids(simulator, tmp_path / "out", spec)
    assert got == _expected(
        simulator, lambda item: item.agent_id in agents and item.survey_type == "Web"
    )


async def test_survey_form_by_name(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A survey form given by name selects every version of that form."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    first = simulator.org.expected_surveys(START, END)[0]
    form = simulator.org.form(first.form_id)
    assert form is not None
    version_ids = {
        candidate.id
        for candidate in simulator.org.survey_forms
        if candidate.context_id == form.context_id
    }
    got = await _export_ids(simulator, tmp_path / "out", FilterSpec(survey_forms=(form.name,)))
    assert got == _expected(simulator, lambda item: item.form_id in version_ids)


async def test_media_type(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A media type selects the surveys of conversations with that media."""
    simulator = await make_simulator(rate_limit_per_minute=0)

    def is_email(item: ExpectedSurvey) -> bool:
        conversation = simulator.org.conversation(item.conversation_id)
        return conversation is not None and conversation.media_type == "email"

    got = await _export_ids(simulator, tmp_path / "out", FilterSpec(media_types=("email",)))
    assert got == _expected(simulator, is_email)
    assert got


async def test_unknown_queue_name(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A name that matches nothing is an input error naming it."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    with pytest.raises(InputError, match="--queue 'No Such Queue' not found"):
        await _export_ids(simulator, tmp_path / "out", FilterSpec(queues=("No Such Queue",)))
    assert not (tmp_path / "out").exists()


def test_ambiguous_name_lists_ids() -> None:
    """Two entities with the same name make the name ambiguous."""
    entities: list[dict[str, Any]] = [{"id": "a", "name": "Sales"}, {"id": "b", "name": "sales"}]
    with pytest.raises(InputError, match="ambiguous: 2 match \\(a, b\\)"):
        _exactly_one(entities, "Sales", "--queue", key="id")


def test_filter_values_validated() -> None:
    """Survey and media types accept their fixed values only, in any case."""
    spec = parse_filter_spec(
        queues=None, survey_forms=None, agents=None, survey_types=["web"], media_types=["VOICE"]
    )
    assert spec.survey_types == ("Web",)
    assert spec.media_types == ("voice",)
    with pytest.raises(InputError, match="invalid --survey-type 'sms'"):
        parse_filter_spec(
            queues=None, survey_forms=None, agents=None, survey_types=["sms"], media_types=None
        )
    assert is_id("5a000000-0000-4000-8000-000000000011")
    assert not is_id("Support EN")
