"""The benchmark scenarios: the simulated org, its limits and latencies, and the runs.

Sizes are in Finished surveys, the status an export selects by default. The simulator gives
about 55% of its surveys that status (``_SURVEY_STATUS_WEIGHTS`` in ``simulator/org.py``), so
an org gets ``surveys / days / FINISHED_SHARE`` surveys per day. The exact count comes from
the ground truth.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

from benchmarks.processes import SimulatorSpec
from harvester.simulator.config import REALISTIC_LATENCY

FINISHED_SHARE = 0.55
#: First day of every export: far enough in the past that no range reaches today.
START_DAY = date(2025, 3, 1)
SEED = 7
#: The client's limit when the simulator has none: the largest --rate the CLI accepts.
UNLIMITED_RATE = 1_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    """One contender run over the first ``days`` of the scenario (all of them when ``None``)."""

    contender: str
    days: float | None = None

    def name(self) -> str:
        """Return the run's key in the results, such as ``sdk_sequential`` or ``harvester@3d``."""
        return self.contender if self.days is None else f"{self.contender}@{self.days:g}d"


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    """A simulated org, the limits it enforces, and the runs against it."""

    name: str
    description: str
    surveys: int
    days: int
    time_scale: float
    rate_limit_per_minute: int
    #: Multiplies every range of ``REALISTIC_LATENCY``; 0 turns latency off.
    latency_factor: float
    runs: tuple[Run, ...]
    notes: tuple[str, ...] = ()

    def surveys_per_day(self, factor: float) -> float:
        """Return the simulator's mean surveys per day for ``factor`` times the nominal size."""
        return self.surveys * factor / self.days / FINISHED_SHARE

    def simulator(self, factor: float) -> SimulatorSpec:
        """Return the simulator settings for ``factor`` times the nominal size."""
        latency = {
            endpoint: (low * self.latency_factor, high * self.latency_factor)
            for endpoint, (low, high) in REALISTIC_LATENCY.items()
        }
        return SimulatorSpec(
            seed=SEED,
            surveys_per_day=round(self.surveys_per_day(factor), 3),
            first_day=date(2025, 1, 1),
            last_day=date(2027, 12, 31),
            rate_limit_per_minute=self.rate_limit_per_minute,
            time_scale=self.time_scale,
            latency=latency if self.latency_factor > 0 else {},
            # Details jobs also read the day before the range (conversations that overlap it).
            warm_days=(START_DAY - timedelta(days=1), START_DAY + timedelta(days=self.days))
            if self.rate_limit_per_minute > 0
            else None,
        )

    def client_rate(self) -> tuple[float, float]:
        """Return the harvester's ``--rate`` and ``--rate-period`` for this scenario."""
        if self.rate_limit_per_minute <= 0:
            return float(UNLIMITED_RATE), 60.0
        return float(self.rate_limit_per_minute), 60.0 / self.time_scale


def range_start() -> datetime:
    """Return midnight UTC of :data:`START_DAY`."""
    return datetime(START_DAY.year, START_DAY.month, START_DAY.day, tzinfo=UTC)


def range_end(days: float) -> datetime:
    """Return the end of the first ``days`` days of the scenario."""
    return range_start() + timedelta(days=days)


def option_text(moment: datetime) -> str:
    """Format a range bound for --from and --to: a date at midnight, else an ISO time."""
    if moment.time() == time(0):
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


#: Peers and --concurrency 1 send one request at a time, so in a rate-limited scenario they read
#: only these first days. Their figures are compared per 1,000 surveys.
SEQUENTIAL_DAYS = 2
#: Time scale of the rate-limited scenarios. The simulator rounds Retry-After up to whole real
#: seconds, and a 0.1 s stall of either event loop bunches requests. Both weigh time_scale
#: times more than in a real-time run: at 30 the harvester ran 1.27x its ceiling, at 10 1.04x.
RATE_LIMITED_TIME_SCALE = 10.0

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="realistic",
            description=(
                "realistic latencies and the documented 300 requests per minute, "
                "5,000 Finished surveys over 5 days"
            ),
            surveys=5_000,
            days=5,
            time_scale=RATE_LIMITED_TIME_SCALE,
            rate_limit_per_minute=300,
            latency_factor=1.0,
            runs=(
                Run("harvester"),
                Run("harvester_query"),
                Run("harvester_answers"),
                Run("harvester_summary"),
                Run("sdk_sequential", SEQUENTIAL_DAYS),
                Run("dlt_rest_api", SEQUENTIAL_DAYS),
                Run("harvester_c1", SEQUENTIAL_DAYS),
            ),
        ),
        Scenario(
            name="latency-heavy",
            description="every latency doubled, 300 requests per minute, 5,000 Finished surveys",
            surveys=5_000,
            days=5,
            time_scale=RATE_LIMITED_TIME_SCALE,
            rate_limit_per_minute=300,
            latency_factor=2.0,
            runs=(
                Run("harvester"),
                Run("harvester_query"),
                Run("sdk_sequential", SEQUENTIAL_DAYS),
                Run("dlt_rest_api", SEQUENTIAL_DAYS),
                Run("harvester_c1", SEQUENTIAL_DAYS),
            ),
        ),
        Scenario(
            name="cpu",
            description="no rate limit and no latency, 200,000 Finished surveys over 20 days",
            surveys=200_000,
            days=20,
            time_scale=1.0,
            rate_limit_per_minute=0,
            latency_factor=0.0,
            runs=(
                Run("harvester"),
                Run("harvester_summary"),
                Run("harvester", 1),
                Run("sdk_sequential", 1),
                Run("dlt_rest_api", 1),
            ),
        ),
        Scenario(
            name="scale",
            description=(
                "1,000,000 Finished surveys over 30 days, --detail summary, no rate limit and "
                "no latency; peak RSS of exports of 10k, 100k and 1M surveys"
            ),
            surveys=1_000_000,
            days=30,
            time_scale=1.0,
            rate_limit_per_minute=0,
            latency_factor=0.0,
            runs=(
                Run("harvester_summary", 0.3),
                Run("harvester_summary", 3),
                Run("harvester_summary", 30),
            ),
        ),
        Scenario(
            name="smoke",
            description="every installed contender on about 200 surveys, to keep the benchmark working",
            surveys=200,
            days=2,
            time_scale=60.0,
            rate_limit_per_minute=300,
            latency_factor=1.0,
            runs=(
                Run("harvester"),
                Run("harvester_query"),
                Run("harvester_answers"),
                Run("harvester_summary"),
                Run("sdk_sequential"),
                Run("dlt_rest_api"),
                Run("harvester_c1"),
            ),
        ),
    )
}
