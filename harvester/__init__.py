"""Export Genesys Cloud CSAT survey responses with their evaluations, agents and queues."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harvester")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
