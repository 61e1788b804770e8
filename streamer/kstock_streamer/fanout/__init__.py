"""The fan-out: Redis ticks -> API Gateway ``@connections`` -> WebSocket clients.

One Redis pub/sub connection (:mod:`.redis_reader`, read with hiredis directly) carries, in order,
the ticks (``stock:realtime:*``), the demand announcements of the WebSocket handlers
(``ws:control``, :mod:`.control`), theme updates (``themes:updates``) and live signals
(``signals:updates``). An in-memory index (:mod:`.index`) answers "who gets this tick"; it is
rebuilt from the connection registry on start (:mod:`.rebuild`; the pub/sub subscription is made
first, so nothing announced meanwhile is missed) and kept current from the announcements.

Delivery (:mod:`.delivery`) is one ``POST {endpoint}/@connections/{id}`` per message, SigV4-signed
(:mod:`.signing`, :mod:`.signers`), through a lean keep-alive HTTP client (:mod:`.poster`; at most
``concurrency`` calls in flight). Each connection has at most one call in flight, so its messages
arrive in order; :mod:`.scheduler` decides when its next call starts. Two modes:

* ``tick``: every tick is its own message, the contract's tick JSON as published;
* ``batch``: at most one ``{"type":"ticks","data":[...]}`` per connection per window, holding
  the newest tick of each symbol that traded since the last message (:mod:`.newest`; so nothing
  in it is older than the window), split to stay under API Gateway's 32 KB frame
  (:mod:`.batches`). Only connections asleep (nothing new for them last time) are woken by a tick.

410 Gone: the connection left without ``$disconnect`` reaching us; it leaves the index at once
and the registry and the demand counts in the background. 429 / ``LimitExceededException`` (and
5xx or a network error): that connection backs off exponentially (:mod:`.backoff`); its queued
messages stay, and in ``batch`` mode the newest price of each symbol is what is sent when it resumes.
"""

from kstock_streamer.fanout.batches import BATCH_BUDGET, FRAME_LIMIT
from kstock_streamer.fanout.connection import Connection
from kstock_streamer.fanout.engine import Fanout
from kstock_streamer.fanout.index import ConnectionIndex
from kstock_streamer.fanout.options import FanoutOptions, FanoutStats
from kstock_streamer.fanout.outcomes import FAILED, GONE, OK, THROTTLED
from kstock_streamer.fanout.rebuild import load_index

__all__ = [
    "BATCH_BUDGET",
    "FAILED",
    "FRAME_LIMIT",
    "GONE",
    "OK",
    "THROTTLED",
    "Connection",
    "ConnectionIndex",
    "Fanout",
    "FanoutOptions",
    "FanoutStats",
    "load_index",
]
