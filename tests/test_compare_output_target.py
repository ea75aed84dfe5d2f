"""``lrpcore.insight.compare`` for target "output" shows what that target explains: one map
of the whole output per rule (column "all outputs"), the map the explorer's main view and
``lrp explain --target output`` draw. It showed the ten highest classes one by one, none of
them what was asked for."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore.insight.baselines import attribute
from lrpcore.insight.compare import WHOLE_OUTPUT, compare
from lrpcore.layers import Linear, Rect
from lrpcore.spec import InputSpec


def _forward(k=12):
    rng = np.random.default_rng(0)
    spec = InputSpec(shape=(16,), raw_shape=(16,), layout="flat", divide=1.0, offset=0.0,
                     value_range=(0.0, 1.0), raw_range=(0.0, 1.0))
    model = lrpcore.Sequential([Linear(rng.normal(0, 1, (16, 8)), np.zeros(8)), Rect(),
                                Linear(rng.normal(0, 1, (8, k)), np.zeros(k))], spec)
    x = rng.uniform(0, 1, (3, 16))
    return lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)


def test_target_output_is_one_map_of_the_whole_output():
    fwd = _forward()
    comp = compare(fwd, ["epsilon:0.01", "gradxinput"], index=2, target="output")
    assert [row.titles for row in comp.rows] == [(WHOLE_OUTPUT,)] * 2 == [("all outputs",)] * 2
    assert all(row.maps.shape == (1, 16) for row in comp.rows) and comp.classes == ()
    np.testing.assert_allclose(comp.rows[0].maps[0],
                               fwd.relevance("epsilon:0.01", target="output")[2], rtol=1e-12)
    np.testing.assert_allclose(comp.rows[1].maps[0],
                               attribute(fwd, "gradxinput", "output")[2], rtol=1e-12)
    # a contrast column still follows it
    pair = compare(fwd, ["epsilon:0.01"], index=2, target="output", contrast=(1, 4))
    assert pair.rows[0].titles == ("all outputs", "1 vs 4")
    # "all" still means the classes one by one
    assert compare(fwd, ["epsilon:0.01"], index=2, classes="all", target="output").classes \
        == tuple(np.argsort(-fwd.outputs()[2], kind="stable")[:10])
