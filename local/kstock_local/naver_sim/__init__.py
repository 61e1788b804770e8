"""A local stand-in for the Naver news search API (issue 13): the real wire format, simulated news.

See :mod:`infra.naver_sim.server` (the HTTP app) and :mod:`infra.naver_sim.content` (the headlines).
"""

from kstock_local.naver_sim.server import NaverStandIn, NaverStandInThread, serve_forever

__all__ = ["NaverStandIn", "NaverStandInThread", "serve_forever"]
