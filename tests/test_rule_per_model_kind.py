"""The explorer remembers a rule and dtype per kind of model (toolbox chains, graph models),
not one for all: a toolbox user's alphabeta:2 was replaced by the graph models' EpsilonPlus
on opening an ONNX model, and opening a toolbox model again gave epsilon:0.01 instead of it.
Each kind gets back what was last chosen for it, also in the next run; a kind never changed
by the user starts from its defaults (or the model's recommended rule)."""

from __future__ import annotations

import json

import pytest

import lrpcore
from lrpcore.bundled import default_model_path
from lrpgui.session import Session
from lrpgui.state import AppState


@pytest.fixture
def graph(tmp_path):
    from colour_models import colour_graph_model

    path = tmp_path / "graph.npz"
    lrpcore.save_model(colour_graph_model(16), path)
    return path


def test_each_kind_gets_back_its_own_choice(graph):
    session = Session(AppState())
    st = session.state
    session.open_model(default_model_path())
    st.rule, st.dtype = "alphabeta:2", "float32"  # the user's choice for toolbox models
    session.open_model(graph)
    assert (st.rule, st.dtype) == ("EpsilonPlus", "float32") and "recommended" in st.status
    st.rule = "EpsilonAlpha2Beta1"  # ... and for graph models
    session.open_model(default_model_path())
    assert (st.rule, st.dtype) == ("alphabeta:2", "float32")
    assert "your last choice for models of this kind" in st.status
    session.open_model(graph)
    assert (st.rule, st.dtype) == ("EpsilonAlpha2Beta1", "float32")
    # the next run remembers both kinds' choices
    saved = session.remembered()
    assert json.loads(saved["other_kinds"]) == {"toolbox": {"rule": "alphabeta:2",
                                                            "dtype": "float32"}}
    fresh = Session(AppState())
    fresh.restore(saved)
    fresh.open_model(default_model_path())
    assert (fresh.state.rule, fresh.state.dtype) == ("alphabeta:2", "float32")
    fresh.open_model(graph)
    assert (fresh.state.rule, fresh.state.dtype) == ("EpsilonAlpha2Beta1", "float32")


def test_a_kind_left_at_its_defaults_starts_from_them_again(graph, tmp_path):
    from colour_models import colour_graph_model

    session = Session(AppState())
    st = session.state
    session.open_model(graph)  # graph defaults, not changed
    session.open_model(default_model_path())
    assert (st.rule, st.dtype) == ("epsilon:0.01", "float64")
    model = colour_graph_model(16)
    model.meta["recommended_rule"] = "EpsilonGammaBox"
    recommending = tmp_path / "rec.npz"
    lrpcore.save_model(model, recommending)
    session.open_model(recommending)  # nothing chosen for graphs: the model's recommendation
    assert st.rule == "EpsilonGammaBox"
    # a remembered choice that no longer parses is no memory
    fresh = Session(AppState())
    fresh.restore({"settings_kind": "toolbox",
                   "other_kinds": json.dumps({"zennit": {"rule": "nope", "dtype": "f"}})})
    fresh.open_model(graph)
    assert (fresh.state.rule, fresh.state.dtype) == ("EpsilonPlus", "float32")
    fresh.restore({"other_kinds": "not json"})
    assert fresh.other_kinds == {}


def test_picking_another_rule_clears_the_message_naming_the_start(graph):
    """"EpsilonPlus in float32: recommended for this model" stayed in the status bar after
    the user picked another rule (the review noticed it); any other message stays."""
    session = Session(AppState())
    st = session.state
    session.open_model(default_model_path())
    session.open_model(graph)
    assert st.status == "EpsilonPlus in float32: recommended for this model"
    st.rule = "EpsilonAlpha2Beta1"
    assert st.status == ""
    session.open_model(default_model_path())
    st.status = "wrote heatmap.png"
    st.dtype = "float64"
    assert st.status == "wrote heatmap.png"
