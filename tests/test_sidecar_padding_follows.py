"""A ``MODEL.json`` that rescales a padded toolbox model's input moves its padding with it: the
padding stands for black pixels, and the −1 of x/127.5 − 1 stayed when a sidecar said
``"divide": 255, "offset": 0`` (a border below every pixel of [0, 1], and zB's default
bounds stretched to [−1, 1])."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

import lrpcore

MODELS = Path(__file__).resolve().parents[1] / "models"


def _with_sidecar(tmp_path, given):
    path = tmp_path / "lenet.npz"
    shutil.copy(MODELS / "mnist-lenet5.npz", path)
    (tmp_path / "lenet.json").write_text(json.dumps({"input": given}))
    return lrpcore.load_model(path).input_spec


def test_the_padding_follows_a_new_input_range(tmp_path):
    spec = _with_sidecar(tmp_path, {"divide": 255.0, "offset": 0.0})
    assert spec.pad == 2 and spec.pad_value == 0.0 and spec.value_range == (0.0, 1.0)
    fed = spec.preprocess(np.zeros((1, 28, 28, 1), np.uint8))
    assert fed.shape == (1, 32, 32, 1) and np.all(fed == 0)  # a black digit, border included
    spec = _with_sidecar(tmp_path, {"divide": 255.0, "offset": 0.0, "mean": [0.5],
                                    "std": [0.25]})
    assert spec.pad_value == -2.0 and spec.value_range == (-2.0, 2.0)


def test_a_padding_the_sidecar_names_stays(tmp_path):
    spec = _with_sidecar(tmp_path, {"divide": 255.0, "offset": 0.0, "pad_value": 0.5})
    assert spec.pad_value == 0.5 and spec.value_range == (0.0, 1.0)
    spec = _with_sidecar(tmp_path, {"pad_value": 0.0})  # no new scaling: as given
    assert spec.pad_value == 0.0 and spec.value_range == (-1.0, 1.0)
