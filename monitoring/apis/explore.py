"""Map-page endpoints: ESD store coverage, legends, similar pixels, and the stand-alone HTML export."""

from __future__ import annotations

import json

from django.contrib.gis.db.models import Extent
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ml.errors import MLError
from ml.maps import legend
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, EsdTile
from monitoring.selectors.objects import analysis_get
from monitoring.selectors.similar import DEFAULT_THRESHOLD, similar_pixels

LEGENDS = {  # response key -> ml.maps legend name
    "landcover": "landcover",
    "change_last_year": "years",
    "change_count": "change_count",
    "change_from_to": "from_to",
    "similarity": "similarity",
}


def analysis_legends(analysis: Analysis) -> dict[str, list[dict]]:
    """Legend entries ``{"value", "label", "color"}`` of every product kind of ``analysis``."""
    classes = analysis.label_set.classes
    names = [c["name"] for c in classes] or None
    colors = [c["color"] for c in classes if c.get("color")] or None
    if colors is not None and names is not None and len(colors) != len(names):
        colors = None
    out: dict[str, list[dict]] = {}
    for key, name in LEGENDS.items():
        try:
            out[key] = legend(name, names, analysis.years, colors=colors)
        except MLError as exc:
            raise ApplicationError(f"legend {key!r} cannot be built: {exc}") from exc
    return out


class EsdCoverageApi(APIView):
    """GET the store's coverage: ``{"years", "bounds": [w, s, e, n], "footprints": FeatureCollection}``."""

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        rows = EsdTile.objects.order_by("year", "tile_id").only("tile_id", "year", "footprint")
        extent = EsdTile.objects.aggregate(extent=Extent("footprint"))["extent"]
        features = [
            {
                "type": "Feature",
                "geometry": json.loads(t.footprint.geojson),
                "properties": {"tile_id": t.tile_id, "year": t.year},
            }
            for t in rows
        ]
        return Response(
            {
                "years": sorted({f["properties"]["year"] for f in features}),
                "bounds": list(extent) if extent else None,
                "footprints": {"type": "FeatureCollection", "features": features},
            }
        )


class AnalysisLegendsApi(APIView):
    """GET the legends of an analysis' map products, from the server's named colour maps."""

    @extend_schema(responses=dict)
    def get(self, request: Request, pk: int) -> Response:
        return Response(analysis_legends(analysis_get(user=request.user, pk=pk)))


class SimilarPixelsApi(APIView):
    """POST ``{"lon", "lat", "year"}``: the AOI's pixels ranked by cosine similarity to the clicked pixel.

    Answer: ``{"year", "reference": {"lon", "lat"}, "count", "pixels": [{"lon", "lat", "similarity"}],
    "tiles"}``; ``tiles`` is the heat layer's XYZ URL (``?threshold=`` hides pixels below it).
    """

    parser_classes = [JSONParser]

    @extend_schema_serializer(component_name="SimilarPixelsInput")
    class InputSerializer(serializers.Serializer):
        lon = serializers.FloatField(min_value=-180, max_value=180)
        lat = serializers.FloatField(min_value=-90, max_value=90)
        year = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request, pk: int) -> Response:
        analysis = analysis_get(user=request.user, pk=pk)
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

        analysis = analysis_get(user=request.user, pk=pk)
        html = analysis_html_export(analysis=analysis)
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="analysis_{analysis.pk}_map.html"'
        return response
