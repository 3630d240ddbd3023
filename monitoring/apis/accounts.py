"""Account endpoints of the API: the token for a username and password (throttled)."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken

from monitoring.throttles import LoginRateThrottle


class TokenApi(ObtainAuthToken):
    """POST ``username`` + ``password``: the user's API token (created on first use).

    At most ``ESD_LOGIN_RATE`` attempts per client address (429 with ``Retry-After`` beyond).
    """

    throttle_classes = [LoginRateThrottle]
