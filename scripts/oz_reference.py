"""The reference implementation for benchmarks: OpenZeppelin's JS ``StandardMerkleTree.of``.

Installed on demand into a temporary folder (never committed): ``npm install @openzeppelin/merkle-tree@1.0.8``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

OZ_VERSION = "1.0.8"
_SCRIPT = """
import { StandardMerkleTree } from "%s";
import { readFileSync } from "node:fs";
const values = JSON.parse(readFileSync(process.argv[2], "utf8"));
const started = process.hrtime.bigint();
const tree = StandardMerkleTree.of(values, ["string", "bytes32", "string", "bytes32"]);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ root: tree.root, seconds }));
"""


def ensure_oz(folder: Path | None = None) -> Path:
    """A folder with @openzeppelin/merkle-tree installed (reused if already there)."""
    folder = folder or Path(tempfile.gettempdir()) / "ipreg-oz-merkle-tree"
    entry = folder / "node_modules" / "@openzeppelin" / "merkle-tree" / "dist" / "index.js"
    if not entry.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"@openzeppelin/merkle-tree@{OZ_VERSION}",
            ],
            cwd=folder,
            check=True,
            capture_output=True,
        )
    return folder


def oz_tree(values: list[list[str]], folder: Path | None = None) -> tuple[str, float]:
    """(root, seconds) of ``StandardMerkleTree.of(values)`` in node, timing the build alone."""
    folder = ensure_oz(folder)
    entry = folder / "node_modules" / "@openzeppelin" / "merkle-tree" / "dist" / "index.js"
    script = folder / "build.mjs"
    script.write_text(_SCRIPT % entry.as_uri(), encoding="utf-8")
    data = folder / "values.json"
    data.write_text(json.dumps(values), encoding="utf-8")
    out = subprocess.run(
        ["node", "--max-old-space-size=16384", str(script), str(data)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out)
    return str(result["root"]), float(result["seconds"])
