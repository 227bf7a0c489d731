"""Reading an export folder back, and comparing it with the simulator's ground truth."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from harvester.pipeline import run_export
from harvester.retry import RetryPolicy
from harvester.settings import Credentials, Endpoints, ExportOptions
from harvester.stats import RunStats


def read_lines(out: Path, table: str) -> list[dict[str, Any]]:
    """Parse every line of every part file of ``table``, plain or gzip; fail on a line that is not JSON."""
    records = []
    for path in sorted((out / table).rglob("part-*")):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.splitlines():
            records.append(orjson.loads(line))
    return records


#: Fields that differ between two correct runs: the write time and the server's per-request id.
VOLATILE_FIELDS = frozenset({"harvestedAt", "correlationId"})


def comparable(records: list[dict[str, Any]]) -> list[bytes]:
    """Return the records as sorted canonical JSON without volatile fields, for exact comparison."""
    canonical = []
    for record in records:
        copy = {key: value for key, value in record.items() if key not in VOLATILE_FIELDS}
        canonical.append(orjson.dumps(copy, option=orjson.OPT_SORT_KEYS))
    return sorted(canonical)


#: The range of the export helpers below: three UTC days of a simulated org.
EXPORT_START = datetime(2025, 3, 1, tzinfo=UTC)
EXPORT_END = datetime(2025, 3, 4, tzinfo=UTC)
SIM_CREDENTIALS = Credentials("sim-client", "sim-secret")


def export_options(out: Path, **overrides: Any) -> ExportOptions:
    """Return options for a fast export of the helpers' range into ``out``."""
    values: dict[str, Any] = {
        "start": EXPORT_START,
        "end": EXPORT_END,
        "out": out,
        "rate_per_minute": 100_000,
        "source": "query",
    }
    values.update(overrides)
    return ExportOptions(**values)


async def export_async(base_url: str, options: ExportOptions) -> RunStats:
    """Export from the simulator at ``base_url`` with near-zero retry back-off."""
    stats = RunStats()
    endpoints = Endpoints(api_url=base_url, login_url=base_url)
    await run_export(
        SIM_CREDENTIALS, endpoints, options, stats=stats, policy=RetryPolicy(time_scale=0.01)
    )
    return stats


async def export_interrupted(base_url: str, options: ExportOptions) -> None:
    """Start an export and cancel it once its first survey lines are on disk."""
    task = asyncio.ensure_future(export_async(base_url, options))
    surveys = options.out / "surveys"
    while not task.done() and not (surveys.exists() and any(surveys.rglob("part-*"))):
        await asyncio.sleep(0.005)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
