"""Serve the simulator for a benchmark, with the export's days generated before serving.

``harvester simulate`` generates a day's conversations on the first request that touches it,
which blocks its event loop for about 0.1 s per 2,500 conversations. Requests that arrive
meanwhile are stamped by the rate limiter only when the loop resumes, so they count as one
burst. In a time-scaled run that burst is large against the shortened rate-limit window, and a
client that paces its requests exactly still gets 429s that the real API would not send.
This server keeps every day of ``--warm-from`` .. ``--warm-to`` in its cache and generates
them before it prints its URL.

Run: ``python -m benchmarks.simulator_server --settings JSON``; Ctrl-C (SIGINT) stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import date

import orjson

from harvester.simulator import SimConfig, Simulator
from harvester.simulator.org import day_number


def build_config(settings: dict[str, object]) -> tuple[SimConfig, range]:
    """Return the configuration and the day numbers to generate before serving."""
    warm_from = date.fromisoformat(str(settings["warm_from"]))
    warm_to = date.fromisoformat(str(settings["warm_to"]))
    warm = range(day_number(warm_from), day_number(warm_to) + 1)
    latency = settings["latency"]
    assert isinstance(latency, dict)
    config = SimConfig(
        seed=int(str(settings["seed"])),
        surveys_per_day=float(str(settings["surveys_per_day"])),
        first_day=date.fromisoformat(str(settings["first_day"])),
        last_day=date.fromisoformat(str(settings["last_day"])),
        rate_limit_per_minute=int(str(settings["rate_limit_per_minute"])),
        time_scale=float(str(settings["time_scale"])),
        latency={endpoint: (float(low), float(high)) for endpoint, (low, high) in latency.items()},
        day_cache_size=max(8, len(warm) + 2),
    )
    return config, warm


async def serve(config: SimConfig, warm: range) -> None:
    """Generate the warm days, start the server, print its URL and serve until cancelled."""
    simulator = Simulator(config)
    for day in warm:
        simulator.org.conversations(day)
    await simulator.start()
    try:
        print(f"Simulator running at {simulator.base_url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", required=True, help="JSON object of SimulatorSpec fields")
    arguments = parser.parse_args()
    config, warm = build_config(orjson.loads(arguments.settings))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, warm))


if __name__ == "__main__":
    main()
