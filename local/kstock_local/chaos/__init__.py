"""``kstock chaos``: the fault suite of issue 17, against a real ``kstock up``.

The harness (:mod:`.harness`) starts the whole local stack as a subprocess in a temporary
KSTOCK_HOME on free ports, signs users up through the REST API, keeps WebSocket clients subscribed
under the KIS simulator's steady trade rate, and runs the steps, one module each:

1. :mod:`.redis_kill`       ``kill -9`` the embedded Redis
2. :mod:`.streamer_kill`    ``kill -9`` the streamer
3. :mod:`.kis_hang`         SIGSTOP the KIS simulator
4. :mod:`.postgres_stop`    SIGSTOP Postgres (postmaster and backends)
5. :mod:`.subscribe_flood`  300 sockets of one user subscribing
6. :mod:`.login_flood`      24 concurrent wrong-password logins

Each step returns :class:`.report.StepResult`: checks with the figure each measured. A check is
either behavioural (it must hold however slow the machine is; the pytest wrapper in
tests/e2e/faults asserts these) or a timing budget of the issue (5 s, 10 s, 100 ms), which only
the command asserts.
"""
