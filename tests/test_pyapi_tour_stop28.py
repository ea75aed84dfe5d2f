"""The Python library as a researcher coming from zennit or Captum uses it (stop 28): what a
script naturally passes is accepted, or refused in words naming the argument; mistakes the
commands warn of are warned of in Python too."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import lrpcore


@pytest.fixture(scope="module")
def lenet():
    return lrpcore.load_model("mnist-lenet5")


@pytest.fixture(scope="module")
def digits():
    return lrpcore.open_dataset("mnist-test").images(range(4))


# --- samples that do not look raw -------------------------------------------------------------

@pytest.mark.parametrize("call", ["explain", "predict", "Explainer.explain", "Explainer.forward"])
def test_torchvision_style_floats_in_0_1_warn_at_the_callers_line(lenet, digits, call):
    """ToTensor's 0…1 digits given to LeNet-5 (raw 0…255) were scaled a second time and
    explained silently from Python, while every command warns of them."""
    x01 = digits.astype(np.float32) / 255
    run = {"explain": lambda: lrpcore.explain(lenet, x01),
           "predict": lambda: lrpcore.predict(lenet, x01),
           "Explainer.explain": lambda: lrpcore.Explainer(lenet).explain(x01),
           "Explainer.forward": lambda: lrpcore.Explainer(lenet).forward(x01)}[call]
    with pytest.warns(lrpcore.RawValuesWarning, match=r"x: values in \[0, 1\].*raw=True") as rec:
        run()
    assert len(rec) == 1 and rec[0].filename == __file__  # the script's line, not lrpcore's
    assert "32×32×1 in [-1, 1]" in str(rec[0].message)  # what raw=True would have to be


def test_raw_pixels_and_raw_true_do_not_warn(lenet, digits):
    fed = lrpcore.Explainer(lenet).prepare(digits)  # in [-1, 1]: what the model is fed
    with warnings.catch_warnings():
        warnings.simplefilter("error", lrpcore.RawValuesWarning)
        lrpcore.explain(lenet, digits)
        lrpcore.explain(lenet, digits.astype(np.float64))  # floats of 0…255 are raw pixels
        lrpcore.explain(lenet, fed, raw=True)
        lrpcore.predict(lenet, fed, raw=True)


def test_lrp_train_reads_its_data_without_a_python_warning(digits):
    """The accuracy lrp train records goes through the internal path: a command words its
    own warnings."""
    from lrpcore.train.loop import accuracy_of

    class Data:
        images = digits.astype(np.float32) / 255
        labels = np.array([7, 2, 1, 0])
        name = "floats"

        def __len__(self):
            return 4

    with warnings.catch_warnings():
        warnings.simplefilter("error", lrpcore.RawValuesWarning)
        assert accuracy_of(lrpcore.load_model("mnist-lenet5"), Data())["n"] == 4


# --- what a script passes as x or model ---------------------------------------------------------

@pytest.mark.parametrize("x, words", [
    ("digits.npy", "x: got a file name ('digits.npy')"),
    (None, "x: got None"),
])
def test_a_file_name_or_none_as_samples_is_named(lenet, x, words):
    """A file name was 'samples must be real numbers, got dtype <U10'."""
    with pytest.raises(lrpcore.ShapeError) as exc:
        lrpcore.explain(lenet, x)
    assert words in str(exc.value) and "open_dataset" in str(exc.value)


def test_photographs_of_different_sizes_are_refused_naming_fit_image():
    """A list of photographs of different sizes ended in numpy's 'inhomogeneous shape'
    ValueError, no LRPError."""
    model = lrpcore.load_model("efficientnet-lite0")
    photos = [np.zeros((30, 45, 3), np.uint8), np.zeros((20, 20, 3), np.uint8)]
    for run in (lambda: lrpcore.explain(model, photos), lambda: lrpcore.predict(model, photos)):
        with pytest.raises(lrpcore.ShapeError, match=r"x: the samples differ in shape "
                                                     r"\(20×20×3, 30×45×3\).*fit_image"):
            run()


@pytest.mark.parametrize("shape, raw", [((28, 28, 1), False), ((28, 28), False), ((784,), False),
                                        ((32, 32, 1), True)])
def test_one_sample_without_its_batch_axis_is_told_to_add_it(lenet, shape, raw):
    """One digit was read as 28 samples: 'samples of shape 28×1×1 do not fit the model'."""
    with pytest.raises(lrpcore.ShapeError, match=r"x: one sample of shape .* pass x\[None\]"):
        lrpcore.explain(lenet, np.zeros(shape), raw=raw)
    assert lrpcore.explain(lenet, np.zeros(shape)[None], raw=raw).shape[0] == 1


@pytest.mark.parametrize("model", ["mnist-lenet5", None])
def test_a_model_name_instead_of_a_model_is_refused_naming_load_model(digits, model):
    """explain("mnist-lenet5", x) was "AttributeError: 'str' object has no attribute
    'analysis_layers'"."""
    for run in (lambda: lrpcore.explain(model, digits), lambda: lrpcore.predict(model, digits),
                lambda: lrpcore.Explainer(model)):
        with pytest.raises(lrpcore.LRPError, match=r"model: got .*lrpcore\.load_model"):
            run()


def test_help_shows_the_explainers_parameters():
    """help(lrpcore.Explainer) showed __new__'s (model=None, *args, **kwargs)."""
    assert list(inspect.signature(lrpcore.Explainer).parameters) == [
        "model", "backend", "dtype", "threads"]


def test_the_package_namespace_and_its_errors():
    assert "submodule_getattr" not in dir(lrpcore)  # a helper, not API
    assert {"Cancelled", "RawValuesWarning"} <= set(lrpcore.__all__)
    assert all(hasattr(lrpcore, name) for name in lrpcore.__all__)
    assert issubclass(lrpcore.Cancelled, lrpcore.LRPError)
    assert "except lrpcore.LRPError" in lrpcore.__doc__


# --- rules ----------------------------------------------------------------------------------------

def test_layer_rules_as_pairs_keep_their_order_and_other_forms_are_named(lenet, digits):
    """layer_rules="0=flat" (the CLI's form) or a list ended in "AttributeError: 'str' object
    has no attribute 'items'"."""
    pairs = lrpcore.explain(lenet, digits, layer_rules=[("conv*", "zplus"), (0, "flat")])
    as_dict = lrpcore.explain(lenet, digits, layer_rules={"conv*": "zplus", 0: "flat"})
    np.testing.assert_array_equal(pairs, as_dict)
    assert not np.array_equal(pairs, lrpcore.explain(lenet, digits, layer_rules={"conv*": "zplus"}))
    for wrong in ("0=flat", ["0=flat"], ["ab"], 5):
        with pytest.raises(lrpcore.RuleError, match=r"layer_rules: got .*\(layer, rule\) pairs"):
            lrpcore.explain(lenet, digits, layer_rules=wrong)



# --- targets, labels, batch sizes ----------------------------------------------------------------

def test_per_sample_targets_by_class_name(digits):
    """target=["tabby", "tiger cat"] was "target classes must be whole numbers", while one
    name is taken."""
    from lrpcore.targets import resolve_classes

    y = np.arange(12.0).reshape(2, 6)
    names = ["zero", "one", "tabby", "tiger cat", "four", "five"]
    np.testing.assert_array_equal(resolve_classes(y, ["tabby", "TIGER"], class_names=names),
                                  [2, 3])
    np.testing.assert_array_equal(resolve_classes(y, ["tabby", "5"], class_names=names), [2, 5])
    with pytest.raises(lrpcore.RuleError, match="target of sample 1 'pred': a per-sample target "
                                                "is a class"):
        resolve_classes(y, ["tabby", "pred"], class_names=names)
    with pytest.raises(lrpcore.RuleError, match="target of sample 0 'lion'"):
        resolve_classes(y, ["lion", "tabby"], class_names=names)
    # labels by name for target "true" alike ("labels must be whole numbers")
    np.testing.assert_array_equal(resolve_classes(y, "true", labels=["tabby", "five"],
                                                  class_names=names), [2, 5])


def test_one_hot_labels_are_named_with_their_remedy(lenet, digits):
    """Keras-style one-hot labels were "40 labels given for 4 samples"."""
    one_hot = np.eye(10)[[7, 2, 1, 0]]
    runs = (lambda: lrpcore.explain(lenet, digits, target="true", labels=one_hot),
            lambda: lrpcore.Explainer(lenet).forward(digits).relevance(target="true",
                                                                        labels=one_hot))
    for run in runs:
        with pytest.raises(lrpcore.ShapeError, match=r"labels of shape 4×10 given for 4 "
                                                     r"samples: .*argmax\(axis=1\)"):
            run()
    np.testing.assert_array_equal(
        lrpcore.explain(lenet, digits, target="true", labels=one_hot.argmax(axis=1)),
        lrpcore.explain(lenet, digits, target=[7, 2, 1, 0]))


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "2"])
def test_a_batch_size_below_one_or_not_whole_is_refused(lenet, digits, batch_size):
    """0 explained the whole batch at once, -1 one sample a pass and 2.5 two, silently."""
    with pytest.raises(lrpcore.RuleError, match=r"batch_size must be a whole number of at least"):
        lrpcore.explain(lenet, digits, batch_size=batch_size)
    np.testing.assert_allclose(lrpcore.explain(lenet, digits, batch_size=3),
                               lrpcore.explain(lenet, digits), rtol=1e-12)


# --- concepts and SpRAy ------------------------------------------------------------------------

@pytest.mark.parametrize("channel", [25, -1])
def test_a_channel_the_layer_lacks_is_refused_in_conditional_heatmaps_and_composition(
        lenet, digits, channel):
    """Channel 25 of convolution1 (25 channels) was numpy's IndexError; -1 took channel 24
    and reported it as channel -1."""
    import lrpcore.concepts as concepts

    fwd = lrpcore.Explainer(lenet).forward(digits[:1])
    for run in (lambda: concepts.conditional_heatmaps(fwd, "convolution1", [0, channel]),
                lambda: concepts.composition(fwd, "convolution1", channel)):
        with pytest.raises(lrpcore.ShapeError, match=rf"channel {channel}: the layer has "
                                                     r"channels 0\.\.24"):
            run()


def test_spray_and_references_take_the_model_as_sweeps_and_pixel_flipping_do(lenet):
    """spray(model, ...) was "AttributeError: 'Sequential' object has no attribute 'model'"
    (run_sweep, cascading_randomisation and evaluate_methods take a model); RelMax took a
    layer's index only (a name, as the concepts functions take it, was a TypeError)."""
    import lrpcore.relmax as relmax
    import lrpcore.spray as spray

    data = lrpcore.open_dataset("mnist-sample")
    idx = np.flatnonzero(data.labels == 3)[:24]
    images, labels = data.images(idx), data.labels[idx]
    by_model = spray.spray(lenet, images, rule="epsilon:0.01", target=3, embed=None)
    by_explainer = spray.spray(lrpcore.Explainer(lenet), images, rule="epsilon:0.01", target=3,
                               embed=None)
    np.testing.assert_array_equal(by_model.heatmaps, by_explainer.heatmaps)
    assert len(labels) == len(by_model.indices) == 24
    refs = relmax.compute_references(lenet, images[:6], "convolution1", n=2, channels=[0, 3])
    by_index = relmax.compute_references(lrpcore.Explainer(lenet), images[:6], 3, n=2,
                                         channels=[0, 3])
    assert refs.layer == 3 and refs.heatmaps.shape[:2] == (2, 2)
    np.testing.assert_array_equal(refs.heatmaps, by_index.heatmaps)


@pytest.mark.parametrize("graph", [False, True])
def test_one_explainer_serves_several_threads_as_the_readme_says(lenet, digits, graph):
    from concurrent.futures import ThreadPoolExecutor

    from shared_data import shared_path

    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx")) \
        if graph else lenet
    ex = lrpcore.Explainer(model)  # fresh: its caches are filled by the threads at once
    rules = ["epsilon:0.01", "EpsilonPlus", "EpsilonGammaBox"] * 2
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda rule: (rule, ex.explain(digits, rule=rule)), rules))
    alone = {rule: lrpcore.Explainer(model).explain(digits, rule=rule) for rule in rules}
    for rule, R in together:
        np.testing.assert_allclose(R, alone[rule], rtol=1e-12, atol=0)


# --- the GPU backend on a machine without one ----------------------------------------------------

def _no_device_cupy():
    from types import SimpleNamespace

    return SimpleNamespace(cuda=SimpleNamespace(runtime=SimpleNamespace(getDeviceCount=lambda: 0)))


@pytest.mark.parametrize("cupy, why", [(None, "cupy is not installed"),
                                       (_no_device_cupy(), "CUDA sees no GPU device")])
def test_asking_for_cupy_without_a_gpu_says_there_is_none_and_why(lenet, monkeypatch, cupy, why):
    """The refusal said "cupy is not installed or sees no GPU": which of the two, and that the
    CPU backend is the way on, went unsaid."""
    from lrpcore import backend

    monkeypatch.setattr(backend, "_cupy_backend", lambda: None)
    monkeypatch.setitem(__import__("sys").modules, "cupy", cupy)
    for name in ("cupy", "gpu"):
        with pytest.raises(lrpcore.BackendError) as exc:
            lrpcore.Explainer(lenet, backend=name)
        assert "this machine has no usable GPU" in str(exc.value)
        assert why in str(exc.value) and "'numpy' runs on the CPU" in str(exc.value)
    assert lrpcore.Explainer(lenet, backend="auto").backend.device == "CPU"


# --- rendering -----------------------------------------------------------------------------------

def test_uint8_inputs_render_as_their_values_scaled_to_0_1(digits):
    """A uint8 digit (the dataset's own) was drawn nearly all black by render.digit (pixels
    clipped at 1), and a uint8 photograph's outline in render.heatmap came from other edges
    than the same photograph's /255."""
    from lrpcore import render

    d = digits[0]
    R = np.random.default_rng(0).normal(size=(28, 28))
    np.testing.assert_array_equal(render.digit(d), render.digit(d / 255.0))
    np.testing.assert_array_equal(render.heatmap(R, d), render.heatmap(R, d / 255.0))
    photo = (np.random.default_rng(1).random((40, 40, 3)) * 255).astype(np.uint8)
    Rp = np.random.default_rng(2).normal(size=(3, 40, 40))  # the model's C×H×W, as explain gives
    np.testing.assert_array_equal(render.heatmap(Rp, photo, scaling=1),
                                  render.heatmap(Rp, photo / 255.0, scaling=1))


def test_export_explanations_takes_one_colormap_name(tmp_path, lenet, digits):
    """cmaps='bwr' was read letter by letter: "unknown colormap 'b'"."""
    from lrpcore import export

    R = lrpcore.explain(lenet, digits[:2])
    paths = export.export_explanations(tmp_path / "out", R, None, [0, 1], "bwr")
    assert sorted(p.name for p in paths) == ["heatmap_0_bwr.png", "heatmap_1_bwr.png"]


# --- refusals in Python's words ------------------------------------------------------------------

def test_fit_image_names_the_conversion_of_a_float_photo_in_0_1():
    """scikit-image works in floats of [0, 1]; the refusal named only the uint8 it wants."""
    model = lrpcore.load_model("efficientnet-lite0")
    photo = np.random.default_rng(0).random((30, 40, 3))
    with pytest.raises(lrpcore.ShapeError, match=r"got float64; a float image in \[0, 1\]: "
                                                 r"skimage\.util\.img_as_ubyte"):
        lrpcore.fit_image(photo, model)
    from skimage.util import img_as_ubyte

    assert lrpcore.fit_image(img_as_ubyte(photo), model).shape == (224, 224, 3)


@pytest.mark.parametrize("raw", [False, True])
def test_samples_beyond_float32_name_the_python_argument_too(lenet, raw):
    """The refusal said only '--dtype float64' to a script calling explain(dtype='float32')."""
    x = np.full((1, 32, 32, 1) if raw else (1, 28, 28, 1), 1e300)
    with pytest.raises(lrpcore.ShapeError, match=r"beyond float32; use --dtype float64 "
                                                 r"\(dtype='float64' in Python\)"):
        lrpcore.explain(lenet, x, raw=raw, dtype="float32")


@pytest.mark.parametrize("key, words", [(5, "is bypassed by a skip connection"),
                                        (999, "layer 999 does not exist")])
def test_a_layer_index_is_checked_as_a_name_is(key, words):
    """rank_channels(fwd, 5) on the ResNet ranked a node a skip connection bypasses (whose
    conditional heatmaps do not add up to the heatmap) where its name was refused, and 999 was
    an IndexError."""
    from shared_data import shared_path

    import lrpcore.concepts as concepts

    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    digits = lrpcore.open_dataset("mnist-test").images(range(1))
    fwd = lrpcore.Explainer(model).forward(digits)
    with pytest.raises(lrpcore.RuleError, match=words):
        concepts.rank_channels(fwd, key)
    with pytest.raises(lrpcore.RuleError, match=words):
        concepts.conditional_heatmaps(fwd, key, [0])


def test_a_negative_layer_index_counts_from_the_end(lenet, digits):
    """-1 ranked the input's channels (the trace's first entry) and called them layer -1."""
    import lrpcore.concepts as concepts

    fwd = lrpcore.Explainer(lenet).forward(digits[:1])
    last = len(fwd.explainer.layers) - 1
    by_negative, by_index = concepts.rank_channels(fwd, -1), concepts.rank_channels(fwd, last)
    assert by_negative.layer == last
    np.testing.assert_array_equal(by_negative.relevance, by_index.relevance)


@pytest.mark.parametrize("cls", ["three", True, 2.5])
def test_spray_refuses_a_class_that_is_no_index_in_words(lenet, cls):
    """cls='three' was int()'s ValueError, no LRPError; True was class 1 and 2.5 class 2."""
    import lrpcore.spray as spray

    with pytest.raises(lrpcore.DatasetError, match=rf"mnist-sample: class {cls!r}: give a "
                                                   r"class index"):
        spray.spray(lenet, lrpcore.open_dataset("mnist-sample"), cls=cls)


def test_spray_of_a_class_without_labels_says_how_from_python(lenet, digits):
    import lrpcore.spray as spray

    with pytest.raises(lrpcore.DatasetError, match=r"--class needs a dataset with labels .*"
                                                   r"from Python, .*open_dataset\(data, labels="):
        spray.spray(lenet, np.repeat(digits, 3, axis=0), cls=3)


def test_channels_first_pixels_are_told_to_transpose_not_to_pass_raw():
    """torchvision's read_image gives uint8 C×H×W: the refusal advised raw=True, which fed
    0…255 pixels to EfficientNet unscaled. A float C×H×W batch may be the model's input."""
    model = lrpcore.load_model("efficientnet-lite0")
    pixels = np.zeros((1, 3, 224, 224), np.uint8)
    with pytest.raises(lrpcore.ShapeError, match=r"C×H×W pixels: transpose them to H×W×C, "
                                                 r"x\.transpose\(0, 2, 3, 1\)") as exc:
        lrpcore.predict(model, pixels, dtype="float32")
    assert "would feed them unscaled" in str(exc.value)
    with pytest.raises(lrpcore.ShapeError, match=r"model's own C×H×W input: add --raw, or "
                                                 r"raw=True"):
        lrpcore.predict(model, pixels.astype(np.float32), dtype="float32")
    assert lrpcore.predict(model, pixels.transpose(0, 2, 3, 1), dtype="float32").shape == (1, 1000)


def test_a_relevance_stores_sample_indices_are_checked_as_a_datasets_are(tmp_path):
    """store.heatmaps([99]) of a 4-sample store was numpy's IndexError ('index 99 is out of
    bounds for axis 0 with size 4'), naming no store; Dataset.images says it in words."""
    from lrpcore.cli.main import main

    np.save(tmp_path / "d.npy", lrpcore.open_dataset("mnist-test").images(range(4)))
    assert main(["explain", "mnist-lenet5", str(tmp_path / "d.npy"), "--out",
                 str(tmp_path / "R.zarr")]) == 0
    store = lrpcore.open_relevance_store(tmp_path / "R.zarr")
    with pytest.raises(lrpcore.DatasetError, match=r"R\.zarr: sample index 99 is out of range "
                                                   r"\(the store has 4 samples\)"):
        store.heatmaps([99])
    with pytest.raises(lrpcore.DatasetError, match=r"R\.zarr: sample indices must be integers"):
        store.heatmaps("x")
    np.testing.assert_array_equal(store.heatmaps([-1]), store.heatmaps([3]))


def test_render_draws_a_photograph_at_the_size_lrp_explain_png_does():
    """render.heatmap and render.digit drew every map 3× (a 224×224 photograph 672 pixels
    wide), where lrp explain --png, the explorer and every command draw photographs 1× and
    digits 3× (render.default_scaling)."""
    from lrpcore import render

    photo = np.zeros((224, 224, 3), np.uint8)
    R = np.random.default_rng(0).normal(size=(3, 224, 224))
    assert render.heatmap(R, photo).shape == render.digit(photo).shape == (224, 224, 3)
    assert render.heatmap(np.ones((28, 28))).shape == render.digit(np.ones((28, 28))).shape \
        == (84, 84, 3)
    assert render.heatmap(R, photo, scaling=2).shape == (448, 448, 3)


def test_the_readmes_longer_python_tour_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"A longer tour .*?```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    assert (tmp_path / "tabby.png").exists() and scope["R"].shape == (2, 3, 224, 224)
    assert scope["maps"].shape == (3, 32, 32, 1) and scope["strategies"].k >= 1
    assert scope["best"].faithfulness.score > 0


def test_the_library_gives_the_commands_numbers(tmp_path, lenet, digits, capsys):
    """What the README's tour says: the same inputs give the same results from Python as from
    lrp explain, lrp concepts and lrp sanity."""
    import lrpcore.concepts as concepts
    from lrpcore.cli.main import main
    from lrpcore.insight import sanity

    data = tmp_path / "d.npy"
    np.save(data, digits)
    assert main(["explain", "mnist-lenet5", str(data), "--rule", "epsilon:0.01", "--out",
                 str(tmp_path / "R.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "R.npy"),
                                  lrpcore.explain(lenet, digits, rule="epsilon:0.01"))
    assert main(["concepts", "mnist-lenet5", str(data), "--layer", "convolution1", "--sample",
                 "2", "--top", "3", "--references", "0", "--rule", "epsilon:0.01", "--out",
                 str(tmp_path / "c")]) == 0
    fwd = lrpcore.Explainer(lenet).forward(digits[2:3])
    ranking = concepts.rank_channels(fwd, "convolution1", rule="epsilon:0.01")
    np.testing.assert_array_equal(
        np.load(tmp_path / "c" / "conditional.npy"),
        concepts.conditional_heatmaps(fwd, "convolution1", ranking.channels[:3],
                                      rule="epsilon:0.01"))
    assert main(["sanity", "mnist-lenet5", str(data), "--rule", "epsilon:0.01", "--n", "4",
                 "--csv", str(tmp_path / "s.csv")]) == 0
    capsys.readouterr()
    result = sanity.cascading_randomisation(lenet, digits, "epsilon:0.01")
    assert (tmp_path / "s.csv").read_text() == sanity.csv_text(result)


def test_open_dataset_takes_an_array_a_script_holds_with_its_labels(lenet):
    """open_dataset(array, labels=y) was "TypeError: expected str, bytes or os.PathLike
    object, not ndarray": a script's own samples could not get the labels SpRAy of a class
    needs."""
    import lrpcore.spray as spray

    source = lrpcore.open_dataset("mnist-sample")
    idx = np.arange(0, 5000, 10)
    ds = lrpcore.open_dataset(source.images(idx), labels=source.labels[idx])
    assert ds.name == "array" and len(ds) == 500
    np.testing.assert_array_equal(ds.labels, source.labels[idx])
    result = spray.spray(lenet, ds, cls=3, rule="epsilon:0.01", embed=None)
    assert len(result.indices) == int((source.labels[idx] == 3).sum())
    with pytest.raises(lrpcore.DatasetError, match=r"labels: 3 labels for 500 samples"):
        lrpcore.open_dataset(source.images(idx), labels=[1, 2, 3])
    with pytest.raises(lrpcore.DatasetError, match=r"array: expected samples of numbers, N "
                                                   r"first; got shape \(5,\)"):
        lrpcore.open_dataset(np.zeros(5))


def test_compare_takes_class_names_as_explain_does():
    """insight.compare(fwd, rules, classes=["tabby", "tiger cat"]) was "class 'tabby' is not
    an integer" (and so were contrast and class_relevance), while explain takes names."""
    from lrpcore import insight

    model = lrpcore.load_model("efficientnet-lite0")
    photo = np.full((1, 224, 224, 3), 128, np.uint8)
    fwd = lrpcore.Explainer(model, dtype="float32").forward(photo)
    by_name = insight.compare(fwd, ["EpsilonPlus"], classes=["tabby"],
                              contrast=("tabby", "tiger cat"))
    assert by_name.classes == (281,) and by_name.contrast == (281, 282)
    np.testing.assert_array_equal(by_name.rows[0].maps[0],
                                  insight.class_relevance(fwd, "EpsilonPlus", classes=[281])[0])
    with pytest.raises(lrpcore.ShapeError, match=r"class 'pred': give a class index or name"):
        insight.class_relevance(fwd, "EpsilonPlus", classes=["pred"])


def test_an_object_numpy_cannot_read_is_refused_naming_x_with_its_own_words(lenet):
    """A PyTorch tensor that requires grad raised torch's RuntimeError through explain, which
    `except lrpcore.LRPError` did not catch; its words ('use tensor.detach()') are kept."""
    class GradTensor:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")

    with pytest.raises(lrpcore.ShapeError, match=r"x: cannot be read as an array "
                                                 r"\(RuntimeError: .*tensor\.detach\(\)"):
        lrpcore.explain(lenet, GradTensor())


def test_check_fits_takes_what_open_dataset_opens(lenet):
    """check_fits(model, "mnist-test") or an array was "AttributeError: 'str' object has no
    attribute 'labels'"."""
    lrpcore.check_fits(lenet, "mnist-test")
    lrpcore.check_fits(lenet, np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(lrpcore.ShapeError, match=r"dataset array has samples of shape 5×5×1"):
        lrpcore.check_fits(lenet, np.zeros((2, 5, 5), np.uint8))


def test_parse_rule_of_a_preset_says_it_is_a_preset():
    """parse_rule("EpsilonPlus") said "preset EpsilonPlus takes no parameters" to a caller
    who gave none."""
    with pytest.raises(lrpcore.RuleError, match=r"EpsilonPlus is a preset \(a rule per "
                                                 r"layer\), not one rule: .*rule='EpsilonPlus'"):
        lrpcore.parse_rule("epsilonplus")
    with pytest.raises(lrpcore.RuleError, match=r"preset EpsilonPlus takes no parameters"):
        lrpcore.parse_rule("EpsilonPlus:3")
    assert lrpcore.parse_rule("eps").spec() == "epsilon:0.01"


def _tools():
    import lrpcore.relmax as relmax
    import lrpcore.spray as spray
    from lrpcore.insight import evaluate_methods, sanity, sweep

    return {
        "run_sweep": lambda m, x: sweep.run_sweep(m, x, "epsilon", params={"epsilon": [0.01]},
                                                  steps=2),
        "cascading_randomisation": lambda m, x: sanity.cascading_randomisation(m, x[:4],
                                                                               "epsilon"),
        "evaluate_methods": lambda m, x: evaluate_methods(m, x[:4], ["epsilon"], steps=2,
                                                          random=False),
        "spray": lambda m, x: spray.spray(m, x, rule="epsilon", target="pred", embed=None),
        "compute_references": lambda m, x: relmax.compute_references(
            m, x[:4], "convolution1", n=1, channels=[0]),
    }


@pytest.mark.parametrize("tool", sorted(_tools()))
def test_the_trust_and_concept_tools_warn_of_samples_that_do_not_look_raw(lenet, tool):
    """run_sweep, cascading_randomisation, evaluate_methods, spray and RelMax read x as raw
    samples too, and explained ToTensor's 0…1 digits scaled twice without a word."""
    x01 = lrpcore.open_dataset("mnist-sample").images(range(0, 5000, 200)).astype(np.float32)
    x01 /= 255
    with pytest.warns(lrpcore.RawValuesWarning, match=r"x: values in \[0, 1\]") as rec:
        _tools()[tool](lenet, x01)
    assert rec[0].filename == __file__


def test_the_commands_say_it_once_in_their_own_words(tmp_path, capsys):
    from lrpcore.cli.main import main

    x01 = lrpcore.open_dataset("mnist-test").images(range(8)).astype(np.float32) / 255
    np.save(tmp_path / "x.npy", x01)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        assert main(["sanity", "mnist-lenet5", str(tmp_path / "x.npy"), "--rule", "epsilon",
                     "--n", "4"]) == 0
    assert not [w for w in rec if issubclass(w.category, lrpcore.RawValuesWarning)]
    assert capsys.readouterr().err.count("look preprocessed already") == 1


@pytest.mark.parametrize("write", ["save_png", "export_input_heatmap",
                                   "export_explanation_figure"])
def test_the_librarys_png_writers_refuse_another_name_as_the_commands_do(tmp_path, write):
    """render.save_png('hm.jpg', …) wrote PNG bytes named .jpg (as did the export functions),
    where lrp's options and the explorer's exports refuse the name."""
    from lrpcore import export, render

    R = np.random.default_rng(0).normal(size=(28, 28))
    run = {"save_png": lambda p: render.save_png(p, render.heatmap(R)),
           "export_input_heatmap": lambda p: export.export_input_heatmap(p, R, None),
           "export_explanation_figure": lambda p: export.export_explanation_figure(p, R, None)}
    with pytest.raises(lrpcore.ExportError, match=r"hm\.jpg: images are written as PNG; name "
                                                  r"the file ….png"):
        run[write](tmp_path / "hm.jpg")
    assert list(tmp_path.iterdir()) == []
    run[write](tmp_path / "hm.PNG")
    assert (tmp_path / "hm.PNG").exists()


def test_zb_for_the_whole_model_names_the_python_remedy(lenet, digits):
    """The refusal named --layer-rule 0=zb and the explorer's table only; a script's remedy is
    layer_rules={0: 'zb'}, which it now names and which works."""
    with pytest.raises(lrpcore.RuleError) as exc:
        lrpcore.explain(lenet, digits, rule="zb")
    assert "--layer-rule 0=zb; in Python rule='epsilon:0.01', layer_rules={0: 'zb'}" \
        in str(exc.value)
    assert lrpcore.explain(lenet, digits, rule="epsilon:0.01", layer_rules={0: "zb"}).shape \
        == (4, 32, 32, 1)


@pytest.mark.parametrize("given", ["model", "explainer"])
def test_the_concepts_functions_name_the_forward_pass_they_take(lenet, given):
    """rank_channels(model, ...) was "AttributeError: 'Sequential' object has no attribute
    'explainer'"."""
    import lrpcore.concepts as concepts

    fwd = lenet if given == "model" else lrpcore.Explainer(lenet)
    for run in (lambda: concepts.rank_channels(fwd, "convolution1"),
                lambda: concepts.conditional_heatmaps(fwd, "convolution1", [0]),
                lambda: concepts.composition(fwd, "convolution1", 0)):
        with pytest.raises(lrpcore.ShapeError, match=r"fwd: got .*; the concepts functions "
                                                     r"take a forward pass"):
            run()
