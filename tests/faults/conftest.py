"""Fixtures of the fault tests: the web-app users, API client and the indexed real demo store."""

from tests.monitoring.conftest import api, demo_store, owner  # noqa: F401
from tests.security.store import demo_store_dir  # noqa: F401
