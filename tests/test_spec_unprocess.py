"""``InputSpec.unprocess``: the raw samples whose preprocessing gives a model-layout array
back, for every kind of specification (channels first with per-channel normalisation, the
toolbox's padded NHWC, flat)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.spec import InputSpec

SPECS = [
    InputSpec(shape=(3, 8, 8), raw_shape=(8, 8, 3), layout="NCHW", divide=255.0, offset=0.0,
              mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    InputSpec(shape=(12, 12, 1), raw_shape=(8, 8, 1), pad=2, pad_value=-1.0),
    InputSpec(shape=(64,), raw_shape=(8, 8, 1), layout="flat"),
    InputSpec(shape=(100,), raw_shape=(8, 8, 1), layout="flat", pad=1, pad_value=-1.0),
]


@pytest.mark.parametrize("spec", SPECS)
def test_unprocess_inverts_preprocess(spec):
    raw = np.random.default_rng(0).integers(0, 256, (3,) + spec.raw_shape).astype(np.float64)
    fed = spec.preprocess(raw)
    back = spec.unprocess(fed)
    assert back.shape == raw.shape
    np.testing.assert_allclose(back, raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(spec.preprocess(back), fed, rtol=0, atol=1e-12)
