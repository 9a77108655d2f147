"""Atomic writes: whole files only, with the mode a plain open() would give them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.workloads.conftest import mode_of
from workloads.atomic_files import current_umask, normal_file_mode, write_atomically


def test_the_umask_is_read_without_changing_it() -> None:
    """Given umask 027, when it is read, then it is 027 and still set afterwards."""
    previous = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert normal_file_mode() == 0o640
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(previous)


def test_a_written_file_is_readable_by_others_under_the_usual_umask(
    tmp_path: Path, usual_umask: int
) -> None:
    # given umask 022 and a file a plain open() writes, for comparison
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    # when a file is written atomically
    target = tmp_path / "model" / "metadata.json"
    write_atomically(target, lambda part: part.write_text("{}"))
    # then it holds the content with open()'s mode (0644), not mkstemp's 0600
    assert target.read_text() == "{}"
    assert mode_of(target) == mode_of(plain) == 0o644


def test_a_private_umask_is_respected(tmp_path: Path) -> None:
    """Given umask 077, when a file is written atomically, then only its owner can read it."""
    previous = os.umask(0o077)
    try:
        write_atomically(tmp_path / "secret.txt", lambda part: part.write_text("x"))
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "secret.txt") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    # given an existing file
    target = tmp_path / "report.json"
    target.write_text("old")

    def fail(part: Path) -> None:
        part.write_text("half")
        raise OSError("disk full")

    # when a write fails half-way
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, fail)
    # then the old content stays and nothing else is left
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
