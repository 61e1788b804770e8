"""The Chalice app: every Lambda entry point of kstock is exported from here, so template.yaml
can point ``Handler: app.<name>`` at each one."""

from chalicelib import analysis, jobs, scans, themes, watchlist, workers
from chalicelib import websocket as ws
from chalicelib.routes import analysis as analysis_api
from chalicelib.routes import (
    companies,
    comparisons,
    docs,
    health,
    indicators,
    indices,
    industries,
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
for _resource in (indicators, scans_api, themes_api, analysis_api):
    app.register_blueprint(_resource.bp)

# -- indicators, scans and the watchlist -------------------------------------------------------------


@app.lambda_function(name="scan_worker")
def scan_worker(event, context):
    return scans.chunk_worker(event, context)


@app.lambda_function(name="scan_daily")
def scan_daily(event, context):
    return scans.daily_scan(event, context)


@app.lambda_function(name="watchlist_safety")
def watchlist_safety(event, context):
    return watchlist.safety_filter(event, context)


@app.lambda_function(name="watchlist_rank")
def watchlist_rank(event, context):
    return watchlist.rank(event, context)


# -- theme sync (rank watch and classification) ----------------------------------------------------


@app.lambda_function(name="rank_watch")
def rank_watch(event, context):
    return themes.rank_watch(event, context)


@app.lambda_function(name="theme_classify")
def theme_classify(event, context):
    return themes.theme_classify(event, context)


# -- AI outlook ------------------------------------------------------------------------------------


@app.lambda_function(name="analysis_worker")
def analysis_worker(event, context):
    return analysis.worker(event, context)


@app.lambda_function(name="analysis_nightly")
def analysis_nightly(event, context):
    return analysis.nightly(event, context)


# Every routed request: refuse text PostgreSQL cannot store, then count it against its client.
app.guards.extend([text_guard, rate_limit_guard])


# -- WebSocket API ----------------------------------------------------------------------------------


@app.on_ws_connect()
def ws_connect(event):
    return ws.connect(event)


@app.on_ws_message()
def ws_default(event):
    return ws.message(event)


@app.on_ws_disconnect()
def ws_disconnect(event):
    return ws.disconnect(event)


# -- scheduled jobs ---------------------------------------------------------------------------------


@app.lambda_function(name="tick_partitions")
def tick_partitions(event, context):
    return jobs.tick_partitions(event, context)


@app.lambda_function(name="ohlcv_rollup")
def ohlcv_rollup(event, context):
    return jobs.ohlcv_rollup(event, context)


@app.lambda_function(name="retention")
def retention(event, context):
    return jobs.retention(event, context)


@app.lambda_function(name="market_data")
def market_data(event, context):
    return jobs.market_data(event, context)


@app.lambda_function(name="index_data")
def index_data(event, context):
    return jobs.index_data(event, context)


@app.lambda_function(name="news_schedule")
def news_schedule(event, context):
    return jobs.news_schedule(event, context)


@app.lambda_function(name="dart_corp_codes")
def dart_corp_codes(event, context):
    return jobs.dart_corp_codes(event, context)


@app.lambda_function(name="dart_filings")
def dart_filings(event, context):
    return jobs.dart_filings(event, context)


@app.lambda_function(name="dart_financials")
def dart_financials(event, context):
    return jobs.dart_financials(event, context)


# -- queue workers ----------------------------------------------------------------------------------


@app.lambda_function(name="backfill_worker")
def backfill_worker(event, context):
    return workers.backfill(event, context)


@app.lambda_function(name="news_worker")
def news_worker(event, context):
    return workers.news(event, context)


@app.lambda_function(name="dart_worker")
def dart_worker(event, context):
    return workers.dart(event, context)
