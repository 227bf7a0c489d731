"""The writer's checkpoint covers only what is durable and complete."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harvester.checkpoint import STATE_DIR, Checkpoint, load_checkpoint
from harvester.resolve import OutputLine
from harvester.sink import AppendFile, PartitionedSink
from harvester.stats import RunStats
from harvester.writer import ConversationDone, Stop, WindowEnumerated, Writer


def _writer(out: Path, stats: RunStats) -> Writer:
    (out / STATE_DIR).mkdir(parents=True)
    checkpoint = Checkpoint(fingerprint="f", params={}, windows_total=2)
    sink = PartitionedSink(out, lengths={}, max_file_bytes=1 << 20, file_mode=0o600)
    journal = AppendFile(out / STATE_DIR / "journal", 0, 0o600)
    return Writer(
        out,
        checkpoint,
        sink,
        journal,
        stats=stats,
        interval=0.0,
        file_mode=0o600,
        clock=lambda: "now",
    )


def _done(window: int, survey_id: str) -> ConversationDone:
    record = {"surveyId": survey_id, "completedDate": "2025-03-01T10:00:00.000Z"}
    return ConversationDone(
        window, f"2025-03-0{window + 1}", [OutputLine("survey", survey_id, record)]
    )


async def test_skipped_counted_when_window_completes(tmp_path: Path) -> None:
    """Status skips of a window reach the checkpoint only once the whole window is written."""
    stats = RunStats()
    writer = _writer(tmp_path, stats)
    await writer.queue.put(WindowEnumerated(0, 2, Counter({"Sent": 3})))
    await writer.queue.put(_done(0, "a"))
    await writer.queue.put(Stop())
    await writer.run()

    saved = load_checkpoint(tmp_path)
    assert saved is not None
    assert saved.windows_done == 0
    assert saved.counters["skippedStatuses"] == {}
    assert saved.counters["surveysWritten"] == 1
    assert not saved.complete


async def test_window_completion_advances(tmp_path: Path) -> None:
    """A complete window advances the checkpoint and adds its status skips."""
    stats = RunStats()
    writer = _writer(tmp_path, stats)
    await writer.queue.put(WindowEnumerated(1, 1, Counter({"Expired": 2})))
    await writer.queue.put(_done(1, "b"))
    await writer.queue.put(WindowEnumerated(0, 1, Counter({"Sent": 1})))
    await writer.queue.put(_done(0, "a"))
    await writer.queue.put(Stop())
    await writer.run()

    saved = load_checkpoint(tmp_path)
    assert saved is not None
    assert saved.windows_done == 2
    assert saved.complete
    assert saved.counters["skippedStatuses"] == {"Sent": 1, "Expired": 2}
    assert (tmp_path / STATE_DIR / "journal").read_text() == "2025-03-02 b\n2025-03-01 a\n"
