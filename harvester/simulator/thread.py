"""Run a simulator in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from harvester.simulator.config import SimConfig
from harvester.simulator.org import Org
from harvester.simulator.server import Simulator
from harvester.simulator.stats import Stats


class SimulatorThread:
    """A ``Simulator`` served from a daemon thread; use it as a context manager.

    ``base_url``, ``stats``, ``org`` and ``config`` are those of the simulator inside.
    """

    def __init__(self, config: SimConfig | None = None, *, start_timeout: float = 10.0) -> None:
        self.simulator = Simulator(config)
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def config(self) -> SimConfig:
        """The simulator's configuration."""
        return self.simulator.config

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running simulator."""
        return self.simulator.base_url

    @property
    def stats(self) -> Stats:
        """Live counters of the simulator."""
        return self.simulator.stats

    @property
    def org(self) -> Org:
        """The synthetic org with its ground truth."""
        return self.simulator.org

    def start(self) -> None:
        """Start the thread and wait until the server accepts connections."""
        if self._thread is not None:
            msg = "the simulator thread is already running"
            raise RuntimeError(msg)
        self._thread = threading.Thread(target=self._run, name="harvester-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            msg = f"the simulator did not start within {self._start_timeout} seconds"
            raise TimeoutError(msg)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.simulator.start())
        except Exception as error:  # noqa: BLE001 - handed to the starting thread
            self._error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.simulator.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop the server and join the thread; calling it again does nothing."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
