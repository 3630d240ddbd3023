"""HTML views: the map page, sign-up, and the health endpoint."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework.request import Request
from rest_framework.views import APIView

from monitoring.selectors.health import health_report
from monitoring.services.pipeline.steps import stages_json
from monitoring.throttles import LoginRateThrottle


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, broker and worker status; 200 when all are ``ok``, 503 otherwise."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and log in; 404 when sign-up is switched off (``ESD_ALLOW_SIGNUP=0``)."""
    if not settings.ESD_ALLOW_SIGNUP:
        raise Http404("sign-up is switched off on this server; ask an administrator for an account")
    if request.user.is_authenticated:
        return redirect("map")
    form: UserCreationForm[Any] = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("map")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def map_page(request: HttpRequest) -> HttpResponse:
    """The map page where users draw AOIs, upload labels and explore analyses; ``basemap_url`` is the
    configured XYZ base map (``ESD_BASEMAP_URL``, empty for the shipped offline outline only)."""
    context = {
        "pipeline_stages": stages_json(),
        "basemap_url": settings.ESD_BASEMAP_URL,
        "basemap_attribution": settings.ESD_BASEMAP_ATTRIBUTION,
    }
    return render(request, "monitoring/map.html", context)


class ThrottledLoginView(LoginView):
    """Django's log-in page; a client over ``ESD_LOGIN_RATE`` sign-in attempts gets 429 for a while."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttle = LoginRateThrottle()
        if not throttle.allow_request(cast(Request, request), cast(APIView, self)):  # duck-typed: reads META
            wait = int(throttle.wait() or 1) + 1
            response = render(
                request,
                "registration/login.html",
                {"form": self.get_form(), "throttled": f"Too many sign-in attempts; try again in {wait} s."},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


def allow_signup(request: HttpRequest) -> dict[str, bool]:
    """Template context: whether to show the sign-up links."""
    return {"allow_signup": settings.ESD_ALLOW_SIGNUP}
