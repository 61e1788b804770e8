"""The OpenDART boundary: client (corp codes, filings, key accounts), errors, sync jobs and readers.

``client`` speaks the wire format, ``accounts`` turns key accounts into period figures, ``store``
upserts into Postgres, ``sync`` is the shared ingestion of jobs, workers and the CLI, and
``queries`` reads for the routes.
"""
