"""Throughput of one OAuth client against two, on the same simulated org and rate limit.

Usage::

    python -m benchmarks.credentials_pool [--days 3] [--time-scale 8]

The simulator enforces 300 requests per minute per token, time-scaled so a minute lasts
60 / time-scale seconds, with realistic latencies scaled the same way. Each run exports the
same range at ``--detail answers`` with ``--source query``; the second run spreads the work
over two OAuth clients. It prints both wall times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from harvester.simulator import SimConfig, SimulatorThread
from harvester.simulator.config import REALISTIC_LATENCY

CLIENTS = {"sim-client": "sim-secret", "second-client": "second-secret"}
RATE_PER_MINUTE = 300


def run_export(
    base_url: str, out: Path, days: int, time_scale: float, credentials: Path | None
) -> float:
    """Run one export in a subprocess and return its wall time in seconds."""
    command = [
        sys.executable,
        "-m",
        "harvester",
        "export",
        "--from",
        "2025-03-01",
        "--to",
        f"2025-03-{1 + days:02d}",
        "--out",
        str(out),
        "--api-url",
        base_url,
        "--detail",
        "answers",
        "--source",
        "query",
        "--rate",
        str(RATE_PER_MINUTE),
        "--rate-period",
        str(60 / time_scale),
        "--log-level",
        "warning",
        "--no-progress",
    ]
    environment = dict(
        os.environ, GENESYS_CLOUD_CLIENT_ID="sim-client", GENESYS_CLOUD_CLIENT_SECRET="sim-secret"
    )
    if credentials is not None:
        command += ["--credentials", str(credentials)]
    started = time.monotonic()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    """Run both exports and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=8.0)
    parser.add_argument("--surveys-per-day", type=float, default=300.0)
    arguments = parser.parse_args()

    config = SimConfig(
        seed=21,
        surveys_per_day=arguments.surveys_per_day,
        clients=CLIENTS,
        rate_limit_per_minute=RATE_PER_MINUTE,
        time_scale=arguments.time_scale,
        latency=dict(REALISTIC_LATENCY),
    )
    with tempfile.TemporaryDirectory() as scratch, SimulatorThread(config) as simulator:
        folder = Path(scratch)
        credentials = folder / "clients.json"
        credentials.write_bytes(
            orjson.dumps(
                [{"clientId": key, "clientSecret": value} for key, value in CLIENTS.items()]
            )
        )
        one = run_export(
            simulator.base_url, folder / "one", arguments.days, arguments.time_scale, None
        )
        before = simulator.stats.too_many_requests
        two = run_export(
            simulator.base_url, folder / "two", arguments.days, arguments.time_scale, credentials
        )
        rejected = simulator.stats.too_many_requests - before
    print(f"one client:  {one:.1f} s")
    print(f"two clients: {two:.1f} s ({rejected} responses 429)")
    print(f"speed-up:    {one / two:.2f}x")


if __name__ == "__main__":
    main()
