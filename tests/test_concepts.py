"""Concepts (CRP): ranking, conditional heatmaps, composition, RelMax references, lrp concepts."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import shared_path

import lrpcore
from lrpcore import concepts, relmax
from lrpcore.cli.main import main
from lrpcore.errors import RuleError
from lrpcore.explain import Explainer
from lrpcore.io import imagenet

RULE = "epsilon:0.01"


@pytest.fixture(scope="module")
def lenet():
    return Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")


@pytest.fixture(scope="module")
def digits():
    return lrpcore.open_dataset("mnist-sample")


def _forward(ex, digits, i=7):
    return ex.forward(ex.prepare(digits.images(slice(i, i + 1))), raw=True)


@pytest.mark.parametrize("layer", [0, 3, 6, 9])
@pytest.mark.parametrize("rule", [RULE, "alphabeta:2"])
def test_conditional_heatmaps_sum_to_the_heatmap(lenet, digits, layer, rule):
    """Relevance is linear in what passes a layer: all channels together give the plain
    heatmap, and each channel's heatmap carries exactly that channel's relevance."""
    fwd = _forward(lenet, digits)
    ranking = concepts.rank_channels(fwd, layer, rule)
    H = concepts.conditional_heatmaps(fwd, layer, ranking.channels, rule)
    plain = fwd.relevance(rule)[0]
    assert H.shape == (len(ranking.channels),) + plain.shape
    np.testing.assert_allclose(H.sum(axis=0), plain, atol=1e-10 * np.abs(plain).max() + 1e-12)
    if layer != 9:  # at the output only the explained class has relevance
        assert not np.allclose(H[0], plain)  # one channel is not the whole
    else:
        np.testing.assert_allclose(H[0], plain)
    assert ranking.share.sum() == pytest.approx(1.0)
    assert np.all(np.diff(ranking.relevance) <= 0)  # best first


def test_a_channel_with_zero_mask_gives_zero(lenet, digits):
    fwd = _forward(lenet, digits)
    shape = concepts.output_shape(fwd, 3)
    R = fwd.relevance(RULE, condition={3: np.zeros(shape)})
    assert np.abs(R).max() == 0


def test_composition_divides_a_channel_among_the_layer_below(lenet, digits):
    fwd = _forward(lenet, digits)
    top = concepts.rank_channels(fwd, 6, RULE).channels[0]
    comp = concepts.composition(fwd, 6, top, RULE)
    assert comp.lower == 3
    assert len(comp.channels) == 25
    assert np.abs(comp.share).sum() == pytest.approx(1.0)
    # the parts add up to the channel's relevance (the ε-rule absorbs a little)
    whole = concepts.channel_relevance(fwd, 6, RULE)[0][0, top]
    assert comp.relevance.sum() == pytest.approx(whole, rel=0.05)
    assert concepts.composition(fwd, 0, 0, RULE).lower is None  # the input comes next


def test_layers_by_index_and_name(lenet):
    assert concepts.resolve_layer(lenet, "convolution1") == 3
    assert concepts.resolve_layer(lenet, "3") == 3
    assert concepts.resolve_layer(lenet, -2) == 9
    with pytest.raises(RuleError, match="no layer is named 'conv9'"):
        concepts.resolve_layer(lenet, "conv9")
    with pytest.raises(RuleError, match="does not exist"):
        concepts.resolve_layer(lenet, 11)


def test_graph_model_block_outputs():
    """On the ResNet the identity holds at a block output; a node a skip connection
    bypasses is refused (its channels cannot be isolated)."""
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    ex = Explainer(model, "numpy")
    fwd = ex.forward(ex.prepare(lrpcore.open_dataset("mnist-sample").images(slice(3, 4))),
                     raw=True)
    k = concepts.resolve_layer(ex, "/layer2/relu_1/Relu")
    ranking = concepts.rank_channels(fwd, k, RULE)
    H = concepts.conditional_heatmaps(fwd, k, ranking.channels, RULE)
    np.testing.assert_allclose(H.sum(axis=0), ranking.heatmap,
                               atol=1e-9 * np.abs(ranking.heatmap).max())
    with pytest.raises(RuleError, match="bypassed by a skip connection"):
        concepts.resolve_layer(ex, "/layer2/conv1/Conv")
    comp = concepts.composition(fwd, k, ranking.channels[0], RULE)
    # the block below, not the Add right under this ReLU (that would be channel to itself)
    assert ex.nodes[comp.lower].name == "/layer1/Add"
    assert np.abs(comp.share).max() < 1


@pytest.fixture(scope="module")
def resnet():
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    return Explainer(model, "numpy")


def test_graph_identity_at_block_outputs(resnet, digits, rule=RULE):
    """Issue 16's anchor on the ResNet, named as in the ONNX file: at the stem, block
    outputs and the classifier, the conditional heatmaps of all channels sum to the
    unconditioned heatmap, and one channel's is not the whole."""
    fwd = resnet.forward(resnet.prepare(digits.images(slice(3, 4))), raw=True)
    for name in ("/relu/Relu", "/layer1/Add", "/layer3/Add", "/fc/Gemm"):
        k = concepts.resolve_layer(resnet, name)
        ranking = concepts.rank_channels(fwd, k, rule)
        H = concepts.conditional_heatmaps(fwd, k, ranking.channels, rule)
        scale = np.abs(ranking.heatmap).max()
        np.testing.assert_allclose(H.sum(axis=0), ranking.heatmap, atol=1e-9 * scale,
                                   err_msg=name)
        if name != "/fc/Gemm":  # at the output only the explained class has relevance
            assert not np.allclose(H[0], ranking.heatmap), name


def test_passes_stay_within_the_memory_budget(resnet, digits, monkeypatch):
    """Conditional heatmaps, RelMax references and SpRAy explain in passes no larger than
    the engine's budget allows (64 EfficientNet images per pass held ~20 GB and the process
    was killed); the numbers do not depend on how the work is split."""
    import importlib

    from lrpcore import spray

    x = digits.images(slice(0, 8))
    k = concepts.resolve_layer(resnet, "/layer1/relu_1/Relu")
    fwd = resnet.forward(resnet.prepare(x[3:4]), raw=True)
    channels = list(range(16))
    want_h = concepts.conditional_heatmaps(fwd, k, channels, RULE)
    want_refs = relmax.compute_references(resnet, x, k, RULE, n=2)
    want_s = spray.explain_samples(resnet, x, np.arange(8), RULE)
    # the pass budget where Explainer.passes reads it (a graph pass holds at least one sample
    # per thread)
    cap = max(3, resnet.threads)
    engine = importlib.import_module("lrpcore.explain")
    monkeypatch.setattr(engine, "PASS_BYTES",
                        cap * resnet.sample_bytes(resnet.prepare(x[:1]).shape[1:]))
    sizes = []
    forward = type(resnet).forward

    def counted(self, batch, raw=False):
        sizes.append(len(batch))
        return forward(self, batch, raw)

    monkeypatch.setattr(type(resnet), "forward", counted)
    h = concepts.conditional_heatmaps(fwd, k, channels, RULE)
    refs = relmax.compute_references(resnet, x, k, RULE, n=2)
    s = spray.explain_samples(resnet, x, np.arange(8), RULE)
    assert sizes and max(sizes) <= cap, sizes
    np.testing.assert_allclose(h, want_h, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(refs.samples, want_refs.samples)
    np.testing.assert_array_equal(refs.boxes, want_refs.boxes)
    np.testing.assert_allclose(refs.heatmaps, want_refs.heatmaps, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s, want_s, rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(not imagenet.available(), reason="the [imagenet] extra is not installed")
def test_cli_concepts_on_efficientnet(tmp_path):
    """Smoke test on the real ImageNet model: one photograph, the top 2 channels of a block
    output named as in the model, written as for LeNet-5."""
    out = tmp_path / "c"
    assert main(["concepts", "efficientnet-lite0", "natural-images", "--layer",
                 "_blocks.7/add", "--sample", "0", "--top", "2", "--rule", RULE,
                 "--references", "0", "--out", str(out), "--backend", "numpy"]) == 0
    rows = list(csv.DictReader(open(out / "ranking.csv")))
    assert len(rows) == 80
    cond = np.load(out / "conditional.npy")
    assert cond.shape == (2, 3, 224, 224) and np.all(np.isfinite(cond))
    rel = [float(r["relevance"]) for r in rows[:2]]
    assert rel[0] >= rel[1] > 0
    # two concepts, two different heatmaps (ε absorbs much of the relevance on the way down
    # through 16 blocks, so their sums are not compared with the channels' relevance)
    assert np.abs(cond[0]).max() > 0 and not np.allclose(cond[0], cond[1])


def test_relmax_references_are_the_most_relevant_and_cached(lenet, digits, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    x = digits.images(slice(0, 200))
    steps = []
    refs = relmax.references(lenet, x, 3, RULE, n=4, dataset_id="first200",
                             progress=lambda d, t: steps.append((d, t)))
    assert refs.samples.shape == (25, 4) and steps[-1][0] == steps[-1][1]
    # the references of channel c are the samples where c has the most relevance
    c = 5
    rel = refs.channel_relevance[:, c]
    assert set(refs.samples[c]) == set(np.argsort(-rel)[:4])
    fwd = lenet.forward(lenet.prepare(x[refs.samples[c][:1]]), raw=True)
    assert concepts.channel_relevance(fwd, 3, RULE)[0][0, c] == pytest.approx(rel.max())
    # layer 3 sees 14×14 pixels (5×5 conv, 2×2 pool, 5×5 conv)
    y0, y1, x0, x1 = refs.boxes[c, 0]
    assert (y1 - y0, x1 - x0) == (14, 14)
    assert list((tmp_path / "relmax").glob("*.npz"))
    again = relmax.references(lenet, None, 3, RULE, n=4, dataset_id="first200")  # from disk
    np.testing.assert_array_equal(again.samples, refs.samples)
    other = relmax.cache_key(lenet.model, concepts._config(lenet, "alphabeta:2"), "pred", 3,
                             "first200", 4)
    assert other != relmax.cache_key(lenet.model, concepts._config(lenet, RULE), "pred", 3,
                                     "first200", 4)


def test_relmax_stops_when_cancelled(lenet, digits):
    from lrpcore.errors import Cancelled

    with pytest.raises(Cancelled):
        relmax.compute_references(lenet, digits.images(slice(0, 50)), 3, RULE,
                                  cancelled=lambda: True)


def test_cli_concepts_writes_the_contract(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "digits.npy"
    np.save(data, lrpcore.open_dataset("mnist-sample").images(slice(0, 60)))
    out = tmp_path / "c"
    args = ["concepts", "mnist-lenet5", str(data), "--layer", "convolution1", "--sample", "7",
            "--top", "3", "--out", str(out), "--rule", RULE, "--references", "3"]
    assert main(args) == 0
    rows = list(csv.DictReader(open(out / "ranking.csv")))
    assert [list(r) for r in rows[:1]] == [["channel", "relevance", "share"]]
    assert len(rows) == 25
    cond = np.load(out / "conditional.npy")
    assert cond.shape == (3, 32, 32, 1)
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    fwd = ex.forward(ex.prepare(np.load(data)[7:8]), raw=True)
    want = concepts.conditional_heatmaps(fwd, 3, [int(r["channel"]) for r in rows[:3]], RULE)
    np.testing.assert_allclose(cond, want)
    side = json.loads((out / "conditional.npy.json").read_text())
    assert side["layer"] == 3 and side["rules"].startswith("epsilon")
    assert (out / "references" / f"channel_{rows[0]['channel']}.png").exists()
    # never over an existing folder without --overwrite; --top all takes every channel
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert main(args[:7] + ["--top", "all"] + args[9:] + ["--overwrite"]) == 0
    assert np.load(out / "conditional.npy").shape[0] == 25


def test_cli_concepts_of_a_dense_model_draws_its_references(tmp_path, monkeypatch, capsys):
    """A dense network (784-300-100-10) takes flat inputs: the references' crops were cut
    from a 784-vector, an internal IndexError; its inputs are drawn as 28×28 images, as its
    heatmaps are."""
    from PIL import Image

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "digits.npy"
    np.save(data, lrpcore.open_dataset("mnist-test").images(slice(0, 40)))
    out = tmp_path / "c"
    assert main(["concepts", "mnist-dense-rect", str(data), "--layer", "2", "--sample", "0",
                 "--top", "2", "--references", "3", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    refs = sorted((out / "references").glob("channel_*.png"))
    assert len(refs) == 2
    w, h = Image.open(refs[0]).size
    assert w > h > 28  # a row of image crops over a row of heatmap crops


def test_cli_concepts_errors_leave_nothing(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", "mnist-sample", "--layer", "nope", "--out",
                 str(out), "--references", "0"]) == 2
    assert "no layer is named 'nope'" in capsys.readouterr().err
    assert main(["concepts", "mnist-lenet5", "mnist-sample", "--layer", "3", "--sample",
                 "99999", "--out", str(out)]) == 2
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_concepts_sidecars_name_a_bundled_model_and_its_checksum(tmp_path, monkeypatch):
    """A bundled model given by name is a file too: its sidecars carry its path and SHA-256
    (they said null, unlike every other export's)."""
    from lrpcore.export import sha256_file
    from lrpcore.io.models import model_file

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", "mnist-sample", "--layer", "3", "--top", "1",
                 "--out", str(out), "--references", "0"]) == 0
    side = json.loads((out / "conditional.npy.json").read_text())
    assert side["model_sha256"] == sha256_file(model_file("mnist-lenet5"))
    assert side["model"] == "mnist-lenet5"


def test_shares_keep_the_sign_of_the_relevance_when_the_total_is_negative(lenet, digits):
    """Explaining a class the sample is not: the layer's total is negative, and the channel
    with the most positive relevance showed a share of −49 % (one against it +104 %)."""
    fwd = _forward(lenet, digits)
    r = concepts.rank_channels(fwd, 3, RULE, target=int(np.argmin(fwd.outputs()[0])))
    assert r.relevance.sum() < 0
    nonzero = r.relevance != 0
    assert np.all(np.sign(r.share[nonzero]) == np.sign(r.relevance[nonzero]))
    assert r.share.sum() == pytest.approx(-1.0)
    assert r.share[0] > 0  # the best channel speaks for the class
    pos = concepts.rank_channels(fwd, 3, RULE)  # the usual case is unchanged: shares sum to 1
    assert pos.share.sum() == pytest.approx(1.0)


def test_a_bypassed_layer_names_the_block_outputs_around_it():
    """Asking for a convolution inside the first residual block suggested the network's last
    four nodes (layer3.relu_1, avgpool, flatten, fc); the block outputs nearest the one asked
    for are what the user wants (review)."""
    from lrpcore import zoo
    from lrpcore.concepts import resolve_layer
    from lrpcore.errors import RuleError

    ex = lrpcore.Explainer(zoo.mnist_resnet())
    with pytest.raises(RuleError) as err:
        resolve_layer(ex, "layer1.conv1")
    text = str(err.value)
    assert "layer1.add" in text and "relu" in text and "fc" not in text, text
