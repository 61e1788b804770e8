"""The watchlist that steers the streamer (seed 000): safety filter -> buy candidates -> top N by traded value.

- :func:`safe_symbols` (hourly): not halted, not under warning, stocks only unless configured, and a
  last daily bar that traded at least ``WATCHLIST_MIN_TRADED_VALUE`` won. Kept in Redis (``watchlist:safe``).
- :func:`candidates`: the safe symbols that are buy candidates, each with its reasons: graded A-C in the
  latest completed scan, or a buy / strong buy daily indicator signal on its last bar.
- :func:`refresh` (every 10 minutes in market hours): ranks the candidates by today's traded value (KIS
  volume ranking by value; a candidate outside the ranking counts its last stored daily bar's value) and
  writes the top ``WATCHLIST_SIZE`` to ``streamer:watchlist`` with the reasons in
  ``streamer:watchlist:reasons``. The streamer's demand planner reads the set (small weight, stable time
  against churn).
"""

from kstock.watchlist.select import Candidate, candidates, refresh, safe_symbols, store_safe

__all__ = ["Candidate", "candidates", "refresh", "safe_symbols", "store_safe"]
