"""Reading an uploaded file from a request, with the size limit checked before it is read."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request

from monitoring.errors import ApplicationError
from monitoring.parsers.table import human_size


def read_upload(request: Request, field: str = "file") -> tuple[str, bytes]:
    """(file name, content) of the multipart field; 400 when missing, 413 when over the limit."""
    upload = request.FILES.get(field)
    if upload is None:
        raise ApplicationError(f"no file uploaded: send it as multipart field '{field}'")
    name = upload.name or "upload"
    if upload.size == 0:  # before the serializer's FileField, which would answer a field error instead
        raise ApplicationError(f"{name} is empty (0 bytes); upload a file that contains features.")
    limit = settings.ESD_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ApplicationError(
            f"{name} is {human_size(upload.size)}, larger than the upload limit of {human_size(limit)}; "
            "split it into smaller files or simplify the geometries.",
            status=413,
        )
    return name, upload.read()
