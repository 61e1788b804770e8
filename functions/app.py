"""The Chalice app: the REST API (``Handler: app.app`` of ApiFunction and LoginFunction).

Only the REST routes live here. The WebSocket handlers, the scheduled jobs and the queue workers
are the Handlers of their own functions in ``chalicelib/handlers/``, so none of them imports the
routes at cold start (see that package's docstring).
"""

from chalicelib.routes import analysis as analysis_api
from chalicelib.routes import (
    companies,
    comparisons,
    docs,
    health,
    indicators,
    indices,
    industries,
    orderbook,
    portfolio,
    prices,
    rankings,
    users,
)
from chalicelib.routes import realtime as ws_metrics
from chalicelib.routes import scans as scans_api
from chalicelib.routes import themes as themes_api
from chalicelib.web import KstockChalice, rate_limit_guard, text_guard

app = KstockChalice(app_name="kstock-api")
app.register_blueprint(health.bp)
app.register_blueprint(companies.bp)
for _resource in (prices, users, portfolio, comparisons, industries, indices, rankings, ws_metrics, docs):
    app.register_blueprint(_resource.bp)
for _resource in (indicators, scans_api, themes_api, analysis_api, orderbook):
    app.register_blueprint(_resource.bp)

# Every routed request: refuse text PostgreSQL cannot store, then count it against its client.
app.guards.extend([text_guard, rate_limit_guard])
