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


@pytest.mark.parametrize(("key", "layers", "exports"), [
    ("stage.0.branch1.0", "5=flat", ("ts", "dynamo")),  # a Sequential inside a Sequential's item
    ("stage.0.branch1.*", "5=flat, 6=flat", ("ts", "dynamo")),
    ("conv1.0", "2=flat", ("ts", "dynamo")),
    ("stage.stage.0.branch1.*", "5=flat, 6=flat", ("ts",))])  # the scopes joined, as before
def test_layer_rule_takes_the_module_path_of_a_nested_module(tmp_path, capsys,
                                                            shufflenet_inputs, key, layers,
                                                            exports):
    """A TorchScript export names torchvision's layer1[0].conv1 '/layer1/layer1.0/conv1/Conv';
    the module path was taken as the scopes joined, 'layer1.layer1.0.conv1', so the help's
    "PyTorch module path" ('layer1.0.conv1', 'features.1.*') named no node of any model built
    of Sequentials: "no node is named or matches 'layer1.0.*'". A dynamo=True export (torch's
    default exporter since 2.9) names its nodes node_conv2d_1, n0: no module path at all."""
    for export in exports:
        out = tmp_path / f"R_{export}.npy"
        assert main(["explain", str(ZOO / f"shufflenet_{export}.onnx"), str(shufflenet_inputs),
                     "--raw", "--rule", "EpsilonPlus", "--layer-rule", f"{key}=flat", "--quiet",
                     "--out", str(out)]) == 0, capsys.readouterr().err
        assert f"EpsilonPlus with {layers} (target pred)" in capsys.readouterr().out, export


def test_a_dynamo_exports_module_paths_are_shown_and_converted(tmp_path, capsys,
                                                              shufflenet_inputs):
    """`lrp info` of a dynamo=True export listed node_conv2d_1, node_relu_1, n0 …: nothing
    said which module a layer is. It shows each one's module (a fused BatchNorm's convolution
    by its weight's, not the BatchNorm's), and `lrp convert` keeps them for --layer-rule."""
    import re

    assert main(["info", str(ZOO / "shufflenet_dynamo.onnx")]) == 0
    info = capsys.readouterr().out
    assert re.search(r"  node +module\n", info), info
    assert re.search(r"\s5  Depthwise convolution .* node_conv2d_1 +stage\.0\.branch1\.0\n",
                     info), info
    native = tmp_path / "shufflenet.npz"
    assert main(["convert", str(ZOO / "shufflenet_dynamo.onnx"), str(native)]) == 0
    capsys.readouterr()
    assert main(["info", str(native)]) == 0
    table = info[info.index("\n") + 1:info.index("total parameters")]
    assert table in capsys.readouterr().out
    assert main(["explain", str(native), str(shufflenet_inputs), "--raw", "--quiet",
                 "--rule", "EpsilonPlus", "--layer-rule", "stage.0.branch1.*=flat",
                 "--out", str(tmp_path / "R.npy")]) == 0
    assert "EpsilonPlus with 5=flat, 6=flat (target pred)" in capsys.readouterr().out
    assert main(["info", str(ZOO / "shufflenet_ts.onnx")]) == 0  # its names say it
    assert "module" not in capsys.readouterr().out.split("\n")[1]


@pytest.mark.parametrize("module", ["layer1/../x", "", 7, "a" * 201, "layer1.\x1b[2J"])
def test_a_native_header_module_that_is_no_module_path_is_refused(tmp_path, capsys, module):
    """The header's "module" (kept by `lrp convert` from a dynamo export) is shown by `lrp
    info` and matched by --layer-rule: only dotted Python names are taken."""
    import json

    native = tmp_path / "m.npz"
    assert main(["convert", str(ZOO / "shufflenet_dynamo.onnx"), str(native)]) == 0
    with np.load(native) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays["header"]))
    header["layers"][5]["module"] = module
    arrays["header"] = np.array(json.dumps(header))
    np.savez(native, **arrays)
    capsys.readouterr()
    assert main(["info", str(native)]) == 2
    err = capsys.readouterr().err
    assert (f"{native}: header layer 5: 'module' must be a PyTorch module path such as "
            "layer1.0.conv1 (dotted names, at most 200 characters)") in err, err


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


@pytest.fixture
def resnet_inputs(tmp_path):
    """The zoo ResNet's float inputs, N×3×H×W as the export takes them (--raw)."""
    x = tmp_path / "xr.npy"
    np.save(x, np.load(ZOO / "resnet.npz")["x"])
    return x


@pytest.mark.parametrize(("given", "best"), [
    ([], "best: --rule EpsilonPlus --layer-rule /fc/Gemm=epsilon:0.1\n"),
    (["--layer-rule", "/avgpool/GlobalAveragePool=epsilon:0.01"],  # asked for: swept too
     "best: --rule EpsilonPlus --layer-rule /avgpool/GlobalAveragePool=epsilon:0.1 "
     "--layer-rule /fc/Gemm=epsilon:0.1\n"),
    (["--layer-rule", "/layer1/conv1/Conv=flat", "--layer-rule", "-1=epsilon:0.01"],
     "best: --rule EpsilonPlus --layer-rule /layer1/conv1/Conv=flat "
     "--layer-rule /fc/Gemm=epsilon:0.1\n")])
def test_a_preset_sweep_keeps_zennits_norm_at_a_graphs_mean_pool(tmp_path, capsys,
                                                                 resnet_inputs, given, best):
    """`lrp sweep resnet.onnx … --rule EpsilonPlus --param epsilon=…` gave the global average
    pool the swept ε too ("best: … --layer-rule /avgpool/GlobalAveragePool=epsilon:0.1
    --layer-rule /fc/Gemm=epsilon:0.1"): zennit's EpsilonPlus(epsilon=0.1) keeps its Norm
    (ε 1e-6) there, as lrp does under a plain rule; on torchvision's ResNet-18 the setting was
    6 % of max|R| off zennit's. A pool the user's --layer-rule names is swept, and a key of
    the user's whose layers the setting all replaces is not repeated before its override."""
    assert main(["sweep", str(ZOO / "resnet_ts.onnx"), str(resnet_inputs), "--raw", "--quiet",
                 "--rule", "EpsilonPlus", "--param", "epsilon=0.1", "--steps", "2",
                 *given]) == 0
    out = capsys.readouterr().out
    assert out.endswith(best), out


@pytest.mark.parametrize(("argv", "name"), [
    (["explain", "mnist-lenet5", "X", "--out", "R.npy", "--png", ""], "--png"),
    (["evaluate", "mnist-lenet5", "X", "--plot", ""], "--plot"),
    (["sanity", "mnist-lenet5", "X", "--plot", ""], "--plot"),
    (["sweep", "mnist-lenet5", "X", "--rule", "epsilon", "--csv", ""], "--csv"),
    (["render", "R.npy", "--out", ""], "--out"),
    (["explain", "", "X", "--out", "R.npy"], "model"),
    (["data", "info", ""], "dataset")])
def test_an_empty_argument_is_refused_by_name(tmp_path, capsys, monkeypatch, argv, name):
    """--png "" and --plot "" were taken as not given (no picture, not a word); `lrp sweep
    --csv ""` ran the whole sweep, then failed ": write failed: No such file or directory";
    an empty model name was ": no such file or bundled model"."""
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "X.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    command = " ".join(argv[:2] if argv[0] == "data" else argv[:1])
    assert capsys.readouterr().err == (f"lrp {command}: error: argument {name}: an empty "
                                       f"value; give a name or value (see 'lrp {command} "
                                       "--help')\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy"]


def test_a_checkpoint_of_another_network_names_the_missing_tensor(tmp_path, capsys):
    """`lrp convert resnet18.pth e.npz --arch efficientnet-lite0` said "not a state dict of
    efficientnet-lite0 ('_conv_stem.weight')": the name alone, in parentheses, did not say
    that the checkpoint lacks it."""
    from hostile_files import save_pth_state_dict

    pth = save_pth_state_dict(tmp_path / "resnet18.pth",
                              {"conv1.weight": np.zeros((4, 3, 3, 3), np.float32)})
    assert main(["convert", str(pth), str(tmp_path / "e.npz"), "--arch",
                 "efficientnet-lite0"]) == 2
    err = capsys.readouterr().err
    assert (f"{pth}: not a state dict of efficientnet-lite0: it has no tensor "
            f"'_conv_stem.weight' ('lrp info {pth}' lists its tensors)") in err, err
    assert not (tmp_path / "e.npz").exists()


@pytest.fixture
def folder_with_a_corrupt_photo(tmp_path):
    """Two digit photographs and a file that is no image: reading the folder warns."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(2):
        Image.fromarray(np.full((28, 28), 40 * k, np.uint8)).save(folder / f"d{k}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"cut short")
    return folder


@pytest.mark.parametrize("command", [
    ["explain", "--out", "R.npy"], ["evaluate"], ["sweep"], ["sanity"],
    ["concepts", "--layer", "0", "--out", "c"], ["spray", "--out", "s.npz"]])
@pytest.mark.parametrize(("option", "said"), [
    (["--rule", "EpsilonPluss"], "lrp {}: error: unknown rule 'EpsilonPluss' (did you mean "
                                 "EpsilonPlus?)"),
    (["--rule", "epsilon", "--layer-rule", "0=flatt"],
     "lrp {}: error: --layer-rule '0=flatt': unknown rule 'flatt' (did you mean flat?)")])
def test_a_misspelt_rule_is_refused_before_the_samples_are_read(
        tmp_path, capsys, monkeypatch, folder_with_a_corrupt_photo, command, option, said):
    """`lrp evaluate resnet.onnx photos/ --rule EpsilonPluss` decoded every photograph of the
    folder (and warned about the one it could not read) before saying the rule name was
    misspelt; a --layer-rule's SPEC alike, in every command that takes rules."""
    monkeypatch.chdir(tmp_path)
    name, *options = command
    assert main([name, "mnist-lenet5", str(folder_with_a_corrupt_photo), *options,
                 *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith(said.format(name)), err
    assert "broken.png" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


@pytest.mark.parametrize("command", ["explain", "evaluate", "sweep", "sanity", "concepts"])
def test_target_help_says_which_starts_of_a_class_name_are_taken(capsys, command):
    """The helps said a class name may be given by "its unambiguous start", but `--target
    ca` for a model whose only class starting so is "cat" was refused ("no class of the model
    has this name; close: 3 (cat)"): a start is taken as whole words ("egyptian" for
    "Egyptian cat", never "cat" for "catamaran")."""
    from cli_help import help_words

    text = help_words(capsys, [command])
    assert ('a class name ("Egyptian cat"; any case, or its first whole words, "egyptian"'
            in text), text
    assert "unambiguous start" not in text


def test_spray_refuses_too_many_clusters_before_its_note(tmp_path, capsys):
    """`lrp spray M x.npy --k 5` of 3 unlabelled samples printed "note: x.npy has no labels:
    each sample is explained for its predicted class", then refused the run: a note for a run
    that never happened."""
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(1).integers(0, 256, (3, 28, 28), np.uint8))
    assert main(["spray", "mnist-lenet5", str(x), "--k", "5", "--quiet",
                 "--out", str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert err == ("lrp spray: error: 5 clusters of 3 samples: SpRAy needs fewer clusters than "
                   "samples (at most 2 here)\n"), err
