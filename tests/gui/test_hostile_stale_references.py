"""Late hostile review: the Concepts panel's RelMax references follow the dataset file's content,
not only its name (tests/test_hostile_late.py has the rest of that review)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_references_of_a_rewritten_dataset_file_are_computed_again(make_window, qtbot, tmp_path,
                                                                    monkeypatch):
    # the panel keyed its cache by the dataset's name and size only: a digits file rewritten
    # with other digits (same name, same count) showed the references of the old ones
    from lrpcore import relmax

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    computed = []
    real = relmax.compute_references

    def counting(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(relmax, "compute_references", counting)
    data = tmp_path / "digits.npy"
    rng = np.random.RandomState(0)
    np.save(data, rng.randint(0, 256, (8, 28, 28)).astype(np.uint8))
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=data)
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")

    def references():
        with qtbot.waitSignal(panel.updated, timeout=120000):
            qtbot.mouseClick(panel.refs_button, Qt.MouseButton.LeftButton)
        return panel.references

    references()
    assert len(computed) == 1
    references()  # the same file: from the cache
    assert len(computed) == 1
    np.save(data, rng.randint(0, 256, (8, 28, 28)).astype(np.uint8))  # other digits
    st = os.stat(data)
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later time, surely
    assert window.open_dataset(str(data))
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=60000)
    references()
    assert len(computed) == 2
