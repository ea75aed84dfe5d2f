"""Edge cases across the engine, I/O and command line: presets on padded models, small dense
inputs, padded-convolution rules, zip bombs, stale sidecars, foreign array layouts."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.explain import resolve_rules
from lrpcore.layers import Convolution, Flatten, Linear, MaxPool, Pad, Rect, Tanh
from lrpcore.model import Sequential
from lrpcore.rules import AlphaBeta, WSquare

# -- presets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [Flatten(), Pad((1, 1, 1, 1))])
def test_alpha1ww_puts_ww_on_the_first_weighted_layer(first):
    """The toolbox demo's w² goes on its first layer, a Linear or Convolution; a Flatten or a
    Pad (an ONNX padded Conv) before it must not make the preset drop w² altogether."""
    rng = np.random.default_rng(0)
    if first.kind == "Flatten":
        layers = [first, Linear(rng.normal(size=(12, 3)), np.zeros(3)), Rect(),
                  Linear(rng.normal(size=(3, 2)), np.zeros(2))]
    else:
        layers = [first, Convolution(rng.normal(size=(3, 3, 1, 2)), np.zeros(2)), Rect(),
                  Flatten(), Linear(rng.normal(size=(4 * 4 * 2, 2)), np.zeros(2))]
    rules = resolve_rules(layers, "Alpha1WW").rules
    assert isinstance(rules[1], WSquare)
    assert all(isinstance(r, AlphaBeta) and r.alpha == 1.0 for r in rules[2:] if r is not None)


# -- input specification inferred for dense models -------------------------------------------


@pytest.mark.parametrize("features", [3, 4, 9, 12, 16])
def test_few_dense_inputs_are_features_not_tiny_images(features):
    """A dense net on 4 (or 9, 16, 3·4) features is no 2×2 (3×3, 4×4, 2×2 colour) image: its
    inputs must be fed as given, not scaled x/127.5 − 1 like pixels."""
    rng = np.random.default_rng(1)
    model = Sequential([Linear(rng.normal(size=(features, 5)), rng.normal(size=5)), Tanh(),
                        Linear(rng.normal(size=(5, 2)), np.zeros(2))])
    spec = model.input_spec
    assert (spec.divide, spec.offset, spec.raw_shape) == (1.0, 0.0, (features,))
    x = rng.uniform(size=(3, features))
    np.testing.assert_array_equal(lrpcore.predict(model, x), lrpcore.predict(model, x, raw=True))


def test_image_sized_dense_inputs_are_still_pixels():
    model = Sequential([Linear(np.ones((784, 2)), np.zeros(2))])
    assert model.input_spec.raw_shape == (28, 28, 1) and model.input_spec.divide == 127.5
    model = Sequential([Linear(np.ones((3 * 32 * 32, 2)), np.zeros(2))])
    assert model.input_spec.raw_shape == (32, 32, 3)


# -- padded convolutions (ONNX pads, pad:P): rules that replace the inputs --------------------


def _padded_conv(rng, pads, stride):
    W = rng.normal(size=(3, 3, 2, 4))
    layers = [Pad(pads, 0.0), Convolution(W, rng.normal(size=4) * 0.1, stride), Flatten()]
    spec = lrpcore.spec.InputSpec(shape=(5, 6, 2), raw_shape=(5, 6, 2), divide=1.0, offset=0.0,
                                  value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0))
    return Sequential(layers, spec)


@pytest.mark.parametrize("spec", ["flat", "ww", "zb:-1:1"])
@pytest.mark.parametrize(("pads", "stride"), [((1, 1, 1, 1), (1, 1)), ((0, 1, 1, 2), (2, 2))])
def test_padded_convolution_rules_share_among_real_inputs_only(spec, pads, stride):
    """A Pad + Convolution is a padded convolution: flat, w² and zB must treat the zero border
    as zennit treats a convolution's own padding (no input there), i.e. equal the textbook
    rule on the map from the real inputs alone, and lose no relevance to the border."""
    from slow_lrp import dense_matrix, flat_lrp, linear_lrp

    rng = np.random.default_rng(7)
    model = _padded_conv(rng, pads, stride)
    pad, conv, _ = model.layers
    x = rng.uniform(-1, 1, size=(3, 5, 6, 2))
    R = lrpcore.explain(model, x, rule=spec, target="output", raw=True)

    M, b = dense_matrix(conv, pad.output_shape((5, 6, 2)))
    real = pad.inside((5, 6, 2), np, np.float64).ravel() > 0
    M = M[real]  # the padded convolution as a map from the real inputs
    xf = x.reshape(3, -1)
    y = xf @ M + b
    if spec == "flat":
        want = flat_lrp(M, y)
    else:
        want = linear_lrp(spec.split(":")[0], None, xf, M, b, y, bounds=(-1.0, 1.0))
    np.testing.assert_allclose(R.reshape(3, -1), want, rtol=1e-9, atol=1e-12)
    if spec != "zb:-1:1":  # flat and w² conserve exactly
        np.testing.assert_allclose(R.reshape(3, -1).sum(1), y.sum(1), rtol=1e-10)


def test_padded_dense_input_after_flatten_shares_among_real_inputs():
    rng = np.random.default_rng(3)
    model = Sequential([Pad((1, 1, 1, 1), 0.5), Flatten(),
                        Linear(rng.normal(size=(4 * 5 * 1, 3)), np.zeros(3))],
                       lrpcore.spec.InputSpec(shape=(2, 3, 1), raw_shape=(2, 3, 1), divide=1.0,
                                              offset=0.0))
    x = rng.uniform(size=(2, 2, 3, 1))
    y = lrpcore.predict(model, x, raw=True)
    R = lrpcore.explain(model, x, rule="flat", target="output", raw=True)
    np.testing.assert_allclose(R.reshape(2, -1).sum(1), y.sum(1), rtol=1e-12)
    # every real input of a dense layer sees every output: equal shares of the total
    np.testing.assert_allclose(R.reshape(2, -1), np.repeat(y.sum(1, keepdims=True) / 6, 6, 1),
                               rtol=1e-12)


@pytest.mark.parametrize("spec", ["flat", "ww"])
@pytest.mark.parametrize(("pads", "pool"), [((1, 1, 1, 1), (2, 2)), ((0, 2, 1, 0), (3, 2))])
def test_padded_max_pooling_shares_uniformly_among_real_inputs(spec, pads, pool):
    """flat and w² on a MaxPool right after a Pad: each window's relevance goes in equal
    shares to its real inputs only; none is lost to the border."""
    rng = np.random.default_rng(11)
    layers = [Pad(pads, 0.0), MaxPool(pool, pool), Flatten()]
    model = Sequential(layers, lrpcore.spec.InputSpec(shape=(4, 4, 2), raw_shape=(4, 4, 2)))
    x = rng.uniform(-1, 1, size=(2, 4, 4, 2))
    y = lrpcore.predict(model, x, raw=True)
    R = lrpcore.explain(model, x, rule=spec, target="output", raw=True)
    np.testing.assert_allclose(R.reshape(2, -1).sum(1), y.sum(1), rtol=1e-12)
    # brute force: every window splits its output equally among the real inputs it covers
    pad, maxpool, _ = model.layers
    padded_shape = pad.output_shape((4, 4, 2))
    real = pad.inside((4, 4, 2), np, np.float64)[0]
    want = np.zeros((2,) + padded_shape)
    Y = y.reshape((2,) + maxpool.output_shape(padded_shape))
    for i in range(Y.shape[1]):
        for j in range(Y.shape[2]):
            rows = slice(i * pool[0], (i + 1) * pool[0])
            cols = slice(j * pool[1], (j + 1) * pool[1])
            count = real[rows, cols].sum(axis=(0, 1))
            want[:, rows, cols] += real[rows, cols] * (Y[:, i, j] / count)[:, None, None]
    np.testing.assert_allclose(R, pad.crop(want), rtol=1e-12, atol=1e-15)


def test_unpadded_models_keep_the_toolbox_flat_and_ww():
    """Without a Pad the rules are untouched (the toolbox's fan-in and column sums)."""
    from slow_lrp import dense_matrix, flat_lrp

    rng = np.random.default_rng(5)
    conv = Convolution(rng.normal(size=(3, 3, 1, 2)), np.zeros(2))
    spec = lrpcore.spec.InputSpec(shape=(5, 5, 1), raw_shape=(5, 5, 1))
    model = Sequential([conv, Flatten()], spec)
    x = rng.uniform(-1, 1, size=(2, 5, 5, 1))
    M, _ = dense_matrix(conv, (5, 5, 1))
    y = x.reshape(2, -1) @ M
    R = lrpcore.explain(model, x, rule="flat", target="output", raw=True)
    np.testing.assert_allclose(R.reshape(2, -1), flat_lrp(M, y), rtol=1e-12)


# -- native format: a zip bomb is refused before it is inflated -------------------------------


def test_native_zip_bomb_is_refused_before_inflating(tmp_path):
    """A tiny .npz whose deflated member claims 32 MB of weights (zeros, ~32 kB compressed) is
    refused from its zip entry sizes, without allocating the array."""
    import io
    import json
    import zipfile

    from lrpcore.errors import ModelFormatError
    from lrpcore.io.native import FORMAT, VERSION

    n = 2048  # 2048 × 2048 float64 = 32 MB
    header = {"format": FORMAT, "version": VERSION,
              "layers": [{"type": "Linear", "inputs": n, "outputs": n}]}
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        buf = io.BytesIO()
        np.save(buf, np.array(json.dumps(header)))
        zf.writestr("header.npy", buf.getvalue())
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, {"descr": "<f8", "fortran_order": False, "shape": (n, n)})
        with zf.open("layer0.W.npy", "w", force_zip64=True) as member:
            member.write(buf.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(n * n * 8 >> 20):
                member.write(zeros)
        buf = io.BytesIO()
        np.save(buf, np.zeros(n))
        zf.writestr("layer0.B.npy", buf.getvalue())
    assert path.stat().st_size < 200_000
    with pytest.raises(ModelFormatError,
                       match=r"bomb\.npz: array .layer0\.W. would bring the inflated data"):
        lrpcore.load_model(path)


def test_native_compressed_real_weights_still_load(tmp_path):
    from lrpcore.io.native import native_bytes

    rng = np.random.default_rng(0)
    # 18 MB (above the size from which the ratio is checked) of toolbox-like weights with
    # three decimals, which deflate packs better than most
    model = Sequential([Linear(np.round(rng.normal(size=(1500, 1500)), 3), np.zeros(1500))])
    path = tmp_path / "c.npz"
    path.write_bytes(native_bytes(model, compress=True))
    np.testing.assert_array_equal(lrpcore.load_model(path).layers[0].W, model.layers[0].W)


# -- sidecar: a new scaling moves the input range (zB's default bounds) ------------------------


def test_sidecar_scaling_moves_the_input_range(tmp_path):
    """README's sidecar example {"input": {"divide": 255, "offset": 0}} feeds inputs in [0, 1];
    the model's input range, zB's default bounds, must say so (it stayed [−1, 1])."""
    rng = np.random.default_rng(2)
    model = Sequential([Linear(rng.normal(size=(784, 8)) * 0.05, np.zeros(8)), Rect(),
                        Linear(rng.normal(size=(8, 3)), np.zeros(3))])
    lrpcore.save_model(model, tmp_path / "m.npz")
    (tmp_path / "m.json").write_text('{"input": {"divide": 255, "offset": 0}}')
    loaded = lrpcore.load_model(tmp_path / "m.npz")
    assert loaded.input_spec.value_range == (0.0, 1.0)
    x = rng.integers(0, 256, size=(2, 784)).astype(np.uint8)
    np.testing.assert_array_equal(lrpcore.explain(loaded, x, layer_rules={0: "zb"}),
                                  lrpcore.explain(loaded, x, layer_rules={0: "zb:0:1"}))
    # a range given explicitly is kept
    (tmp_path / "m.json").write_text('{"input": {"divide": 255, "offset": 0, '
                                     '"value_range": [-0.5, 1.5]}}')
    assert lrpcore.load_model(tmp_path / "m.npz").input_spec.value_range == (-0.5, 1.5)


# -- command line: an input that is no .npy ---------------------------------------------------


@pytest.mark.parametrize("command", ["explain", "evaluate"])
def test_text_input_is_read_and_a_broken_npy_is_not_called_pickled_data(tmp_path, capsys,
                                                                        command):
    """A toolbox .txt matrix is a dataset like any other (it used to be refused); a text
    file named .npy gets one line saying it is no .npy file (numpy's own message claimed
    it "contains pickled (object) data")."""
    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    lrpcore.save_model(Sequential([Linear(rng.normal(size=(784, 3)), np.zeros(3))]),
                       tmp_path / "m.npz")
    np.savetxt(tmp_path / "x.txt", rng.integers(0, 255, size=(2, 784)), fmt="%d")
    out = ["--out", str(tmp_path / "R.npy")] if command == "explain" else [
        "--rule", "simple", "--csv", str(tmp_path / "f.csv")]
    assert main([command, str(tmp_path / "m.npz"), str(tmp_path / "x.txt"), *out]) == 0
    for name in ("R.npy", "R.npy.json", "f.csv"):
        (tmp_path / name).unlink(missing_ok=True)
    capsys.readouterr()
    (tmp_path / "x.npy").write_bytes((tmp_path / "x.txt").read_bytes())
    assert main([command, str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), *out]) == 2
    err = capsys.readouterr().err.strip()
    assert "x.npy: not a .npy file" in err and "pickled" not in err and "\n" not in err
    assert not (tmp_path / "R.npy").exists() and not (tmp_path / "f.csv").exists()


# -- lrp demo: a failed demo leaves no folder it made ------------------------------------------


@pytest.mark.parametrize("fail_at", [1, 23])  # the first PNG; the batch .npy after 22 files
def test_failed_demo_leaves_no_folder_it_created(tmp_path, capsys, monkeypatch, fail_at):
    import errno
    import os

    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    lrpcore.save_model(Sequential([Linear(rng.normal(size=(784, 10)) * 0.05, np.zeros(10))]),
                       tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8))
    calls, real = [], os.fsync

    def full_disk(fd):
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    out = tmp_path / "demo"
    rc = main(["demo", "--model", str(tmp_path / "m.npz"), "--dataset", str(tmp_path / "x.npy"),
               "--out", str(out), "--count", "2", "--backend", "numpy"])
    assert rc == 2 and "No space left" in capsys.readouterr().err
    assert len(calls) == fail_at and not out.exists()


def test_an_empty_raw_batch_is_a_shape_error():
    from lrpcore.errors import ShapeError

    model = Sequential([Linear(np.ones((784, 2)), np.zeros(2))])
    for fn in (lrpcore.explain, lrpcore.predict):
        with pytest.raises(ShapeError, match="no samples"):
            fn(model, np.zeros((0, 784)), raw=True)


# -- preprocessing: an image in another layout is refused, not scrambled ----------------------


def test_channels_first_images_are_refused_not_reshaped():
    """3×32×32 samples for a model taking 32×32×3 images have the right size, but reshaping
    them would scramble pixels and channels silently."""
    from lrpcore.errors import ShapeError

    rng = np.random.default_rng(0)
    model = Sequential([Convolution(rng.normal(size=(3, 3, 3, 2)), np.zeros(2)), Flatten(),
                        Linear(rng.normal(size=(30 * 30 * 2, 2)), np.zeros(2))],
                       lrpcore.spec.InputSpec(shape=(32, 32, 3), raw_shape=(32, 32, 3),
                                              divide=255.0, offset=0.0))
    x = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(ShapeError, match=r"3×32×32 .*channels first"):
        lrpcore.predict(model, x.transpose(0, 3, 1, 2))
    with pytest.raises(ShapeError, match="16×64"):
        lrpcore.explain(model, x.reshape(2, 16, 64, 3))
    # the layouts that hold the same pixel order still work
    want = lrpcore.predict(model, x)
    np.testing.assert_array_equal(lrpcore.predict(model, x.reshape(2, -1)), want)
    np.testing.assert_array_equal(lrpcore.predict(model, x[:, None]), want)


def test_digits_keep_every_accepted_layout():
    model = Sequential([Linear(np.random.default_rng(0).normal(size=(784, 3)), np.zeros(3))])
    x = np.random.default_rng(1).integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    want = lrpcore.predict(model, x)
    for view in (x.reshape(2, 784), x[..., None], x[:, None], x.reshape(2, 1, 784)):
        np.testing.assert_array_equal(lrpcore.predict(model, view), want)


# -- lrp convert: a stale OUT.json would be applied to the converted model --------------------


@pytest.mark.parametrize("ext", [".txt", ".npz"])
def test_convert_replaces_or_refuses_a_stale_sidecar(tmp_path, capsys, ext):
    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    src = tmp_path / "m.npz"
    lrpcore.save_model(Sequential([Linear(rng.normal(size=(784, 3)), np.zeros(3))]), src)
    out = tmp_path / f"out{ext}"
    stale = tmp_path / "out.json"
    stale.write_text('{"class_names": ["cat", "dog", "cow"]}')  # of another model
    assert main(["convert", str(src), str(out)]) == 2
    assert "out.json: file exists" in capsys.readouterr().err and not out.exists()
    assert main(["convert", str(src), str(out), "--overwrite"]) == 0
    assert lrpcore.load_model(out).class_names == ["0", "1", "2"]
    assert not stale.exists()


def _sidecar_held(monkeypatch, stale):
    """``stale`` cannot be removed or moved (a file the user may not delete)."""
    import os

    for name in ("unlink", "rename", "replace"):
        real = getattr(os, name)

        def refuse(src, *args, _real=real, **kwargs):
            if os.path.abspath(src) == str(stale):
                raise PermissionError(1, "Operation not permitted")
            return _real(src, *args, **kwargs)
        monkeypatch.setattr(os, name, refuse)


def test_convert_keeps_the_replaced_model_when_the_stale_sidecar_cannot_go(
        tmp_path, capsys, monkeypatch):
    """The sidecar was removed after the converted model had replaced the old one: when that
    failed the new model was taken back and the old one, replaced, was gone. Now nothing
    changes: the old model and its sidecar stay, and no temporary file is left."""
    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    src = tmp_path / "m.npz"
    lrpcore.save_model(Sequential([Linear(rng.normal(size=(784, 3)), np.zeros(3))]), src)
    out = tmp_path / "out.npz"
    lrpcore.save_model(Sequential([Linear(rng.normal(size=(784, 4)), np.zeros(4))]), out)
    before = out.read_bytes()
    stale = tmp_path / "out.json"
    stale.write_text('{"class_names": ["cat", "dog", "cow", "ox"]}')
    _sidecar_held(monkeypatch, stale)
    assert main(["convert", str(src), str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "out.json: cannot remove the old sidecar: Operation not permitted" in err, err
    assert out.read_bytes() == before and stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "out.json", "out.npz"]


# -- lrp train: a MODEL.json beside the output belongs to another model -----------------------


def test_train_refuses_or_removes_a_stale_sidecar(tmp_path, capsys):
    """'lrp convert X model.txt' leaves model.json; a later 'lrp train --out model.npz' must
    not have it applied to the new model (it failed after training, or mislabelled it)."""
    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.arange(40) % 10)
    stale = tmp_path / "model.json"
    stale.write_text('{"class_names": ["a", "b", "c"]}')
    args = ["train", "--layers", "linear:10,softmax", "--dataset", str(tmp_path / "x.npy"),
            "--labels", str(tmp_path / "y.npy"), "--epochs", "1",
            "--out", str(tmp_path / "model.npz")]
    assert main(args) == 2
    assert "model.json: file exists" in capsys.readouterr().err
    assert not (tmp_path / "model.npz").exists()
    assert main(args + ["--overwrite"]) == 0
    assert not stale.exists()
    assert lrpcore.load_model(tmp_path / "model.npz").class_names == [str(i) for i in range(10)]


def test_train_saves_no_model_beside_a_stale_sidecar_it_cannot_remove(tmp_path, capsys,
                                                                      monkeypatch):
    """The model was saved, then the stale sidecar's removal failed: the new model stayed
    beside a sidecar that overrides its metadata. Now the model is saved only with the
    sidecar gone: an error naming the sidecar, no model file, the sidecar as it was."""
    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.arange(40) % 10)
    stale = tmp_path / "model.json"
    stale.write_text('{"class_names": ["a", "b", "c"]}')
    _sidecar_held(monkeypatch, stale)
    assert main(["train", "--layers", "linear:10,softmax", "--dataset", str(tmp_path / "x.npy"),
                 "--labels", str(tmp_path / "y.npy"), "--epochs", "1", "--overwrite",
                 "--out", str(tmp_path / "model.npz")]) == 2
    assert "model.json: cannot remove the old sidecar" in capsys.readouterr().err
    assert not (tmp_path / "model.npz").exists() and stale.exists()


def test_a_layer_rule_on_the_dropped_softmax_says_why_it_is_refused():
    from lrpcore.errors import RuleError
    from lrpcore.layers import SoftMax

    rng = np.random.default_rng(2)
    model = Sequential([Linear(rng.normal(size=(4, 3)), np.zeros(3)), Tanh(),
                        Linear(rng.normal(size=(3, 2)), np.zeros(2)), SoftMax()],
                       lrpcore.spec.InputSpec(shape=(4,), raw_shape=(4,)))
    with pytest.raises(RuleError, match=r"layer 3 .*0\.\.2.*SoftMax.*dropped"):
        lrpcore.explain(model, rng.normal(size=(2, 4)), layer_rules={3: "flat"}, raw=True)


def test_a_target_beyond_every_integer_type_is_a_clear_error(capsys, tmp_path, monkeypatch):
    """--target 99999999999999999999 was an internal error (numpy object array)."""
    from lrpcore.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["explain", "mnist-lenet5", "mnist-sample", "--target",
                 "99999999999999999999", "--out", "unused.npy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out of range" in err[0] and "internal" not in err[0]
    assert not any(tmp_path.iterdir())  # nothing written


def test_bundled_models_open_by_name():
    import lrpcore

    model = lrpcore.load_model("mnist-lenet5")
    assert model.source.endswith("mnist-lenet5.npz")
    with pytest.raises(lrpcore.ModelFormatError, match="no such file"):
        lrpcore.load_model("mnist-lenet6")
