"""The output against its schema and the real engines: JSON Schema, DuckDB, Spark, gzip parts."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import orjson
import pytest

from harvester import records, schema
from harvester.simulator import SimConfig, SimulatorThread
from harvester.verify import verify_folder
from tests.export_helpers import (
    comparable,
    export_async,
    export_interrupted,
    export_options,
    read_lines,
)

#: Part files rotate at this size in the gzip tests, so every partition gets several parts.
SMALL_PART_BYTES = 6_000


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    """Serve one small org without a rate limit for the whole module."""
    with SimulatorThread(SimConfig(seed=11, surveys_per_day=60, rate_limit_per_minute=0)) as sim:
        yield sim


@pytest.fixture(scope="module")
def full_out(simulator: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export three days at detail level full, uncompressed."""
    out = tmp_path_factory.mktemp("full") / "out"
    asyncio.run(export_async(simulator.base_url, export_options(out)))
    return out


@pytest.fixture(scope="module")
def summary_out(simulator: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the same days at detail level summary."""
    out = tmp_path_factory.mktemp("summary") / "out"
    asyncio.run(export_async(simulator.base_url, export_options(out, detail="summary")))
    return out


@pytest.fixture(scope="module")
def gzip_out(simulator: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Export the same days as gzip parts that rotate every few kilobytes."""
    out = tmp_path_factory.mktemp("gzip") / "out"
    options = export_options(out, compress="gzip", max_file_bytes=SMALL_PART_BYTES)
    asyncio.run(export_async(simulator.base_url, options))
    return out


def _keys(record: dict[str, Any]) -> list[str]:
    return list(record)


def _names(fields: tuple[schema.Field, ...]) -> list[str]:
    return [field.name for field in fields]


def _struct(fields: tuple[schema.Field, ...], name: str) -> tuple[schema.Field, ...]:
    field_type = next(field.type for field in fields if field.name == name)
    if isinstance(field_type, schema.Array):
        field_type = field_type.element
    assert isinstance(field_type, schema.Struct)
    return field_type.fields


# The schema and the record builders


def test_schema_fields_match_builders() -> None:
    """The schema's fields, nested ones included, equal the keys the record builders emit."""
    conversation = {"conversationId": "c", "conversationStart": "2025-03-01T00:00:00.000Z"}
    full = records.survey_record(
        conversation=conversation,
        listed={},
        survey={},
        form=None,
        agent_name=None,
        queue_name=None,
        evaluations=[],
        harvested_at="2025-03-01T00:00:00.000Z",
    )
    summary = records.summary_record(
        conversation=conversation,
        listed={},
        agent_name=None,
        queue_name=None,
        evaluations=[],
        harvested_at="2025-03-01T00:00:00.000Z",
    )
    answer = records.survey_answers(
        {"questionGroupScores": [{"questionScores": [{"questionId": "q"}]}]}, None
    )[0]
    evaluation = records.evaluation_entry({}, {})
    summary_evaluation = records.summary_evaluation_entry({}, {})
    error = records.error_record(
        kind="survey",
        entity_id="s",
        conversation=conversation,
        survey_id="s",
        status=404,
        code=None,
        reason="gone",
        correlation_id=None,
        harvested_at="2025-03-01T00:00:00.000Z",
    )
    survey_fields = schema.SURVEY_FIELDS
    evaluation_fields = _struct(survey_fields, "evaluations")

    assert _keys(full) == _names(survey_fields)
    assert _keys(summary) == _names(survey_fields)
    assert _keys(full["surveyForm"]) == _names(_struct(survey_fields, "surveyForm"))
    assert _keys(full["agent"]) == _names(_struct(survey_fields, "agent"))
    assert _keys(full["queue"]) == _names(_struct(survey_fields, "queue"))
    assert _keys(answer) == _names(_struct(survey_fields, "answers"))
    assert _keys(evaluation) == _names(evaluation_fields)
    assert _keys(summary_evaluation) == _names(evaluation_fields)
    assert _keys(evaluation["form"]) == _names(_struct(evaluation_fields, "form"))
    assert _keys(evaluation["evaluator"]) == _names(_struct(evaluation_fields, "evaluator"))
    assert _keys(error) == _names(schema.ERROR_FIELDS)


def test_exported_lines_match_json_schema(full_out: Path, summary_out: Path) -> None:
    """Every survey and error line of both detail levels validates against the JSON Schema."""
    surveys = jsonschema.Draft202012Validator(schema.json_schema(schema.SURVEYS))
    errors = jsonschema.Draft202012Validator(schema.json_schema(schema.ERRORS))
    lines = read_lines(full_out, "surveys") + read_lines(summary_out, "surveys")
    error_lines = read_lines(full_out, "errors")

    assert len(lines) > 100
    assert error_lines
    for record in lines:
        assert list(surveys.iter_errors(record)) == []
        assert schema.validate(record, schema.SURVEYS) == []
    for record in error_lines:
        assert list(errors.iter_errors(record)) == []
        assert schema.validate(record, schema.ERRORS) == []


def test_json_schema_is_valid_draft() -> None:
    """Both JSON Schema documents are valid draft 2020-12 schemas."""
    for table in schema.TABLES.values():
        jsonschema.Draft202012Validator.check_schema(schema.json_schema(table))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"npsScore": "9"}, "npsScore is '9', expected an integer"),
        ({"totalScore": True}, "totalScore is a boolean, expected a number"),
        ({"completedDate": "2025-03-01 10:00:00"}, "completedDate is '2025-03-01 10:00:00'"),
        ({"detail": "everything"}, "detail is 'everything', expected one of summary"),
        ({"evaluations": None}, "evaluations is null, expected an array"),
        ({"agent": {"id": "a"}}, "missing field agent.name"),
        ({"extra": 1}, "unexpected field extra"),
        ({"answers": [None]}, "answers[0] is null, expected an object"),
    ],
    ids=[
        "int-as-string",
        "bool-as-double",
        "bad-timestamp",
        "enum",
        "null",
        "missing",
        "extra",
        "null-element",
    ],
)
def test_validators_reject_bad_record(
    full_out: Path, change: dict[str, Any], expected: str
) -> None:
    """The built-in validator and the JSON Schema both reject a record with one wrong field."""
    record = {**read_lines(full_out, "surveys")[0], **change}
    problems = schema.validate(record, schema.SURVEYS)
    validator = jsonschema.Draft202012Validator(schema.json_schema(schema.SURVEYS))

    assert any(problem.startswith(expected) for problem in problems), problems
    assert list(validator.iter_errors(record)) != []


# DuckDB


def _read_json(out: Path, table: str, *, columns: bool, summary: bool = False) -> str:
    pattern = (out / table / "*" / "part-*").as_posix()
    chosen = schema.SURVEYS if table == "surveys" else schema.ERRORS
    option = f", columns = {schema.duckdb_columns(chosen)}" if columns else ""
    return f"read_json('{pattern}', format = 'newline_delimited', hive_partitioning = true{option})"


def _free_texts(lines: list[dict[str, Any]]) -> list[str]:
    return sorted(
        text
        for record in lines
        for answer in record["answers"] or []
        for text in (answer["freeTextAnswer"], answer["npsTextAnswer"])
        if text is not None
    )


def _describe(connection: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    rows = connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def test_duckdb_loads_with_columns(full_out: Path) -> None:
    """DuckDB loads every partition with the emitted columns; counts, types and free text match."""
    connection = duckdb.connect()
    lines = read_lines(full_out, "surveys")
    source = _read_json(full_out, "surveys", columns=True)
    count, partitions = connection.execute(
        f"SELECT count(*), count(DISTINCT completed_date) FROM {source}"
    ).fetchall()[0]
    texts = connection.execute(
        f"SELECT unnest([t FOR t IN [a.freeTextAnswer, a.npsTextAnswer] IF t IS NOT NULL]) "
        f"FROM (SELECT unnest(answers) AS a FROM {source})"
    ).fetchall()
    types = _describe(connection, source)
    error_count = connection.execute(
        f"SELECT count(*) FROM {_read_json(full_out, 'errors', columns=True)}"
    ).fetchall()[0][0]

    assert count == len(lines)
    assert partitions >= 3
    assert types["conversationStart"] == "TIMESTAMP WITH TIME ZONE"
    assert types["npsScore"] == "BIGINT"
    assert types["totalScore"] == "DOUBLE"
    assert types["answers"].endswith("[]")
    assert error_count == len(read_lines(full_out, "errors"))
    assert sorted(str(row[0]) for row in texts) == _free_texts(lines)


def test_duckdb_keeps_hard_free_text(full_out: Path) -> None:
    """Emoji, CJK, right-to-left text, newlines, quotes and a 5,000-character comment load intact."""
    connection = duckdb.connect()
    texts = {
        str(row[0])
        for row in connection.execute(
            "SELECT a.freeTextAnswer FROM (SELECT unnest(answers) AS a FROM "
            f"{_read_json(full_out, 'surveys', columns=True)}) WHERE a.freeTextAnswer IS NOT NULL"
        ).fetchall()
    }

    assert "Great service 👍😀" in texts
    assert "非常满意，谢谢！" in texts
    assert "خدمة ممتازة، شكرا جزيلا" in texts
    assert "First line\nSecond line\r\nThird line" in texts
    assert 'She said "we will call you back" and never did.' in texts
    assert "Line separator\u2028inside a comment" in texts
    assert max(len(text) for text in texts) > 5000


def test_duckdb_autodetect_matches_columns(full_out: Path) -> None:
    """Auto-detection reads the same rows and types as the emitted columns, ids aside."""
    connection = duckdb.connect()
    detected = _describe(connection, _read_json(full_out, "surveys", columns=False))
    declared = _describe(connection, _read_json(full_out, "surveys", columns=True))
    # Auto-detection types UUID-shaped ids as UUID; the schema keeps ids VARCHAR, because
    # nothing guarantees that every id of every org is a UUID.
    normalized = {name: kind.replace("UUID", "VARCHAR") for name, kind in detected.items()}
    counts = [
        connection.execute(
            f"SELECT count(*) FROM {_read_json(full_out, 'surveys', columns=flag)}"
        ).fetchall()[0][0]
        for flag in (False, True)
    ]

    assert normalized == declared
    assert counts[0] == counts[1]


def test_summary_loads_with_same_columns(summary_out: Path) -> None:
    """Summary-level output loads with the same columns, with null answers."""
    connection = duckdb.connect()
    source = _read_json(summary_out, "surveys", columns=True)
    count, with_answers, details = connection.execute(
        f"SELECT count(*), count(answers), list(DISTINCT detail) FROM {source}"
    ).fetchall()[0]

    assert count == len(read_lines(summary_out, "surveys"))
    assert count > 0
    assert with_answers == 0
    assert details == ["summary"]


def test_duckdb_reads_gzip_parts(gzip_out: Path, full_out: Path) -> None:
    """DuckDB reads multi-member gzip parts and finds the same surveys as the plain export."""
    connection = duckdb.connect()
    ids = connection.execute(
        f"SELECT list(surveyId ORDER BY surveyId) FROM {_read_json(gzip_out, 'surveys', columns=True)}"
    ).fetchall()[0][0]

    assert ids == sorted(record["surveyId"] for record in read_lines(full_out, "surveys"))


# gzip parts, rotation and resume


def _parts(out: Path) -> list[Path]:
    return sorted((out / "surveys").rglob("part-*"))


def test_gzip_parts_rotate(gzip_out: Path) -> None:
    """Gzip parts are named .ndjson.gz, rotate at the size limit and each decompresses."""
    parts = _parts(gzip_out)
    names = {path.name for path in parts}
    per_partition: dict[str, int] = {}
    for path in parts:
        per_partition[path.parent.name] = per_partition.get(path.parent.name, 0) + 1

    assert all(name.endswith(".ndjson.gz") for name in names)
    assert "part-00001.ndjson.gz" in names
    assert max(per_partition.values()) >= 2
    for path in parts:
        assert gzip.decompress(path.read_bytes()).endswith(b"\n")


async def test_gzip_resume_matches_uninterrupted(
    simulator: SimulatorThread, full_out: Path, tmp_path: Path
) -> None:
    """A gzip export cancelled midway, with a torn member after it, resumes to the same records."""
    out = tmp_path / "out"
    options = export_options(
        out,
        compress="gzip",
        max_file_bytes=SMALL_PART_BYTES,
        concurrency=2,
        checkpoint_interval=0.01,
    )
    await export_interrupted(simulator.base_url, options)
    partial = len(read_lines(out, "surveys"))
    # A crash between a write and the next checkpoint leaves half a gzip member behind.
    torn = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    last = _parts(out)[-1]
    with last.open("ab") as stream:
        stream.write(torn.compress(b'{"surveyId": "torn"}\n' * 50) + torn.flush(zlib.Z_SYNC_FLUSH))
    stats = await export_async(simulator.base_url, options)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    lines = read_lines(out, "surveys")

    assert partial < len(read_lines(full_out, "surveys"))
    assert comparable(lines) == comparable(read_lines(full_out, "surveys"))
    assert comparable(read_lines(out, "errors")) == comparable(read_lines(full_out, "errors"))
    assert verify_folder(out).problems == []
    assert manifest["surveys"]["total"] == len(lines)
    assert manifest["requests"]["total"] > stats.requests


async def test_gzip_resume_refuses_plain(
    simulator: SimulatorThread, gzip_out: Path, tmp_path: Path
) -> None:
    """Resuming a gzip folder without --compress gzip is rejected, naming the difference."""
    from harvester.errors import InputError

    out = tmp_path / "out"
    await export_interrupted(simulator.base_url, export_options(out, compress="gzip"))

    with pytest.raises(InputError, match="compress 'gzip' -> 'none'"):
        await export_async(simulator.base_url, export_options(out))


# Spark


@pytest.mark.spark
def test_spark_reads_with_ddl(full_out: Path, gzip_out: Path) -> None:
    """Spark in local mode reads plain and gzip parts with the emitted DDL and fails on nothing."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # py4j logs at INFO when it closes its connections at interpreter exit, after pytest has
    # closed the stream that logging writes to.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("harvester-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    try:
        surveys = spark.read.schema(schema.spark_ddl(schema.SURVEYS)).option("mode", "FAILFAST")
        plain = surveys.json(str(full_out / "surveys"))
        compressed = surveys.json(str(gzip_out / "surveys"))
        errors = (
            spark.read.schema(schema.spark_ddl(schema.ERRORS))
            .option("mode", "FAILFAST")
            .json(str(full_out / "errors"))
        )
        types = dict(plain.dtypes)
        texts = sorted(
            row[0]
            for row in plain.selectExpr("explode(answers) AS a")
            .selectExpr("explode(array(a.freeTextAnswer, a.npsTextAnswer)) AS t")
            .where("t IS NOT NULL")
            .collect()
        )
        first_start = (
            plain.orderBy("surveyId")
            .selectExpr("date_format(conversationStart, \"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'\")")
            .first()
        )
        plain_count = plain.count()
        compressed_count = compressed.count()
        error_count = errors.count()
    finally:
        spark.stop()
    lines = read_lines(full_out, "surveys")
    first = min(lines, key=lambda record: record["surveyId"])

    assert plain_count == len(lines)
    assert compressed_count == len(lines)
    assert error_count == len(read_lines(full_out, "errors"))
    assert types["conversationStart"] == "timestamp"
    assert types["completed_date"] == "date"
    assert texts == _free_texts(lines)
    assert first_start is not None
    assert first_start[0] == first["conversationStart"]


def test_manifest_written_atomically(full_out: Path) -> None:
    """The manifest parses, and no temporary manifest file is left beside it."""
    body = orjson.loads((full_out / "manifest.json").read_bytes())

    assert body["complete"] is True
    assert body["schemaVersion"] == records.SCHEMA_VERSION
    assert not list(full_out.glob(".manifest-*"))
