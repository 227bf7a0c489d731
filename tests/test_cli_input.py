"""Bad input: exit 2, a one-line message naming the value and the fix, nothing on disk changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvester.checkpoint import STATE_DIR, Checkpoint, save_checkpoint
from harvester.cli import app

CREDENTIALS = {"GENESYS_CLOUD_CLIENT_ID": "sim-client", "GENESYS_CLOUD_CLIENT_SECRET": "sim-secret"}
LOOPBACK_API = "http://127.0.0.1:9"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    expected: str
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


def _malformed_dotenv(out: Path) -> None:
    (out.parent / ".env").write_text("GENESYS_CLOUD_REGION=us-east-1\nNOT VALID LINE\n", encoding="utf-8")


RANGE = ["--from", "2025-03-01", "--to", "2025-03-02"]

CASES = [
    Case("unparseable-from", ["--from", "2025-13-45", "--to", "2025-03-02"], "invalid --from '2025-13-45'"),
    Case("unparseable-to", ["--from", "2025-03-01", "--to", "next week"], "invalid --to 'next week'"),
    Case("reversed-range", ["--from", "2025-03-02", "--to", "2025-03-01"], "is not after --from"),
    Case("empty-range", ["--from", "2025-03-01", "--to", "2025-03-01"], "is not after --from"),
    Case("future-range", ["--from", "2099-01-01", "--to", "2099-01-02"], "--from 2099-01-01T00:00:00.000Z is in the future"),
    Case("future-end", ["--from", "2025-03-01", "--to", "2099-01-02"], "--to 2099-01-02T00:00:00.000Z is in the future"),
    Case("unknown-region", [*RANGE, "--region", "mars-1"], "unknown region 'mars-1'; valid regions: us-east-1", api=False),
    Case("missing-region", RANGE, "missing region: set GENESYS_CLOUD_REGION", api=False),
    Case("missing-credentials", RANGE, "set GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET", env={}),
    Case(
        "empty-secret",
        RANGE,
        "set GENESYS_CLOUD_CLIENT_SECRET",
        env={"GENESYS_CLOUD_CLIENT_ID": "x", "GENESYS_CLOUD_CLIENT_SECRET": ""},
    ),
    Case("malformed-dotenv", RANGE, "malformed .env file", prepare=_malformed_dotenv),
    Case("http-remote-host", [*RANGE, "--api-url", "http://api.example.test"], "plain http is allowed only for loopback", api=False),
    Case("unwritable-out", [*RANGE, "--out", "/proc/harvester-out"], "--out '/proc/harvester-out' is not writable"),
    Case("corrupt-checkpoint", RANGE, "corrupt checkpoint", prepare=_corrupt_checkpoint),
    Case("foreign-checkpoint", RANGE, "holds an export with other parameters", prepare=_foreign_checkpoint),
    Case("concurrency-zero", [*RANGE, "--concurrency", "0"], "invalid --concurrency 0"),
    Case("concurrency-high", [*RANGE, "--concurrency", "500"], "invalid --concurrency 500"),
    Case("rate-zero", [*RANGE, "--rate", "0"], "invalid --rate 0"),
    Case("rate-high", [*RANGE, "--rate", "5000000"], "invalid --rate 5e+06"),
    Case("unknown-status", [*RANGE, "--status", "Done"], "invalid --status 'Done'; valid statuses: Pending"),
    Case("file-mode", [*RANGE, "--file-mode", "9"], "invalid --file-mode '9'"),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else b"<dir>"
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bad input exits 2 with one message line naming the value, and changes no file."""
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
    assert len(message.strip().splitlines()) == 1, message
    assert _snapshot(workdir) == before
