"""Third acceptance review of the engine (issue 2): toolbox-format models written here, every
rule and preset against the independent slow formulation in ``textbook_lrp``, the command line
against the Python entry points, and the defects this review found."""

from __future__ import annotations

import numpy as np
import pytest
from slow_lrp import Unstabilised
from textbook_lrp import relevance, to_toolbox_text

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import LRPError, RuleError, ShapeError

RNG = np.random.default_rng(2024)


def _linear(m, n):
    return ("linear", RNG.normal(size=(m, n)), RNG.normal(size=n) * 0.5)


def _conv(h, w, d, n, stride):
    return ("conv", RNG.normal(size=(h, w, d, n)), RNG.normal(size=n) * 0.5, stride)


# name: (layers, fed sample shape, integer inputs (for exact max-pooling ties))
MODELS = {
    "dense": ([_linear(6, 5), ("tanh",), _linear(5, 4), ("rect",), _linear(4, 3), ("softmax",)],
              (6,), False),
    # strided convolutions (stride 2 down, 1 across; then 1 down, 2 across over a gap), an
    # overlapping max pooling after a ReLU, tanh into an overlapping sum pooling
    "conv": ([_conv(3, 3, 2, 4, (2, 1)), ("rect",), ("maxpool", (2, 2), (1, 1)),
              _conv(2, 1, 4, 3, (1, 3)), ("tanh",), ("sumpool", (2, 2), (1, 1)), ("flatten",),
              _linear(3, 3)], (9, 9, 2), False),
    # max pooling first (ties in integer inputs), pooling windows with gaps between them
    "pool": ([("maxpool", (2, 2), (1, 1)), ("maxpool", (1, 2), (2, 2)), ("flatten",),
              _linear(8, 3)], (5, 5, 2), True),
    # sum pooling on signed inputs, then a convolution whose stride skips columns
    "sum": ([("sumpool", (3, 2), (2, 2)), ("tanh",), _conv(2, 1, 2, 3, (1, 2)), ("flatten",),
             _linear(12, 2), ("softmax",)], (7, 7, 2), False),
}

RULES = [("simple",), ("epsilon", 0.3), ("alphabeta", 2.0), ("alphabeta", 1.0),
         ("alphabeta", 0.0), ("alphabeta", 0.5), ("flat",), ("ww",), ("zplus",),
         ("gamma", 0.25), ("zb", -2.0, 3.0)]
TARGETS = ["pred", "output", 1]


def spec_of(rule) -> str:
    return ":".join([rule[0], *(repr(v) for v in rule[1:])])


def rel(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every model as a toolbox .txt file, loaded back, with inputs for it."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name, (layers, shape, integers) in MODELS.items():
        path = folder / f"{name}.txt"
        path.write_text(to_toolbox_text(layers))
        rng = np.random.default_rng(len(name))
        x = (rng.integers(-2, 3, size=(5, *shape)).astype(np.float64) if integers
             else rng.normal(size=(5, *shape)))
        out[name] = (path, lrpcore.load_model(path), x)
    return out


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("rule", RULES, ids=spec_of)
def test_every_rule_equals_the_textbook_formulas(written, name, rule):
    layers = MODELS[name][0]
    _, model, x = written[name]
    for target in TARGETS:
        got = lrpcore.explain(model, x, rule=spec_of(rule), target=target, raw=True)
        want = np.stack([relevance(layers, s, [rule] * len(layers), target) for s in x])
        assert got.shape == x.shape
        assert rel(got, want) < 1e-8, (name, rule, target)


def _zennit_map(preset, layers):
    """zennit's composites.py, read as a table: ε 1e-6 on dense layers, the preset's rule on
    convolutions, the z-rule (stabiliser 1e-6) on sum pooling, the winner on max pooling; the
    *Flat presets put flat on the first dense or convolution layer, EpsilonGammaBox puts zB on
    the first convolution; Alpha1WW is the toolbox demo (w² first, α = 1 elsewhere)."""
    kinds = [layer[0] for layer in layers]
    first = next(i for i, k in enumerate(kinds) if k in ("linear", "conv"))
    first_conv = next((i for i, k in enumerate(kinds) if k == "conv"), None)
    conv_rule = {"EpsilonPlus": ("zplus",), "EpsilonPlusFlat": ("zplus",),
                 "EpsilonAlpha2Beta1": ("alphabeta", 2.0),
                 "EpsilonAlpha2Beta1Flat": ("alphabeta", 2.0),
                 "EpsilonGammaBox": ("gamma", 0.25)}.get(preset)
    rules = []
    for i, kind in enumerate(kinds):
        if preset == "Alpha1WW":
            rule = ("ww",) if i == first else ("alphabeta", 1.0)
        elif kind == "conv":
            rule = conv_rule
        else:
            rule = ("epsilon", 1e-6)  # dense ε; sum pooling's z-rule; ignored by max pooling
        if preset.endswith("Flat") and i == first:
            rule = ("flat",)
        if preset == "EpsilonGammaBox" and i == first_conv:
            rule = ("zb", -1.0, 1.0)
        rules.append(rule)
    return rules


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("preset", ["EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
                                    "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox", "Alpha1WW"])
def test_presets_follow_zennits_layer_map(written, name, preset):
    layers = MODELS[name][0]
    _, model, x = written[name]
    rules = _zennit_map(preset, layers)
    # zB's default bounds are the model's input range: say it is [-1, 1] explicitly
    overrides = {i: "zb:-1:1" for i, r in enumerate(rules) if r[0] == "zb"}
    got = lrpcore.explain(model, x, rule=preset, layer_rules=overrides, raw=True)
    want = np.stack([relevance(layers, s, rules, "pred") for s in x])
    assert rel(got, want) < 1e-8


def test_legacy_row_per_line_file_is_the_same_model(tmp_path, written):
    layers = MODELS["dense"][0]
    legacy = tmp_path / "legacy.txt"
    legacy.write_text(to_toolbox_text(layers, legacy=True))
    assert len(legacy.read_text().splitlines()) > len(to_toolbox_text(layers).splitlines())
    _, model, x = written["dense"]
    again = lrpcore.load_model(legacy)
    assert np.array_equal(lrpcore.explain(again, x, rule="alphabeta:2", raw=True),
                          lrpcore.explain(model, x, rule="alphabeta:2", raw=True))


def _cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["conv", "sum"])
def test_command_line_equals_python_for_every_argument(written, tmp_path, capsys, name):
    path, model, x = written[name]
    np.save(tmp_path / "x.npy", x)
    labels = np.array([0, 1, 1, 0, 1])
    np.save(tmp_path / "labels.npy", labels)
    cases = [
        (["--rule", "gamma:0.5", "--target", "output"], {"rule": "gamma:0.5", "target": "output"}),
        (["--rule", "EpsilonAlpha2Beta1", "--layer-rule", "0=flat", "--target", "1"],
         {"rule": "EpsilonAlpha2Beta1", "layer_rules": {0: "flat"}, "target": 1}),
        (["--rule", "zb:-3:3", "--target", "true", "--labels", tmp_path / "labels.npy",
          "--dtype", "float32", "--batch-size", "2"],
         {"rule": "zb:-3:3", "target": "true", "labels": labels, "dtype": "float32"}),
    ]
    for k, (args, kwargs) in enumerate(cases):
        out = tmp_path / f"R{k}.npy"
        code, _, err = _cli(["explain", path, tmp_path / "x.npy", "--raw", "--out", out,
                             "--backend", "numpy", *args], capsys)
        assert code == 0, err
        want = lrpcore.explain(model, x, raw=True, backend="numpy", **kwargs)
        got = np.load(out)
        assert got.dtype == want.dtype and got.shape == x.shape
        assert rel(got, want) < 1e-6 if "dtype" in kwargs else np.array_equal(got, want)


# -- defects found by this review --------------------------------------------------------------


def test_a_model_starting_with_max_pooling_takes_images(written, tmp_path, capsys):
    """The input guess looked only at the first dense layer and called the model's input a
    vector of its 8 features, which the leading max pooling cannot take: every input failed."""
    path, model, x = written["pool"]
    assert model.input_spec is None or len(model.input_spec.shape) == 3
    assert lrpcore.explain(model, x, raw=True).shape == x.shape
    np.save(tmp_path / "x.npy", x)
    code, _, err = _cli(["explain", path, tmp_path / "x.npy", "--raw", "--out",
                         tmp_path / "R.npy"], capsys)
    assert code == 0, err


def test_raw_inputs_of_any_shape_the_layers_take(written, tmp_path):
    """A toolbox file records no input shape; the square one guessed from the layers must not
    refuse another shape the model computes on (here 10×7 for a guessed 9×9)."""
    layers = MODELS["conv"][0]
    _, model, _ = written["conv"]
    x = np.random.default_rng(5).normal(size=(3, 10, 7, 2))
    got = lrpcore.explain(model, x, rule="epsilon:0.1", raw=True)
    want = np.stack([relevance(layers, s, [("epsilon", 0.1)] * len(layers)) for s in x])
    assert rel(got, want) < 1e-8
    with pytest.raises(ShapeError, match="9×12×2 do not fit the model, which takes 9×9×2"):
        lrpcore.explain(model, np.zeros((1, 9, 12, 2)), raw=True)  # ends in 6 dense inputs


def test_a_model_file_with_its_own_input_shape_still_refuses_others(written, tmp_path):
    _, model, _ = written["conv"]
    native = tmp_path / "conv.npz"
    lrpcore.save_model(model, native)
    again = lrpcore.load_model(native)
    if again.input_spec is None or again.input_spec.source == "inferred":
        pytest.skip("the native format keeps no input shape")
    with pytest.raises(ShapeError, match="do not fit the model"):
        lrpcore.explain(again, np.zeros((1, 9, 12, 2)), raw=True)


def test_usage_errors_are_one_line(written, tmp_path, capsys):
    path, _, x = written["dense"]
    np.save(tmp_path / "x.npy", x)
    for args in (["--dtype", "float16"], ["--backend", "tpu"], ["--batch-size", "many"], []):
        out = tmp_path / "R.npy"
        argv = ["explain", path, tmp_path / "x.npy", *(["--out", out] if args else []), *args]
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert exc.value.code == 2
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("lrp explain: error:") and "--help" in err
        assert not out.exists()


def test_relevance_that_is_not_finite_is_an_error_not_a_file(tmp_path, capsys):
    """Outputs that overflow float32 gave NaN relevance, saved with exit status 0."""
    layers = [_linear(4, 3), ("rect",), _linear(3, 2)]
    path = tmp_path / "m.txt"
    path.write_text(to_toolbox_text(layers))
    model = lrpcore.load_model(path)
    x = np.full((3, 4), 3e38)
    x[0] = 1.0
    with pytest.raises(ShapeError, match="not finite"):
        lrpcore.explain(model, x, raw=True, dtype="float32")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "R.npy"
    code, _, err = _cli(["explain", path, tmp_path / "x.npy", "--raw", "--out", out,
                         "--dtype", "float32", "--batch-size", "1"], capsys)
    assert code == 2 and "samples 1..1" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_rule_that_divides_by_zero_is_a_rule_error(written):
    """ε = 0 divides by the zero sums of windows that a ReLU silenced: NaN, not relevance."""
    layers = [_conv(2, 2, 1, 2, (1, 1)), ("rect",), ("sumpool", (2, 2), (2, 2)), ("flatten",),
              _linear(2, 2)]
    layers[0] = ("conv", layers[0][1], np.array([-50.0, 50.0]), (1, 1))  # filter 0 always off
    from lrpcore.io.toolbox_txt import parse_toolbox_text

    model = lrpcore.Sequential(parse_toolbox_text(to_toolbox_text(layers)))
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 3, 3, 1))
    with pytest.raises(RuleError, match="not finite"):
        lrpcore.explain(model, x, rule=Unstabilised(), raw=True)  # the parser refuses it
    assert np.isfinite(lrpcore.explain(model, x, rule="epsilon:1e-9", raw=True)).all()


def test_errors_are_the_projects_own(written):
    _, model, x = written["conv"]
    for kwargs in ({"rule": "nope"}, {"rule": "alphabeta:-1"}, {"layer_rules": {1: "flat"}},
                   {"layer_rules": {42: "flat"}}, {"target": 3}, {"target": "true"}):
        with pytest.raises(LRPError):
            lrpcore.explain(model, x, raw=True, **kwargs)


def test_bench_columns_stay_apart_when_far_above_the_floor():
    """On a GPU one sample ran 15,399× its floor of 0.0015 ms: the two columns ran together
    ("0.0015399.40") in the table."""
    from lrpcore.bench import BenchRow, format_row

    row = BenchRow("lenet5", "cupy", "float32", 1, forward_ms=1.3, lrp_ms={"eps": 2.6},
                   heatmaps_per_s=254, peak_mb=20.2, floor_ms=0.000253)
    cells = format_row(row).split()
    assert len(cells) == 10
    # marked '*': a floor this small says how small the model is (lrpcore.bench.OVERHEAD_NOTE)
    assert float(cells[-2]) == pytest.approx(0.0003) and cells[-1].endswith("*")
    assert float(cells[-1].rstrip("*")) > 15000


def test_a_nan_in_a_legacy_weight_row_names_its_own_line(tmp_path):
    layers = [_linear(4, 3), ("tanh",), _linear(3, 2)]
    lines = to_toolbox_text(layers, legacy=True).splitlines()
    assert lines[0] == "Linear 4 3" and lines[3].count(" ") == 2  # rows on lines 2..5
    lines[3] = "1.0 nan 2.0"
    path = tmp_path / "legacy.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(lrpcore.ModelFormatError, match=r"legacy\.txt, line 4: .*'nan'"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("bad", [np.array([["a"] * 6] * 2), np.zeros((2, 6), complex)],
                         ids=["text", "complex"])
def test_raw_samples_that_are_not_real_numbers_are_refused(written, tmp_path, capsys, bad):
    """With --raw, text samples were an internal error (exit 1) and complex ones lost their
    imaginary part silently (exit 0)."""
    path, model, _ = written["dense"]
    with pytest.raises(ShapeError, match="real numbers"):
        lrpcore.explain(model, bad, raw=True)
    np.save(tmp_path / "x.npy", bad)
    out = tmp_path / "R.npy"
    code, _, err = _cli(["explain", path, tmp_path / "x.npy", "--raw", "--out", out], capsys)
    assert code == 2 and "x.npy" in err and "real numbers" in err, err
    assert not out.exists()
