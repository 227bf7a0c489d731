"""The checkpoint: how far a run got, written atomically after the data it covers is durable.

A checkpoint names the run's fingerprint, how many windows (UTC days) are complete, and the
byte length of every output file and of the journal at that moment. Resuming cuts every file
back to its recorded length, deletes files created after it, and starts again at the first
incomplete window; the journal lists the surveys of incomplete windows that are already
written, so they are skipped instead of written twice.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import typing
from pathlib import Path
from typing import Any

import orjson

from harvester.errors import InputError, OutputError

CHECKPOINT_FORMAT = 1
STATE_DIR = ".harvester"
CHECKPOINT_NAME = "checkpoint.json"
JOURNAL_NAME = "journal"
LOCK_NAME = "lock"


@dataclasses.dataclass(slots=True)
class Checkpoint:
    """The durable progress of one export folder."""

    fingerprint: str
    params: dict[str, Any]
    windows_total: int
    windows_done: int = 0
    files: dict[str, int] = dataclasses.field(default_factory=dict)
    journal_bytes: int = 0
    complete: bool = False
    counters: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Analytics details jobs in use, by day, so a resumed run re-attaches instead of resubmitting.
    jobs: dict[str, str] = dataclasses.field(default_factory=dict)
    started_at: str = ""
    updated_at: str = ""

    def to_json(self) -> bytes:
        """Serialize with the format number first."""
        body = {"format": CHECKPOINT_FORMAT, **dataclasses.asdict(self)}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def checkpoint_path(out: Path) -> Path:
    """Return where the checkpoint of ``out`` lives."""
    return out / STATE_DIR / CHECKPOINT_NAME


def load_checkpoint(out: Path) -> Checkpoint | None:
    """Read the checkpoint of ``out``; ``None`` when there is none.

    :raises InputError: the file exists but is not a checkpoint this version can read
    """
    path = checkpoint_path(out)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        msg = f"cannot read checkpoint {path}: {exc.strerror}; fix its permissions or use --restart"
        raise InputError(msg) from exc
    try:
        body = orjson.loads(raw)
        if not isinstance(body, dict) or body.pop("format", None) != CHECKPOINT_FORMAT:
            raise ValueError("unknown format")
        checkpoint = Checkpoint(**body)
        _check_fields(checkpoint)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        msg = (
            f"corrupt checkpoint {path} ({exc}); run the export again with --restart "
            "to start over in this folder"
        )
        raise InputError(msg) from exc
    return checkpoint


def _check_fields(checkpoint: Checkpoint) -> None:
    """Raise :class:`ValueError` naming the first field with a wrong type or an impossible value.

    A hand-edited or foreign file can be valid JSON and still contain, say, a negative window count,
    which would make a resumed run skip or repeat days.
    """
    for name, hint in typing.get_type_hints(Checkpoint).items():
        kind = typing.get_origin(hint) or hint
        # Exact types, because bool is an int and True is not a window count.
        if isinstance(kind, type) and type(getattr(checkpoint, name)) is not kind:
            raise ValueError(f"{name} is not of type {kind.__name__}")
    for name in ("windows_total", "windows_done", "journal_bytes"):
        if getattr(checkpoint, name) < 0:
            raise ValueError(f"{name} is negative")
    if checkpoint.windows_done > checkpoint.windows_total:
        raise ValueError("windows_done is larger than windows_total")
    if not all(type(length) is int and length >= 0 for length in checkpoint.files.values()):
        raise ValueError("invalid file lengths")
    if not all(isinstance(job_id, str) for job_id in checkpoint.jobs.values()):
        raise ValueError("invalid job ids")
    for name, value in checkpoint.counters.items():
        if isinstance(value, dict):
            # Counts by status, partition or error kind.
            if not all(type(count) is int for count in value.values()):
                raise ValueError(f"counters.{name} is not a map of counts")
        elif type(value) is not int or value < 0:
            raise ValueError(f"counters.{name} is not a count")


def save_checkpoint(out: Path, checkpoint: Checkpoint, file_mode: int) -> None:
    """Replace the checkpoint atomically.

    :raises OutputError: the file could not be written
    """
    replace_atomically(checkpoint_path(out), checkpoint.to_json(), file_mode)


def replace_atomically(path: Path, data: bytes, file_mode: int) -> None:
    """Replace ``path`` with ``data``: temporary file, fsync, rename, fsync of the folder.

    A reader sees the old content or the new, never a mix, also after a crash.

    :raises OutputError: the file could not be written
    """
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, file_mode)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)
    except OSError as exc:
        msg = f"writing {path} failed: {exc.strerror or exc}; free space or fix permissions, then run the same command to resume"
        raise OutputError(msg) from exc


def fsync_directory(path: Path) -> None:
    """Make a folder's entries (new or renamed files) durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
