"""Reading an uploaded file from a request, with the size limit checked before it is read."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request

from monitoring.errors import ApplicationError


def read_upload(request: Request, field: str = "file") -> tuple[str, bytes]:
    """(file name, content) of the multipart field; 400 when missing, 413 when over the limit."""
    upload = request.FILES.get(field)
    if upload is None:
        raise ApplicationError(f"no file uploaded: send it as multipart field '{field}'")
    limit = settings.ESD_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ApplicationError(
            f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB", status=413
        )
    return upload.name or "upload", upload.read()
