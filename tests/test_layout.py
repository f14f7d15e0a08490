"""The package layout keeps its promises: boundaries that bite, small modules, one definition per format."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from registry.api.schemas import BundleInput, ProofBundlePublic
from registry.core.formats import MANIFEST, PROOF_BUNDLE

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "registry"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
#: Modules allowed over the size limit: generated data tables (none today).
GENERATED: frozenset[str] = frozenset()
MAX_LINES = 500


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("layout")
    shutil.copytree(PACKAGE, tree / "registry", ignore=shutil.ignore_patterns("__pycache__", "artifacts", "static"))
    return tree


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("chain/client.py", "import registry.store.outbox", "Packages stack"),
        ("core/merkle.py", "import sqlite3", "core is pure bytes"),
        ("store/outbox.py", "import web3", "store holds SQL only"),
        ("anchor/pipeline.py", "import registry.indexer.fetch", "anchoring knows nothing of the indexer"),
        ("verify/verdicts.py", "import registry.files.atomic", "verification writes nothing"),
        ("api/routes/records.py", "import sqlite3", "routes hold no SQL"),
        ("anchor/stored.py", "import registry.evaluate.hold", "Packages stack"),
    ],
)
def test_a_forbidden_import_breaks_the_build(copy: Path, module: str, planted: str, contract: str) -> None:
    target = copy / "registry" / module
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original + f"\n\ndef _planted() -> None:\n    {planted}\n", encoding="utf-8")
        result = _lint(copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout[-2000:]
    broken = [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    assert any(contract in line for line in broken) or contract in result.stdout.split("Broken contracts")[-1], (
        result.stdout[-2000:]
    )


def test_the_tree_as_committed_keeps_every_contract(copy: Path) -> None:
    result = _lint(copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_no_module_is_over_the_size_limit() -> None:
    over = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(over) <= GENERATED, over


def _string_literals(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_format_names_are_spelled_in_one_module() -> None:
    """The formats' own words (their names and the fields only they have) appear in core/formats.py alone.

    The API's request and response models restate the bundle for OpenAPI; the next test pins them to the table.
    """
    own = {PROOF_BUNDLE.name, MANIFEST.name, "leafEncoding", "leafCount"}
    allowed = {PACKAGE / "core" / "formats.py", PACKAGE / "api" / "schemas.py"}
    found = {
        str(p.relative_to(PACKAGE)): sorted(own & _string_literals(p))
        for p in PACKAGE.rglob("*.py")
        if p not in allowed and own & _string_literals(p)
    }
    # "leafCount" is also an event argument of AnchorRegistry.BatchAnchored, read from logs by name.
    found = {k: [n for n in v if n != "leafCount"] for k, v in found.items()}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("model", [BundleInput, ProofBundlePublic])
def test_the_api_bundle_models_follow_the_format_table(model: type) -> None:
    fields = model.model_fields  # type: ignore[attr-defined]
    assert [f.alias or name for name, f in fields.items()] == [f.name for f in PROOF_BUNDLE.fields]
