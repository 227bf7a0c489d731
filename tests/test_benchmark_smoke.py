"""The benchmark runner end to end on a tiny org, so that it keeps working as the code changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.contenders import CONTENDERS

REPOSITORY = Path(__file__).resolve().parent.parent


def test_benchmark_smoke_runs_installed_contenders(tmp_path: Path) -> None:
    """Every installed contender exports the tiny org exactly; missing packages are skipped."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--results-dir", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout[-4000:] + completed.stderr[-4000:]
    assert completed.returncode == 0, output

    report = json.loads((tmp_path / "smoke.json").read_text(encoding="utf-8"))
    runs = {run["contender"]: run for run in report["runs"]}
    assert set(runs) == set(CONTENDERS)
    for key, contender in CONTENDERS.items():
        run = runs[key]
        if not contender.available():
            assert "skipped" in run, run
            continue
        assert run["exit_code"] == 0, output
        assert run["output"]["matches"], (key, run["output"])
        assert run["surveys_exported"] > 100, run
        assert run["requests_total"] > 0, run
        assert run["peak_rss_mib"] > 0, run
        assert run["cpu_seconds"] > 0, run
    assert report["verdicts"], report
