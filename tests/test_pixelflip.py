"""Pixel-flipping / region perturbation (Samek et al., 2017) and the ``lrp evaluate`` command."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
from conftest import shared_path
from skimage import io as skio

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import RuleError, ShapeError
from lrpcore.insight import Cancelled, evaluate_methods, flip_curves
from lrpcore.insight.pixelflip import baseline_value, unit_grid, unit_ranks, unit_relevance
from lrpcore.layers import Convolution, Flatten, Linear, Rect
from lrpcore.model import Sequential
from lrpcore.spec import InputSpec

M = 40  # inputs of the linear model


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def linear_model(rng, k=3):
    """One Linear layer without bias: the simple/ε relevance x_i·w_ic is the exact
    contribution of input i to output c."""
    return Sequential([Linear(rng.normal(size=(M, k)), np.zeros(k))],
                      InputSpec(shape=(M,), raw_shape=(M,), layout="flat"))


def small_cnn(rng):
    layers = [Convolution(rng.normal(0, 0.5, (3, 3, 1, 4)), rng.normal(0, 0.1, 4)), Rect(),
              Flatten(), Linear(rng.normal(0, 0.3, (4 * 4 * 4, 3)), np.zeros(3))]
    return Sequential(layers, InputSpec(shape=(6, 6, 1), raw_shape=(2, 2, 1), pad=2,
                                        pad_value=-1.0))


def test_linear_model_decreasing_relevance_is_the_best_order(rng):
    model = linear_model(rng)
    x = rng.uniform(-1, 1, (6, M))
    cls = 1
    contrib = x * model.layers[0].W[:, cls]  # exact contributions, computed independently
    R = lrpcore.explain(model, x, rule="simple", target=cls, raw=True)
    np.testing.assert_allclose(R, contrib, atol=1e-12)
    steps = M
    best = flip_curves(model, x, R, cls, steps=steps)
    rand = flip_curves(model, x, R, cls, steps=steps, order="random", seed=3)
    least = flip_curves(model, x, R, cls, steps=steps, order="least")
    f0 = x @ model.layers[0].W[:, cls]
    # flipping to zero removes contributions, largest first
    desc = -np.sort(-contrib, axis=1)
    expected = f0[:, None] - np.concatenate([np.zeros((6, 1)), np.cumsum(desc, axis=1)], axis=1)
    np.testing.assert_allclose(best.outputs, expected, atol=1e-10)
    # non-increasing as long as the flipped relevance is positive
    n_pos = (contrib > 0).sum(axis=1)
    assert n_pos.min() >= 5
    for n in range(6):
        assert np.all(np.diff(best.outputs[n, :n_pos[n] + 1]) <= 1e-12)
    assert best.aopc >= rand.aopc and best.aopc >= least.aopc
    assert best.aopc > least.aopc + 1e-6  # the orders really differ
    # AOPC = 1/(L+1) Σ_k (f(x) − f(x_k)), Samek et al. (2017)
    assert best.aopc == pytest.approx(np.mean(f0[:, None] - expected))
    assert best.running_aopc()[-1] == pytest.approx(best.aopc)


def test_evaluate_methods_on_linear_model_ranks_lrp_above_random(rng):
    model = linear_model(rng)
    x = rng.uniform(-1, 1, (8, M))
    res = evaluate_methods(model, x, ["simple", "epsilon:0.01"], raw=True, steps=15,
                           per_step=1, batch_size=7, explain_batch=3)
    assert [r.label for r in res] == ["simple", "epsilon:0.01", "random"]
    assert res[0].aopc > res[2].aopc
    pred = (x @ model.layers[0].W).argmax(axis=1)
    np.testing.assert_allclose(res[0].outputs[:, 0], (x @ model.layers[0].W)[np.arange(8), pred])
    assert res[0].outputs.shape == (8, 16)


def test_results_do_not_depend_on_batch_size(rng):
    model = small_cnn(rng)
    x = rng.uniform(-1, 1, (5, 6, 6, 1))
    R = rng.normal(size=(5, 6, 6, 1))
    kw = dict(steps=12, baseline="noise", order="random", seed=5)
    a = flip_curves(model, x, R, 0, batch_size=4, **kw)
    b = flip_curves(model, x, R, 0, batch_size=500, **kw)
    np.testing.assert_allclose(a.outputs, b.outputs, rtol=1e-12, atol=1e-12)
    c = flip_curves(model, x, R, 0, batch_size=4, **{**kw, "seed": 6})
    assert not np.allclose(a.outputs, c.outputs)


def test_unit_grid_patches_and_raw_region():
    spec = InputSpec(shape=(32, 32, 1), raw_shape=(28, 28, 1), pad=2)
    full = unit_grid(spec, (32, 32, 1), 1, "input")
    assert full.n_units == 32 * 32
    raw = unit_grid(spec, (32, 32, 1), 1, "raw")
    assert raw.n_units == 28 * 28
    pix = raw.unit_of_pixel.reshape(32, 32)
    assert np.all(pix[:2] == -1) and np.all(pix[:, -2:] == -1) and pix[2, 2] == 0
    p4 = unit_grid(spec, (32, 32, 1), 4, "raw")
    assert p4.n_units == 49
    assert np.bincount(p4.unit_of_pixel[p4.unit_of_pixel >= 0]).tolist() == [16] * 49
    p3 = unit_grid(spec, (32, 32, 1), 3, "input")  # 32 = 10·3 + 2: edge patches are smaller
    assert p3.n_units == 11 * 11
    with pytest.raises(ShapeError):
        unit_grid(spec, (32, 32, 1), 0)
    with pytest.raises(ShapeError):
        unit_grid(spec, (32, 32, 1), 1, "everywhere")


def test_unit_relevance_sums_patches_and_channels(rng):
    spec = InputSpec(shape=(4, 4, 2), raw_shape=(4, 4, 2))
    grid = unit_grid(spec, (4, 4, 2), 2)
    R = rng.normal(size=(3, 4, 4, 2))
    u = unit_relevance(R, grid)
    for n in range(3):
        expected = [R[n, r:r + 2, c:c + 2].sum() for r in (0, 2) for c in (0, 2)]
        np.testing.assert_allclose(u[n], expected)
    ranks = unit_ranks(u, "relevance")
    assert np.all(np.take_along_axis(u, np.argsort(ranks, axis=1), 1)[:, 0] == u.max(axis=1))
    with pytest.raises(ShapeError, match="NaN"):
        unit_relevance(np.full((1, 4, 4, 2), np.nan), grid)
    with pytest.raises(ShapeError):
        unit_relevance(np.zeros((1, 5, 5)), grid)


def test_patches_flip_whole_patches_in_the_raw_area(rng):
    model = small_cnn(rng)  # 2×2 image padded by 2 to 6×6
    x = model.input_spec.preprocess(rng.integers(0, 256, (3, 2, 2, 1)))
    R = np.zeros((3, 6, 6, 1))
    res = flip_curves(model, x, R, 2, steps=10, region="raw", baseline="background")
    assert res.flipped.tolist() == [0, 1, 2, 3, 4]  # only 4 raw pixels exist
    blank = np.full((1, 6, 6, 1), -1.0)  # background = the model's value of a 0 pixel
    out = lrpcore.predict(model, blank, raw=True)[0, 2]
    np.testing.assert_allclose(res.outputs[:, -1], out)


def test_baseline_values():
    spec = InputSpec(shape=(32, 32, 1), raw_shape=(28, 28, 1), pad=2, divide=127.5,
                     offset=-1.0, value_range=(-1.0, 1.0))
    assert baseline_value(spec, "zero") == 0.0
    assert baseline_value(spec, "background") == -1.0
    assert baseline_value(spec, "noise") == (-1.0, 1.0)
    with pytest.raises(ShapeError, match="baseline"):
        baseline_value(spec, "blur")


def test_bad_arguments_raise_project_errors(rng):
    model = linear_model(rng)
    x = rng.uniform(-1, 1, (4, M))
    R = rng.normal(size=(4, M))
    with pytest.raises(ShapeError, match="targets"):
        flip_curves(model, x, R, [0, 1], steps=3)
    with pytest.raises(ShapeError, match="out of range"):
        flip_curves(model, x, R, 7, steps=3)
    with pytest.raises(ShapeError, match="steps"):
        flip_curves(model, x, R, 0, steps=0)
    with pytest.raises(ShapeError):
        flip_curves(model, x[:, :5], R, 0)
    with pytest.raises(ShapeError, match="relevance"):
        flip_curves(model, x, None, 0)
    with pytest.raises(ShapeError, match="NaN"):
        flip_curves(model, np.where(x > 0.9, np.nan, x), R, 0)
    with pytest.raises(ShapeError, match="integers"):
        flip_curves(model, x, R, 0.5)
    with pytest.raises(ShapeError, match="one class"):
        evaluate_methods(model, x, ["simple"], raw=True, target="output")
    with pytest.raises(RuleError):
        evaluate_methods(model, x, ["nonsense:3"], raw=True)
    with pytest.raises(ShapeError, match="NaN"):
        evaluate_methods(model, np.full((2, M), np.nan), ["simple"], raw=True)


def test_progress_and_cancel(rng):
    model = linear_model(rng)
    x = rng.uniform(-1, 1, (6, M))
    seen = []
    evaluate_methods(model, x, ["simple"], raw=True, steps=5, per_step=1, batch_size=4,
                     progress=lambda d, t: seen.append((d, t)))
    total = seen[-1][1]
    assert seen[-1][0] == total == 6 + 2 * 6 * 6
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:], strict=False))
    calls = iter(range(100))
    with pytest.raises(Cancelled):
        evaluate_methods(model, x, ["simple"], raw=True, steps=5, batch_size=4,
                         cancel=lambda: next(calls) >= 3)


def test_lenet_lrp_beats_random(lenet):
    images = np.load(shared_path("data", "mnist_test_images.npy"), mmap_mode="r")[:12]
    res = evaluate_methods(lenet, np.array(images), ["epsilon:0.01", "sensitivity"],
                           steps=20, region="raw", dtype="float32")
    eps, sens, rand = res
    assert eps.aopc > rand.aopc and sens.aopc > rand.aopc
    assert eps.outputs.shape == (12, 21)


def test_benchmark_lenet_pixel_flipping(lenet, benchmark):
    """Prints rows per second; pytest-benchmark measures it when enabled (no timing assert)."""
    images = np.array(np.load(shared_path("data", "mnist_test_images.npy"),
                              mmap_mode="r")[:20])

    def run():
        return evaluate_methods(lenet, images, ["epsilon:0.01"], random=False, steps=100,
                                per_step=1, dtype="float32", batch_size=256)

    start = time.perf_counter()
    res = benchmark.pedantic(run, rounds=1, iterations=1)
    rows = res[0].outputs.size
    print(f"pixel-flipping LeNet-5: {rows} perturbed inputs in "
          f"{time.perf_counter() - start:.2f} s")
    assert res[0].outputs.shape == (20, 101)


# -- lrp evaluate --------------------------------------------------------------------------


@pytest.fixture
def mnist_small(tmp_path):
    images = np.load(shared_path("data", "mnist_test_images.npy"), mmap_mode="r")[:6]
    labels = np.load(shared_path("data", "mnist_test_labels.npy"))[:6]
    xi, yl = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(xi, np.array(images))
    np.save(yl, labels)
    return xi, yl


def test_cli_evaluate_writes_csv_and_plot(lenet_txt, mnist_small, tmp_path, capsys):
    xi, yl = mnist_small
    out_csv, out_png = tmp_path / "flip.csv", tmp_path / "flip.png"
    rc = main(["evaluate", str(lenet_txt), str(xi), "--labels", str(yl), "--target", "true",
               "--rule", "epsilon:0.01", "--rule", "alphabeta:2", "--random", "--steps", "8",
               "--per-step", "1", "--patch", "2", "--region", "raw", "--baseline", "noise",
               "--csv", str(out_csv),
               "--plot", str(out_png)])
    assert rc == 0
    captured = capsys.readouterr()
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 9
    assert {r["rule"] for r in rows} == {"epsilon:0.01", "alphabeta:2", "random"}
    last = {r["rule"]: float(r["aopc"]) for r in rows if r["step"] == "8"}
    for rule, value in last.items():
        assert rule in captured.out and f"{value:.6g}" in captured.out
    assert [int(r["flipped"]) for r in rows[:9]] == list(range(9))
    assert "100%" not in captured.err  # stderr is no terminal here: no progress bar
    img = skio.imread(out_png)
    assert img.ndim == 3 and img.shape[2] in (3, 4) and img.shape[0] > 300
    colours = {tuple(c) for c in img[..., :3].reshape(-1, 3)[::7]}
    assert len(colours) > 10  # lines, legend squares and text, not a blank canvas


def test_cli_evaluate_errors(lenet_txt, mnist_small, tmp_path, capsys):
    xi, _ = mnist_small
    out_csv = tmp_path / "flip.csv"
    out_csv.write_text("keep me")
    rc = main(["evaluate", str(lenet_txt), str(xi), "--rule", "simple", "--csv", str(out_csv)])
    assert rc == 2 and out_csv.read_text() == "keep me"
    assert "exists" in capsys.readouterr().err
    rc = main(["evaluate", str(lenet_txt), str(tmp_path / "missing.npy"), "--rule", "simple",
               "--csv", str(tmp_path / "new.csv")])
    assert rc == 2 and not (tmp_path / "new.csv").exists()
    rc = main(["evaluate", str(lenet_txt), str(xi), "--rule", "bogus", "--csv",
               str(tmp_path / "new.csv")])
    assert rc == 2 and not (tmp_path / "new.csv").exists()
    bare = tmp_path / "digits.npy"  # x.npy reads y.npy beside it as its labels
    bare.write_bytes(xi.read_bytes())
    rc = main(["evaluate", str(lenet_txt), str(bare), "--target", "true", "--rule", "simple",
               "--csv", str(tmp_path / "new.csv")])
    assert rc == 2 and "labels" in capsys.readouterr().err


def test_cli_evaluate_without_a_rule_evaluates_the_models_rule(tmp_path, capsys):
    """``lrp evaluate MODEL DATA --csv f.csv`` flipped in random order only: "AOPC per rule"
    of no rule. Without --rule it takes the model's rule, as ``lrp explain`` does."""
    import lrpcore

    np.save(tmp_path / "x.npy", lrpcore.open_dataset("mnist-test").images(slice(0, 3)))
    rc = main(["evaluate", "mnist-lenet5", str(tmp_path / "x.npy"), "--steps", "2",
               "--no-random", "--csv", str(tmp_path / "f.csv")])
    out = capsys.readouterr().out
    assert rc == 0 and "1 curve in" in out
    want = lrpcore.default_settings(lrpcore.load_model("mnist-lenet5"))
    rows = (tmp_path / "f.csv").read_text().splitlines()[1:]
    assert {r.split(",")[0].strip('"') for r in rows} == {"simple"} != {want["rule"]}


def test_cli_and_gui_panel_start_from_the_same_pixelflip_settings():
    """Before: 'lrp evaluate' flipped 100 × 1 pixels anywhere with zeros and no random
    reference, the panel 50 × 16 inside the image with the background and random order."""
    from lrpcore.cli.main import build_parser
    from lrpcore.insight.pixelflip import DEFAULTS
    from lrpgui.insight.worker_tasks import FlipSettings

    args = build_parser().parse_args(["evaluate", "m.npz", "x.npy", "--csv", "f.csv"])
    panel = FlipSettings(methods=())
    for name, value in DEFAULTS.items():
        if name == "patch":  # both take default_patch(model) (test_photographs_start_with_...)
            assert args.patch is None and panel.patch == value
            continue
        assert getattr(args, name) == value == getattr(panel, name), name


def test_evaluate_progress_bar_only_on_a_terminal(monkeypatch):
    import io

    from lrpcore.cli.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(10, "evaluating", stream=stream)
        bar(10, 10)
    assert "100%" in tty.getvalue() and pipe.getvalue() == ""


def test_photographs_start_with_patches_that_cover_the_image(tmp_path, capsys):
    """Single pixels, 50 steps of 16, flipped 1.6 % of a 224×224 photograph: ``lrp evaluate``
    and the GUI panel start with side // 28 patches there (pixels for digits)."""
    from colour_models import colour_graph_model

    from lrpcore.insight.pixelflip import default_patch

    assert default_patch(InputSpec(shape=(3, 224, 224), raw_shape=(224, 224, 3),
                                   layout="NCHW")) == 8
    assert default_patch(lrpcore.load_model("mnist-lenet5").input_spec) == 1
    model = colour_graph_model(side=56)
    assert default_patch(model.input_spec) == 2
    x = np.random.default_rng(0).integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)
    res = evaluate_methods(model, x, ["epsilon:0.01"], steps=4, per_step=16, patch=None,
                           random=False)
    assert res[0].unit == 2
    path = tmp_path / "m.npz"
    lrpcore.save_model(model, path)
    np.save(tmp_path / "x.npy", x)
    assert main(["evaluate", str(path), str(tmp_path / "x.npy"), "--rule", "epsilon:0.01",
                 "--steps", "3", "--quiet", "--csv", str(tmp_path / "f.csv")]) == 0
    assert "of 16 2×2 patches" in capsys.readouterr().out
