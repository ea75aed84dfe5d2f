"""Weight variants are made in the explanation's dtype: a float64 explanation of a model stored
with float32 weights (an ONNX export after ``lrp convert --dtype float32``, the bundled models,
``lrp train``'s) made w² and the γ-weights in float32 and cast them afterwards
(~1e-8 relative error in the heatmap). Now they equal those of the same weights stored in
float64. A γ so large that its denominators overflow is then an error naming γ, in float64 as
in float32 (in float64 it had given an all-zero heatmap)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import RuleError

onnx = pytest.importorskip("onnx")


def _onnx_model(path):
    from hostile_files import save_onnx_graph
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.7, (3, 1, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.normal(0, 0.1, 3).astype(np.float32), "B"),
             numpy_helper.from_array(rng.normal(0, 0.3, (5, 48)).astype(np.float32), "W2"),
             numpy_helper.from_array(rng.normal(0, 0.1, 5).astype(np.float32), "B2")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "W2", "B2"], ["y"], name="fc", transB=1)]
    save_onnx_graph(path, nodes, inits, [1, 1, 6, 6], [1, 5])
    native = path.with_suffix(".npz")  # what 'lrp convert small.onnx small.npz --dtype float32'
    lrpcore.save_model(lrpcore.load_model(path), native, dtype="float32")  # writes
    return lrpcore.load_model(native)


def _stored_in_float64(model):
    wide = copy.deepcopy(model)
    for layer in wide.layers:
        for name in ("W", "B"):
            value = getattr(layer, name, None)
            if isinstance(value, np.ndarray) and value.dtype == np.float32:
                setattr(layer, name, value.astype(np.float64))
        layer.clear_cache()
    return wide


@pytest.mark.parametrize("rule", ["ww", "gamma:0.25"])
def test_float64_explanations_of_float32_weights_use_float64_variants(tmp_path, rule):
    model = _onnx_model(tmp_path / "small.onnx")
    assert {layer.W.dtype for layer in model.layers if hasattr(layer, "W")} == {
        np.dtype(np.float32)}
    x = np.random.default_rng(1).uniform(0, 1, (4, 1, 6, 6))
    got = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).relevance(rule)
    want = lrpcore.Explainer(_stored_in_float64(model), dtype="float64").forward(
        x, raw=True).relevance(rule)
    scale = np.abs(want).max()
    assert scale > 0 and np.abs(got - want).max() <= 1e-14 * scale


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_gamma_that_overflows_its_denominators_is_named(tmp_path, dtype):
    model = _onnx_model(tmp_path / "small.onnx")
    x = np.random.default_rng(1).uniform(0, 1, (2, 1, 6, 6))
    fwd = lrpcore.Explainer(model, dtype=dtype).forward(x, raw=True)
    with pytest.raises(RuleError, match=r"gamma's γ = 1e\+308 is too large: "
                                        f"the rule's denominators overflowed {dtype}"):
        fwd.relevance("gamma:1e308")
    assert np.isfinite(fwd.relevance("gamma:1e3")).all()  # large, but no overflow
