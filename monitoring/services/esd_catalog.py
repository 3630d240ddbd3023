"""Fill the ``EsdTile`` catalog from an ESD store (folder, ``file://`` or http(s) prefix): ``esd_index``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.gis.geos import Polygon
from django.db import transaction

from ml.errors import StoreError, TileError
from ml.esd.store import list_tile_uris
from ml.esd.tiles import EsdTileInfo, is_remote, local_path, read_tile_info, uri_fingerprint
from monitoring.models import EsdTile


class EsdCatalogError(ValueError):
    """The store location cannot be listed (missing folder, unreachable URL, no catalog.json)."""


@dataclass
class EsdIndexReport:
    """What one indexing run did; each list holds tile URIs (``rejected``: ``(uri, reason)``)."""

    location: str
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # rows deleted by prune (file gone from the store)

    def as_dict(self) -> dict[str, Any]:
        """Counts and the rejected files with their reasons, JSON-ready."""
        return {
            "location": self.location,
            "new": len(self.new),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "rejected": [{"uri": u, "reason": r} for u, r in self.rejected],
            "removed": len(self.removed),
        }


def _tile_uris(location: str) -> list[str]:
    """Tile URIs of a store location, or the location itself when it names one ``.tif`` file."""
    if location.lower().split("?", 1)[0].endswith((".tif", ".tiff")):
        return [location if is_remote(location) else str(local_path(location).resolve())]
    try:
        return list_tile_uris(location)
    except StoreError as exc:
        raise EsdCatalogError(str(exc)) from exc


def esd_tile_fields(info: EsdTileInfo) -> dict[str, Any]:
    """``EsdTile`` field values (all but ``uri``) for one tile's metadata."""
    return {
        "tile_id": info.tile_id,
        "year": info.year,
        "footprint": Polygon(info.footprint_lonlat, srid=4326),
        "crs_wkt": info.crs_wkt,
        "epsg": info.epsg,
        "transform": list(info.transform),
        "width": info.width,
        "height": info.height,
        "resolution": info.resolution,
        "source": info.source,
        "size_bytes": info.size_bytes,
        "fingerprint": info.fingerprint,
        "valid_fraction": info.valid_fraction,
    }


def esd_index(*, location: str, prune: bool = False, check_data: bool = True) -> EsdIndexReport:
    """Index every tile of ``location`` into ``EsdTile`` (idempotent).

    A tile whose fingerprint (size+mtime, or HTTP ETag) matches its row is ``unchanged`` and not reopened;
    others are validated (name, GeoTIFF, 13 uint16 bands, CRS; with ``check_data`` also readable data)
    and created or updated, one transaction per tile. Invalid files are ``rejected`` with the reason and
    indexing goes on. With ``prune``, rows under ``location`` whose file is gone are deleted. Raises
    :class:`EsdCatalogError` when the location itself cannot be listed.
    """
    location = str(location)
    report = EsdIndexReport(location=location)
    uris = _tile_uris(location)
    known = {t.uri: t.fingerprint for t in EsdTile.objects.filter(uri__in=uris).only("uri", "fingerprint")}
    for uri in uris:
        try:
            _, fingerprint = uri_fingerprint(uri)
            if known.get(uri) == fingerprint:
                report.unchanged.append(uri)
                continue
            info = read_tile_info(uri, check_data=check_data)
        except TileError as exc:
            report.rejected.append((uri, str(exc)))
            continue
        with transaction.atomic():
            _, created = EsdTile.objects.update_or_create(uri=uri, defaults=esd_tile_fields(info))
        (report.new if created else report.updated).append(uri)
    if prune:
        prefix = location if is_remote(location) else str(local_path(location).resolve())
        prefix = prefix.rstrip("/") + "/"
        gone = EsdTile.objects.filter(uri__startswith=prefix).exclude(uri__in=uris)
        report.removed = list(gone.values_list("uri", flat=True))
        gone.delete()
    return report
