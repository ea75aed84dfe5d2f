"""Per-layer rules and conditions on graph nodes: merges take an ε-rule or refuse (never
ignore) a rule; average pools apply the rule named; keys are indices, names and globs."""

from __future__ import annotations

import numpy as np
import pytest
from cli_help import help_words
from test_graph_engine import _branchy

import lrpcore
from lrpcore import RuleError

pytest.importorskip("onnx")

RNG = np.random.default_rng(11)


@pytest.fixture
def branchy(tmp_path):
    path, _ = _branchy(tmp_path)
    model = lrpcore.load_model(path)
    x = RNG.standard_normal((2, 2, 6, 6))
    return model, lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)


@pytest.mark.parametrize("key, spec, words", [
    ("res.add", "alphabeta:2", ["'res.add'", "alphabeta:2", "does not apply to a merge",
                                "epsilon"]),
    ("res.add", "zplus", ["'res.add'", "zplus", "Concat takes none"]),
    ("block.cat", "epsilon:0.1", ["'block.cat'", "exactly and takes no rule"]),
])
def test_a_rule_a_merge_cannot_take_is_refused_naming_node_and_rule(branchy, key, spec, words):
    model, fwd = branchy
    with pytest.raises(RuleError) as err:
        fwd.relevance("EpsilonPlus", layer_rules={key: spec})
    msg = str(err.value)
    assert all(w in msg for w in words), msg
    index = model.node_names.index(key)
    with pytest.raises(RuleError, match="merge|no rule"):  # by index as well
        fwd.relevance("EpsilonPlus", layer_rules={index: spec})


def test_the_cli_refuses_it_with_exit_2(branchy, tmp_path, capsys):
    from lrpcore.cli.main import main

    model, _ = branchy
    np.save(tmp_path / "x.npy", RNG.standard_normal((1, 2, 6, 6)))
    code = main(["explain", model.source, str(tmp_path / "x.npy"), "--raw", "--rule",
                 "EpsilonPlus", "--layer-rule", "res.add=alphabeta:2", "--out",
                 str(tmp_path / "r.npy")])
    err = capsys.readouterr().err
    assert code == 2 and "res.add" in err and "merge" in err
    assert not (tmp_path / "r.npy").exists()


@pytest.mark.parametrize("spec, eps", [("epsilon:1", 1.0), ("simple", 1e-16)])
def test_an_epsilon_rule_on_an_add_sets_its_stabiliser(branchy, spec, eps):
    model, fwd = branchy
    k = model.node_names.index("res.add")
    _, trace = fwd.relevance("EpsilonPlus", layer_rules={"res.add": spec}, trace=True)
    y = fwd.activations[k + 1]
    want = trace.outputs[k] * y / (y + eps * np.where(y >= 0, 1.0, -1.0))
    np.testing.assert_allclose(trace[k], want, rtol=1e-9, atol=1e-300)
    assert np.all(np.isfinite(trace[k]))


def test_a_rule_on_an_average_pool_is_applied(branchy):
    """The pool reads ReLU outputs (x ≥ 0): α2β1 there gives twice the Norm rule's share."""
    model, fwd = branchy
    k = model.node_names.index("pool")
    _, default = fwd.relevance("EpsilonPlus", trace=True)
    _, ab = fwd.relevance("EpsilonPlus", layer_rules={"pool": "alphabeta:2"}, trace=True)
    np.testing.assert_allclose(ab.outputs[k], default.outputs[k], rtol=1e-12)
    np.testing.assert_allclose(ab[k], 2 * default[k], rtol=1e-5)


def test_a_glob_of_merges_only_says_how_to_name_a_merge(branchy):
    _, fwd = branchy
    with pytest.raises(RuleError, match="exact name"):
        fwd.relevance("EpsilonPlus", layer_rules={"*.add": "epsilon:0.1"})


def test_condition_keys_take_globs_like_layer_rules(branchy):
    """A glob conditions every node it matches (here both residual convolutions), as the
    same mask given by name to each; a key matching nothing is a RuleError."""
    model, fwd = branchy
    mask = np.zeros(8)
    mask[2] = 1.0
    by_glob = fwd.relevance("EpsilonPlus", condition={"res.[ab]": mask})
    by_name = fwd.relevance("EpsilonPlus", condition={"res.a": mask, "res.b": mask})
    np.testing.assert_array_equal(by_glob, by_name)
    plain = fwd.relevance("EpsilonPlus")
    assert not np.allclose(by_glob, plain)
    with pytest.raises(RuleError, match="no node is named or matches 'nothing.*'"):
        fwd.relevance("EpsilonPlus", condition={"nothing.*": mask})
    with pytest.raises(RuleError, match="neither a node index nor a name"):
        fwd.relevance("EpsilonPlus", condition={2.5: mask})
    with pytest.raises(RuleError, match="node 500 does not exist"):
        fwd.relevance("EpsilonPlus", condition={500: mask})


def test_explain_help_and_rules_document_layer_rule_keys(capsys):
    from lrpcore.cli.main import main

    text = help_words(capsys, ["explain"])
    for words in ["node name", "glob", "PyTorch module path", "'layer1.*=zplus'",
                  "--layer-rule 'layer1.*=alphabeta:2'"]:
        assert words in text, words
    assert main(["rules"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "per-layer rules" in text and "PyTorch module path" in text
