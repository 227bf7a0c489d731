"""The benchmark's targets, judged from a scenario's figures and printed, never asserted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """One target: ``passed`` is ``None`` for a figure reported without a target."""

    target: str
    measured: str
    passed: bool | None


def _runs(report: dict[str, Any]) -> dict[str, Result]:
    return {run["name"]: run for run in report["runs"] if "skipped" not in run}


def _wall_per_1000(run: Result) -> float:
    """Return a run's wall seconds per 1,000 surveys, the latency-bound estimate if it has one."""
    value = run.get("latency_bound_wall_seconds_per_1000_surveys")
    return float(value if value is not None else run["wall_seconds_per_1000_surveys"])


def _rate_limited_targets(report: dict[str, Any], runs: dict[str, Result]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    harvester = runs.get("harvester")
    if harvester is None:
        return verdicts
    ratio = harvester["wall_over_ceiling"]
    verdicts.append(
        Verdict(
            "harvester wall time within 1.05x the ceiling",
            f"{harvester['wall_seconds']:.1f} s against {harvester['ceiling_seconds']:.1f} s "
            f"= {ratio:.3f}x",
            ratio <= 1.05,
        )
    )

    share = harvester["rate_limited_share"]
    verdicts.append(
        Verdict(
            "429s below 0.5% of requests",
            f"{harvester['rate_limited_429']} of {harvester['requests_total']} = {share:.3%}",
            share < 0.005,
        )
    )

    per_survey = harvester["requests_per_survey"]
    bound = harvester["requests_per_survey_bound"]
    others = {
        endpoint: count
        for endpoint, count in harvester["requests"].items()
        if endpoint not in ("survey", "evaluation")
    }
    verdicts.append(
        Verdict(
            "requests per survey at most (1 + evaluations per survey) x 1.01",
            f"{per_survey:.4f} against {bound:.4f} (evaluations per survey "
            f"{harvester['evaluations_per_survey']:.4f}; survey and evaluation reads alone, "
            f"404s included, need {harvester['requests_per_survey_minimum']:.4f}; "
            f"429 retries {harvester['rate_limited_429']}; other requests {others})",
            per_survey <= bound,
        )
    )

    query = runs.get("harvester_query")
    if query is not None:
        verdicts.append(
            Verdict(
                "harvester --source query against its ceiling (no target)",
                f"{query['wall_seconds']:.1f} s against {query['ceiling_seconds']:.1f} s "
                f"= {query['wall_over_ceiling']:.3f}x, 429s {query['rate_limited_429']}",
                None,
            )
        )

    for name, run in runs.items():
        if name == "harvester" or run["contender"] in ("harvester_answers", "harvester_summary"):
            continue
        # dlt reads no evaluations, so it is set against the export that reads the same.
        reference_name = "harvester"
        if run["contender"] == "dlt_rest_api" and "harvester_answers" in runs:
            reference_name = "harvester_answers"
        peer = _wall_per_1000(run)
        own = _wall_per_1000(runs[reference_name])
        target = "harvester at least 2x faster than the sequential SDK export"
        is_target = report["scenario"] == "latency-heavy" and run["contender"] == "sdk_sequential"
        estimate = ", its latency-bound estimate" if "latency_bound_wall_seconds" in run else ""
        verdicts.append(
            Verdict(
                target
                if is_target
                else f"wall time of {name} against {reference_name} (no target)",
                f"{name} needs {peer / own:.2f}x the time of {reference_name} per 1,000 surveys "
                f"({peer:.2f} s{estimate}, against {own:.2f} s)",
                peer / own >= 2 if is_target else None,
            )
        )
    return verdicts


def _detail_targets(runs: dict[str, Result]) -> list[Verdict]:
    full, summary = runs.get("harvester"), runs.get("harvester_summary")
    if full is None or summary is None:
        return []
    ratio = full["wall_seconds"] / summary["wall_seconds"]
    ceiling_ratio = full["ceiling_seconds"] / summary["ceiling_seconds"]
    return [
        Verdict(
            "--detail summary at least 50x faster than full",
            f"{full['wall_seconds']:.1f} s against {summary['wall_seconds']:.1f} s = {ratio:.1f}x "
            f"(ceilings {ceiling_ratio:.1f}x; {summary['requests_total']} requests, of which "
            f"{summary['requests'].get('users', 0)} users and "
            f"{summary['requests'].get('queues', 0)} queues lookups)",
            ratio >= 50,
        )
    ]


def _cpu_targets(runs: dict[str, Result]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    harvester = runs.get("harvester")
    if harvester is not None:
        per_survey = harvester["cpu_seconds_per_1000_surveys"]
        verdicts.append(
            Verdict(
                "harvester CPU below 0.5 ms per survey",
                f"{per_survey:.3f} ms per survey over {harvester['surveys_exported']:,} surveys",
                per_survey < 0.5,
            )
        )
    same_range = runs.get("harvester@1d")
    for name, run in runs.items():
        if same_range is None or not name.endswith("@1d") or name == "harvester@1d":
            continue
        ratio = run["cpu_seconds_per_1000_surveys"] / same_range["cpu_seconds_per_1000_surveys"]
        is_target = run["contender"] == "sdk_sequential"
        verdicts.append(
            Verdict(
                "harvester at least 5x less CPU per survey than the SDK export"
                if is_target
                else f"CPU against {name}",
                f"{ratio:.1f}x ({same_range['cpu_seconds_per_1000_surveys']:.3f} against "
                f"{run['cpu_seconds_per_1000_surveys']:.3f} ms per survey, same first day)",
                ratio >= 5 if is_target else None,
            )
        )
    return verdicts


def _scale_targets(report: dict[str, Any], runs: dict[str, Result]) -> list[Verdict]:
    ordered = sorted(runs.values(), key=lambda run: run["surveys_exported"])
    if not ordered:
        return []
    largest = ordered[-1]
    points = ", ".join(
        f"{run['surveys_exported']:,} surveys {run['peak_rss_mib']:.1f} MiB" for run in ordered
    )
    verdicts = [
        Verdict(
            "peak RSS below 150 MiB at the largest export",
            f"{largest['peak_rss_mib']:.1f} MiB at {largest['surveys_exported']:,} surveys ({points})",
            largest["peak_rss_mib"] < 150,
        )
    ]
    if len(ordered) >= 2:
        previous = ordered[-2]
        growth = largest["peak_rss_mib"] / previous["peak_rss_mib"] - 1
        verdicts.append(
            Verdict(
                "peak RSS growth below 20% from the second-largest to the largest export",
                f"{growth:+.1%} ({previous['peak_rss_mib']:.1f} -> {largest['peak_rss_mib']:.1f} MiB)",
                growth < 0.20,
            )
        )
    simulator = report["simulator"]
    verdicts.append(
        Verdict(
            "simulator peak RSS while serving the org (no target)",
            f"{simulator['peak_rss_mib']} MiB",
            None,
        )
    )
    return verdicts


def _output_targets(runs: dict[str, Result]) -> list[Verdict]:
    verdicts = []
    for name, run in runs.items():
        output = run["output"]
        verdicts.append(
            Verdict(
                f"{name} output equals the ground truth",
                f"{output['written']:,} written, {output['expected']:,} expected, "
                f"missing {output['missing']}, unexpected {output['unexpected']}, "
                f"duplicates {output['duplicates']}, field mismatches {output['mismatches'] or 0}"
                + ("" if run["exit_code"] == 0 else f", exit code {run['exit_code']}"),
                output["matches"] and run["exit_code"] == 0,
            )
        )
    return verdicts


def judge(report: dict[str, Any]) -> list[Verdict]:
    """Return the verdicts of the scenario's targets."""
    runs = _runs(report)
    by_scenario: dict[str, Callable[[], list[Verdict]]] = {
        "realistic": lambda: _rate_limited_targets(report, runs) + _detail_targets(runs),
        "latency-heavy": lambda: _rate_limited_targets(report, runs),
        "cpu": lambda: _cpu_targets(runs),
        "scale": lambda: _scale_targets(report, runs),
        "smoke": lambda: _rate_limited_targets(report, runs),
    }
    targets = by_scenario.get(report["scenario"], list)()
    return targets + _output_targets(runs)
