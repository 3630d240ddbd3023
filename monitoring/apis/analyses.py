"""Analysis endpoints: create/list/detail/cancel/delete, samples, map products, statistics, pixel (review: reviews.py)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.apis import filters
from monitoring.models import Analysis, DynamicSample, MapProduct
from monitoring.parameters import AnalysisParametersSerializer, given_only
from monitoring.selectors.objects import (
    analysis_get,
    analysis_get_bare,
    analysis_list,
    aoi_get,
    labelset_get,
    product_get,
    sample_list,
)
from monitoring.selectors.pixel import pixel_report
from monitoring.selectors.samples import SAMPLE_COLUMNS, sample_dicts
from monitoring.services.analyses import analysis_cancel, analysis_create, analysis_delete
from monitoring.services.map_packages import CRS_CHOICES, product_package
from monitoring.services.validation import analysis_validate, analysis_validation_clear
from monitoring.storage.paths import analysis_dir, media_file
from monitoring.users import signed_in

SAMPLE_FILES = {
    "geojson": ("samples.geojson", "application/geo+json"),
    "csv": ("samples.csv", "text/csv"),
    "gpkg": ("samples.gpkg", "application/geopackage+sqlite3"),
}
STATS_FILES = {"json": ("stats.json", "application/json"), "csv": ("stats.csv", "text/csv")}


class MapProductOutputSerializer(serializers.ModelSerializer):
    tiles = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()
    package = serializers.SerializerMethodField()

    class Meta:
        model = MapProduct
        fields = ("id", "kind", "year", "year_to", "colormap", "class_stats", "tiles", "download", "package")

    def get_tiles(self, obj: MapProduct) -> str:
        return f"/api/analyses/{obj.analysis_id}/products/{obj.pk}/tiles/{{z}}/{{x}}/{{y}}.png"

    def get_download(self, obj: MapProduct) -> str:
        return f"/api/analyses/{obj.analysis_id}/products/{obj.pk}/download"

    def get_package(self, obj: MapProduct) -> str:
        """The zip with class names, attribute table, QGIS style and code table (``?crs=`` to reproject)."""
        return f"/api/analyses/{obj.analysis_id}/products/{obj.pk}/package.zip"


class AnalysisOutputSerializer(serializers.ModelSerializer):
    years = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    aoi_name = serializers.CharField(source="aoi.name", read_only=True)
    label_set_name = serializers.CharField(source="label_set.name", read_only=True)

    class Meta:
        model = Analysis
        fields: tuple[str, ...] = (
            "id",
            "name",
            "aoi",
            "aoi_name",
            "label_set",
            "label_set_name",
            "start_year",
            "end_year",
            "years",
            "parameters",
            "status",
            "stage",
            "progress",
            "error_message",
            "timings",
            "created_at",
            "started_at",
            "finished_at",
        )


class AnalysisDetailOutputSerializer(AnalysisOutputSerializer):
    products = MapProductOutputSerializer(many=True, read_only=True)
    stats = serializers.JSONField(read_only=True)
    classes = serializers.JSONField(source="label_set.map_classes", read_only=True)

    class Meta(AnalysisOutputSerializer.Meta):
        fields = (*AnalysisOutputSerializer.Meta.fields, "products", "stats", "classes")


class DynamicSampleOutputSerializer(serializers.ModelSerializer):
    lon = serializers.FloatField(source="geometry.x")
    lat = serializers.FloatField(source="geometry.y")
    row = serializers.IntegerField(source="label.row")
    corrected_class = serializers.JSONField(source="label.corrected_class")

    class Meta:
        model = DynamicSample
        fields = tuple(SAMPLE_COLUMNS)  # the rows ``sample_dicts`` writes


class AnalysisListApi(APIView):
    """GET the user's analyses; POST starts one (queued, then run by the workers)."""

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        aoi = serializers.IntegerField()
        label_set = serializers.IntegerField()
        start_year = serializers.IntegerField(min_value=1980, max_value=2100)
        end_year = serializers.IntegerField(min_value=1980, max_value=2100)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        parameters = AnalysisParametersSerializer(
            required=False, help_text="optional settings; all have defaults"
        )

    @extend_schema(responses=AnalysisOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            AnalysisOutputSerializer(analysis_list(user=signed_in(request))[:200], many=True).data
        )

    @extend_schema(request=InputSerializer, responses={201: AnalysisOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        analysis = analysis_create(
            owner=signed_in(request),
            aoi=aoi_get(user=signed_in(request), pk=v["aoi"]),
            label_set=labelset_get(user=signed_in(request), pk=v["label_set"]),
            start_year=v["start_year"],
            end_year=v["end_year"],
            name=v.get("name", ""),
            parameters=given_only(v.get("parameters", {}), request.data.get("parameters") or {}),
        )
        return Response(AnalysisOutputSerializer(analysis).data, status=status.HTTP_201_CREATED)


class AnalysisDetailApi(APIView):
    """GET progress, products and statistics of one analysis; DELETE it and its files."""

    @extend_schema(responses=AnalysisDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(AnalysisDetailOutputSerializer(analysis_get(user=signed_in(request), pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        analysis_delete(analysis=analysis_get(user=signed_in(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnalysisCancelApi(APIView):
    """POST: stop the job at its next window and mark it cancelled."""

    @extend_schema(request=None, responses=AnalysisOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        analysis = analysis_cancel(analysis=analysis_get(user=signed_in(request), pk=pk))
        return Response(AnalysisOutputSerializer(analysis).data)


def _analysis_file(analysis: Analysis, name: str, content_type: str) -> FileResponse:
    if analysis.status != Analysis.Status.DONE:
        raise Http404(f"the analysis is {analysis.status}; files exist once it is done")
    path = analysis_dir(analysis.pk) / name  # fixed names: nothing from the user reaches the path
    if not path.is_file():
        raise Http404(f"{name} not found")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"analysis_{analysis.pk}_{name}",
        content_type=content_type,
    )


class AnalysisSamplesApi(APIView):
    """GET dynamic samples: JSON page (``limit``/``offset``, ``?changed=true``), or a file (``?fmt=geojson|csv|gpkg``)."""

    class FilterSerializer(filters.FilterSerializer):
        fmt = serializers.ChoiceField(
            choices=["json", *SAMPLE_FILES], default="json", help_text="json: a page of rows; else the file"
        )
        changed = serializers.BooleanField(default=False, help_text="only sample-years whose class changed")
        limit = serializers.IntegerField(min_value=1, max_value=5000, default=1000, help_text="rows per page")
        offset = serializers.IntegerField(min_value=0, default=0, help_text="rows to skip")

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField(help_text="rows matching the filter (all pages)")
        results = DynamicSampleOutputSerializer(many=True)

    @extend_schema(
        parameters=[FilterSerializer],
        responses={
            200: OutputSerializer,
            (200, "application/geo+json"): bytes,
            (200, "text/csv"): bytes,
            (200, "application/geopackage+sqlite3"): bytes,
        },
    )
    def get(self, request: Request, pk: int) -> Response | FileResponse:
        analysis = analysis_get_bare(user=signed_in(request), pk=pk)
        query = self.FilterSerializer.parse(request)
        if query["fmt"] in SAMPLE_FILES:
            return _analysis_file(analysis, *SAMPLE_FILES[query["fmt"]])
        qs = sample_list(analysis=analysis)
        if query["changed"]:
            qs = qs.filter(changed=True)
        offset, limit = query["offset"], query["limit"]
        return Response({"count": qs.count(), "results": sample_dicts(qs[offset : offset + limit])})


class AnalysisStatsApi(APIView):
    """GET statistics: JSON (``?fmt=json``, default) or the CSV file (``?fmt=csv``)."""

    class FilterSerializer(filters.FilterSerializer):
        fmt = serializers.ChoiceField(choices=list(STATS_FILES), default="json")

    @extend_schema(
        parameters=[FilterSerializer],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): bytes,
        },
    )
    def get(self, request: Request, pk: int) -> Response | FileResponse:
        analysis = analysis_get_bare(user=signed_in(request), pk=pk)
        query = self.FilterSerializer.parse(request)
        if query["fmt"] == "csv":
            return _analysis_file(analysis, *STATS_FILES["csv"])
        return Response(analysis.stats)


class AnalysisValidationApi(APIView):
    """GET the assessment; POST ``{"label_set": id}``: assess the maps with a validation label set (it is marked as one):
    overall, user's and producer's accuracy and error-adjusted class areas with 95% confidence intervals
    (Olofsson et al. 2014), per map year with labels; the statistics files are rewritten. DELETE drops it.
    """

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        label_set = serializers.IntegerField()

    @extend_schema(responses=dict)
    def get(self, request: Request, pk: int) -> Response:
        """The stored assessment, or ``{}`` when the analysis has none."""
        return Response(
            (analysis_get_bare(user=signed_in(request), pk=pk).stats or {}).get("validation") or {}
        )

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request, pk: int) -> Response:
        analysis = analysis_get_bare(user=signed_in(request), pk=pk)  # 404 before any 400
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_set = labelset_get(user=signed_in(request), pk=data.validated_data["label_set"])
        return Response(analysis_validate(analysis=analysis, label_set=label_set))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        analysis_validation_clear(analysis=analysis_get_bare(user=signed_in(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductDownloadApi(APIView):
    """GET one map product as its COG file."""

    @extend_schema(responses={(200, "image/tiff"): bytes})
    def get(self, request: Request, pk: int, product_pk: int) -> FileResponse:
        product = product_get(user=signed_in(request), analysis_pk=pk, pk=product_pk)
        path = media_file(product.path)
        if path is None:
            raise Http404("file not found")
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=path.name, content_type="image/tiff"
        )


class ProductPackageApi(APIView):
    """GET one map product as a zip that describes itself: the COG, its class names and attribute table
    (``.aux.xml``, listed by ``gdalinfo``), a QGIS ``.qml`` style and the code table (CSV).
    ``?crs=native`` (the analysis grid), ``EPSG:4326`` or ``utm`` (the UTM zone of the AOI's centre)."""

    class FilterSerializer(filters.FilterSerializer):
        crs = serializers.ChoiceField(
            choices=list(CRS_CHOICES),
            default="native",
            help_text="native: the analysis grid; EPSG:4326: lon/lat; utm: the UTM zone of the AOI's centre",
        )

    @extend_schema(parameters=[FilterSerializer], responses={(200, "application/zip"): bytes})
    def get(self, request: Request, pk: int, product_pk: int) -> FileResponse:
        product = product_get(user=signed_in(request), analysis_pk=pk, pk=product_pk)  # 404 before any 400
        query = self.FilterSerializer.parse(request)
        path = product_package(product=product, crs=query["crs"])
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=path.name, content_type="application/zip"
        )


class PixelApi(APIView):
    """GET ``?lon=&lat=``: per-year embedding summary, decoded reflectance (when a decoder exists), class."""

    class FilterSerializer(filters.FilterSerializer):
        lon = serializers.FloatField(min_value=-180, max_value=180, help_text="longitude, EPSG:4326")
        lat = serializers.FloatField(min_value=-90, max_value=90, help_text="latitude, EPSG:4326")

    @extend_schema(parameters=[FilterSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        analysis = analysis_get(user=signed_in(request), pk=pk)
        query = self.FilterSerializer.parse(request)
        return Response(pixel_report(analysis=analysis, lon=query["lon"], lat=query["lat"]))
