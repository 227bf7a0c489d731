"""The ``harvester simulate`` command: run the simulator on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from harvester.simulator.config import (
    REALISTIC_LATENCY,
    SimConfig,
    load_fault_script,
)
from harvester.simulator.server import Simulator

logger = logging.getLogger(__name__)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, separator, rest = value.rpartition("=")
        if not separator or not key:
            msg = f"{option} expects KEY=VALUE, got {value!r}"
            raise typer.BadParameter(msg)
        result[key] = rest
    return result


def _latency(values: list[str], realistic: bool) -> dict[str, tuple[float, float]]:
    latency = dict(REALISTIC_LATENCY) if realistic else {}
    for endpoint, bounds in _pairs(values, "--latency").items():
        low, separator, high = bounds.partition(":")
        try:
            latency[endpoint] = (float(low), float(high if separator else low))
        except ValueError as error:
            msg = f"--latency expects ENDPOINT=LOW:HIGH in seconds, got {endpoint}={bounds!r}"
            raise typer.BadParameter(msg) from error
    return latency


def _fault_rates(values: list[str]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for key, raw in _pairs(values, "--fault-rate").items():
        try:
            rates[key] = float(raw)
        except ValueError as error:
            msg = f"--fault-rate expects [ENDPOINT:]KIND=PROBABILITY, got {key}={raw!r}"
            raise typer.BadParameter(msg) from error
    return rates


def _clients(values: list[str]) -> dict[str, str]:
    if not values:
        return {"sim-client": "sim-secret"}
    clients: dict[str, str] = {}
    for value in values:
        client_id, separator, secret = value.partition(":")
        if not separator or not client_id or not secret:
            msg = f"--client expects ID:SECRET, got {value!r}"
            raise typer.BadParameter(msg)
        clients[client_id] = secret
    return clients


def simulate(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1; 0 picks a free port.")] = 0,
    seed: Annotated[
        int, typer.Option(help="Seed of the synthetic org; equal seeds give equal data.")
    ] = 7,
    surveys_per_day: Annotated[
        float, typer.Option(help="Mean number of surveys per UTC day.")
    ] = 200.0,
    first_day: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="First UTC day with conversations (YYYY-MM-DD)."),
    ] = datetime(2025, 1, 1),  # noqa: DTZ001 - typer passes a date without a time zone
    last_day: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="Last UTC day with conversations (YYYY-MM-DD)."),
    ] = datetime(2027, 12, 31),  # noqa: DTZ001 - typer passes a date without a time zone
    agents: Annotated[
        int, typer.Option(help="Number of agents; 0 sizes it from --surveys-per-day.")
    ] = 0,
    queues: Annotated[int, typer.Option(help="Number of routing queues.")] = 10,
    deleted_fraction: Annotated[
        float,
        typer.Option(
            help="Share of surveys and evaluations that analytics lists but GET returns 404."
        ),
    ] = 0.01,
    client: Annotated[
        list[str],
        typer.Option(
            help="OAuth client as ID:SECRET; repeat for several. Default sim-client:sim-secret."
        ),
    ] = [],  # noqa: B006 - typer needs a list default for a repeatable option
    token_ttl: Annotated[int, typer.Option(help="Access-token lifetime in seconds.")] = 86400,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per token per 60-second sliding window; 0 turns it off.")
    ] = 300,
    time_scale: Annotated[
        float,
        typer.Option(
            help="Divide every simulated duration (latency, windows, Retry-After, TTLs) by this."
        ),
    ] = 1.0,
    deny: Annotated[
        list[str],
        typer.Option(help="Permission the client lacks, e.g. quality:survey:view; repeatable."),
    ] = [],  # noqa: B006 - typer needs a list default for a repeatable option
    list_max_page_size: Annotated[
        int,
        typer.Option(
            help="Largest pageSize of users, queues and evaluation listings; more is clamped."
        ),
    ] = 100,
    realistic_latency: Annotated[
        bool, typer.Option(help="Add latency close to the real API's on every endpoint.")
    ] = False,
    latency: Annotated[
        list[str],
        typer.Option(help="Latency of one endpoint as ENDPOINT=LOW:HIGH seconds; repeatable."),
    ] = [],  # noqa: B006 - typer needs a list default for a repeatable option
    fault_rate: Annotated[
        list[str],
        typer.Option(
            help="Fault probability as KIND=P or ENDPOINT:KIND=P, e.g. survey:500_json=0.05. "
            "Kinds: 429, 429_no_retry_after, 429_long, 500_json, 503_html, drop, truncated, "
            "slow, token_expire; repeatable."
        ),
    ] = [],  # noqa: B006 - typer needs a list default for a repeatable option
    fault_script: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help='JSON file with a list of {"endpoint", "kind", "at"} faults (at = Nth request).',
        ),
    ] = None,
    fault_retry_after: Annotated[
        int, typer.Option(help="Retry-After seconds of an injected 429 fault.")
    ] = 2,
    long_retry_after: Annotated[
        int, typer.Option(help="Retry-After seconds of an injected 429_long fault.")
    ] = 120,
    slow_seconds: Annotated[
        float, typer.Option(help="Extra delay of a slow fault, in seconds.")
    ] = 5.0,
    unstable_paging: Annotated[
        bool,
        typer.Option(help="Reorder details-query results between pages of a query's first scan."),
    ] = False,
    details_page_size_clamp: Annotated[
        int,
        typer.Option(
            help="Serve at most this many conversations per details-query page, ignoring a larger pageSize without an error; 0 serves pageSize as asked."
        ),
    ] = 0,
    max_concurrent_jobs: Annotated[
        int, typer.Option(help="Analytics jobs that may be QUEUED or PENDING at once.")
    ] = 5,
    job_run_seconds: Annotated[
        float, typer.Option(help="Seconds from job submission to FULFILLED.")
    ] = 2.0,
    job_ttl: Annotated[
        float, typer.Option(help="Seconds a finished job's results stay available before EXPIRED.")
    ] = 86400.0,
    job_page_size: Annotated[
        int, typer.Option(help="Default and maximum pageSize of job results.")
    ] = 1000,
    job_fail_probability: Annotated[
        float, typer.Option(help="Probability that a submitted job ends FAILED.")
    ] = 0.0,
    job_expire_probability: Annotated[
        float,
        typer.Option(help="Probability that a job turns EXPIRED after its first results page."),
    ] = 0.0,
    data_availability_date: Annotated[
        datetime | None,
        typer.Option(
            help="Fixed data-availability watermark of jobs (UTC); default now minus --data-lag."
        ),
    ] = None,
    data_lag: Annotated[
        float, typer.Option(help="Hours the jobs' data-availability watermark trails the clock.")
    ] = 2.0,
) -> None:
    """Run the Genesys Cloud simulator on 127.0.0.1 until Ctrl-C."""
    script = load_fault_script(fault_script) if fault_script else ()
    watermark = None
    if data_availability_date is not None:
        watermark = (
            data_availability_date.replace(tzinfo=UTC)
            if data_availability_date.tzinfo is None
            else data_availability_date
        )
    try:
        config = SimConfig(
            seed=seed,
            port=port,
            clients=_clients(client),
            token_ttl=token_ttl,
            time_scale=time_scale,
            surveys_per_day=surveys_per_day,
            first_day=date(first_day.year, first_day.month, first_day.day),
            last_day=date(last_day.year, last_day.month, last_day.day),
            agent_count=agents,
            queue_count=queues,
            deleted_fraction=deleted_fraction,
            rate_limit_per_minute=rate_limit,
            denied_permissions=frozenset(deny),
            list_max_page_size=list_max_page_size,
            unstable_paging=unstable_paging,
            details_page_size_clamp=details_page_size_clamp,
            data_availability_date=watermark,
            data_lag=timedelta(hours=data_lag),
            max_concurrent_jobs=max_concurrent_jobs,
            job_run_seconds=job_run_seconds,
            job_ttl_seconds=job_ttl,
            job_results_default_page_size=job_page_size,
            job_results_max_page_size=job_page_size,
            job_fail_probability=job_fail_probability,
            job_expire_probability=job_expire_probability,
            latency=_latency(latency, realistic_latency),
            fault_rates=_fault_rates(fault_rate),
            fault_script=script,
            fault_retry_after=fault_retry_after,
            long_retry_after=long_retry_after,
            slow_seconds=slow_seconds,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config))


async def _serve(config: SimConfig) -> None:
    simulator = Simulator(config)
    await simulator.start()
    try:
        typer.echo(f"Simulator running at {simulator.base_url} (API and /oauth/token)")
        for client_id, secret in config.clients.items():
            typer.echo(f"  client id: {client_id}  secret: {secret}")
        typer.echo(f"  stats: {simulator.base_url}/_sim/stats")
        typer.echo("Press Ctrl-C to stop.")
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
