"""The Chalice app: every Lambda entry point of kstock is exported from here, so template.yaml
can point ``Handler: app.<name>`` at each one."""

import jobs
import workers
import ws

from api import companies, health
from web import KstockChalice

app = KstockChalice(app_name="kstock-api")
app.register_blueprint(health.bp)
app.register_blueprint(companies.bp)


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


@app.lambda_function(name="retention")
def retention(event, context):
    return jobs.retention(event, context)


# -- queue workers ----------------------------------------------------------------------------------

@app.lambda_function(name="backfill_worker")
def backfill_worker(event, context):
    return workers.backfill(event, context)
