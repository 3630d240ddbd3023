"""A Python client generated from the OpenAPI schema runs the whole workflow against a live server.

``openapi-python-client`` builds the package from ``manage.py spectacular`` (the schema as served);
the test then signs in for a token, uploads an AOI and labels, starts an analysis with typed
parameters, polls it to done (a real Celery worker), reads samples and statistics and downloads a
COG, all through the generated functions and models: a wrong request body, parameter or response
shape in the schema breaks the generated client here.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from testkit.mato_grosso import static_labels_csv

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]
UPLOADS = REPO / "tests" / "data" / "uploads"
PASSWORD = "client-pass-2026"


@pytest.fixture(scope="module")
def esd_client(tmp_path_factory):
    """The generated package ``esd_client`` (imported from a temporary folder)."""
    folder = tmp_path_factory.mktemp("client")
    schema = folder / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--fail-on-warn", "--file", str(schema))
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator, "openapi-python-client is not installed (requirements-dev.txt)"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    config = folder / "config.json"  # files and images come back as the client's File (raw bytes)
    binary = ["image/tiff", "image/png", "text/csv", "text/html", "application/geo+json"]
    binary += ["application/geopackage+sqlite3"]
    config.write_text(
        json.dumps({"content_type_overrides": dict.fromkeys(binary, "application/octet-stream")})
    )
    done = subprocess.run(
        [generator, "generate", "--path", str(schema), "--output-path", str(folder / "esd_client")]
        + ["--meta", "none", "--config", str(config)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("esd_client")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "esd_client" or m.startswith("esd_client.")]:
            del sys.modules[name]


def test_whole_workflow_through_the_generated_client(
    esd_client, live_server, django_user_model, demo_store, celery_worker, shared_data
) -> None:
    from esd_client import AuthenticatedClient, Client
    from esd_client.api.analyses import (
        analyses_create,
        analyses_products_download_retrieve,
        analyses_retrieve,
        analyses_samples_retrieve,
        analyses_stats_retrieve,
    )
    from esd_client.api.aois import aois_upload_create
    from esd_client.api.labelsets import labelsets_upload_create
    from esd_client.api.token import token_create
    from esd_client.models import (
        AnalysisListInputRequest,
        AnalysisParametersRequest,
        AnalysisSamplesOutput,
        AoiUploadInputRequest,
        AuthTokenRequest,
        LabelSetUploadInputRequest,
        TasGenParametersRequest,
    )
    from esd_client.types import File

    django_user_model.objects.create_user("client", password=PASSWORD)
    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)
    token = token_create.sync(client=anonymous, body=AuthTokenRequest(username="client", password=PASSWORD))
    assert token is not None and len(token.token) == 40, token
    api = AuthenticatedClient(
        base_url=live_server.url, token=token.token, prefix="Token", raise_on_unexpected_status=True
    )

    aoi_file = File(payload=io.BytesIO((UPLOADS / "aoi_mt.geojson").read_bytes()), file_name="aoi_mt.geojson")
    aoi = aois_upload_create.sync(client=api, body=AoiUploadInputRequest(file=aoi_file, name="MT demo"))
    assert aoi.id and aoi.properties.name == "MT demo", aoi
    labels_file = File(payload=io.BytesIO(static_labels_csv(shared_data)), file_name="mt_2011_2012.csv")
    labels = labelsets_upload_create.sync(client=api, body=LabelSetUploadInputRequest(file=labels_file))
    assert labels.label_count > 0, labels

    body = AnalysisListInputRequest(
        aoi=aoi.id,
        label_set=labels.id,
        start_year=2007,
        end_year=2013,
        parameters=AnalysisParametersRequest(tasgen=TasGenParametersRequest(epochs=60)),
    )
    started = analyses_create.sync(client=api, body=body)
    assert started.parameters["tasgen"]["epochs"] == 60, started  # (the client sends the defaults too)

    deadline = time.monotonic() + 600
    detail = analyses_retrieve.sync(started.id, client=api)
    while detail.status.value not in {"done", "failed", "cancelled"} and time.monotonic() < deadline:
        time.sleep(1)
        detail = analyses_retrieve.sync(started.id, client=api)
    assert detail.status.value == "done", detail.error_message

    page = analyses_samples_retrieve.sync(started.id, client=api, limit=50, offset=0)
    assert isinstance(page, AnalysisSamplesOutput) and page.count > 0 and 0 < len(page.results) <= 50
    assert {row.year for row in page.results} <= set(range(2007, 2014))
    stats = analyses_stats_retrieve.sync(started.id, client=api)
    assert stats is not None and stats.to_dict()
    product = next(p for p in detail.products if p.kind.value == "landcover")
    cog = analyses_products_download_retrieve.sync(started.id, product.id, client=api)
    assert isinstance(cog, File) and cog.payload.read(4) in (b"II*\x00", b"MM\x00*"), cog
