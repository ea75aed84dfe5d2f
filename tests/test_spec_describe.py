"""`lrp info`, the explorer's model summary and error messages describe the preprocessing
without no-op terms (acceptance review: "x/255+0" for the ONNX ResNet, "x/1+0" for the
toolbox's XOR net)."""

from __future__ import annotations

import lrpcore
from lrpcore import zoo


def test_no_zero_offset_and_no_unit_divisor():
    resnet = zoo.mnist_resnet(seed=0).input_spec.describe()
    assert "→ x/255 →" in resnet and "+0" not in resnet
    lenet = lrpcore.load_model("mnist-lenet5").input_spec.describe()
    assert "→ x/127.5-1, padded by 2" in lenet


def test_identity_reads_as_given():
    from lrpcore.spec import InputSpec

    spec = InputSpec(shape=(2,), raw_shape=(2,), divide=1.0, offset=0.0, layout="flat")
    assert "→ as given →" in spec.describe()
