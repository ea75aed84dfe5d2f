"""The ``lrp`` commands' shared options (stop 26): what one command took and another did not,
or took with another meaning."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

from lrpcore.cli.main import build_parser, main


def _digits(tmp_path, n=4):
    path = tmp_path / "x.npy"
    np.save(path, np.load(shared_path("data", "mnist_test_images.npy"))[:n])
    return str(path)


def test_evaluate_takes_layer_rules_as_explain(tmp_path, capsys):
    """``lrp evaluate`` had no ``--layer-rule`` (explain, concepts, spray, sweep and sanity
    took it): a composite tuned with it could not be scored. It applies to every LRP rule,
    names ONNX nodes as the others do, and is refused where only baselines are scored."""
    resnet = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    x = _digits(tmp_path)
    base = ["evaluate", resnet, x, "--n", "4", "--steps", "2", "--no-random", "--quiet"]
    assert main([*base, "--csv", str(tmp_path / "a.csv")]) == 0
    assert main([*base, "--csv", str(tmp_path / "b.csv"), "--layer-rule", "/conv1/*=flat"]) == 0
    plain = (tmp_path / "a.csv").read_text().splitlines()[1:]
    ruled = (tmp_path / "b.csv").read_text().splitlines()[1:]
    assert all("=flat" in row for row in ruled) and not any("flat" in r for r in plain)
    capsys.readouterr()
    assert main([*base, "--rule", "sensitivity", "--layer-rule", "/conv1/Conv=flat"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--layer-rule needs an LRP rule" in err, err


def _subparser(command):
    parser = build_parser()
    action = parser._subparsers._group_actions[0]
    sub = action.choices
    for word in command.split():
        found = sub[word]
        actions = [a for a in found._actions if a.__class__.__name__ == "_SubParsersAction"]
        sub = actions[0].choices if actions else None
    return found


LRP_COMMANDS = ("explain", "evaluate", "sweep", "sanity", "concepts", "spray", "demo")
PROGRESS_COMMANDS = ("explain", "evaluate", "sweep", "sanity", "concepts", "spray",
                     "data download")


@pytest.mark.parametrize("command", LRP_COMMANDS)
def test_every_command_that_runs_lrp_takes_one_dtype_option(command):
    """``--dtype`` was float64 only in concepts, missing in spray, and defined four ways with
    three defaults: now one definition, whose help says the default and why it is not the
    model's where it is not."""
    (action,) = [a for a in _subparser(command)._actions if "--dtype" in a.option_strings]
    assert tuple(action.choices) == ("float32", "float64")
    assert "default" in action.help
    default = action.default
    if command == "spray":  # None in the parser, so that a store's note sees it given
        from lrpcore.cli.cmd_spray import PASS_DEFAULTS

        assert default is None
        default = PASS_DEFAULTS["dtype"]
    if default is None:
        assert "the model's" in action.help
    else:
        assert f"default {default}:" in action.help  # with its reason


def test_concepts_and_spray_compute_in_the_dtype_asked_for(tmp_path, monkeypatch, capsys):
    """``lrp concepts`` and ``lrp spray`` explained in float64 whatever was asked."""
    import lrpcore.concepts
    import lrpcore.spray

    used = []

    def spy(module, name):
        real = getattr(module, name)

        def call(ex, *args, **kwargs):
            used.append(ex.dtype.name)
            return real(ex, *args, **kwargs)

        monkeypatch.setattr(module, name, call)

    spy(lrpcore.concepts, "resolve_layer")
    spy(lrpcore.spray, "spray")
    x = _digits(tmp_path, 6)
    np.save(tmp_path / "x_labels.npy", np.load(shared_path("data", "mnist_test_labels.npy"))[:6])
    assert main(["concepts", "mnist-lenet5", x, "--layer", "0", "--top", "1",
                 "--references", "0", "--out", str(tmp_path / "c"), "--dtype", "float32"]) == 0
    assert used and set(used) == {"float32"}, used  # each concepts step checks the layer
    concepts_calls = len(used)
    assert main(["spray", "mnist-lenet5", x, "--out", str(tmp_path / "s.npz"), "--k", "2",
                 "--embedding", "none", "--dtype", "float32", "--quiet"]) == 0, \
        capsys.readouterr().err
    assert main(["spray", "mnist-lenet5", x, "--out", str(tmp_path / "t.npz"), "--k", "2",
                 "--embedding", "none"]) == 0
    assert used[concepts_calls:] == ["float32", "float64"], used  # the default: the explorer's


@pytest.mark.parametrize("command", PROGRESS_COMMANDS)
def test_progress_and_quiet_mean_the_same_in_every_command(command, capsys):
    """``--progress`` (explain, spray) and ``--quiet`` (evaluate, sweep, sanity, data
    download) were each taken by some commands only, and data download drew its bar into a
    log that no other command drew into: now both everywhere, a terminal decides by default,
    and the two together are refused in one line."""
    parser = _subparser(command)
    required = {"explain": ["m", "x", "--out", "R.npy"], "evaluate": ["m", "x"],
                "sweep": ["m", "x", "--rule", "epsilon"], "sanity": ["m", "x"],
                "concepts": ["m", "x", "--layer", "0", "--out", "c"],
                "spray": ["m", "x", "--out", "s.npz"], "data download": []}[command]
    assert parser.parse_args(required).progress is None
    assert parser.parse_args([*required, "--progress"]).progress is True
    assert parser.parse_args([*required, "--quiet"]).progress is False
    with pytest.raises(SystemExit) as stop:
        parser.parse_args([*required, "--progress", "--quiet"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not allowed with argument --progress" in err, err


def test_evaluate_draws_its_bar_into_a_log_when_asked(tmp_path, capsys):
    """``lrp evaluate --progress`` (a log that is no terminal) was refused."""
    x = _digits(tmp_path, 2)
    assert main(["evaluate", "mnist-lenet5", x, "--steps", "2", "--progress"]) == 0
    assert "evaluating [" in capsys.readouterr().err
    assert main(["evaluate", "mnist-lenet5", x, "--steps", "2"]) == 0
    assert "evaluating [" not in capsys.readouterr().err  # stderr is no terminal here


def test_relmax_cache_keeps_float32_references_apart(tmp_path, monkeypatch):
    """With ``lrp concepts --dtype`` the reference cache, keyed without the precision, gave
    float32 runs the float64 references (and back); float64's key stays what it was."""
    import lrpcore
    from lrpcore import relmax
    from lrpcore.explain import Explainer

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    computed = []

    def fake(explainer, images, k, rule=None, target="pred", labels=None, n=8, **kw):
        computed.append(explainer.dtype.name)
        return relmax.References(k, np.zeros((1, 1), np.int64), np.zeros((1, 1)),
                                 np.zeros((1, 1, 4), np.int32),
                                 np.ones((1, 1, 4, 4), np.float32), np.zeros((1, 1)))

    monkeypatch.setattr(relmax, "compute_references", fake)
    model = lrpcore.load_model("mnist-lenet5")
    for dtype in ("float64", "float32", "float32", "float64"):
        relmax.references(Explainer(model, "numpy", dtype), 4, 0, "flat", dataset_id="d")
    assert computed == ["float64", "float32"], computed
    old_key = relmax.cache_key(model, relmax._config(Explainer(model, "numpy"), "flat"),
                               "pred", 0, "d", 8)
    assert (tmp_path / "relmax" / f"{old_key}.npz").exists()


def test_convert_refuses_a_graph_as_txt_before_the_output_checks(tmp_path, capsys):
    """``lrp convert x.onnx out/x.txt`` said "folder out does not exist" (and with x.json
    there, "file exists"); once that was fixed, that .txt cannot hold the graph at all."""
    resnet = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    (tmp_path / "x.json").write_text("{}")
    for out in (tmp_path / "missing" / "x.txt", tmp_path / "x.txt"):
        assert main(["convert", resnet, str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{out}: the LRP Toolbox's text format has no form" \
            in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    assert (tmp_path / "x.json").read_text() == "{}"


def test_every_layer_rule_example_of_lrp_rules_works_where_it_is_given(capsys):
    """``lrp rules`` gave ``--layer-rule 0=flat`` as the example for every model: on an ONNX
    graph layer 0 is the change of the input's layout, which takes no rule (refused), and
    ``'layer1.*=zplus'`` names no layer of a chain. Each example now says its kind of model
    and resolves there; one given for no kind must resolve on both."""
    import re

    import lrpcore
    from lrpcore.explain import Explainer, resolve_rules

    assert main(["rules"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    models = {"chain": lrpcore.load_model(str(shared_path("models", "lrp_toolbox",
                                                          "LeNet-5.txt"))),
              "graph": lrpcore.load_model(str(shared_path("models", "torch_onnx",
                                                          "mnist_resnet.onnx")))}
    kinds = {"chain": ("chain",), "ONNX graph": ("graph",)}
    examples = []
    for part in text.split("; "):
        said = [kinds[k] for k in kinds if f"for an {k}:" in part or f"for a {k}" in part]
        for key in re.findall(r"--layer-rule '?([^' ]+=[^' ]+?)'?(?=[ ;)]|$)", part):
            examples.append((key, said[0] if said else tuple(models)))
    assert len(examples) >= 4, examples
    for key, where in examples:
        name, _, spec = key.rpartition("=")
        layer_key = int(name) if name.lstrip("-").isdigit() else name
        for kind in where:
            layers = Explainer(models[kind], "numpy").layers
            config = resolve_rules(layers, "epsilon", {layer_key: spec})
            assert config.description != "epsilon", (key, kind)


@pytest.mark.parametrize("command", ["explain", "evaluate", "sweep", "sanity", "concepts",
                                     "spray"])
def test_a_layer_rule_key_the_model_lacks_names_the_option_and_the_model(command, tmp_path,
                                                                          capsys):
    """``--layer-rule '/conv1/Conv=flat'`` on a toolbox chain said "no node is named or
    matches '/conv1/Conv'", naming neither the option nor the model (the key is right for
    another model); a bad SPEC names the option alone."""
    lenet = str(shared_path("models", "lrp_toolbox", "LeNet-5.txt"))
    x = _digits(tmp_path)
    rest = {"explain": ["--out", str(tmp_path / "R.npy")], "evaluate": ["--steps", "2"],
            "sweep": ["--rule", "epsilon", "--steps", "2", "--n", "2"], "sanity": ["--n", "2"],
            "concepts": ["--layer", "0", "--out", str(tmp_path / "c")],
            "spray": ["--out", str(tmp_path / "s.npz"), "--target", "pred"]}[command]
    for item, said in (("/conv1/Conv=flat", f"--layer-rule '/conv1/Conv=flat': {lenet}: no "),
                       ("0=bogus", "--layer-rule '0=bogus': unknown rule 'bogus'")):
        assert main([command, lenet, x, *rest, "--layer-rule", item]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"lrp {command}: error: {said}" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_concepts_layer_that_the_model_lacks_names_the_option_and_the_model(tmp_path, capsys):
    resnet = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    assert main(["concepts", resnet, _digits(tmp_path), "--layer", "/nope", "--out",
                 str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lrp concepts: error: --layer '/nope': {resnet}: no layer"), err
    assert not (tmp_path / "c").exists()


def test_evaluate_refuses_a_patch_that_covers_the_whole_image(tmp_path, capsys):
    """``--patch 100`` on 28×28 digits flipped the whole image in one step: every ordering
    gave the same curve, and the AOPC of the rule and of random order tied (exit 0)."""
    x = _digits(tmp_path, 2)
    assert main(["evaluate", "mnist-lenet5", x, "--patch", "100", "--csv",
                 str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "patch size 100: the 28×28 image is a single patch" in err
    assert not (tmp_path / "f.csv").exists()
    assert main(["evaluate", "mnist-lenet5", x, "--patch", "14", "--per-step", "1",
                 "--steps", "2"]) == 0


def test_a_truncated_nn_model_says_so_in_words(tmp_path, capsys):
    """A toolbox .nn cut short ended its error with pickle's empty "EOFError: "."""
    data = shared_path("models", "lrp_toolbox", "LeNet-5.nn").read_bytes()
    path = tmp_path / "cut.nn"
    path.write_bytes(data[:len(data) // 2])
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lrp info: error: {path}: not a readable toolbox .nn model: the file ends "
                   "in the middle of the model (truncated?)\n"), err


def test_bench_names_its_option_when_a_precision_is_unknown(capsys):
    """``lrp bench --dtypes float16`` said "unsupported dtype float16", naming no option."""
    assert main(["bench", "--models", "lenet5", "--dtypes", "float32,float16",
                 "--repeat", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrp bench: error: --dtypes 'float32,float16': float16 is no "), err


def test_info_on_samples_points_to_data_info(tmp_path, capsys):
    """``lrp info x.npy`` (or a photo folder, or ``mnist-test``) said only that .npy is no
    model format: a new user looking at their data is told which command describes it."""
    x = _digits(tmp_path, 2)
    for path in (x, str(tmp_path), "mnist-test"):
        assert main(["info", path]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"'lrp data info {path}' describes a dataset" in err
    assert main(["info", str(tmp_path / "missing.npy")]) == 2
    assert "data info" not in capsys.readouterr().err


def test_lrp_help_says_what_every_kind_of_command_does():
    """``lrp --help`` summed the commands up as "explain, render, benchmark, convert and train
    models": evaluate, sweep, sanity, concepts, spray, info and data were not in it."""
    text = build_parser().description.lower()
    for word in ("explain", "pixel-flipping", "sweep", "sanity", "concepts", "spray", "render",
                 "inspect", "convert", "train", "benchmark"):
        assert word in text, word


def test_concepts_draws_a_bar_over_its_reference_samples_when_asked(tmp_path, monkeypatch,
                                                                     capsys):
    """``lrp concepts`` searched the whole dataset for reference samples without a bar."""
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    x = _digits(tmp_path, 6)
    assert main(["concepts", "mnist-lenet5", x, "--layer", "0", "--top", "1",
                 "--references", "2", "--out", str(tmp_path / "c"), "--progress"]) == 0
    assert "references [" in capsys.readouterr().err


def test_heatmaps_of_a_model_that_takes_no_image_are_refused_naming_it(tmp_path, capsys):
    """``lrp demo`` with the toolbox's XOR net printed its accuracy and predictions, then
    failed on "relevance: a flat vector of 2 values is not a square image", naming no file;
    ``lrp explain --png`` named the option only."""
    xor = str(shared_path("models", "lrp_toolbox", "xor_net_small.txt"))
    x = tmp_path / "xor_images.npy"
    np.save(x, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float))
    np.save(tmp_path / "xor_labels.npy", np.array([0, 1, 1, 0]))
    out = tmp_path / "demo"
    assert main(["demo", "--model", xor, "--dataset", str(x), "--count", "1", "--batch", "2",
                 "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured
    assert f"the demo draws heatmaps: {xor}: relevance: a flat vector" in captured.err
    assert not out.exists()
    assert main(["explain", xor, str(x), "--out", str(tmp_path / "R.npy"), "--png",
                 str(tmp_path / "p")]) == 2
    assert f"error: --png: {xor}: relevance" in capsys.readouterr().err
    assert not (tmp_path / "R.npy").exists() and not (tmp_path / "p").exists()


def test_evaluate_refuses_steps_that_flip_the_whole_input_at_once(tmp_path, capsys):
    """``lrp evaluate`` of the XOR net (2 inputs) flipped its default 16 units per step: both
    inputs in the first step, one curve for every ordering, the rule tied with random."""
    xor = str(shared_path("models", "lrp_toolbox", "xor_net_small.txt"))
    x = tmp_path / "x.npy"
    np.save(x, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float))
    assert main(["evaluate", xor, str(x), "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "flipping 16 per step flips all 2 pixels of the input in " \
        "the first step, whatever the ordering: flip at most 1 per step" in err, err
    assert main(["evaluate", xor, str(x), "--steps", "2", "--per-step", "1"]) == 0


def test_sanity_of_maps_too_small_for_ssim_says_no_nan(tmp_path, capsys):
    """``lrp sanity`` of the XOR net printed numpy's "RuntimeWarning: invalid value
    encountered in divide" (with its source line) and "|SSIM| nan": a blank map (the input
    0, 0) has no correlation; it counts 0, as its Spearman ρ does."""
    import warnings

    from lrpcore.insight.sanity import ssim_rows

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ssim_rows(np.array([[[0.0, 0.0]], [[1.0, 2.0]]]),
                        np.array([[[0.5, -1.0]], [[2.0, 3.0]]]))
    np.testing.assert_allclose(got, [0.0, 1.0])
    xor = str(shared_path("models", "lrp_toolbox", "xor_net_small.txt"))
    x = tmp_path / "x.npy"
    np.save(x, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float))
    assert main(["sanity", xor, str(x), "--n", "4", "--quiet"]) in (0, 3)
    captured = capsys.readouterr()
    assert "nan" not in captured.out and captured.err == "", captured
