"""tools/gpu_graph_check.py fails on a device when a registered layer kind is in none of its
parity graphs; CI has no GPU, so this checks the coverage here (a new kind without a place in
those graphs fails now, not in the next session that is lent a device), and that the graphs
of the later kinds explain on numpy."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import gpu_graph_check  # noqa: E402

import lrpcore  # noqa: E402
from lrpcore.layers import LAYER_KINDS  # noqa: E402
from lrpcore.zoo import efficientnet_lite0, mnist_resnet  # noqa: E402


def test_the_gpu_parity_graphs_hold_every_registered_layer_kind():
    later = gpu_graph_check.later_kinds_graphs()
    models = [gpu_graph_check.every_operator_graph(), mnist_resnet(), efficientnet_lite0(),
              *later.values()]
    seen = {type(node.layer).kind for model in models for node in model.nodes}
    assert set(LAYER_KINDS) <= seen, sorted(set(LAYER_KINDS) - seen)


def test_the_later_kinds_graphs_explain_on_numpy():
    rng = np.random.default_rng(0)
    for model in gpu_graph_check.later_kinds_graphs().values():
        x = rng.uniform(-1, 1, (3,) + tuple(model.input_spec.shape))
        fw = lrpcore.Explainer(model, "numpy", "float64").forward(x, raw=True)
        for rule in gpu_graph_check.GRAPH_RULES:
            R = fw.relevance(rule, "pred")
            assert R.shape == x.shape and np.isfinite(R).all()
