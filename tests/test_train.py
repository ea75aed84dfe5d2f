"""Training: gradients of every layer type, the loop, checkpoints, the ``lrp train`` command."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import shared_path

import lrpcore
from lrpcore.backend import gpu_available
from lrpcore.errors import DatasetError, LRPError, ModelFormatError, ShapeError
from lrpcore.layers import Convolution, Flatten, Linear, MaxPool, Pad, Rect, SumPool, Tanh
from lrpcore.train.architectures import ARCHITECTURES, build_model, parse_layers
from lrpcore.train.backprop import backward, forward_trace, input_gradient, trainable_layers
from lrpcore.train.checkpoint import checkpoint_path
from lrpcore.train.data import make_data, random_shift, split
from lrpcore.train.loop import TrainConfig, accuracy_of, train
from lrpcore.train.losses import softmax_cross_entropy
from lrpcore.train.optim import Adam, make_optimizer, scheduled_lr

# --------------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------------


def _params_of(layers):
    return [{"W": ly.W.astype(np.float64), "B": ly.B.astype(np.float64)} if ly.weighted else None
            for ly in layers]


def _loss(layers, params, x, c):
    """A scalar with a generic gradient: Σ c · output."""
    return float((forward_trace(layers, params, x, np)[-1] * c).sum())


def _numeric(f, arr, h=1e-6):
    g = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + h
        up = f()
        flat[k] = old - h
        down = f()
        flat[k] = old
        gflat[k] = (up - down) / (2 * h)
    return g


def _rel_err(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _check_grads(layers, in_shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2,) + in_shape)
    params = _params_of(layers)
    acts = forward_trace(layers, params, x, np)
    c = rng.normal(size=acts[-1].shape)
    grads = backward(layers, params, acts, c, np)
    dx = input_gradient(layers, params, acts, c, np)
    assert _rel_err(dx, _numeric(lambda: _loss(layers, params, x, c), x)) < 1e-6
    checked = 0
    for p, g in zip(params, grads, strict=True):
        if p is None:
            assert g is None
            continue
        for key in ("W", "B"):
            num = _numeric(lambda: _loss(layers, params, x, c), p[key])
            assert np.abs(num).max() > 0
            assert _rel_err(g[key], num) < 1e-6, key
            checked += 1
    return checked


def _lin(rng, m, n):
    return Linear(rng.normal(size=(m, n)), rng.normal(size=n))


def _conv(rng, h, w, d, n, s=1):
    return Convolution(rng.normal(size=(h, w, d, n)), rng.normal(size=n), (s, s))


@pytest.mark.parametrize("make, in_shape", [
    (lambda r: [_lin(r, 5, 4)], (5,)),
    (lambda r: [_conv(r, 3, 3, 2, 3)], (6, 6, 2)),
    (lambda r: [_conv(r, 3, 2, 2, 3, 2)], (7, 6, 2)),  # strided, non-square
    (lambda r: [_conv(r, 2, 2, 2, 2), SumPool((2, 2), (2, 2))], (5, 5, 2)),
    (lambda r: [_conv(r, 2, 2, 2, 2), SumPool((3, 3), (1, 1))], (6, 6, 2)),  # overlapping
    (lambda r: [_conv(r, 2, 2, 2, 2), MaxPool((2, 2), (2, 2))], (5, 5, 2)),
    (lambda r: [_conv(r, 2, 2, 2, 2), MaxPool((3, 3), (2, 2))], (7, 7, 2)),  # overlapping
    (lambda r: [_lin(r, 5, 6), Rect(), _lin(r, 6, 3)], (5,)),
    (lambda r: [_lin(r, 5, 6), Tanh(), _lin(r, 6, 3)], (5,)),
    (lambda r: [_conv(r, 3, 3, 1, 2), Rect(), Flatten(), _lin(r, 32, 3)], (6, 6, 1)),
    (lambda r: [Pad((1, 0, 2, 1), 0.5), _conv(r, 3, 3, 2, 3), Pad((1, 1, 1, 1)),
                _conv(r, 2, 2, 3, 2)], (5, 5, 2)),
], ids=["linear", "conv", "conv-stride", "sumpool", "sumpool-overlap", "maxpool",
        "maxpool-overlap", "rect", "tanh", "flatten", "pad"])
def test_layer_gradients_match_finite_differences(make, in_shape):
    layers = make(np.random.default_rng(3))
    assert _check_grads(layers, in_shape) >= 2


def test_small_lenet_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    model = build_model("conv:3x3x3,rect,sumpool:2,conv:2x2x4,tanh,maxpool:2,flatten,linear:3",
                        rng, raw_shape=(8, 8, 1), pad=1)
    layers = trainable_layers(model)
    for ly in layers:  # non-zero biases, so bias gradients are tested too
        if ly.weighted:
            ly.B = rng.normal(size=ly.B.shape)
    assert _check_grads(layers, model.input_spec.shape, seed=1) == 6


def test_pad_token_builds_same_convolutions():
    model = build_model("pad:1,conv:3x3x4,rect,pad:1,conv:3x3x2,flatten,linear:3",
                        np.random.default_rng(0), raw_shape=(8, 8, 1), pad=0)
    assert model.shapes()[:2] == [(10, 10, 1), (8, 8, 4)]  # each layer's output
    assert [ly.kind for ly in model.layers].count("Pad") == 2
    assert model.input_spec.shape == (8, 8, 1)  # the convolutional input convention


def test_fused_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 5))
    y = np.array([0, 3, 4, 1])
    loss, grad, correct = softmax_cross_entropy(z, y, np)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(4), y]).mean(), rel=1e-12)
    num = _numeric(lambda: softmax_cross_entropy(z, y, np)[0], z)
    assert _rel_err(grad, num) < 1e-6
    assert correct == int((z.argmax(1) == y).sum())
    big = softmax_cross_entropy(z * 1e4, y, np)  # no overflow for huge logits
    assert np.isfinite(big[0]) and np.all(np.isfinite(big[1]))


def test_inner_softmax_is_refused():
    model = build_model("linear:4,softmax", np.random.default_rng(0), raw_shape=(3,))
    model.layers.insert(0, model.layers[-1])
    with pytest.raises(ShapeError, match="SoftMax"):
        trainable_layers(model)


# --------------------------------------------------------------------------------------------
# architectures and data
# --------------------------------------------------------------------------------------------


def test_lenet5_has_the_toolbox_shape():
    model = build_model("lenet5", np.random.default_rng(0))
    kinds = [ly.kind for ly in model.layers]
    assert kinds == ["Convolution", "Rect", "SumPool", "Convolution", "Rect", "SumPool",
                     "Convolution", "Rect", "SumPool", "Convolution", "Flatten"]
    filters = [ly.W.shape for ly in model.layers if ly.weighted]
    assert filters == [(5, 5, 1, 10), (5, 5, 10, 25), (4, 4, 25, 100), (1, 1, 100, 10)]
    spec = model.input_spec
    assert (spec.shape, spec.pad, spec.pad_value, spec.divide, spec.offset) == \
        ((32, 32, 1), 2, -1.0, 127.5, -1.0)
    maxnet = build_model("maxnet", np.random.default_rng(0))
    assert [ly.kind for ly in maxnet.layers].count("MaxPool") == 3


def test_lenet5_matches_the_toolbox_file(lenet):
    ours = build_model("lenet5", np.random.default_rng(0))
    assert [ly.describe() for ly in ours.layers] == [ly.describe() for ly in lenet.layers]


def test_dense_architectures():
    for name in ("long-rect", "long-tanh", "short-rect", "short-tanh"):
        model = build_model(name, np.random.default_rng(0))
        assert model.input_spec.shape == (784,)
        assert model.layers[-1].kind == "SoftMax" and model.n_classes == 10
    assert build_model("long-rect", np.random.default_rng(0)).param_count() == \
        784 * 1296 + 1296 + 2 * (1296 * 1296 + 1296) + 1296 * 10 + 10
    assert set(ARCHITECTURES) >= {"long-rect", "long-tanh", "short-rect", "short-tanh",
                                  "lenet5", "maxnet"}


@pytest.mark.parametrize("text, where", [
    ("", "empty"), ("conv:5x5", "conv:HxWxN"), ("linear:0", "linear:N"),
    ("rect:2", "no argument"), ("pool:2", "unknown"), ("softmax,linear:3", "last"),
    ("sumpool:2/x", "sumpool:P"),
])
def test_bad_layer_specs_are_refused(text, where):
    with pytest.raises(ShapeError, match=where):
        parse_layers(text)


def test_layer_spec_shape_errors_name_the_token():
    with pytest.raises(ShapeError, match="token 3 'linear:10'"):
        build_model("conv:5x5x4,rect,linear:10", np.random.default_rng(0))
    with pytest.raises(ShapeError, match="token 1"):
        build_model("conv:40x40x4,flatten,linear:10", np.random.default_rng(0))
    tokens = parse_layers("Conv:5x5x10/2, relu, sumpool:3x2/1, flatten, linear:7")
    assert [(t.kind, t.args) for t in tokens] == [
        ("conv", (5, 5, 10, 2)), ("rect", ()), ("sumpool", (3, 2, 1)), ("flatten", ()),
        ("linear", (7,))]


def test_random_shift_moves_content_and_is_seeded():
    img = np.zeros((1, 10, 10, 1), np.uint8)
    img[0, 4, 5, 0] = 200
    imgs = np.repeat(img.reshape(1, -1), 50, axis=0)
    out = random_shift(imgs, (10, 10, 1), 2, np.random.default_rng(1))
    assert out.dtype == np.uint8 and out.shape == imgs.shape
    pos = np.argwhere(out.reshape(50, 10, 10) == 200)
    assert len(pos) == 50  # the pixel survives every shift of ≤ 2 (it is 4 away from borders)
    dy, dx = pos[:, 1] - 4, pos[:, 2] - 5
    assert np.abs(dy).max() <= 2 and np.abs(dx).max() <= 2
    assert len(set(zip(dy, dx, strict=True))) > 10
    again = random_shift(imgs, (10, 10, 1), 2, np.random.default_rng(1))
    assert np.array_equal(out, again)
    assert random_shift(imgs, (10, 10, 1), 0, np.random.default_rng(1)) is imgs


def test_split_and_bad_data():
    data = make_data(np.zeros((10, 4), np.uint8), np.arange(10) % 2, "toy")
    tr, va = split(data, 0.3, np.random.default_rng(0))
    assert len(tr) == 7 and len(va) == 3
    assert sorted(np.concatenate([tr.labels, va.labels]).tolist()) == sorted(data.labels.tolist())
    with pytest.raises(DatasetError, match="between 0 and 1"):
        split(data, 1.5, np.random.default_rng(0))
    with pytest.raises(DatasetError, match="toy"):
        make_data(np.zeros((10, 4)), np.arange(9), "toy")
    with pytest.raises(DatasetError, match="whole numbers"):
        make_data(np.zeros((3, 4)), np.array([0.5, 1, 2]), "toy")
    with pytest.raises(DatasetError, match="NaN"):
        make_data(np.full((3, 4), np.nan), np.array([0, 1, 2]), "toy")


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------


def _toy_data(n=240, seed=0):
    """Three classes of 8×8 images: a bright bar in the top, middle or bottom rows."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    imgs = rng.integers(0, 60, size=(n, 8, 8, 1))
    for i, c in enumerate(labels):
        imgs[i, 1 + 2 * c:3 + 2 * c, 1:7, 0] = 250
    return make_data(imgs.astype(np.uint8), labels, "toy")


TINY = "conv:3x3x4,rect,sumpool:2,flatten,linear:3"


def _cfg(**kw):
    base = {"layers": TINY, "epochs": 3, "batch_size": 16, "seed": 7, "dtype": "float64",
            "pad": 1, "lr": 0.01}
    base.update(kw)
    return TrainConfig(**base)


def _weights(model):
    return [ly.W.copy() for ly in model.layers if ly.weighted]


def test_loss_falls_and_the_model_is_saved(tmp_path):
    data, lines = _toy_data(), []
    out = tmp_path / "tiny.npz"
    res = train(_cfg(), data, out, test=_toy_data(90, seed=1), backend="numpy",
                command="lrp train (test)", log=lines.append)
    assert len(lines) == 3 and "loss" in lines[0] and "test acc" in lines[0]
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]
    model = lrpcore.load_model(out)
    assert all(ly.W.dtype == np.float32 for ly in model.layers if ly.weighted)
    prov = model.meta["provenance"]
    assert prov["command"] == "lrp train (test)" and prov["seed"] == 7
    assert prov["epochs_trained"] == 3 and "numpy" in prov["software"] and prov["date"]
    acc = model.meta["accuracy"]
    assert acc == accuracy_of(model, _toy_data(90, seed=1), "numpy")
    assert acc["top1"] > 0.9
    assert model.class_names == ["0", "1", "2"]
    assert (tmp_path / "tiny.ckpt.npz").exists() and checkpoint_path(out).endswith(".ckpt.npz")


def test_sgd_also_learns(tmp_path):
    res = train(_cfg(optimizer="sgd", lr=0.05, weight_decay=1e-4, schedule="step"),
                _toy_data(), tmp_path / "sgd.npz", backend="numpy", log=lambda s: None)
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]


def test_seeded_runs_are_identical(tmp_path):
    kw = {"backend": "numpy", "log": lambda s: None}
    a = train(_cfg(augment_shift=1, epochs=2), _toy_data(), tmp_path / "a.npz", **kw)
    b = train(_cfg(augment_shift=1, epochs=2), _toy_data(), tmp_path / "b.npz", **kw)
    c = train(_cfg(augment_shift=1, epochs=2, seed=8), _toy_data(), tmp_path / "c.npz", **kw)
    for wa, wb, wc in zip(_weights(a.model), _weights(b.model), _weights(c.model), strict=True):
        assert np.array_equal(wa, wb)
        assert not np.array_equal(wa, wc)


def test_resume_continues_exactly(tmp_path):
    kw = {"backend": "numpy", "log": lambda s: None}
    full = train(_cfg(augment_shift=1, epochs=3), _toy_data(), tmp_path / "full.npz", **kw)
    part_out, seen = tmp_path / "part.npz", []

    def stop_in_epoch_two(line):
        seen.append(line)
        if len(seen) == 2:
            raise KeyboardInterrupt

    # Ctrl-C during epoch 2, then resume: the same schedule, data order and augmentation
    part = train(_cfg(augment_shift=1, epochs=3), _toy_data(), part_out, backend="numpy",
                 log=stop_in_epoch_two)
    assert part.interrupted
    with pytest.raises(LRPError, match="batch_size"):
        train(_cfg(augment_shift=1, epochs=3, batch_size=8), _toy_data(), part_out,
              resume=checkpoint_path(part_out), **kw)
    resumed = train(_cfg(augment_shift=1, epochs=3), _toy_data(), part_out,
                    resume=checkpoint_path(part_out), **kw)
    assert len(resumed.history) == 3
    for wa, wb in zip(_weights(full.model), _weights(resumed.model), strict=True):
        assert np.array_equal(wa, wb)


def test_interrupt_keeps_the_last_checkpoint(tmp_path):
    out, seen = tmp_path / "int.npz", []

    def log(line):
        seen.append(line)
        if len(seen) == 2:
            raise KeyboardInterrupt

    res = train(_cfg(epochs=4), _toy_data(), out, backend="numpy", log=log)
    assert res.interrupted and res.saved_epoch == 1
    assert "resume with --resume" in seen[-1]
    assert lrpcore.load_model(out).meta["provenance"]["epochs_trained"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_validation_split_keeps_the_best_epoch(tmp_path):
    res = train(_cfg(val_split=0.25, epochs=3), _toy_data(), tmp_path / "v.npz",
                backend="numpy", log=lambda s: None)
    vals = [h["val"] for h in res.history]
    assert res.saved_epoch == 1 + int(np.argmax(vals))
    assert lrpcore.load_model(tmp_path / "v.npz").meta["validation"]["top1"] == max(vals)


def test_bad_settings_and_files(tmp_path):
    kw = {"backend": "numpy", "log": lambda s: None}
    with pytest.raises(LRPError, match="label 5"):
        train(_cfg(), make_data(np.zeros((4, 64), np.uint8), [0, 1, 2, 5], "toy"),
              tmp_path / "x.npz", **kw)
    with pytest.raises(LRPError, match="unknown architecture"):
        train(TrainConfig(arch="resnet"), _toy_data(), tmp_path / "x.npz", **kw)
    with pytest.raises(LRPError, match="native format"):
        train(_cfg(), _toy_data(), tmp_path / "x.txt", **kw)
    (tmp_path / "exists.npz").write_bytes(b"x")
    with pytest.raises(LRPError, match="file exists"):
        train(_cfg(), _toy_data(), tmp_path / "exists.npz", **kw)
    bad = tmp_path / "bad.ckpt.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelFormatError, match="bad.ckpt.npz"):
        train(_cfg(), _toy_data(), tmp_path / "y.npz", resume=bad, **kw)


def test_optimizers_and_schedules():
    p = [{"W": np.ones((2, 2)), "B": np.ones(2)}]
    opt = Adam(p, lr=0.1, weight_decay=0.5)
    opt.step([{"W": np.zeros((2, 2)), "B": np.zeros(2)}])
    assert np.allclose(p[0]["W"], 1 - 0.1 * 0.5) and np.allclose(p[0]["B"], 1)  # decoupled
    with pytest.raises(LRPError, match="unknown optimizer"):
        make_optimizer("lbfgs", p)
    assert scheduled_lr(1.0, "cosine", 0, 100) == 1.0
    assert scheduled_lr(1.0, "cosine", 50, 100) == pytest.approx(0.5)
    assert scheduled_lr(1.0, "step", 80, 100) == pytest.approx(0.01)


@pytest.mark.skipif(not gpu_available(), reason="needs cupy and a GPU")
def test_cupy_training_matches_numpy(tmp_path):
    kw = {"log": lambda s: None}
    a = train(_cfg(epochs=1), _toy_data(), tmp_path / "a.npz", backend="numpy", **kw)
    b = train(_cfg(epochs=1), _toy_data(), tmp_path / "b.npz", backend="cupy", **kw)
    for wa, wb in zip(_weights(a.model), _weights(b.model), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def test_lrp_train_command(tmp_path, capsys):
    from lrpcore.cli.main import main

    data = _toy_data()
    np.savez(tmp_path / "toy.npz", images=data.images.reshape(-1, 8, 8, 1), labels=data.labels)
    test = _toy_data(60, seed=2)
    np.save(tmp_path / "tx.npy", test.images)
    np.save(tmp_path / "ty.npy", test.labels)
    out = tmp_path / "m.npz"
    argv = ["train", "--layers", TINY, "--dataset", str(tmp_path / "toy.npz"), "--epochs", "2",
            "--pad", "1", "--lr", "0.01", "--seed", "3", "--out", str(out),
            "--test-set", str(tmp_path / "tx.npy"), "--test-labels", str(tmp_path / "ty.npy")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "epoch   2/2" in text and "test accuracy" in text
    model = lrpcore.load_model(out)
    cmd = model.meta["provenance"]["command"]
    assert cmd.startswith("lrp train --layers") and "--seed 3" in cmd and "--pad 1" in cmd
    json.dumps(model.meta)  # metadata is plain JSON
    assert main(argv) == 2  # refuses to overwrite
    assert "file exists" in capsys.readouterr().err
    assert main(argv[:-4] + ["--test-set", str(tmp_path / "tx.npy")]) == 2
    # a test set that carries its labels (a built-in name such as mnist-test, an .npz, IDX)
    # needs no --test-labels
    np.savez(tmp_path / "test.npz", images=test.images, labels=test.labels)
    capsys.readouterr()
    assert main(argv[:-6] + ["--out", str(tmp_path / "m2.npz"),
                             "--test-set", str(tmp_path / "test.npz")]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["train", "--arch", "lenet5", "--dataset", str(tmp_path / "nope.npy"),
                 "--epochs", "1", "--out", str(tmp_path / "n.npz")]) == 2
    assert "nope.npy" in capsys.readouterr().err


def test_shared_test_images_train_a_dense_net_quickly(tmp_path):
    """A real-data smoke test: 1,000 MNIST digits, three epochs of a small MLP."""
    images = np.load(shared_path("data", "mnist_test_images.npy"))[:1000]
    labels = np.load(shared_path("data", "mnist_test_labels.npy"))[:1000]
    data = make_data(images, labels, "mnist-test[:1000]")
    res = train(TrainConfig(layers="linear:32,rect,linear:10,softmax", epochs=3, seed=0,
                            lr=0.005),
                data, tmp_path / "d.npz", backend="numpy", log=lambda s: None)
    assert res.history[-1]["train_acc"] > 0.6


def test_lrp_train_resume_and_validation_split(tmp_path, capsys):
    from lrpcore.cli.main import main

    data = _toy_data()
    np.savez(tmp_path / "toy.npz", images=data.images.reshape(-1, 8, 8, 1), labels=data.labels)
    out = tmp_path / "v.npz"
    base = ["train", "--layers", TINY, "--dataset", str(tmp_path / "toy.npz"), "--pad", "1",
            "--lr", "0.01", "--val-split", "0.2", "--out", str(out)]
    assert main(base + ["--epochs", "1"]) == 0
    first = capsys.readouterr().out
    assert "val acc" in first and "epoch   1/1" in first
    assert main(base + ["--epochs", "2", "--resume", checkpoint_path(out)]) == 0
    second = capsys.readouterr().out
    assert "epoch   2/2" in second and "epoch   1/2" not in second
    assert lrpcore.load_model(out).meta["validation"]["n"] == 48
    assert main(base + ["--epochs", "2", "--resume", checkpoint_path(out)]) == 2
    assert "already has 2 epochs" in capsys.readouterr().err


def test_an_earlier_runs_checkpoint_is_never_replaced_silently(tmp_path):
    """lrp train --out m.npz used to overwrite another run's m.ckpt.npz without a word."""
    out = tmp_path / "m.npz"
    ckpt = tmp_path / os.path.basename(checkpoint_path(out))
    ckpt.write_bytes(b"another run's state")
    with pytest.raises(LRPError, match="checkpoint of an earlier run"):
        train(_cfg(epochs=1), _toy_data(), out, log=lambda s: None)
    assert ckpt.read_bytes() == b"another run's state" and not out.exists()
    train(_cfg(epochs=1), _toy_data(), out, overwrite=True, log=lambda s: None)
    assert out.exists()
