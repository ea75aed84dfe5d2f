"""zB on a model that normalises its input inside: its default bounds are the input's range
as given (as zennit takes them), which do not contain what the first convolution reads, and
the non-conservation warning blamed other layers. The diagnosis says so, first, with the
``--layer-rule`` that gives zB the bounds of its inputs (the input's range mapped through the
normalisation), in ``lrp explain``'s warnings and in the explorer's diagnosis."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.insight.diagnose import Diagnosis

pytest.importorskip("onnx")
ZOO = Path(__file__).resolve().parent / "data" / "zoo"
FIRST_CONV = {"innorm_ts": "/conv1/Conv", "innorm_dynamo": "node_conv2d"}
SUGGESTED = re.compile(r"--layer-rule (\S+)")


@pytest.fixture(scope="module")
def innorm():
    """The fixture's samples (N×3×6×6 in [0, 1]) and the range its first convolution reads
    when the input spans [0, 1]: (x − mean) / std per channel, mean and std in the model."""
    d = np.load(ZOO / "innorm.npz")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    return d["x"].astype(np.float32), float(np.min(-mean / std)), float(np.max((1 - mean) / std))


def _explain(tmp_path, capsys, model, x, *extra):
    xs = tmp_path / "x.npy"
    np.save(xs, x)
    assert main(["explain", str(ZOO / f"{model}.onnx"), str(xs), "--raw", "--rule",
                 "EpsilonGammaBox", "--out", str(tmp_path / "R.npy"), "--overwrite",
                 *extra]) == 0
    return [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]


@pytest.mark.parametrize("model", sorted(FIRST_CONV))
def test_lrp_explain_names_the_bounds_zb_should_have(tmp_path, capsys, innorm, model):
    x, low, high = innorm
    warnings = _explain(tmp_path, capsys, model, x)
    bounds = [w for w in warnings if "zB's bounds" in w]
    assert len(bounds) == 1, warnings
    # the cause before the layers it upsets: the warning right after the overall sum
    assert warnings.index(bounds[0]) == 1
    assert "layer 3 (Convolution 3×3×3×8" in bounds[0] and "[0, 1]" in bounds[0]
    # said as a mapping of the input's range, so that a wrong range (0…255 pixels declared
    # 0…1: Keras's MobileNetV3 read [-1, -0.9922]) shows as such
    assert re.search(r"maps its input's range \[0, 1\] .* to \[-2\.1\d*, 2\.6\d*\] before this "
                     r"layer", bounds[0])
    (arg,) = SUGGESTED.findall(bounds[0])
    key, spec = shlex.split(arg)[0].split("=", 1)
    assert key == FIRST_CONV[model]
    name, lo, hi = spec.split(":")
    assert name == "zb"
    # the mapped bounds, to 6 digits, rounded outward: they contain every input
    assert low - 1e-4 < float(lo) <= low and high <= float(hi) < high + 1e-4
    again = _explain(tmp_path, capsys, model, x, "--layer-rule", shlex.split(arg)[0])
    assert not [w for w in again if "zB's bounds" in w], again  # the advice is enough


def test_bounds_that_contain_the_inputs_are_not_reported(tmp_path, capsys, innorm):
    x, low, high = innorm
    wide = _explain(tmp_path, capsys, "innorm_ts", x, "--layer-rule", "/conv1/Conv=zb:-3:3")
    assert not [w for w in wide if "zB's bounds" in w]
    narrow = _explain(tmp_path, capsys, "innorm_ts", x, "--layer-rule",
                      "/conv1/Conv=zb:-1:1")  # given bounds are checked as well
    assert [w for w in narrow if "zB's bounds [-1, 1]" in w]


def test_a_model_reading_its_input_as_given_gets_no_such_warning(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(3, 3, 16, 16)).astype(np.float32)
    warnings = _explain(tmp_path, capsys, "resnet_ts", x)
    assert not [w for w in warnings if "zB's bounds" in w]


def test_the_explorers_diagnosis_says_it_and_keeps_it_in_a_sidecar(innorm):
    from lrpgui.requests import ExplainRequest
    from lrpgui.services import ExplainService

    x, _, _ = innorm
    model = lrpcore.load_model(ZOO / "innorm_ts.onnx")
    raw = np.round(x[0].transpose(1, 2, 0) * 255).astype(np.uint8)
    req = ExplainRequest(model=model, raw=raw, index=0, dataset_key="innorm",
                         rule="EpsilonGammaBox", dtype="float32")
    diagnosis = ExplainService().run(req).later["diagnosis"]
    assert diagnosis.layer == 3  # the layer the trust indicator opens
    assert "zB's bounds" in diagnosis.summary() and "--layer-rule /conv1/Conv=zb:" in \
        "\n".join(diagnosis.warnings())
    back = Diagnosis.from_dict(diagnosis.to_dict())
    assert back.warnings() == diagnosis.warnings()


def test_bounds_alone_are_not_called_a_conservation_failure():
    """Where the sum is kept, the first line says what is wrong, not 'not conserved'."""
    import math

    from lrpcore.insight.diagnose import Finding

    found = Finding(3, "Convolution, node c", "bounds", math.nan, math.nan, 1, 1, "zb-bounds",
                    "give it zb:-2:3", detail="its inputs lie in [-2, 3], outside [0, 1]")
    lines = Diagnosis("EpsilonGammaBox", 4, 1.02, (found,)).warnings()
    assert "not conserved" not in lines[0] and "does not fit" in lines[0]
    assert lines[1] == ("layer 3 (Convolution, node c): its inputs lie in [-2, 3], outside "
                        "[0, 1] — give it zb:-2:3")
    lines = Diagnosis("EpsilonGammaBox", 4, 3.0, (found,)).warnings()
    assert "not conserved" in lines[0]  # a sum off by 3× is said as before
