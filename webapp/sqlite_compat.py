"""Use ``pysqlite3`` as ``sqlite3`` when present: this Python's ``sqlite3`` cannot load SpatiaLite.

``pysqlite3`` must be built against the system SQLite (``pip install --no-binary pysqlite3``); the
``pysqlite3-binary`` wheel breaks SpatiaLite migrations. Runs before Django loads its sqlite backend.
"""

from __future__ import annotations

import sys


def install() -> None:
    """Alias ``pysqlite3`` as ``sqlite3`` (and its ``dbapi2``) unless the stdlib can load extensions."""
    if "sqlite3" in sys.modules and getattr(sys.modules["sqlite3"], "_esd_pysqlite3", False):
        return
    try:
        import pysqlite3
        import pysqlite3.dbapi2
    except ImportError:
        return
    pysqlite3._esd_pysqlite3 = True
    sys.modules["sqlite3"] = pysqlite3
    sys.modules["sqlite3.dbapi2"] = pysqlite3.dbapi2
