"""The client secret and the access tokens appear in no output, log, checkpoint or data file."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    export_command,
    run_cli,
    simulator_thread,
)

WRONG_SECRET = "wrong-secret-5f0c2a"


@dataclasses.dataclass(frozen=True)
class LeakCase:
    id: str
    config: dict[str, Any]
    secret: str = CLIENT_SECRET
    exit_code: int = 0


LEAK_CASES = [
    LeakCase("success", {}),
    # Tokens expire and come back as 401s, so refreshes and retries are logged too.
    LeakCase("token-faults", {"fault_rates": {"token_expire": 0.1, "500_json": 0.05}}),
    LeakCase("wrong-secret", {}, secret=WRONG_SECRET, exit_code=1),
    LeakCase("forbidden", {"denied_permissions": frozenset({"quality:survey:view"})}, exit_code=1),
]


def _written_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("case", LEAK_CASES, ids=[case.id for case in LEAK_CASES])
def test_no_secret_leaks(case: LeakCase, tmp_path: Path) -> None:
    """At debug level, stdout, stderr and every file written are free of secrets and tokens."""
    out = tmp_path / "out"
    with simulator_thread(**case.config) as sim:
        command = export_command(sim.base_url, out, "--source", "query", "--log-level", "debug")
        result = run_cli(command, tmp_path, secret=case.secret)
        tokens = sim.simulator.tokens.issued_tokens()

    assert result.returncode == case.exit_code, result.stderr
    assert "DEBUG" in result.stderr
    if case.exit_code == 0:
        assert len(tokens) >= 1
    secrets = {
        "client secret": case.secret,
        "basic credentials": base64.b64encode(f"{CLIENT_ID}:{case.secret}".encode()).decode(),
    }
    secrets.update({f"token {number}": token for number, token in enumerate(tokens, 1)})
    texts = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    texts.update(_written_files(tmp_path))
    if case.id != "wrong-secret":
        # A wrong secret fails before the folder is touched; the others write a checkpoint.
        assert ".harvester/checkpoint.json" in "\n".join(texts)

    for name, text in texts.items():
        for label, secret in secrets.items():
            assert secret.encode() not in text, f"{label} found in {name}"
    assert "Authorization" not in result.stderr
    assert "Bearer" not in result.stderr
