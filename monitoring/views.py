"""HTML views: the map page, sign-up, and the health endpoint."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.selectors.health import health_report


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, broker and worker status; 200 when all are ``ok``, 503 otherwise."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and log in."""
    if request.user.is_authenticated:
        return redirect("map")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("map")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def map_page(request: HttpRequest) -> HttpResponse:
    """The map page where users draw AOIs, upload labels and explore analyses."""
    return render(request, "monitoring/map.html")
