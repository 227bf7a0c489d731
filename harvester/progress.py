"""Progress on the terminal: a one-line bar on a TTY, periodic log lines otherwise."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from harvester.stats import RunStats

logger = logging.getLogger(__name__)

TTY_REFRESH_SECONDS = 0.5
LOG_INTERVAL_SECONDS = 30.0


def format_duration(seconds: float) -> str:
    """Format seconds as ``1h02m``, ``3m05s`` or ``42s``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def progress_line(stats: RunStats) -> str:
    """Describe the run's progress in one line."""
    eta = "?"
    if 0 < stats.windows_done < stats.windows_total:
        per_window = stats.elapsed() / stats.windows_done
        eta = format_duration(per_window * (stats.windows_total - stats.windows_done))
    elif stats.windows_total and stats.windows_done >= stats.windows_total:
        eta = "0s"
    return (
        f"days {stats.windows_done}/{stats.windows_total} | surveys {stats.surveys_written:,} | "
        f"errors {stats.errors_written:,} | requests {stats.requests:,} "
        f"({stats.request_rate():.1f}/s) | retries {stats.retries:,} | 429s {stats.rate_limited:,} | "
        f"ETA {eta}"
    )


async def show_progress(stats: RunStats, stream: TextIO | None = None) -> None:
    """Update the progress display until cancelled."""
    output = stream or sys.stderr
    if output.isatty():
        try:
            while True:
                output.write("\r\033[K" + progress_line(stats))
                output.flush()
                await asyncio.sleep(TTY_REFRESH_SECONDS)
        finally:
            output.write("\r\033[K" + progress_line(stats) + "\n")
            output.flush()
    while True:
        await asyncio.sleep(LOG_INTERVAL_SECONDS)
        logger.info("progress: %s", progress_line(stats))
