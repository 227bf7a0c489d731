"""Reading an export folder back, and comparing it with the simulator's ground truth."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson


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
