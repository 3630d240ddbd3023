"""Label-set endpoints: upload, list, detail, labels as GeoJSON, add labels, review corrections, templates."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from monitoring.apis.uploads import read_upload
from monitoring.models import Label, LabelSet
from monitoring.selectors.objects import label_get, labelset_get, labelset_list
from monitoring.services.labels import labels_add_points, labelset_delete, labelset_import
from monitoring.services.reviews import label_correct
from monitoring.services.validation import labelset_set_validation
from monitoring.users import signed_in

TEMPLATE_DIR = Path(settings.BASE_DIR) / "static" / "upload_templates"


class LabelSetOutputSerializer(serializers.ModelSerializer):
    label_count = serializers.SerializerMethodField()

    class Meta:
        model = LabelSet
        fields = (
            "id",
            "name",
            "classes",
            "source_filename",
            "upload_report",
            "label_count",
            "is_validation",
            "created_at",
        )

    def get_label_count(self, obj: LabelSet) -> int:
        return obj.labels.count()


class LabelOutputSerializer(GeoFeatureModelSerializer):
    reference_year = serializers.IntegerField(read_only=True)

    class Meta:
        model = Label
        geo_field = "geometry"
        fields = ("id", "row", "klass", "reference_date", "reference_year", "corrected_class")


class LabelSetListApi(APIView):
    """GET: the user's label sets."""

    @extend_schema(responses=LabelSetOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(LabelSetOutputSerializer(labelset_list(user=signed_in(request)), many=True).data)


class LabelSetUploadApi(APIView):
    """POST multipart ``file`` with optional ``name`` and column options; answers the accept/reject report."""

    parser_classes = [MultiPartParser]  # a file travels only as multipart/form-data
    throttle_scope = "upload"

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        class_column = serializers.CharField(required=False, allow_blank=True)
        date_column = serializers.CharField(required=False, allow_blank=True)
        lon_column = serializers.CharField(required=False, allow_blank=True)
        lat_column = serializers.CharField(required=False, allow_blank=True)
        wkt_column = serializers.CharField(required=False, allow_blank=True)
        crs = serializers.CharField(required=False, allow_blank=True, help_text="CSV only, e.g. EPSG:32721")
        layer = serializers.CharField(required=False, allow_blank=True, help_text="GeoPackage layer")
        allowed_classes = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=5000,
            help_text="comma-separated class names; rows of other classes are rejected (case-insensitive)",
        )

    @extend_schema(request=InputSerializer, responses={201: LabelSetOutputSerializer})
    def post(self, request: Request) -> Response:
        filename, content = read_upload(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = {k: v for k, v in data.validated_data.items() if k not in {"file", "name"}}
        label_set, report = labelset_import(
            owner=signed_in(request),
            name=data.validated_data.get("name", ""),
            filename=filename,
            content=content,
            options=options,
        )
        body = dict(LabelSetOutputSerializer(label_set).data)
        body["report"] = report
        return Response(body, status=status.HTTP_201_CREATED)


class LabelSetDetailApi(APIView):
    """GET one label set; PATCH ``is_validation`` (a validation set assesses maps, never trains them);
    DELETE it with its labels and analyses."""

    parser_classes = [JSONParser]

    class PatchInputSerializer(serializers.Serializer):
        is_validation = serializers.BooleanField()

    @extend_schema(responses=LabelSetOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(LabelSetOutputSerializer(labelset_get(user=signed_in(request), pk=pk)).data)

    @extend_schema(request=PatchInputSerializer, responses=LabelSetOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        label_set = labelset_get(user=signed_in(request), pk=pk)  # 404 before any 400
        data = self.PatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_set = labelset_set_validation(
            label_set=label_set, is_validation=data.validated_data["is_validation"]
        )
        return Response(LabelSetOutputSerializer(label_set).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        labelset_delete(label_set=labelset_get(user=signed_in(request), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelSetLabelsApi(APIView):
    """GET the labels of a set as GeoJSON. POST adds point labels of one class (e.g. similar pixels)."""

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        points = serializers.ListField(
            child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
            min_length=1,
            max_length=5000,
            help_text="[[lon, lat], ...]",
        )
        klass = serializers.CharField(max_length=100)
        reference_date = serializers.DateField(required=False)

    @extend_schema(responses=LabelOutputSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        label_set = labelset_get(user=signed_in(request), pk=pk)
        return Response(LabelOutputSerializer(label_set.labels.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: LabelOutputSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        label_set = labelset_get(user=signed_in(request), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        labels = labels_add_points(
            label_set=label_set,
            points=[tuple(p) for p in data.validated_data["points"]],
            klass=data.validated_data["klass"],
            reference_date=data.validated_data.get("reference_date") or datetime.date.today(),
        )
        return Response(LabelOutputSerializer(labels, many=True).data, status=status.HTTP_201_CREATED)


class LabelCorrectionApi(APIView):
    """POST ``{"year", "klass"}``: a reviewer's class for one label-year (``klass`` null removes it)."""

    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        year = serializers.IntegerField(min_value=1980, max_value=2100)
        klass = serializers.CharField(max_length=100, allow_null=True)

    @extend_schema(request=InputSerializer, responses=LabelOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        label = label_get(user=signed_in(request), pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label = label_correct(label=label, reviewer=signed_in(request), **data.validated_data)
        return Response(LabelOutputSerializer(label).data)


class UploadTemplateApi(APIView):
    """GET a template file users fill in (labels or AOI, one per format); no login needed."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, name: str) -> FileResponse:
        files = {p.name: p for p in TEMPLATE_DIR.iterdir() if p.is_file()} if TEMPLATE_DIR.is_dir() else {}
        if name not in files:  # the name is looked up, never joined into a path
            raise Http404("no such template")
        return FileResponse(files[name].open("rb"), as_attachment=True, filename=name)


class UploadTemplateListApi(APIView):
    """GET the names of the template files."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="templates_list", responses={200: {"type": "array", "items": {"type": "string"}}}
    )
    def get(self, request: Request) -> Response:
        names = sorted(p.name for p in TEMPLATE_DIR.iterdir() if p.is_file()) if TEMPLATE_DIR.is_dir() else []
        return Response(names)
