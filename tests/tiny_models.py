"""Tiny models the tests write as files: a command or the explorer runs on them in no time,
and one definition keeps the tests that share a model's numbers sharing them."""

from __future__ import annotations

import numpy as np


def dense_digit_model(rng):
    """784 → 16 → ReLU → 10 with small random weights drawn from ``rng`` (first layer, then
    second, as the tests that draw samples from the same ``rng`` afterwards expect)."""
    from lrpcore.layers import Linear, Rect  # noqa: PLC0415
    from lrpcore.model import Sequential  # noqa: PLC0415

    return Sequential([Linear(rng.normal(size=(784, 16)) * 0.05, np.zeros(16)), Rect(),
                       Linear(rng.normal(size=(16, 10)) * 0.3, np.zeros(10))])
