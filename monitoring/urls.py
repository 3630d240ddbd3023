"""API routes (mounted under /api/)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from monitoring.apis import accounts, analyses, aois, explore, labels, reviews, tiles

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("aois/", aois.AoiListApi.as_view(), name="aoi-list"),
    path("aois/upload/", aois.AoiUploadApi.as_view(), name="aoi-upload"),
    path("aois/<int:pk>/", aois.AoiDetailApi.as_view(), name="aoi-detail"),
    path("labelsets/", labels.LabelSetListApi.as_view(), name="labelset-list"),
    path("labelsets/upload/", labels.LabelSetUploadApi.as_view(), name="labelset-upload"),
    path("labelsets/<int:pk>/", labels.LabelSetDetailApi.as_view(), name="labelset-detail"),
    path("labelsets/<int:pk>/labels/", labels.LabelSetLabelsApi.as_view(), name="labelset-labels"),
    path("labelsets/<int:pk>/classes/", reviews.LabelSetClassApi.as_view(), name="labelset-classes"),
    path("labels/<int:pk>/correct/", labels.LabelCorrectionApi.as_view(), name="label-correct"),
    path("templates/", labels.UploadTemplateListApi.as_view(), name="template-list"),
    path("templates/<str:name>", labels.UploadTemplateApi.as_view(), name="template-download"),
    path("analyses/", analyses.AnalysisListApi.as_view(), name="analysis-list"),
    path("analyses/<int:pk>/", analyses.AnalysisDetailApi.as_view(), name="analysis-detail"),
    path("analyses/<int:pk>/cancel/", analyses.AnalysisCancelApi.as_view(), name="analysis-cancel"),
    path("analyses/<int:pk>/samples/", analyses.AnalysisSamplesApi.as_view(), name="analysis-samples"),
    path("analyses/<int:pk>/review/", reviews.AnalysisReviewApi.as_view(), name="analysis-review"),
    path("analyses/<int:pk>/reviews/", reviews.AnalysisReviewSaveApi.as_view(), name="analysis-reviews"),
    path(
        "analyses/<int:pk>/apply-reviews/",
        reviews.AnalysisApplyReviewsApi.as_view(),
        name="analysis-apply-reviews",
    ),
    path("analyses/<int:pk>/stats/", analyses.AnalysisStatsApi.as_view(), name="analysis-stats"),
    path(
        "analyses/<int:pk>/validation/", analyses.AnalysisValidationApi.as_view(), name="analysis-validation"
    ),
    path("analyses/<int:pk>/pixel/", analyses.PixelApi.as_view(), name="analysis-pixel"),
    path(
        "analyses/<int:pk>/products/<int:product_pk>/download",
        analyses.ProductDownloadApi.as_view(),
        name="product-download",
    ),
    path(
        "analyses/<int:pk>/products/<int:product_pk>/package.zip",
        analyses.ProductPackageApi.as_view(),
        name="product-package",
    ),
    path("token/", accounts.TokenApi.as_view(), name="api-token"),
    path(
        "analyses/<int:pk>/products/<int:product_pk>/tiles/<int:z>/<int:x>/<int:y>.png",
        tiles.ProductTileApi.as_view(),
        name="product-tile",
    ),
    path(
        "analyses/<int:pk>/fromto/<int:year0>/<int:year1>/tiles/<int:z>/<int:x>/<int:y>.png",
        tiles.FromToTileApi.as_view(),
        name="analysis-fromto-tile",
    ),
    path("analyses/<int:pk>/legends/", explore.AnalysisLegendsApi.as_view(), name="analysis-legends"),
    path("analyses/<int:pk>/similar/", explore.SimilarPixelsApi.as_view(), name="analysis-similar"),
    path(
        "analyses/<int:pk>/similar/<str:token>/tiles/<int:z>/<int:x>/<int:y>.png",
        tiles.SimilarTileApi.as_view(),
        name="similar-tile",
    ),
    path(
        "analyses/<int:pk>/export.html",
        explore.AnalysisHtmlExportApi.as_view(),
        name="analysis-export-html",
    ),
    path("esd/coverage/", explore.EsdCoverageApi.as_view(), name="esd-coverage"),
    path(
        "esd/preview/<int:year>/tiles/<int:z>/<int:x>/<int:y>.png",
        tiles.EsdPreviewTileApi.as_view(),
        name="esd-preview-tile",
    ),
]
