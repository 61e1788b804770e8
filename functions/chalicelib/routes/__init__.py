"""REST routes as Chalice blueprints, one module per resource."""
