"""The stop-23 acceptance review (a new user with zennit, Captum and iNNvestigate behind them):
what the commands said that misled."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


@pytest.mark.parametrize("spec, function", [("gradxinput", "gradient_x_input"),
                                            ("saliency", "sensitivity")])
def test_a_gradient_baseline_given_as_rule_says_where_it_is_taken(tmp_path, capsys, spec,
                                                                  function):
    """Compare and ``lrp evaluate`` take gradient × input and sensitivity beside rules, so a
    Captum user tries ``lrp explain --rule gradxinput``: it said "unknown rule", as for a typo.
    It now says what the name is and where it is taken."""
    import numpy as np

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 28, 28), np.uint8))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--rule", spec]) == 2
    err = capsys.readouterr().err
    assert "unknown rule" not in err
    assert "gradient baseline, not an LRP rule" in err and "lrp evaluate" in err
    assert f"lrpcore.insight.{function}" in err
    assert not (tmp_path / "R.npy").exists()


def test_every_baseline_has_its_python_function_named():
    import lrpcore.insight
    from lrpcore.insight.baselines import BASELINES
    from lrpcore.rules import BASELINE_FUNCTIONS

    assert set(BASELINE_FUNCTIONS) == set(BASELINES)
    assert all(getattr(lrpcore.insight, f) is BASELINES[b]
               for b, f in BASELINE_FUNCTIONS.items())


def _digit_folder(root):
    """Two class subfolders named in words, which name none of a digit model's classes."""
    import numpy as np
    from PIL import Image

    for name in ("seven", "two"):
        (root / name).mkdir(parents=True)
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(root / name / "a.png")
    return root


def test_the_folder_labels_hint_gives_examples_of_the_models_own_classes(tmp_path, capsys):
    """Subfolders 'seven' and 'two' under a digit model were told to be named "a class name
    such as 'Egyptian cat', or an index such as '285'": ImageNet's, which LeNet-5 has not. The
    examples are now the model's own (its class 9, named '9': an index alone), ImageNet's
    for an ImageNet model."""
    import lrpcore
    from lrpcore.io.datasets import folder_labels_hint

    folder = _digit_folder(tmp_path / "digits")
    model = lrpcore.load_model("mnist-lenet5")
    assert main(["explain", "mnist-lenet5", str(folder), "--target", "true", "--out",
                 str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "an index such as '9'" in err
    assert "285" not in err and "Egyptian cat" not in err
    hint = lrpcore.open_dataset(folder, model=model).unlabelled_hint(model)
    assert hint.endswith("(an index such as '9')")

    class Named:  # a model naming its classes: one of its names is the example
        class_names = [f"kind {k}, synonym" for k in range(3)]
        n_classes = 3

    assert folder_labels_hint(["a"], Named()).endswith(
        "(a class name such as 'kind 2', or an index such as '2')")


def test_target_true_without_labels_in_python_says_how_to_give_them():
    """``lrpcore.explain(model, x, target="true")`` said only "target 'true' needs the samples'
    labels": the keyword that takes them was left to the docstring."""
    import numpy as np

    import lrpcore
    from lrpcore.errors import ShapeError

    model = lrpcore.load_model("mnist-lenet5")
    x = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(ShapeError, match="pass labels="):
        lrpcore.explain(model, x, target="true")
    R = lrpcore.explain(model, x, target="true", labels=np.array([3, 4]))
    assert R.shape == (2, 32, 32, 1)


def test_a_stores_photographs_open_at_the_size_of_its_heatmaps(tmp_path):
    """``open_relevance_store(R.zarr).open_dataset()`` of a run over a folder of photographs
    read the folder as stored: a 40×30 photograph beside 16×16 heatmaps. It is fitted to the
    store's model (unchanged since the run) as the run read it, or to a model given."""
    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    from colour_models import colour_graph_model, write_photos
    from local_store import explain_to_local_store

    import lrpcore
    from lrpcore import distributed as dist

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), model)
    folder = write_photos(tmp_path / "photos")
    source, _ = dist.open_source(str(folder), lrpcore.load_model(model))
    out = tmp_path / "R.zarr"
    assert explain_to_local_store(model, source, out, "EpsilonPlus", 8).failed == []
    store = lrpcore.open_relevance_store(out)
    maps = store.heatmaps([0])  # N×C×H×W of the model's layout
    images = store.open_dataset().images([0])
    assert images.shape[1:3] == maps.shape[2:] == (16, 16)
    assert store.open_dataset(model=lrpcore.load_model(model)).images([0]).shape == images.shape
    lrpcore.save_model(colour_graph_model(names=["a", "b", "c"]), model, overwrite=True)
    assert store.open_dataset().images([0]).shape[1:3] == (30, 40)  # another model: as stored


def test_convert_beside_another_model_of_the_name_writes_no_sidecar_and_is_not_refused(
        tmp_path, capsys):
    """``lrp convert LeNet-5.nn LeNet-5.npz`` (the command's own --help example) in the
    toolbox's folder, where LeNet-5.txt lies too, was refused: 'LeNet-5.json: is the sidecar of
    the model LeNet-5.txt beside it … writing there would replace it' — though no LeNet-5.json
    existed or was to be written. A sidecar the conversion would write (a .txt of a model with
    metadata) beside another model of that name is still refused."""
    import shutil

    from shared_data import shared_path

    src = shared_path("models", "lrp_toolbox", "LeNet-5.nn")
    txt = shared_path("models", "lrp_toolbox", "LeNet-5.txt")
    shutil.copy(src, tmp_path / "LeNet-5.nn")
    shutil.copy(txt, tmp_path / "LeNet-5.txt")
    assert main(["convert", str(tmp_path / "LeNet-5.nn"), str(tmp_path / "LeNet-5.npz"),
                 "--dtype", "float32"]) == 0
    assert (tmp_path / "LeNet-5.npz").is_file() and not (tmp_path / "LeNet-5.json").exists()
    capsys.readouterr()
    # mnist-lenet5 carries class names and its input specification: its .txt needs a sidecar,
    # which would also be LeNet-5.npz's (and LeNet-5.nn's)
    assert main(["convert", "mnist-lenet5", str(tmp_path / "LeNet-5b.txt")]) == 0
    assert (tmp_path / "LeNet-5b.json").is_file()
    assert main(["convert", "mnist-lenet5", str(tmp_path / "LeNet-5.txt"), "--overwrite"]) == 2
    assert "is the sidecar of the model" in capsys.readouterr().err
    assert not (tmp_path / "LeNet-5.json").exists()


def test_a_photographs_figure_is_outlined_as_its_view_and_png(tmp_path, monkeypatch):
    """File → Export figure of a 224×224 photograph drew its outline at σ = 2·scale/3 (the
    toolbox's digits at 3×) while drawing it at 1×: σ 0.67, a thicket of edges beside the
    view's and the PNG's σ 2. A digit's figure keeps σ 2 per 3× of scale."""
    import json

    import numpy as np

    import lrpcore.render.figure as figure_module
    from lrpcore.export import export_explanation_figure
    from lrpcore.render import heatmap

    drawn = []

    def recording(R, x=None, cmap="bwr", scaling=3, sigma=2.0):
        drawn.append((scaling, sigma))
        return heatmap(R, x, cmap=cmap, scaling=scaling, sigma=sigma)

    monkeypatch.setattr(figure_module, "heatmap", recording)
    rng = np.random.default_rng(0)
    x01 = rng.uniform(0, 1, (224, 224, 3))
    R = rng.normal(0, 1, (3, 224, 224))  # C×H×W, as lrpcore.explain returns it
    export_explanation_figure(tmp_path / "photo.png", R, x01, scale=1)
    assert drawn[-1] == (1, 3.0)  # as the PNG export and the view draw it at 1× (its style)
    assert json.loads((tmp_path / "photo.png.json").read_text())["sigma"] == 3.0
    export_explanation_figure(tmp_path / "digit.png", rng.normal(0, 1, (28, 28)),
                              rng.uniform(0, 1, (28, 28)), scale=8)
    assert drawn[-1] == (8, pytest.approx(16 / 3))  # digits: as before


def test_a_class_name_for_a_model_of_unnamed_classes_says_why_it_names_nothing(tmp_path,
                                                                               capsys):
    """The shared ONNX EfficientNet-Lite0 names its 1000 classes "0" … "999" (ONNX holds no
    names): ``--target "Egyptian cat"`` said only "use pred, true, output or a class index",
    beside a README whose targets name classes. It says the model's classes have indices
    only, and how to name them."""
    from lrpcore.errors import RuleError
    from lrpcore.targets import parse_target

    names = [str(k) for k in range(1000)]
    with pytest.raises(RuleError, match=r"known by their indices only \(0 … 999; a sidecar's "
                       r"\"class_names\" can name them\)"):
        parse_target("Egyptian cat", class_names=names)
    assert parse_target("285", class_names=names) == 285
    with pytest.raises(RuleError, match=r"^target 'cat': use pred, true, output or a class "
                       r"index$"):
        parse_target("cat")  # no model to ask: as before


def test_digits_for_a_photograph_model_get_no_advice_to_resize_them(capsys):
    """``lrp explain efficientnet-lite0 mnist-test`` advised "open the folder (or the photo's
    file) with the model, lrpcore.open_dataset(folder, model=model) (as the lrp commands do)":
    no resizing makes greyscale digits colour photographs, and the lrp command was the one
    used. Photographs of another size keep the advice; shapes read 28×28×1 as elsewhere."""
    import numpy as np
    from colour_models import colour_graph_model

    import lrpcore
    from lrpcore.errors import ShapeError
    from lrpcore.spec import PHOTOS_HINT

    model = colour_graph_model()  # resizes and crops photographs, as EfficientNet-Lite0
    with pytest.raises(ShapeError) as err:
        lrpcore.explain(model, np.zeros((1, 28, 28, 1), np.uint8))
    assert PHOTOS_HINT not in str(err.value) and "shape 28×28×1 do not fit" in str(err.value)
    with pytest.raises(ShapeError) as err:
        lrpcore.explain(model, np.zeros((1, 30, 40, 3), np.uint8))
    assert PHOTOS_HINT in str(err.value)


def test_sanity_takes_each_maps_correlation_whatever_its_sign():
    """The sanity check judged the median over samples of signed ρ: when randomising the top
    layer flipped half of the samples' maps and left the others, every map stayed the same
    up to its sign, yet the median ρ was about 0 and the rule passed — on the bundled LeNet-5,
    α2β1 and EpsilonAlpha2Beta1 passed so. A map that only flipped its sign is the same map
    (README): the median of |ρ| (and |SSIM|) is judged."""
    import numpy as np

    from lrpcore.cli.cmd_sanity import step_lines
    from lrpcore.insight import sanity

    flipped = np.array([0.9, -0.9, 0.9, -0.9, 0.9, -0.92])  # each map the same up to sign
    step = sanity.SanityStep((9,), ("Linear",), flipped, flipped.copy(), np.zeros((2, 4, 4)))
    first = sanity.SanityStep((), (), np.ones(6), np.ones(6), np.zeros((2, 4, 4)))
    assert abs(step.spearman_median) < 0.5  # the signed median hides it
    assert step.similar()
    result = sanity.SanityResult("alphabeta:2", 6, (first, step), np.zeros((2, 4, 4)), 0.1)
    assert not result.passed
    assert "FAIL" in result.verdict() and "|ρ| 0.90" in result.verdict()
    assert "|ρ|  0.900" in step_lines(result)[1] and step_lines(result)[1].endswith("similar")
    assert sanity.step_title(1, step).endswith("Spearman |ρ| 0.90")  # the figure's, alike
    csv = sanity.csv_text(result).splitlines()
    assert csv[0].endswith(",similar,spearman_abs_median,ssim_abs_median")
    assert csv[2].endswith(",yes,0.9,0.9")
    unlike = np.array([0.3, -0.2, 0.1, -0.4, 0.2, -0.1])  # maps that share little: a pass
    assert not sanity.SanityStep((9,), ("Linear",), unlike, unlike, np.zeros((2, 4, 4))).similar()


def test_concepts_of_a_one_channel_layer_say_one_channel(tmp_path, capsys):
    """``lrp concepts … --layer /conv1/Conv/pad`` (the shared ResNet's padded one-channel
    input) printed "1 channels for sample 0"."""
    import numpy as np
    from shared_data import shared_path

    model = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8))
    assert main(["concepts", str(model), str(x), "--layer", "/conv1/Conv/pad", "--top", "1",
                 "--references", "0", "--out", str(tmp_path / "c")]) == 0
    assert "): 1 channel for sample 0" in capsys.readouterr().out
