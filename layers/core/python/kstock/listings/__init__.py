"""The exchange's full listing, from the stock master files KIS publishes.

* :mod:`kstock.listings.master` — the fixed-width layout of ``kospi_code.mst`` / ``kosdaq_code.mst``
  and the parser that turns one record into a typed :class:`~kstock.listings.master.MasterRecord`;
* :mod:`kstock.listings.source` — the one module that downloads them (``KIS_MASTER_URL``);
* :mod:`kstock.listings.sync` — upserts names, market, kind, warning / halt flags and listed
  shares into ``companies`` (``kstock listings sync``).
"""
