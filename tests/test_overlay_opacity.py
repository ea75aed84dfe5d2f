"""The overlay's opacity is clipped to 0..1, and NaN is refused: it passed the clip (NaN
compares false both ways) and blended a NaN picture, exported as such and drawn as garbage;
in the explorer's state every assignment of it counted as a change (NaN != NaN)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.errors import ShapeError
from lrpcore.render.overlay import overlay


def test_the_library_refuses_a_nan_opacity_and_clips_the_rest():
    R, x = np.ones((4, 4, 3)), np.full((4, 4, 3), 0.5)
    with pytest.raises(ShapeError, match="opacity"):
        overlay(R, x, float("nan"), "black-firered")
    np.testing.assert_array_equal(overlay(R, x, 7.0, "black-firered"),
                                  overlay(R, x, 1.0, "black-firered"))
    np.testing.assert_array_equal(overlay(R, x, -np.inf, "black-firered"),
                                  overlay(R, x, 0.0, "black-firered"))


def test_the_explorer_state_refuses_it_at_assignment():
    from lrpgui.state import AppState

    state = AppState()
    with pytest.raises(ShapeError, match="opacity"):
        state.overlay_opacity = float("nan")
    assert state.overlay_opacity == 0.6
    state.overlay_opacity = 2
    assert state.overlay_opacity == 1.0
