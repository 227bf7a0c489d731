"""Conversation sources: the details query and details jobs give the same export."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harvester.checkpoint import load_checkpoint
from harvester.pipeline import run_export
from harvester.retry import RetryPolicy
from harvester.settings import Credentials, Endpoints, ExportOptions
from harvester.simulator import Fault, Simulator
from tests.conftest import MakeSimulator
from tests.export_helpers import comparable, read_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 4, tzinfo=UTC)
CREDENTIALS = Credentials("sim-client", "sim-secret")
POLICY = RetryPolicy(time_scale=0.01)


def _options(out: Path, source: str, **overrides: Any) -> ExportOptions:
    values: dict[str, Any] = {
        "start": START,
        "end": END,
        "out": out,
        "rate_per_minute": 100_000,
        "source": source,
        "detail": "answers",
    }
    values.update(overrides)
    return ExportOptions(**values)


async def _export(simulator: Simulator, options: ExportOptions) -> None:
    endpoints = Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)
    await run_export(CREDENTIALS, endpoints, options, policy=POLICY)


async def test_jobs_equal_query(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """An export through jobs writes the same records as one through the query, and deletes its jobs."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    await _export(simulator, _options(tmp_path / "query", "query"))
    await _export(simulator, _options(tmp_path / "jobs", "jobs"))

    assert simulator.stats.jobs_submitted == 3
    assert simulator.stats.requests["jobs_delete"] == 3
    query_records = comparable(read_lines(tmp_path / "query", "surveys"))
    assert query_records
    assert comparable(read_lines(tmp_path / "jobs", "surveys")) == query_records
    assert comparable(read_lines(tmp_path / "jobs", "errors")) == comparable(
        read_lines(tmp_path / "query", "errors")
    )


async def test_auto_crosses_watermark(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """With auto, days before the watermark use jobs and later days the query; output is the same."""
    watermark = START + timedelta(days=2)
    simulator = await make_simulator(rate_limit_per_minute=0, data_availability_date=watermark)
    await _export(simulator, _options(tmp_path / "auto", "auto"))

    assert simulator.stats.jobs_submitted == 2
    assert simulator.stats.requests["details_query"] >= 1
    reference = await make_simulator(rate_limit_per_minute=0)
    await _export(reference, _options(tmp_path / "query", "query"))
    assert comparable(read_lines(tmp_path / "auto", "surveys")) == comparable(
        read_lines(tmp_path / "query", "surveys")
    )


async def test_failed_job_resubmitted(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A job that ends FAILED is replaced, and the export is still complete."""
    simulator = await make_simulator(
        rate_limit_per_minute=0,
        fault_script=(Fault(endpoint="jobs_submit", kind="job_fail", at=1),),
    )
    await _export(simulator, _options(tmp_path / "jobs", "jobs"))
    assert simulator.stats.jobs_submitted == 4
    expected = {
        item.survey_id for item in simulator.org.expected_surveys(START, END) if not item.deleted
    }
    assert {record["surveyId"] for record in read_lines(tmp_path / "jobs", "surveys")} == expected


async def test_resume_reattaches_to_job(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A run stopped while its job runs leaves the job id in the checkpoint, and the resumed run reuses it."""
    simulator = await make_simulator(rate_limit_per_minute=0, job_run_seconds=1.0)
    out = tmp_path / "out"
    options = _options(out, "jobs", end=START + timedelta(days=1))
    task = asyncio.ensure_future(_export(simulator, options))
    while True:
        await asyncio.sleep(0.02)
        checkpoint = load_checkpoint(out) if (out / ".harvester").exists() else None
        if checkpoint is not None and checkpoint.jobs:
            break
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    saved = load_checkpoint(out)
    assert saved is not None
    assert list(saved.jobs) == ["2025-03-01"]
    assert simulator.stats.jobs_submitted == 1

    await asyncio.wait_for(_export(simulator, options), timeout=60)
    assert simulator.stats.jobs_submitted == 1
    final = load_checkpoint(out)
    assert final is not None
    assert final.complete
    assert final.jobs == {}


async def test_by_completed_date(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """--by completed exports the surveys completed in the range, from conversations up to the lookback earlier."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    start = datetime(2025, 3, 10, tzinfo=UTC)
    end = datetime(2025, 3, 12, tzinfo=UTC)
    options = _options(
        tmp_path / "out", "query", start=start, end=end, by="completed", lookback_days=5
    )
    await _export(simulator, options)

    scanned = simulator.org.expected_surveys(start - timedelta(days=5), end)
    expected = {
        item.survey_id
        for item in scanned
        if item.completed_date is not None
        and start <= item.completed_date < end
        and not item.deleted
    }
    records = read_lines(tmp_path / "out", "surveys")
    assert {record["surveyId"] for record in records} == expected
    assert any(record["conversationStart"] < "2025-03-10" for record in records)
    assert all("2025-03-10" <= record["completedDate"] < "2025-03-12" for record in records)


async def test_clamped_page_size(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A details query that serves fewer per page than asked still yields every conversation."""
    simulator = await make_simulator(
        rate_limit_per_minute=0, surveys_per_day=150, details_page_size_clamp=30
    )
    await _export(simulator, _options(tmp_path / "out", "query", detail="summary"))
    expected = {item.survey_id for item in simulator.org.expected_surveys(START, END)}
    assert {record["surveyId"] for record in read_lines(tmp_path / "out", "surveys")} == expected
    assert simulator.stats.requests["details_query"] >= 3 * 4


async def test_unstable_paging_rescanned(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """Pages that shift while they are read are caught by totalHits and read again."""
    simulator = await make_simulator(
        rate_limit_per_minute=0, surveys_per_day=200, unstable_paging=True
    )
    await _export(simulator, _options(tmp_path / "out", "query", detail="summary"))
    expected = {item.survey_id for item in simulator.org.expected_surveys(START, END)}
    records = read_lines(tmp_path / "out", "surveys")
    assert [record["surveyId"] for record in records].count(records[0]["surveyId"]) == 1
    assert {record["surveyId"] for record in records} == expected


async def test_auto_without_jobs_api(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """When the jobs API is unavailable, auto reads every day with the query."""
    simulator = await make_simulator(
        rate_limit_per_minute=0, fault_rates={"jobs_availability:500_json": 1.0}
    )
    await _export(simulator, _options(tmp_path / "out", "auto", detail="summary"))
    assert simulator.stats.jobs_submitted == 0
    expected = {item.survey_id for item in simulator.org.expected_surveys(START, END)}
    assert {record["surveyId"] for record in read_lines(tmp_path / "out", "surveys")} == expected


async def test_concurrent_job_limit_respected(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    """With one job allowed at a time, submits beyond it are refused with 429 and retried."""
    simulator = await make_simulator(
        rate_limit_per_minute=0, max_concurrent_jobs=1, job_run_seconds=0.2
    )
    await _export(simulator, _options(tmp_path / "out", "jobs", detail="summary"))
    assert simulator.stats.jobs_submitted == 3
    assert simulator.stats.too_many_requests > 0
    expected = {item.survey_id for item in simulator.org.expected_surveys(START, END)}
    assert {record["surveyId"] for record in read_lines(tmp_path / "out", "surveys")} == expected
