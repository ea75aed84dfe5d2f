"""SpRAy on data without labels explains each sample for its predicted class, and the window
now says so in its summary, as ``lrp spray`` says it on stderr; the window said nothing,
while on labelled data the same clusters are of the true classes' heatmaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_the_summary_says_the_samples_were_explained_for_their_prediction(make_window,
                                                                          toy_files, qtbot,
                                                                          tmp_path):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("spray")
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.start()
    assert "predicted class" not in panel.summary.text()  # labelled: the true classes
    unlabelled = tmp_path / "drawings.npy"
    np.save(unlabelled, np.load(toy_files[1]))
    assert window.open_dataset(str(unlabelled))
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.start()
    assert panel.result.meta["target"] == "pred"
    assert "— each explained for its predicted class" in panel.summary.text()
