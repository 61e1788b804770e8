"""The Chalice app: every Lambda entry point of kstock is exported from here, so template.yaml
can point ``Handler: app.<name>`` at each one."""

from api import companies, health
from web import KstockChalice

app = KstockChalice(app_name="kstock-api")
app.register_blueprint(health.bp)
app.register_blueprint(companies.bp)
