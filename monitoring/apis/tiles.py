"""Map tile endpoints: XYZ PNG tiles of map products, of similar-pixel rasters and of the ESD store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from monitoring.apis import filters
from monitoring.selectors.objects import analysis_get, product_for_tile
from monitoring.services.similar import DEFAULT_THRESHOLD, similar_cog_path
from monitoring.tiles import (
    TileNotFound,
    TileStyle,
    cached_tile,
    check_tile,
    esd_preview_etag,
    file_etag,
    from_to_etag,
    product_etag,
    product_path,
    render_esd_preview_tile,
    render_from_to_tile,
    render_product_tile,
    render_threshold_tile,
)
from monitoring.users import signed_in

CACHE_CONTROL = "private, max-age=3600"


class PngRenderer(BaseRenderer):
    """Lets ``Accept: image/png`` requests through content negotiation (tiles are ``HttpResponse``)."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


def tile_response(request: Request, etag: str, draw: Callable[[], bytes]) -> HttpResponse:
    """200 with the PNG (from the tile cache, else ``draw()``), or 304 when the client holds ``etag``."""
    if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(cached_tile(etag, draw), content_type="image/png")
    response["Cache-Control"] = CACHE_CONTROL
    response["ETag"] = etag
    return response


class TileApi(APIView):
    renderer_classes = [JSONRenderer, PngRenderer]


class ProductTileApi(TileApi):
    """GET one 256 x 256 PNG (Web Mercator XYZ) of a map product, in its server-side colour map.

    Transparent where nodata; 404 for tiles outside the product, and for other users' analyses.
    """

    class FilterSerializer(filters.FilterSerializer):
        only = serializers.IntegerField(
            min_value=0,
            required=False,
            help_text="draw only this value of a class map (e.g. one from-to code), the rest transparent",
        )

    @extend_schema(parameters=[FilterSerializer], responses={(200, "image/png"): bytes})
    def get(self, request: Request, pk: int, product_pk: int, z: int, x: int, y: int) -> HttpResponse:
        product = product_for_tile(user=signed_in(request), analysis_pk=pk, pk=product_pk)
        if product is None:
            raise Http404(f"map product {product_pk} not found")
        check_tile(z, x, y)
        only = self.FilterSerializer.parse(request).get("only")
        return tile_response(
            request,
            product_etag(product, z, x, y, only),
            lambda: render_product_tile(product, z, x, y, only),
        )


class FromToTileApi(TileApi):
    """GET one PNG tile of the from -> to change between any two years of the analysis (``year0`` before
    ``year1``), computed from their land-cover maps: one colour per changed pair (see the ``from_to``
    legend), unchanged pixels grey; ``?only=<code>`` keeps one change. 404 for years without a map."""

    class FilterSerializer(filters.FilterSerializer):
        only = serializers.IntegerField(
            min_value=0, required=False, help_text="draw only this from-to code, the rest transparent"
        )

    @extend_schema(parameters=[FilterSerializer], responses={(200, "image/png"): bytes})
    def get(self, request: Request, pk: int, year0: int, year1: int, z: int, x: int, y: int) -> HttpResponse:
        analysis = analysis_get(user=signed_in(request), pk=pk)
        check_tile(z, x, y)
        maps = {p.year: p for p in analysis.products.filter(kind="landcover", year__in=[year0, year1])}
        if year0 not in maps or year1 not in maps:
            raise Http404(f"no land-cover map of {year0} and {year1} in analysis {pk}")
        only = self.FilterSerializer.parse(request).get("only")
        path0, path1 = product_path(maps[year0]), product_path(maps[year1])
        return tile_response(
            request,
            from_to_etag(analysis, path0, path1, z, x, y, only),
            lambda: render_from_to_tile(analysis, path0, path1, z, x, y, only),
        )


class SimilarTileApi(TileApi):
    """GET one PNG tile of a similar-pixels raster; pixels below ``threshold`` are transparent."""

    class FilterSerializer(filters.FilterSerializer):
        threshold = serializers.FloatField(
            min_value=-1.0,
            max_value=1.0,
            default=DEFAULT_THRESHOLD,
            help_text="cosine similarity below which pixels are transparent",
        )

    @extend_schema(parameters=[FilterSerializer], responses={(200, "image/png"): bytes})
    def get(self, request: Request, pk: int, token: str, z: int, x: int, y: int) -> HttpResponse:
        from ml.colormaps import similarity_colormap

        analysis = analysis_get(user=signed_in(request), pk=pk)
        path = similar_cog_path(analysis.pk, token)
        if not path.is_file():
            raise TileNotFound("no such similarity raster: ask /similar/ first")
        threshold = self.FilterSerializer.parse(request)["threshold"]
        check_tile(z, x, y)
        style = TileStyle(colormap=similarity_colormap(), rescale=(0.0, 1.0))
        return tile_response(
            request,
            file_etag(path, "similar", threshold, z, x, y),
            lambda: render_threshold_tile(path, z, x, y, threshold, style),
        )


class EsdPreviewTileApi(TileApi):
    """GET one PNG tile of the ESD store itself for ``year``: RGB = mean of code dims 0, 1, 2 over months.

    Any logged-in user; 404 where no store tile of that year covers the tile (or below zoom 6).
    """

    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, year: int, z: int, x: int, y: int) -> HttpResponse:
        check_tile(z, x, y)
        return tile_response(
            request, esd_preview_etag(year, z, x, y), lambda: render_esd_preview_tile(year, z, x, y)
        )
