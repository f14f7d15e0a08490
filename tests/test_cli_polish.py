"""Output polish: the progress line fits 80 columns, ``index sync`` says when nothing is new, the demo
leaves no temporary folder behind."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from registry.cli.common import make_progress
from registry.cli.index_cmd import sync_line
from registry.indexer.sync import SyncResult


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("label", ["canonicalizing", "anchoring", "indexing blocks", "verifying"])
def test_progress_line_never_wraps(width: int, label: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None, legacy_windows=False)
    progress = make_progress(console)
    task = progress.add_task(label, total=100_000, rate="")
    progress.update(task, advance=54_321, rate="12 batch(es), 4,836 rec/s")
    console.print(progress.get_renderable())
    lines = out.getvalue().rstrip("\n").splitlines()
    assert len(lines) == 1, lines
    assert len(lines[0]) <= width
    assert "54321/100000" in lines[0]
    if width >= 80:
        assert label in lines[0] and "4,836 rec/s" in lines[0]  # phrases whole, not cut mid-word


def test_index_sync_with_nothing_new_says_so() -> None:
    line = sync_line(SyncResult(from_block=7, to_block=6))
    assert "up to date" in line and "7..6" not in line and "block 6" in line
    assert sync_line(SyncResult(from_block=7, to_block=7, events=2)).startswith("indexed block 7:")
    assert sync_line(SyncResult(from_block=3, to_block=9)).startswith("indexed blocks 3..9:")


def test_demo_removes_its_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from registry.cli.demo_cmd import demo

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    demo(out=None, count=3)
    printed = capsys.readouterr().out
    assert "VERIFIED" in printed and "TAMPERED" in printed and "removed" in printed
    assert list(tmp_path.iterdir()) == []


def test_demo_keeps_an_out_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from registry.cli.demo_cmd import demo

    demo(out=tmp_path / "keep", count=3)
    assert len(list((tmp_path / "keep" / "proofs").glob("*.proof.json"))) == 3
    assert str(tmp_path / "keep" / "proofs") in capsys.readouterr().out
