"""Run one benchmark scenario: start the simulator, run each contender, report and save figures.

Usage::

    python -m benchmarks.run --scenario realistic [--scale 0.5] [--contenders harvester,sdk_sequential]
    python -m benchmarks.run --smoke

The simulator runs in its own process, and each contender runs alone as another one, so a
contender's CPU time and peak RSS are its own. Request counts and 429s come from the
simulator's counters. The figures go to ``benchmarks/results/SCENARIO.json``, and targets are
printed as verdicts, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from benchmarks.contenders import CONTENDERS, Contender, Invocation
from benchmarks.processes import SimulatorProcess, run_measured
from benchmarks.scenarios import (
    SCENARIOS,
    Run,
    Scenario,
    option_text,
    range_end,
    range_start,
)
from benchmarks.truth import GroundTruth, compare, count_harvester_errors, load_ground_truth
from benchmarks.verdicts import judge
from harvester.settings import format_timestamp

REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLIENT_ID, CLIENT_SECRET = "sim-client", "sim-secret"
#: Maximum wall time of one contender run before it is stopped, in seconds.
RUN_TIMEOUT = 900.0
#: RSS samples kept per run in the JSON file.
TRACE_POINTS = 40


def machine_info() -> dict[str, Any]:
    """Describe the machine: cores, memory, Python and the load when the run started."""
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    return {
        "cpus": os.cpu_count(),
        "memory": free.strip().splitlines()[1] if free else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def thin(trace: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """Keep at most :data:`TRACE_POINTS` evenly spaced samples of an RSS trace."""
    if len(trace) <= TRACE_POINTS:
        return list(trace)
    step = len(trace) / TRACE_POINTS
    return [trace[int(index * step)] for index in range(TRACE_POINTS)] + [trace[-1]]


def _counter_difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    difference = Counter(after)
    difference.subtract(before)
    return {key: value for key, value in sorted(difference.items()) if value}


@dataclasses.dataclass
class Benchmark:
    """One scenario run: the simulator, the ground truth and every contender run."""

    scenario: Scenario
    factor: float
    work: Path
    selected: set[str] | None
    timeout: float = RUN_TIMEOUT
    #: Keep each run's output files in the work folder instead of deleting them after the check.
    keep_outputs: bool = False

    def run(self) -> dict[str, Any]:
        """Run every selected contender and return the figures as a JSON-ready dictionary."""
        scenario = self.scenario
        spec = scenario.simulator(self.factor)
        longest = max(run.days or scenario.days for run in scenario.runs)
        start = range_start()

        began = time.perf_counter()
        truth = load_ground_truth(spec.config(), start, range_end(longest))
        truth_seconds = time.perf_counter() - began
        print(
            f"ground truth: {len(truth.surveys):,} Finished surveys "
            f"({truth.readable():,} readable) in {truth_seconds:.1f} s",
            flush=True,
        )

        results: list[dict[str, Any]] = []
        simulator = SimulatorProcess(spec, self.work)
        with simulator:
            for run in scenario.runs:
                if self.selected is not None and run.contender not in self.selected:
                    continue
                contender = CONTENDERS[run.contender]
                if not contender.available():
                    results.append(self._skipped(run, contender))
                    continue
                results.append(self._run_one(run, contender, simulator, truth, longest))
        usage = simulator.usage
        simulator_figures = {
            "peak_rss_mib": None if usage is None else round(usage.peak_rss_mib, 1),
            "cpu_seconds": None if usage is None else round(usage.cpu_seconds, 1),
            "command": " ".join(spec.command()),
        }
        report: dict[str, Any] = {
            "scenario": scenario.name,
            "description": scenario.description,
            "scale": self.factor,
            "settings": {
                "from": option_text(start),
                "days": scenario.days,
                "surveys_per_day": spec.surveys_per_day,
                "time_scale": scenario.time_scale,
                "rate_limit_per_minute": scenario.rate_limit_per_minute,
                "latency_factor": scenario.latency_factor,
                "client_rate": scenario.client_rate(),
            },
            "truth": {
                "finished_surveys": len(truth.surveys),
                "readable_surveys": truth.readable(),
                "evaluation_reads": truth.evaluation_reads,
                "seconds": round(truth_seconds, 1),
            },
            "simulator": simulator_figures,
            "runs": results,
        }
        report["verdicts"] = [dataclasses.asdict(verdict) for verdict in judge(report)]
        return report

    def _skipped(self, run: Run, contender: Contender) -> dict[str, Any]:
        reason = f"package {contender.requires!r} is not installed"
        print(f"{run.name()}: skipped, {reason}", flush=True)
        return {"name": run.name(), "contender": contender.key, "skipped": reason}

    def _run_one(
        self,
        run: Run,
        contender: Contender,
        simulator: SimulatorProcess,
        truth: GroundTruth,
        longest: float,
    ) -> dict[str, Any]:
        scenario = self.scenario
        days = run.days or scenario.days
        end = range_end(days)
        run_truth = truth if days == longest else truth.within(format_timestamp(end))
        out = self.work / run.name().replace("@", "-")
        out.mkdir()
        home = self.work / "home"
        home.mkdir(exist_ok=True)
        rate, rate_period = scenario.client_rate()
        invocation = Invocation(
            api_url=simulator.base_url,
            start=option_text(range_start()),
            end=option_text(end),
            out=out,
            work=out,
            time_scale=scenario.time_scale,
            rate=rate,
            rate_period=rate_period,
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPOSITORY),
            "GENESYS_CLOUD_CLIENT_ID": CLIENT_ID,
            "GENESYS_CLOUD_CLIENT_SECRET": CLIENT_SECRET,
        }
        print(
            f"{run.name()}: {contender.label}, {invocation.start} to {invocation.end} ...",
            flush=True,
        )

        stats_before = simulator.stats()
        simulator_cpu_before = simulator.cpu_seconds()
        load_before = os.getloadavg()[0]
        usage = run_measured(
            contender.command(invocation),
            env=env,
            cwd=home,
            log_path=out / "run.log",
            timeout=self.timeout,
            companion_pid=simulator.pid,
        )
        simulator_usage = simulator.cpu_seconds() - simulator_cpu_before
        stats_after = simulator.stats()
        load_after = os.getloadavg()[0]

        comparison = compare(
            contender.read_output(out),
            run_truth,
            include_deleted=contender.lists_deleted_surveys,
            evaluations=contender.evaluations,
            check_fields=scenario.name != "scale",
        )
        error_lines = count_harvester_errors(out) if contender.program == "harvester" else None
        requests = _counter_difference(stats_after["requests"], stats_before["requests"])
        responses = _counter_difference(stats_after["responses"], stats_before["responses"])
        log_tail = (out / "run.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        if not self.keep_outputs:
            shutil.rmtree(out / "surveys", ignore_errors=True)
            shutil.rmtree(out / "dlt", ignore_errors=True)

        figures = run_figures(
            scenario,
            contender,
            usage_wall=usage.wall_seconds,
            usage_cpu=usage.cpu_seconds,
            simulator_cpu=simulator_usage,
            requests=requests,
            responses=responses,
            exported=comparison.expected - comparison.missing,
            truth=run_truth,
        )
        result: dict[str, Any] = {
            "name": run.name(),
            "contender": contender.key,
            "label": contender.label,
            "range": [invocation.start, invocation.end],
            "exit_code": usage.exit_code,
            "wall_seconds": round(usage.wall_seconds, 2),
            "cpu_seconds": round(usage.cpu_seconds, 2),
            "user_seconds": round(usage.user_seconds, 2),
            "system_seconds": round(usage.system_seconds, 2),
            "peak_rss_mib": round(usage.peak_rss_mib, 1),
            **figures,
            "requests": requests,
            "responses": responses,
            "error_lines": error_lines,
            "output": comparison.to_json(),
            "simulator_cpu_seconds": round(simulator_usage, 2),
            "load_average": [round(load_before, 2), round(load_after, 2)],
            "rss_trace": thin(usage.rss_trace),
            "simulator_rss_trace": thin(usage.companion_rss_trace),
        }
        if usage.exit_code != 0:
            result["log_tail"] = log_tail
        print(format_run(result), flush=True)
        return result


def run_figures(
    scenario: Scenario,
    contender: Contender,
    *,
    usage_wall: float,
    usage_cpu: float,
    simulator_cpu: float,
    requests: dict[str, int],
    responses: dict[str, int],
    exported: int,
    truth: GroundTruth,
) -> dict[str, Any]:
    """Derive the ceiling, the request economy and the cost per survey of one run."""
    total = sum(requests.values())
    rejected = responses.get("429", 0)
    needed = total - rejected
    per_survey = max(exported, 1)
    figures: dict[str, Any] = {
        "surveys_exported": exported,
        "requests_total": total,
        "rate_limited_429": rejected,
        "rate_limited_share": round(rejected / total, 5) if total else 0.0,
        "requests_per_survey": round(total / per_survey, 4),
        "cpu_seconds_per_1000_surveys": round(usage_cpu / per_survey * 1000, 3),
        "wall_seconds_per_1000_surveys": round(usage_wall / per_survey * 1000, 3),
    }

    survey_reads = len(truth.surveys)
    evaluations_per_survey = truth.evaluation_reads / per_survey
    if contender.detail == "full":
        figures["evaluations_per_survey"] = round(evaluations_per_survey, 4)
        figures["requests_per_survey_bound"] = round((1.0 + evaluations_per_survey) * 1.01, 4)
        figures["requests_per_survey_minimum"] = round(
            (survey_reads + truth.evaluation_reads) / per_survey, 4
        )

    if scenario.rate_limit_per_minute > 0:
        ceiling = needed / scenario.rate_limit_per_minute * 60 / scenario.time_scale
        figures["ceiling_seconds"] = round(ceiling, 2)
        figures["wall_over_ceiling"] = round(usage_wall / ceiling, 3) if ceiling else None

    if contender.sequential and scenario.time_scale > 1:
        # One request at a time: the client's and the simulator's CPU time lie on the critical
        # path unscaled, while latency is divided by time_scale. Scaling that CPU time down as
        # well estimates the wall time of a real-time run, expressed in scaled seconds.
        unscaled = (usage_cpu + simulator_cpu) * (1 - 1 / scenario.time_scale)
        latency_bound = max(usage_wall - unscaled, 0.0)
        figures["latency_bound_wall_seconds"] = round(latency_bound, 2)
        figures["latency_bound_wall_seconds_per_1000_surveys"] = round(
            latency_bound / per_survey * 1000, 3
        )
    return figures


def format_run(result: dict[str, Any]) -> str:
    """Return the lines printed for one finished run."""
    output = result["output"]
    verdict = "equals ground truth" if output["matches"] else f"DIFFERS: {output}"
    lines = [
        f"  wall {result['wall_seconds']:.1f} s"
        + (
            f", ceiling {result['ceiling_seconds']:.1f} s ({result['wall_over_ceiling']:.3f}x)"
            if "ceiling_seconds" in result
            else ""
        )
        + (
            f", latency-bound estimate {result['latency_bound_wall_seconds']:.1f} s"
            if "latency_bound_wall_seconds" in result
            else ""
        ),
        f"  {result['surveys_exported']:,} surveys, {result['requests_total']:,} requests "
        f"({result['requests_per_survey']:.4f} per survey"
        + (
            f", bound {result['requests_per_survey_bound']:.4f}"
            if "requests_per_survey_bound" in result
            else ""
        )
        + f"), 429s {result['rate_limited_429']:,}",
        f"  peak RSS {result['peak_rss_mib']:.1f} MiB, CPU {result['cpu_seconds']:.2f} s "
        f"({result['cpu_seconds_per_1000_surveys']:.3f} s per 1,000 surveys), exit {result['exit_code']}",
        f"  requests by endpoint {result['requests']}",
        f"  output {verdict}",
    ]
    return "\n".join(lines)


def print_summary(report: dict[str, Any]) -> None:
    """Print the table of runs and the verdicts."""
    print(f"\n== {report['scenario']}: {report['description']}")
    header = f"{'run':28} {'wall s':>9} {'x ceiling':>9} {'req/srv':>8} {'429s':>6} {'RSS MiB':>8} {'CPU s/1k':>9}  output"
    print(header)
    for result in report["runs"]:
        if "skipped" in result:
            print(f"{result['name']:28} skipped: {result['skipped']}")
            continue
        ratio = result.get("wall_over_ceiling")
        print(
            f"{result['name']:28} {result['wall_seconds']:9.1f} "
            f"{'-' if ratio is None else f'{ratio:.3f}':>9} {result['requests_per_survey']:8.4f} "
            f"{result['rate_limited_429']:6d} {result['peak_rss_mib']:8.1f} "
            f"{result['cpu_seconds_per_1000_surveys']:9.3f}  "
            f"{'equal' if result['output']['matches'] else 'DIFFERS'}"
        )
    simulator = report["simulator"]
    print(f"simulator: peak RSS {simulator['peak_rss_mib']} MiB, CPU {simulator['cpu_seconds']} s")
    print("verdicts:")
    for verdict in report["verdicts"]:
        print(f"  {format_verdict(verdict)}")


def format_verdict(verdict: dict[str, Any]) -> str:
    """Return one verdict as a line: PASS, MISS or INFO, the target and the measurement."""
    state = {True: "PASS", False: "MISS", None: "INFO"}[verdict["passed"]]
    return f"{state} {verdict['target']}: {verdict['measured']}"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="scenario to run")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run the tiny smoke scenario (same as --scenario smoke)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the scenario's number of surveys by this factor (default 1)",
    )
    parser.add_argument(
        "--contenders",
        help=f"comma-separated contenders to run; default all of: {', '.join(CONTENDERS)}",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="folder for SCENARIO.json"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the exports and logs in the work folder"
    )
    parser.add_argument(
        "--rejudge",
        type=Path,
        metavar="JSON",
        help="judge and print the figures of an earlier run's JSON file again, with a Markdown "
        "table of its runs, without running",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=RUN_TIMEOUT,
        help="seconds after which a contender run is stopped (default %(default)s)",
    )
    arguments = parser.parse_args(argv)

    if arguments.smoke:
        arguments.scenario = "smoke"
    if arguments.scenario is None and arguments.rejudge is None:
        parser.error("give --scenario NAME or --smoke")
    if arguments.scale <= 0:
        parser.error(f"--scale must be positive, got {arguments.scale}")
    if arguments.contenders:
        unknown = set(arguments.contenders.split(",")) - set(CONTENDERS)
        if unknown:
            parser.error(
                f"unknown contenders {sorted(unknown)}; choose from {', '.join(CONTENDERS)}"
            )
    return arguments


def markdown_table(report: dict[str, Any]) -> str:
    """Return the runs of a report as a Markdown table, as the README shows them."""
    lines = [
        "| run | surveys | wall s | ceiling s | x ceiling | req/survey | 429s "
        "| peak RSS MiB | CPU ms/survey | output |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        if "skipped" in run:
            lines.append(f"| {run['name']} | skipped: {run['skipped']} |||||||||")
            continue
        wall = f"{run['wall_seconds']:.1f}"
        if "latency_bound_wall_seconds" in run:
            wall += f" (estimate {run['latency_bound_wall_seconds']:.1f})"
        ceiling = run.get("ceiling_seconds")
        ratio = run.get("wall_over_ceiling")
        lines.append(
            f"| {run['name']} | {run['surveys_exported']:,} | {wall} "
            f"| {'-' if ceiling is None else f'{ceiling:.1f}'} "
            f"| {'-' if ratio is None else f'{ratio:.3f}'} | {run['requests_per_survey']:.4f} "
            f"| {run['rate_limited_429']:,} | {run['peak_rss_mib']:.1f} "
            f"| {run['cpu_seconds_per_1000_surveys']:.3f} "
            f"| {'equal' if run['output']['matches'] else 'differs'} |"
        )
    return "\n".join(lines)


def rejudge(path: Path) -> None:
    """Judge a saved report with the current targets, print it and save it again."""
    report = orjson.loads(path.read_bytes())
    report["verdicts"] = [dataclasses.asdict(verdict) for verdict in judge(report)]
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_summary(report)
    print()
    print(markdown_table(report))


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.rejudge is not None:
        rejudge(arguments.rejudge)
        return 0
    scenario = SCENARIOS[arguments.scenario]
    selected = set(arguments.contenders.split(",")) if arguments.contenders else None
    work = Path(tempfile.mkdtemp(prefix=f"bench-{scenario.name}-"))
    print(f"scenario {scenario.name}: {scenario.description}; work folder {work}", flush=True)
    machine = machine_info()
    try:
        benchmark = Benchmark(
            scenario, arguments.scale, work, selected, arguments.timeout, arguments.keep
        )
        report = {"machine": machine, **benchmark.run()}
    finally:
        if not arguments.keep:
            shutil.rmtree(work, ignore_errors=True)
    report["machine"]["load_average_after"] = os.getloadavg()
    arguments.results_dir.mkdir(parents=True, exist_ok=True)
    path = arguments.results_dir / f"{scenario.name}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_summary(report)
    print(f"figures written to {path}")
    failed = [run["name"] for run in report["runs"] if run.get("exit_code", 0) != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
