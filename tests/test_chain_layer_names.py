"""Chain (toolbox) models' layers are named as graph models' nodes are: ``lrp info`` shows
``convolution0``, ``rect0``, ... (the names ``lrp concepts --layer`` already took) and
``--layer-rule`` and condition keys take them and globs of them. Before, a chain model
refused every key but an index ("not a layer number"), while graph models took names."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import RuleError
from lrpcore.explain import Explainer, layer_indices, resolve_rules


@pytest.fixture(scope="module")
def lenet():
    return lrpcore.load_model("mnist-lenet5")


def test_lrp_info_shows_the_names_a_layer_rule_takes(capsys):
    assert main(["info", "mnist-lenet5"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line[:3].strip().isdigit()]
    names = [row[-1] for row in rows]
    assert names[:4] == ["convolution0", "rect0", "sumpool0", "convolution1"]
    assert names[-2:] == ["convolution3", "flatten0"]


def test_names_and_globs_name_the_same_layers_as_indices(lenet):
    layers = Explainer(lenet).layers
    assert layer_indices(layers, "convolution1") == [3]
    assert layer_indices(layers, "conv*") == [0, 3, 6, 9]
    assert layer_indices(layers, "sumpool?") == [2, 5, 8]
    assert layer_indices(layers, "*") == [0, 2, 3, 5, 6, 8, 9]  # a glob: layers taking rules
    by_name = resolve_rules(layers, "epsilon:0.01", {"convolution0": "flat", "conv*2": "zplus"})
    by_index = resolve_rules(layers, "epsilon:0.01", {0: "flat", 6: "zplus"})
    assert by_name == by_index


def test_a_name_in_explain_gives_the_index_relevance(lenet, tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.load(shared_path("data", "mnist_test_images.npy"))[:2])
    common = ["explain", "mnist-lenet5", str(x), "--rule", "epsilon:0.01"]
    assert main([*common, "--layer-rule", "0=flat", "--layer-rule", "6=zplus",
                 "--out", str(tmp_path / "a.npy")]) == 0
    assert main([*common, "--layer-rule", "convolution0=flat", "--layer-rule",
                 "convolution2=zplus", "--out", str(tmp_path / "b.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert "epsilon:0.01 with 0=flat, 6=zplus" in capsys.readouterr().out


@pytest.mark.parametrize("key", ["nothing", "nothing.*"])
def test_a_key_matching_nothing_says_what_a_graph_model_says(tmp_path, capsys, key):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 28, 28), dtype=np.uint8))
    graph = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    errors = []
    for model in ("mnist-lenet5", str(graph)):
        out = tmp_path / "R.npy"
        assert main(["explain", model, str(x), "--layer-rule", f"{key}=flat",
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f": {model}: " in err  # the error names the model it was checked against
        errors.append(err.replace(model, "MODEL"))
        assert not out.exists()
    assert errors[0] == errors[1]
    assert f"no node is named or matches {key!r}" in errors[0]
    assert "'lrp info MODEL' lists the layer names" in errors[0] and errors[0].count("\n") == 1


def test_a_name_of_a_layer_without_a_rule_is_refused_like_its_index(lenet):
    layers = Explainer(lenet).layers
    with pytest.raises(RuleError, match=r"layer 1 \(Rect\) passes relevance through"):
        resolve_rules(layers, "epsilon:0.01", {"rect0": "flat"})
    with pytest.raises(RuleError, match=r"no layer that takes a rule matches 'rect\*'"):
        resolve_rules(layers, "epsilon:0.01", {"rect*": "flat"})


def test_condition_keys_take_chain_names(lenet):
    fwd = Explainer(lenet).forward(np.zeros((1, 28, 28), dtype=np.uint8) + 40)
    mask = np.zeros(25)
    mask[3] = 1.0
    by_name = fwd.relevance("epsilon:0.01", condition={"convolution1": mask})
    by_index = fwd.relevance("epsilon:0.01", condition={3: mask})
    np.testing.assert_array_equal(by_name, by_index)
    with pytest.raises(RuleError, match="no node is named or matches 'conv9'"):
        fwd.relevance("epsilon:0.01", condition={"conv9": mask})
