"""Opening a model and a dataset at start-up starts one prediction pass and one explanation:
started once per file, the first prediction pass (all of natural-images through EfficientNet,
~10 s on a busy CPU) ran to its end before the second began, and tests waiting for the accuracy
ran out of time under load."""

from __future__ import annotations

from .waiting import settle


def test_start_up_predicts_and_explains_once(make_window, qtbot, monkeypatch):
    from lrpgui.controller import Controller

    keys = []
    submit = Controller.submit

    def recording(self, key, fn, *args, **kwargs):
        keys.append(key)
        return submit(self, key, fn, *args, **kwargs)

    monkeypatch.setattr(Controller, "submit", recording)
    window = make_window()
    settle(qtbot, window.controller)
    assert keys.count("predict") == 1 and keys.count("explain") == 1, keys
    assert window.state.predictions is not None and window.state.relevance is not None
    # opening another dataset later still starts both again, once
    keys.clear()
    window.open_dataset(window.state.dataset_name)
    settle(qtbot, window.controller)
    assert keys.count("predict") == 1 and keys.count("explain") == 1, keys
