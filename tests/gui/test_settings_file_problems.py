"""``lrp-explorer --settings PATH`` with a path Qt cannot keep settings in (a folder, a file
under a file, a file it may not write) ran as usual and dropped every change at the end
without a word. It is refused before the window opens, naming the path; settings that still
cannot be written when the window closes (LRP_EXPLORER_SETTINGS naming a folder) are
reported on stderr, naming the file."""

from __future__ import annotations

import os

import pytest

from lrpgui.app import parse_args


def _refused(capsys, argv, *words):
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --settings" in err, err
    for word in words:
        assert word in err, err


def test_an_unusable_settings_path_is_refused_naming_it(tmp_path, capsys):
    _refused(capsys, ["--settings", str(tmp_path)], str(tmp_path), "is a folder")
    _refused(capsys, ["--settings", f"{tmp_path}/"], "is a folder")
    (tmp_path / "notes.txt").write_text("a file")
    under = tmp_path / "notes.txt" / "s.ini"
    _refused(capsys, ["--settings", str(under)], str(under), "notes.txt is a file, not a folder")
    assert parse_args(["--settings", str(tmp_path / "s.ini")]).settings == str(tmp_path / "s.ini")
    # a missing folder is made by Qt when the settings are saved: accepted
    assert parse_args(["--settings", str(tmp_path / "new" / "s.ini")]).settings


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes read-only files")
def test_a_read_only_settings_file_or_folder_is_refused(tmp_path, capsys):
    ini = tmp_path / "s.ini"
    ini.write_text("[last]\n")
    ini.chmod(0o444)
    _refused(capsys, ["--settings", str(ini)], str(ini), "cannot be written")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _refused(capsys, ["--settings", str(locked / "s.ini")], "is not writable")
    finally:
        locked.chmod(0o755)


def test_settings_that_cannot_be_written_at_closing_are_reported(make_window, monkeypatch,
                                                                 tmp_path, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    monkeypatch.setenv("LRP_EXPLORER_SETTINGS", str(folder))
    window = make_window(wait=False)
    window.close()
    err = capsys.readouterr().err
    assert f"lrp-explorer: warning: {folder}: the settings cannot be written there" in err, err


def test_a_folder_that_cannot_be_written_is_refused_as_root_too(tmp_path, capsys,
                                                                monkeypatch):
    """(Root writes in any folder: what access(2) answers elsewhere is put in its place.)"""
    from lrpgui import settings

    monkeypatch.setattr(settings.os, "access", lambda path, mode: os.fspath(path) != str(
        tmp_path))
    _refused(capsys, ["--settings", str(tmp_path / "s.ini")],
             f"{tmp_path / 's.ini'}: cannot be created: folder {tmp_path} is not writable")
