"""Review endpoints: the queue of an analysis, answers (confirm / correct), new classes, "Apply reviews"."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ml.review import REASONS
from monitoring.apis import filters
from monitoring.apis.analyses import AnalysisOutputSerializer
from monitoring.selectors.objects import analysis_get, analysis_get_bare, labelset_get
from monitoring.selectors.reviews import STATUSES, review_counts, review_queue
from monitoring.services.reviews import (
    MAX_CLASS_NAME,
    analysis_apply_reviews,
    labelset_class_add,
    samples_review,
)
from monitoring.users import signed_in


class ReviewQueueFilterSerializer(filters.FilterSerializer):
    """Query parameters of the review queue."""

    status = serializers.ChoiceField(choices=STATUSES, default="all", help_text="answered or not")
    reason = serializers.ChoiceField(choices=("", *REASONS), default="", required=False, allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=200)
    offset = serializers.IntegerField(min_value=0, default=0)


class ReviewCountsOutputSerializer(serializers.Serializer):
    """Counts of the whole queue (not only the page): answered, unanswered and per reason."""

    total = serializers.IntegerField()
    reviewed = serializers.IntegerField()
    unreviewed = serializers.IntegerField()
    unknown = serializers.IntegerField()
    label_may_be_wrong = serializers.IntegerField()
    changed = serializers.IntegerField()
    uncertain = serializers.IntegerField()
    answered = serializers.IntegerField(help_text="in the queue only because a reviewer answered it")


class ReviewItemOutputSerializer(serializers.Serializer):
    """One sample-year of the queue, why it is there, what a review is worth, and its answer."""

    id = serializers.IntegerField(source="sample.id")
    label = serializers.IntegerField(source="sample.label_id")  # type: ignore[assignment]  # DRF stubs: shadows Field.label
    row = serializers.IntegerField(source="sample.label.row")
    year = serializers.IntegerField(source="sample.year")
    lon = serializers.FloatField(source="sample.geometry.x")
    lat = serializers.FloatField(source="sample.geometry.y")
    static_class = serializers.CharField(source="sample.static_class")
    dynamic_class = serializers.CharField(source="sample.dynamic_class")
    changed = serializers.BooleanField(source="sample.changed")
    anomaly_score = serializers.FloatField(source="sample.anomaly_score")
    confidence = serializers.FloatField(source="sample.confidence")
    attribution = serializers.JSONField(source="sample.attribution")
    review_reason = serializers.ChoiceField(choices=REASONS, source="sample.review_reason")
    review_value = serializers.FloatField(
        source="sample.review_value", help_text="higher first (unknown years +3)"
    )
    suggested_class = serializers.CharField(
        source="sample.suggested_class", help_text="TasGen's class in the label's own year, if it differs"
    )
    answer = serializers.CharField(help_text="the reviewer's class for this label-year; empty if none")
    action = serializers.CharField(help_text="confirm, correct, or empty")


class ReviewQueueOutputSerializer(serializers.Serializer):
    counts = ReviewCountsOutputSerializer()
    count = serializers.IntegerField(help_text="items matching the filter")
    results = ReviewItemOutputSerializer(many=True)


class ReviewInputSerializer(serializers.Serializer):
    """An answer for the label-years of one or more queue samples."""

    samples = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000, help_text="sample ids"
    )
    klass = serializers.CharField(
        max_length=MAX_CLASS_NAME,
        allow_null=True,
        help_text="a class of the label set (the sample's own dynamic class confirms it); null removes the answer",
    )


class ReviewSavedOutputSerializer(serializers.Serializer):
    saved = serializers.IntegerField(help_text="label-years answered (0 when answers were removed)")
    counts = ReviewCountsOutputSerializer()


class LabelSetClassInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_CLASS_NAME, help_text="e.g. Soybean-maize")
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, help_text="#rrggbb")


class LabelSetClassesOutputSerializer(serializers.Serializer):
    classes = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class AnalysisReviewApi(APIView):
    """GET the review queue: ``unknown`` samples first, then by the value of a review, with counts."""

    @extend_schema(parameters=[ReviewQueueFilterSerializer], responses=ReviewQueueOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        analysis = analysis_get_bare(user=signed_in(request), pk=pk)
        q = ReviewQueueFilterSerializer.parse(request)
        queue = review_queue(analysis=analysis, status=q["status"], reason=q.get("reason", ""))
        page = queue.items[q["offset"] : q["offset"] + q["limit"]]
        return Response(
            ReviewQueueOutputSerializer(
                {"counts": queue.counts, "count": len(queue.items), "results": page}
            ).data
        )


class AnalysisReviewSaveApi(APIView):
    """POST ``{"samples": [ids], "klass"}``: confirm or correct those samples' label-years (stored)."""

    parser_classes = [JSONParser]

    @extend_schema(request=ReviewInputSerializer, responses=ReviewSavedOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        analysis = analysis_get_bare(user=signed_in(request), pk=pk)
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        saved = samples_review(
            analysis=analysis, sample_ids=v["samples"], klass=v["klass"], reviewer=signed_in(request)
        )
        counts = review_counts(analysis=analysis)
        return Response(ReviewSavedOutputSerializer({"saved": len(saved), "counts": counts}).data)


class AnalysisApplyReviewsApi(APIView):
    """POST: re-run the analysis with the reviewers' answers (a new analysis; lookups and fit reused)."""

    @extend_schema(request=None, responses={201: AnalysisOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        analysis = analysis_get(user=signed_in(request), pk=pk)
        new = analysis_apply_reviews(analysis=analysis, owner=signed_in(request))
        return Response(AnalysisOutputSerializer(new).data, status=status.HTTP_201_CREATED)


class LabelSetClassApi(APIView):
    """POST ``{"name", "color"?}``: add a class to a label set (e.g. to name ``unknown`` samples)."""

    parser_classes = [JSONParser]

    @extend_schema(request=LabelSetClassInputSerializer, responses={201: LabelSetClassesOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        label_set = labelset_get(user=signed_in(request), pk=pk)
        data = LabelSetClassInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_set = labelset_class_add(label_set=label_set, **data.validated_data)
        return Response(
            LabelSetClassesOutputSerializer({"classes": label_set.map_classes}).data,
            status=status.HTTP_201_CREATED,
        )
