"""Bad input: exit 2, a one-line message naming the value and the fix, nothing on disk changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from harvester.checkpoint import STATE_DIR, Checkpoint, save_checkpoint
from harvester.cli import app
from harvester.settings import Endpoints, ExportOptions

CREDENTIALS = {"GENESYS_CLOUD_CLIENT_ID": "sim-client", "GENESYS_CLOUD_CLIENT_SECRET": "sim-secret"}
LOOPBACK_API = "http://127.0.0.1:9"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    expected: str
    #: Part of the message that names the fix.
    fix: str
    env: dict[str, str] = dataclasses.field(default_factory=lambda: dict(CREDENTIALS))
    prepare: Callable[[Path], None] | None = None
    api: bool = True


def _corrupt_checkpoint(out: Path) -> None:
    (out / STATE_DIR).mkdir(parents=True)
    (out / STATE_DIR / "checkpoint.json").write_text("{not json", encoding="utf-8")
    (out / "surveys").mkdir()
    (out / "surveys" / "keep.ndjson").write_text('{"a": 1}\n', encoding="utf-8")


def _foreign_checkpoint(out: Path) -> None:
    (out / STATE_DIR).mkdir(parents=True)
    checkpoint = Checkpoint(
        fingerprint="0" * 64,
        params={"from": "2024-01-01T00:00:00.000Z", "to": "2024-01-02T00:00:00.000Z"},
        windows_total=1,
    )
    save_checkpoint(out, checkpoint, 0o600)


def _checkpoint_with(**fields: object) -> Callable[[Path], None]:
    """Write a checkpoint of this table's export whose ``fields`` are replaced, such as by wrong types."""

    def prepare(out: Path) -> None:
        options = ExportOptions(
            start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 3, 2, tzinfo=UTC), out=out
        )
        endpoints = Endpoints(LOOPBACK_API, LOOPBACK_API)
        checkpoint = Checkpoint(
            fingerprint=options.fingerprint(endpoints),
            params=options.fingerprint_params(endpoints),
            windows_total=1,
        )
        body = {**orjson.loads(checkpoint.to_json()), **fields}
        (out / STATE_DIR).mkdir(parents=True)
        (out / STATE_DIR / "checkpoint.json").write_bytes(orjson.dumps(body))

    return prepare


def _unreadable_checkpoint(out: Path) -> None:
    (out / STATE_DIR / "checkpoint.json").mkdir(parents=True)


def _file_at_out(out: Path) -> None:
    (out.parent / "taken").write_text("not a folder\n", encoding="utf-8")


def _malformed_dotenv(out: Path) -> None:
    (out.parent / ".env").write_text(
        "GENESYS_CLOUD_REGION=us-east-1\nNOT VALID LINE\n", encoding="utf-8"
    )


RANGE = ["--from", "2025-03-01", "--to", "2025-03-02"]

CASES = [
    Case(
        "unparseable-from",
        ["--from", "2025-13-45", "--to", "2025-03-02"],
        "invalid --from '2025-13-45'",
        fix="expected a date such as 2025-03-01",
    ),
    Case(
        "unparseable-to",
        ["--from", "2025-03-01", "--to", "next week"],
        "invalid --to 'next week'",
        fix="expected a date such as 2025-03-01",
    ),
    Case(
        "reversed-range",
        ["--from", "2025-03-02", "--to", "2025-03-01"],
        "is not after --from",
        fix="give a --to later than --from",
    ),
    Case(
        "empty-range",
        ["--from", "2025-03-01", "--to", "2025-03-01"],
        "is not after --from",
        fix="give a --to later than --from",
    ),
    Case(
        "future-range",
        ["--from", "2099-01-01", "--to", "2099-01-02"],
        "--from 2099-01-01T00:00:00.000Z is in the future",
        fix="give a start before now",
    ),
    Case(
        "future-end",
        ["--from", "2025-03-01", "--to", "2099-01-02"],
        "--to 2099-01-02T00:00:00.000Z is in the future",
        fix="or earlier",
    ),
    Case(
        "unknown-region",
        [*RANGE, "--region", "mars-1"],
        "unknown region 'mars-1'; valid regions: us-east-1",
        api=False,
        fix="valid regions: us-east-1",
    ),
    Case(
        "missing-region",
        RANGE,
        "missing region: set GENESYS_CLOUD_REGION",
        api=False,
        fix="or pass --region or --api-url",
    ),
    Case(
        "missing-credentials",
        RANGE,
        "set GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET",
        env={},
        fix="in the environment or in a .env file",
    ),
    Case(
        "empty-secret",
        RANGE,
        "set GENESYS_CLOUD_CLIENT_SECRET",
        env={"GENESYS_CLOUD_CLIENT_ID": "x", "GENESYS_CLOUD_CLIENT_SECRET": ""},
        fix="in the environment or in a .env file",
    ),
    Case(
        "empty-client-id",
        RANGE,
        "set GENESYS_CLOUD_CLIENT_ID in",
        env={"GENESYS_CLOUD_CLIENT_ID": "  ", "GENESYS_CLOUD_CLIENT_SECRET": "s"},
        fix="in the environment or in a .env file",
    ),
    Case(
        "missing-env-file",
        [*RANGE, "--env-file", "missing.env"],
        "--env-file 'missing.env' not found",
        fix="give the path of an existing .env file",
    ),
    Case(
        "malformed-dotenv",
        RANGE,
        "malformed .env file",
        prepare=_malformed_dotenv,
        fix="fix or remove that line",
    ),
    # 0.0.0.0 is not a loopback address, yet a request to it stays on this machine, so even a
    # broken check sends nothing to another host.
    Case(
        "http-remote-host",
        [*RANGE, "--api-url", "http://0.0.0.0:9"],
        "plain http is allowed only for loopback",
        api=False,
        fix="use https for any other host",
    ),
    Case(
        "http-remote-login",
        [*RANGE, "--login-url", "http://0.0.0.0:9"],
        "invalid --login-url 'http://0.0.0.0:9'",
        fix="use https for any other host",
    ),
    Case(
        "out-is-file",
        [*RANGE, "--out", "taken"],
        "--out 'taken' is a file",
        prepare=_file_at_out,
        fix="give a folder path",
    ),
    Case(
        "unwritable-out",
        [*RANGE, "--out", "/proc/harvester-out"],
        "--out '/proc/harvester-out' is not writable",
        fix="choose another folder",
    ),
    Case(
        "corrupt-checkpoint",
        RANGE,
        "corrupt checkpoint",
        prepare=_corrupt_checkpoint,
        fix="with --restart",
    ),
    Case(
        "checkpoint-field-type",
        RANGE,
        "corrupt checkpoint",
        prepare=_checkpoint_with(windows_done="1"),
        fix="with --restart",
    ),
    Case(
        "checkpoint-negative",
        RANGE,
        "corrupt checkpoint",
        prepare=_checkpoint_with(windows_done=-1),
        fix="with --restart",
    ),
    Case(
        "checkpoint-complete-text",
        RANGE,
        "corrupt checkpoint",
        prepare=_checkpoint_with(complete="yes"),
        fix="with --restart",
    ),
    Case(
        "checkpoint-unreadable",
        RANGE,
        "cannot read checkpoint",
        prepare=_unreadable_checkpoint,
        fix="use --restart",
    ),
    Case(
        "foreign-checkpoint",
        RANGE,
        "holds an export with other parameters",
        prepare=_foreign_checkpoint,
        fix="pass --restart to start over",
    ),
    Case(
        "concurrency-zero",
        [*RANGE, "--concurrency", "0"],
        "invalid --concurrency 0",
        fix="give a whole number from 1 to 64",
    ),
    Case(
        "concurrency-high",
        [*RANGE, "--concurrency", "500"],
        "invalid --concurrency 500",
        fix="give a whole number from 1 to 64",
    ),
    Case(
        "rate-zero",
        [*RANGE, "--rate", "0"],
        "invalid --rate 0",
        fix="give requests per minute from 1 to",
    ),
    Case(
        "rate-negative",
        [*RANGE, "--rate", "-5"],
        "invalid --rate -5",
        fix="give requests per minute from 1 to",
    ),
    Case(
        "rate-high",
        [*RANGE, "--rate", "5000000"],
        "invalid --rate 5e+06",
        fix="give requests per minute from 1 to",
    ),
    Case(
        "unknown-status",
        [*RANGE, "--status", "Done"],
        "invalid --status 'Done'; valid statuses: Pending",
        fix="valid statuses: Pending",
    ),
    Case(
        "file-mode",
        [*RANGE, "--file-mode", "9"],
        "invalid --file-mode '9'",
        fix="such as 600 or 644",
    ),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else b"<dir>"
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bad input exits 2 with one message line naming the value and the fix, and changes no file."""
    workdir = tmp_path / "work"
    out = workdir / "out"
    out.mkdir(parents=True)
    monkeypatch.chdir(workdir)
    if case.prepare is not None:
        case.prepare(out)
    before = _snapshot(workdir)

    args = ["export", *case.args]
    if "--out" not in args:
        args += ["--out", str(out)]
    if case.api:
        args += ["--api-url", LOOPBACK_API]
    result = CliRunner().invoke(app, args, env=case.env)

    assert result.exit_code == 2, result.output
    message = result.stderr if result.stderr else result.output
    assert case.expected in message
    assert case.fix in message
    assert len(message.strip().splitlines()) == 1, message
    assert _snapshot(workdir) == before


def test_deleted_part_file_rejected(tmp_path: Path) -> None:
    """A checkpointed part file that was deleted stops the resume with exit 2 and changes nothing."""
    out = tmp_path / "out"
    _checkpoint_with(
        files={
            "surveys/completed_date=2025-03-01/part-00000.ndjson": 10,
            "errors/conversation_date=2025-03-01/part-00000.ndjson": 5,
        }
    )(out)
    errors = out / "errors" / "conversation_date=2025-03-01"
    errors.mkdir(parents=True)
    (errors / "part-00000.ndjson").write_bytes(b'{"kind":1}\n{"kind":2}\n')
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(
        app, ["export", *RANGE, "--out", str(out), "--api-url", LOOPBACK_API], env=CREDENTIALS
    )
    assert result.exit_code == 2, result.output
    assert "surveys/completed_date=2025-03-01/part-00000.ndjson is missing" in result.output
    assert "--restart" in result.output
    assert _snapshot(tmp_path) == before
