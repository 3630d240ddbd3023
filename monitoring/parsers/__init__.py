"""Upload parsing and validation for AOIs and labels (pure Python: geopandas/pyogrio/shapely/pyproj).

No Django here: services call these functions with limits from settings and store the result.

- ``parse_labels(filename, content, options, limits, coverage=None) -> LabelUploadReport``
- ``parse_aoi(filename, content, limits, coverage=None, *, layer=None, patches=()) -> AoiUploadReport``
- ``validate_aoi_geometry(geom, limits, coverage=None, patches=()) -> ValidatedAoi`` (AOIs drawn in
  the browser); ``patches`` (``CoveragePatch``) name the covered areas in the "no coverage" message

Whole-file problems raise ``UploadError`` (its ``message`` is for the user); row problems come back
as ``RejectedRow`` entries. All geometries returned are in EPSG:4326. See docs/uploads.md.
"""

from monitoring.parsers.aoi import parse_aoi, validate_aoi_geometry
from monitoring.parsers.labels import parse_labels, parse_reference_date
from monitoring.parsers.types import (
    AcceptedLabel,
    AoiUploadReport,
    CoveragePatch,
    LabelOptions,
    LabelUploadReport,
    RejectedRow,
    UploadError,
    UploadLimits,
    ValidatedAoi,
)

__all__ = [
    "AcceptedLabel",
    "AoiUploadReport",
    "CoveragePatch",
    "LabelOptions",
    "LabelUploadReport",
    "RejectedRow",
    "UploadError",
    "UploadLimits",
    "ValidatedAoi",
    "parse_aoi",
    "parse_labels",
    "parse_reference_date",
    "validate_aoi_geometry",
]
