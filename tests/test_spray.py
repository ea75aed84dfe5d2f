"""SpRAy: clustering heatmaps finds a Clever Hans; results save and reopen; lrp spray."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import lrpcore
from lrpcore import spray
from lrpcore.cli.main import main
from lrpcore.errors import Cancelled, DatasetError
from lrpcore.explain import Explainer

WATERMARKED_CLASS = 3


class Digits:
    """Images with labels, as a dataset."""

    def __init__(self, x, labels):
        self.x, self.labels = x, labels

    def __len__(self):
        return len(self.x)

    def images(self, index):
        return self.x[index]


@pytest.fixture(scope="module")
def clever_hans(tmp_path_factory):
    """MNIST digits where half of one class carry a 4×4 corner watermark, and a small model
    trained on them (seconds): the watermark alone identifies those samples' class."""
    from lrpcore.watermark import train_watermark_model, watermarked_digits

    x, y, marked = watermarked_digits(WATERMARKED_CLASS)
    path = train_watermark_model(x, y, tmp_path_factory.mktemp("ch") / "watermark.npz")
    return lrpcore.load_model(path), Digits(x, y), marked, path


def test_spray_separates_the_watermarked_samples(clever_hans):
    model, data, marked, _ = clever_hans
    ex = Explainer(model, "numpy")
    # the model uses the watermark: it alone, on a blank image, votes for the class
    blank = np.zeros((1, 28, 28), np.uint8)
    blank[0, 1:5, 1:5] = 255
    assert ex.forward(ex.prepare(blank), raw=True).predictions()[0] == WATERMARKED_CLASS
    res = spray.spray(ex, data, WATERMARKED_CLASS, rule="epsilon:0.01", embed=None)
    truth = np.isin(res.indices, marked)
    assert res.k == 2  # chosen by the eigengap, not given
    assert adjusted_rand_score(truth, res.clusters) >= 0.8
    # the watermark cluster's prototype finds evidence for the class in the corner; the
    # other's finds the missing mark (the corner's dark pixels) speaking against it
    proto = res.prototypes()
    wm = np.bincount(res.clusters[truth]).argmax()
    corner = proto[:, :6, :6].sum(axis=(1, 2)) / np.abs(proto).sum(axis=(1, 2))
    assert corner[wm] > 0.05 and corner[1 - wm] < 0, corner


def test_spray_on_all_classes_and_without_a_shortcut(clever_hans):
    """The bundled LeNet-5 has no watermark shortcut: no cluster of class 3 is the marked
    half (the clustering is not simply finding the marks in the pixels)."""
    _, data, marked, _ = clever_hans
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    res = spray.spray(ex, data, WATERMARKED_CLASS, rule="epsilon:0.01", k=2, embed=None)
    assert adjusted_rand_score(np.isin(res.indices, marked), res.clusters) < 0.5


def test_result_saves_and_reopens(clever_hans, tmp_path):
    model, data, _, _ = clever_hans
    ex = Explainer(model, "numpy")
    small = Digits(data.x[:300], data.labels[:300])
    res = spray.spray(ex, small, None, rule="epsilon:0.01", k=3)
    assert res.embedding.shape == (300, 2) and res.heatmaps.shape == (300, 28, 28)
    assert res.prototypes().shape == (3, 28, 28)
    path = tmp_path / "r.npz"
    res.save(path)
    back = spray.SprayResult.load(path)
    np.testing.assert_array_equal(back.clusters, res.clusters)
    np.testing.assert_allclose(back.embedding, res.embedding)
    assert back.meta["class"] is None and back.k == 3
    with pytest.raises(Exception, match="exists"):
        res.save(path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="bad.npz: not a SpRAy result"):
        spray.SprayResult.load(tmp_path / "bad.npz")


def test_downsample_and_eigengap():
    maps = np.arange(2 * 32 * 32, dtype=float).reshape(2, 32, 32)
    d = spray.downsample(maps, 8)
    assert d.shape == (2, 8, 8)
    assert d[0, 0, 0] == pytest.approx(maps[0, :4, :4].mean())
    assert spray.suggest_k(np.array([0, 0, 0, 0.5, 0.6, 0.7])) == 3
    assert spray.suggest_k(np.array([0, 0.01, 0.3, 0.31, 0.35])) == 2


def test_cancel_stops_explaining(clever_hans):
    model, data, _, _ = clever_hans
    with pytest.raises(Cancelled):
        spray.spray(Explainer(model, "numpy"), data, 3, cancelled=lambda: True)


def test_cli_spray(clever_hans, tmp_path, capsys):
    _, data, _, model_path = clever_hans
    out = tmp_path / "s.npz"
    assert main(["spray", str(model_path), "mnist-sample", "--class", "3", "--out", str(out),
                 "--embedding", "none"]) == 0
    res = spray.SprayResult.load(out)
    assert res.meta["class"] == 3 and len(res.indices) == int(np.sum(data.labels == 3))
    assert "clusters" in capsys.readouterr().out
    assert main(["spray", str(model_path), "mnist-sample", "--class", "3", "--out",
                 str(out)]) == 2
    assert main(["spray", str(model_path), "mnist-sample", "--class", "12", "--out",
                 str(tmp_path / "t.npz")]) == 2
    assert "--class 12" in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()


def test_bench_concepts_rows(monkeypatch):
    """lrp bench --concepts reports each job with its stages (on a small slice here: the
    timings themselves are benchmarks, never asserted)."""
    from lrpcore import bench_concepts

    row = bench_concepts._spray_row(
        Explainer(lrpcore.load_model("mnist-lenet5"), "numpy"),
        Digits(lrpcore.open_dataset("mnist-sample").images(slice(0, 120)),
               np.asarray(lrpcore.open_dataset("mnist-sample").labels[:120])), None,
        "epsilon:0.01")
    assert row.samples == 120 and set(row.seconds) == {"explain", "cluster", "t-SNE"}
    assert "SpRAy all classes" in bench_concepts.format_concepts_row(row)


def test_cli_spray_reads_labels_beside_a_npy_or_given(clever_hans, tmp_path, capsys):
    """Images in X_images.npy find X_labels.npy (as the explorer does), or --labels names
    them: --class works on the README's watermark files (it said 'needs labels')."""
    _, data, marked, model_path = clever_hans
    np.save(tmp_path / "wm_images.npy", data.x)
    np.save(tmp_path / "wm_labels.npy", data.labels)
    np.save(tmp_path / "plain.npy", data.x)
    out = tmp_path / "s.npz"
    assert main(["spray", str(model_path), str(tmp_path / "wm_images.npy"), "--class", "3",
                 "--out", str(out), "--embedding", "none", "--rule", "epsilon:0.01"]) == 0
    res = spray.SprayResult.load(out)
    assert adjusted_rand_score(np.isin(res.indices, marked), res.clusters) >= 0.8
    assert main(["spray", str(model_path), str(tmp_path / "plain.npy"), "--class", "3",
                 "--out", str(tmp_path / "t.npz"), "--embedding", "none"]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["spray", str(model_path), str(tmp_path / "plain.npy"), "--class", "3",
                 "--labels", str(tmp_path / "wm_labels.npy"), "--out", str(tmp_path / "t.npz"),
                 "--embedding", "none"]) == 0
    assert len(spray.SprayResult.load(tmp_path / "t.npz").indices) == len(res.indices)


def test_cli_spray_clusters_the_heatmaps_of_a_relevance_store(clever_hans, tmp_path, capsys):
    """Issue 18: lrp spray opens an R.zarr store as precomputed heatmaps (no recomputation):
    the same heatmaps and clusters as explaining anew; options that would change the stored
    heatmaps, and another model, are refused."""
    pytest.importorskip("zarr")
    pytest.importorskip("distributed")
    from local_store import explain_to_local_store

    from lrpcore import distributed as dist

    _, data, marked, model_path = clever_hans
    images, labels = tmp_path / "wm_images.npy", tmp_path / "wm_labels.npy"
    part = slice(0, None, 4)  # 1,250 samples of every class (the sample is sorted by class)
    np.save(images, data.x[part])
    np.save(labels, data.labels[part])
    source, _ = dist.open_source(images)
    store = tmp_path / "R.zarr"
    explain_to_local_store(model_path, source, store, "epsilon:0.01", 256, target="true",
                           labels=data.labels[part])
    out, direct = tmp_path / "s.npz", tmp_path / "d.npz"
    assert main(["spray", str(model_path), str(store), "--class", "3", "--out", str(out),
                 "--embedding", "none"]) == 0
    assert main(["spray", str(model_path), str(images), "--class", "3", "--out", str(direct),
                 "--embedding", "none", "--rule", "epsilon:0.01"]) == 0
    a, b = spray.SprayResult.load(out), spray.SprayResult.load(direct)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-6)
    np.testing.assert_array_equal(a.clusters, b.clusters)
    assert a.meta["rule"] == "epsilon:0.01" and a.meta["store"] == str(store)
    # the dataset its indices count in (the explorer's SpRAy window checks it), not the store
    assert a.meta["dataset"] == b.meta["dataset"] == str(images)
    capsys.readouterr()
    assert main(["spray", str(model_path), str(store), "--rule", "zplus", "--out",
                 str(tmp_path / "x.npz")]) == 2
    assert "--rule cannot change them" in capsys.readouterr().err
    assert main(["spray", "mnist-lenet5", str(store), "--out", str(tmp_path / "x.npz")]) == 2
    assert "another model" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_watermark_script_help_writes_nothing(tmp_path, monkeypatch, capsys):
    """``python -m lrpcore.watermark --help`` prints its usage; it used to train a model into
    a folder named '--help' (and without an argument failed with an IndexError)."""
    from lrpcore import watermark

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        watermark.main(["--help"])
    assert stop.value.code == 0 and "OUT_DIR" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        watermark.main([])
    assert stop.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_cli_spray_on_a_graph_model(tmp_path, capsys):
    """SpRAy runs on graph models too (issue 16): the ResNet on a subset of digits given as
    .npy with --labels; each heatmap is the ResNet's relevance for the sample's true class."""
    from conftest import shared_path

    resnet = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    digits = lrpcore.open_dataset("mnist-sample")
    idx = np.arange(0, 5000, 50)
    x, y = digits.images(idx), np.asarray(digits.labels)[idx]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "s.npz"
    assert main(["spray", str(resnet), str(tmp_path / "x.npy"), "--labels",
                 str(tmp_path / "y.npy"), "--class", "3", "--k", "2", "--rule", "epsilon:0.01",
                 "--embedding", "none", "--out", str(out)]) == 0, capsys.readouterr().err
    res = spray.SprayResult.load(out)
    threes = np.flatnonzero(y == 3)
    np.testing.assert_array_equal(res.indices, threes)
    assert res.k == 2 and res.heatmaps.shape == (len(threes), 28, 28)
    ex = Explainer(lrpcore.load_model(resnet), "numpy")
    want = ex.explain(x[threes], "epsilon:0.01", target="true", labels=y[threes])
    np.testing.assert_allclose(res.heatmaps, spray._spatial(want), rtol=1e-5, atol=1e-7)


def test_spray_records_the_resolved_rule_not_none():
    """Without a rule the metadata said rule 'None'; it names the rules that made the maps."""
    from lrpcore.explain import resolve_rules
    from lrpcore.io import open_dataset

    model = lrpcore.load_model("mnist-lenet5")
    ex = Explainer(model, "numpy")
    data = open_dataset("mnist-sample")
    sub = Digits(data.images(np.arange(40)), np.asarray(data.labels)[:40])
    res = spray.spray(ex, sub, None, rule=None, target="pred", k=2, embed=None)
    assert res.meta["rule"] == resolve_rules(ex.layers, None).description != "None"
    named = spray.spray(ex, sub, None, rule="EpsilonPlus", target="3", k=2, embed=None)
    assert named.meta["rule"] == resolve_rules(ex.layers, "EpsilonPlus").description
    assert named.meta["target"] == 3


def test_cli_spray_of_a_class_with_one_sample_is_one_line_naming_the_data(tmp_path, capsys):
    """One sample has no neighbour to build SpRAy's graph from: a refusal naming the file and
    the class (exit 2, nothing written), not scikit-learn's internal error (exit 1)."""
    ds = lrpcore.open_dataset("mnist-test")
    sevens = np.flatnonzero(ds.labels[:50] == 7)
    np.save(tmp_path / "few_images.npy", ds.images(sevens[:1]))
    np.save(tmp_path / "few_labels.npy", ds.labels[sevens[:1]])
    for extra in (["--class", "7"], []):
        rc = main(["spray", "mnist-lenet5", str(tmp_path / "few_images.npy"), "--out",
                   str(tmp_path / "s.npz"), "--rule", "epsilon:0.01", *extra])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert err.count("\n") == 1 and "few_images.npy" in err and "at least 2" in err
        assert not (tmp_path / "s.npz").exists()
    with pytest.raises(DatasetError, match="at least 2"):
        spray.analyse(np.zeros((1, 8, 8)))
    assert "→ 1 cluster (" in _spray_two(tmp_path, capsys)


def _spray_two(tmp_path, capsys) -> str:
    ds = lrpcore.open_dataset("mnist-test")
    np.save(tmp_path / "two_images.npy", ds.images([0, 17]))
    assert main(["spray", "mnist-lenet5", str(tmp_path / "two_images.npy"), "--out",
                 str(tmp_path / "two.npz"), "--rule", "epsilon:0.01", "--k", "1"]) == 0
    return capsys.readouterr().out
