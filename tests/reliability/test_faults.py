"""Injected API faults: the export retries within its bounds and still equals the ground truth."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from harvester.cli import app
from harvester.errors import RetriesExhaustedError
from harvester.pipeline import run_export
from harvester.retry import RetryPolicy
from harvester.settings import ExportOptions
from harvester.simulator import Fault, Simulator
from harvester.stats import RunStats
from tests.conftest import MakeSimulator
from tests.reliability.support import (
    BASE_CONFIG,
    CREDENTIALS,
    END,
    START,
    assert_exact_export,
    checkpoint_body,
    child_environment,
    endpoints,
    simulator_thread,
)

#: Waits a hundredth of the real ones: a 2 s Retry-After pauses 21 ms.
FAST = RetryPolicy(time_scale=0.01)


def _options(out: Path, **overrides: Any) -> ExportOptions:
    values: dict[str, Any] = {
        "start": START,
        "end": END,
        "out": out,
        "rate_per_minute": 100_000,
        "source": "query",
        "concurrency": 4,
    }
    values.update(overrides)
    return ExportOptions(**values)


async def _export(
    simulator: Simulator, out: Path, policy: RetryPolicy = FAST, **overrides: Any
) -> RunStats:
    stats = RunStats()
    await run_export(
        CREDENTIALS, endpoints(simulator), _options(out, **overrides), stats=stats, policy=policy
    )
    return stats


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the range once from a simulator without faults."""
    out = tmp_path_factory.mktemp("reference") / "out"
    with simulator_thread() as thread:
        asyncio.run(_export(thread.simulator, out))
    return out


@dataclasses.dataclass(frozen=True)
class FaultCase:
    id: str
    config: dict[str, Any]
    #: The simulator's counter that proves the fault happened.
    fault: str
    retried: bool = True
    rate_limited: bool = False
    policy: RetryPolicy = FAST


FAULT_CASES = [
    FaultCase("429", {"fault_rates": {"429": 0.05}}, "429", rate_limited=True),
    FaultCase(
        "429-no-retry-after",
        {"fault_rates": {"429_no_retry_after": 0.05}},
        "429_no_retry_after",
        rate_limited=True,
    ),
    # Retry-After 120 s on the wire, waited at a thousandth: 0.12 s.
    FaultCase(
        "429-long",
        {
            "fault_script": (
                Fault("details_query", "429_long", 2),
                Fault("survey", "429_long", 5),
                Fault("evaluation", "429_long", 3),
            )
        },
        "429_long",
        rate_limited=True,
        policy=RetryPolicy(time_scale=0.001),
    ),
    FaultCase("500-json", {"fault_rates": {"500_json": 0.1}}, "500_json"),
    FaultCase("503-html", {"fault_rates": {"503_html": 0.1}}, "503_html"),
    FaultCase("drop", {"fault_rates": {"drop": 0.1}}, "drop"),
    FaultCase("truncated", {"fault_rates": {"truncated": 0.1}}, "truncated"),
    FaultCase(
        "slow", {"fault_rates": {"slow": 0.05}, "slow_seconds": 0.2}, "slow", retried=False
    ),
    FaultCase("token-expire", {"fault_rates": {"token_expire": 0.05}}, "token_expire"),
    FaultCase(
        "all-kinds",
        {
            "fault_rates": {
                kind: 0.02
                for kind in (
                    "429",
                    "429_no_retry_after",
                    "500_json",
                    "503_html",
                    "drop",
                    "truncated",
                    "token_expire",
                )
            }
        },
        "503_html",
        rate_limited=True,
    ),
]


@pytest.mark.parametrize("case", FAULT_CASES, ids=[case.id for case in FAULT_CASES])
async def test_fault_survived(
    case: FaultCase, make_simulator: MakeSimulator, reference: Path, tmp_path: Path
) -> None:
    """The export survives each fault kind with output equal to a fault-free export."""
    simulator = await make_simulator(**{**BASE_CONFIG, **case.config})
    out = tmp_path / "out"
    stats = await _export(simulator, out, case.policy)

    assert simulator.stats.faults[case.fault] > 0
    assert_exact_export(out, reference, simulator)
    assert checkpoint_body(out)["complete"] is True
    if case.retried:
        assert stats.retries > 0
    if case.rate_limited:
        assert stats.rate_limited > 0


async def test_short_token_lifetime(
    make_simulator: MakeSimulator, reference: Path, tmp_path: Path
) -> None:
    """Tokens that expire every second are renewed without losing a survey."""
    # Latency makes the export outlast several one-second tokens.
    latency = {endpoint: (0.04, 0.08) for endpoint in ("survey", "evaluation", "users")}
    simulator = await make_simulator(**BASE_CONFIG, token_ttl=1, latency=latency)
    out = tmp_path / "out"
    await _export(simulator, out, concurrency=2)

    assert simulator.stats.tokens_issued >= 2
    assert_exact_export(out, reference, simulator)


def _first_conversation_surveys(simulator: Simulator) -> int:
    expected = sorted(
        simulator.org.expected_surveys(START, END), key=lambda item: item.conversation_start
    )
    first = expected[0].conversation_id
    return sum(1 for item in expected if item.conversation_id == first)


async def test_attempts_bounded(
    make_simulator: MakeSimulator, reference: Path, tmp_path: Path
) -> None:
    """Every survey GET failing stops after max_attempts, and a later run resumes exactly."""
    config = {**BASE_CONFIG, "fault_rates": {"survey:503_html": 1.0}}
    broken = await make_simulator(**config)
    out = tmp_path / "out"
    policy = RetryPolicy(max_attempts=3, time_scale=0.01)
    # The timeout turns retries without bound into a failure instead of a hang.
    async with asyncio.timeout(20):
        with pytest.raises(RetriesExhaustedError, match="failed 3 times in a row"):
            await _export(broken, out, policy, concurrency=1)

    assert broken.stats.requests["survey"] == 3 * _first_conversation_surveys(broken)
    assert checkpoint_body(out)["complete"] is False

    port = broken.port
    await broken.stop()
    healthy = await make_simulator(**BASE_CONFIG, port=port)
    await _export(healthy, out, concurrency=1)
    assert_exact_export(out, reference, healthy)


async def test_rate_limit_time_bounded(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    """A 429 on every survey GET stops once max_total_seconds have passed."""
    simulator = await make_simulator(**BASE_CONFIG, fault_rates={"survey:429": 1.0})
    out = tmp_path / "out"
    policy = RetryPolicy(max_total_seconds=30, time_scale=0.01)
    # The timeout turns retries without bound into a failure instead of a hang.
    async with asyncio.timeout(20):
        with pytest.raises(RetriesExhaustedError, match="kept failing for more than 30 s"):
            await _export(simulator, out, policy, concurrency=1)

    assert simulator.stats.faults["429"] > 1
    assert checkpoint_body(out)["complete"] is False


@pytest.fixture
def scaled_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the CLI's retry waits a hundredth of the real ones."""
    monkeypatch.setattr(
        "harvester.pipeline.RetryPolicy", functools.partial(RetryPolicy, time_scale=0.01)
    )
    yield


def _invoke(args: list[str]) -> Result:
    """Run the CLI in this process, then give the root logger back its handlers.

    The CLI points logging at the runner's stderr, which is closed once the command returns,
    and the simulator thread still logs when it stops.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return CliRunner().invoke(app, args, env=child_environment())
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.mark.usefixtures("scaled_retries")
def test_exhausted_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI exits 1 naming the failed request when retries run out, and resume completes."""
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    args = ["export", "--from", "2025-03-01", "--to", "2025-03-05", "--out", str(out)]
    args += ["--rate", "100000", "--source", "query", "--no-progress"]
    with simulator_thread(fault_rates={"survey:503_html": 1.0}) as thread:
        port = thread.simulator.port
        failed = _invoke([*args, "--api-url", thread.base_url])

    assert failed.exit_code == 1, failed.output
    assert "error: GET /api/v2/quality/surveys/" in failed.stderr
    assert "failed 6 times in a row" in failed.stderr
    assert "run the same command to resume" in failed.stderr
    assert checkpoint_body(out)["complete"] is False

    with simulator_thread(port=port) as thread:
        resumed = _invoke([*args, "--api-url", thread.base_url])
        assert resumed.exit_code == 0, resumed.output
        assert_exact_export(out, None, thread)

