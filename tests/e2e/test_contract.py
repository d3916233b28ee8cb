"""schemathesis against a live server: no 5xx, and every response matches what the OpenAPI
document promises."""

import subprocess
import sys
from pathlib import Path

from tests.support.servers import call, running_server


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    with running_server({"AMENDS_DATA_DIR": str(tmp_path), "AMENDS_DATABASE_URL": ""}) as (
            base, _):
        status, _ = call(base, "/healthz")
        assert status == 200
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run",
             f"{base}/openapi.json", "-H", "Authorization: Bearer dev-manager-key",
             "--max-examples", "20", "--seed", "20261123", "--workers", "2",
             "--phases", "examples,fuzzing,stateful",
             "--checks", "not_a_server_error,response_schema_conformance,"
                         "status_code_conformance,content_type_conformance"],
            capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
