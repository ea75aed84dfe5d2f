"""A finished output folder takes its name with the earlier one kept aside until the rename
succeeded (lrpcore.fileio.move_folder_into_place, used by Zarr stores and concepts folders)."""

from __future__ import annotations

import os

import pytest

from lrpcore.fileio import move_folder_into_place


def _folder(path, text):
    path.mkdir()
    (path / "f.txt").write_text(text)
    return path


def test_the_new_folder_replaces_the_old_and_nothing_is_left_aside(tmp_path):
    new, out = _folder(tmp_path / "new", "new"), _folder(tmp_path / "out", "old")
    move_folder_into_place(new, out, replace=True)
    assert (out / "f.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failed_rename_brings_the_earlier_folder_back(tmp_path, monkeypatch):
    new, out = _folder(tmp_path / "new", "new"), _folder(tmp_path / "out", "old")
    real = os.rename

    def rename(src, dst):
        if os.fspath(src) == os.fspath(new):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError):
        move_folder_into_place(new, out, replace=True)
    assert (out / "f.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["new", "out"]
