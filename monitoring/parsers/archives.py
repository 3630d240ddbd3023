"""Zipped Shapefiles: the archive is checked (paths, member count, uncompressed size) before extracting."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from monitoring.parsers.ogr import read_ogr, read_ogr_path
from monitoring.parsers.table import SourceTable, human_size, parse_crs, short_error
from monitoring.parsers.types import UploadError, UploadLimits


def _zip_members(
    name: str, content: bytes, limits: UploadLimits
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip and check it without extracting: damage, member count, paths, encryption, size."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UploadError(
            f"{name} is damaged or truncated (not a readable ZIP archive); zip it again."
        ) from None
    for info in infos:
        parts = re.split(r"[\\/]", info.filename)
        if info.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", info.filename) or ".." in parts:
            raise UploadError(
                f"{name} contains an unsafe path '{info.filename[:80]}' (absolute or with '..'); "
                "zip the files themselves, without parent folders."
            )
    members = [
        i
        for i in infos
        if not i.is_dir()
        and not i.filename.startswith("__MACOSX/")
        and not PurePosixPath(i.filename).name.startswith("._")
        and PurePosixPath(i.filename).name != ".DS_Store"
    ]
    if len(members) > limits.max_zip_members:
        raise UploadError(
            f"{name} holds {len(members)} files, more than the limit of {limits.max_zip_members}; "
            "zip only the Shapefile's .shp, .shx, .dbf, .prj (and .cpg)."
        )
    if any(i.flag_bits & 0x1 for i in members):
        raise UploadError(f"{name} is password-protected; zip the files without a password.")
    total = sum(i.file_size for i in members)
    if total > limits.max_uncompressed_bytes:
        raise UploadError(
            f"{name} would expand to {human_size(total)}, more than the limit of {human_size(limits.max_uncompressed_bytes)} "
            "uncompressed; upload a smaller file."
        )
    return zf, members


def read_zipped_shapefile(name: str, content: bytes, limits: UploadLimits) -> SourceTable:
    """Check the zip, extract the one Shapefile's parts to a temporary folder and read it.

    The CRS comes from the ``.prj`` (required); a ``.cpg`` tells GDAL the attribute encoding.
    """
    zf, members = _zip_members(name, content, limits)
    shps = [m for m in members if m.filename.lower().endswith(".shp")]
    if not shps:
        found = ", ".join(PurePosixPath(m.filename).name for m in members[:10]) or "nothing"
        raise UploadError(
            f"{name} contains no .shp file (found: {found}); a zipped Shapefile needs the .shp, .shx, "
            ".dbf and .prj files."
        )
    if len(shps) > 1:
        listed = ", ".join(PurePosixPath(m.filename).name for m in shps[:5])
        raise UploadError(f"{name} contains {len(shps)} Shapefiles ({listed}); upload one Shapefile per zip.")
    stem = shps[0].filename[:-4]
    by_ext: dict[str, zipfile.ZipInfo] = {}
    for m in members:
        if m.filename[: len(stem)] == stem and "/" not in m.filename[len(stem) :]:
            by_ext[m.filename[len(stem) :].lower()] = m
    shp_name = PurePosixPath(shps[0].filename).name
    missing = [ext for ext in (".shx", ".dbf") if ext not in by_ext]
    if missing:
        raise UploadError(
            f"{name}: the Shapefile {shp_name} is incomplete, missing "
            + " and ".join(PurePosixPath(stem).name + e for e in missing)
            + "; zip the .shp, .shx, .dbf and .prj files together."
        )
    if ".prj" not in by_ext:
        raise UploadError(
            f"no CRS: {name} has no .prj file for {shp_name}, so its coordinates cannot be located; "
            "add the .prj (export the layer again with its CRS) and upload again."
        )
    with tempfile.TemporaryDirectory(prefix="esd-upload-") as tmp:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            if ext in by_ext:
                _extract(zf, by_ext[ext], Path(tmp) / f"layer{ext}", name)
        prj_text = (Path(tmp) / "layer.prj").read_text(encoding="utf-8", errors="replace").strip()
        if not prj_text:
            raise UploadError(
                f"no CRS: the .prj file in {name} is empty; export the layer again with its CRS."
            )
        crs = parse_crs(prj_text, f"the .prj file of {name}")
        table = read_ogr_path(name, Path(tmp) / "layer.shp", limits, "shapefile", layer=None, crs=crs)
    return table


def read_kmz(name: str, content: bytes, limits: UploadLimits) -> SourceTable:
    """A KMZ (zipped KML, as Google Earth saves it): the archive is checked, then its one .kml read."""
    zf, members = _zip_members(name, content, limits)
    kmls = [m for m in members if m.filename.lower().endswith(".kml")]
    if len(kmls) != 1:
        raise UploadError(
            f"{name} contains {len(kmls)} .kml files; a KMZ must hold exactly one (usually doc.kml)."
        )
    with tempfile.TemporaryDirectory(prefix="esd-upload-") as tmp:
        target = Path(tmp) / "doc.kml"
        _extract(zf, kmls[0], target, name)
        return read_ogr(name, target.read_bytes(), limits, "kml", layer=None)


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one member, never writing more than its declared size (zipfile checks size and CRC)."""
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while (chunk := src.read(1 << 20)) and written <= info.file_size:
                written += len(chunk)
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:  # zlib: a damaged stream
        raise UploadError(f"{name} is damaged or truncated ({short_error(exc)}); zip it again.") from None
    if written > info.file_size:
        raise UploadError(f"{name} is damaged (a member is larger than its declared size); zip it again.")
