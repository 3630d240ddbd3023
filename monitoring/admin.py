"""Admin for the monitoring models (map widgets for geometries)."""

from django.contrib.gis import admin

from monitoring.models import AOI, Analysis, DynamicSample, EsdTile, Label, LabelSet, MapProduct


@admin.register(AOI)
class AOIAdmin(admin.GISModelAdmin):
    list_display = ("name", "owner", "area_km2", "created_at")
    list_filter = ("owner",)
    search_fields = ("name",)


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = ("row", "klass", "reference_date")
    show_change_link = True


@admin.register(LabelSet)
class LabelSetAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "source_filename", "created_at")
    inlines = [LabelInline]


@admin.register(Label)
class LabelAdmin(admin.GISModelAdmin):
    list_display = ("label_set", "row", "klass", "reference_date")
    list_filter = ("klass",)


@admin.register(EsdTile)
class EsdTileAdmin(admin.GISModelAdmin):
    list_display = ("tile_id", "year", "source", "epsg", "width", "height", "valid_fraction")
    list_filter = ("source", "year")
    search_fields = ("tile_id", "uri")


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "status", "stage", "progress", "created_at")
    list_filter = ("status",)


@admin.register(DynamicSample)
class DynamicSampleAdmin(admin.GISModelAdmin):
    list_display = ("analysis", "label", "year", "static_class", "dynamic_class", "changed", "anomaly_score")
    list_filter = ("changed",)


@admin.register(MapProduct)
class MapProductAdmin(admin.ModelAdmin):
    list_display = ("analysis", "kind", "year", "year_to", "path")
