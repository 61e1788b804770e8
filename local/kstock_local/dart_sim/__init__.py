"""A local stand-in for OpenDART speaking its wire format, with simulated content (see server.py)."""

from kstock_local.dart_sim.server import DartStandIn, DartStandInConfig, DartStandInThread

__all__ = ["DartStandIn", "DartStandInConfig", "DartStandInThread"]
