"""``manifest.json``: what an output folder contains, for the people and jobs that read it.

The writer replaces the manifest right after each checkpoint, so its counts describe the same
durable data as the checkpoint. It names no credentials: the parameters carry the API host only.

Example::

    {
      "format": 1,
      "tool": "harvester",
      "toolVersion": "0.1.0",
      "schemaVersion": 1,
      "parameters": {"from": "...", "to": "...", "statuses": ["Finished"], ...},
      "startedAt": "2025-04-01T08:00:00.000Z",
      "updatedAt": "2025-04-01T08:20:11.482Z",
      "finishedAt": "2025-04-01T08:20:11.482Z",
      "complete": true,
      "days": {"total": 31, "done": 31},
      "surveys": {"total": 2013, "partitions": {"completed_date=2025-03-01": 118, ...}},
      "errors": {"total": 12, "byKind": {"survey": 9, "evaluation": 3}, "partitions": {...}},
      "requests": {"total": 4120, "retries": 2, "rateLimited": 1},
      "currentRun": {"startedAt": "2025-04-01T08:10:00.000Z", "daysDoneAtStart": 12}
    }
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson

from harvester import __version__
from harvester.checkpoint import Checkpoint, replace_atomically
from harvester.records import SCHEMA_VERSION
from harvester.stats import RunStats

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


@dataclasses.dataclass(slots=True)
class Manifest:
    """The contents of ``manifest.json``.

    Partition counts are keyed by the partition folder under the table, such as
    ``completed_date=2025-03-01``. Request counts add up every run of the folder.
    """

    tool_version: str
    schema_version: int
    parameters: dict[str, Any]
    started_at: str
    updated_at: str
    complete: bool
    days_total: int
    days_done: int
    survey_partitions: dict[str, int]
    error_partitions: dict[str, int]
    errors_by_kind: dict[str, int]
    requests: int
    retries: int
    rate_limited: int
    #: When the run that wrote this manifest started, and how many days were done before it.
    run_started_at: str
    run_days_done_at_start: int

    @property
    def finished_at(self) -> str | None:
        """Return when the export completed, or ``None`` while it is incomplete."""
        return self.updated_at if self.complete else None

    @property
    def surveys_total(self) -> int:
        """Return the number of survey lines in all partitions."""
        return sum(self.survey_partitions.values())

    @property
    def errors_total(self) -> int:
        """Return the number of error lines in all partitions."""
        return sum(self.error_partitions.values())

    def to_json(self) -> bytes:
        """Serialize as the documented JSON document, indented for people to read."""
        body = {
            "format": MANIFEST_FORMAT,
            "tool": "harvester",
            "toolVersion": self.tool_version,
            "schemaVersion": self.schema_version,
            "parameters": self.parameters,
            "startedAt": self.started_at,
            "updatedAt": self.updated_at,
            "finishedAt": self.finished_at,
            "complete": self.complete,
            "days": {"total": self.days_total, "done": self.days_done},
            "surveys": {
                "total": self.surveys_total,
                "partitions": dict(sorted(self.survey_partitions.items())),
            },
            "errors": {
                "total": self.errors_total,
                "byKind": dict(sorted(self.errors_by_kind.items())),
                "partitions": dict(sorted(self.error_partitions.items())),
            },
            "requests": {
                "total": self.requests,
                "retries": self.retries,
                "rateLimited": self.rate_limited,
            },
            "currentRun": {
                "startedAt": self.run_started_at,
                "daysDoneAtStart": self.run_days_done_at_start,
            },
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse a manifest written by :meth:`to_json`.

        :raises ValueError: the data is not a manifest of this format
        """
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            msg = f"not JSON ({exc})"
            raise ValueError(msg) from exc
        if not isinstance(body, dict) or body.get("format") != MANIFEST_FORMAT:
            msg = f"not a manifest of format {MANIFEST_FORMAT}"
            raise ValueError(msg)
        try:
            run = body["currentRun"]
            return cls(
                tool_version=str(body["toolVersion"]),
                schema_version=int(body["schemaVersion"]),
                parameters=dict(body["parameters"]),
                started_at=str(body["startedAt"]),
                updated_at=str(body["updatedAt"]),
                complete=bool(body["complete"]),
                days_total=int(body["days"]["total"]),
                days_done=int(body["days"]["done"]),
                survey_partitions=_counts(body["surveys"]["partitions"]),
                error_partitions=_counts(body["errors"]["partitions"]),
                errors_by_kind=_counts(body["errors"]["byKind"]),
                requests=int(body["requests"]["total"]),
                retries=int(body["requests"]["retries"]),
                rate_limited=int(body["requests"]["rateLimited"]),
                run_started_at=str(run["startedAt"]),
                run_days_done_at_start=int(run["daysDoneAtStart"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"missing or invalid field ({exc!r})"
            raise ValueError(msg) from exc


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        msg = "counts are not an object"
        raise TypeError(msg)
    return {str(key): int(count) for key, count in value.items()}


def manifest_path(out: Path) -> Path:
    """Return where the manifest of ``out`` lives."""
    return out / MANIFEST_NAME


def load_manifest(out: Path) -> Manifest | None:
    """Read the manifest of ``out``; ``None`` when there is none.

    :raises ValueError: the file is unreadable or not a manifest
    """
    path = manifest_path(out)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise ValueError(msg) from exc
    try:
        return Manifest.from_json(raw)
    except ValueError as exc:
        msg = f"{path} is invalid: {exc}"
        raise ValueError(msg) from exc


def save_manifest(out: Path, manifest: Manifest, file_mode: int) -> None:
    """Replace the manifest atomically.

    :raises OutputError: the file could not be written
    """
    replace_atomically(manifest_path(out), manifest.to_json(), file_mode)


@dataclasses.dataclass(slots=True)
class OutputTally:
    """The writer's running counts: lines per partition folder, error lines per kind, requests.

    The counts go into the checkpoint's ``counters`` with every checkpoint, and a resumed run
    starts from them. Resuming cuts the files back to the same checkpoint, so the counts stay
    exact across any number of interruptions.
    """

    #: Lines per partition folder, such as ``surveys/completed_date=2025-03-01``.
    partitions: dict[str, int]
    errors_by_kind: dict[str, int]
    #: Requests, retries and 429 responses of the folder's earlier runs.
    earlier_requests: int
    earlier_retries: int
    earlier_rate_limited: int
    run_started_at: str
    run_days_done_at_start: int

    @classmethod
    def resume(cls, counters: dict[str, Any], *, days_done: int, now: str) -> OutputTally:
        """Continue from a checkpoint's ``counters``; empty ones start a new folder."""
        return cls(
            partitions=_counts(counters.get("partitions") or {}),
            errors_by_kind=_counts(counters.get("errorsByKind") or {}),
            earlier_requests=int(counters.get("requests", 0)),
            earlier_retries=int(counters.get("retries", 0)),
            earlier_rate_limited=int(counters.get("rateLimited", 0)),
            run_started_at=now,
            run_days_done_at_start=days_done,
        )

    def count(self, folder: str, error_kind: str | None = None) -> None:
        """Count one line written to ``folder``; ``error_kind`` for an error line."""
        self.partitions[folder] = self.partitions.get(folder, 0) + 1
        if error_kind is not None:
            self.errors_by_kind[error_kind] = self.errors_by_kind.get(error_kind, 0) + 1

    def counters(self, stats: RunStats) -> dict[str, Any]:
        """Return the checkpoint counters: the counts, and requests of all runs so far."""
        return {
            "requests": self.earlier_requests + stats.requests,
            "retries": self.earlier_retries + stats.retries,
            "rateLimited": self.earlier_rate_limited + stats.rate_limited,
            "partitions": dict(self.partitions),
            "errorsByKind": dict(self.errors_by_kind),
        }

    def manifest(self, checkpoint: Checkpoint, stats: RunStats) -> Manifest:
        """Describe the folder as of ``checkpoint``, which was just saved."""
        return Manifest(
            tool_version=__version__,
            schema_version=SCHEMA_VERSION,
            parameters=dict(checkpoint.params),
            started_at=checkpoint.started_at,
            updated_at=checkpoint.updated_at,
            complete=checkpoint.complete,
            days_total=checkpoint.windows_total,
            days_done=checkpoint.windows_done,
            survey_partitions=self._table("surveys"),
            error_partitions=self._table("errors"),
            errors_by_kind=dict(self.errors_by_kind),
            requests=self.earlier_requests + stats.requests,
            retries=self.earlier_retries + stats.retries,
            rate_limited=self.earlier_rate_limited + stats.rate_limited,
            run_started_at=self.run_started_at,
            run_days_done_at_start=self.run_days_done_at_start,
        )

    def _table(self, table: str) -> dict[str, int]:
        prefix = f"{table}/"
        return {
            folder.removeprefix(prefix): count
            for folder, count in self.partitions.items()
            if folder.startswith(prefix)
        }
