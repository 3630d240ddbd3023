"""What an analysis reads: its AOI, labels, grid and store, and content keys for stage reuse.

A stage's cache key hashes everything its output depends on, so a re-run with the same inputs (same
AOI, labels, corrections, years, parameters and store files) finds the stage's files and skips it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

from shapely import wkb
from shapely.geometry.base import BaseGeometry

from ml.errors import GridError
from ml.esd.store import EsdStore
from ml.esd.tiles import EsdTileInfo
from ml.grid import Grid, grid_for_aoi
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, EsdTile, Label
from monitoring.selectors.esd_catalog import esd_tile_info, esd_tiles_for_area
from monitoring.storage.paths import work_dir

PIPELINE_VERSION = "4"  # bump when a stage's output format or method changes


def _hash(*parts: object) -> str:
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode() if not isinstance(p, bytes) else p)
        h.update(b"|")
    return h.hexdigest()[:32]


@dataclass
class AnalysisInputs:
    """The inputs of one analysis, read once per task."""

    analysis: Analysis

    @property
    def years(self) -> list[int]:
        return self.analysis.years

    @cached_property
    def aoi_geometry(self) -> BaseGeometry:
        return wkb.loads(bytes(self.analysis.aoi.geometry.wkb))

    @cached_property
    def tile_rows(self) -> list[EsdTile]:
        return list(esd_tiles_for_area(area=self.aoi_geometry.bounds, years=self.years))

    @cached_property
    def tiles(self) -> list[EsdTileInfo]:
        return [esd_tile_info(t) for t in self.tile_rows]

    @cached_property
    def store(self) -> EsdStore:
        return EsdStore.from_tiles(self.tiles, location="catalog")

    @cached_property
    def grid(self) -> Grid:
        path = work_dir(self.analysis.pk, "lookup") / "grid.json"
        if path.exists():
            return Grid.from_json(path.read_text())
        try:
            grid = grid_for_aoi(self.aoi_geometry, self.tiles)
        except GridError as exc:
            raise ApplicationError(str(exc)) from exc
        grid.save(path)
        return grid

    @cached_property
    def labels(self) -> list[Label]:
        return list(self.analysis.label_set.labels.order_by("row", "id"))

    @cached_property
    def class_names(self) -> list[str]:
        """Classes of the maps and statistics: the label set's, then ``unknown`` (LabelSet.map_classes)."""
        return self.analysis.label_set.map_class_names

    @cached_property
    def store_key(self) -> list[tuple[str, int, str]]:
        return [(t.uri, t.year, t.fingerprint) for t in self.tile_rows]

    @cached_property
    def lookup_key(self) -> str:
        return _hash("lookup", self.grid.to_json(), self.years, self.store_key, self.aoi_geometry.wkb)

    @cached_property
    def labels_key(self) -> str:
        geoms = [(lab.pk, lab.geometry.wkb.hex()) for lab in self.labels]
        return _hash("labels", self.grid.to_json(), self.years, self.store_key, geoms)

    @cached_property
    def tasgen_key(self) -> str:
        """What the TasGen fit (and its attribution) depends on: the relabel inputs without the
        reviewers' answers, so applying reviews re-uses the fitted model."""
        labels = [(lab.pk, lab.klass, lab.reference_date.isoformat()) for lab in self.labels]
        params = {
            k: v for k, v in self.analysis.parameters.items() if k in {"tasgen", "year_start_month", "seed"}
        }
        return _hash("tasgen", self.labels_key, labels, params)

    @cached_property
    def relabel_key(self) -> str:
        answers = [(lab.pk, lab.corrected_class) for lab in self.labels if lab.corrected_class]
        return _hash("relabel", self.tasgen_key, answers)

    @cached_property
    def classify_key(self) -> str:
        params = {
            k: v
            for k, v in self.analysis.parameters.items()
            if k in {"classifier", "seed", "accuracy_block_m"}
        }
        return _hash(
            "classify", self.relabel_key, self.lookup_key, self.class_names, params, "probs", "mapper-npz"
        )  # windows keep probs; the model is an .npz of arrays (mlp default since issue 18)

    @cached_property
    def store_year_start_month(self) -> int:
        """First month of the store's years, from the tiles' ``ESD_YEAR_START_MONTH`` tag (default 1)."""
        from monitoring.selectors.decoders import tile_tag

        for tile in self.tiles[:1]:
            value = tile_tag(tile, "ESD_YEAR_START_MONTH")
            if value and value.isdigit() and 1 <= int(value) <= 12:
                return int(value)
        return 1

    def reference_year(self, label: Label) -> int:
        """The store year a label's reference date falls in.

        Store years run from ``year_start_month`` (1 = calendar years; 9 = crop years Sep->Aug, named by
        the year they end in, as the Mato Grosso demo store is encoded).
        """
        start = int(self.analysis.parameters.get("year_start_month") or self.store_year_start_month)
        date = label.reference_date
        return date.year + 1 if start > 1 and date.month >= start else date.year
