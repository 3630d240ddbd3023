"""Map-page endpoints: ESD store coverage, legends, similar pixels, and the stand-alone HTML export."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.selectors.coverage import esd_coverage_patches
from monitoring.selectors.esd_catalog import esd_coverage
from monitoring.selectors.legends import analysis_legends
from monitoring.selectors.objects import analysis_get
from monitoring.services.similar import DEFAULT_THRESHOLD, similar_pixels
from monitoring.users import signed_in


class LegendEntryOutputSerializer(serializers.Serializer):
    value = serializers.FloatField(
        allow_null=True, help_text="pixel value in the product's COG (similarity: the value); null: no change"
    )
    label = serializers.CharField()  # type: ignore[assignment]  # DRF stubs: a field named label shadows Field.label
    color = serializers.CharField(help_text="#rrggbb, or #rrggbbaa when not opaque")


class LegendsOutputSerializer(serializers.Serializer):
    """One list of entries per product kind: the keys of ``monitoring.selectors.legends.LEGENDS``."""

    landcover = LegendEntryOutputSerializer(many=True)
    change_last_year = LegendEntryOutputSerializer(many=True)
    change_count = LegendEntryOutputSerializer(many=True)
    change_from_to = LegendEntryOutputSerializer(many=True)
    similarity = LegendEntryOutputSerializer(many=True)
    uncertainty = LegendEntryOutputSerializer(many=True)


class LonLatSerializer(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()


class SimilarPixelSerializer(LonLatSerializer):
    similarity = serializers.FloatField(help_text="cosine similarity to the reference pixel, in [-1, 1]")


class SimilarPixelsOutputSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    reference = LonLatSerializer(help_text="centre of the clicked pixel")
    count = serializers.IntegerField()
    pixels = SimilarPixelSerializer(many=True, help_text="most similar first")
    tiles = serializers.CharField(help_text="XYZ URL of the heat layer; ?threshold= hides pixels below it")


class EsdCoverageApi(APIView):
    """GET the store's coverage: ``{"years", "bounds": [w, s, e, n], "footprints": FeatureCollection}``."""

    class OutputSerializer(serializers.Serializer):
        years = serializers.ListField(child=serializers.IntegerField(), help_text="years with any tile")
        bounds = serializers.ListField(
            child=serializers.FloatField(),
            min_length=4,
            max_length=4,
            allow_null=True,
            help_text="[west, south, east, north] of all tiles, EPSG:4326; null without tiles",
        )
        footprints = serializers.JSONField(help_text="GeoJSON FeatureCollection, properties tile_id and year")
        patches = serializers.JSONField(
            help_text='one per tile id: {"tile_id", "name", "label" (e.g. "Mato Grosso, MODIS, 2007-2013"),'
            ' "years", "bounds", "geometry"}, drawn and named on the map\'s first screen'
        )

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        return Response({**esd_coverage(), "patches": esd_coverage_patches()})


class AnalysisLegendsApi(APIView):
    """GET the legends of an analysis' map products, from the server's named colour maps."""

    @extend_schema(responses=LegendsOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(analysis_legends(analysis=analysis_get(user=signed_in(request), pk=pk)))


class SimilarPixelsApi(APIView):
    """POST ``{"lon", "lat", "year"}``: the AOI's pixels ranked by cosine similarity to the clicked pixel.

    Answer: ``{"year", "reference": {"lon", "lat"}, "count", "pixels": [{"lon", "lat", "similarity"}],
    "tiles"}``; ``tiles`` is the heat layer's XYZ URL (``?threshold=`` hides pixels below it).
    """

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        lon = serializers.FloatField(min_value=-180, max_value=180)
        lat = serializers.FloatField(min_value=-90, max_value=90)
        year = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=SimilarPixelsOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        analysis = analysis_get(user=signed_in(request), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if analysis.status != Analysis.Status.DONE:
            raise ApplicationError(f"the analysis is {analysis.status}; similar pixels need a finished one")
        answer = dict(similar_pixels(analysis=analysis, lon=v["lon"], lat=v["lat"], year=v["year"]))
        token = answer.pop("token")
        answer["tiles"] = (
            f"/api/analyses/{analysis.pk}/similar/{token}/tiles/{{z}}/{{x}}/{{y}}.png"
            f"?threshold={DEFAULT_THRESHOLD}"
        )
        return Response(answer)


class AnalysisHtmlExportApi(APIView):
    """GET a stand-alone HTML map of the analysis (leafmap/folium) as an attachment."""

    @extend_schema(responses={(200, "text/html"): str})
    def get(self, request: Request, pk: int) -> HttpResponse:
        from monitoring.services.html_export import analysis_html_export

        analysis = analysis_get(user=signed_in(request), pk=pk)
        html = analysis_html_export(analysis=analysis)
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="analysis_{analysis.pk}_map.html"'
        return response
