"""Root URLs: accounts, health, the map page and the API."""

from django.contrib import admin
from django.urls import include, path

from monitoring import views

urlpatterns = [
    path("", views.map_page, name="map"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("monitoring.urls")),
    path("admin/", admin.site.urls),
]
