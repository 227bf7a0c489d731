"""One export run: the producer, the worker pool and the writer, wired in a TaskGroup."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from harvester.checkpoint import (
    JOURNAL_NAME,
    LOCK_NAME,
    STATE_DIR,
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from harvester.errors import HarvestError, InputError
from harvester.estimate import Estimate
from harvester.filters import ResolvedFilters, resolve_filters
from harvester.http import ApiClient, build_limiter, build_session
from harvester.limits import read_token_rate
from harvester.records import normalize_survey_status, parse_timestamp
from harvester.resolve import ConversationResolver
from harvester.retry import RetryPolicy
from harvester.settings import (
    DEFAULT_RATE_PER_MINUTE,
    Credentials,
    Endpoints,
    ExportOptions,
    format_timestamp,
)
from harvester.sink import (
    AppendFile,
    PartitionedSink,
    check_restorable,
    directory_mode,
    remove_outputs,
    restore_files,
)
from harvester.sources import ConversationSource
from harvester.stats import RunStats
from harvester.windows import Window, split_conversations, split_days
from harvester.writer import ConversationDone, JobChanged, Stop, WindowEnumerated, Writer

logger = logging.getLogger(__name__)


#: Details jobs submitted ahead of the window being read. Jobs take from seconds to minutes,
#: so a few in flight keep the workers busy; orgs cap concurrent jobs (the cap is not
#: documented), and a submit over the cap gets a 429 and is retried.
JOB_LOOKAHEAD = 2


@dataclasses.dataclass(frozen=True, slots=True)
class WorkItem:
    """One conversation and the surveys of it that the export selected."""

    window: Window
    conversation: Mapping[str, Any]
    surveys: list[Mapping[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class ExportResult:
    """The outcome of a finished, or already complete, run."""

    out: Path
    complete: bool
    resumed: bool
    already_complete: bool


def utc_now_text() -> str:
    """Return the current time as an output timestamp."""
    return format_timestamp(datetime.now(UTC))


def first_failure(failures: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the error that stopped a task group, so callers see one exception, not a group.

    The first harvester error wins, because the others are usually its consequences (tasks
    cancelled or queues closed once it was raised); otherwise the first error of any kind.
    """
    leaves: list[BaseException] = []
    pending: list[BaseException] = [failures]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending[:0] = list(current.exceptions)
        else:
            leaves.append(current)
    for leaf in leaves:
        if isinstance(leaf, HarvestError):
            return leaf
    return leaves[0]


class FolderLock:
    """An exclusive ``flock`` on the output folder's lock file, released when the process ends."""

    def __init__(self, out: Path) -> None:
        self._path = out / STATE_DIR / LOCK_NAME
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`InputError` naming the process that holds it."""
        descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 64).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            msg = (
                f"another export (process {holder}) is writing to {self._path.parent.parent}; "
                "wait for it to finish or choose another --out"
            )
            raise InputError(msg) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self._descriptor = descriptor

    def release(self) -> None:
        """Release the lock."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def check_output_folder(out: Path) -> None:
    """Reject an output path that is a file or lies where this process cannot create files.

    The check creates and removes a probe file, because permission bits alone do not tell
    (root ignores them, and a read-only file system ignores them the other way).
    """
    if out.exists() and not out.is_dir():
        msg = f"--out {str(out)!r} is a file; give a folder path"
        raise InputError(msg)
    existing = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not existing.is_dir():
        msg = f"--out {str(out)!r} is not writable: {existing} is a file; choose another folder"
        raise InputError(msg)
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".harvester-probe-", dir=existing)
    except OSError as exc:
        msg = (
            f"--out {str(out)!r} is not writable: cannot create files in {existing} "
            f"({exc.strerror}); choose another folder"
        )
        raise InputError(msg) from exc
    os.close(descriptor)
    os.unlink(probe)


def prepare_checkpoint(
    out: Path, options: ExportOptions, endpoints: Endpoints, windows: int
) -> tuple[Checkpoint, bool]:
    """Load and validate the folder's checkpoint without changing anything on disk.

    :returns: the checkpoint to continue from, and whether it is a resumed one
    :raises InputError: the checkpoint is corrupt or belongs to other parameters
    """
    fingerprint = options.fingerprint(endpoints)
    existing = None if options.restart else load_checkpoint(out)
    if existing is None:
        if not options.restart and _has_outputs(out):
            msg = (
                f"--out {str(out)!r} already contains export files but no checkpoint; "
                "choose an empty folder or pass --restart to replace them"
            )
            raise InputError(msg)
        fresh = Checkpoint(
            fingerprint=fingerprint,
            params=options.fingerprint_params(endpoints),
            windows_total=windows,
            started_at=utc_now_text(),
        )
        return fresh, False
    if existing.fingerprint != fingerprint:
        differences = [
            f"{key} {existing.params.get(key)!r} -> {value!r}"
            for key, value in options.fingerprint_params(endpoints).items()
            if existing.params.get(key) != value
        ]
        msg = (
            f"--out {str(out)!r} holds an export with other parameters "
            f"({'; '.join(differences) or 'fingerprint differs'}); run the original command to "
            "resume it, choose another --out, or pass --restart to start over"
        )
        raise InputError(msg)
    return existing, True


def _has_outputs(out: Path) -> bool:
    return any((out / table).exists() for table in ("surveys", "errors"))


def read_journal(path: Path, length: int, days: set[str]) -> dict[str, set[str]]:
    """Return the survey ids already written for each of ``days``, up to ``length`` bytes."""
    written: dict[str, set[str]] = {day: set() for day in days}
    if length == 0 or not path.exists():
        return written
    with path.open("rb") as stream:
        data = stream.read(length)
    for raw in data.splitlines():
        day, _, survey_id = raw.decode().partition(" ")
        if day in written:
            written[day].add(survey_id)
    return written


class Export:
    """Run one export into ``options.out``; see :func:`run_export`."""

    def __init__(
        self,
        credentials: Credentials | Sequence[Credentials],
        endpoints: Endpoints,
        options: ExportOptions,
        *,
        stats: RunStats,
        policy: RetryPolicy,
        clock: Callable[[], str] = utc_now_text,
    ) -> None:
        self._credentials = credentials
        self._endpoints = endpoints
        self._options = options
        self.stats = stats
        self._policy = policy
        self._clock = clock
        scan_start = options.start
        if options.by == "completed":
            # A survey is completed after its conversation starts, so conversations that
            # started up to the lookback before the range can hold surveys completed in it.
            scan_start = options.start - timedelta(days=options.lookback_days)
        if options.conversation_ids:
            self.windows = split_conversations(options.conversation_ids)
        else:
            self.windows = split_days(scan_start, options.end)
        stats.windows_total = len(self.windows)

    async def run(self) -> ExportResult:
        """Export, resuming from the folder's checkpoint when it has one."""
        out = self._options.out
        check_output_folder(out)
        checkpoint, resumed = prepare_checkpoint(
            out, self._options, self._endpoints, len(self.windows)
        )
        if resumed and checkpoint.complete:
            self._restore_counters(checkpoint)
            return ExportResult(out, complete=True, resumed=True, already_complete=True)
        if resumed:
            self._check_files(checkpoint)

        async with build_session(self._options.concurrency) as session:
            # Connect and resolve every name before the folder changes, so that wrong
            # credentials or a misspelt name leave it as it was.
            client = await self._open_client(session)
            filters = await resolve_filters(client, self._options.filters)

            # mkdir(parents=True) ignores ``mode`` for the parents it creates, so the output
            # folder itself is created first; otherwise anyone could list it.
            folder_mode = directory_mode(self._options.file_mode)
            out.mkdir(parents=True, exist_ok=True, mode=folder_mode)
            (out / STATE_DIR).mkdir(exist_ok=True, mode=folder_mode)
            lock = FolderLock(out)
            lock.acquire()
            try:
                if resumed:
                    # Read again under the lock: the run that held it may have moved on.
                    checkpoint, resumed = prepare_checkpoint(
                        out, self._options, self._endpoints, len(self.windows)
                    )
                if resumed and checkpoint.complete:
                    self._restore_counters(checkpoint)
                    return ExportResult(out, complete=True, resumed=True, already_complete=True)
                await self._run_locked(checkpoint, resumed, client, filters)
            finally:
                lock.release()
        return ExportResult(
            out, complete=checkpoint.complete, resumed=resumed, already_complete=False
        )

    async def _run_locked(
        self, checkpoint: Checkpoint, resumed: bool, client: ApiClient, filters: ResolvedFilters
    ) -> None:
        out = self._options.out
        journal_path = out / STATE_DIR / JOURNAL_NAME
        if resumed:
            self._check_files(checkpoint)
            restore_files(out, checkpoint.files)
            if journal_path.exists():
                os.truncate(journal_path, checkpoint.journal_bytes)
            self._restore_counters(checkpoint)
            logger.info(
                "resuming %s: %d of %d days complete, %d surveys written",
                out,
                checkpoint.windows_done,
                checkpoint.windows_total,
                self.stats.surveys_written,
            )
        else:
            # Save the empty checkpoint before deleting or writing anything, so that a run
            # killed at any later point leaves a folder the same command resumes.
            save_checkpoint(out, checkpoint, self._options.file_mode)
            remove_outputs(out)
            journal_path.unlink(missing_ok=True)

        pending = self.windows[checkpoint.windows_done :]
        written = read_journal(
            journal_path, checkpoint.journal_bytes, {window.day for window in pending}
        )
        sink = PartitionedSink(
            out,
            lengths=checkpoint.files,
            max_file_bytes=self._options.max_file_bytes,
            file_mode=self._options.file_mode,
            compress=self._options.compress,
        )
        journal = AppendFile(journal_path, checkpoint.journal_bytes, self._options.file_mode)
        writer = Writer(
            out,
            checkpoint,
            sink,
            journal,
            stats=self.stats,
            interval=self._options.checkpoint_interval,
            file_mode=self._options.file_mode,
            clock=self._clock,
        )

        async def record_job(day: str, job_id: str | None) -> None:
            await writer.queue.put(JobChanged(day, job_id))

        source = await ConversationSource.open(
            client,
            filters,
            self._options.source,
            conversation_list=bool(self._options.conversation_ids),
            jobs=dict(checkpoint.jobs),
            record_job=record_job,
            poll_scale=self._policy.time_scale,
        )
        resolver = ConversationResolver(
            client,
            self._clock,
            self._options.detail,
            by_conversation=bool(self._options.conversation_ids),
        )
        await self._pipeline(source, resolver, writer, pending, written)

    def _check_files(self, checkpoint: Checkpoint) -> None:
        """Raise :class:`InputError` unless the output files can be cut back to the checkpoint."""
        out = self._options.out
        try:
            check_restorable(out, checkpoint.files)
        except ValueError as exc:
            msg = f"output in {out} no longer matches its checkpoint ({exc}); pass --restart to start over"
            raise InputError(msg) from exc

    async def _open_client(self, session: aiohttp.ClientSession) -> ApiClient:
        """Create the API client, reading the org's request limit unless ``--rate`` was given."""
        period = self._options.rate_period
        rate = self._options.rate_per_minute
        client = ApiClient(
            session,
            self._endpoints,
            self._credentials,
            limiter=build_limiter(rate or DEFAULT_RATE_PER_MINUTE, period),
            policy=self._policy,
            stats=self.stats,
        )
        await client.authenticate()
        if rate is None:
            found = await read_token_rate(client)
            rate = found or DEFAULT_RATE_PER_MINUTE
            if found:
                logger.info(
                    "the org allows %g requests per minute per token; using that rate", found
                )
            else:
                logger.info("using the documented default of %g requests per minute", rate)
            client.use_limiter(build_limiter(rate, period))
        self.stats.rate_per_minute = rate
        return client

    def _restore_counters(self, checkpoint: Checkpoint) -> None:
        counters = checkpoint.counters
        self.stats.surveys_written = int(counters.get("surveysWritten", 0))
        self.stats.errors_written = int(counters.get("errorsWritten", 0))
        self.stats.windows_done = checkpoint.windows_done
        self.stats.skipped_statuses.update(counters.get("skippedStatuses") or {})

    async def _pipeline(
        self,
        source: ConversationSource,
        resolver: ConversationResolver,
        writer: Writer,
        pending: list[Window],
        written: dict[str, set[str]],
    ) -> None:
        work: asyncio.Queue[WorkItem | None] = asyncio.Queue(maxsize=self._options.concurrency * 4)

        async def prefetch_names(items: list[WorkItem]) -> None:
            await resolver.prefetch_names((item.conversation, item.surveys) for item in items)

        async def produce() -> None:
            for position, window in enumerate(pending):
                source.prefetch(pending[position : position + JOB_LOOKAHEAD + 1])
                dispatched = written.pop(window.day, set())
                skipped: Counter[str] = Counter()
                count = await self._enumerate(
                    source, window, dispatched, work.put, skipped, prefetch_names
                )
                await writer.queue.put(WindowEnumerated(window.index, count, skipped))
                logger.info(
                    "day %s enumerated: %d conversations with selected surveys", window.day, count
                )
            for _ in range(self._options.concurrency):
                await work.put(None)

        async def consume(worker: int) -> None:
            while (item := await work.get()) is not None:
                lines = await resolver.resolve(item.conversation, item.surveys)
                await writer.queue.put(ConversationDone(item.window.index, item.window.day, lines))
            logger.debug("worker %d finished", worker)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(writer.run(), name="writer")
                async with asyncio.TaskGroup() as workers:
                    workers.create_task(produce(), name="producer")
                    for worker in range(self._options.concurrency):
                        workers.create_task(consume(worker), name=f"worker-{worker}")
                await writer.queue.put(Stop())
        except BaseExceptionGroup as failures:
            raise first_failure(failures) from None
        finally:
            await source.aclose()

    async def _enumerate(
        self,
        source: ConversationSource,
        window: Window,
        dispatched: set[str],
        emit: Callable[[WorkItem], Awaitable[None]],
        skipped: Counter[str],
        prepare: Callable[[list[WorkItem]], Awaitable[None]] | None = None,
    ) -> int:
        """Pass the window's conversations with surveys to export to ``emit``; return how many.

        Surveys left out for their status are counted in ``skipped``. ``prepare``, when given,
        receives each page's work items before they are emitted.
        """
        count = 0
        statuses = self._options.statuses
        filters = source.filters
        by_completion = self._options.by == "completed"
        async for page in source.conversations(window):
            items: list[WorkItem] = []
            for conversation in page:
                started = conversation.get("conversationStart")
                if not isinstance(started, str) or not window.contains(parse_timestamp(started)):
                    continue
                self.stats.conversations_seen += 1
                selected = []
                for listed in conversation.get("surveys") or []:
                    survey_id = listed.get("surveyId")
                    if not isinstance(survey_id, str) or survey_id in dispatched:
                        continue
                    if not filters.accepts(listed):
                        continue
                    status = normalize_survey_status(listed.get("surveyStatus")) or "unknown"
                    if status not in statuses:
                        skipped[status] += 1
                        continue
                    if by_completion and not self._completed_in_range(listed):
                        continue
                    dispatched.add(survey_id)
                    selected.append(listed)
                if selected:
                    items.append(WorkItem(window, conversation, selected))
                elif window.conversation_ids:
                    # A given conversation without a selected survey explains an empty result.
                    listed_statuses = [
                        normalize_survey_status(item.get("surveyStatus")) or "unknown"
                        for item in conversation.get("surveys") or []
                    ]
                    conversation_id = str(conversation.get("conversationId"))
                    self.stats.unselected_conversations[conversation_id] = listed_statuses
            if prepare is not None and items:
                await prepare(items)
            for item in items:
                await emit(item)
            count += len(items)
        self.stats.missing_conversations.extend(source.missing)
        source.missing.clear()
        return count

    def _completed_in_range(self, listed: Mapping[str, Any]) -> bool:
        completed = listed.get("surveyCompletedDate")
        if not isinstance(completed, str):
            return False
        return self._options.start <= parse_timestamp(completed) < self._options.end

    async def estimate(self) -> Estimate:
        """Count what the export would fetch, reading only analytics; nothing is written."""
        estimate = Estimate(days=len(self.windows))
        pages: list[int] = []

        async def count(item: WorkItem) -> None:
            estimate.add(item.conversation, item.surveys)

        async with build_session(self._options.concurrency) as session:
            client = await self._open_client(session)
            filters = await resolve_filters(client, self._options.filters)
            source = await ConversationSource.open(
                client,
                filters,
                self._options.source,
                conversation_list=bool(self._options.conversation_ids),
                pages=pages,
                poll_scale=self._policy.time_scale,
            )
            for window in self.windows:
                await self._enumerate(source, window, set(), count, self.stats.skipped_statuses)
        estimate.details_pages = sum(pages)
        estimate.enumeration_requests = self.stats.requests
        return estimate


async def run_export(
    credentials: Credentials | Sequence[Credentials],
    endpoints: Endpoints,
    options: ExportOptions,
    *,
    stats: RunStats | None = None,
    policy: RetryPolicy | None = None,
) -> ExportResult:
    """Export the survey responses of ``options`` into ``options.out``.

    Resumes from the folder's checkpoint when it has one for the same parameters.
    """
    export = Export(
        credentials, endpoints, options, stats=stats or RunStats(), policy=policy or RetryPolicy()
    )
    return await export.run()


async def estimate_export(
    credentials: Credentials | Sequence[Credentials],
    endpoints: Endpoints,
    options: ExportOptions,
    *,
    stats: RunStats | None = None,
    policy: RetryPolicy | None = None,
) -> Estimate:
    """Count what exporting ``options`` would fetch, from the analytics API alone."""
    export = Export(
        credentials, endpoints, options, stats=stats or RunStats(), policy=policy or RetryPolicy()
    )
    return await export.estimate()
