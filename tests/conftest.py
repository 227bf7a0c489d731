"""Fixtures shared by all tests: a clean environment and simulators that always stop."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harvester.simulator import SimConfig, Simulator

#: A small org keeps tests fast; every other knob keeps its default.
SMALL_ORG: dict[str, Any] = {"seed": 7, "surveys_per_day": 40, "job_run_seconds": 0.05}

MakeSimulator = Callable[..., Awaitable[Simulator]]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Remove GENESYS_CLOUD_* variables and point HOME at an empty folder."""
    for name in list(os.environ):
        if name.startswith("GENESYS_CLOUD_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    yield


@pytest.fixture
async def make_simulator() -> AsyncIterator[MakeSimulator]:
    """Return a factory of started simulators; every one is stopped after the test.

    Keyword arguments override fields of the small default org's ``SimConfig``.
    """
    started: list[Simulator] = []

    async def factory(**overrides: Any) -> Simulator:
        simulator = Simulator(SimConfig(**{**SMALL_ORG, **overrides}))
        await simulator.start()
        started.append(simulator)
        return simulator

    try:
        yield factory
    finally:
        for simulator in started:
            await simulator.stop()


@pytest.fixture
async def simulator(
    request: pytest.FixtureRequest, make_simulator: MakeSimulator
) -> AsyncIterator[Simulator]:
    """Yield a started simulator with a small org; parametrize indirectly with a dict of overrides."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    yield await make_simulator(**overrides)
