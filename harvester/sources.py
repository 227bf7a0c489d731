"""The two origins of a window's conversations: the details query and details jobs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from harvester.details import conversations_by_id, window_conversations
from harvester.errors import ApiError, CredentialsError
from harvester.filters import ResolvedFilters
from harvester.http import ApiClient
from harvester.jobs import data_availability, job_conversations, prepare_job
from harvester.windows import Window

logger = logging.getLogger(__name__)


async def _forget(day: str, job_id: str | None) -> None:
    del day, job_id


@dataclasses.dataclass(slots=True)
class ConversationSource:
    """Read each window through the query or a job, as ``--source`` and the watermark decide.

    With ``auto``, windows that end before the jobs API's data-availability watermark use jobs,
    which are meant for bulk history; later windows use the query, which includes recent data.
    """

    client: ApiClient
    filters: ResolvedFilters
    source: str = "query"
    watermark: datetime | None = None
    jobs: dict[str, str] = dataclasses.field(default_factory=dict)
    record_job: Callable[[str, str | None], Awaitable[None]] = _forget
    poll_scale: float = 1.0
    #: Receives a 1 per details query page read, for dry runs.
    pages: list[int] | None = None
    #: Given conversation ids that analytics does not know.
    missing: list[str] = dataclasses.field(default_factory=list)
    #: Jobs submitted ahead of their window, by day, each resolving to a fulfilled job id.
    _prepared: dict[str, asyncio.Task[str | None]] = dataclasses.field(default_factory=dict)

    @classmethod
    async def open(
        cls,
        client: ApiClient,
        filters: ResolvedFilters,
        source: str,
        **options: Any,
    ) -> ConversationSource:
        """Create the source, reading the data-availability watermark when it decides."""
        watermark = None
        conversation_list = bool(options.pop("conversation_list", False))
        if source == "auto" and not conversation_list:
            try:
                watermark = await data_availability(client)
            except CredentialsError:
                raise
            except ApiError as exc:
                # Without a watermark no day is known to be complete in the data lake.
                logger.warning("details jobs unavailable (%s); using the details query", exc)
                source = "query"
            else:
                logger.info("details jobs hold complete data before %s", watermark.isoformat())
        return cls(client, filters, source, watermark, **options)

    def uses_jobs(self, window: Window) -> bool:
        """Return whether ``window`` is read through a details job."""
        if self.source == "jobs":
            return True
        return self.source == "auto" and self.watermark is not None and window.end <= self.watermark

    def prefetch(self, windows: Sequence[Window]) -> None:
        """Start the details jobs of ``windows`` now, so they compute while earlier ones are read."""
        for window in windows:
            if self.uses_jobs(window) and window.day not in self._prepared:
                self._prepared[window.day] = asyncio.create_task(
                    prepare_job(
                        self.client,
                        window,
                        self.filters,
                        existing_job=self.jobs.get(window.day),
                        record=self.record_job,
                        poll_scale=self.poll_scale,
                    ),
                    name=f"job-{window.day}",
                )

    async def conversations(self, window: Window) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the window's conversations page by page."""
        pages: AsyncIterator[list[dict[str, Any]]]
        if window.conversation_ids:
            pages = conversations_by_id(self.client, window, self.missing)
        elif self.uses_jobs(window):
            prepared = self._prepared.pop(window.day, None)
            existing = await prepared if prepared is not None else self.jobs.get(window.day)
            pages = job_conversations(
                self.client,
                window,
                self.filters,
                existing_job=existing,
                record=self.record_job,
                poll_scale=self.poll_scale,
            )
        else:
            pages = window_conversations(self.client, window, self.filters, self.pages)
        async for page in pages:
            yield page

    async def aclose(self) -> None:
        """Stop jobs still being prepared; their ids stay in the checkpoint for a resumed run."""
        tasks = list(self._prepared.values())
        self._prepared.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
