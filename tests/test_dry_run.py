"""Dry run: counts from analytics alone that match what the export then reads and writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from harvester.cli import app
from harvester.pipeline import estimate_export, run_export
from harvester.retry import RetryPolicy
from harvester.settings import Credentials, Endpoints, ExportOptions
from harvester.simulator import SimConfig, SimulatorThread
from tests.conftest import MakeSimulator
from tests.export_helpers import read_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 4, tzinfo=UTC)
CREDENTIALS = Credentials("sim-client", "sim-secret")


async def test_dry_run_matches_export(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """The dry run's surveys, evaluations and pages equal what the full export reads."""
    simulator = await make_simulator(rate_limit_per_minute=0)
    endpoints = Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)
    options = ExportOptions(
        start=START, end=END, out=tmp_path / "out", rate_per_minute=100_000, source="query"
    )
    policy = RetryPolicy(time_scale=0.001)

    estimate = await estimate_export(CREDENTIALS, endpoints, options, policy=policy)
    assert not (tmp_path / "out").exists()
    assert simulator.stats.requests["survey"] == 0
    pages = simulator.stats.requests["details_query"]
    assert estimate.details_pages == pages

    await run_export(CREDENTIALS, endpoints, options, policy=policy)
    records = read_lines(tmp_path / "out", "surveys")
    survey_errors = [
        line for line in read_lines(tmp_path / "out", "errors") if line["kind"] == "survey"
    ]
    assert estimate.surveys == len(records) + len(survey_errors)
    assert estimate.surveys == simulator.stats.requests["survey"]
    assert estimate.evaluations == simulator.stats.requests["evaluation"]
    assert estimate.requests("full") >= estimate.requests("answers") > estimate.requests("summary")


def test_dry_run_command_prints_levels(tmp_path: Path) -> None:
    """`export --dry-run` prints every detail level and writes no file."""
    with SimulatorThread(
        SimConfig(seed=3, surveys_per_day=30, rate_limit_per_minute=0)
    ) as simulator:
        result = CliRunner().invoke(
            app,
            [
                "export",
                "--from",
                "2025-03-01",
                "--to",
                "2025-03-02",
                "--out",
                str(tmp_path / "out"),
                "--api-url",
                simulator.base_url,
                "--rate",
                "300",
                "--dry-run",
                "--source",
                "query",
            ],
            env={
                "GENESYS_CLOUD_CLIENT_ID": "sim-client",
                "GENESYS_CLOUD_CLIENT_SECRET": "sim-secret",
            },
        )
        survey_reads = simulator.stats.requests["survey"]
    assert result.exit_code == 0, result.output
    assert "surveys to export" in result.output
    for level in ("summary", "answers", "full"):
        assert f"  {level} " in result.output
    assert "time at 300 requests per minute" in result.output
    assert survey_reads == 0
    assert not (tmp_path / "out").exists()
