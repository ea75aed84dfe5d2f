"""A SpRAy result of ``lrp spray --raw`` records ``"raw": true`` (its samples were fed as
stored); the explorer's SpRAy window drew them as raw images all the same: fed values of
−1…1 scaled as 0…255 pixels, a blank square beside each heatmap, and said nothing of it."""

from __future__ import annotations

import numpy as np

from lrpcore.cli.main import main
from lrpcore.spray import SprayResult


def test_the_window_draws_a_raw_result_as_fed_and_says_so(make_window, toy_files, tmp_path,
                                                          capsys):
    import lrpcore
    from lrpcore.explain import Explainer

    model_path, images_path = toy_files
    model = lrpcore.load_model(str(model_path))
    fed = Explainer(model, "numpy").prepare(np.load(images_path)[:12])
    lo, hi = model.input_spec.value_range
    assert (lo, hi) == (-1.0, 1.0) and fed.max() <= 1.0  # the fed values, not 0…255 pixels
    fed_path = tmp_path / "fed.npy"
    np.save(fed_path, fed)
    out = tmp_path / "s.npz"
    assert main(["spray", str(model_path), str(fed_path), "--raw", "--out", str(out),
                 "--k", "2", "--embedding", "none"]) == 0, capsys.readouterr().err
    assert SprayResult.load(out).meta.get("raw") is True

    window = make_window(model=model_path, dataset=fed_path)
    panel = window.insight.show("spray")
    result = panel.open(str(out))
    assert result is not None, panel.last_error
    assert "fed as stored" in panel.summary.text()
    panel.preview_sample(3)
    shown = panel.preview_boxes[0][1].image  # ink dark on white: 1 − the input in [0, 1]
    x01 = (fed[int(result.indices[3])].reshape(28, 28) - lo) / (hi - lo)
    np.testing.assert_allclose(shown, 1.0 - x01, atol=1e-6)
