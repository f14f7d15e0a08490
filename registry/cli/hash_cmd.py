"""``ipreg hash``: canonical content hashes of files, and the canonical bytes themselves (``--canonical``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from registry.cli.common import JsonFlag, emit_json
from registry.core.canon import CANONICALIZATIONS
from registry.errors import InputError


def hash_files(
    files: Annotated[
        list[Path], typer.Argument(help="Files to hash (a folder: every file under it).", show_default=False)
    ],
    canonicalization: Annotated[
        str | None, typer.Option("--canon", help=f"Force one of {', '.join(CANONICALIZATIONS)}.")
    ] = None,
    canonical: Annotated[
        bool,
        typer.Option(
            "--canonical",
            help="Write the canonical bytes of the one FILE (exactly what is hashed) to stdout, nothing else;"
            " with --out, to that file (atomically) and print the hash line.",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="With --canonical: the file to write the canonical bytes to.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the canonical content hash (and record id, if any) of each file."""
    from registry.core.canon import canonical_bytes, canonicalization_for, content_hash
    from registry.files.ingest import iter_files, prepare_file

    if out is not None and not canonical:
        raise InputError("--out needs --canonical")
    if canonical and (len(files) != 1 or files[0].is_dir()):
        given = "not a folder" if files and files[0].is_dir() else f"{len(files)} were given"
        raise InputError(f"--canonical writes the canonical bytes of one file, {given}")
    if canonical and out is None and as_json:
        raise InputError("--canonical writes the canonical bytes to stdout: use --out PATH with --json")
    rows: list[dict[str, str | None]] = []
    for path in files if canonical else (Path(p) for p in iter_files(files)):
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        if canonical:
            if canonicalization is not None and canonicalization not in CANONICALIZATIONS:
                raise InputError(f"unknown canonicalization {canonicalization!r}")
            method = canonicalization or canonicalization_for(path.name)
            data = canonical_bytes(path.read_bytes(), method)
            if out is None:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                return
            from registry.core.canon import sha256_hex
            from registry.files.atomic import write_atomic

            write_atomic(out, data)
            rows.append(
                {"file": str(path), "recordId": None, "contentHash": sha256_hex(data), "canonicalization": method}
            )
            continue
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
