"""What a CLI acceptance review (stop 27: the README followed as a new user would, on the
shared MNIST ResNet and EfficientNet-Lite0 exports, the toolbox's models, MNIST digits and
photographs of odd sizes) found."""

from __future__ import annotations

import numpy as np
import pytest
from cli_help import help_words
from local_store import lenet_store_of_random_digits
from shared_data import shared_path

from lrpcore.cli.main import main


@pytest.mark.parametrize(("argv", "samples"), [
    (["explain"], "INPUT"), (["evaluate"], "INPUT"), (["sweep"], "DATA"), (["sanity"], "DATA"),
    (["concepts"], "DATA"), (["spray"], "DATA"), (["demo"], "--dataset"),
    (["train"], "--dataset"), (["data", "info"], "DATASET")])
def test_every_labels_help_says_when_labels_are_needed_alike(capsys, argv, samples):
    """The --labels helps agreed on the formats only: explain said the dataset's own labels and
    X_labels.npy beside X_images.npy are found without it, evaluate "needed for --target
    true", sweep "when DATA does not carry them", demo "if it does not carry them", train
    "when they are not stored with it" — though every command finds labels the same way."""
    text = help_words(capsys, argv)
    start = text.index("--labels FILE labels of")
    sentence = text[start:text.index("need no --labels)", start)]
    assert sentence.startswith(f"--labels FILE labels of {samples} (.npy, .npz, .mat, .txt or "
                               "IDX; N, N×1 or one-hot rows), "), sentence
    assert sentence.endswith(f", when {samples} carries none (a dataset's own labels, or "
                             "X_labels.npy beside an X_images.npy, "), sentence


def test_spray_of_a_store_notes_pass_options_given_at_their_default_values(tmp_path, capsys):
    """The note that a store's heatmaps leave --dtype, --backend and --batch-size unused
    compared the values with the defaults: '--dtype float64 --backend auto --batch-size 256'
    were given and dropped without a word."""
    store = lenet_store_of_random_digits(tmp_path)
    base = ["spray", "mnist-lenet5", str(store), "--embedding", "none", "--k", "2"]
    assert main(base + ["--out", str(tmp_path / "a.npz")]) == 0
    assert "not used" not in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "b.npz"), "--dtype", "float64", "--backend",
                        "auto", "--batch-size", "256"]) == 0
    err = capsys.readouterr().err
    assert (f"lrp spray: note: {store} holds computed relevance; --backend, --dtype and "
            "--batch-size are not used (no LRP pass is run)") in err, err


def test_spray_still_explains_in_float64_by_default(tmp_path, capsys, monkeypatch):
    """The pass options left unset are filled in before the model's defaults: an ONNX model's
    float32 must not replace spray's float64 (the explorer's SpRAy window computes so)."""
    import importlib

    explain_module = importlib.import_module("lrpcore.explain")  # the package's explain() hides it
    seen = []
    real = explain_module.Explainer.__init__

    def recording(self, model, backend=None, dtype=None, *a, **k):
        seen.append((backend, dtype))
        real(self, model, backend, dtype, *a, **k)

    # on Explainer itself: a subclass put in its place made a graph model's GraphExplainer
    # skip __init__ once lrpcore.graph_explain had been imported (by any earlier test)
    monkeypatch.setattr(explain_module.Explainer, "__init__", recording)
    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    x = tmp_path / "x.npy"
    np.save(x, np.load(shared_path("data", "mnist_test_images.npy"))[:12])
    assert main(["spray", str(resnet), str(x), "--embedding", "none", "--k", "2", "--quiet",
                 "--out", str(tmp_path / "s.npz")]) == 0, capsys.readouterr().err
    assert ("auto", "float64") in seen and ("auto", "float32") not in seen, seen


def test_a_feature_vector_model_is_not_said_to_take_images(tmp_path, capsys):
    """The XOR net refused 3 values with "samples of shape 3 do not fit the model, which
    takes raw 2 images (2 values each)": it takes vectors of 2 values."""
    xor = shared_path("models", "lrp_toolbox", "xor_net_small.txt")
    np.save(tmp_path / "x3.npy", np.random.RandomState(0).rand(4, 3))
    assert main(["explain", str(xor), str(tmp_path / "x3.npy"), "--out",
                 str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "x3.npy: samples of 3 values do not fit the model, which takes vectors of 2 values" \
        in err, err
    assert main(["explain", "mnist-lenet5", str(tmp_path / "x3.npy"), "--out",
                 str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert ("samples of 3 values do not fit the model, which takes raw 28×28×1 images (784 "
            "values each)") in err, err


@pytest.mark.parametrize("argv", [["evaluate", "mnist-lenet5", "mnist-sample"],
                                  ["data", "info", "mnist-sample"]])
def test_an_unknown_option_is_refused_by_its_command(capsys, argv):
    """`lrp evaluate M X --out r.npy` said "lrp: error: unrecognized arguments: --out r.npy
    (see 'lrp --help')": the top-level help lists no command's options."""
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", "r.npy"])
    assert stop.value.code == 2
    command = " ".join(argv[:2] if argv[0] == "data" else argv[:1])
    assert capsys.readouterr().err == (f"lrp {command}: error: unrecognized arguments: --out "
                                       f"r.npy (see 'lrp {command} --help')\n")


def test_spray_class_without_labels_names_the_samples(tmp_path, capsys):
    """"--class needs a dataset with labels" named no file."""
    np.save(tmp_path / "x.npy", np.zeros((20, 28, 28), dtype=np.uint8))
    assert main(["spray", "mnist-lenet5", str(tmp_path / "x.npy"), "--class", "3", "--out",
                 str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'x.npy'}: --class needs a dataset with labels" in err, err


def _positional_help(command, dest) -> str:
    from lrpcore.cli.main import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    (action,) = [a for a in sub.choices[command]._actions if a.dest == dest]
    return action.help


SAMPLE_COMMANDS = {"explain": "input", "evaluate": "input", "sweep": "data", "sanity": "data",
                   "concepts": "data", "spray": "data"}


def test_every_command_that_takes_samples_describes_model_and_samples_alike():
    """The model and samples arguments were described five ways: evaluate's samples named no
    photographs nor natural-images, sweep's "a dataset file or folder", concepts' "any format
    lrp opens", spray's "dataset with labels" (it needs none without --class); sweep and
    sanity named 'e.g. mnist-lenet5' only, concepts and spray no model format."""
    models = {_positional_help(c, "model") for c in SAMPLE_COMMANDS}
    assert models == {"model file (.txt toolbox, .nn, .npz, .onnx) or a bundled model's name "
                      "(mnist-lenet5, efficientnet-lite0)"}, models
    samples = [_positional_help(c, dest) for c, dest in SAMPLE_COMMANDS.items()]
    first = samples[0]
    assert "natural-images" in first and "image folder" in first and "--raw" in first
    assert all(s.startswith(first) for s in samples), samples


@pytest.mark.parametrize("command", ["render", "figure"])
def test_drawing_help_lets_the_inputs_come_from_the_sidecar(capsys, command):
    """--outline and --side-by-side said "needs --input", while 'lrp render
    lrp-demo/relevance_03.npy --side-by-side' (the README's example) draws the digit its
    sidecar names without one."""
    text = help_words(capsys, [command])
    assert "needs --input" not in text, text
    assert "where the inputs are known: --input or its default" in text, text


def test_convert_help_names_the_checkpoints_it_reads(capsys):
    """'lrp --help' lists .pth among convert's inputs and --arch builds one, but convert's
    own description listed .txt, .nn, .npz and .onnx only."""
    text = help_words(capsys, ["convert"])
    description = text[text.index("Reads any model format"):text.index("positional arguments")]
    assert ".pth" in description and "--arch" in description, description


@pytest.fixture
def flat_float_digits(tmp_path):
    """Digits as a dense toolbox network is fed them: N×784 floats in [-1, 1]."""
    x = np.load(shared_path("data", "mnist_test_images.npy"))[:12] / 127.5 - 1
    path = tmp_path / "xf.npy"
    np.save(path, x)
    return path


@pytest.mark.parametrize("argv", [
    ["sweep", "--rule", "epsilon", "--n", "4", "--steps", "3", "--quiet"],
    ["sanity", "--n", "4", "--quiet"],
    ["evaluate", "--n", "4", "--steps", "3", "--quiet"]])
def test_raw_rows_reach_a_dense_model_as_stored(tmp_path, capsys, flat_float_digits, argv):
    """--raw N×784 rows for the bundled dense network: lrp sweep and sanity read them through
    the dataset reader, which shows them as 28×28×1 images, and refused "input samples of
    shape 28×28×1 do not fit the model, which takes 784"; lrp evaluate took them."""
    command, *options = argv
    rc = main([command, "mnist-dense-rect", str(flat_float_digits), "--raw", *options])
    assert rc in (0, 3), capsys.readouterr().err  # sanity's 3: the rule failed the check


def test_raw_samples_that_do_not_fit_are_described_alike(tmp_path, capsys):
    """One N×784 .npy fed --raw to the ResNet (1×28×28) was "input samples of shape 784" in lrp
    explain, evaluate and concepts and "28×28×1" in lrp sweep, sanity and spray."""
    resnet = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    x = tmp_path / "x.npy"
    np.save(x, np.load(shared_path("data", "mnist_test_images.npy"))[:12])
    runs = {"explain": ["--out", str(tmp_path / "R.npy")], "evaluate": [],
            "sweep": ["--rule", "epsilon"], "sanity": [],
            "spray": ["--out", str(tmp_path / "s.npz")],
            "concepts": ["--layer", "3", "--out", str(tmp_path / "c")]}
    said = {}
    for command, options in runs.items():
        assert main([command, resnet, str(x), "--raw", "--quiet", *options]) == 2
        err = capsys.readouterr().err
        said[command] = err[err.index("input samples"):].strip()
    assert set(said.values()) == {"input samples of shape 28×28×1 do not fit the model, which "
                                  "takes 1×28×28"}, said


@pytest.mark.parametrize("command", ["sweep", "sanity", "evaluate", "explain"])
def test_an_unknown_model_is_refused_in_the_same_words(tmp_path, capsys, command):
    """lrp sweep and sanity said "no such model file or bundled model", the other commands
    "no such file or bundled model (bundled: …)", naming the models there are."""
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), dtype=np.uint8))
    options = {"sweep": ["--rule", "epsilon"], "explain": ["--out", str(tmp_path / "R.npy")]}
    assert main([command, "no-such-model", str(x), *options.get(command, [])]) == 2
    err = capsys.readouterr().err
    assert (f"lrp {command}: error: no-such-model: no such file or bundled model (bundled: "
            "mnist-") in err, err


@pytest.mark.parametrize("command", ["explain", "evaluate", "spray", "train"])
def test_batch_size_is_spelled_alike(capsys, command):
    """'--batch-size N' in explain, '--batch-size BATCH_SIZE' in evaluate, spray and train."""
    text = help_words(capsys, [command])
    assert "--batch-size N " in text and "BATCH_SIZE" not in text, text


def test_data_info_says_which_classes_have_no_sample(tmp_path, capsys):
    """`lrp data info` of the first 20 test digits said "labels: yes (10 classes)", though no
    8 is among them, and of a folder with an empty class subfolder "2 classes: a, b, c"."""
    from PIL import Image

    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, np.zeros((6, 28, 28), dtype=np.uint8))
    np.save(y, np.array([0, 1, 2, 4, 4, 1]))
    assert main(["data", "info", str(x), "--labels", str(y)]) == 0
    assert "labels:  yes (5 classes; no sample of class 3)\n" in capsys.readouterr().out
    for name in ("a", "b", "c"):
        (tmp_path / "photos" / name).mkdir(parents=True)
    for name in ("a", "b"):
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "photos" / name / "p.png")
    assert main(["data", "info", str(tmp_path / "photos")]) == 0
    out = capsys.readouterr().out
    assert "labels:  yes (3 classes: a, b, c; no sample of class c)\n" in out, out
    assert main(["data", "info", "mnist-sample"]) == 0
    assert "no sample" not in capsys.readouterr().out


def test_progress_into_a_log_writes_whole_lines(monkeypatch):
    """`--progress` is for logs (README: "draws it always (a log)"), but the bar redrew one
    line with carriage returns ten times a second: a log of a 5,000-sample run was one line
    holding twenty bars. Into a file it writes lines, at most one per interval and the last."""
    import io

    from lrpcore.cli import progress

    clock = iter([0.0, 0.5, 1.0, 2.5, 3.0, 3.1])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    log = io.StringIO()
    bar = progress.ProgressBar(100, "explaining", enabled=True, stream=log)
    for done in (10, 20, 60, 70, 100):  # at 0.5, 1.0, 2.5, 3.0 and 3.1 s
        bar(done)
    bar.close()
    lines = log.getvalue().split("\n")
    assert "\r" not in log.getvalue()
    assert [line.split("] ")[1].split()[0] for line in lines[:-1]] == ["10%", "60%", "100%"], \
        lines
    assert lines[-1] == ""


@pytest.mark.parametrize("command", ["explain", "render", "figure", "concepts"])
def test_colormap_is_spelled_alike(capsys, command):
    """'--colormap NAME' everywhere but concepts' '--colormap COLORMAP'."""
    text = help_words(capsys, [command])
    assert "--colormap NAME" in text and "COLORMAP" not in text, text
