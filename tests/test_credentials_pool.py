"""Several OAuth clients: each has its own token and rate limit, and the work is spread."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
from typer.testing import CliRunner

from harvester.cli import app
from harvester.simulator import SimConfig, SimulatorThread
from tests.export_helpers import read_lines

CLIENTS = {"sim-client": "sim-secret", "second-client": "second-secret"}


def test_two_clients_share_the_work(tmp_path: Path) -> None:
    """Both clients get a token and a fair share of the requests; the export is complete."""
    credentials = tmp_path / "clients.json"
    credentials.write_bytes(
        orjson.dumps([{"clientId": key, "clientSecret": value} for key, value in CLIENTS.items()])
    )
    config = SimConfig(seed=9, surveys_per_day=80, rate_limit_per_minute=0, clients=CLIENTS)
    with SimulatorThread(config) as simulator:
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
                "--credentials",
                str(credentials),
                "--rate",
                "100000",
                "--source",
                "query",
            ],
        )
        per_token = dict(simulator.stats.per_token)
        tokens = simulator.stats.tokens_issued
        truth = simulator.org.expected_surveys(
            datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)
        )
        expected = {item.survey_id for item in truth if not item.deleted}

    assert result.exit_code == 0, result.output
    assert tokens == 2
    by_client = {
        client: sum(count for label, count in per_token.items() if label.startswith(client + "#"))
        for client in CLIENTS
    }
    total = sum(by_client.values())
    assert all(count > total * 0.3 for count in by_client.values()), by_client
    assert {record["surveyId"] for record in read_lines(tmp_path / "out", "surveys")} == expected
    assert "second-secret" not in result.output


def test_credentials_file_errors(tmp_path: Path) -> None:
    """A malformed or repeating credentials file exits 2 and names the problem, not the secret."""
    cases = {
        "not json": "is not valid JSON",
        "[]": "non-empty JSON list",
        '[{"clientId": "a"}]': "entry 1 needs a non-empty clientId and clientSecret",
        '[{"clientId": "a", "clientSecret": "s1"}, {"clientId": "a", "clientSecret": "s2"}]': "lists client 'a' twice",
    }
    for text, expected in cases.items():
        path = tmp_path / "clients.json"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(
            app,
            [
                "export",
                "--from",
                "2025-03-01",
                "--to",
                "2025-03-02",
                "--api-url",
                "http://127.0.0.1:9",
                "--credentials",
                str(path),
                "--out",
                str(tmp_path / "out"),
            ],
        )
        assert result.exit_code == 2, text
        assert expected in result.output, result.output
        assert "s1" not in result.output
