"""Account endpoints of the API: the token for a username and password (throttled)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring.throttles import LoginRateThrottle


class TokenApi(ObtainAuthToken):
    """POST ``username`` + ``password``: the user's API token (created on first use).

    At most ``ESD_LOGIN_RATE`` attempts per client address (429 with ``Retry-After`` beyond).
    """

    throttle_classes = [LoginRateThrottle]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    # Documented as a form (what ``requests.post(url, data=...)`` and HTML send); a multipart or JSON
    # body with the same two fields is accepted too. One documented media type keeps generated
    # clients working (openapi-python-client 0.29 emits broken code for multi-type bodies).
    @extend_schema(request={"application/x-www-form-urlencoded": AuthTokenSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
