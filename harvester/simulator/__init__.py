"""A local simulator of the Genesys Cloud API endpoints that harvester uses.

``Simulator`` serves on 127.0.0.1 inside the running event loop; ``SimulatorThread`` runs one
in a background thread for synchronous code. ``SimConfig`` contains every knob, ``Fault`` scripts
one fault, and ``Simulator.org`` is the synthetic org with its ground truth.
"""

from harvester.simulator.config import Fault, SimConfig
from harvester.simulator.org import ExpectedSurvey, Org
from harvester.simulator.server import Simulator
from harvester.simulator.thread import SimulatorThread

__all__ = ["ExpectedSurvey", "Fault", "Org", "SimConfig", "Simulator", "SimulatorThread"]
