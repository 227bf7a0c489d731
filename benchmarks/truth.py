"""The simulator's ground truth, and the comparison of a contender's output with it.

The runner rebuilds the simulator's org from the same seed in its own process, so the ground
truth costs the simulator nothing. Each contender's output is read into
:class:`OutputRecord` values, whatever its format, and compared field by field where the
contender wrote the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from harvester.settings import format_timestamp
from harvester.simulator import SimConfig
from harvester.simulator.org import Org


@dataclasses.dataclass(frozen=True, slots=True)
class TruthRecord:
    """The expected output fields of one Finished survey."""

    conversation_id: str
    conversation_start: str
    deleted: bool
    agent_id: str
    agent_name: str
    queue_id: str
    queue_name: str
    nps_score: int | None
    #: Evaluations whose GET succeeds, and every evaluation that analytics lists.
    evaluation_ids: tuple[str, ...]
    listed_evaluation_ids: tuple[str, ...]
    question_count: int


@dataclasses.dataclass(slots=True)
class GroundTruth:
    """The Finished surveys of conversations that started in a range, by survey id."""

    surveys: dict[str, TruthRecord]
    #: Distinct evaluations listed on conversations with at least one Finished survey: a full
    #: export reads each of them once, 404s included.
    evaluation_reads: int

    def readable(self) -> int:
        """Return the number of surveys whose GET succeeds."""
        return sum(1 for record in self.surveys.values() if not record.deleted)

    def within(self, end: str) -> GroundTruth:
        """Return the part of the truth whose conversations started before ``end`` (ISO text)."""
        surveys = {
            survey_id: record
            for survey_id, record in self.surveys.items()
            if record.conversation_start < end
        }
        conversations: dict[str, int] = {}
        for record in surveys.values():
            conversations[record.conversation_id] = len(record.listed_evaluation_ids)
        return GroundTruth(surveys, sum(conversations.values()))


def load_ground_truth(config: SimConfig, start: datetime, end: datetime) -> GroundTruth:
    """Generate the org of ``config`` and collect its Finished surveys in [start, end)."""
    org = Org(config)
    surveys: dict[str, TruthRecord] = {}
    conversations: dict[str, int] = {}
    for item in org.iter_expected_surveys(start, end):
        listed = item.evaluation_ids + item.deleted_evaluation_ids
        surveys[item.survey_id] = TruthRecord(
            conversation_id=item.conversation_id,
            conversation_start=format_timestamp(item.conversation_start),
            deleted=item.deleted,
            agent_id=item.agent_id,
            agent_name=item.agent_name,
            queue_id=item.queue_id,
            queue_name=item.queue_name,
            nps_score=item.nps_score,
            evaluation_ids=tuple(sorted(item.evaluation_ids)),
            listed_evaluation_ids=tuple(sorted(listed)),
            question_count=item.question_count,
        )
        conversations[item.conversation_id] = len(listed)
    return GroundTruth(surveys, sum(conversations.values()))


@dataclasses.dataclass(frozen=True, slots=True)
class OutputRecord:
    """The fields of one output line that the comparison checks; ``None`` means not written."""

    survey_id: str
    conversation_id: str | None = None
    status: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    queue_id: str | None = None
    queue_name: str | None = None
    nps_score: int | None = None
    evaluation_ids: tuple[str, ...] | None = None
    answer_count: int | None = None
    #: npsScore is null on a survey without an NPS question, so ``None`` alone cannot mean
    #: "not written".
    nps_written: bool = True


def _ndjson(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        with path.open("rb") as stream:
            for line in stream:
                if line.strip():
                    yield orjson.loads(line)


def read_harvester_output(out: Path, detail: str) -> Iterator[OutputRecord]:
    """Read the survey records of a harvester export folder."""
    for record in _ndjson(sorted((out / "surveys").rglob("*.ndjson"))):
        agent = record.get("agent") or {}
        queue = record.get("queue") or {}
        answers = record.get("answers")
        yield OutputRecord(
            survey_id=record["surveyId"],
            conversation_id=record.get("conversationId"),
            status=record.get("status"),
            agent_id=agent.get("id"),
            agent_name=agent.get("name"),
            queue_id=queue.get("id"),
            queue_name=queue.get("name"),
            nps_score=record.get("npsScore"),
            evaluation_ids=tuple(sorted(item["evaluationId"] for item in record["evaluations"])),
            answer_count=len(answers) if detail != "summary" and answers is not None else None,
        )


def count_harvester_errors(out: Path) -> int:
    """Return the number of error lines of a harvester export folder."""
    return sum(1 for _ in _ndjson(sorted((out / "errors").rglob("*.ndjson"))))


def read_flat_output(path: Path) -> Iterator[OutputRecord]:
    """Read the NDJSON file of a peer contender: flat fields named as in the harvester's records."""
    for record in _ndjson([path] if path.exists() else []):
        evaluation_ids = record.get("evaluationIds")
        yield OutputRecord(
            survey_id=record["surveyId"],
            conversation_id=record.get("conversationId"),
            status=record.get("status"),
            agent_id=record.get("agentId"),
            queue_id=record.get("queueId"),
            nps_score=record.get("npsScore"),
            evaluation_ids=None if evaluation_ids is None else tuple(sorted(evaluation_ids)),
            nps_written="npsScore" in record,
        )


@dataclasses.dataclass(slots=True)
class Comparison:
    """The differences between an output and the ground truth."""

    expected: int = 0
    written: int = 0
    missing: int = 0
    unexpected: int = 0
    duplicates: int = 0
    #: Field name -> number of records where the field differs from the truth.
    mismatches: dict[str, int] = dataclasses.field(default_factory=dict)
    examples: list[str] = dataclasses.field(default_factory=list)

    @property
    def matches(self) -> bool:
        """Whether the output has every expected survey once, nothing else, and no wrong field."""
        return not (self.missing or self.unexpected or self.duplicates or self.mismatches)

    def to_json(self) -> dict[str, Any]:
        """Return the comparison as a JSON-ready dictionary."""
        return {
            "matches": self.matches,
            "expected": self.expected,
            "written": self.written,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "duplicates": self.duplicates,
            "mismatches": self.mismatches,
            "examples": self.examples,
        }


def _differences(record: OutputRecord, truth: TruthRecord, evaluations: str) -> list[str]:
    """Return the names of the fields of ``record`` that disagree with ``truth``."""
    expected_evaluations = (
        truth.evaluation_ids if evaluations == "read" else truth.listed_evaluation_ids
    )
    checks: list[tuple[str, object, object]] = [
        ("conversationId", record.conversation_id, truth.conversation_id),
        ("status", record.status, "Finished"),
        ("agent.id", record.agent_id, truth.agent_id),
        ("agent.name", record.agent_name, truth.agent_name),
        ("queue.id", record.queue_id, truth.queue_id),
        ("queue.name", record.queue_name, truth.queue_name),
        ("npsScore", record.nps_score, truth.nps_score),
        ("evaluations", record.evaluation_ids, expected_evaluations),
        ("answers", record.answer_count, truth.question_count),
    ]
    # A field the contender does not write (None) is skipped.
    return [
        name
        for name, actual, expected in checks
        if (actual is not None or (name == "npsScore" and record.nps_written))
        and actual != expected
    ]


def compare(
    records: Iterable[OutputRecord],
    truth: GroundTruth,
    *,
    include_deleted: bool,
    evaluations: str,
    check_fields: bool = True,
) -> Comparison:
    """Compare output records with the truth.

    ``include_deleted`` expects the surveys whose GET fails as well (an export that reads only
    analytics lists them). ``evaluations`` is ``"read"`` when the output contains the evaluations
    that were read, or ``"listed"`` when it contains every evaluation that analytics lists.
    """
    expected_ids = {
        survey_id
        for survey_id, record in truth.surveys.items()
        if include_deleted or not record.deleted
    }
    result = Comparison(expected=len(expected_ids))
    seen: set[str] = set()
    for record in records:
        result.written += 1
        if record.survey_id in seen:
            result.duplicates += 1
            continue
        seen.add(record.survey_id)
        if record.survey_id not in expected_ids:
            result.unexpected += 1
            if len(result.examples) < 5:
                result.examples.append(f"unexpected survey {record.survey_id}")
            continue
        if not check_fields:
            continue
        for field in _differences(record, truth.surveys[record.survey_id], evaluations):
            result.mismatches[field] = result.mismatches.get(field, 0) + 1
            if len(result.examples) < 5:
                result.examples.append(f"survey {record.survey_id}: {field} differs")
    result.missing = len(expected_ids - seen)
    return result
