"""Errors no retry can fix: exit 1 at once with a message that names what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.support import (
    export_command,
    has_checkpoint,
    run_cli,
    simulator_thread,
)


def _message(stderr: str) -> str:
    """Return the ``error:`` line of the CLI's stderr."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("rate", ["100000", None], ids=["rate", "org-limit"])
def test_wrong_secret(rate: str | None, tmp_path: Path) -> None:
    """A wrong client secret exits 1 after one token request, naming the credential variables.

    The token is requested before the output folder is touched, so the folder is not created.
    """
    out = tmp_path / "out"
    with simulator_thread() as sim:
        command = export_command(sim.base_url, out, "--source", "query", rate=rate)
        result = run_cli(command, tmp_path, secret="wrong", timeout=20)
        token_requests = sim.stats.requests["token"]

    assert result.returncode == 1, result.stderr
    message = _message(result.stderr)
    assert "rejected the OAuth client 'sim-client'" in message
    assert "GENESYS_CLOUD_CLIENT_SECRET" in message
    assert "Traceback" not in result.stderr
    assert token_requests == 1
    assert not out.exists()
    assert "run the same command to resume" not in result.stderr


def test_fresh_token_rejected(tmp_path: Path) -> None:
    """A 401 on a token just issued exits 1 within the timeout, with the credentials message."""
    out = tmp_path / "out"
    # Every token the simulator issues is already expired, so every API call gets a 401.
    with simulator_thread(fault_rates={"token:token_expire": 1.0}) as sim:
        command = export_command(sim.base_url, out, "--source", "query", "--concurrency", "1")
        result = run_cli(command, tmp_path, timeout=20)
        tokens = sim.stats.tokens_issued

    assert result.returncode == 1, result.stderr
    message = _message(result.stderr)
    assert "rejected freshly issued tokens" in message
    assert "GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET" in message
    assert "Traceback" not in result.stderr
    assert tokens >= 2


@pytest.mark.parametrize(
    "permission",
    ["quality:survey:view", "analytics:conversationDetail:view"],
    ids=["survey", "analytics"],
)
def test_permission_denied(permission: str, tmp_path: Path) -> None:
    """A 403 exits 1 with a message naming the permission the role lacks."""
    out = tmp_path / "out"
    with simulator_thread(denied_permissions=frozenset({permission})) as sim:
        command = export_command(sim.base_url, out, "--source", "query")
        result = run_cli(command, tmp_path, timeout=20)

    assert result.returncode == 1, result.stderr
    message = _message(result.stderr)
    assert f"lacks the permission {permission}" in message
    assert "HTTP 403" in message
    assert "Traceback" not in result.stderr
    assert "run the same command to resume" in result.stderr
    assert has_checkpoint(out)
