"""Photographs for the segmentation fixture (tests/data/zoo/segment_ts.onnx) whose maps predict
some classes and not others, found among grey images and noise (which maps do depends on the
fixture's seeded weights, so the tests search rather than hard-code them)."""

from __future__ import annotations

import numpy as np

import lrpcore


def photo_with_an_absent_class(model, side=16):
    """(photo H×W×3 uint8, its pixel count per class) of the first candidate whose map predicts
    at least two classes and misses at least one."""
    ex = lrpcore.Explainer(model, dtype="float32")
    rng = np.random.default_rng(0)
    # not black: x · ∂ at the input is 0 there, every rule's heatmap blank
    candidates = [np.full((side, side, 3), v, np.uint8) for v in range(16, 256, 16)]
    candidates += [rng.integers(0, 256, (side, side, 3)).astype(np.uint8) for _ in range(8)]
    for photo in candidates:
        y = ex.forward(photo[None]).outputs()
        counts = np.bincount(y[0].argmax(-1).ravel(), minlength=y.shape[-1])
        if (counts > 0).sum() >= 2 and (counts == 0).any():
            return photo, counts
    raise AssertionError("no candidate photograph misses a class of the fixture")
