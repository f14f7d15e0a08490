"""The one atomic writer: old file or new file, never half of one, no temporary left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

import pytest

from registry.files.atomic import write_atomic, write_json_atomic


def test_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "report.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]


def test_a_failure_part_way_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_bytes(b"old")

    def half(handle: IO[bytes]) -> None:
        handle.write(b"half of the new")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_atomic(target, half)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_permissions_follow_the_umask_or_the_mode_given(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a", b"x")
        write_atomic(tmp_path / "key", b"secret", mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600


def test_exclusive_never_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "EP.json"
    write_atomic(target, b"first key", exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomic(target, b"second key", exclusive=True)
    assert target.read_bytes() == b"first key"
    assert [p.name for p in tmp_path.iterdir()] == ["EP.json"]


def test_json_is_indented_or_compact(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "a.json", {"b": [1, 2]})
    write_json_atomic(tmp_path / "c.json", {"b": [1, 2]}, compact=True)
    assert (tmp_path / "a.json").read_text() == '{\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert (tmp_path / "c.json").read_text() == '{"b": [1, 2]}\n'


def test_the_process_umask_is_never_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the umask by setting it would change it for every other thread for a moment (their files 0666)."""

    def forbidden(_mask: int) -> int:
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", forbidden)
    write_atomic(tmp_path / "a", b"x")
    write_atomic(tmp_path / "key", b"secret", mode=0o600, exclusive=True)
    assert (tmp_path / "a").read_bytes() == b"x"
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
