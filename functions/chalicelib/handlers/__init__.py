"""Entry points of every Lambda function of template.yaml except the REST API (``app.app``).

Why here and not in ``app.py``: a Lambda execution environment imports its ``Handler``'s module and
everything that module imports, once, before the first event (the cold start). When every handler
was exported from ``app.py``, every function paid for the whole Chalice app: all REST routes and
their models, the KIS client, numpy and the analysis code. Here each function imports only what it
uses:

- ``websocket``: the $connect, $default and $disconnect handlers (the connection registry, tokens).
- ``jobs/<domain>.py``: scheduled jobs (EventBridge), one module per domain, called with the
  schedule's input.
- ``workers/<domain>.py``: SQS consumers: each record through Powertools' batch processor, failed
  records reported back (they return to the queue, then the DLQ).

A module's top-level imports are what its handlers call, so ``kstock bench cold-start`` measures
what each function really pays; a handler that does not call KIS does not import the KIS client.
No module here imports ``app``, ``chalicelib.routes`` or another handler module:
tests/unit/test_cold_start.py checks that for every function of the template.
"""
