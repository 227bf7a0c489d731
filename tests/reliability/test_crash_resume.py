"""Kill ``harvester export`` anywhere, resume it with the same command, and lose nothing.

The export runs as a child process against a simulator with latency, so that one run lasts a
few seconds and the kills land in enumeration, in the workers, in writes and in checkpoints.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.checkpoint import load_checkpoint
from harvester.simulator import SimulatorThread
from tests.reliability.support import (
    assert_exact_export,
    checkpoint_body,
    export_command,
    has_checkpoint,
    reap,
    run_cli,
    simulator_thread,
    start_cli,
)

pytestmark = pytest.mark.slow

#: Latency on every endpoint the export calls, so that a run lasts a few seconds.
LATENCY = {
    endpoint: (0.05, 0.15)
    for endpoint in ("token", "details_query", "survey", "evaluation", "users", "queues")
}
#: Kill delays in seconds after the start of each attempt. The interpreter needs about 0.4 s
#: to start, so the shortest delays stop a run before its first request.
DELAY_RANGE = (0.2, 2.5)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    """Serve one simulator with latency for every test of this module."""
    with simulator_thread(latency=LATENCY, job_run_seconds=0.1) as thread:
        yield thread


@pytest.fixture(scope="module")
def reference(sim: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the range once without interruption."""
    work = tmp_path_factory.mktemp("reference")
    out = work / "out"
    result = run_cli(export_command(sim.base_url, out, "--source", "query"), work)
    assert result.returncode == 0, result.stderr
    return out


def _wait_for_output(out: Path, process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Return once the export has created its first part file."""
    deadline = time.monotonic() + timeout
    while not any(out.glob("*/*/*.ndjson")):
        assert process.poll() is None, "the export ended before writing any output"
        assert time.monotonic() < deadline, "the export wrote no output in time"
        time.sleep(0.002)


def _part_sizes(out: Path) -> dict[str, int]:
    return {
        path.relative_to(out).as_posix(): path.stat().st_size
        for path in sorted(out.glob("*/*/*.ndjson"))
    }


@pytest.mark.parametrize(("source", "kills"), [("query", 10), ("jobs", 4)])
def test_random_kills_resume_exactly(
    source: str, kills: int, sim: SimulatorThread, reference: Path, tmp_path: Path
) -> None:
    """SIGKILL at random points, then resume: the output equals ground truth and the reference.

    A run that finishes before its kill is checked, and the next attempt starts again in an
    empty folder, until enough kills have landed. With ``jobs`` the kills also land while
    details jobs run, which a resumed run re-attaches to.
    """
    seed = int(os.environ.get("HARVESTER_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    print(f"crash seed {seed} (set HARVESTER_CRASH_SEED={seed} to repeat)")
    out = tmp_path / "out"
    command = export_command(sim.base_url, out, "--source", source)

    landed = 0
    attempts = 0
    while landed < kills:
        attempts += 1
        assert attempts <= kills * 3, "too few kills landed while the export ran"
        delay = rng.uniform(*DELAY_RANGE)
        process = start_cli(command, tmp_path)
        try:
            code = process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            code = None
        _, stderr = reap(process)
        if code is None:
            landed += 1
            print(f"attempt {attempts}: killed after {delay:.3f} s")
            if has_checkpoint(out):
                assert load_checkpoint(out) is not None
            continue
        print(f"attempt {attempts}: finished with {code} before {delay:.3f} s; starting over")
        assert code == 0, stderr
        assert_exact_export(out, reference, sim)
        shutil.rmtree(out)

    final = run_cli(command, tmp_path)
    assert final.returncode == 0, final.stderr
    assert checkpoint_body(out)["complete"] is True
    assert_exact_export(out, reference, sim)


def test_kill_before_first_checkpoint(sim: SimulatorThread, reference: Path, tmp_path: Path) -> None:
    """A SIGKILL right after the first part file appears still leaves a resumable folder."""
    out = tmp_path / "out"
    command = export_command(sim.base_url, out, "--source", "query")
    process = start_cli(command, tmp_path)
    try:
        _wait_for_output(out, process)
        process.send_signal(signal.SIGKILL)
    finally:
        reap(process)

    resumed = run_cli(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_exact_export(out, reference, sim)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_signal_stops_with_checkpoint(
    number: signal.Signals, sim: SimulatorThread, reference: Path, tmp_path: Path
) -> None:
    """SIGINT and SIGTERM stop the run with exit 130 and a checkpoint that resumes exactly."""
    out = tmp_path / "out"
    command = export_command(sim.base_url, out, "--source", "query")
    process = start_cli(command, tmp_path)
    try:
        _wait_for_output(out, process)
        time.sleep(0.3)
        process.send_signal(number)
        code = process.wait(timeout=10)
    finally:
        _, stderr = reap(process)

    assert code == 130, stderr
    assert "run the same command to resume" in stderr
    assert has_checkpoint(out)
    body = checkpoint_body(out)
    assert body["complete"] is False
    assert body["files"] == _part_sizes(out)

    resumed = run_cli(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_exact_export(out, reference, sim)
