"""The programs the benchmark compares, each run as its own process.

``harvester`` is the product under test with its own options; ``sdk_sequential`` and
``dlt_rest_api`` are the peers in this package. A contender whose package is not installed
is reported as skipped.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks.truth import OutputRecord, read_flat_output, read_harvester_output


@dataclasses.dataclass(frozen=True, slots=True)
class Invocation:
    """The simulator URL, date range, output folder and rate settings of one contender run."""

    api_url: str
    start: str
    end: str
    out: Path
    work: Path
    time_scale: float
    #: Client-side limit of the harvester: requests per ``rate_period`` seconds.
    rate: float
    rate_period: float


@dataclasses.dataclass(frozen=True, slots=True)
class Contender:
    """One program and its options."""

    key: str
    label: str
    program: str  # "harvester", "sdk" or "dlt"
    harvester_args: tuple[str, ...] = ()
    #: Content of the output: "full", "answers" or "summary" (the harvester's --detail levels).
    detail: str = "full"
    #: Module that must be importable for the contender to run.
    requires: str | None = None
    #: Sends one request at a time, so unscaled CPU time adds to its wall time.
    sequential: bool = False

    def available(self) -> bool:
        """Return whether the contender's package is installed."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None

    def command(self, run: Invocation) -> list[str]:
        """Return the command line of one run."""
        if self.program == "harvester":
            return [
                sys.executable,
                "-m",
                "harvester",
                "export",
                "--from",
                run.start,
                "--to",
                run.end,
                "--out",
                str(run.out),
                "--api-url",
                run.api_url,
                "--rate",
                f"{run.rate:g}",
                "--rate-period",
                f"{run.rate_period:g}",
                "--log-level",
                "error",
                "--no-progress",
                *self.harvester_args,
            ]
        module = {
            "sdk": "benchmarks.contenders.sdk_sequential",
            "dlt": "benchmarks.contenders.dlt_rest_api",
        }[self.program]
        command = [
            sys.executable,
            "-m",
            module,
            "--api-url",
            run.api_url,
            "--from",
            run.start,
            "--to",
            run.end,
            "--out",
            str(run.out / "surveys.ndjson"),
        ]
        if self.program == "sdk":
            command += ["--time-scale", f"{run.time_scale:g}"]
        else:
            command += ["--work", str(run.work / "dlt")]
        return command

    def read_output(self, out: Path) -> Iterator[OutputRecord]:
        """Read what the run wrote."""
        if self.program == "harvester":
            return read_harvester_output(out, self.detail)
        return read_flat_output(out / "surveys.ndjson")

    @property
    def lists_deleted_surveys(self) -> bool:
        """Whether the output has surveys whose GET fails: only an analytics-only export does."""
        return self.detail == "summary"

    @property
    def evaluations(self) -> str:
        """``"read"`` when the output contains evaluations read one by one, else ``"listed"``."""
        return "read" if self.detail == "full" else "listed"


CONTENDERS: dict[str, Contender] = {
    contender.key: contender
    for contender in (
        Contender("harvester", "harvester export (defaults)", "harvester"),
        Contender(
            "sdk_sequential",
            "official SDK, sequential",
            "sdk",
            requires="PureCloudPlatformClientV2",
            sequential=True,
        ),
        Contender(
            "dlt_rest_api",
            "dlt rest_api, parallelized (surveys only)",
            "dlt",
            detail="answers",
            requires="dlt",
        ),
        Contender(
            "harvester_c1",
            "harvester export --concurrency 1",
            "harvester",
            ("--concurrency", "1"),
            sequential=True,
        ),
        Contender(
            "harvester_query",
            "harvester export --source query",
            "harvester",
            ("--source", "query"),
        ),
        Contender(
            "harvester_answers",
            "harvester export --detail answers",
            "harvester",
            ("--detail", "answers"),
            detail="answers",
        ),
        Contender(
            "harvester_summary",
            "harvester export --detail summary",
            "harvester",
            ("--detail", "summary"),
            detail="summary",
        ),
    )
}
