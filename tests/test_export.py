"""End-to-end exports against the simulator over real sockets, compared with its ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harvester.pipeline import run_export
from harvester.retry import RetryPolicy
from harvester.settings import Credentials, Endpoints, ExportOptions, format_timestamp
from harvester.simulator import SimConfig, Simulator
from harvester.stats import RunStats
from tests.export_helpers import comparable, read_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 4, tzinfo=UTC)
CREDENTIALS = Credentials("sim-client", "sim-secret")
FAST_RETRIES = RetryPolicy(time_scale=0.01)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        SimConfig(seed=11, surveys_per_day=60, rate_limit_per_minute=0, job_run_seconds=0.05)
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def _options(out: Path, **overrides: Any) -> ExportOptions:
    values: dict[str, Any] = {
        "start": START,
        "end": END,
        "out": out,
        "rate_per_minute": 100_000,
        "source": "query",
    }
    values.update(overrides)
    return ExportOptions(**values)


def _endpoints(simulator: Simulator) -> Endpoints:
    return Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)


async def _export(simulator: Simulator, options: ExportOptions) -> RunStats:
    stats = RunStats()
    await run_export(CREDENTIALS, _endpoints(simulator), options, stats=stats, policy=FAST_RETRIES)
    return stats


async def test_export_matches_ground_truth(sim: Simulator, tmp_path: Path) -> None:
    """Every expected survey is written once with its key fields; deleted ones are error lines."""
    out = tmp_path / "out"
    stats = await _export(sim, _options(out))

    expected = sim.org.expected_surveys(START, END)
    readable = {item.survey_id: item for item in expected if not item.deleted}
    records = read_lines(out, "surveys")
    ids = [record["surveyId"] for record in records]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(readable)
    assert stats.surveys_written == len(readable)

    for record in records:
        truth = readable[record["surveyId"]]
        assert record["conversationId"] == truth.conversation_id
        assert record["conversationStart"] == format_timestamp(truth.conversation_start)
        assert record["status"] == truth.status
        assert record["surveyType"] == truth.survey_type
        assert record["agent"] == {"id": truth.agent_id, "name": truth.agent_name}
        assert record["queue"] == {"id": truth.queue_id, "name": truth.queue_name}
        assert record["surveyForm"]["id"] == truth.form_id
        assert record["npsScore"] == truth.nps_score
        assert record["totalScore"] == truth.total_score
        assert len(record["answers"]) == truth.question_count
        assert all(answer["questionText"] for answer in record["answers"])
        assert sorted(item["evaluationId"] for item in record["evaluations"]) == sorted(truth.evaluation_ids)
        completed = truth.completed_date
        assert record["completedDate"] == (format_timestamp(completed) if completed else None)

    errors = read_lines(out, "errors")
    survey_errors = {line["id"] for line in errors if line["kind"] == "survey"}
    assert survey_errors == {item.survey_id for item in expected if item.deleted}
    assert all(line["status"] == 404 for line in errors)
    evaluation_errors = sorted(line["id"] for line in errors if line["kind"] == "evaluation")
    expected_evaluation_errors = sorted(
        {(item.conversation_id, evaluation_id) for item in expected for evaluation_id in item.deleted_evaluation_ids}
    )
    assert evaluation_errors == sorted(evaluation_id for _, evaluation_id in expected_evaluation_errors)


async def test_partitions_load_in_duckdb(sim: Simulator, tmp_path: Path) -> None:
    """DuckDB reads every partition with hive_partitioning, and its count matches the files."""
    out = tmp_path / "out"
    stats = await _export(sim, _options(out))
    pattern = str(out / "surveys" / "*" / "*.ndjson")
    connection = duckdb.connect()
    count, partitions = connection.execute(
        f"SELECT count(*), count(DISTINCT completed_date) FROM read_json('{pattern}', hive_partitioning = true)"
    ).fetchall()[0]
    assert count == stats.surveys_written
    assert partitions >= 3
    unnamed = connection.execute(
        f"SELECT count(*) FROM read_json('{pattern}', hive_partitioning = true) WHERE queue.name IS NULL"
    ).fetchall()
    assert unnamed == [(0,)]


async def test_rerun_of_complete_folder_writes_nothing(sim: Simulator, tmp_path: Path) -> None:
    """Running the same export again on a complete folder leaves the files as they are."""
    out = tmp_path / "out"
    await _export(sim, _options(out))
    before = comparable(read_lines(out, "surveys"))
    stats = await _export(sim, _options(out))
    assert stats.requests == 0
    assert comparable(read_lines(out, "surveys")) == before


async def test_interrupted_export_resumes_exactly(sim: Simulator, tmp_path: Path) -> None:
    """A run cancelled midway resumes to the same records as an uninterrupted run."""
    reference = tmp_path / "reference"
    reference_stats = await _export(sim, _options(reference))

    out = tmp_path / "out"
    options = _options(out, concurrency=2, checkpoint_interval=0.01)
    task = asyncio.ensure_future(_export(sim, options))
    while not (out / "surveys").exists() or not read_lines(out, "surveys"):
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    partial = len(read_lines(out, "surveys"))
    resumed_stats = await _export(sim, options)

    assert partial < len(read_lines(reference, "surveys"))
    assert comparable(read_lines(out, "surveys")) == comparable(read_lines(reference, "surveys"))
    assert comparable(read_lines(out, "errors")) == comparable(read_lines(reference, "errors"))
    assert resumed_stats.skipped_statuses == reference_stats.skipped_statuses


async def test_status_selection(sim: Simulator, tmp_path: Path) -> None:
    """--status selects other statuses and the summary counts the skipped ones."""
    out = tmp_path / "out"
    statuses = frozenset({"Sent", "Expired"})
    stats = await _export(sim, _options(out, statuses=statuses))
    expected = {item.survey_id for item in sim.org.expected_surveys(START, END, statuses) if not item.deleted}
    assert {record["surveyId"] for record in read_lines(out, "surveys")} == expected
    assert stats.skipped_statuses["Finished"] > 0
    assert "Sent" not in stats.skipped_statuses
