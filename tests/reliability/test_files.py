"""What the export leaves on disk: private modes, one run per folder, and write errors."""

from __future__ import annotations

import os
import resource
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harvester.checkpoint import STATE_DIR, load_checkpoint
from tests.reliability.support import (
    assert_exact_export,
    checkpoint_body,
    export_command,
    has_checkpoint,
    reap,
    run_cli,
    simulator_thread,
    start_cli,
)


def _umask(mask: int) -> Callable[[], None]:
    def apply() -> None:
        os.umask(mask)

    return apply


def _modes(root: Path) -> dict[str, int]:
    """Return the permission bits of ``root`` and of everything under it."""
    paths = [root, *sorted(root.rglob("*"))]
    return {path.relative_to(root.parent).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in paths}


@pytest.mark.parametrize(
    ("file_mode", "umask", "files", "folders"),
    [(None, 0o000, 0o600, 0o700), ("644", 0o022, 0o644, 0o755)],
    ids=["default", "644"],
)
def test_file_modes(
    file_mode: str | None, umask: int, files: int, folders: int, tmp_path: Path
) -> None:
    """Output, checkpoint and journal get the --file-mode bits, and folders match them."""
    out = tmp_path / "out"
    extra = ["--source", "query"] + (["--file-mode", file_mode] if file_mode else [])
    with simulator_thread() as sim:
        result = run_cli(export_command(sim.base_url, out, *extra), tmp_path, preexec_fn=_umask(umask))
    assert result.returncode == 0, result.stderr

    modes = _modes(out)
    lock = f"out/{STATE_DIR}/lock"
    assert any(name.endswith(".ndjson") for name in modes)
    assert f"out/{STATE_DIR}/checkpoint.json" in modes
    assert f"out/{STATE_DIR}/journal" in modes
    for name, mode in modes.items():
        if name == lock:
            assert mode == 0o600, name
        elif (tmp_path / name).is_dir():
            assert mode == folders, f"{name} has mode {mode:o}"
        else:
            assert mode == files, f"{name} has mode {mode:o}"


#: Latency that makes a run last a few seconds, long enough to start a second one beside it.
SLOW = {"latency": {"survey": (0.04, 0.08), "evaluation": (0.04, 0.08)}}


def test_live_lock_rejects_second(tmp_path: Path) -> None:
    """A second export into a folder locked by a live run exits 2 naming that run's pid."""
    out = tmp_path / "out"
    with simulator_thread(**SLOW) as sim:
        command = export_command(sim.base_url, out, "--source", "query", "--concurrency", "2")
        first = start_cli(command, tmp_path)
        try:
            deadline = time.monotonic() + 30
            while not has_checkpoint(out):
                assert first.poll() is None, "the first export ended early"
                assert time.monotonic() < deadline, "the first export wrote no checkpoint"
                time.sleep(0.01)
            second = run_cli(command, tmp_path)
            first_code = first.wait(timeout=60)
        finally:
            _, first_stderr = reap(first)

        assert second.returncode == 2, second.stderr
        assert f"another export (process {first.pid})" in second.stderr
        assert "wait for it to finish or choose another --out" in second.stderr
        assert first_code == 0, first_stderr
        assert_exact_export(out, None, sim)


def test_stale_lock_allows_resume(tmp_path: Path) -> None:
    """The lock of a run killed with SIGKILL does not block the same command from resuming."""
    out = tmp_path / "out"
    with simulator_thread(**SLOW) as sim:
        command = export_command(sim.base_url, out, "--source", "query", "--concurrency", "2")
        process = start_cli(command, tmp_path)
        try:
            deadline = time.monotonic() + 30
            while not has_checkpoint(out):
                assert process.poll() is None, "the export ended early"
                assert time.monotonic() < deadline, "the export wrote no checkpoint"
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
        finally:
            reap(process)
        assert process.returncode == -signal.SIGKILL
        lock = out / STATE_DIR / "lock"
        assert lock.read_text().strip() == str(process.pid)

        resumed = run_cli(command, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert_exact_export(out, None, sim)


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


# With 2 KiB the first survey line fails. With 32 KiB a sync fails after a day is complete.
@pytest.mark.parametrize("limit", [2048, 32768], ids=["first-write", "later-sync"])
def test_write_error_resumes(limit: int, tmp_path: Path) -> None:
    """A write past RLIMIT_FSIZE exits 1 with the reason, and the run resumes once the limit is gone."""
    out = tmp_path / "out"
    with simulator_thread() as sim:
        command = export_command(sim.base_url, out, "--source", "query")
        failed = run_cli(command, tmp_path, preexec_fn=_limit_file_size(limit))

        assert failed.returncode == 1, failed.stderr
        errors = [line for line in failed.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, failed.stderr
        assert "File too large" in errors[0]
        assert str(out) in errors[0]
        assert "then run the same command to resume" in errors[0]
        assert "Traceback" not in failed.stderr
        assert "run the same command to resume" in failed.stderr

        checkpoint = load_checkpoint(out)
        assert checkpoint is not None
        assert checkpoint.complete is False
        for relative, length in checkpoint.files.items():
            assert (out / relative).stat().st_size >= length, relative
        journal = out / STATE_DIR / "journal"
        assert journal.stat().st_size >= checkpoint.journal_bytes

        resumed = run_cli(command, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert checkpoint_body(out)["complete"] is True
        assert_exact_export(out, None, sim)
