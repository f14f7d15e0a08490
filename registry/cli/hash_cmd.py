"""``ipreg hash``: canonical content hashes of files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.common import JsonFlag, emit_json
from registry.core.canon import CANONICALIZATIONS
from registry.errors import InputError


def hash_files(
    files: Annotated[list[Path], typer.Argument(help="Files to hash.", show_default=False)],
    canonicalization: Annotated[
        str | None, typer.Option("--canon", help=f"Force one of {', '.join(CANONICALIZATIONS)}.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the canonical content hash (and record id, if any) of each file."""
    from registry.core.canon import canonicalization_for, content_hash
    from registry.files.ingest import prepare_file

    rows: list[dict[str, str | None]] = []
    for path in files:
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        try:
            p = prepare_file(path, canonicalization=canonicalization)
            rows.append(
                {
                    "file": str(path),
                    "recordId": str(p.record_id),
                    "contentHash": p.content_hash,
                    "canonicalization": p.canonicalization,
                }
            )
        except InputError as exc:
            if "no record id" not in str(exc):
                raise
            method = canonicalization or canonicalization_for(path.name)
            rows.append(
                {
                    "file": str(path),
                    "recordId": None,
                    "contentHash": content_hash(path.read_bytes(), method),
                    "canonicalization": method,
                }
            )
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            typer.echo(f"{r['contentHash']}  {r['canonicalization']:<9}  {r['recordId'] or '-'}  {r['file']}")
