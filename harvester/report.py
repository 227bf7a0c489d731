"""``harvester report``: CSAT and NPS of an export, computed with DuckDB.

Only finished surveys count as responses. CSAT is the mean ``totalScore``. NPS is the share of
promoters (NPS answer 9 or 10) minus the share of detractors (0 to 6), in percent of the
responses with an NPS answer. Weeks are ISO weeks of the completion time in UTC.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb

from harvester.schema import SURVEYS, duckdb_columns

#: Evaluation scores are grouped in bands this many points wide.
BAND_WIDTH = 10
#: Points drawn in the CSAT against evaluation score chart; more are sampled down to this.
MAX_SCATTER_POINTS = 2000

_SCORES = """
    count(*) AS responses,
    avg(totalScore) AS csat,
    100.0 * (count(*) FILTER (npsScore >= 9) - count(*) FILTER (npsScore <= 6))
        / nullif(count(npsScore), 0) AS nps
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Scores:
    """CSAT and NPS of one group of responses."""

    label: str
    responses: int
    #: Mean total score, ``None`` when no response has one.
    csat: float | None
    #: Promoters minus detractors in percent, ``None`` when no response has an NPS answer.
    nps: float | None


@dataclasses.dataclass(frozen=True, slots=True)
class Band:
    """Responses whose conversation's mean evaluation score lies in ``[low, low + BAND_WIDTH)``."""

    low: int
    responses: int
    csat: float | None

    @property
    def label(self) -> str:
        """Return the band as text, such as ``80-90``."""
        return f"{self.low}-{self.low + BAND_WIDTH}"


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """The numbers of one export folder."""

    out: Path
    overall: Scores
    #: Surveys of other statuses, such as ``Sent``, by status; they are not responses.
    other_statuses: dict[str, int]
    first_completed: str | None
    last_completed: str | None
    weeks: list[Scores]
    queues: list[Scores]
    agents: list[Scores]
    #: Responses whose conversation has an evaluation score.
    evaluated: int
    bands: list[Band]
    #: Pearson correlation of CSAT and evaluation score, ``None`` below two pairs.
    correlation: float | None
    #: (evaluation score, CSAT) pairs, at most :data:`MAX_SCATTER_POINTS`.
    pairs: list[tuple[float, float]]


def part_files(out: Path) -> list[str]:
    """Return the survey part files of ``out``, plain and gzip, in a stable order."""
    return sorted(
        path.as_posix()
        for pattern in ("*/part-*.ndjson", "*/part-*.ndjson.gz")
        for path in (out / "surveys").glob(pattern)
    )


def build_report(out: Path, *, top: int = 10) -> Report:
    """Load the surveys of ``out`` into DuckDB and compute the report.

    :param top: how many queues and agents to keep, those with the most responses first
    """
    files = part_files(out)
    if not files:
        return _empty_report(out)
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            "CREATE TABLE surveys AS SELECT * FROM read_json("
            f"$files, format = 'newline_delimited', columns = {duckdb_columns(SURVEYS)})",
            {"files": files},
        )
        return _compute(connection, out, top)
    finally:
        connection.close()


def _empty_report(out: Path) -> Report:
    return Report(
        out=out,
        overall=Scores("all", 0, None, None),
        other_statuses={},
        first_completed=None,
        last_completed=None,
        weeks=[],
        queues=[],
        agents=[],
        evaluated=0,
        bands=[],
        correlation=None,
        pairs=[],
    )


def _compute(connection: duckdb.DuckDBPyConnection, out: Path, top: int) -> Report:
    connection.execute("CREATE VIEW responses AS SELECT * FROM surveys WHERE status = 'Finished'")
    overall = _scores(connection, "SELECT 'all' AS label, " + _SCORES + " FROM responses")[0]
    others = dict(
        _rows(
            connection,
            "SELECT status, count(*) FROM surveys WHERE status IS DISTINCT FROM 'Finished' "
            "GROUP BY status ORDER BY count(*) DESC",
        )
    )
    first, last = _rows(
        connection,
        "SELECT strftime(min(completedDate), '%Y-%m-%d'), strftime(max(completedDate), '%Y-%m-%d') "
        "FROM responses",
    )[0]
    weeks = _scores(
        connection,
        "SELECT strftime(completedDate, '%G-W%V') AS label, " + _SCORES + " FROM responses "
        "WHERE completedDate IS NOT NULL GROUP BY label ORDER BY label",
    )
    queues = _scores(connection, _by_reference("queue", "(no queue)", top))
    agents = _scores(connection, _by_reference("agent", "(no agent)", top))

    connection.execute(
        "CREATE VIEW evaluated AS SELECT totalScore AS csat, "
        "list_avg([e.totalScore FOR e IN evaluations]) AS evaluation FROM responses"
    )
    evaluated_view = "FROM evaluated WHERE evaluation IS NOT NULL AND csat IS NOT NULL"
    evaluated, correlation = _rows(
        connection, f"SELECT count(*), corr(csat, evaluation) {evaluated_view}"
    )[0]
    bands = [
        Band(int(low), int(responses), _float(csat))
        for low, responses, csat in _rows(
            connection,
            f"SELECT least(floor(evaluation / {BAND_WIDTH}) * {BAND_WIDTH}, {100 - BAND_WIDTH}) AS low, "
            f"count(*), avg(csat) {evaluated_view} GROUP BY low ORDER BY low",
        )
    ]
    pairs = [
        (float(evaluation), float(csat))
        for evaluation, csat in _rows(
            connection,
            f"SELECT evaluation, csat {evaluated_view} "
            f"USING SAMPLE reservoir({MAX_SCATTER_POINTS} ROWS) REPEATABLE (1)",
        )
    ]
    return Report(
        out=out,
        overall=overall,
        other_statuses={str(status): int(count) for status, count in others.items()},
        first_completed=first,
        last_completed=last,
        weeks=weeks,
        queues=queues,
        agents=agents,
        evaluated=int(evaluated),
        bands=bands,
        correlation=_float(correlation),
        pairs=pairs,
    )


def _by_reference(column: str, missing: str, top: int) -> str:
    """Group responses by ``queue`` or ``agent`` id, labelled with the name when one is known."""
    return (
        f"SELECT coalesce(any_value({column}.name), {column}.id, '{missing}') AS label, "
        + _SCORES
        + f" FROM responses GROUP BY {column}.id ORDER BY responses DESC, label LIMIT {int(top)}"
    )


def _scores(connection: duckdb.DuckDBPyConnection, query: str) -> list[Scores]:
    return [
        Scores(str(label), int(responses), _float(csat), _float(nps))
        for label, responses, csat, nps in _rows(connection, query)
    ]


def _rows(connection: duckdb.DuckDBPyConnection, query: str) -> list[tuple[Any, ...]]:
    return connection.execute(query).fetchall()


def _float(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float):
        msg = f"expected a number from DuckDB, got {value!r}"
        raise TypeError(msg)
    return float(value)


# Terminal text


def format_number(value: float | None) -> str:
    """Format a CSAT or NPS value with one decimal, or ``-`` when there is none."""
    return "-" if value is None else f"{value:.1f}"


def format_report(report: Report) -> str:
    """Render the report as plain text tables for the terminal."""
    overall = report.overall
    lines = [f"CSAT report of {report.out}", ""]
    if overall.responses == 0:
        lines.append("No finished surveys: nothing to report.")
        return "\n".join(lines)
    period = f" completed {report.first_completed} to {report.last_completed}"
    lines.append(f"responses  {overall.responses:,}{period}")
    lines.append(f"CSAT       {format_number(overall.csat)}  (mean totalScore)")
    lines.append(
        f"NPS        {format_number(overall.nps)}  (promoters 9-10 minus detractors 0-6, in %)"
    )
    if report.other_statuses:
        others = ", ".join(f"{status} {count:,}" for status, count in report.other_statuses.items())
        lines.append(f"not counted, other statuses: {others}")
    lines += ["", *_table("ISO week", report.weeks)]
    lines += ["", *_table("queue", report.queues)]
    lines += ["", *_table("agent", report.agents)]
    lines += ["", *_band_table(report)]
    return "\n".join(lines)


def _table(title: str, rows: list[Scores]) -> list[str]:
    width = max([len(title), *(len(row.label) for row in rows)])
    width = min(width, 40)
    lines = [f"{title:<{width}}  {'responses':>9}  {'CSAT':>6}  {'NPS':>6}"]
    for row in rows:
        label = row.label if len(row.label) <= width else row.label[: width - 3] + "..."
        lines.append(
            f"{label:<{width}}  {row.responses:>9,}  {format_number(row.csat):>6}  {format_number(row.nps):>6}"
        )
    return lines


def _band_table(report: Report) -> list[str]:
    correlation = "-" if report.correlation is None else f"{report.correlation:.2f}"
    lines = [
        f"CSAT against evaluation score: {report.evaluated:,} evaluated responses, "
        f"correlation {correlation}",
        f"{'evaluation':<10}  {'responses':>9}  {'CSAT':>6}",
    ]
    for band in report.bands:
        lines.append(f"{band.label:<10}  {band.responses:>9,}  {format_number(band.csat):>6}")
    return lines
