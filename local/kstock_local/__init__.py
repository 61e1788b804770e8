"""Laptop only: everything that runs kstock outside AWS. ``kstock up`` (the stack), the template-driven
local cloud (``cloud``), the embedded Postgres/Redis, the simulators (KIS, Naver news, OpenDART), the
benchmarks and the ``kstock`` command. Nothing in Lambda or the streamer container imports this package."""
