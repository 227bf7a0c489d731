"""The single writer task: output lines, the journal, completion tracking and checkpoints."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson

from harvester.checkpoint import Checkpoint, save_checkpoint
from harvester.errors import OutputError
from harvester.manifest import OutputTally, save_manifest
from harvester.resolve import OutputLine
from harvester.sink import AppendFile, PartitionedSink, partition_dir
from harvester.stats import RunStats

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationDone:
    """The output lines of one conversation of window ``window_index``."""

    window_index: int
    day: str
    lines: list[OutputLine]


@dataclasses.dataclass(frozen=True, slots=True)
class WindowEnumerated:
    """The producer has sent all ``conversations`` work items of window ``window_index``.

    ``skipped`` counts the window's surveys left out for their status; they join the run's
    totals when the window completes, so a window read again after a resume counts once.
    """

    window_index: int
    conversations: int
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)


@dataclasses.dataclass(frozen=True, slots=True)
class JobChanged:
    """The details job of ``day`` was submitted (``job_id``) or deleted (``None``)."""

    day: str
    job_id: str | None


class Stop:
    """No more messages will come."""


Message = ConversationDone | WindowEnumerated | JobChanged | Stop


class Writer:
    """Own every output file, and checkpoint whenever the data it covers is durable.

    Windows complete out of order, so the checkpoint only advances over a prefix of windows
    that are all complete. Between checkpoints ``interval`` seconds apart, the files' lengths
    and the journal bound what a resumed run keeps.
    """

    def __init__(
        self,
        out: Path,
        checkpoint: Checkpoint,
        sink: PartitionedSink,
        journal: AppendFile,
        *,
        stats: RunStats,
        interval: float,
        file_mode: int,
        clock: Callable[[], str],
    ) -> None:
        self._out = out
        self._checkpoint = checkpoint
        self._sink = sink
        self._journal = journal
        self._stats = stats
        self._interval = interval
        self._file_mode = file_mode
        self._clock = clock
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=256)
        self._expected: dict[int, int] = {}
        self._skipped: dict[int, Counter[str]] = {}
        self._done: dict[int, int] = {}
        self._tally = OutputTally.resume(
            checkpoint.counters, days_done=checkpoint.windows_done, now=clock()
        )
        self._dirty = False
        self._failed = False

    async def run(self) -> None:
        """Consume messages until :class:`Stop`; checkpoint on the way out, also when cancelled."""
        last_save = time.monotonic()
        try:
            while True:
                if self._dirty and time.monotonic() - last_save >= self._interval:
                    self.save()
                    last_save = time.monotonic()
                try:
                    message = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    # Wait for the next message, but no longer than the next checkpoint is due.
                    timeout = (
                        self._interval - (time.monotonic() - last_save) if self._dirty else None
                    )
                    try:
                        message = await asyncio.wait_for(self.queue.get(), timeout=timeout)
                    except TimeoutError:
                        continue
                if isinstance(message, Stop):
                    break
                self._apply(message)
            self._checkpoint.complete = (
                self._checkpoint.windows_done >= self._checkpoint.windows_total
            )
        finally:
            if not self._failed:
                self.save()
            self._close()

    def _apply(self, message: ConversationDone | WindowEnumerated | JobChanged) -> None:
        if isinstance(message, JobChanged):
            if message.job_id is None:
                self._checkpoint.jobs.pop(message.day, None)
            else:
                self._checkpoint.jobs[message.day] = message.job_id
            # A job id only helps a resumed run if it is on disk before the run can die.
            self.save()
            return
        if isinstance(message, WindowEnumerated):
            self._expected[message.window_index] = message.conversations
            self._skipped[message.window_index] = message.skipped
        else:
            self._write(message)
            self._done[message.window_index] = self._done.get(message.window_index, 0) + 1
        self._advance()

    def _write(self, message: ConversationDone) -> None:
        try:
            for line in message.lines:
                data = orjson.dumps(line.record) + b"\n"
                if line.kind == "survey":
                    completed = line.record.get("completedDate")
                    folder = partition_dir(
                        "surveys", "completed_date", completed[:10] if completed else None
                    )
                    self._stats.surveys_written += 1
                    self._tally.count(folder)
                else:
                    started = line.record.get("conversationStart") or message.day
                    folder = partition_dir("errors", "conversation_date", started[:10])
                    self._stats.errors_written += 1
                    self._tally.count(folder, str(line.record.get("kind")))
                self._sink.write(folder, data)
            handled = dict.fromkeys(line.survey_id for line in message.lines)
            self._journal.write(
                "".join(f"{message.day} {survey_id}\n" for survey_id in handled).encode()
            )
        except OSError as exc:
            self._failed = True
            msg = (
                f"writing output in {self._out} failed: {exc.strerror or exc}; free space or "
                "raise the file size limit, then run the same command to resume"
            )
            raise OutputError(msg) from exc
        self._dirty = True

    def _advance(self) -> None:
        advanced = False
        while True:
            index = self._checkpoint.windows_done
            expected = self._expected.get(index)
            if expected is None or self._done.get(index, 0) < expected:
                break
            self._expected.pop(index)
            self._done.pop(index, None)
            self._stats.skipped_statuses.update(self._skipped.pop(index, Counter()))
            self._checkpoint.windows_done += 1
            self._stats.windows_done = self._checkpoint.windows_done
            advanced = True
        if advanced:
            self._dirty = True
            self.save()

    def save(self) -> None:
        """Make all writes durable, then replace the checkpoint, then the manifest."""
        try:
            files = self._sink.sync()
            self._journal.sync()
        except OSError as exc:
            self._failed = True
            msg = (
                f"syncing output in {self._out} failed: {exc.strerror or exc}; free space or "
                "raise the file size limit, then run the same command to resume"
            )
            raise OutputError(msg) from exc
        checkpoint = self._checkpoint
        checkpoint.files = files
        checkpoint.journal_bytes = self._journal.length
        checkpoint.updated_at = self._clock()
        checkpoint.counters = {
            "surveysWritten": self._stats.surveys_written,
            "errorsWritten": self._stats.errors_written,
            "skippedStatuses": dict(self._stats.skipped_statuses),
            **self._tally.counters(self._stats),
        }
        save_checkpoint(self._out, checkpoint, self._file_mode)
        save_manifest(self._out, self._tally.manifest(checkpoint, self._stats), self._file_mode)
        self._dirty = False
        logger.debug(
            "checkpoint: %d of %d days complete, %d surveys written",
            checkpoint.windows_done,
            checkpoint.windows_total,
            self._stats.surveys_written,
        )

    def _close(self) -> None:
        try:
            self._sink.close()
            self._journal.close()
        except OSError as exc:
            logger.error("closing output files failed: %s", exc)
