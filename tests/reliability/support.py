"""Running ``harvester export`` as a child process against a simulator, and checking its output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from harvester.checkpoint import checkpoint_path
from harvester.settings import Credentials, Endpoints
from harvester.simulator import SimConfig, Simulator, SimulatorThread
from tests.export_helpers import comparable, read_lines

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"
CREDENTIALS = Credentials(CLIENT_ID, CLIENT_SECRET)

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 3, 5, tzinfo=UTC)

#: A small org without the simulator's own rate limit; tests add latency and faults.
BASE_CONFIG: dict[str, Any] = {"seed": 7, "surveys_per_day": 30, "rate_limit_per_minute": 0}


def child_environment(secret: str = CLIENT_SECRET) -> dict[str, str]:
    """Return the parent's environment without GENESYS_CLOUD_* and with the simulator's client."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("GENESYS_CLOUD_")
    }
    environment["GENESYS_CLOUD_CLIENT_ID"] = CLIENT_ID
    environment["GENESYS_CLOUD_CLIENT_SECRET"] = secret
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def export_command(
    api_url: str,
    out: Path,
    *extra: str,
    start: datetime = START,
    end: datetime = END,
    rate: str | None = "100000",
) -> list[str]:
    """Build the ``harvester export`` command line for the simulator at ``api_url``.

    ``rate=None`` leaves out ``--rate``, so the export first reads the org's request limit.
    """
    command = [
        sys.executable,
        "-m",
        "harvester",
        "export",
        "--from",
        start.date().isoformat(),
        "--to",
        end.date().isoformat(),
        "--out",
        str(out),
        "--api-url",
        api_url,
        "--no-progress",
        *extra,
    ]
    if rate is not None:
        command += ["--rate", rate]
    return command


def run_cli(
    command: list[str],
    cwd: Path,
    *,
    secret: str = CLIENT_SECRET,
    timeout: float = 60,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end in ``cwd`` and capture its output."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=child_environment(secret),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
        check=False,
    )


def start_cli(command: list[str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``command`` in ``cwd`` with its output captured; the caller must :func:`reap` it."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reap(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill ``process`` if it still runs, wait for it, and return its stdout and stderr."""
    if process.poll() is None:
        process.kill()
    stdout, stderr = process.communicate(timeout=30)
    return stdout, stderr


@contextmanager
def simulator_thread(**overrides: Any) -> Iterator[SimulatorThread]:
    """Serve a simulator of the small org from a thread; keyword arguments override its config."""
    with SimulatorThread(SimConfig(**{**BASE_CONFIG, **overrides})) as thread:
        yield thread


def endpoints(simulator: Simulator | SimulatorThread) -> Endpoints:
    """Return the API and login URL of a simulator."""
    return Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)


def has_checkpoint(out: Path) -> bool:
    """Return whether ``out`` has a checkpoint file."""
    return checkpoint_path(out).is_file()


def checkpoint_body(out: Path) -> dict[str, Any]:
    """Parse the checkpoint of ``out``."""
    body: dict[str, Any] = orjson.loads(checkpoint_path(out).read_bytes())
    return body


def unterminated_files(out: Path) -> list[str]:
    """Return the part files whose last line has no newline, such as a line cut by a crash."""
    broken = []
    for path in sorted(out.rglob("*.ndjson")):
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            broken.append(path.relative_to(out).as_posix())
    return broken


def survey_ids(out: Path) -> list[str]:
    """Return the survey id of every survey line of ``out``, duplicates included."""
    return [str(record["surveyId"]) for record in read_lines(out, "surveys")]


def expected_ids(org_owner: Simulator | SimulatorThread) -> tuple[set[str], set[str]]:
    """Return the readable and the deleted survey ids of the range, from the ground truth."""
    expected = org_owner.org.expected_surveys(START, END)
    readable = {item.survey_id for item in expected if not item.deleted}
    deleted = {item.survey_id for item in expected if item.deleted}
    return readable, deleted


def expected_error_ids(org_owner: Simulator | SimulatorThread) -> list[str]:
    """Return the sorted ids of every error line the range must produce: surveys and evaluations."""
    expected = org_owner.org.expected_surveys(START, END)
    ids = {item.survey_id for item in expected if item.deleted}
    for item in expected:
        ids.update(item.deleted_evaluation_ids)
    return sorted(ids)


def assert_exact_export(
    out: Path, reference: Path | None, org_owner: Simulator | SimulatorThread
) -> None:
    """Check ``out`` against the ground truth and, when given, a reference export."""
    readable, _ = expected_ids(org_owner)
    ids = survey_ids(out)
    assert unterminated_files(out) == []
    assert len(ids) == len(set(ids)), "a survey was written twice"
    assert set(ids) == readable
    error_ids = sorted(str(line["id"]) for line in read_lines(out, "errors"))
    assert error_ids == expected_error_ids(org_owner)
    if reference is not None:
        assert comparable(read_lines(out, "surveys")) == comparable(read_lines(reference, "surveys"))
        assert comparable(read_lines(out, "errors")) == comparable(read_lines(reference, "errors"))
