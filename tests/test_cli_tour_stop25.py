"""What a CLI acceptance review (stop 25: the README followed literally on the shared ONNX
models, the MNIST test set and photographs of odd sizes) found outside ``--raw``."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

from lrpcore.cli.main import main


def test_demo_fits_a_folder_of_images_to_the_model(tmp_path, capsys):
    """``lrp demo --dataset FOLDER`` read the images at their own size ("samples of shape
    35×40×1 do not fit the model … open the folder with the model … as the lrp commands do")
    where every other command fits them to the model's input."""
    from PIL import Image

    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    digits = np.load(shared_path("data", "mnist_test_images.npy"))[:3].reshape(-1, 28, 28)
    folder = tmp_path / "digits"
    folder.mkdir()
    for k, img in enumerate(digits):
        Image.fromarray(img).resize((40, 35)).save(folder / f"d{k}.png")
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(resnet), "--dataset", str(folder), "--out", str(out),
                 "--count", "2", "--batch", "2"]) == 0, capsys.readouterr().err
    relevance = np.load(out / "relevance_0.npy")
    assert relevance.shape[-2:] == (28, 28) and np.abs(relevance).max() > 0


def test_sweep_labels_name_only_the_values_a_group_takes(tmp_path, capsys):
    """EpsilonGammaBox swept on the ResNet's last layer (dense: ε only) printed "ε=1e-06, γ=0
    [last]" — a γ no layer of the group takes, in the label and the CSV's gamma column — and
    blamed the equal scores of ε settings that only scale the heatmaps on blank images."""
    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    np.save(tmp_path / "x.npy", np.load(shared_path("data", "mnist_test_images.npy"))[:8])
    csv = tmp_path / "s.csv"
    assert main(["sweep", str(resnet), str(tmp_path / "x.npy"), "--rule", "EpsilonGammaBox",
                 "--group", "last", "--n", "8", "--steps", "3", "--quiet", "--csv",
                 str(csv)]) == 0
    out = capsys.readouterr().out
    rows = csv.read_text().splitlines()[1:]
    assert len(rows) == 3 and all("[last]" in r and "γ" not in r for r in rows), rows
    assert all(r.split(",")[6] == "" and r.split(",")[5] != "" for r in rows), rows  # γ, ε
    assert "no best" not in out or "in the same order" in out


def test_explain_says_when_drawing_options_draw_nothing(tmp_path, capsys):
    """``--colormap jet`` without ``--png`` wrote no picture and said nothing."""
    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    np.save(tmp_path / "x.npy", np.load(shared_path("data", "mnist_test_images.npy"))[:2])
    base = ["explain", str(resnet), str(tmp_path / "x.npy"), "--out", str(tmp_path / "R.npy")]
    assert main([*base, "--colormap", "jet", "--no-outline"]) == 0
    err = capsys.readouterr().err
    assert "warning: --colormap, --no-outline only draw the --png heatmaps" in err, err
    assert main([*base, "--overwrite"]) == 0
    assert "--png" not in capsys.readouterr().err
    assert main([*base, "--overwrite", "--png", str(tmp_path / "p"), "--colormap", "jet"]) == 0
    assert "only draw" not in capsys.readouterr().err
    assert (tmp_path / "p" / "heatmap_0_jet.png").exists()


def test_a_store_refuses_png_naming_the_commands_that_draw_it(tmp_path, capsys):
    """The refusal of --png with --out R.zarr sent the user to the explorer alone, while
    ``lrp render`` and ``lrp figure`` read a store."""
    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    np.save(tmp_path / "x.npy", np.load(shared_path("data", "mnist_test_images.npy"))[:2])
    assert main(["explain", str(resnet), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R.zarr"), "--png", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "--png is not available with --out *.zarr" in err and "lrp render R.zarr" in err
    assert not (tmp_path / "R.zarr").exists() and not (tmp_path / "p").exists()


def test_info_says_an_onnx_files_scaling_is_assumed(capsys):
    """'input specification: from the ONNX input' read as if the x/255 shown above it came
    from the file; EfficientNet-Lite0's export needs (x/255 − 0.498)/0.502, set by a sidecar."""
    model = shared_path("models", "torch_onnx", "efficientnet_lite0.onnx")
    assert main(["info", str(model)]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines()
                if t.startswith("input specification:"))
    assert "assumed" in line and "efficientnet_lite0.json" in line, line


@pytest.mark.parametrize("command, write", [
    ("explain", ["--out"]), ("evaluate", ["--steps", "2", "--csv"]),
    ("sweep", ["--rule", "epsilon", "--n", "2", "--steps", "2", "--csv"]),
    ("sanity", ["--n", "2", "--csv"])])
def test_the_labels_read_beside_the_samples_are_never_overwritten(tmp_path, capsys, command,
                                                                   write):
    """x_labels.npy beside x_images.npy is read with it (``--target true`` needs no
    --labels), but was no file the command reads: ``--csv x_labels.npy --overwrite``
    replaced the labels with the ranking."""
    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    np.save(tmp_path / "x_images.npy", np.load(shared_path("data", "mnist_test_images.npy"))[:4])
    labels = tmp_path / "x_labels.npy"
    np.save(labels, np.arange(4))
    before = labels.read_bytes()
    assert main([command, str(resnet), str(tmp_path / "x_images.npy"), *write, str(labels),
                 "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "is also a file this command reads" in err and "the labels of" in err, err
    assert labels.read_bytes() == before


def test_scores_beside_the_samples_are_no_labels_and_stay_writable(tmp_path, capsys):
    """y.npy beside x.npy is their labels file only when it holds labels: the outputs an
    earlier --outputs y.npy wrote there are rewritten by the same command."""
    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    np.save(tmp_path / "x.npy", np.load(shared_path("data", "mnist_test_images.npy"))[:2])
    run = ["explain", str(resnet), str(tmp_path / "x.npy"), "--out", str(tmp_path / "R.npy"),
           "--outputs", str(tmp_path / "y.npy"), "--overwrite"]
    assert main(run) == 0 and main(run) == 0, capsys.readouterr().err
    assert np.load(tmp_path / "y.npy").shape == (2, 10)


def test_layer_rules_in_every_command_that_explains_with_one(tmp_path, capsys):
    """``lrp sweep`` prints its best setting as ``--rule … --layer-rule …``, which explain and
    concepts took while spray, sweep and sanity had no --layer-rule."""
    from lrpcore.cli.main import build_parser
    from lrpcore.spray import SprayResult

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    helps = {c: next(a.help for a in sub[c]._actions if "--layer-rule" in a.option_strings)
             for c in ("concepts", "spray", "sweep", "sanity")}
    assert len(set(helps.values())) == 1, helps
    resnet = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    x = tmp_path / "x_images.npy"
    np.save(x, np.load(shared_path("data", "mnist_test_images.npy"))[:40])
    np.save(tmp_path / "x_labels.npy", np.load(shared_path("data", "mnist_test_labels.npy"))[:40])
    key = "layer1.*=zplus"
    assert main(["sanity", resnet, str(x), "--n", "4", "--rule", "epsilon:0.01", "--quiet",
                 "--layer-rule", key]) in (0, 3)
    assert "epsilon:0.01 with 5=zplus, 8=zplus" in capsys.readouterr().out
    assert main(["sanity", resnet, str(x), "--rule", "sensitivity", "--layer-rule", key]) == 2
    assert "takes no per-layer rules" in capsys.readouterr().err
    assert main(["sweep", resnet, str(x), "--rule", "epsilon", "--param", "epsilon=0.01,1",
                 "--n", "4", "--steps", "2", "--quiet", "--layer-rule", key]) == 0
    best = capsys.readouterr().out.splitlines()[-1]
    assert "--layer-rule 'layer1.*=zplus'" in best, best
    for name, extra in (("a", []), ("b", ["--layer-rule", key])):
        assert main(["spray", resnet, str(x), "--class", "1", "--embedding", "none", "--out",
                     str(tmp_path / f"{name}.npz"), *extra]) == 0
    a, b = (SprayResult.load(tmp_path / f"{n}.npz") for n in "ab")
    assert b.meta["rule"] == "EpsilonPlus with 5=zplus, 8=zplus" and a.meta["rule"] == "EpsilonPlus"
