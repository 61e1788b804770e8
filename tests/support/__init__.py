"""Plain helpers the tests import by name (functions, classes, constants). Fixtures live in ``tests/fixtures``
and reach every room through ``pytest_plugins`` in ``tests/conftest.py``."""
