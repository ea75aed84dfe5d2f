"""A fresh new-user review (stop 20): messages that named the wrong problem first, and render
and figure outputs checked only when written."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import ShapeError
from lrpcore.io.completeness import class_count_hint

ZOO = Path(__file__).parent / "data" / "zoo"
KERAS = ZOO / "keras_tf2onnx.onnx"  # 16×16×3, channels last, 5 outputs
SEQUENCE = ZOO / "keras_seq_tf2onnx.onnx"  # 32×4, a sequence of 4 channels


@pytest.fixture
def labelled_digits(tmp_path):
    """28×28 digits with labels 0…9, as mnist-test (which fits neither Keras model)."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "d_images.npy", rng.integers(0, 256, (10, 28, 28, 1), dtype=np.uint8))
    np.save(tmp_path / "d_labels.npy", np.arange(10))
    return tmp_path / "d_images.npy"


def test_samples_that_do_not_fit_are_named_before_their_labels(labelled_digits):
    """Digits offered to a 16×16×3 model of 5 classes: the explorer's question said "label 7
    of sample 0 is out of range", not that 28×28×1 samples cannot feed the model at all."""
    pytest.importorskip("onnx")
    model = lrpcore.load_model(KERAS)
    with pytest.raises(ShapeError, match=r"28×28×1 .* raw 16×16×3"):
        lrpcore.check_fits(model, lrpcore.open_dataset(labelled_digits))


def test_a_graph_model_is_not_asked_whether_it_is_a_cut_toolbox_file():
    """An ONNX model of 5 outputs on MNIST's ten classes is a model of another task; an ONNX
    file cannot load cut short, so the toolbox .txt sentence does not belong there."""
    pytest.importorskip("onnx")
    hint = class_count_hint(lrpcore.load_model(KERAS), lrpcore.open_dataset("mnist-sample"))
    assert "a model of another task" in hint and ".txt" not in hint and "cut" not in hint


@pytest.mark.parametrize("command", [["explain", "--out", "R.npy"],
                                     ["evaluate", "--csv", "flip.csv"]])
def test_samples_are_refused_before_warnings_about_them(tmp_path, capsys, command):
    """Photographs for a sequence model: the error alone, not first a warning that their
    values exceed the model's range and then that they do not fit."""
    pytest.importorskip("onnx")
    name, option, out = command
    assert main([name, str(SEQUENCE), "natural-images", option, str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert "do not fit the model" in err
    assert "warning" not in err
    assert not (tmp_path / out).exists()


@pytest.fixture
def relevance(tmp_path):
    R = np.random.default_rng(1).normal(size=(2, 28, 28, 1))
    np.save(tmp_path / "R.npy", R)
    return tmp_path / "R.npy"


@pytest.mark.parametrize("command", ["render", "figure"])
def test_render_and_figure_refuse_an_existing_output_in_the_commands_words(
        tmp_path, capsys, relevance, command):
    """The library's "pass overwrite=True / --overwrite" reached the command line."""
    out = tmp_path / "hm.png"
    out.write_bytes(b"kept")
    assert main([command, str(relevance), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "file exists (use --overwrite to replace it)" in err
    assert "overwrite=True" not in err
    assert out.read_bytes() == b"kept"


@pytest.mark.parametrize("command", ["render", "figure"])
def test_render_and_figure_never_replace_the_input_they_read(tmp_path, capsys, command):
    """``--input photo.png --out photo.png --overwrite`` replaced the photograph with its
    heatmap; an output that is a file the command reads is refused, as ``lrp explain`` does."""
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (28, 28), np.uint8)).save(photo)
    before = photo.read_bytes()
    R = tmp_path / "R.npy"
    np.save(R, np.random.default_rng(3).normal(size=(1, 28, 28, 1)))
    assert main([command, str(R), "--input", str(photo), "--out", str(photo),
                 "--overwrite"]) == 2
    assert "is also a file this command reads" in capsys.readouterr().err
    assert photo.read_bytes() == before


def test_the_close_dataset_question_keeps_its_sentences_apart(tmp_path):
    """A model of 5 classes for MNIST-shaped data: the refusal of the labels has no full
    stop, and the question read "… labels go up to 9 Close the dataset mnist-sample …"."""
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec
    from lrpgui.session import Session
    from lrpgui.state import AppState

    five = lrpcore.Sequential([Flatten(), Linear(np.full((784, 5), 0.1), np.zeros(5))],
                              InputSpec(shape=(28, 28, 1), raw_shape=(28, 28, 1)))
    path = tmp_path / "five.npz"
    lrpcore.save_model(five, path)
    session = Session(AppState(), cancel=lambda _kind: None)
    session.open_model(lrpcore.bundled.default_model_path())
    session.open_dataset("mnist-sample")
    asked = []
    session.open_model(path, close_unfitting=lambda *q: asked.append(q) or True)
    question = asked[0][1]
    assert "out of range" in question and "labels go up to 9. Close the dataset" in question


def test_render_and_figure_draw_a_channels_first_store_beside_its_inputs(tmp_path, capsys):
    """A relevance store of a PyTorch-layout model (N×C×H×W): its maps reached the input
    fitting as C×H×W, so ``--input`` failed ("inputs of 16×16 pixels do not fit the 3×16
    maps") and without it the input and its outline were silently left out."""
    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    from colour_models import colour_graph_model
    from local_store import explain_to_local_store
    from skimage import io as skio

    from lrpcore import distributed as dist

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), model)
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(4).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    source, _ = dist.open_source(str(x))
    store = tmp_path / "R.zarr"
    assert explain_to_local_store(model, source, store, "EpsilonPlus", 2).failed == []
    R = lrpcore.open_relevance_store(store).heatmaps(slice(None))
    assert R.shape == (3, 3, 16, 16)  # the model's layout
    np.save(tmp_path / "R.npy", R)
    for extra in ([], ["--input", str(x)]):
        assert main(["render", str(store), "--sample", "1", "--side-by-side", *extra,
                     "--out", str(tmp_path / "z.png"), "--overwrite"]) == 0
        assert main(["render", str(tmp_path / "R.npy"), "--input", str(x), "--sample", "1",
                     "--side-by-side", "--out", str(tmp_path / "n.png"), "--overwrite"]) == 0
        np.testing.assert_array_equal(skio.imread(tmp_path / "z.png"),
                                      skio.imread(tmp_path / "n.png"))
    assert main(["figure", str(store), "--colormap", "bwr", "--out",
                 str(tmp_path / "f.png")]) == 0
    assert main(["figure", str(tmp_path / "R.npy"), "--input", str(x), "--colormap", "bwr",
                 "--out", str(tmp_path / "g.png")]) == 0
    np.testing.assert_array_equal(skio.imread(tmp_path / "f.png"),
                                  skio.imread(tmp_path / "g.png"))


def test_spray_refuses_a_class_without_labels_before_saying_how_it_explains(tmp_path, capsys):
    """"… has no labels: each sample is explained for its predicted class" was printed, then
    "--class needs a dataset with labels": a note for a run that never happened."""
    np.save(tmp_path / "x.npy", np.zeros((20, 28, 28), dtype=np.uint8))
    assert main(["spray", "mnist-lenet5", str(tmp_path / "x.npy"), "--class", "3", "--out",
                 str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert "--class needs a dataset with labels" in err
    assert "explained for its predicted class" not in err


def test_render_draws_a_sequence_models_relevance_one_sample_at_a_time(tmp_path, capsys):
    """`lrp explain` of a Keras Conv1D net writes N×L×C relevance (C = 4 channels); `lrp
    render` read the five samples as one 5×32 picture of four channels, while `--png` draws
    each as its L×C map. Now render (its input found from the sidecar or given) draws what
    --png drew, and figure one row per sample."""
    pytest.importorskip("onnx")
    x = tmp_path / "seq.npy"
    np.save(x, np.random.default_rng(5).random((5, 32, 4)).astype(np.float32))
    R = tmp_path / "R.npy"
    assert main(["explain", str(SEQUENCE), str(x), "--out", str(R), "--png",
                 str(tmp_path / "png")]) == 0
    for extra in ([], ["--input", str(x)]):
        out = tmp_path / "r.png"
        assert main(["render", str(R), "--sample", "2", "--side-by-side", *extra, "--out",
                     str(out), "--overwrite"]) == 0
        assert out.read_bytes() == (tmp_path / "png" / "heatmap_2_bwr.png").read_bytes()
    assert main(["figure", str(R), "--colormap", "bwr", "--out", str(tmp_path / "f.png")]) == 0
    assert "5 samples × 1 colormap" in capsys.readouterr().out


def test_a_sweep_takes_per_layer_rules_named_by_glob_and_prints_their_order():
    """The sweep (Tools → Sweep parameters… with a rule typed into the per-layer table, or
    'conv*=…') sorted its per-layer rules, comparing a glob with a layer index: TypeError.
    The printed options keep their order, since a later --layer-rule wins."""
    from lrpcore.cli.cmd_explain import parse_layer_rules
    from lrpcore.explain import resolve_rules
    from lrpcore.insight.params import grid

    layers = lrpcore.Explainer(lrpcore.load_model("mnist-lenet5")).layers
    settings = grid(layers, "EpsilonGammaBox", layer_rules={"conv*": "zplus"})
    assert settings
    for s in settings:
        words = shlex.split(s.cli_args())
        rules = parse_layer_rules(words[3::2])
        assert resolve_rules(layers, s.rule, rules).rules == s.config(layers).rules


def test_a_cluster_run_applies_per_layer_rules_in_order_as_one_process_does(tmp_path):
    """`--layer-rule 0=flat --layer-rule 'conv*=zplus'` with --out R.zarr was an internal
    error (sorting an index with a glob); in order, the later rule wins on layer 0 as in the
    single-process run, and the store equals it."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    from lrpcore import distributed as dist
    from lrpcore.bundled import default_model_path

    x = tmp_path / "x.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(np.arange(6)))
    rules = {0: "flat", "conv*": "zplus"}
    source, _ = dist.open_source(str(x))
    store = tmp_path / "R.zarr"
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        args = {"model": str(default_model_path()), "backend": "numpy", "dtype": "float64",
                "rule": "epsilon:0.01", "layer_rules": rules, "target": "pred", "raw": False,
                "batch_size": 6, "source": source}
        assert dist.explain_to_store(args, store, client=client, progress=False).failed == []
    model = lrpcore.load_model(default_model_path())
    want = lrpcore.explain(model, np.load(x), rule="epsilon:0.01", layer_rules=rules)
    np.testing.assert_array_equal(lrpcore.open_relevance_store(store).heatmaps(slice(None)),
                                  want)
    assert not np.array_equal(want, lrpcore.explain(model, np.load(x), rule="epsilon:0.01",
                                                    layer_rules={"conv*": "zplus", 0: "flat"}))
