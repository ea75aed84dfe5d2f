"""The input's outline is found at the resolution the views draw: 3× for a digit, 1× for a
photograph (at 3× the edge filter of one 224×224 photograph took ~55 ms of the GUI thread per
outline, in the Conservation panel and every map cell)."""

from __future__ import annotations

import numpy as np

from lrpgui import rendering


def test_a_photograph_outline_is_found_at_its_own_size_and_a_digit_enlarged():
    rng = np.random.default_rng(0)
    assert rendering.outline_mask(rng.uniform(size=(224, 224, 3))).shape == (224, 224)
    assert rendering.outline_mask(rng.uniform(size=(28, 28))).shape == (84, 84)
    assert rendering.outline_mask(rng.uniform(size=(28, 28)), scaling=1).shape == (28, 28)
