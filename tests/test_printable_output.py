"""Terminal control sequences in class names, provenance and file names never reach the
terminal: the CLI strips them (models and folders written here carry them)."""

from __future__ import annotations

import json
import shutil

import numpy as np

from lrpcore.bundled import MODELS_DIR
from lrpcore.cli.main import main

ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def test_class_names_and_provenance_from_a_sidecar_are_stripped(tmp_path, capsys):
    model = tmp_path / "m.npz"
    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", model)
    names = [f"{ESC}digit{i}" for i in range(10)]
    (tmp_path / "m.json").write_text(json.dumps({"class_names": names}))
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "digit3" in out and "\x1b" not in out and "\x07" not in out


def test_a_file_name_in_an_error_is_stripped_and_one_line(tmp_path, capsys):
    bad = tmp_path / f"x{ESC}\nsecond line.npy"
    bad.write_bytes(b"not an array")
    rc = main(["data", "info", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "\x1b" not in err and len(err.strip().splitlines()) == 1


def test_folder_class_names_are_stripped_in_data_info(tmp_path, capsys):
    from skimage import io as skio

    for cls in (f"{ESC}cat", "dog"):
        (tmp_path / cls).mkdir()
        skio.imsave(tmp_path / cls / "a.png", np.zeros((4, 4), np.uint8), check_contrast=False)
    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cat" in out and "\x1b" not in out
