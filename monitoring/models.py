"""Domain models: AOIs, label sets, the ESD tile catalog, analyses and their outputs.

Every user-facing object is owned (directly or through its parent) by one user; selectors filter on
that owner. Geometries are stored in EPSG:4326 with spatial indexes.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models

from ml.review import UNKNOWN_COLOR
from ml.tasgen.openset import UNKNOWN


class OwnedModel(models.Model):
    """An object that belongs to one user and is invisible to every other user."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AOI(OwnedModel):
    """An area of interest drawn or uploaded by a user; ``area_km2`` is geodesic."""

    name = models.CharField(max_length=200)
    geometry = models.MultiPolygonField(srid=4326, spatial_index=True)
    area_km2 = models.FloatField(default=0.0)
    source_filename = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "AOI"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class LabelSet(OwnedModel):
    """A set of static labels with its class list; ``classes`` is ``[{"name", "color"}]`` in map order."""

    name = models.CharField(max_length=200)
    classes = models.JSONField(default=list)
    source_filename = models.CharField(max_length=255, blank=True)
    upload_report = models.JSONField(default=dict, blank=True)  # accepted/rejected counts, warnings
    # held out to assess maps (area-adjusted accuracy); a validation set never trains an analysis
    is_validation = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def class_names(self) -> list[str]:
        return [c["name"] for c in self.classes]

    @property
    def map_classes(self) -> list[dict[str, str]]:
        """The classes of maps, legends and statistics: the set's own, then the open-set ``unknown``
        (dynamic samples unlike every class of the set) in its own colour, unless the set names it."""
        if UNKNOWN in self.class_names:
            return list(self.classes)
        return [*self.classes, {"name": UNKNOWN, "color": UNKNOWN_COLOR}]

    @property
    def map_class_names(self) -> list[str]:
        return [c["name"] for c in self.map_classes]


class Label(models.Model):
    """One static label: a point or polygon, its class, and the date at which that class is true."""

    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="labels")
    row = models.PositiveIntegerField(default=0)  # row number in the uploaded file (1-based), 0 when drawn
    geometry = models.GeometryField(srid=4326, spatial_index=True)
    klass = models.CharField("class", max_length=100, db_index=True)
    reference_date = models.DateField()
    corrected_class = models.JSONField(default=dict, blank=True)  # {year: class} confirmed by review

    class Meta:
        ordering = ["label_set", "row", "id"]

    def __str__(self) -> str:
        return f"{self.klass} @ {self.reference_date}"

    @property
    def reference_year(self) -> int:
        return self.reference_date.year


class EsdTile(models.Model):
    """Catalog row of one ESD tile (one tile id and year) of the store; shared by all users."""

    class Source(models.TextChoices):
        OFFICIAL = "official"
        ENCODED = "encoded"

    uri = models.CharField(max_length=1024, unique=True)  # absolute path, file:// or http(s):// URL
    tile_id = models.CharField(max_length=64, db_index=True)
    year = models.PositiveSmallIntegerField(db_index=True)
    footprint = models.PolygonField(srid=4326, spatial_index=True)  # bounds in lon/lat (densified)
    crs_wkt = models.TextField()
    epsg = models.IntegerField(null=True, blank=True)
    transform = models.JSONField()  # [a, b, c, d, e, f] of the affine transform
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    resolution = models.FloatField()  # pixel size in CRS units
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ENCODED)
    size_bytes = models.BigIntegerField(default=0)
    fingerprint = models.CharField(max_length=128, blank=True)  # size+mtime or HTTP ETag
    valid_fraction = models.FloatField(null=True, blank=True)
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tile_id", "year"]
        indexes = [models.Index(fields=["year", "tile_id"])]

    def __str__(self) -> str:
        return f"{self.tile_id} {self.year}"


class Analysis(OwnedModel):
    """A monitoring job over one AOI, one label set and a span of years, and its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Stage(models.TextChoices):
        """The stage line of the pipeline, in order (``monitoring.services.pipeline.steps``)."""

        QUEUED = "queued", "Queued"
        LOOKUP = "lookup", "Reading embeddings"
        RELABEL = "relabel", "Relabelling samples (TasGen)"
        CLASSIFY = "classify", "Classifying every pixel"
        CHANGE = "change", "Change maps"
        FINALIZE = "finalize", "Statistics and files"
        DONE = "done", "Done"

    name = models.CharField(max_length=200, blank=True)
    aoi = models.ForeignKey(AOI, on_delete=models.CASCADE, related_name="analyses")
    label_set = models.ForeignKey(LabelSet, on_delete=models.CASCADE, related_name="analyses")
    start_year = models.PositiveSmallIntegerField()
    end_year = models.PositiveSmallIntegerField()
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # 0-100
    error_message = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    timings = models.JSONField(default=dict, blank=True)  # {stage: seconds}
    stats = models.JSONField(default=dict, blank=True)  # areas, transitions, accuracy
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "analyses"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.name or f"Analysis {self.pk}"

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.end_year + 1))


class DynamicSample(models.Model):
    """TasGen output for one label and one year: its dynamic class and why it changed."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="samples")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="dynamic_samples")
    year = models.PositiveSmallIntegerField()
    geometry = models.PointField(srid=4326)  # the pixel centre that was looked up
    static_class = models.CharField(max_length=100)
    dynamic_class = models.CharField(max_length=100)
    changed = models.BooleanField(default=False)
    anomaly_score = models.FloatField(default=0.0)
    confidence = models.FloatField(default=0.0)
    attribution = models.JSONField(default=dict, blank=True)  # {"bands": {...}, "months": {...}}
    # why it is in the review queue ("" when it is not): ml.review.REASONS
    review_reason = models.CharField(max_length=32, blank=True, default="", db_index=True)
    review_value = models.FloatField(default=0.0)  # value of a review, higher first (ml.tasgen.review_value)
    suggested_class = models.CharField(max_length=100, blank=True, default="")  # TasGen's class where
    # it disagrees with the label in the label's own year (the label is kept: "label may be wrong")

    class Meta:
        ordering = ["analysis", "label", "year"]
        constraints = [
            models.UniqueConstraint(fields=["analysis", "label", "year"], name="uniq_sample_label_year")
        ]


class Review(models.Model):
    """A reviewer's answer for one label-year: a confirmation of what the analysis showed or a correction.

    The answer is also kept in ``Label.corrected_class`` (what the next run reads); this row records
    who answered, from which analysis, and whether it confirmed or corrected the dynamic class shown.
    """

    class Action(models.TextChoices):
        CONFIRM = "confirm"
        CORRECT = "correct"

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="reviews")
    year = models.PositiveSmallIntegerField()
    klass = models.CharField("class", max_length=100)
    action = models.CharField(max_length=16, choices=Action.choices)
    shown_class = models.CharField(max_length=100, blank=True)  # the dynamic class the reviewer saw
    analysis = models.ForeignKey(
        "Analysis", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label", "year"]
        constraints = [models.UniqueConstraint(fields=["label", "year"], name="uniq_review_label_year")]


class MapProduct(models.Model):
    """One COG produced by an analysis; ``path`` is relative to MEDIA_ROOT and deterministic."""

    class Kind(models.TextChoices):
        LANDCOVER = "landcover"
        CHANGE_LAST_YEAR = "change_last_year"
        CHANGE_COUNT = "change_count"
        CHANGE_FROM_TO = "change_from_to"
        SIMILARITY = "similarity"
        ESD_PREVIEW = "esd_preview"
        UNCERTAINTY = "uncertainty"  # per year: normalised entropy of the final class probabilities

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="products")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(default=0)  # 0 when the product spans all years
    year_to = models.PositiveSmallIntegerField(default=0)  # second year of pair products, else 0
    path = models.CharField(max_length=512)
    colormap = models.CharField(max_length=64, blank=True)  # name of a server-side colour map
    class_stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["analysis", "kind", "year"]
        constraints = [
            models.UniqueConstraint(fields=["analysis", "kind", "year", "year_to"], name="uniq_product")
        ]


class WorkerHeartbeat(models.Model):
    """A row written by a worker on request: the health check's round trip through broker and worker."""

    token = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
