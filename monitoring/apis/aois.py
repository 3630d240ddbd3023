"""AOI endpoints: list (GeoJSON), draw, upload, rename/reshape, delete."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from monitoring.apis.uploads import read_upload
from monitoring.models import AOI
from monitoring.selectors.coverage import aoi_coverage_years
from monitoring.selectors.objects import aoi_get, aoi_list
from monitoring.services.aois import aoi_create, aoi_delete, aoi_import, aoi_update
from monitoring.users import signed_in


class AoiOutputSerializer(GeoFeatureModelSerializer):
    coverage_years = serializers.SerializerMethodField(
        help_text="years with ESD tiles over the AOI (the Run form's default years)"
    )

    class Meta:
        model = AOI
        geo_field = "geometry"
        fields = ("id", "name", "area_km2", "source_filename", "created_at", "coverage_years")

    def get_coverage_years(self, aoi: AOI) -> list[int]:
        return aoi_coverage_years(aoi)


class AoiListApi(APIView):
    """GET: the user's AOIs as a GeoJSON FeatureCollection. POST: store an AOI drawn on the map."""

    parser_classes = [JSONParser]  # the geometry is GeoJSON

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        geometry = serializers.JSONField(help_text="GeoJSON Polygon or MultiPolygon in EPSG:4326")

    @extend_schema(responses=AoiOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(AoiOutputSerializer(aoi_list(user=signed_in(request)), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: AoiOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        aoi, warnings = aoi_create(owner=signed_in(request), **data.validated_data)
        body = dict(AoiOutputSerializer(aoi).data)
        body["warnings"] = warnings
        return Response(body, status=status.HTTP_201_CREATED)


class AoiUploadApi(APIView):
    """POST multipart ``file`` (GeoJSON, zipped Shapefile, GeoPackage, KML) and optional ``name``."""

    parser_classes = [MultiPartParser]  # a file travels only as multipart/form-data
    throttle_scope = "upload"

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: AoiOutputSerializer})
    def post(self, request: Request) -> Response:
        filename, content = read_upload(request)
        aoi, warnings = aoi_import(
            owner=signed_in(request), filename=filename, content=content, name=request.data.get("name", "")
        )
        body = dict(AoiOutputSerializer(aoi).data)
        body["warnings"] = warnings
        return Response(body, status=status.HTTP_201_CREATED)


class AoiDetailApi(APIView):
    """GET one AOI, PATCH its name and/or geometry, DELETE it (with its analyses)."""

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        geometry = serializers.JSONField(required=False)

    @extend_schema(responses=AoiOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(AoiOutputSerializer(aoi_get(user=signed_in(request), pk=pk)).data)

    @extend_schema(request=InputSerializer, responses=AoiOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        aoi = aoi_get(user=signed_in(request), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        aoi, warnings = aoi_update(aoi=aoi, **data.validated_data)
        body = dict(AoiOutputSerializer(aoi).data)
        body["warnings"] = warnings
        return Response(body)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        aoi_delete(aoi=aoi_get(user=signed_in(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
