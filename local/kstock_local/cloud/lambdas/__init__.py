"""Local Lambda: execution environments (one process each) that load and invoke handlers."""
