"""The engine reproduces the LRP Toolbox 1.3.1's own outputs for its LeNet-5 (float64, numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

import lrpcore

# configuration name in the reference file -> (rule spec or preset, target)
CONFIGS = {
    "simple": ("simple", "pred"),
    "epsilon_0p01": ("epsilon:0.01", "pred"),
    "epsilon_1": ("epsilon:1", "pred"),
    "alphabeta_2": ("alphabeta:2", "pred"),
    "alphabeta_1": ("alphabeta:1", "pred"),
    "flat": ("flat", "pred"),
    "ww": ("ww", "pred"),
    "composite_alpha1_ww": ("Alpha1WW", "pred"),
    "epsilon_0p01_class3": ("epsilon:0.01", 3),
    "simple_allout": ("simple", "output"),
    "aware_simple": ("simple", "pred"),
    "aware_epsilon_0p01": ("epsilon:0.01", "pred"),
    "aware_alphabeta_2": ("alphabeta:2", "pred"),
}
LAYERWISE = ["simple", "epsilon_0p01", "alphabeta_2", "flat", "ww", "composite_alpha1_ww"]


def rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.fixture(scope="module")
def forward(lenet, reference):
    return lrpcore.Explainer(lenet, "numpy", "float64").forward(reference["X"], raw=True)


def test_every_reference_configuration_is_covered(reference):
    assert set(map(str, reference["configs"])) == set(CONFIGS)


def test_preprocessing_reproduces_fed_input(lenet, reference):
    x = lenet.input_spec.preprocess(reference["X_uint8"])
    assert np.array_equal(x, reference["X"])


def test_forward_outputs(forward, reference):
    assert rel_err(forward.outputs(), reference["Y"]) < 1e-12
    assert np.array_equal(forward.predictions(), reference["pred"])


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_relevance_matches_toolbox(forward, reference, config):
    rule, target = CONFIGS[config]
    R = forward.relevance(rule, target)
    assert R.shape == reference[f"R__{config}"].shape
    assert rel_err(R, reference[f"R__{config}"]) < 1e-8
    # conservation is a property of the rules, so it must match too
    rinit = reference[f"Rinit__{config}"]
    cons = np.abs(R.sum(axis=(1, 2, 3)) - rinit.sum(1)) / np.abs(rinit.sum(1))
    assert np.allclose(cons, reference[f"cons__{config}"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("config", LAYERWISE)
def test_layerwise_relevance_matches_toolbox(forward, config):
    with np.load(shared_path("reference", "lenet5_dev_layerwise.npz")) as lw:
        rule, target = CONFIGS[config]
        _, layers = forward.relevance(rule, target, trace=True)
        for k in (9, 8, 6, 5, 3, 2, 0):
            ref = lw[f"Rlayer{k:02d}__{config}"]
            assert rel_err(layers[k], ref) < 1e-8, f"layer {k}"


def test_activations_match_toolbox(forward):
    with np.load(shared_path("reference", "lenet5_dev_layerwise.npz")) as lw:
        for k in range(11):
            assert rel_err(forward.activations[k + 1], lw[f"A{k:02d}"]) < 1e-12


def test_public_explain_equals_explainer(lenet, reference):
    R = lrpcore.explain(lenet, reference["X_uint8"], rule="epsilon:0.01")
    assert rel_err(R, reference["R__epsilon_0p01"]) < 1e-8
    R2 = lrpcore.explain(lenet, reference["X"], rule="epsilon:0.01", raw=True, batch_size=5)
    assert rel_err(R2, reference["R__epsilon_0p01"]) < 1e-8


def test_true_target_uses_labels(lenet, reference):
    labels = reference["labels"]
    R = lrpcore.explain(lenet, reference["X"], raw=True, rule="simple", target="true",
                        labels=labels)
    assert rel_err(R, reference["R__simple"]) < 1e-8  # all 16 are classified correctly
