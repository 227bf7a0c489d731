"""Detail levels: what each reads, what each writes, and the org's own rate limit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harvester.errors import InputError
from harvester.pipeline import run_export
from harvester.retry import RetryPolicy
from harvester.settings import Credentials, Endpoints, ExportOptions
from harvester.simulator import Simulator
from harvester.stats import RunStats
from tests.conftest import MakeSimulator
from tests.export_helpers import read_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 3, tzinfo=UTC)
CREDENTIALS = Credentials("sim-client", "sim-secret")
FAST_RETRIES = RetryPolicy(time_scale=0.001)


async def _export(simulator: Simulator, out: Path, **overrides: Any) -> RunStats:
    values: dict[str, Any] = {
        "start": START,
        "end": END,
        "out": out,
        "rate_per_minute": 100_000,
        "source": "query",
    }
    values.update(overrides)
    stats = RunStats()
    endpoints = Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)
    await run_export(
        CREDENTIALS, endpoints, ExportOptions(**values), stats=stats, policy=FAST_RETRIES
    )
    return stats


async def test_summary_reads_no_survey(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """The summary level makes no survey or evaluation GET and fills fields from analytics."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    await _export(simulator, tmp_path / "out", detail="summary")

    requests = simulator.stats.requests
    assert requests["survey"] == 0
    assert requests["evaluation"] == 0
    assert requests["details_query"] >= 2
    expected = {item.survey_id: item for item in simulator.org.expected_surveys(START, END)}
    records = read_lines(tmp_path / "out", "surveys")
    assert {record["surveyId"] for record in records} == set(expected)
    for record in records:
        truth = expected[record["surveyId"]]
        assert record["detail"] == "summary"
        assert record["answers"] is None
        assert record["agent"] == {"id": truth.agent_id, "name": truth.agent_name}
        assert record["queue"] == {"id": truth.queue_id, "name": truth.queue_name}
        assert record["npsScore"] == truth.nps_score
        assert record["totalScore"] == truth.total_score
        assert record["status"] == "Finished"
        listed = sorted(truth.evaluation_ids + truth.deleted_evaluation_ids)
        assert sorted(item["evaluationId"] for item in record["evaluations"]) == listed
        assert all(item["comments"] is None for item in record["evaluations"])
    assert read_lines(tmp_path / "out", "errors") == []


async def test_answers_reads_surveys_only(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """The answers level reads each survey once and no evaluation."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    await _export(simulator, tmp_path / "out", detail="answers")

    expected = simulator.org.expected_surveys(START, END)
    assert simulator.stats.requests["survey"] == len(expected)
    assert simulator.stats.requests["evaluation"] == 0
    records = read_lines(tmp_path / "out", "surveys")
    assert {record["surveyId"] for record in records} == {
        item.survey_id for item in expected if not item.deleted
    }
    assert all(record["detail"] == "answers" for record in records)
    assert all(isinstance(record["answers"], list) for record in records)


async def test_full_reads_each_evaluation_once(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    """The full level reads each survey and each listed evaluation exactly once."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    await _export(simulator, tmp_path / "out", detail="full")

    expected = simulator.org.expected_surveys(START, END)
    evaluations = {
        evaluation_id
        for item in expected
        for evaluation_id in item.evaluation_ids + item.deleted_evaluation_ids
    }
    assert simulator.stats.requests["survey"] == len(expected)
    assert simulator.stats.requests["evaluation"] == len(evaluations)


async def test_other_level_on_resume_rejected(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    """Resuming a folder with another detail level is a parameter change."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    await _export(simulator, tmp_path / "out", detail="summary")
    with pytest.raises(InputError, match="detail 'summary' -> 'full'"):
        await _export(simulator, tmp_path / "out", detail="full")


async def test_org_rate_limit_used(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """Without --rate, the run uses the per-token limit the org reports."""
    simulator = await make_simulator(rate_limit_per_minute=6000, surveys_per_day=5)
    stats = await _export(simulator, tmp_path / "out", rate_per_minute=None, detail="summary")
    assert stats.rate_per_minute == 6000
    assert simulator.stats.requests["limits"] == 1


async def test_explicit_rate_wins(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """An explicit rate skips the org limit lookup."""
    simulator = await make_simulator(rate_limit_per_minute=6000, surveys_per_day=5)
    stats = await _export(simulator, tmp_path / "out", rate_per_minute=9000, detail="summary")
    assert stats.rate_per_minute == 9000
    assert simulator.stats.requests["limits"] == 0


async def test_unreadable_limit_falls_back(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """When the limits endpoint keeps failing, the documented 300 per minute is used."""
    simulator = await make_simulator(
        rate_limit_per_minute=0, surveys_per_day=1, fault_rates={"limits:500_json": 1.0}
    )
    stats = await _export(
        simulator,
        tmp_path / "out",
        rate_per_minute=None,
        detail="summary",
        end=datetime(2025, 3, 1, 6, tzinfo=UTC),
    )
    assert stats.rate_per_minute == 300


async def test_names_looked_up_in_batches(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """Agent and queue names cost about one request per day of new ids, not one per user."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    await _export(simulator, tmp_path / "out", detail="full", concurrency=1)
    expected = simulator.org.expected_surveys(START, END)
    agents = {item.agent_id for item in expected}
    days = 2
    assert len(agents) > 2 * days
    assert simulator.stats.requests["users"] <= days
    assert simulator.stats.requests["queues"] <= days
