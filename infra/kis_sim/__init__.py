"""A local KIS (Korea Investment & Securities) Open API simulator that speaks the real protocol.

See :class:`infra.kis_sim.server.KisSimulator` and ``docs/kis.md``.
"""

from infra.kis_sim.config import SimulatorConfig
from infra.kis_sim.server import KisSimulator, SimulatorThread, serve_forever

__all__ = ["KisSimulator", "SimulatorConfig", "SimulatorThread", "serve_forever"]
