"""Demo content for ``make run``: a demo user and the demo data that exists (idempotent)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction


@transaction.atomic
def demo_user_ensure(*, username: str, password: str):  # type: ignore[no-untyped-def]
    """Create the demo user or reset its password; returns the user."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.org"}
    )
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def demo_load(*, username: str, password: str) -> list[str]:
    """Load everything demo-related; returns lines for the console."""
    demo_user_ensure(username=username, password=password)
    return [f"demo user: {username} / password: {password}  (log in at http://127.0.0.1:8000/)"]
