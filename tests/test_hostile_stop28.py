"""Found by stop 28's hostile review of stop 27's code (map targets and regions, lrp train's
dilated convolutions, the ONNX importer's new operators): each test builds the input it needs
and failed before the fix it guards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hostile_files import one_line, save_digits

from lrpcore.cli.main import main
from lrpcore.errors import ShapeError

ZOO = Path(__file__).parent / "data" / "zoo"
BIG = "9" * 5000  # more digits than int() reads (CPython's 4,300-digit guard)


def _seg_samples(path):
    """Two random 16×16×3 samples for the Keras U-Net of the zoo (keras_seg)."""
    np.save(path, np.random.RandomState(0).rand(2, 16, 16, 3).astype(np.float32))
    return path


@pytest.mark.parametrize("option", ["--target", "--layer", "--region"])
def test_a_number_of_thousands_of_digits_is_refused_in_words(tmp_path, capsys, option):
    """int() raises ValueError on more than 4,300 digits: '--target 99…9', lrp concepts
    '--layer 99…9' and '--region 0:99…9,0:4' ended in an internal error."""
    pytest.importorskip("onnx")
    if option == "--region":
        args = ["explain", str(ZOO / "keras_seg_tf2onnx.onnx"),
                str(_seg_samples(tmp_path / "x.npy")), "--region", f"0:{BIG},0:4",
                "--out", str(tmp_path / "r.npy")]
    else:
        command = "concepts" if option == "--layer" else "explain"
        out = tmp_path / ("c" if command == "concepts" else "r.npy")
        args = [command, "mnist-lenet5", str(save_digits(tmp_path / "x.npy")), option, BIG,
                "--out", str(out)]
    assert main(args) == 2
    one_line(capsys, option)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


@pytest.mark.parametrize("spec", [f"conv:3x3x{BIG},flatten,linear:10",
                                  f"conv:3x3x4@{BIG},flatten,linear:10", f"linear:{BIG}",
                                  f"sumpool:{BIG},flatten,linear:10"],
                         ids=["conv-filters", "conv-dilation", "linear", "sumpool"])
def test_train_layers_with_a_number_of_thousands_of_digits_are_refused(spec):
    from lrpcore.train.architectures import parse_layers  # noqa: PLC0415

    with pytest.raises(ShapeError, match="--layers token 1") as err:
        parse_layers(spec)
    assert len(str(err.value)) < 300  # the token is shortened, not printed whole


@pytest.mark.parametrize("spec", ["conv:٣x٣x٤@٢,flatten,linear:10", "conv:3x3x4@٢",
                                  "sumpool:٢,flatten,linear:10"],
                         ids=["conv", "conv-dilation", "sumpool"])
def test_train_layers_read_ascii_digits_only(spec):
    """conv:HxWxN@D and pool sizes matched \\d, which takes any script's digits: 'conv:٣x٣x٤@٢'
    trained a 3×3×4 convolution at dilation 2, where --region and linear:N read ASCII digits
    only."""
    from lrpcore.train.architectures import parse_layers  # noqa: PLC0415

    with pytest.raises(ShapeError, match="--layers token 1"):
        parse_layers(spec)
