"""The health report shown at ``/healthz``."""

from __future__ import annotations

from monitoring.services.health import check_broker, check_database, check_worker


def health_report(*, worker_timeout: float | None = None) -> dict[str, str]:
    """``{"database", "broker", "worker": "ok" | "error: ...", "status": "ok" | "error"}``.

    The worker is only asked when the database and broker answer (its round trip needs both).
    """
    db = check_database()
    broker = check_broker()
    worker = check_worker(timeout=worker_timeout) if db.ok and broker.ok else None
    report = {
        "database": db.as_text(),
        "broker": broker.as_text(),
        "worker": worker.as_text() if worker else "error: not checked (database or broker down)",
    }
    report["status"] = "ok" if all(v == "ok" for v in report.values()) else "error"
    return report
