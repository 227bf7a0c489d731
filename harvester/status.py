"""``harvester status``: how far the export in a folder got, read from its checkpoint and manifest.

Reading the status changes nothing. Whether an export is running is seen from the folder's
lock, which an export holds with ``flock`` for as long as it runs.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from datetime import datetime
from pathlib import Path

from harvester.checkpoint import LOCK_NAME, STATE_DIR, load_checkpoint
from harvester.errors import InputError
from harvester.manifest import load_manifest
from harvester.records import parse_timestamp


@dataclasses.dataclass(frozen=True, slots=True)
class ExportStatus:
    """The progress of the export in one folder."""

    out: Path
    #: ``complete``, ``running`` or ``stopped``.
    state: str
    #: The process id written in the lock file by the running export, when one runs.
    running_pid: str | None
    days_done: int
    days_total: int
    surveys: int
    errors: int
    requests: int
    started_at: str
    updated_at: str
    #: The range and detail level, as the checkpoint records them.
    parameters: dict[str, object]
    #: Days per second of the last run, measured from its start to the last checkpoint.
    rate: float | None
    #: Seconds the remaining days take at ``rate``.
    eta_seconds: float | None
    #: Seconds since the last checkpoint.
    since_update: float


def read_status(out: Path, now: datetime) -> ExportStatus:
    """Describe the export in ``out`` as of ``now``.

    :raises InputError: ``out`` has no readable checkpoint
    """
    checkpoint = load_checkpoint(out)
    if checkpoint is None:
        msg = f"no export in {str(out)!r}: it has no checkpoint; give the --out folder of an export"
        raise InputError(msg)
    try:
        manifest = load_manifest(out)
    except ValueError:
        manifest = None  # the checkpoint alone is enough to report the progress

    counters = checkpoint.counters
    updated = parse_timestamp(checkpoint.updated_at or checkpoint.started_at)
    if manifest is not None:
        run_start = parse_timestamp(manifest.run_started_at)
        done_at_run_start = manifest.run_days_done_at_start
    else:
        run_start = parse_timestamp(checkpoint.started_at)
        done_at_run_start = 0
    elapsed = (updated - run_start).total_seconds()
    done_in_run = checkpoint.windows_done - done_at_run_start
    rate = done_in_run / elapsed if done_in_run > 0 and elapsed > 0 else None
    remaining = checkpoint.windows_total - checkpoint.windows_done
    eta = remaining / rate if rate is not None and not checkpoint.complete else None

    pid = lock_holder(out)
    if checkpoint.complete:
        state = "complete"
    elif pid is not None:
        state = "running"
    else:
        state = "stopped"
    return ExportStatus(
        out=out,
        state=state,
        running_pid=pid,
        days_done=checkpoint.windows_done,
        days_total=checkpoint.windows_total,
        surveys=int(counters.get("surveysWritten", 0)),
        errors=int(counters.get("errorsWritten", 0)),
        requests=int(counters.get("requests", 0)),
        started_at=checkpoint.started_at,
        updated_at=checkpoint.updated_at,
        parameters=dict(checkpoint.params),
        rate=rate,
        eta_seconds=eta,
        since_update=max(0.0, (now - updated).total_seconds()),
    )


def lock_holder(out: Path) -> str | None:
    """Return the process id of the export that holds the folder's lock, or ``None``.

    The probe takes a shared lock for an instant. An export that starts in that instant
    reports the folder as busy, and running it again succeeds.
    """
    path = out / STATE_DIR / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(descriptor, 64).decode(errors="replace").strip() or "unknown"
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)
