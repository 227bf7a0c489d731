"""Child processes of a benchmark: the simulator server and one measured contender.

Each contender runs alone in its own process. Its CPU time comes from ``os.wait4`` for that
process only, and its peak resident set size (RSS) from polling ``VmHWM`` in
``/proc/PID/status``. ``ru_maxrss`` cannot serve: on exec, Linux folds the peak RSS of the
address space being replaced into it, which for a child of ``subprocess`` is the runner's own
(``exec_mmap`` in ``fs/exec.c``). The simulator runs in a second process, so its work never
counts against the contender.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from harvester.simulator import SimConfig

#: How often a running contender's memory is sampled and its exit is checked, in seconds.
POLL_INTERVAL = 0.05
#: Seconds between the RSS samples kept in the trace.
TRACE_INTERVAL = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessUsage:
    """Resource usage of one child process."""

    exit_code: int
    wall_seconds: float
    user_seconds: float
    system_seconds: float
    #: Largest ``VmHWM`` sampled; it can miss growth in the last :data:`POLL_INTERVAL`.
    peak_rss_mib: float
    #: (seconds since start, RSS in MiB), one sample per :data:`TRACE_INTERVAL`.
    rss_trace: tuple[tuple[float, float], ...] = ()
    #: The same samples of the companion process given to :func:`run_measured`.
    companion_rss_trace: tuple[tuple[float, float], ...] = ()

    @property
    def cpu_seconds(self) -> float:
        """User plus system CPU time."""
        return self.user_seconds + self.system_seconds


@dataclasses.dataclass(frozen=True, slots=True)
class Memory:
    """Current and peak resident set size of a process image, in MiB."""

    rss_mib: float
    peak_rss_mib: float


def read_memory(pid: int) -> Memory | None:
    """Return ``VmRSS`` and ``VmHWM`` of ``pid``, or ``None`` once it has exited (Linux only)."""
    values: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    values[line[:5]] = int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    if len(values) < 2:
        return None  # a zombie has no address space left
    return Memory(values["VmRSS"], values["VmHWM"])


def _usage(
    status: int,
    rusage: Any,
    wall: float,
    peak: float,
    trace: list[tuple[float, float]],
    companion_trace: list[tuple[float, float]],
) -> ProcessUsage:
    return ProcessUsage(
        exit_code=os.waitstatus_to_exitcode(status),
        wall_seconds=wall,
        user_seconds=rusage.ru_utime,
        system_seconds=rusage.ru_stime,
        peak_rss_mib=peak,
        rss_trace=tuple(trace),
        companion_rss_trace=tuple(companion_trace),
    )


def run_measured(
    command: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float,
    companion_pid: int | None = None,
) -> ProcessUsage:
    """Run ``command`` to completion and return its wall time, CPU time and peak RSS.

    Standard output and error go to ``log_path``. A process still running after ``timeout``
    seconds gets SIGTERM, then SIGKILL 10 seconds later; its usage is still returned. The RSS
    of ``companion_pid`` (the simulator) is sampled along with the command's. If this function
    is interrupted, it kills the process before it returns.
    """
    with log_path.open("wb") as log:
        started = time.perf_counter()
        # Popen returns once the child has exec'd, so every sample below is of the command.
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            return _watch(process, started, timeout, companion_pid)
        finally:
            if process.returncode is None:
                process.kill()
                process.wait()


def _watch(
    process: subprocess.Popen[bytes], started: float, timeout: float, companion_pid: int | None
) -> ProcessUsage:
    trace: list[tuple[float, float]] = []
    companion_trace: list[tuple[float, float]] = []
    peak = 0.0
    next_sample = 0.0
    terminated_at: float | None = None
    while True:
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        elapsed = time.perf_counter() - started
        if pid == process.pid:
            # The process is reaped here, so Popen must not wait for it again.
            process.returncode = os.waitstatus_to_exitcode(status)
            return _usage(status, rusage, elapsed, peak, trace, companion_trace)

        memory = read_memory(process.pid)
        if memory is not None:
            peak = max(peak, memory.peak_rss_mib)
        if elapsed >= next_sample:
            if memory is not None:
                trace.append((round(elapsed, 2), round(memory.rss_mib, 1)))
            companion = None if companion_pid is None else read_memory(companion_pid)
            if companion is not None:
                companion_trace.append((round(elapsed, 2), round(companion.rss_mib, 1)))
            next_sample = elapsed + TRACE_INTERVAL

        if elapsed > timeout and terminated_at is None:
            process.send_signal(signal.SIGTERM)
            terminated_at = elapsed
        elif terminated_at is not None and elapsed > terminated_at + 10:
            process.kill()
        time.sleep(POLL_INTERVAL)


@dataclasses.dataclass(frozen=True, slots=True)
class SimulatorSpec:
    """The simulator settings of one benchmark; the org depends on the first four only."""

    seed: int
    surveys_per_day: float
    first_day: date
    last_day: date
    rate_limit_per_minute: int
    time_scale: float
    latency: Mapping[str, tuple[float, float]]
    #: Days generated before the server starts, so that generating them never stalls it.
    warm_days: tuple[date, date] | None = None

    def config(self) -> SimConfig:
        """Return the configuration of an in-process simulator with the same org and limits."""
        return SimConfig(
            seed=self.seed,
            surveys_per_day=self.surveys_per_day,
            first_day=self.first_day,
            last_day=self.last_day,
            rate_limit_per_minute=self.rate_limit_per_minute,
            time_scale=self.time_scale,
            latency=dict(self.latency),
        )

    def command(self) -> list[str]:
        """Return the command line of the simulator process.

        Without warm days it is ``harvester simulate``; with them it is
        :mod:`benchmarks.simulator_server`, which generates those days first.
        """
        if self.warm_days is not None:
            settings = {
                "seed": self.seed,
                "surveys_per_day": self.surveys_per_day,
                "first_day": self.first_day.isoformat(),
                "last_day": self.last_day.isoformat(),
                "rate_limit_per_minute": self.rate_limit_per_minute,
                "time_scale": self.time_scale,
                "latency": {name: list(bounds) for name, bounds in self.latency.items()},
                "warm_from": self.warm_days[0].isoformat(),
                "warm_to": self.warm_days[1].isoformat(),
            }
            return [
                sys.executable,
                "-m",
                "benchmarks.simulator_server",
                "--settings",
                orjson.dumps(settings).decode(),
            ]
        command = [
            sys.executable,
            "-m",
            "harvester",
            "simulate",
            "--port",
            "0",
            "--seed",
            str(self.seed),
            "--surveys-per-day",
            repr(self.surveys_per_day),
            "--first-day",
            self.first_day.isoformat(),
            "--last-day",
            self.last_day.isoformat(),
            "--rate-limit",
            str(self.rate_limit_per_minute),
            "--time-scale",
            repr(self.time_scale),
        ]
        for endpoint, (low, high) in sorted(self.latency.items()):
            command += ["--latency", f"{endpoint}={low!r}:{high!r}"]
        return command


class SimulatorProcess:
    """The simulator of :meth:`SimulatorSpec.command` in a child process; a context manager.

    After :meth:`stop`, ``usage`` contains the simulator's own CPU time and peak RSS.
    """

    def __init__(
        self, spec: SimulatorSpec, work_dir: Path, *, start_timeout: float = 120.0
    ) -> None:
        self.spec = spec
        self._log_path = work_dir / "simulator.log"
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self.base_url = ""
        self.usage: ProcessUsage | None = None

    def start(self) -> None:
        """Start the server and wait until it prints its URL."""
        repository = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": repository}
        with self._log_path.open("wb") as log:
            self._started = time.perf_counter()
            self._process = subprocess.Popen(
                self.spec.command(), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + self._start_timeout
        marker = "Simulator running at "
        while time.monotonic() < deadline:
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                if line.startswith(marker):
                    self.base_url = line[len(marker) :].split()[0]
                    return
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        msg = f"the simulator did not start; its output:\n{self._log_path.read_text(encoding='utf-8', errors='replace')}"
        raise RuntimeError(msg)

    def stats(self) -> dict[str, Any]:
        """Return the simulator's counters from ``GET /_sim/stats``."""
        with urllib.request.urlopen(f"{self.base_url}/_sim/stats", timeout=30) as response:
            payload: dict[str, Any] = orjson.loads(response.read())
        return payload

    @property
    def pid(self) -> int | None:
        """Process id of the running simulator."""
        return None if self._process is None else self._process.pid

    def memory(self) -> Memory | None:
        """Return the simulator's current and peak RSS."""
        return None if self._process is None else read_memory(self._process.pid)

    def cpu_seconds(self) -> float:
        """Return the user plus system CPU time the simulator has used so far (Linux only)."""
        if self._process is None:
            return 0.0
        with open(f"/proc/{self._process.pid}/stat", encoding="ascii") as stat:
            # Fields 14 and 15 (utime, stime, in clock ticks) follow the ")" that closes the
            # command name, which may itself contain spaces.
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the server with SIGTERM and record its usage.

        SIGTERM rather than SIGINT, because a runner started in the background of a
        non-interactive shell passes on an ignored SIGINT to its children.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is not None:
            return  # Popen.poll reaped it after a failed start; its usage is lost.
        memory = read_memory(process.pid)
        peak = 0.0 if memory is None else memory.peak_rss_mib
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while True:
            pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                wall = time.perf_counter() - self._started
                self.usage = _usage(status, rusage, wall, peak, [], [])
                return
            if time.monotonic() > deadline:
                process.kill()
                deadline = time.monotonic() + 30
            time.sleep(POLL_INTERVAL)

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
