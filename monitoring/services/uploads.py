"""Limits and coverage for the upload parsers, taken from settings and the ESD catalog."""

from __future__ import annotations

from django.conf import settings

from monitoring.parsers import UploadLimits


def upload_limits() -> UploadLimits:
    """The configured upload limits (``ESD_UPLOAD_MAX_BYTES``, ``ESD_UPLOAD_MAX_FEATURES``, ``ESD_AOI_MAX_KM2``)."""
    return UploadLimits(
        max_bytes=settings.ESD_UPLOAD_MAX_BYTES,
        max_features=settings.ESD_UPLOAD_MAX_FEATURES,
        max_aoi_km2=settings.ESD_AOI_MAX_KM2,
    )
