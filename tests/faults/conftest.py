"""Fixtures of the fault tests: the web-app users, API client and the indexed real demo store."""

from tests.monitoring.conftest import api, demo_store, demo_store_dir, owner  # noqa: F401
