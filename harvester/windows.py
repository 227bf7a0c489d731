"""The export range cut into whole UTC days, the unit of enumeration and of resume."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from harvester.settings import format_timestamp


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """One UTC day of the range, clipped to the range's own start and end.

    The details query selects conversations by the UTC day they started on, so a day is the
    smallest interval it selects exactly; ``start`` and ``end`` filter inside it.
    """

    index: int
    day_start: datetime
    start: datetime
    end: datetime
    #: Conversations given by id; such a window is a chunk of the list, not a day.
    conversation_ids: tuple[str, ...] = ()

    @property
    def day(self) -> str:
        """The day as ``YYYY-MM-DD``, or ``conversations-NNNNN`` for a chunk of given ids.

        It is the window's key in the journal and the checkpoint.
        """
        if self.conversation_ids:
            return f"conversations-{self.index:05d}"
        return self.day_start.strftime("%Y-%m-%d")

    def query_interval(self) -> str:
        """Return the whole day as an ISO-8601 interval for the details query."""
        day_end = self.day_start + timedelta(days=1)
        return f"{format_timestamp(self.day_start)}/{format_timestamp(day_end)}"

    def contains(self, moment: datetime) -> bool:
        """Return whether ``moment`` lies in ``[start, end)``."""
        return self.start <= moment < self.end


def split_days(start: datetime, end: datetime) -> list[Window]:
    """Cut ``[start, end)`` into UTC days, the first and last clipped to the range."""
    windows: list[Window] = []
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    while day < end:
        next_day = day + timedelta(days=1)
        windows.append(Window(len(windows), day, max(day, start), min(next_day, end)))
        day = next_day
    return windows


#: Conversations per chunk of a given list: one analytics request reads a chunk.
CONVERSATION_CHUNK = 100


def split_conversations(conversation_ids: tuple[str, ...]) -> list[Window]:
    """Cut a list of conversation ids into windows of up to ``CONVERSATION_CHUNK`` ids."""
    unique = tuple(dict.fromkeys(conversation_ids))
    earliest = datetime.min.replace(tzinfo=UTC)
    latest = datetime.max.replace(tzinfo=UTC)
    return [
        Window(index, earliest, earliest, latest, unique[offset : offset + CONVERSATION_CHUNK])
        for index, offset in enumerate(range(0, len(unique), CONVERSATION_CHUNK))
    ]
