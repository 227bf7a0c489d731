"""``harvester verify``: check that an output folder is complete and loads without surprises.

It checks that the checkpoint marks the export complete and that every part file has the
length the checkpoint recorded. Every line must parse, match the schema and lie in the
partition its timestamp names. No survey id may appear twice, and the line counts must equal
the manifest's.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson

from harvester.checkpoint import Checkpoint, load_checkpoint
from harvester.errors import InputError
from harvester.manifest import MANIFEST_NAME, Manifest, load_manifest
from harvester.records import SCHEMA_VERSION
from harvester.schema import TABLES, Table, validate
from harvester.sink import NULL_PARTITION

#: Problems kept in full; past this only their number grows, so a broken folder stays readable.
MAX_REPORTED_PROBLEMS = 200

_PART_NAME = re.compile(r"^part-\d{5,}\.ndjson(\.gz)?$")
#: The partition key of each table, and the record field whose date names the partition.
_PARTITION_FIELDS = {
    "surveys": ("completed_date", "completedDate"),
    "errors": ("conversation_date", "conversationStart"),
}


@dataclasses.dataclass(slots=True)
class VerifyResult:
    """The problems ``verify`` found, and the files and lines it counted."""

    problems: list[str] = dataclasses.field(default_factory=list)
    #: All problems found, also those past :data:`MAX_REPORTED_PROBLEMS`.
    problem_count: int = 0
    files: int = 0
    lines: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """Whether the folder passed every check."""
        return self.problem_count == 0

    def add(self, problem: str) -> None:
        """Record one problem."""
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)


def verify_folder(out: Path) -> VerifyResult:
    """Check the export in ``out``.

    :raises InputError: ``out`` is not a folder
    """
    if not out.is_dir():
        msg = f"{str(out)!r} is not a folder; give the --out folder of an export"
        raise InputError(msg)
    result = VerifyResult()
    checkpoint = _check_checkpoint(out, result)
    manifest = _check_manifest(out, result)
    partition_lines: dict[str, Counter[str]] = {table: Counter() for table in TABLES}
    survey_ids: set[str] = set()
    for table_name, table in TABLES.items():
        for path in _table_files(out, table_name, result):
            relative = path.relative_to(out).as_posix()
            result.files += 1
            if checkpoint is not None:
                _check_length(path, relative, checkpoint, result)
            partition = path.parent.name
            count = _check_lines(path, relative, table, partition, survey_ids, result)
            partition_lines[table_name][partition] += count
            result.lines[table_name] += count
    if checkpoint is not None:
        for relative in sorted(checkpoint.files):
            if not (out / relative).is_file():
                result.add(f"{relative}: missing; the checkpoint lists it")
    if manifest is not None:
        _compare_counts(manifest, partition_lines, result)
    return result


def _check_checkpoint(out: Path, result: VerifyResult) -> Checkpoint | None:
    try:
        checkpoint = load_checkpoint(out)
    except InputError as exc:
        result.add(str(exc))
        return None
    if checkpoint is None:
        result.add(
            f"no checkpoint in {out / '.harvester'}; this is not an export folder, or its state was deleted"
        )
        return None
    if not checkpoint.complete:
        result.add(
            f"the export is incomplete: {checkpoint.windows_done} of {checkpoint.windows_total} "
            "days done; run the same export command to resume it"
        )
    return checkpoint


def _check_manifest(out: Path, result: VerifyResult) -> Manifest | None:
    try:
        manifest = load_manifest(out)
    except ValueError as exc:
        result.add(str(exc))
        return None
    if manifest is None:
        result.add(f"{MANIFEST_NAME}: missing; the writer replaces it at every checkpoint")
        return None
    if manifest.schema_version != SCHEMA_VERSION:
        result.add(
            f"{MANIFEST_NAME}: schema version {manifest.schema_version}, but this harvester "
            f"checks version {SCHEMA_VERSION}; verify with the version that wrote the folder"
        )
    return manifest


def _table_files(out: Path, table: str, result: VerifyResult) -> Iterator[Path]:
    key = _PARTITION_FIELDS[table][0]
    for path in sorted((out / table).rglob("*")):
        if path.is_dir():
            continue
        relative = path.relative_to(out).as_posix()
        folder = path.parent.relative_to(out / table).as_posix()
        if not _PART_NAME.match(path.name) or not folder.startswith(f"{key}=") or "/" in folder:
            result.add(f"{relative}: unexpected file; Spark and DuckDB globs may read it as data")
            continue
        yield path


def _check_length(path: Path, relative: str, checkpoint: Checkpoint, result: VerifyResult) -> None:
    expected = checkpoint.files.get(relative)
    size = path.stat().st_size
    if expected is None:
        result.add(f"{relative}: not in the checkpoint; it was written after the last checkpoint")
    elif size != expected:
        result.add(f"{relative}: {size} bytes, but the checkpoint recorded {expected}")


def _check_lines(
    path: Path,
    relative: str,
    table: Table,
    partition: str,
    survey_ids: set[str],
    result: VerifyResult,
) -> int:
    """Check every line of one part file and return how many lines it has."""
    count = 0
    try:
        for number, raw in enumerate(_read_lines(path), start=1):
            count += 1
            where = f"{relative}:{number}"
            if not raw.endswith(b"\n"):
                result.add(f"{where}: the last line has no newline; the file was cut mid-line")
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                result.add(f"{where}: not valid JSON ({exc})")
                continue
            for problem in validate(record, table):
                result.add(f"{where}: {problem}")
            if not isinstance(record, dict):
                continue
            _check_partition(record, table.name, partition, where, result)
            if table.name == "surveys" and isinstance(record.get("surveyId"), str):
                survey_id = record["surveyId"]
                if survey_id in survey_ids:
                    result.add(f"{where}: surveyId {survey_id} appears twice")
                survey_ids.add(survey_id)
    except (OSError, EOFError, zlib.error) as exc:
        result.add(f"{relative}: unreadable after {count} lines ({exc})")
    return count


def _read_lines(path: Path) -> Iterator[bytes]:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield from stream
    else:
        with path.open("rb") as stream:
            yield from stream


def _check_partition(
    record: dict[str, object], table: str, partition: str, where: str, result: VerifyResult
) -> None:
    key, field = _PARTITION_FIELDS[table]
    value = record.get(field)
    if table == "errors" and not isinstance(value, str):
        return  # an error line without a conversation start goes to the day being exported
    expected = f"{key}={value[:10] if isinstance(value, str) else NULL_PARTITION}"
    if partition != expected:
        result.add(f"{where}: in partition {partition}, but its {field} belongs in {expected}")


def _compare_counts(
    manifest: Manifest, partition_lines: dict[str, Counter[str]], result: VerifyResult
) -> None:
    tables = {"surveys": manifest.survey_partitions, "errors": manifest.error_partitions}
    for table, expected in tables.items():
        found = partition_lines[table]
        for partition in sorted(set(expected) | set(found)):
            if expected.get(partition, 0) != found.get(partition, 0):
                result.add(
                    f"{table}/{partition}: {found.get(partition, 0)} lines, but the manifest "
                    f"counts {expected.get(partition, 0)}"
                )
        total = sum(found.values())
        if total != sum(expected.values()):
            result.add(
                f"{table}: {total} lines in all, but the manifest counts {sum(expected.values())}"
            )
