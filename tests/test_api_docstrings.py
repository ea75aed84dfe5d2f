"""help() on the Python API's entry points documents every parameter (acceptance review:
``help(lrpcore.explain)`` was one line, naming none of rule, target, layer_rules, raw,
backend, dtype, labels or batch_size, nor what their defaults are)."""

from __future__ import annotations

import inspect

import pytest

import lrpcore

ENTRY_POINTS = {
    "explain": lrpcore.explain,
    "predict": lrpcore.predict,
    "load_model": lrpcore.load_model,
    "open_dataset": lrpcore.open_dataset,
    "Explainer": lrpcore.Explainer.__init__,
    "Explainer.forward": lrpcore.Explainer.forward,
    "Explainer.explain": lrpcore.Explainer.explain,
    "Forward.relevance": lrpcore.Forward.relevance,
    "Forward.outputs": lrpcore.Forward.outputs,
    "Forward.predictions": lrpcore.Forward.predictions,
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_parameter_is_named_in_the_docstring(name):
    func = ENTRY_POINTS[name]
    owner = lrpcore.Explainer if name == "Explainer" else func
    doc = inspect.getdoc(owner) or ""
    assert doc, f"{name} has no docstring"
    params = [p for p in inspect.signature(func).parameters if p not in ("self", "x", "model")]
    missing = [p for p in params if f"``{p}``" not in doc and f"{p} :" not in doc]
    assert missing == [], f"{name}: parameters not documented: {missing}"


def test_explain_docstring_states_the_defaults():
    doc = inspect.getdoc(lrpcore.explain)
    for words in ("EpsilonPlus", "simple", "float64", '"pred"', "layer index", "glob"):
        assert words in doc, words


def test_open_dataset_docstring_lists_the_built_in_names():
    from lrpcore.io.datasets import DATASET_NAMES

    doc = inspect.getdoc(lrpcore.open_dataset)
    assert all(f'"{name}"' in doc for name in DATASET_NAMES)
