"""The OpenAPI document is the contract: what it declares, and schemathesis (v4, all checks) against a real
server with and without an office token, on a short budget (``scripts/fuzz_api.py`` runs the long one)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry.api import create_app
from registry.config import ServiceSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
WRITES = {
    ("post", "/v1/offices/{code}/records"),
    ("get", "/v1/offices/{code}/pending"),
    ("post", "/v1/offices/{code}/batches"),
    ("post", "/v1/offices/{code}/records/{record_id}/reveal"),
    ("post", "/v1/offices/{code}/revocations"),
}


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("home"), rpc_url="embedded"), service=ServiceSettings())
    out: dict[str, Any] = app.openapi()
    return out


def test_writes_declare_the_bearer_scheme_and_reads_do_not(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["officeToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["officeToken"]["description"],
    }
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            names = [p["name"].lower() for p in op.get("parameters", [])]
            assert "authorization" not in names, f"{method} {path}: auth as a plain header"
            if (method, path) in WRITES:
                assert op["security"] == [{"officeToken": []}], (method, path)
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            else:
                assert "security" not in op, (method, path)


def test_every_path_and_query_string_parameter_is_constrained(doc: dict[str, Any]) -> None:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                schema = p["schema"]
                options = schema.get("anyOf", [schema])
                strings = [s for s in options if s.get("type") == "string"]
                for s in strings:
                    assert "pattern" in s and "maxLength" in s, f"{method} {path} {p['name']}: {s}"
                    re.compile(s["pattern"])


def test_every_operation_lists_its_errors_with_the_one_body(doc: dict[str, Any]) -> None:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = {c for c in op["responses"] if c.startswith(("4", "5"))}
            assert {"400", "422", "500", "503"} <= codes, (method, path, codes)
            for code in codes:
                content = op["responses"][code]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
    upload = doc["paths"]["/v1/verify"]["post"]
    assert {"408", "413", "415", "429"} <= set(upload["responses"])
    assert "Retry-After" in upload["responses"]["429"]["headers"]


def test_verify_body_is_one_of_two_shapes(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/verify"]["post"]["requestBody"]["content"]
    one_of = body["application/json"]["schema"]["oneOf"]
    assert [s["required"] for s in one_of] == [["contentHash"], ["bundle"]]
    assert all(s["additionalProperties"] is False for s in one_of)
    multipart = body["multipart/form-data"]["schema"]
    assert multipart["required"] == ["file"] and multipart["additionalProperties"] is False


def test_revocation_body_is_one_of_two_shapes(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/offices/{code}/revocations"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json"}
    one_of = body["application/json"]["schema"]["oneOf"]
    assert [s["required"] for s in one_of] == [["root", "reason"], ["recordId", "reason"]]
    assert all(s["additionalProperties"] is False for s in one_of)


def test_schemathesis_finds_no_failure_with_and_without_a_token() -> None:
    """A short budget of the fuzz run (both runs together well under two minutes)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fuzz_api.py"), "--max-examples", "8", "--max-time", "30"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert "schemathesis without token: no failures" in proc.stdout, tail
    assert "schemathesis with token: no failures" in proc.stdout, tail
