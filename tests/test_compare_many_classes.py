"""Compare's "all classes" on a model with many classes (ImageNet's 1000) shows the ten
highest-scoring ones in score order: it built one backward pass over the sample repeated once
per class (1000 EfficientNet-Lite0 passes at once) and 1000 columns."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore.insight.compare import MAX_ALL_CLASSES, compare
from lrpcore.layers import Linear, Rect
from lrpcore.spec import InputSpec


def _model(k):
    rng = np.random.default_rng(0)
    spec = InputSpec(shape=(16,), raw_shape=(16,), layout="flat", divide=1.0, offset=0.0,
                     value_range=(0.0, 1.0), raw_range=(0.0, 1.0))
    return lrpcore.Sequential([Linear(rng.normal(0, 1, (16, 8)), np.zeros(8)), Rect(),
                               Linear(rng.normal(0, 1, (8, k)), np.zeros(k))], spec)


def test_all_classes_of_a_large_model_are_its_top_ten():
    x = np.random.default_rng(1).uniform(0, 1, (1, 16))
    fwd = lrpcore.Explainer(_model(40), dtype="float64").forward(x, raw=True)
    comp = compare(fwd, ["epsilon:0.01", "gradxinput"], classes="all")
    top = list(np.argsort(-fwd.outputs()[0])[:MAX_ALL_CLASSES])
    assert list(comp.classes) == top
    assert all(row.maps.shape == (MAX_ALL_CLASSES, 16) for row in comp.rows)
    np.testing.assert_allclose(comp.rows[0].maps[3], fwd.relevance("epsilon:0.01",
                                                                    target=top[3])[0])


def test_all_classes_of_a_small_model_stay_all():
    x = np.random.default_rng(1).uniform(0, 1, (1, 16))
    fwd = lrpcore.Explainer(_model(10), dtype="float64").forward(x, raw=True)
    assert list(compare(fwd, ["epsilon:0.01"], classes="all").classes) == list(range(10))
