"""Configuration of the simulator: every knob, with defaults that behave like a quiet real org."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, get_args

#: Endpoint names used for statistics, latency, permissions and faults.
Endpoint = Literal[
    "token",
    "details_query",
    "details_get",
    "jobs_submit",
    "jobs_status",
    "jobs_results",
    "jobs_delete",
    "jobs_availability",
    "survey",
    "conversation_surveys",
    "evaluation",
    "evaluations_query",
    "survey_form",
    "evaluation_form",
    "users",
    "queues",
    "limits",
]
ENDPOINTS: Final[frozenset[str]] = frozenset(get_args(Endpoint))

#: Faults that change one HTTP response.
ResponseFaultKind = Literal[
    "429",
    "429_no_retry_after",
    "429_long",
    "500_json",
    "503_html",
    "drop",
    "truncated",
    "slow",
    "token_expire",
]
#: Faults that change the fate of one analytics job; they apply to ``jobs_submit`` only.
JobFaultKind = Literal["job_fail", "job_expire"]
FaultKind = Literal[ResponseFaultKind, JobFaultKind]
RESPONSE_FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(ResponseFaultKind))
JOB_FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(JobFaultKind))
FAULT_KINDS: Final[frozenset[str]] = RESPONSE_FAULT_KINDS | JOB_FAULT_KINDS

#: Latency ranges in seconds (before time scaling) close to what the real API shows.
REALISTIC_LATENCY: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "token": (0.1, 0.3),
        "details_query": (0.8, 2.0),
        "details_get": (0.3, 0.8),
        "jobs_submit": (0.2, 0.5),
        "jobs_status": (0.1, 0.3),
        "jobs_results": (0.5, 1.5),
        "jobs_delete": (0.1, 0.3),
        "jobs_availability": (0.1, 0.3),
        "survey": (0.15, 0.4),
        "conversation_surveys": (0.15, 0.4),
        "evaluation": (0.15, 0.4),
        "evaluations_query": (0.2, 0.5),
        "survey_form": (0.1, 0.3),
        "evaluation_form": (0.1, 0.3),
        "users": (0.1, 0.3),
        "queues": (0.1, 0.3),
        "limits": (0.1, 0.3),
    }
)

DEFAULT_CLIENTS: Final[Mapping[str, str]] = MappingProxyType({"sim-client": "sim-secret"})


@dataclass(frozen=True)
class Fault:
    """One scripted fault: the ``at``-th request (1-based) to ``endpoint`` gets ``kind``.

    Requests are numbered on arrival, in the same order as the ``requests`` counter of the
    statistics. A request that is rejected before the fault stage (401, rate limit 429, 403)
    uses up its number, so the scripted fault is then not injected. The job kinds
    ``job_fail`` and ``job_expire`` count submitted jobs on ``jobs_submit`` instead.
    """

    endpoint: str
    kind: str
    at: int

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            msg = f"unknown fault endpoint {self.endpoint!r}; expected one of {sorted(ENDPOINTS)}"
            raise ValueError(msg)
        if self.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            raise ValueError(msg)
        if self.kind in JOB_FAULT_KINDS and self.endpoint != "jobs_submit":
            msg = f"fault kind {self.kind!r} applies to endpoint 'jobs_submit' only"
            raise ValueError(msg)
        if self.at < 1:
            msg = f"fault position must be 1 or more, got {self.at}"
            raise ValueError(msg)


def load_fault_script(path: Path) -> tuple[Fault, ...]:
    """Read faults from a JSON file holding a list of ``{"endpoint", "kind", "at"}`` objects."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        msg = f"{path}: expected a JSON list of fault objects"
        raise ValueError(msg)
    faults: list[Fault] = []
    for item in raw:
        if not isinstance(item, dict):
            msg = f"{path}: expected an object per fault, got {item!r}"
            raise ValueError(msg)
        faults.append(
            Fault(endpoint=str(item["endpoint"]), kind=str(item["kind"]), at=int(item["at"]))
        )
    return tuple(faults)


@dataclass(frozen=True)
class SimConfig:
    """Every simulator knob. Durations are in seconds of simulated time unless noted.

    ``time_scale`` divides every wait the simulator imposes or reports: latency, the rate-limit
    window, ``Retry-After`` values, token lifetime, job run time and job expiry. With
    ``time_scale=60`` a 60-second rate-limit window lasts one real second and a token with
    ``token_ttl=86400`` lives 1440 real seconds. Values on the wire (``expires_in``,
    ``Retry-After``) are real seconds, so a client that trusts them stays correct.
    """

    seed: int = 7
    port: int = 0
    #: OAuth clients as client id -> client secret.
    clients: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CLIENTS))
    #: Lifetime of an access token.
    token_ttl: int = 86400
    time_scale: float = 1.0

    # Synthetic org.
    #: Mean number of surveys per UTC day.
    surveys_per_day: float = 200.0
    #: First and last UTC day with conversations. Days outside this range have none.
    first_day: date = date(2025, 1, 1)
    last_day: date = date(2027, 12, 31)
    #: Number of agents; 0 sizes it from ``surveys_per_day``.
    agent_count: int = 0
    queue_count: int = 10
    #: Share of surveys and of evaluations that analytics lists but whose GET returns 404.
    deleted_fraction: float = 0.01
    #: Days kept in the in-memory cache of generated days.
    day_cache_size: int = 8

    # Rate limit and permissions.
    #: Requests per token per 60 seconds, as a sliding window; 0 turns the limit off.
    rate_limit_per_minute: int = 300
    #: Permissions the client's role lacks, e.g. ``{"quality:survey:view"}``.
    denied_permissions: frozenset[str] = frozenset()
    #: Largest pageSize of /users, /routing/queues and /quality/evaluations/query; larger values
    #: are clamped silently.
    list_max_page_size: int = 100

    # Analytics.
    #: Serve details-query pages from a list that changes between pages; see ``analytics.py``.
    unstable_paging: bool = False
    #: Serve at most this many conversations per details-query page, ignoring a larger pageSize
    #: without an error, as some list endpoints do; 0 serves pageSize as asked.
    details_page_size_clamp: int = 0
    #: Fixed data-availability watermark of jobs; ``None`` means now minus ``data_lag``.
    data_availability_date: datetime | None = None
    data_lag: timedelta = timedelta(hours=2)
    max_concurrent_jobs: int = 5
    #: Time from job submission to FULFILLED (or FAILED); the first 20% is spent QUEUED.
    job_run_seconds: float = 2.0
    #: Time a finished job's results stay available before the job turns EXPIRED.
    job_ttl_seconds: float = 86400.0
    job_results_default_page_size: int = 1000
    job_results_max_page_size: int = 1000
    #: Probability that a submitted job ends FAILED.
    job_fail_probability: float = 0.0
    #: Probability that a job turns EXPIRED right after serving its first results page.
    job_expire_probability: float = 0.0

    # Latency and faults.
    #: Per-endpoint latency as (low, high) seconds, drawn uniformly; missing endpoints get none.
    latency: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: Fault probabilities keyed ``"kind"`` (every endpoint) or ``"endpoint:kind"``.
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    fault_script: tuple[Fault, ...] = ()
    #: ``Retry-After`` of an injected ``429`` fault.
    fault_retry_after: int = 2
    #: ``Retry-After`` of an injected ``429_long`` fault; above 60 like a long real back-off.
    long_retry_after: int = 120
    #: Extra delay of a ``slow`` fault.
    slow_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            msg = f"time_scale must be positive, got {self.time_scale}"
            raise ValueError(msg)
        if self.surveys_per_day < 0:
            msg = f"surveys_per_day must not be negative, got {self.surveys_per_day}"
            raise ValueError(msg)
        if self.first_day > self.last_day:
            msg = f"first_day {self.first_day} is after last_day {self.last_day}"
            raise ValueError(msg)
        if self.token_ttl < 1:
            msg = f"token_ttl must be at least 1 second, got {self.token_ttl}"
            raise ValueError(msg)
        for name in self.latency:
            if name not in ENDPOINTS:
                msg = f"unknown latency endpoint {name!r}; expected one of {sorted(ENDPOINTS)}"
                raise ValueError(msg)
        for key, probability in self.fault_rates.items():
            endpoint, _, kind = key.rpartition(":")
            if endpoint and endpoint not in ENDPOINTS:
                msg = f"unknown endpoint in fault rate {key!r}"
                raise ValueError(msg)
            if kind not in FAULT_KINDS:
                msg = f"unknown fault kind in fault rate {key!r}"
                raise ValueError(msg)
            if not 0.0 <= probability <= 1.0:
                msg = f"fault rate {key!r} must be within 0..1, got {probability}"
                raise ValueError(msg)

    def scaled(self, seconds: float) -> float:
        """Convert simulated seconds into real seconds."""
        return seconds / self.time_scale
