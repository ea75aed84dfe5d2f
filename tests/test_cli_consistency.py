"""What a new user meets first on the command line (acceptance review): every option of every
command says what it does in --help, and the commands draw heatmaps in the colormap the
explorer opens with (`lrp explain --png` and `lrp render` drew black-firered while the
explorer, `lrp concepts` and `lrpcore.render.heatmap` drew bwr)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from cli_help import help_words

from lrpcore.cli.main import build_parser, main
from lrpcore.render import DEFAULT_COLORMAP


def _options_without_help(parser, name="lrp"):
    for action in parser._actions:  # argparse keeps no public list of its actions
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _options_without_help(subparser, f"{name} {sub}")
        elif not isinstance(action, argparse._HelpAction) and not (action.help or "").strip():
            yield f"{name} {'/'.join(action.option_strings) or action.dest}"


def test_every_option_of_every_command_has_help_text():
    assert list(_options_without_help(build_parser())) == []


def test_commands_and_explorer_share_the_default_colormap():
    from lrpgui.rendering import default_colormap
    from lrpgui.state import AppState

    assert default_colormap() == DEFAULT_COLORMAP == AppState().colormap
    defaults = {}
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in ("render", "concepts"):
                sub = action.choices[name]
                defaults[name] = next(a.default for a in sub._actions
                                      if "--colormap" in a.option_strings)
    assert defaults == {"render": DEFAULT_COLORMAP, "concepts": DEFAULT_COLORMAP}


def test_explain_png_without_colormap_uses_the_default(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (1, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R.npy"), "--png", str(tmp_path / "png")]) == 0
    side = json.loads((tmp_path / "png" / f"heatmap_0_{DEFAULT_COLORMAP}.png.json").read_text())
    assert side["colormap"] == DEFAULT_COLORMAP
    # the PNG names its samples as R.npy's sidecar does (it named only the model)
    assert side["dataset"] == str(tmp_path / "x.npy") and side["raw"] is False
    assert side["dataset"] == json.loads((tmp_path / "R.npy.json").read_text())["dataset"]


@pytest.mark.parametrize("command", ["explain", "render"])
def test_colormap_help_names_the_default(capsys, command):
    assert f"default {DEFAULT_COLORMAP}" in help_words(capsys, [command])


def _summaries(parser, name="lrp"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # the one-line help of each command
                yield f"{name} {choice.dest}", choice.help
            for sub, subparser in action.choices.items():
                yield from _summaries(subparser, f"{name} {sub}")


def test_command_summaries_read_alike():
    """`lrp --help` listed "Explain samples … relevance." beside "train a model …" and
    "pixel-flipping evaluation: …": one form, a capitalised sentence, for every command."""
    odd = [(name, text) for name, text in _summaries(build_parser())
           if not (text[:1].isupper() and text.rstrip().endswith((".", "?", ")")))]
    assert odd == []


def test_explain_png_help_names_the_files_it_writes(capsys, tmp_path):
    """`--png DIR` said only "also write heatmap PNGs into DIR"; the names are documented
    and are the ones written."""
    text = help_words(capsys, ["explain"])
    assert "heatmap_I_CMAP.png" in text and "heatmap_I_CMAP.png.json" in text
    from lrpcore.export import explanation_file_names

    assert explanation_file_names([3], ["jet"]) == ["heatmap_3_jet.png", "heatmap_3_jet.png.json"]


@pytest.mark.parametrize("per_step, words", [("1", "steps of 1 pixel,"),
                                             ("2", "steps of 2 pixels,")])
def test_evaluate_summary_counts_pixels_in_english(tmp_path, capsys, per_step, words):
    """`lrp evaluate --per-step 1` printed "100 steps of 1 pixels"."""
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8))
    assert main(["evaluate", "mnist-lenet5", str(x), "--rule", "epsilon:0.01", "--steps", "3",
                 "--per-step", per_step, "--csv", str(tmp_path / "f.csv"), "--quiet"]) == 0
    assert words in capsys.readouterr().out


def _example(parser, command):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command].epilog.split("example:", 1)[1].strip().splitlines()[0]


@pytest.mark.parametrize("command", ["info", "rules"])
def test_examples_that_need_no_files_run_as_written(capsys, command):
    """`lrp info --help` showed `lrp info models/LeNet-5.txt`, a file the checkout does not
    have (its models/ holds mnist-lenet5.npz ...)."""
    words = _example(build_parser(), command).split()
    assert words[:2] == ["lrp", command]
    assert main(words[1:]) == 0


def _backend_options(parser, name="lrp"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _backend_options(subparser, f"{name} {sub}")
        elif "--backend" in action.option_strings:
            yield name, action


def test_every_backend_option_offers_the_same_choices(capsys):
    """evaluate, sweep and sanity took --backend as free text: 'gpu' passed the parser and
    failed later as "backend 'cupy' requested", and 'foo' was told 'choose numpy or cupy'
    without auto. Every command now offers numpy, cupy and auto, checked by the parser."""
    found = dict(_backend_options(build_parser()))
    assert {"lrp evaluate", "lrp sweep", "lrp sanity", "lrp explain", "lrp train"} <= set(found)
    for name, action in found.items():
        assert tuple(action.choices) == ("numpy", "cupy", "auto"), name
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "mnist-lenet5", "--backend", "gpu"])
    assert exit_.value.code == 2
    assert "invalid choice: 'gpu'" in capsys.readouterr().err
