"""What a CLI acceptance review (stop 28: a researcher bringing torchvision's ResNet-18,
MobileNetV3-small and DenseNet-121 at 64×64, exported with both PyTorch exporters, and a
folder of photographs, the README as the only guide) found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrpcore.cli.main import main

ZOO = Path(__file__).parent / "data" / "zoo"


@pytest.fixture
def shufflenet_inputs(tmp_path):
    """The zoo ShuffleNet units' float inputs, N×3×8×8 as the export takes them (--raw)."""
    x = tmp_path / "x.npy"
    np.save(x, np.load(ZOO / "shufflenet.npz")["x"])
    return x


@pytest.mark.parametrize(("key", "layers"), [
    ("stage.0.branch1.0", "5=flat"),                 # nn.Sequential inside a Sequential's item
    ("stage.0.branch1.*", "5=flat, 6=flat"),
    ("conv1.0", "2=flat"),
    ("stage.stage.0.branch1.*", "5=flat, 6=flat")])  # the scopes joined, as earlier versions
def test_layer_rule_takes_the_module_path_of_a_nested_module(tmp_path, capsys,
                                                            shufflenet_inputs, key, layers):
    """A TorchScript export names torchvision's layer1[0].conv1 '/layer1/layer1.0/conv1/Conv';
    the module path was taken as the scopes joined, 'layer1.layer1.0.conv1', so the help's
    "PyTorch module path" ('layer1.0.conv1', 'features.1.*') named no node of any model built
    of Sequentials: "no node is named or matches 'layer1.0.*'"."""
    out = tmp_path / "R.npy"
    assert main(["explain", str(ZOO / "shufflenet_ts.onnx"), str(shufflenet_inputs), "--raw",
                 "--rule", "EpsilonPlus", "--layer-rule", f"{key}=flat", "--quiet",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    assert f"EpsilonPlus with {layers} (target pred)" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["R.npy", "R.npy.json", "Y.npy"])
def test_png_folder_named_as_an_output_file_is_refused_before_computing(tmp_path, capsys, name):
    """`lrp explain M x.npy --out R.npy --png R.npy` explained every sample, made the folder
    R.npy/ for the heatmaps, then failed renaming the relevance onto it: "R.npy: is a folder;
    refusing to replace it", of a name that was no folder when the command started."""
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), dtype=np.uint8))
    png = tmp_path / name
    argv = ["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"), "--quiet",
            "--outputs", str(tmp_path / "Y.npy"), "--png", str(png)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (f"lrp explain: error: {png}: named both for the --png folder and for the file "
            f"{png}; give the heatmaps' folder another name") in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_evaluate_says_where_it_wrote_its_table_and_plot(tmp_path, capsys):
    """lrp sweep and lrp sanity print "wrote FILE" for --csv and --plot; lrp evaluate wrote
    both without a word, so its output did not say whether --csv had been taken."""
    csv, plot = tmp_path / "flip.csv", tmp_path / "flip.png"
    assert main(["evaluate", "mnist-lenet5", "mnist-sample", "--n", "2", "--steps", "2",
                 "--rule", "epsilon", "--quiet", "--csv", str(csv), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f"wrote {csv}\nwrote {plot}\n"), out
    assert main(["evaluate", "mnist-lenet5", "mnist-sample", "--n", "2", "--steps", "2",
                 "--rule", "epsilon", "--quiet"]) == 0
    assert "wrote" not in capsys.readouterr().out


def test_spray_without_labels_says_so_as_a_note(tmp_path, capsys):
    """Every other line lrp writes on stderr says what it is ("lrp spray: warning: …", "lrp
    explain: note: …"); spray's "lrp spray: x.npy has no labels: each sample is explained for
    its predicted class" read like an error of a run that went on and succeeded."""
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).integers(0, 256, (12, 28, 28), np.uint8))
    assert main(["spray", "mnist-lenet5", str(x), "--embedding", "none", "--k", "2", "--quiet",
                 "--out", str(tmp_path / "s.npz")]) == 0
    err = capsys.readouterr().err
    assert (f"lrp spray: note: {x} has no labels: each sample is explained for its predicted "
            "class (--target pred)\n") in err, err
