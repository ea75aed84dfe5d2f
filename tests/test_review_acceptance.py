"""Findings of the acceptance review of issue 12 (a new user on the real models), each with
the input that showed it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore.cli.main import main


def _resnet_copy(tmp_path, name="m.onnx"):
    pytest.importorskip("onnx")
    src = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    dst = tmp_path / name
    dst.write_bytes(open(src, "rb").read())
    return dst


@pytest.mark.parametrize("overwrite", [False, True])
def test_convert_beside_the_input_keeps_the_inputs_sidecar(tmp_path, capsys, overwrite):
    """``lrp convert effnet.onnx effnet.npz --overwrite`` removed effnet.json, the sidecar the
    ONNX file still needs (its mean/std), and without --overwrite only said 'file exists'."""
    model = _resnet_copy(tmp_path)
    side = tmp_path / "m.json"
    side.write_text(json.dumps({"input": {"divide": 255, "mean": [0.1307], "std": [0.3081]}}))
    before = side.read_text()
    rc = main(["convert", str(model), str(tmp_path / "m.npz")]
              + ["--overwrite"] * overwrite)
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1
    assert "m.json" in err and "m.onnx" in err and "another name" in err
    assert side.read_text() == before and not (tmp_path / "m.npz").exists()
    # elsewhere it converts, with the sidecar's specification in the native header
    assert main(["convert", str(model), str(tmp_path / "m2.npz")]) == 0
    assert lrpcore.load_model(tmp_path / "m2.npz").input_spec.mean == (0.1307,)


def test_a_channels_first_shape_in_a_sidecar_takes_images_as_height_width_channels(tmp_path):
    """``{"input": {"shape": [1, 32, 32]}}`` beside the PyTorch ResNet took the raw image as
    1×32×32 (H×W×C) and fed every 32×32 digit scrambled: test digits 7 2 1 0 were read as
    4 4 5 9, without a word."""
    model_path = _resnet_copy(tmp_path)
    (tmp_path / "m.json").write_text(json.dumps({"input": {"shape": [1, 32, 32]}}))
    model = lrpcore.load_model(model_path)
    assert model.input_spec.raw_shape == (32, 32, 1)
    digits = np.load(shared_path("data", "mnist_test_images.npy"))[:4].reshape(4, 28, 28)
    padded = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
    fed = lrpcore.Explainer(model).prepare(padded)
    np.testing.assert_allclose(fed, padded[:, None] / 255)
    raw = lrpcore.predict(model, padded[:, None] / 255, raw=True).argmax(1)
    np.testing.assert_array_equal(lrpcore.predict(model, padded).argmax(1), raw)


def test_a_sidecar_may_recommend_the_rule_as_the_readme_says(tmp_path, capsys):
    """The README offers ``"recommended_rule"`` in a sidecar MODEL.json; the sidecar refused
    it as an unknown key, so no ONNX file could recommend its rule."""
    model_path = _resnet_copy(tmp_path)
    side = tmp_path / "m.json"
    side.write_text(json.dumps({"recommended_rule": "epsilon:0.1"}))
    model = lrpcore.load_model(model_path)
    assert lrpcore.default_settings(model) == {"rule": "epsilon:0.1", "dtype": "float32"}
    assert main(["info", str(model_path)]) == 0  # and lrp info says so
    assert "recommended rule: epsilon:0.1" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # as does --rule's help
        main(["explain", "--help"])
    assert "recommended_rule" in capsys.readouterr().out
    x = tmp_path / "x.npy"
    np.save(x, np.load(shared_path("data", "mnist_test_images.npy"))[:2])
    assert main(["explain", str(model_path), str(x), "--out", str(tmp_path / "R.npy")]) == 0
    assert json.loads((tmp_path / "R.npy.json").read_text())["rules"] == "epsilon:0.1"
    capsys.readouterr()
    # kept by a conversion to the toolbox's text format, whose sidecar carries the metadata
    side.write_text(json.dumps({"recommended_rule": "EpsilonGammaBox"}))
    lenet = shared_path("models", "lrp_toolbox", "LeNet-5.txt")
    (tmp_path / "l.txt").write_bytes(open(lenet, "rb").read())
    (tmp_path / "l.json").write_text(json.dumps({"recommended_rule": "zplus"}))
    assert main(["convert", str(tmp_path / "l.txt"), str(tmp_path / "l2.txt")]) == 0
    assert lrpcore.default_settings(lrpcore.load_model(tmp_path / "l2.txt"))["rule"] == "zplus"
    capsys.readouterr()
    side.write_text(json.dumps({"recommended_rule": "epsilon:0"}))  # refused, file named
    assert main(["info", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert "m.json" in err and "recommended_rule" in err and len(err.splitlines()) == 1


def test_a_sidecar_sets_how_photographs_are_fitted(tmp_path, capsys):
    """The README describes the input specification's ``resize`` and ``crop`` (torchvision's
    Resize(256) + CenterCrop(224) for EfficientNet-Lite0), but a sidecar refused them as
    unknown fields: the ONNX export then read a folder resized to 224, not 256, and
    classified scikit-image's chelsea differently from the built-in model."""
    from skimage import data as images
    from skimage.io import imsave

    from lrpcore.io.image_folder import read_fitted

    model_path = _resnet_copy(tmp_path)
    folder = tmp_path / "photos"
    folder.mkdir()
    imsave(folder / "cat.png", (images.chelsea().mean(axis=2)).astype(np.uint8))
    side = tmp_path / "m.json"
    side.write_text(json.dumps({"input": {"resize": 40, "crop": 28}}))
    model = lrpcore.load_model(model_path)
    assert model.input_spec.extra == {"resize": 40, "crop": 28}
    assert "resized to 40" in model.input_spec.describe()
    got = lrpcore.open_dataset(str(folder), model=model).images([0])[0]
    want = read_fitted(str(folder / "cat.png"), resize=40, crop=28, channels=1)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, read_fitted(str(folder / "cat.png"), crop=28, channels=1))
    # kept through lrp convert (the native header), refused when they cannot apply
    assert main(["convert", str(model_path), str(tmp_path / "n.npz")]) == 0
    assert lrpcore.load_model(tmp_path / "n.npz").input_spec.extra == {"resize": 40, "crop": 28}
    capsys.readouterr()
    for bad, words in (({"crop": 32}, "'crop' 32"), ({"resize": 20}, "'resize' 20"),
                       ({"resize": "256"}, "whole number")):
        side.write_text(json.dumps({"input": bad}))
        assert main(["info", str(model_path)]) == 2
        err = capsys.readouterr().err
        assert "m.json" in err and words in err and len(err.splitlines()) == 1


def test_zb_on_every_layer_of_a_colour_graph_model(tmp_path, capsys):
    """``lrp explain effnet.onnx photos --rule zb`` (the sidecar's per-channel mean/std):
    internal error, "operands could not be broadcast together with shapes (1,1280) (3,)".
    Plain zb as the rule of every layer is refused now (it is meant for the input layer);
    the first layer takes the bounds per channel, and explicit bounds go everywhere."""
    from colour_models import colour_graph_model

    model = colour_graph_model()
    x = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    low, high = model.input_spec.channel_range()
    envelope = f"zb:{float(low.min())!r}:{float(high.max())!r}"
    with pytest.raises(lrpcore.RuleError, match="EpsilonGammaBox"):
        lrpcore.explain(model, x, rule="zb")
    got = lrpcore.explain(model, x, rule=envelope, layer_rules={"stem": "zb"})
    assert np.isfinite(got).all()
    assert not np.allclose(got, lrpcore.explain(model, x, rule=envelope))  # stem per channel
    model_path = tmp_path / "colour.npz"
    lrpcore.save_model(model, model_path)
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", str(model_path), str(tmp_path / "x.npy"), "--rule", "zb",
                 "--out", str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "=zb" in err and not (tmp_path / "R.npy").exists()


def test_a_channels_first_raw_shape_in_a_sidecar_is_refused(tmp_path, capsys):
    """``"raw_shape": [1, 28, 28]`` beside the PyTorch ResNet (the model's C×H×W, where raw
    images are H×W×C) fed every digit transposed, without a word."""
    model_path = _resnet_copy(tmp_path)
    side = tmp_path / "m.json"
    side.write_text(json.dumps({"input": {"shape": [1, 28, 28], "raw_shape": [1, 28, 28]}}))
    assert main(["info", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert "m.json" in err and "[28, 28, 1]" in err and len(err.splitlines()) == 1
    side.write_text(json.dumps({"input": {"shape": [1, 28, 28], "raw_shape": [28, 28, 1]}}))
    assert main(["info", str(model_path)]) == 0
