"""The ``harvester`` command line. The only module that prints, reads ``.env`` or uses the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer

from harvester import __version__
from harvester.checkpoint import checkpoint_path
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
    UNBOUNDED_END,
    UNBOUNDED_START,
    Credentials,
    Endpoints,
    ExportOptions,
    current_time,
    environment_with_dotenv,
    normalize_statuses,
    parse_filter_spec,
    parse_moment,
    read_conversation_ids,
    read_credentials,
    read_credentials_file,
    resolve_endpoints,
    validate_by,
    validate_compress,
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
    credentials: Credentials | Sequence[Credentials],
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
    for conversation_id, statuses in sorted(stats.unselected_conversations.items()):
        found = ", ".join(statuses) if statuses else "no survey"
        typer.echo(f"  conversation {conversation_id}: nothing exported; its surveys: {found}")
    for conversation_id in stats.missing_conversations:
        typer.echo(f"  conversation {conversation_id}: not found in analytics")


def _print_stopped(stats: RunStats, out: Path) -> None:
    if not checkpoint_path(out).exists():
        # The run stopped before it touched the folder: there is nothing to resume.
        typer.echo(f"Nothing was written to {out}.", err=True)
        return
    typer.echo(
        f"Stopped with {stats.surveys_written:,} surveys written to {out}; run the same command to resume.",
        err=True,
    )


def execute_export(
    credentials: Credentials | Sequence[Credentials],
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
        str | None,
        typer.Option(
            "--from",
            help="Start of the range (inclusive): a date such as 2025-03-01 (midnight UTC) or an ISO-8601 time.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End of the range (exclusive), in the same forms as --from."),
    ] = None,
    conversation: Annotated[
        list[str] | None,
        typer.Option(
            "--conversation",
            help="Export the surveys of this conversation instead of a date range; repeatable.",
        ),
    ] = None,
    conversations_file: Annotated[
        Path | None,
        typer.Option(
            help="A file of conversation ids, one per line, to export instead of a date range."
        ),
    ] = None,
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
    credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            help='A JSON list of OAuth clients of the same org, [{"clientId": ..., "clientSecret": ...}]; each gets its own token and rate limit, and requests are spread across them.',
        ),
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
    compress: Annotated[
        str,
        typer.Option(
            help="Compression of the part files: none, or gzip (part-NNNNN.ndjson.gz, which DuckDB and Spark read as they are)."
        ),
    ] = "none",
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
        conversation_ids = read_conversation_ids(conversation, conversations_file)
        start_at, end_at = _export_range(start, end, bool(conversation_ids))
        options = ExportOptions(
            conversation_ids=conversation_ids,
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
            compress=validate_compress(compress),
            file_mode=_parse_file_mode(file_mode),
        )
        endpoints = resolve_endpoints(region or environ.get(ENV_REGION), api_url, login_url)
        credentials: Credentials | tuple[Credentials, ...] = (
            read_credentials_file(credentials_file)
            if credentials_file is not None
            else read_credentials(environ)
        )
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None

    if dry_run:
        execute_dry_run(credentials, endpoints, options)
        return
    show = sys.stderr.isatty() if progress is None else progress
    result, stats = execute_export(credentials, endpoints, options, progress=show)
    _print_summary(result, stats)


def execute_dry_run(
    credentials: Credentials | Sequence[Credentials], endpoints: Endpoints, options: ExportOptions
) -> None:
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


def _export_range(
    start: str | None, end: str | None, has_conversations: bool
) -> tuple[datetime, datetime]:
    """Validate --from and --to, which a list of conversations replaces."""
    if has_conversations:
        if start is not None or end is not None:
            raise InputError(
                "--from and --to do not combine with --conversation or --conversations-file; give one or the other"
            )
        return UNBOUNDED_START, UNBOUNDED_END
    if start is None or end is None:
        missing = "--from" if start is None else "--to"
        raise InputError(
            f"missing {missing}: give a range with --from and --to, or conversations with --conversation"
        )
    start_at = parse_moment(start, "--from")
    end_at = parse_moment(end, "--to")
    validate_range(start_at, end_at, current_time())
    return start_at, end_at


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


SCHEMA_FORMATS = ("json-schema", "duckdb", "spark")


@app.command()
def schema(
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="json-schema (a JSON Schema document), duckdb (the columns struct of read_json) or spark (a DDL string for spark.read.schema).",
        ),
    ] = "json-schema",
    table: Annotated[
        str, typer.Option(help="surveys (the survey records) or errors (the error lines).")
    ] = "surveys",
) -> None:
    """Print the schema of the output records for JSON Schema, DuckDB or Spark."""
    from harvester import schema as output_schema

    if output_format not in SCHEMA_FORMATS:
        raise _fail(
            f"invalid --format {output_format!r}; valid formats: {', '.join(SCHEMA_FORMATS)}",
            EXIT_BAD_INPUT,
        )
    chosen = output_schema.TABLES.get(table)
    if chosen is None:
        raise _fail(
            f"invalid --table {table!r}; valid tables: {', '.join(output_schema.TABLES)}",
            EXIT_BAD_INPUT,
        )
    if output_format == "json-schema":
        document = output_schema.json_schema(chosen)
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    elif output_format == "duckdb":
        typer.echo(output_schema.duckdb_columns(chosen))
    else:
        typer.echo(output_schema.spark_ddl(chosen))


@app.command()
def verify(
    out: Annotated[Path, typer.Argument(help="Output folder of an export.")],
) -> None:
    """Check an export folder: complete, every line valid, no survey twice, counts as in the manifest.

    Exits with 0 when every check passes, 1 with the list of problems otherwise.
    """
    from harvester.verify import verify_folder

    try:
        result = verify_folder(out)
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    if result.ok:
        typer.echo(
            f"OK: {out} holds a complete export; {result.lines['surveys']:,} survey lines and "
            f"{result.lines['errors']:,} error lines in {result.files:,} files match the schema, "
            "the checkpoint and the manifest."
        )
        return
    typer.echo(f"{out}: {result.problem_count:,} problems")
    for problem in result.problems:
        typer.echo(f"  {problem}")
    hidden = result.problem_count - len(result.problems)
    if hidden:
        typer.echo(f"  ... and {hidden:,} more")
    raise typer.Exit(EXIT_FAILED)


@app.command()
def status(
    out: Annotated[Path, typer.Argument(help="Output folder of an export.")],
) -> None:
    """Show how far the export in a folder got, from its checkpoint and manifest."""
    from harvester.status import read_status

    try:
        found = read_status(out, current_time())
    except InputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    state = found.state
    if found.running_pid is not None:
        state = f"running (process {found.running_pid})"
    elif state == "stopped":
        state = "stopped; run the same export command to resume"
    params = found.parameters
    rows = [
        ("state", state),
        ("range", f"{params.get('from')} to {params.get('to')}, detail {params.get('detail')}"),
        ("days", f"{found.days_done} of {found.days_total} done"),
        ("surveys", f"{found.surveys:,}"),
        ("error lines", f"{found.errors:,}"),
        ("requests", f"{found.requests:,}"),
        ("started", found.started_at),
        ("last update", f"{found.updated_at} ({format_duration(found.since_update)} ago)"),
    ]
    if found.eta_seconds is not None and found.rate is not None:
        remaining = found.days_total - found.days_done
        rows.append(
            (
                "remaining",
                f"about {format_duration(found.eta_seconds)} for {remaining} days at the last "
                f"rate of {found.rate * 3600:.1f} days per hour",
            )
        )
    elif found.state != "complete":
        rows.append(("remaining", f"{found.days_total - found.days_done} days; no rate yet"))
    typer.echo(f"{out}")
    for label, value in rows:
        typer.echo(f"  {label:<12} {value}")


@app.command()
def report(
    out: Annotated[Path, typer.Argument(help="Output folder of an export.")],
    html_file: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the report as one self-contained HTML page with SVG charts to this file.",
        ),
    ] = None,
    top: Annotated[
        int, typer.Option(help="Queues and agents to show, those with the most responses first.")
    ] = 10,
) -> None:
    """Summarize CSAT and NPS by ISO week, queue and agent, and CSAT against evaluation score."""
    try:
        from harvester.report import build_report, format_report
        from harvester.report_html import render_html
    except ImportError as exc:
        if exc.name != "duckdb":
            raise
        raise _fail(
            "harvester report needs DuckDB; install it with: pip install 'harvester[report]'",
            EXIT_BAD_INPUT,
        ) from None
    if not (out / "surveys").is_dir():
        raise _fail(
            f"no survey output in {str(out)!r}; give the --out folder of an export",
            EXIT_BAD_INPUT,
        )
    if not 1 <= top <= 1000:
        raise _fail(f"invalid --top {top}: give a whole number from 1 to 1000", EXIT_BAD_INPUT)
    summary = build_report(out, top=top)
    typer.echo(format_report(summary))
    if html_file is not None:
        try:
            html_file.write_text(render_html(summary), encoding="utf-8")
        except OSError as exc:
            raise _fail(
                f"writing {html_file} failed: {exc.strerror or exc}; choose another --html path",
                EXIT_FAILED,
            ) from None
        typer.echo(f"\nHTML report written to {html_file}")


def main() -> None:
    """Entry point of the ``harvester`` console script."""
    try:
        app()
    except HarvestError as exc:  # an error no command mapped to an exit code
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
