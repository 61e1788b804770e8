"""A local KIS (Korea Investment & Securities) Open API simulator that speaks the real protocol.

See :class:`kstock_local.kis_sim.server.KisSimulator` and ``docs/kis.md``.
"""

from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.server import KisSimulator, SimulatorThread, serve_forever

__all__ = ["KisSimulator", "SimulatorConfig", "SimulatorThread", "serve_forever"]
