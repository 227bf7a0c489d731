"""The output schema: one declarative description of the survey record and of the error line.

``records.py`` builds the lines and this module describes them. Everything a consumer needs
(the JSON Schema document, DuckDB's ``columns`` struct, Spark's DDL string, and the validator
behind ``harvester verify``) is derived from the field lists below, and a test checks that the
lists equal the keys the record builders emit.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from harvester.records import SCHEMA_VERSION
from harvester.settings import DETAIL_LEVELS

#: The form of every timestamp in the output: ISO-8601 UTC with milliseconds.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)

#: Scalar kinds and their names in JSON Schema, DuckDB and Spark SQL.
_JSON_TYPES = {
    "string": "string",
    "timestamp": "string",
    "boolean": "boolean",
    "integer": "integer",
    "double": "number",
}
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "double": "DOUBLE",
}
_SPARK_TYPES = {
    "string": "STRING",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "double": "DOUBLE",
}

#: JSON numbers larger than this do not fit DuckDB's BIGINT or Spark's BIGINT.
_MAX_BIGINT = 2**63 - 1

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclasses.dataclass(frozen=True, slots=True)
class Scalar:
    """A value of one scalar kind: ``string``, ``timestamp``, ``boolean``, ``integer`` or ``double``."""

    kind: str
    #: The only values allowed, when the field is an enumeration.
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _JSON_TYPES:
            msg = f"unknown scalar kind {self.kind!r}; expected one of {', '.join(_JSON_TYPES)}"
            raise ValueError(msg)


@dataclasses.dataclass(frozen=True, slots=True)
class Struct:
    """A JSON object with exactly these fields, in this order."""

    fields: tuple[Field, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Array:
    """A JSON array whose elements are all of one type and never null."""

    element: FieldType


FieldType = Scalar | Struct | Array


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One key of a record: always present, of one type, and null only when ``nullable``."""

    name: str
    type: FieldType
    description: str
    nullable: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """The lines of one output table, such as ``surveys``."""

    name: str
    title: str
    fields: tuple[Field, ...]


STRING = Scalar("string")
TIMESTAMP = Scalar("timestamp")
BOOLEAN = Scalar("boolean")
INTEGER = Scalar("integer")
DOUBLE = Scalar("double")


def _reference(name: str, description: str) -> Field:
    return Field(
        name,
        Struct(
            (
                Field("id", STRING, "the entity's id"),
                Field("name", STRING, "the entity's name, null when it could not be resolved"),
            )
        ),
        description,
        nullable=False,
    )


ANSWER_FIELDS = (
    Field("questionGroupId", STRING, "id of the question group"),
    Field("questionId", STRING, "id of the question"),
    Field("questionText", STRING, "the question as the survey form words it"),
    Field("questionType", STRING, "such as npsQuestion, multipleChoiceQuestion, freeTextQuestion"),
    Field("answerId", STRING, "id of the chosen answer option"),
    Field("answerText", STRING, "text of the chosen answer option"),
    Field("score", INTEGER, "the answer's score"),
    Field("npsScore", INTEGER, "the NPS answer, 0 to 10"),
    Field("npsTextAnswer", STRING, "the comment given with the NPS answer"),
    Field("freeTextAnswer", STRING, "the answer to a free-text question"),
    Field("markedNA", BOOLEAN, "whether the customer marked the question not applicable"),
)

EVALUATION_FIELDS = (
    Field("evaluationId", STRING, "id of the quality evaluation"),
    Field("status", STRING, "evaluation status in the Quality API's spelling, such as FINISHED"),
    _reference("form", "the evaluation form"),
    _reference("evaluator", "who evaluated"),
    _reference("agent", "the evaluated agent"),
    Field("totalScore", DOUBLE, "the evaluation's total score"),
    Field("criticalScore", DOUBLE, "the score over critical questions"),
    Field("nonCriticalScore", DOUBLE, "the score over non-critical questions"),
    Field("anyFailedKillQuestions", BOOLEAN, "whether a kill question failed"),
    Field("comments", STRING, "the evaluator's comments"),
    Field("agentComments", STRING, "the agent's comments"),
    Field("releaseDate", TIMESTAMP, "when the evaluation was released to the agent"),
    Field("submittedDate", TIMESTAMP, "when the evaluation was submitted"),
    Field("changedDate", TIMESTAMP, "when the evaluation last changed"),
    Field("version", INTEGER, "the evaluation's version"),
)

SURVEY_FIELDS = (
    Field("surveyId", STRING, "id of the survey"),
    Field("conversationId", STRING, "id of the conversation"),
    Field("conversationStart", TIMESTAMP, "when the conversation started; selects the range"),
    Field("completedDate", TIMESTAMP, "when the customer completed the survey"),
    Field("status", STRING, "survey status, such as Finished"),
    Field("surveyType", STRING, "Web or Voice"),
    Field("partial", BOOLEAN, "analytics' surveyPartialResponse"),
    Field("missingRequiredAnswer", BOOLEAN, "null until the survey is finished"),
    Field(
        "surveyForm",
        Struct(
            (
                Field("id", STRING, "id of the survey form version"),
                Field("name", STRING, "name of the survey form"),
                Field("contextId", STRING, "id shared by all versions of the form"),
            )
        ),
        "the survey form",
        nullable=False,
    ),
    _reference("agent", "the agent the survey is about"),
    _reference("queue", "the queue of the surveyed interaction"),
    Field("npsScore", INTEGER, "the survey's NPS answer, 0 to 10"),
    Field("totalScore", DOUBLE, "the survey's total score"),
    Field(
        "answers",
        Array(Struct(ANSWER_FIELDS)),
        "one entry per question; null at detail level summary, which reads no survey",
    ),
    Field(
        "evaluations",
        Array(Struct(EVALUATION_FIELDS)),
        "the quality evaluations of the conversation",
        nullable=False,
    ),
    Field(
        "detail",
        Scalar("string", DETAIL_LEVELS),
        "how much was read: summary, answers or full",
        nullable=False,
    ),
    Field("harvestedAt", TIMESTAMP, "when the record was written", nullable=False),
)

ERROR_FIELDS = (
    Field(
        "kind",
        Scalar("string", ("survey", "evaluation")),
        "what could not be read",
        nullable=False,
    ),
    Field("id", STRING, "id of the survey or evaluation", nullable=False),
    Field("surveyId", STRING, "the survey, for a survey that could not be read"),
    Field("conversationId", STRING, "id of the conversation"),
    Field("conversationStart", TIMESTAMP, "when the conversation started"),
    Field("status", INTEGER, "HTTP status of the failed request"),
    Field("code", STRING, "Genesys Cloud error code"),
    Field("reason", STRING, "the error message", nullable=False),
    Field("correlationId", STRING, "the request's correlation id, for Genesys support"),
    Field("harvestedAt", TIMESTAMP, "when the line was written", nullable=False),
)

SURVEYS = Table("surveys", "harvester survey record", SURVEY_FIELDS)
ERRORS = Table("errors", "harvester error line", ERROR_FIELDS)
TABLES = {table.name: table for table in (SURVEYS, ERRORS)}


# JSON Schema


def json_schema(table: Table) -> dict[str, Any]:
    """Return a JSON Schema (draft 2020-12) document that every line of ``table`` matches."""
    document: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"{table.title}, schema version {SCHEMA_VERSION}",
    }
    document.update(_json_object(table.fields))
    return document


def _json_object(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {field.name: _json_field(field) for field in fields},
        "required": [field.name for field in fields],
        "additionalProperties": False,
    }


def _json_field(field: Field) -> dict[str, Any]:
    schema = _json_type(field.type)
    schema["description"] = field.description
    if field.nullable:
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        schema["type"] = [schema["type"], "null"]
    return schema


def _json_type(field_type: FieldType) -> dict[str, Any]:
    if isinstance(field_type, Struct):
        return _json_object(field_type.fields)
    if isinstance(field_type, Array):
        return {"type": "array", "items": _json_type(field_type.element)}
    schema: dict[str, Any] = {"type": _JSON_TYPES[field_type.kind]}
    if field_type.kind == "timestamp":
        schema["format"] = "date-time"
        schema["pattern"] = TIMESTAMP_PATTERN
    if field_type.values:
        schema["enum"] = list(field_type.values)
    return schema


# DuckDB


def duckdb_columns(table: Table) -> str:
    """Return the ``columns`` struct for DuckDB's ``read_json``, such as ``{'surveyId': 'VARCHAR', ...}``."""
    entries = [f"'{field.name}': '{_duckdb_type(field.type)}'" for field in table.fields]
    return "{" + ", ".join(entries) + "}"


def _duckdb_type(field_type: FieldType) -> str:
    if isinstance(field_type, Struct):
        members = ", ".join(
            f'"{field.name}" {_duckdb_type(field.type)}' for field in field_type.fields
        )
        return f"STRUCT({members})"
    if isinstance(field_type, Array):
        return f"{_duckdb_type(field_type.element)}[]"
    return _DUCKDB_TYPES[field_type.kind]


# Spark


def spark_ddl(table: Table) -> str:
    """Return the DDL string for ``spark.read.schema(ddl).json(path)``.

    Names are quoted with backticks, so a field such as ``status`` never reads as a keyword.
    """
    return ", ".join(f"`{field.name}` {_spark_type(field.type)}" for field in table.fields)


def _spark_type(field_type: FieldType) -> str:
    if isinstance(field_type, Struct):
        members = ", ".join(
            f"`{field.name}`: {_spark_type(field.type)}" for field in field_type.fields
        )
        return f"STRUCT<{members}>"
    if isinstance(field_type, Array):
        return f"ARRAY<{_spark_type(field_type.element)}>"
    return _SPARK_TYPES[field_type.kind]


# Validation


def validate(record: object, table: Table) -> list[str]:
    """Check one parsed line against ``table``; return one message per mismatch, empty when it matches.

    The checks are those of :func:`json_schema`, so a line this accepts is one a JSON Schema
    validator accepts too, and one DuckDB and Spark load with the emitted types.
    """
    problems: list[str] = []
    _check_object(record, table.fields, "", problems)
    return problems


def _check_object(value: object, fields: tuple[Field, ...], path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path or 'line'} is {_json_kind(value)}, expected an object")
        return
    names = [field.name for field in fields]
    for key in value:
        if key not in names:
            problems.append(f"unexpected field {path}{key}")
    for field in fields:
        if field.name not in value:
            problems.append(f"missing field {path}{field.name}")
            continue
        item = value[field.name]
        where = f"{path}{field.name}"
        if item is None:
            if not field.nullable:
                problems.append(f"{where} is null, expected {_describe(field.type)}")
            continue
        _check_value(item, field.type, where, problems)


def _check_value(value: object, field_type: FieldType, where: str, problems: list[str]) -> None:
    if isinstance(field_type, Struct):
        _check_object(value, field_type.fields, f"{where}.", problems)
        return
    if isinstance(field_type, Array):
        if not isinstance(value, list):
            problems.append(f"{where} is {_json_kind(value)}, expected an array")
            return
        for index, element in enumerate(value):
            if element is None:
                problems.append(
                    f"{where}[{index}] is null, expected {_describe(field_type.element)}"
                )
                continue
            _check_value(element, field_type.element, f"{where}[{index}]", problems)
        return
    if not _matches_scalar(value, field_type):
        problems.append(f"{where} is {_show(value)}, expected {_describe(field_type)}")


def _matches_scalar(value: object, scalar: Scalar) -> bool:
    kind = scalar.kind
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_BIGINT
    if kind == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if kind == "timestamp" and not _TIMESTAMP.match(value):
        return False
    return not scalar.values or value in scalar.values


def _describe(field_type: FieldType) -> str:
    if isinstance(field_type, Struct):
        return "an object"
    if isinstance(field_type, Array):
        return "an array"
    if field_type.values:
        return "one of " + ", ".join(field_type.values)
    if field_type.kind == "timestamp":
        return "a timestamp such as 2025-03-04T08:15:02.000Z"
    return {"integer": "an integer", "double": "a number"}.get(
        field_type.kind, f"a {field_type.kind}"
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    return _json_kind(value)
