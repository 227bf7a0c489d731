"""``harvester demo``: the whole export against the built-in simulator, with no credentials."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harvester.pipeline import ExportResult
from harvester.settings import Credentials, Endpoints, ExportOptions
from harvester.simulator import SimConfig, SimulatorThread
from harvester.stats import RunStats

#: The simulated org is the same on every run; this range lies safely in the past.
DEMO_START = datetime(2025, 3, 1, tzinfo=UTC)
#: Surveys per simulated day; over ten days about 2,000 of them are Finished.
DEMO_SURVEYS_PER_DAY = 340
#: The simulator's per-token limit in the demo. Genesys Cloud allows 300 requests per minute
#: per token by default; the demo raises it so it finishes in seconds.
DEMO_RATE_PER_MINUTE = 12_000

Execute = Callable[..., tuple[ExportResult, RunStats]]


def run_demo(
    *, out: Path, days: int, seed: int, echo: Callable[[str], Any], execute: Execute
) -> None:
    """Start the simulator on a free loopback port, export into ``out`` and show how to query it."""
    config = SimConfig(
        seed=seed,
        surveys_per_day=DEMO_SURVEYS_PER_DAY,
        rate_limit_per_minute=DEMO_RATE_PER_MINUTE,
        # Real details jobs take seconds to minutes; half a second keeps the demo short.
        job_run_seconds=0.5,
    )
    client_id, client_secret = next(iter(config.clients.items()))
    end = DEMO_START + timedelta(days=days)
    with SimulatorThread(config) as simulator:
        echo(
            f"Simulator running at {simulator.base_url} (seed {seed}, {days} days from {DEMO_START:%Y-%m-%d})"
        )
        options = ExportOptions(
            start=DEMO_START,
            end=end,
            out=out,
            rate_per_minute=DEMO_RATE_PER_MINUTE,
            restart=True,
        )
        endpoints = Endpoints(api_url=simulator.base_url, login_url=simulator.base_url)
        credentials = Credentials(client_id=client_id, client_secret=client_secret)
        result, stats = execute(credentials, endpoints, options, progress=True)
    echo(
        f"\nExported {stats.surveys_written:,} surveys and {stats.errors_written:,} error lines "
        f"with {stats.requests:,} requests in {stats.elapsed():.1f} s."
    )
    echo(f"Records: {result.out}/surveys/completed_date=*/part-*.ndjson")
    echo(f"Errors:  {result.out}/errors/conversation_date=*/part-*.ndjson")
    _show_duckdb_query(result.out, echo)


def _show_duckdb_query(out: Path, echo: Callable[[str], Any]) -> None:
    pattern = f"{out}/surveys/*/*.ndjson"
    query = (
        "SELECT queue.name AS queue, count(*) AS responses, round(avg(npsScore), 2) AS mean_nps "
        f"FROM read_json('{pattern}', hive_partitioning = true) GROUP BY ALL ORDER BY responses DESC LIMIT 5"
    )
    echo("\nTry it in DuckDB:")
    echo(f'  duckdb -c "{query}"')
    try:
        import duckdb
    except ImportError:
        echo("(install duckdb with pip to run this query)")
        return
    echo("")
    echo(str(duckdb.sql(query)))
