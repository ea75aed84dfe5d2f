"""Stop 26's lead: the explorer's Pixel-flipping panel on a model of two inputs."""

from __future__ import annotations

from .insight_helpers import open_tool, two_input_files


def test_pixel_flipping_starts_with_fewer_units_per_step_than_the_input_has(
        make_window, qtbot, tmp_path):
    """Flipping 16 units per step of a 2-input model (the toolbox's XOR net) flips both in the
    first step, so every ordering draws one curve; flip_curves refuses that now, and the
    panel starts such a model at 1 per step instead of running into the refusal. A digit
    model keeps the default 16."""
    import lrpcore
    from lrpcore.insight.pixelflip import DEFAULTS, default_per_step

    model, data = two_input_files(tmp_path)
    window = make_window(model=model, dataset=data)
    panel = open_tool(qtbot, window, "pixelflip")
    assert panel.per_step.value() == 1
    flipped = panel.outcome.results[0].flipped
    assert list(flipped) == [0, 1, 2]  # one input per step: the ordering matters
    digits = lrpcore.load_model("mnist-lenet5").input_spec
    assert default_per_step(digits, 1) == DEFAULTS["per_step"]
