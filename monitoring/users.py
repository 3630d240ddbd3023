"""The signed-in user of an API request, typed: services and selectors take a ``User``."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from rest_framework.request import Request


def signed_in(request: Request) -> User:
    """``request.user`` of a view that requires authentication (``IsAuthenticated``): a ``User``.

    Only a type narrowing (no check at run time): DRF types ``request.user`` as
    ``User | AnonymousUser``, and the permission classes have already refused anonymous requests.
    """
    return cast(User, request.user)
