"""Every file of the bad-input corpus (tests/data/bad_inputs/manifest.json) is refused with its message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely

from monitoring.parsers import LabelOptions, UploadError, UploadLimits, parse_aoi, parse_labels

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]


def test_corpus_is_complete() -> None:
    files = {p.name for p in CORPUS.iterdir()} - {"manifest.json"}
    listed = [c["file"] for c in CASES]
    assert len(listed) >= 40
    assert len(set(listed)) == len(listed)
    assert files == set(listed)
    assert {c["kind"] for c in CASES} == {"labels", "aoi"}
    assert (CORPUS / "zip_bomb.zip").stat().st_size < 2 * 1024 * 1024


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_input_is_refused_with_its_message(case: dict[str, Any]) -> None:
    content = (CORPUS / case["file"]).read_bytes()
    limits = UploadLimits(**case["limits"])
    coverage = shapely.box(*case["coverage_bbox"]) if case["coverage_bbox"] else None
    with pytest.raises(UploadError) as caught:
        if case["kind"] == "labels":
            options = dict(case["options"])
            if options.get("allowed_classes") is not None:
                options["allowed_classes"] = tuple(options["allowed_classes"])
            parse_labels(case["file"], content, LabelOptions(**options), limits, coverage)
        else:
            parse_aoi(case["file"], content, limits, coverage)
    message = caught.value.message
    assert case["expected"] in message, message
    assert len(message) < 600
    assert "/tmp/" not in message and "esd-upload-" not in message
