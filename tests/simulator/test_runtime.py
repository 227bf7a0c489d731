"""Running the simulator from synchronous code: the background thread and the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from harvester.simulator import SimConfig, SimulatorThread


def test_thread_serves_and_stops() -> None:
    """SimulatorThread serves on 127.0.0.1 inside the block and stops after it."""
    with SimulatorThread(SimConfig(surveys_per_day=5)) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(sim.base_url + "/_sim/stats", timeout=10) as response:
            stats = json.loads(response.read())
        assert stats["tokensIssued"] == 0
        url = sim.base_url
    try:
        urllib.request.urlopen(url + "/_sim/stats", timeout=2)
    except OSError:
        pass
    else:
        raise AssertionError("the simulator still answers after the block")


def test_command_prints_url_and_stops_on_interrupt() -> None:
    """The simulate command prints its URL and credentials, serves, and exits on Ctrl-C."""
    code = "import typer; from harvester.simulator.command import simulate; typer.run(simulate)"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--surveys-per-day", "5", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "http://127.0.0.1:" in first, process.stderr.read() if process.stderr else ""
        url = first.split()[3]
        credentials = process.stdout.readline()
        assert "sim-client" in credentials
        assert "sim-secret" in credentials
        with urllib.request.urlopen(url + "/_sim/stats", timeout=10) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
