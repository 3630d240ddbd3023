"""The declared schema of an analysis' ``parameters``: names, types, ranges and defaults.

One declaration serves three readers: the API validates a new analysis' body with it (400 naming
the field, before anything is stored or queued), the OpenAPI schema documents it (component
``AnalysisParameters``), and the map page builds its advanced-parameters form from that schema.
Defaults come from the ``ml`` config dataclasses the pipeline builds (:class:`TasGenConfig`,
:class:`MapperConfig`), so the documented default is the one a run uses. Only the keys a user gave
are stored: an analysis records what was asked, the pipeline fills in the rest.

To add a parameter: add a field here (with its range), read it in the pipeline stage that uses it,
and make the stage's cache key depend on it (``monitoring/storage/inputs.py``).
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from rest_framework import serializers

from ml.accuracy import DEFAULT_BLOCK_M
from ml.mapping import MAPPER_MODELS, MapperConfig
from ml.smoothing import SmoothingConfig
from ml.tasgen.pipeline import TasGenConfig
from ml.temporal import TemporalConfig

YEAR_MIN, YEAR_MAX = 1980, 2100


def _defaults(config: type) -> dict[str, Any]:
    return {f.name: f.default for f in fields(config) if f.default is not MISSING}


TASGEN_DEFAULTS = _defaults(TasGenConfig)
MAPPER_DEFAULTS = _defaults(MapperConfig)
TEMPORAL_DEFAULTS = _defaults(TemporalConfig)
SMOOTHING_DEFAULTS = _defaults(SmoothingConfig)


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses keys it does not declare (a typo must not be silently ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {k: [f"unknown parameter; allowed: {', '.join(sorted(self.fields))}"] for k in unknown}
                )
        return super().to_internal_value(data)


def _int(name: str, lo: int, hi: int, defaults: dict[str, Any], help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=lo, max_value=hi, required=False, default=defaults[name], help_text=help_text
    )


def _float(
    name: str, lo: float, hi: float, defaults: dict[str, Any], help_text: str
) -> serializers.FloatField:
    return serializers.FloatField(
        min_value=lo, max_value=hi, required=False, default=defaults[name], help_text=help_text
    )


def _bool(name: str, defaults: dict[str, Any], help_text: str) -> serializers.BooleanField:
    return serializers.BooleanField(required=False, default=defaults[name], help_text=help_text)


def _choice(
    name: str, choices: list[str], defaults: dict[str, Any], help_text: str
) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=choices, required=False, default=defaults[name], help_text=help_text
    )


T = TASGEN_DEFAULTS


class TasGenParametersSerializer(StrictSerializer):
    """TasGen (stage 2, relabel) settings: the fields of ``ml.tasgen.pipeline.TasGenConfig``."""

    hidden = _int("hidden", 4, 256, T, "HTS-VAE conv channels / MLP width")
    z1 = _int("z1", 1, 64, T, "HTS-VAE lower latent size")
    z2 = _int("z2", 1, 64, T, "HTS-VAE top latent size")
    epochs = _int("epochs", 1, 2000, T, "HTS-VAE epochs per self-training round (cut by max_steps)")
    max_steps = _int("max_steps", 1, 20000, T, "HTS-VAE optimizer steps cap per round")
    beta = _float("beta", 0.0, 100.0, T, "HTS-VAE KL weight (beta-VAE)")
    batch_size = _int("batch_size", 8, 4096, T, "HTS-VAE batch size (sample-years)")
    lr = _float("lr", 1e-5, 1.0, T, "HTS-VAE Adam learning rate")
    rounds = _int("rounds", 1, 5, T, "self-training rounds (1 = train once on all reference years)")
    use_normal_years = _bool(
        "use_normal_years", T, "after round 0, also train on unflagged non-reference years"
    )
    max_train_years = _int("max_train_years", 100, 100_000, T, "cap on sample-years per round")
    threshold_k = _float("threshold_k", 0.0, 10.0, T, "anomaly threshold = median + k robust sigmas")
    calibrate_on = _choice("calibrate_on", ["all", "reference"], T, "sample-years the thresholds come from")
    recalibrate_on_apply = _bool("recalibrate_on_apply", T, "re-derive thresholds from the applied series")
    min_class_samples = _int("min_class_samples", 2, 10_000, T, "fewer samples of a static class is an error")
    relabel_model = _choice("relabel_model", ["logistic", "forest"], T, "stage-2 classifier")
    relabel_c = _float("relabel_c", 1e-4, 100.0, T, "inverse L2 strength of the logistic stage 2")
    rf_trees = _int("rf_trees", 1, 1000, T, "stage-2 random forest size (relabel_model = forest)")
    crossfit_folds = _int(
        "crossfit_folds", 0, 20, T, "grouped folds for out-of-fold stage-2 probabilities (0: none)"
    )
    unflag_confidence = _float(
        "unflag_confidence", 0.0, 1.0, T, "flagged year kept when stage 2 gives >= this"
    )
    override_confidence = _float("override_confidence", 0.0, 1.0, T, "unflagged year changes below this")
    feedback_vae = _bool("feedback_vae", T, "later rounds leave out years stage 2 would change")
    feedback_stage2 = _bool("feedback_stage2", T, "refit the final stage 2 without years it would change")
    gibbs_max = _int("gibbs_max", 0, 1000, T, "at most this many changed sample-years are attributed")
    gibbs_sweeps = _int("gibbs_sweeps", 1, 100, T, "Gibbs sweeps over all cells")
    gibbs_burn_in = _int("gibbs_burn_in", 0, 99, T, "sweeps discarded before averaging (< gibbs_sweeps)")
    persist_changes = _bool(
        "persist_changes", T, "carry a change to later stable years scored as the new class"
    )
    drift_weight = _float("drift_weight", 0.0, 10.0, T, "weight of the latent drift in the anomaly score")
    gibbs_temperature = _float("gibbs_temperature", 1e-3, 10.0, T, "Gibbs temperature (robust sigmas)")
    gibbs_cost = _float("gibbs_cost", 0.0, 10.0, T, "price of one restored cell (robust sigmas)")
    torch_threads = _int("torch_threads", 0, 64, T, "torch threads for the run (0 = leave as is)")
    anchor_stage2 = _bool("anchor_stage2", T, "fit stage 2 on the reference years first (anchored)")
    anchor_confidence = _float(
        "anchor_confidence",
        0.0,
        1.0,
        T,
        "other years below this static-class probability leave stage 2's training",
    )
    open_set = _bool("open_set", T, "a year unlike its static class and every class becomes unknown")
    novelty_threshold = _float(
        "novelty_threshold", 0.0, 1000.0, T, "open-set k-NN novelty bar (robust sigmas)"
    )
    novelty_k = _int("novelty_k", 1, 100, T, "neighbours of the open-set novelty")
    target_novelty_threshold = _float(
        "target_novelty_threshold",
        0.0,
        1000.0,
        T,
        "a changed year unlike the class it moves to (novelty above this) becomes unknown (0: off)",
    )
    reference_ratio = _float(
        "reference_ratio",
        0.0,
        1.0,
        T,
        "a year changes only below this times the reference year's probability",
    )
    review_weight = _int("review_weight", 1, 100, T, "a reviewed year counts as this many training years")

    def validate_crossfit_folds(self, value: int) -> int:
        if value == 1:
            raise serializers.ValidationError("use 0 (no cross-fitting) or at least 2 folds")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("gibbs_burn_in", 0) >= attrs.get("gibbs_sweeps", T["gibbs_sweeps"]):
            raise serializers.ValidationError({"gibbs_burn_in": ["must be smaller than gibbs_sweeps"]})
        return attrs


M = MAPPER_DEFAULTS


class ClassifierParametersSerializer(StrictSerializer):
    """Map classifier (stage 3) settings: the fields of ``ml.mapping.MapperConfig`` (seed is top level)."""

    model = _choice("model", list(MAPPER_MODELS), M, "mlp (one hidden layer, fast) or forest (random forest)")
    hidden = _int("hidden", 2, 512, M, "mlp: hidden units")
    steps = _int("steps", 10, 20_000, M, "mlp: AdamW steps")
    lr = _float("lr", 1e-5, 1.0, M, "mlp: peak learning rate")
    trees = _int("trees", 1, 1000, M, "forest: number of trees")
    max_depth = serializers.IntegerField(
        min_value=1,
        max_value=100,
        allow_null=True,
        required=False,
        default=M["max_depth"],
        help_text="forest: depth cap (null: none)",
    )
    min_samples_leaf = _int("min_samples_leaf", 1, 1000, M, "forest: leaf size")
    n_jobs = _int("n_jobs", 1, 64, M, "forest: threads for fit/predict")


TM = TEMPORAL_DEFAULTS


class TemporalParametersSerializer(StrictSerializer):
    """Temporal step (HMM over each pixel's years) settings: the fields of ``ml.temporal.TemporalConfig``."""

    enabled = _bool(
        "enabled", TM, "pick each pixel's most probable class sequence (false: each year on its own)"
    )
    switch_odds = _float(
        "switch_odds", 0.0, 1.0, TM, "prior odds of moving to one other class against keeping it (0: never)"
    )
    prior_share = _float(
        "prior_share",
        0.0,
        1.0,
        TM,
        "weight of that prior against the dynamic samples' transition frequencies",
    )
    floor = _float("floor", 1e-4, 0.5, TM, "class probabilities below this count as this much")
    temperature = _float(
        "temperature",
        0.1,
        10.0,
        TM,
        "calibration: probabilities ** (1 / temperature); > 1 trusts one year less",
    )
    min_confidence = _float(
        "min_confidence",
        0.0,
        1.0,
        TM,
        "dynamic-sample years TasGen is less confident about do not count in the transitions",
    )


SM = SMOOTHING_DEFAULTS


class SmoothingParametersSerializer(StrictSerializer):
    """Spatial smoothing (as sits_smooth) settings: the fields of ``ml.smoothing.SmoothingConfig``."""

    enabled = _bool("enabled", SM, "smooth each year's class probabilities over a neighbourhood first")
    window = _int("window", 3, 15, SM, "odd side of the square neighbourhood, in pixels")
    smoothness = _float(
        "smoothness", 0.01, 1000.0, SM, "variance of a pixel's own logit: larger smooths more"
    )

    def validate_window(self, value: int) -> int:
        if value % 2 == 0:
            raise serializers.ValidationError("must be odd")
        return value


class AnalysisParametersSerializer(StrictSerializer):
    """Optional settings of an analysis; every one has a default."""

    seed = serializers.IntegerField(
        min_value=0,
        max_value=2**31 - 1,
        required=False,
        default=0,
        help_text="random seed of TasGen and the classifier",
    )
    year_start_month = serializers.IntegerField(
        min_value=1,
        max_value=12,
        required=False,
        allow_null=True,
        default=None,
        help_text="first month of a store year (null: the store's own, e.g. 9 for crop years ending in August)",
    )
    change_pair = serializers.ListField(
        child=serializers.IntegerField(min_value=YEAR_MIN, max_value=YEAR_MAX),
        min_length=2,
        max_length=2,
        required=False,
        allow_null=True,
        default=None,
        help_text="[from, to] years of the from-to change map, within the analysis years (null: first and last)",
    )
    accuracy_block_m = serializers.FloatField(
        min_value=30.0,
        max_value=1_000_000.0,
        required=False,
        default=DEFAULT_BLOCK_M,
        help_text="side (metres) of the spatial blocks held out together when the map is scored "
        "against the labels at their reference years (grouped cross-validation)",
    )
    tasgen = TasGenParametersSerializer(required=False, help_text="TasGen relabelling settings")
    classifier = ClassifierParametersSerializer(required=False, help_text="map classifier settings")
    temporal = TemporalParametersSerializer(
        required=False, help_text="temporal consistency of the yearly maps (HMM over each pixel's years)"
    )
    smoothing = SmoothingParametersSerializer(
        required=False, help_text="spatial smoothing of the class probabilities before the temporal step"
    )

    def validate_change_pair(self, value: list[int] | None) -> list[int] | None:
        if value is not None and value[0] == value[1]:
            raise serializers.ValidationError("the two years must differ")
        return value


def given_only(validated: Any, raw: Any) -> Any:
    """``validated`` cut down to the keys present in ``raw`` (nested): what the user asked, typed."""
    if isinstance(validated, dict) and isinstance(raw, dict):
        return {k: given_only(v, raw[k]) for k, v in validated.items() if k in raw}
    return validated


def analysis_parameters_clean(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The typed parameters a user gave; raises DRF ``ValidationError`` naming each bad field."""
    serializer = AnalysisParametersSerializer(data=raw or {})
    serializer.is_valid(raise_exception=True)
    return given_only(dict(serializer.validated_data), raw or {})
