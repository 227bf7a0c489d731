"""Exporting given conversations instead of a date range."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from harvester.cli import app
from harvester.simulator import SimConfig, SimulatorThread
from harvester.simulator.org import day_number
from tests.export_helpers import read_lines

CREDENTIALS = {"GENESYS_CLOUD_CLIENT_ID": "sim-client", "GENESYS_CLOUD_CLIENT_SECRET": "sim-secret"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_conversation_list_export(tmp_path: Path) -> None:
    """Given conversations export their finished surveys; the others are explained in the summary."""
    config = SimConfig(seed=5, surveys_per_day=60, rate_limit_per_minute=0)
    with SimulatorThread(config) as simulator:
        conversations = simulator.org.conversations(day_number(date(2025, 3, 1)))
        finished = [
            item
            for item in conversations
            if any(s.status == "Finished" and not s.deleted for s in item.surveys)
        ][:5]
        unanswered = next(
            item
            for item in conversations
            if item.surveys and all(s.status != "Finished" for s in item.surveys)
        )
        ids_file = tmp_path / "ids.txt"
        lines = [item.id for item in finished[2:]] + [UNKNOWN, ""]
        ids_file.write_text("\n".join(lines), encoding="utf-8")
        arguments = ["export", "--out", str(tmp_path / "out"), "--api-url", simulator.base_url]
        arguments += ["--rate", "100000", "--conversations-file", str(ids_file)]
        for item in [*finished[:2], unanswered]:
            arguments += ["--conversation", item.id]

        result = CliRunner().invoke(app, arguments, env=CREDENTIALS)
        requests = dict(simulator.stats.requests)

    assert result.exit_code == 0, result.output
    expected = {
        survey.id
        for item in finished
        for survey in item.surveys
        if survey.status == "Finished" and not survey.deleted
    }
    records = read_lines(tmp_path / "out", "surveys")
    assert {record["surveyId"] for record in records} == expected
    assert all(record["answers"] for record in records)
    assert requests["details_get"] == 1
    assert requests["conversation_surveys"] == len(finished)
    assert requests.get("survey", 0) == 0
    statuses = ", ".join(survey.status for survey in unanswered.surveys)
    assert (
        f"conversation {unanswered.id}: nothing exported; its surveys: {statuses}" in result.output
    )
    assert f"conversation {UNKNOWN}: not found in analytics" in result.output


def test_conversation_list_rejects_range(tmp_path: Path) -> None:
    """A conversation list and a date range do not combine."""
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--conversation",
            UNKNOWN,
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-02",
            "--api-url",
            "http://127.0.0.1:9",
            "--out",
            str(tmp_path / "out"),
        ],
        env=CREDENTIALS,
    )
    assert result.exit_code == 2
    assert "do not combine with --conversation" in result.output
