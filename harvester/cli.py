"""The ``harvester`` command line. The only module that prints, reads ``.env`` or knows the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from harvester import __version__
from harvester.errors import (
    ApiError,
    HarvestError,
    InputError,
    OutputError,
    RunInterrupted,
)
from harvester.pipeline import ExportResult, estimate_export, run_export
from harvester.progress import format_duration, show_progress
from harvester.settings import (
    ENV_REGION,
    Credentials,
    Endpoints,
    ExportOptions,
    current_time,
    environment_with_dotenv,
    normalize_statuses,
    parse_filter_spec,
    parse_moment,
    read_credentials,
    resolve_endpoints,
    validate_by,
    validate_concurrency,
    validate_detail,
    validate_range,
    validate_rate,
    validate_source,
)
from harvester.simulator.command import simulate
from harvester.stats import RunStats

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

T = TypeVar("T")

app = typer.Typer(
    name="harvester",
    help="Export Genesys Cloud CSAT survey responses, with their evaluations, agents and queues, as NDJSON.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("simulate", help="Run the Genesys Cloud simulator on 127.0.0.1 until Ctrl-C.")(simulate)


def _configure_logging(level: str) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise InputError(
            f"invalid --log-level {level!r}; valid levels: debug, info, warning, error"
        )
    logging.basicConfig(
        level=numeric,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # aiohttp's access and client loggers would repeat every request at INFO.
    logging.getLogger("aiohttp").setLevel(max(numeric, logging.WARNING))


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine``; SIGINT and SIGTERM cancel it and surface as :class:`RunInterrupted`."""

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []

        def on_signal(number: int) -> None:
            if not received:
                typer.echo(
                    f"\n{signal.Signals(number).name} received: saving a checkpoint and stopping",
                    err=True,
                )
            received.append(number)
            task.cancel()

        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, on_signal, number)
        try:
            return await coroutine
        except asyncio.CancelledError:
            if received:
                task.uncancel()
                raise RunInterrupted("interrupted") from None
            raise
        finally:
            for number in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(number)

    return asyncio.run(guarded())


async def _export_with_progress(
    credentials: Credentials,
    endpoints: Endpoints,
    options: ExportOptions,
    stats: RunStats,
    progress: bool,
) -> ExportResult:
    display = asyncio.ensure_future(show_progress(stats)) if progress else None
    try:
        return await run_export(credentials, endpoints, options, stats=stats)
    finally:
        if display is not None:
            display.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await display


def _print_summary(result: ExportResult, stats: RunStats) -> None:
    if result.already_complete:
        typer.echo(
            f"{result.out} already holds a complete export of these parameters "
            f"({stats.surveys_written:,} surveys); pass --restart to export again"
        )
        return
    typer.echo(
        f"Export complete: {stats.surveys_written:,} surveys and {stats.errors_written:,} error "
        f"lines in {result.out}"
    )
    typer.echo(
        f"  requests {stats.requests:,} (retries {stats.retries:,}, 429s {stats.rate_limited:,}) "
        f"in {format_duration(stats.elapsed())}"
    )
    if stats.skipped_statuses:
        skipped = ", ".join(
            f"{status} {count:,}" for status, count in stats.skipped_statuses.most_common()
        )
        typer.echo(f"  surveys not exported because of their status: {skipped}")


def _print_stopped(stats: RunStats, out: Path) -> None:
    typer.echo(
        f"Stopped with {stats.surveys_written:,} surveys written to {out}; run the same command to resume.",
        err=True,
    )


def execute_export(
    credentials: Credentials,
    endpoints: Endpoints,
    options: ExportOptions,
    *,
    progress: bool,
) -> tuple[ExportResult, RunStats]:
    """Run an export and map its failures to exit codes."""
    stats = RunStats()
    try:
        result = run_async(_export_with_progress(credentials, endpoints, options, stats, progress))
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except RunInterrupted:
        _print_stopped(stats, options.out)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (ApiError, OutputError) as exc:
        typer.echo(f"error: {exc}", err=True)
        _print_stopped(stats, options.out)
        raise typer.Exit(EXIT_FAILED) from None
    return result, stats


@app.command()
def export(
    start: Annotated[
        str,
        typer.Option(
            "--from",
            help="Start of the range (inclusive): a date such as 2025-03-01 (midnight UTC) or an ISO-8601 time.",
        ),
    ],
    end: Annotated[
        str, typer.Option("--to", help="End of the range (exclusive), in the same forms as --from.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder; created when missing.")] = Path(
        "harvester-out"
    ),
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Survey status to export; repeat for several. Default: Finished."
        ),
    ] = None,
    detail: Annotated[
        str,
        typer.Option(
            help="What to read: summary (analytics only, about 1 request per 100 surveys), answers (plus one request per survey) or full (plus one per evaluation)."
        ),
    ] = "full",
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", help="Only surveys of this queue (id or name); repeatable."),
    ] = None,
    survey_form: Annotated[
        list[str] | None,
        typer.Option(
            "--survey-form",
            help="Only surveys of this survey form (id, context id or name); repeatable.",
        ),
    ] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option("--agent", help="Only surveys of this agent (user id or name); repeatable."),
    ] = None,
    survey_type: Annotated[
        list[str] | None,
        typer.Option("--survey-type", help="Only Web or Voice surveys; repeatable."),
    ] = None,
    media_type: Annotated[
        list[str] | None,
        typer.Option(
            "--media-type",
            help="Only conversations with this media type (voice, chat, email, message, callback, ...); repeatable.",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Conversations processed at once (1-64).")] = 8,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Requests per minute across all workers; default: the org's per-token limit, read at start (300 when it cannot be read)."
        ),
    ] = None,
    rate_period: Annotated[
        float,
        typer.Option(
            hidden=True, help="Seconds in the rate limit's window; only for time-scaled simulators."
        ),
    ] = 60.0,
    region: Annotated[
        str | None,
        typer.Option(help=f"Genesys Cloud region such as us-east-1; default: ${ENV_REGION}."),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="API base URL instead of the region's (https, or http to a loopback address)."
        ),
    ] = None,
    login_url: Annotated[
        str | None,
        typer.Option(help="Login base URL; default: the API URL with api. replaced by login."),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(help="A .env file to read credentials from; default: ./.env when present."),
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="Discard the folder's checkpoint and output and start over.")
    ] = False,
    max_file_mb: Annotated[
        int, typer.Option(help="Start a new part file once one reaches this many MiB.")
    ] = 256,
    file_mode: Annotated[
        str,
        typer.Option(
            help="Octal permissions of output files; the default keeps customer comments readable by the owner only."
        ),
    ] = "600",
    by: Annotated[
        str,
        typer.Option(
            help="What the range selects: start (conversations that started in it; analytics files surveys by that day) or completed (surveys completed in it, scanning conversations from --lookback days earlier)."
        ),
    ] = "start",
    lookback: Annotated[
        int,
        typer.Option(
            help="With --by completed: days before --from whose conversations are scanned (0-366)."
        ),
    ] = 14,
    source: Annotated[
        str,
        typer.Option(
            help="How to find conversations: query (synchronous details query), jobs (analytics details jobs, meant for bulk history) or auto (jobs before the data-availability watermark, the query after it)."
        ),
    ] = "auto",
    dry_run: Annotated[
        bool,
        typer.Option(
            help="Count what the export would fetch, from analytics only, and print the requests and time per detail level; writes nothing."
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show a progress bar; default: when stderr is a terminal.",
        ),
    ] = None,
) -> None:
    """Export the survey responses of conversations that started in [--from, --to)."""
    try:
        _configure_logging(log_level)
        environ = environment_with_dotenv(env_file, os.environ)
        by_choice, lookback_days = validate_by(by, lookback)
        start_at = parse_moment(start, "--from")
        end_at = parse_moment(end, "--to")
        validate_range(start_at, end_at, current_time())
        options = ExportOptions(
            start=start_at,
            end=end_at,
            out=out,
            statuses=normalize_statuses(status),
            detail=validate_detail(detail),
            source=validate_source(source),
            by=by_choice,
            lookback_days=lookback_days,
            filters=parse_filter_spec(
                queues=queue,
                survey_forms=survey_form,
                agents=agent,
                survey_types=survey_type,
                media_types=media_type,
            ),
            concurrency=validate_concurrency(concurrency),
            rate_per_minute=None if rate is None else validate_rate(rate),
            rate_period=rate_period,
            restart=restart,
            max_file_bytes=_validate_file_mb(max_file_mb) * 1024 * 1024,
            file_mode=_parse_file_mode(file_mode),
        )
        endpoints = resolve_endpoints(region or environ.get(ENV_REGION), api_url, login_url)
        credentials = read_credentials(environ)
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None

    if dry_run:
        execute_dry_run(credentials, endpoints, options)
        return
    show = sys.stderr.isatty() if progress is None else progress
    result, stats = execute_export(credentials, endpoints, options, progress=show)
    _print_summary(result, stats)


def execute_dry_run(credentials: Credentials, endpoints: Endpoints, options: ExportOptions) -> None:
    """Count what the export would fetch and print the cost of each detail level."""
    stats = RunStats()
    try:
        estimate = run_async(estimate_export(credentials, endpoints, options, stats=stats))
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except RunInterrupted:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except ApiError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    rate = stats.rate_per_minute
    typer.echo(
        f"Dry run over {estimate.days} days: {estimate.conversations:,} conversations, "
        f"{estimate.surveys:,} surveys to export, {estimate.evaluations:,} evaluations "
        f"({estimate.details_pages:,} details pages read, {stats.requests:,} requests made)"
    )
    if stats.skipped_statuses:
        skipped = ", ".join(
            f"{status} {count:,}" for status, count in stats.skipped_statuses.most_common()
        )
        typer.echo(f"  surveys not selected because of their status: {skipped}")
    typer.echo(f"  {'detail':<8} {'requests':>10}  time at {rate:g} requests per minute")
    for level, requests, seconds in estimate.table(rate):
        marker = "  <- --detail" if level == options.detail else ""
        typer.echo(f"  {level:<8} {requests:>10,}  {format_duration(seconds)}{marker}")


def _validate_file_mb(value: int) -> int:
    if not 1 <= value <= 65536:
        raise InputError(
            f"invalid --max-file-mb {value}: give a whole number of MiB from 1 to 65536"
        )
    return value


def _parse_file_mode(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        mode = -1
    if not 0o400 <= mode <= 0o666 or not mode & 0o600 == 0o600:
        raise InputError(
            f"invalid --file-mode {value!r}: give octal permissions that let the owner read and write, such as 600 or 644"
        )
    return mode


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder of the demo export.")] = Path(
        "harvester-demo"
    ),
    days: Annotated[int, typer.Option(help="Days of simulated conversations to export.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the simulated organisation.")] = 2024,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "error",
) -> None:
    """Export about 2,000 surveys from a built-in simulator: no credentials needed."""
    from harvester.demo import run_demo

    try:
        _configure_logging(log_level)
        if not 1 <= days <= 60:
            raise InputError(f"invalid --days {days}: give a whole number from 1 to 60")
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    run_demo(out=out, days=days, seed=seed, echo=typer.echo, execute=execute_export)


@app.command()
def version() -> None:
    """Print the harvester's version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``harvester`` console script."""
    try:
        app()
    except HarvestError as exc:  # an error no command mapped to an exit code
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
