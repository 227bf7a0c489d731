"""The folder tools: ``harvester schema``, ``verify``, ``status`` and ``report``."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from harvester import schema
from harvester.checkpoint import Checkpoint, save_checkpoint
from harvester.cli import app
from harvester.manifest import Manifest, save_manifest
from harvester.pipeline import FolderLock
from harvester.report import build_report, format_report
from harvester.report_html import render_html
from harvester.simulator import SimConfig, SimulatorThread
from harvester.status import read_status
from harvester.verify import verify_folder
from tests.export_helpers import export_async, export_interrupted, export_options, read_lines

runner = CliRunner()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    """Serve one small org without a rate limit for the whole module."""
    with SimulatorThread(SimConfig(seed=5, surveys_per_day=80, rate_limit_per_minute=0)) as sim:
        yield sim


@pytest.fixture(scope="module")
def finished(simulator: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export three days completely."""
    out = tmp_path_factory.mktemp("finished") / "out"
    asyncio.run(export_async(simulator.base_url, export_options(out)))
    return out


@pytest.fixture(scope="module")
def interrupted(simulator: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Start the same export and cancel it once it wrote its first lines."""
    out = tmp_path_factory.mktemp("interrupted") / "out"
    options = export_options(out, concurrency=2, checkpoint_interval=0.01)
    asyncio.run(export_interrupted(simulator.base_url, options))
    return out


@pytest.fixture
def copy(finished: Path, tmp_path: Path) -> Path:
    """Return a copy of the finished folder that a test may damage."""
    target = tmp_path / "copy"
    shutil.copytree(finished, target)
    return target


def _first_part(out: Path) -> Path:
    return sorted((out / "surveys").rglob("part-*.ndjson"))[0]


# schema


@pytest.mark.parametrize(
    ("output_format", "expected"),
    [
        ("duckdb", schema.duckdb_columns(schema.SURVEYS)),
        ("spark", schema.spark_ddl(schema.SURVEYS)),
    ],
)
def test_schema_command_prints_format(output_format: str, expected: str) -> None:
    """``harvester schema`` prints the DuckDB columns and the Spark DDL as the module builds them."""
    result = runner.invoke(app, ["schema", "--format", output_format])

    assert result.exit_code == 0
    assert result.stdout.strip() == expected


def test_schema_command_prints_json_schema() -> None:
    """``harvester schema --table errors`` prints the error lines' JSON Schema document."""
    result = runner.invoke(app, ["schema", "--format", "json-schema", "--table", "errors"])

    assert result.exit_code == 0
    assert orjson.loads(result.stdout) == schema.json_schema(schema.ERRORS)


def test_schema_command_rejects_format() -> None:
    """An unknown --format exits with 2 and names the valid formats."""
    result = runner.invoke(app, ["schema", "--format", "avro"])

    assert result.exit_code == 2
    assert "valid formats: json-schema, duckdb, spark" in result.stderr


# verify


def test_verify_passes_good_folder(finished: Path) -> None:
    """A complete, untouched export passes every check."""
    result = verify_folder(finished)
    command = runner.invoke(app, ["verify", str(finished)])

    assert result.problems == []
    assert result.lines["surveys"] == len(read_lines(finished, "surveys"))
    assert command.exit_code == 0
    assert command.stdout.startswith("OK: ")


def test_verify_finds_duplicate(copy: Path) -> None:
    """A line written twice is reported with its file, line number and survey id."""
    part = _first_part(copy)
    first = part.read_bytes().splitlines(keepends=True)[0]
    with part.open("ab") as stream:
        stream.write(first)
    lines = len(part.read_bytes().splitlines())
    survey_id = orjson.loads(first)["surveyId"]
    result = runner.invoke(app, ["verify", str(copy)])

    assert result.exit_code == 1
    assert f":{lines}: surveyId {survey_id} appears twice" in result.stdout


def test_verify_finds_broken_line(copy: Path) -> None:
    """A line that is not JSON is reported as such."""
    part = _first_part(copy)
    lines = part.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1][:40] + b"\n"
    part.write_bytes(b"".join(lines))
    relative = part.relative_to(copy).as_posix()
    result = runner.invoke(app, ["verify", str(copy)])

    assert result.exit_code == 1
    assert f"{relative}:2: not valid JSON" in result.stdout


def test_verify_finds_count_mismatch(copy: Path) -> None:
    """A partition whose line count differs from the manifest is reported."""
    manifest = orjson.loads((copy / "manifest.json").read_bytes())
    partitions = manifest["surveys"]["partitions"]
    partition = sorted(partitions)[0]
    partitions[partition] += 1
    (copy / "manifest.json").write_bytes(orjson.dumps(manifest))
    lines = partitions[partition] - 1
    result = runner.invoke(app, ["verify", str(copy)])

    assert result.exit_code == 1
    assert (
        f"surveys/{partition}: {lines} lines, but the manifest counts {lines + 1}" in result.stdout
    )


def test_verify_finds_incomplete_run(interrupted: Path) -> None:
    """An interrupted export fails with the days it has done."""
    result = runner.invoke(app, ["verify", str(interrupted)])

    assert result.exit_code == 1
    assert re.search(r"the export is incomplete: \d of 3 days done", result.stdout)


def test_verify_rejects_missing_folder(tmp_path: Path) -> None:
    """A path that is not a folder exits with 2."""
    result = runner.invoke(app, ["verify", str(tmp_path / "missing")])

    assert result.exit_code == 2
    assert "is not a folder" in result.stderr


# status


def test_status_of_finished_folder(finished: Path) -> None:
    """A finished folder is complete, with every day done and the manifest's counts."""
    status = read_status(finished, datetime.now(UTC))
    manifest = orjson.loads((finished / "manifest.json").read_bytes())
    command = runner.invoke(app, ["status", str(finished)])

    assert status.state == "complete"
    assert status.days_done == 3
    assert status.days_total == 3
    assert status.surveys == manifest["surveys"]["total"]
    assert status.errors == manifest["errors"]["total"]
    assert status.eta_seconds is None
    assert command.exit_code == 0
    assert "state        complete" in command.stdout
    assert "days         3 of 3 done" in command.stdout


def test_status_of_interrupted_folder(interrupted: Path) -> None:
    """An interrupted folder is stopped, with fewer days done than in total."""
    status = read_status(interrupted, datetime.now(UTC))
    command = runner.invoke(app, ["status", str(interrupted)])

    assert status.state == "stopped"
    assert status.days_done < status.days_total
    assert status.surveys == len(read_lines(interrupted, "surveys"))
    assert command.exit_code == 0
    assert "stopped; run the same export command to resume" in command.stdout


def test_status_shows_running_export(interrupted: Path) -> None:
    """A folder whose lock is held is running, with the holder's process id."""
    lock = FolderLock(interrupted)
    lock.acquire()
    try:
        status = read_status(interrupted, datetime.now(UTC))
    finally:
        lock.release()

    assert status.state == "running"
    assert status.running_pid == str(os.getpid())


def test_status_eta_uses_last_rate(tmp_path: Path) -> None:
    """The ETA divides the remaining days by the last run's days per second."""
    start = datetime(2025, 4, 1, 8, tzinfo=UTC)
    run_start = start + timedelta(hours=5)
    updated = run_start + timedelta(hours=1)
    (tmp_path / ".harvester").mkdir()
    checkpoint = Checkpoint(
        fingerprint="f",
        params={"from": "2025-01-01", "to": "2025-01-11", "detail": "full"},
        windows_total=10,
        windows_done=4,
        counters={"surveysWritten": 120, "errorsWritten": 2, "requests": 300},
        started_at=start.isoformat(),
        updated_at=updated.isoformat(),
    )
    save_checkpoint(tmp_path, checkpoint, 0o600)
    save_manifest(tmp_path, _manifest(run_start.isoformat(), done_at_start=2), 0o600)
    status = read_status(tmp_path, updated + timedelta(minutes=10))
    command = runner.invoke(app, ["status", str(tmp_path)])

    assert status.state == "stopped"
    assert status.rate == pytest.approx(2 / 3600)
    assert status.eta_seconds == pytest.approx(3 * 3600)
    assert status.since_update == pytest.approx(600)
    assert "about 3h00m for 6 days at the last rate of 2.0 days per hour" in command.stdout


def _manifest(run_started_at: str, done_at_start: int) -> Manifest:
    return Manifest(
        tool_version="0",
        schema_version=1,
        parameters={},
        started_at="",
        updated_at="",
        complete=False,
        days_total=10,
        days_done=4,
        survey_partitions={},
        error_partitions={},
        errors_by_kind={},
        requests=0,
        retries=0,
        rate_limited=0,
        run_started_at=run_started_at,
        run_days_done_at_start=done_at_start,
    )


# report


def _expected_scores(records: list[dict[str, Any]]) -> tuple[float, float]:
    """Compute CSAT and NPS in plain Python, independently of the DuckDB queries."""
    scores = [record["totalScore"] for record in records if record["totalScore"] is not None]
    nps_answers = [record["npsScore"] for record in records if record["npsScore"] is not None]
    promoters = sum(1 for answer in nps_answers if answer >= 9)
    detractors = sum(1 for answer in nps_answers if answer <= 6)
    return sum(scores) / len(scores), 100 * (promoters - detractors) / len(nps_answers)


def test_report_numbers_match_records(finished: Path) -> None:
    """Overall, weekly and per-queue CSAT and NPS equal those computed from the lines."""
    records = [
        record for record in read_lines(finished, "surveys") if record["status"] == "Finished"
    ]
    report = build_report(finished, top=100)
    csat, nps = _expected_scores(records)
    week_of = {
        record["surveyId"]: "{}-W{:02d}".format(
            *datetime.fromisoformat(record["completedDate"]).isocalendar()[:2]
        )
        for record in records
    }
    first_week = report.weeks[0]
    in_week = [record for record in records if week_of[record["surveyId"]] == first_week.label]
    queue = report.queues[0]
    in_queue = [record for record in records if record["queue"]["name"] == queue.label]

    assert report.overall.responses == len(records)
    assert report.overall.csat == pytest.approx(csat)
    assert report.overall.nps == pytest.approx(nps)
    assert sum(week.responses for week in report.weeks) == len(records)
    assert first_week.responses == len(in_week)
    assert (first_week.csat, first_week.nps) == pytest.approx(_expected_scores(in_week))
    assert queue.responses == len(in_queue)
    assert (queue.csat, queue.nps) == pytest.approx(_expected_scores(in_queue))
    assert report.evaluated > 0
    assert sum(band.responses for band in report.bands) == report.evaluated


def test_report_text_shows_numbers(finished: Path) -> None:
    """The terminal text carries the overall numbers and every week."""
    report = build_report(finished)
    text = format_report(report)

    assert f"CSAT       {report.overall.csat:.1f}" in text
    assert f"NPS        {report.overall.nps:.1f}" in text
    for week in report.weeks:
        assert week.label in text


class _Balance(HTMLParser):
    """Track open elements, and record every end tag that closes anything but the innermost."""

    VOID = frozenset(
        {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.mismatches: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.mismatches.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _svgs(page: str) -> list[str]:
    pieces = []
    start = page.find("<svg")
    while start != -1:
        end = page.index("</svg>", start) + len("</svg>")
        pieces.append(page[start:end])
        start = page.find("<svg", end)
    return pieces


def test_report_html_is_well_formed(finished: Path) -> None:
    """The HTML page balances its tags, and every inline SVG parses as XML."""
    page = render_html(build_report(finished))
    parser = _Balance()
    parser.feed(page)
    parser.close()
    svgs = _svgs(page)

    assert page.startswith("<!DOCTYPE html>")
    assert parser.mismatches == []
    assert parser.stack == []
    assert len(svgs) == 8
    for svg in svgs:
        root = ElementTree.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_report_html_is_self_contained(finished: Path) -> None:
    """The page loads nothing: no scripts, links, external images or CSS imports."""
    page = render_html(build_report(finished)).lower()

    assert "<script" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert "href=" not in page
    assert "url(" not in page
    assert "@import" not in page


def test_report_html_shows_numbers(finished: Path) -> None:
    """The page's text carries the numbers DuckDB computed, for every group."""
    report = build_report(finished)
    parser = _Balance()
    parser.feed(render_html(report))
    text = "\n".join(parser.text)

    assert f"{report.overall.csat:.1f}" in text
    assert f"{report.overall.nps:.1f}" in text
    for group in [*report.weeks, *report.queues, *report.agents]:
        assert group.label in text
        assert f"{group.csat:.1f}" in text
        assert f"{group.nps:.1f}" in text
    for band in report.bands:
        assert f"{band.csat:.1f}" in text


def test_report_command_writes_html(finished: Path, tmp_path: Path) -> None:
    """``harvester report --html`` prints the summary and writes the page."""
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(finished), "--html", str(page)])

    assert result.exit_code == 0
    assert "ISO week" in result.stdout
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_of_empty_folder(tmp_path: Path) -> None:
    """A folder without finished surveys reports that there is nothing to report."""
    (tmp_path / "surveys").mkdir()
    report = build_report(tmp_path)

    assert report.overall.responses == 0
    assert "nothing to report" in format_report(report)
    assert "nothing to report" in render_html(report)
