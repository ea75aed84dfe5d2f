"""Defects earlier reviews noticed and left (stop 22): an output that replaced a model's
sidecar; `lrp data info` on samples without values."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hostile_files import one_line

MODELS = Path(__file__).resolve().parents[1] / "models"
SIDE = '{"class_names": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}\n'


@pytest.mark.parametrize("make", ["existing", "new"])
@pytest.mark.parametrize("argv", [
    ["sanity", "OTHER", "mnist-test", "--n", "2", "--csv", "SIDE", "--overwrite"],
    ["evaluate", "OTHER", "mnist-test", "--n", "2", "--csv", "SIDE", "--overwrite"],
    ["sweep", "OTHER", "mnist-test", "--rule", "epsilon", "--param", "epsilon=0.1,1", "--n",
     "2", "--csv", "SIDE", "--overwrite"],
    ["bench", "--models", "lenet5", "--json", "SIDE", "--overwrite"],
])
def test_no_output_replaces_or_creates_a_models_sidecar(tmp_path, capsys, argv, make):
    """``--csv m.json --overwrite`` beside ``m.npz`` replaced the model's sidecar (its class
    names, input specification) with a CSV, and without one created a sidecar that made
    ``m.npz`` fail to load; refused before anything is computed, whichever model is used."""
    from lrpcore.cli.main import main

    shutil.copy(MODELS / "mnist-lenet5.npz", tmp_path / "m.NPZ")
    side = tmp_path / "m.json"
    if make == "existing":
        side.write_text(SIDE)
    names = {"OTHER": str(MODELS / "mnist-lenet5.npz"), "SIDE": str(side)}
    assert main([names.get(a, a) for a in argv]) == 2
    one_line(capsys, "m.json: is the sidecar of the model m.NPZ beside it", "another name")
    assert (side.read_text() == SIDE) if make == "existing" else not side.exists()


def test_a_library_export_never_writes_a_models_sidecar(tmp_path):
    """The library's exports (the explorer's too) refuse a model's sidecar as well."""
    from lrpcore.errors import ExportError
    from lrpcore.export import export_relevance

    shutil.copy(MODELS / "mnist-lenet5.npz", tmp_path / "m.npz")
    with pytest.raises(ExportError, match="sidecar of the model m.npz"):
        export_relevance(tmp_path / "m.json", np.zeros((28, 28)), overwrite=True)
    assert not (tmp_path / "m.json").exists()
    export_relevance(tmp_path / "r.npy", np.zeros((28, 28)))  # other names as before
    assert (tmp_path / "r.npy.json").is_file()


@pytest.mark.parametrize("shape, words", [
    ((3, 0), "samples of shape 0 hold no values (data of 3×0)"),
    ((5, 28, 0), "samples of shape 28×0 hold no values (data of 5×28×0)"),
    ((2, 0, 4, 3), "samples of shape 0×4×3 hold no values"),
    ((0, 1, 1, 1, 4, 4, 3), "7-dimensional data (0×1×1×1×4×4×3)"),
    ((2, 1, 1, 1, 4, 4, 3), "7-dimensional data (2×1×1×1×4×4×3)"),
])
def test_lrp_data_info_refuses_samples_without_values_as_it_refuses_7d_data(
        tmp_path, capsys, shape, words):
    """Samples that hold no values were described as a dataset ('0 per sample', exit 0) and
    only lrp explain found they fit no model, while 7-D data was refused at once: both are
    refused by the same check, each naming the shape and what is expected."""
    from lrpcore.cli.main import main

    path = tmp_path / "x.npy"
    np.save(path, np.zeros(shape, np.float32))
    assert main(["data", "info", str(path)]) == 2
    one_line(capsys, words, "expected N samples of (H, W, C) images or flat vectors")


def test_lrp_data_info_says_an_empty_dataset_is_refused_and_blank_samples_are_fine(
        tmp_path, capsys):
    """Zero samples are described (the file is readable) with a note that every command
    refuses it; samples whose values are all zero (black images) are ordinary samples."""
    from lrpcore.cli.main import main

    np.save(tmp_path / "empty.npy", np.zeros((0, 28, 28), np.uint8))
    np.save(tmp_path / "black.npy", np.zeros((2, 28, 28), np.uint8))
    assert main(["data", "info", str(tmp_path / "empty.npy")]) == 0
    out = capsys.readouterr().out
    assert "samples: 0\n" in out and "note:    no samples: the commands and the explorer " \
        "refuse it" in out
    assert main(["data", "info", str(tmp_path / "black.npy")]) == 0
    out = capsys.readouterr().out
    assert "samples: 2\n" in out and "note" not in out
