"""Spectral Relevance Analysis (SpRAy, Lapuschkin et al. 2019): which strategies a model follows.

Explain every sample of a class, shrink the heatmaps, and cluster them: spectral clustering on
a k-nearest-neighbour affinity (scikit-learn), the eigengap of the affinity's normalised
Laplacian to suggest the number of clusters, and a 2-D embedding (t-SNE; UMAP when installed)
to look at. A cluster of heatmaps that look alike but unlike the rest is a strategy; a small
one focused off the object is a Clever Hans suspect. Results save to one pickle-free ``.npz``.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import Cancelled, DatasetError
from .explain import as_explainer
from .parallel import single_threaded_blas
from .relmax import _spatial, take
from .text import is_digits, short

FORMAT = 1
EMBEDDINGS = {}  # name -> fn(features, seed) -> (n, 2); a registry the GUI and CLI list


def embedding(name):
    def register(fn):
        EMBEDDINGS[name] = fn
        return fn
    return register


@embedding("tsne")
def _tsne(features, seed):
    from sklearn.manifold import TSNE  # noqa: PLC0415

    n = features.shape[0]
    if n < 4 or alike(features):  # identical rows: scikit-learn's t-SNE crashed the process
        return np.zeros((n, 2))
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                learning_rate="auto").fit_transform(features)


@embedding("umap")
def _umap(features, seed):
    try:
        import umap  # noqa: PLC0415
    except ImportError:
        raise DatasetError("the umap embedding needs umap-learn (pip install umap-learn)") \
            from None
    return umap.UMAP(n_components=2, random_state=seed).fit_transform(features)


@dataclass
class SprayResult:
    """One analysis: which samples, their heatmaps, the clusters and the embedding."""

    indices: np.ndarray     # dataset indices analysed
    labels: np.ndarray      # their true labels (-1 when unknown)
    heatmaps: np.ndarray    # (n, H, W) float32 input relevance summed over colour, full size
    features: np.ndarray    # (n, h*w) the downsampled, normalised heatmaps clustered
    clusters: np.ndarray    # (n,) cluster of each sample
    eigenvalues: np.ndarray  # smallest eigenvalues of the normalised Laplacian
    embedding: np.ndarray   # (n, 2)
    meta: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.clusters.max()) + 1 if self.clusters.size else 0

    def __repr__(self) -> str:
        """A line, not the arrays: the dataclass's own repr printed every embedding point
        (thousands of lines for one class in a notebook)."""
        sizes = ", ".join(str(int(n)) for n in self.sizes())
        what = ", ".join(f"{k} {self.meta[k]}" for k in ("class", "rule", "target")
                         if self.meta.get(k) is not None)
        return (f"SprayResult({len(self.indices)} samples → {self.k} clusters (sizes {sizes})"
                f"{'; ' + what if what else ''})")

    def prototypes(self) -> np.ndarray:
        """(k, H, W): each cluster's mean heatmap (zeros for a cluster without samples: a
        result whose cluster numbers skip some drew NaN prototypes, with numpy's warnings)."""
        return np.stack([self.heatmaps[self.clusters == c].mean(axis=0)
                         if np.any(self.clusters == c) else np.zeros(self.heatmaps.shape[1:])
                         for c in range(self.k)])

    def sizes(self) -> np.ndarray:
        return np.bincount(self.clusters, minlength=self.k)

    def save(self, path, overwrite=False) -> None:
        from .fileio import atomic_open  # noqa: PLC0415

        with atomic_open(path, overwrite=overwrite) as fh:
            np.savez_compressed(fh, format=FORMAT, indices=self.indices, labels=self.labels,
                                heatmaps=self.heatmaps.astype(np.float32),
                                features=self.features.astype(np.float32),
                                clusters=self.clusters, eigenvalues=self.eigenvalues,
                                embedding=self.embedding, meta=json.dumps(self.meta))

    @classmethod
    def load(cls, path) -> SprayResult:
        """A result saved by :meth:`save`, every member checked (a crafted file of clusters
        [0, 10¹²] made the window count 10¹² clusters; members are checked before inflating)."""
        from .io.claims import NPY_HEADER_ERRORS, ZIP_ERRORS, check_npz_member  # noqa: PLC0415

        try:
            with np.load(path, allow_pickle=False) as z:
                for key in _MEMBERS:
                    check_npz_member(path, key)
                fmt = z["format"]
                if fmt.shape != () or fmt.dtype.kind not in "iu" or int(fmt) != FORMAT:
                    raise DatasetError(f"{path}: not a SpRAy result of format {FORMAT}")
                arrays = {key: z[key] for key in _MEMBERS if key not in ("format", "meta")}
                meta = json.loads(str(z["meta"]))
        except DatasetError:
            raise
        except (ValueError, KeyError, RecursionError, *ZIP_ERRORS, *NPY_HEADER_ERRORS) as exc:
            raise DatasetError(f"{path}: not a SpRAy result ({str(exc)[:200]})") from None
        _check_members(path, arrays, meta)
        return cls(**arrays, meta=meta)


_MEMBERS = ("format", "indices", "labels", "heatmaps", "features", "clusters", "eigenvalues",
            "embedding", "meta")


def _check_members(path, a, meta) -> None:
    """What :meth:`SprayResult.save` writes: n samples, integer indices, labels and clusters
    (0 … n−1), finite float heatmaps (n×H×W), features (n×m) and embedding (n×2)."""
    n = a["indices"].shape[0] if a["indices"].ndim == 1 else -1
    shapes = {"indices": 1, "labels": 1, "clusters": 1, "heatmaps": 3, "features": 2,
              "eigenvalues": 1, "embedding": 2}
    for key, ndim in shapes.items():
        arr = a[key]
        kind = "iu" if key in ("indices", "labels", "clusters") else "f"
        if (arr.ndim != ndim or arr.dtype.kind not in kind
                or (key != "eigenvalues" and arr.shape[0] != n)
                or (key == "embedding" and arr.shape[1] != 2)
                or (kind == "f" and not np.isfinite(arr).all())):
            raise DatasetError(f"{path}: member {key!r} ({arr.dtype}, shape "
                               f"{'×'.join(map(str, arr.shape[:4]))}) is not what a SpRAy "
                               "result holds")
    if n and (a["indices"].min() < 0 or a["clusters"].min() < 0 or a["clusters"].max() >= n):
        raise DatasetError(f"{path}: indices or clusters out of range for {n} samples")
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: member 'meta' is not a JSON object")
    region = meta.get("region")
    if region is not None and not (isinstance(region, list) and len(region) == 4 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in region)):
        # the SpRAy window names the region it shows: a hand-edited one raised out of Open
        raise DatasetError(f"{path}: the region in member 'meta' ({short(repr(region))}) is "
                           "not four whole numbers y0, y1, x0, x1")


def downsample(maps, size=8) -> np.ndarray:
    """(n, H, W) → (n, size, size) by averaging blocks (uneven blocks where H or W do not
    divide): the coarse layout of relevance, blind to single-pixel noise."""
    maps = np.asarray(maps, dtype=np.float64)
    n, H, W = maps.shape
    ry = np.linspace(0, H, min(size, H) + 1).astype(int)
    rx = np.linspace(0, W, min(size, W) + 1).astype(int)
    rows = np.add.reduceat(maps, ry[:-1], axis=1) / np.diff(ry)[None, :, None]
    return np.add.reduceat(rows, rx[:-1], axis=2) / np.diff(rx)[None, None, :]


MIN_SAMPLES = 2  # SpRAy clusters a neighbour graph: one sample has no neighbour


def features_of(heatmaps, size=8) -> np.ndarray:
    """Downsampled heatmaps, each scaled to unit length (the strategy, not its strength)."""
    f = downsample(heatmaps, size).reshape(len(heatmaps), -1)
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.where(norm > 0, norm, 1)


def alike(features) -> bool:
    """Every sample's features the same (all-zero relevance, one image repeated): nothing to
    cluster or spread out, and t-SNE's PCA start divides by a spread of 0."""
    return bool(np.ptp(features, axis=0).max(initial=0.0) <= 1e-12)


def affinity(features, neighbours=10):
    """Symmetric k-nearest-neighbour connectivity (sparse)."""
    from sklearn.neighbors import kneighbors_graph  # noqa: PLC0415

    n = features.shape[0]
    A = kneighbors_graph(features, n_neighbors=max(1, min(neighbours, n - 1)),
                         include_self=False)
    return 0.5 * (A + A.T)


def eigengap(A, count=10) -> np.ndarray:
    """The smallest eigenvalues of A's normalised Laplacian (scipy's Lanczos solver); the
    largest gap after the k-th suggests k clusters."""
    from scipy.sparse import csgraph  # noqa: PLC0415

    L = csgraph.laplacian(A, normed=True)
    n = A.shape[0]
    count = max(1, min(count, n - 2))
    if n <= 40:
        vals = np.linalg.eigvalsh(L.toarray())[:count]
    else:
        vals = _smallest_eigenvalues(L, count)
    return np.sort(np.real(vals))


DENSE_EIGEN_MAX = 8000  # samples whose Laplacian a dense solver takes (8000² doubles: 512 MB)


def _smallest_eigenvalues(L, count) -> np.ndarray:
    """The ``count`` smallest eigenvalues of the sparse Laplacian ``L`` by Lanczos from a
    fixed start vector, so that a SpRAy run gives the same eigenvalues every time (ARPACK's
    random start moved them by ~1e-15 between runs). Heatmaps that are all alike give a
    Laplacian of many equal eigenvalues, where ARPACK sometimes stops ("No shifts could be
    applied", an internal error of ``lrp spray`` in one run of eight): it is asked again with
    more Lanczos vectors, then the eigenvalues come from a dense solver."""
    from scipy.sparse.linalg import ArpackError, eigsh  # noqa: PLC0415

    n = L.shape[0]
    v0 = np.random.default_rng(0).uniform(0.5, 1.5, n)
    for ncv in (None, min(n, max(4 * count + 1, 64))):
        try:
            return eigsh(L, k=count, sigma=-1e-3, which="LM", v0=v0, ncv=ncv,
                         return_eigenvectors=False)
        except ArpackError:  # ArpackNoConvergence too
            continue
    if n > DENSE_EIGEN_MAX:
        raise DatasetError(f"the eigengap of {n:,} samples could not be computed (ARPACK did "
                           "not converge: the heatmaps are nearly all alike); give the number "
                           "of clusters (--k, or the window's clusters box)")
    return np.linalg.eigvalsh(L.toarray())[:count]


def suggest_k(eigenvalues, k_min=2) -> int:
    """The k (≥ k_min) after which the relative eigengap (λ[k+1] − λ[k]) / λ[k+1] is largest:
    k nearly disconnected groups give k eigenvalues near 0, however small the next one."""
    vals = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0, None)
    if vals.size <= k_min:
        return max(1, vals.size - 1)
    nxt = vals[k_min:]
    rel = (nxt - vals[k_min - 1:-1]) / np.where(nxt > 0, nxt, 1)
    return int(np.argmax(rel) + k_min)


def cluster(A, k, seed=0) -> np.ndarray:
    from sklearn.cluster import SpectralClustering  # noqa: PLC0415

    if k <= 1 or A.shape[0] <= k:
        return np.zeros(A.shape[0], dtype=np.int64)
    sc = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=seed,
                            assign_labels="cluster_qr")
    with warnings.catch_warnings():  # a disconnected graph is what a Clever Hans looks like
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        return sc.fit_predict(A).astype(np.int64)


@contextlib.contextmanager
def one_thread():
    """BLAS and OpenMP at one thread, with scikit-learn's libraries loaded first
    (threadpoolctl only limits libraries already loaded)."""
    import sklearn.cluster  # noqa: F401, PLC0415
    import sklearn.manifold  # noqa: F401, PLC0415
    import sklearn.neighbors  # noqa: F401, PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    # BLAS through the engine's shared limit: an explanation running meanwhile in another
    # thread (a click in the explorer) restored BLAS out of order and left it at one thread
    with single_threaded_blas(rescan=True), threadpool_limits(1, user_api="openmp"):
        yield


def check_k(k, n) -> None:
    """Refuse ``k`` clusters of ``n`` samples when k ≥ n (clustering would quietly give one
    cluster) — before anything is explained."""
    if k is not None and int(k) >= n:
        raise DatasetError(f"{int(k)} clusters of {n} samples: SpRAy needs fewer clusters "
                           f"than samples (at most {n - 1} here)")


def analyse(heatmaps, k=None, neighbours=10, size=8, embed="tsne", seed=0,
            cancelled=None) -> dict:
    """Clustering and embedding of (n, H, W) heatmaps; ``k=None`` takes the eigengap's."""
    if len(heatmaps) < MIN_SAMPLES:  # a neighbour graph needs a neighbour
        raise DatasetError(f"SpRAy needs at least {MIN_SAMPLES} samples to cluster, got "
                           f"{len(heatmaps)}")
    check_k(k, len(heatmaps))
    feats = features_of(heatmaps, size)
    # one thread: scikit-learn's OpenMP loops (t-SNE) spin-wait for a second thread on a busy
    # CPU — measured 88 s instead of 3.8 s for 500 samples on 2 shared cores
    with one_thread():
        A = affinity(feats, neighbours)
        vals = eigengap(A)
        if k is None:  # identical heatmaps are one strategy, not clusters drawn by lot
            k = 1 if alike(feats) else suggest_k(vals)
        k = int(k)
        clusters = cluster(A, k, seed)
        _check(cancelled)
        emb = EMBEDDINGS[embed](feats, seed) if embed else np.zeros((len(feats), 2))
    return {"features": feats, "clusters": clusters, "eigenvalues": vals, "embedding": emb}


def explain_samples(explainer, images, indices, rule=None, target="pred", labels=None,
                    batch_size=256, progress=None, cancelled=None, raw=False,
                    region=None) -> np.ndarray:
    """(n, H, W) input relevance of ``images[indices]``, batch by batch (``raw``: they are
    arrays in the model's own layout, fed as stored; ``region``: a box of a segmentation
    model's output map, :mod:`lrpcore.map_targets`)."""
    from .concepts import _config, pass_size  # noqa: PLC0415

    explainer = as_explainer(explainer)
    config = _config(explainer, rule)
    out = []
    n = len(indices)
    if n:
        first = explainer.user_prepare(take(images, indices[:1]), raw)  # warns as explain
        batch_size = pass_size(explainer, first.shape[1:], batch_size)
    for a in range(0, n, batch_size):
        _check(cancelled)
        idx = indices[a:a + batch_size]
        fwd = explainer.forward(explainer.prepare(take(images, idx), raw), raw=True)
        lab = None if labels is None else np.asarray(labels)[idx]
        out.append(_spatial(fwd.relevance(config, target, labels=lab, region=region))
                   .astype(np.float32))
        if progress:
            progress(min(a + batch_size, n), n)
    return np.concatenate(out) if out else np.zeros((0, 1, 1), np.float32)


def spray(explainer, dataset, cls=None, rule=None, target="true", k=None, neighbours=10,
          size=8, embed="tsne", seed=0, batch_size=256, progress=None,
          cancelled=None, raw=False, region=None) -> SprayResult:
    """SpRAy over the samples of class ``cls`` (all when None) of ``dataset`` (anything with
    ``images(index)`` and ``labels``, or an array; ``raw``: of the model's own layout). Of a
    segmentation model (``region``: a box of its map) the samples whose map predicts the
    explained class at no pixel are left out (``meta["left_out"]`` counts them).
    ``explainer``: an :class:`~lrpcore.Explainer` or the model itself."""
    from .concepts import _config  # noqa: PLC0415
    from .targets import parse_target  # noqa: PLC0415

    explainer = as_explainer(explainer)
    labels = getattr(dataset, "labels", None)
    indices = class_indices(labels, len(dataset), cls, getattr(dataset, "name", None))
    if isinstance(target, str):  # a class name becomes its index (the metadata says which)
        target = parse_target(target, class_names=lambda: explainer.model.class_names)
    if target == "true" and labels is None:
        target = "pred"
    n_asked = len(indices)
    indices = with_pixels(explainer, dataset, indices, target, labels, region, batch_size,
                          cancelled, raw)
    check_k(k, len(indices))
    config = _config(explainer, rule)  # the rules as resolved (the default's too), recorded
    R = explain_samples(explainer, dataset, indices, config, target, labels, batch_size,
                        progress, cancelled, raw, region)
    res = analyse(R, k, neighbours, size, embed, seed, cancelled)
    lab = np.asarray(labels)[indices] if labels is not None else np.full(len(indices), -1)
    meta = {"class": None if cls is None else int(cls), "rule": config.description,
            "target": target, "neighbours": neighbours, "size": size, "embedding": embed,
            "seed": seed}
    if raw:  # the samples were fed as stored: a reader prepares them so again
        meta["raw"] = True
    if region is not None:
        meta["region"] = [int(v) for v in region]
    if len(indices) < n_asked:
        meta["left_out"] = n_asked - len(indices)
    return SprayResult(indices, lab, R, **res, meta=meta)


def with_pixels(explainer, images, indices, target, labels=None, region=None, batch_size=256,
                cancelled=None, raw=False) -> np.ndarray:
    """``indices`` less the samples whose segmentation map predicts their explained class
    (``target``: a class) at no pixel (of ``region``): nothing to explain there, where one
    explanation of them is refused. A forward pass only; a model of class scores, target
    ``pred`` (always predicted) or ``output`` (no class) keep them all."""
    from .concepts import pass_size  # noqa: PLC0415
    from .map_targets import has_pixels, region_words  # noqa: PLC0415
    from .targets import model_map_shape, resolve_classes  # noqa: PLC0415

    model = explainer.model
    if model_map_shape(model) is None or not len(indices) or \
            (isinstance(target, str) and target in ("pred", "output")):
        return np.asarray(indices)
    keep = []
    step = pass_size(explainer, explainer.prepare(take(images, indices[:1]), raw).shape[1:],
                     batch_size)
    for a in range(0, len(indices), step):
        _check(cancelled)
        idx = np.asarray(indices[a:a + step])
        y = explainer.forward(explainer.prepare(take(images, idx), raw), raw=True).outputs()
        lab = None if labels is None else np.asarray(labels)[idx]
        classes = resolve_classes(y, target, lab, class_names=lambda: model.class_names,
                                  region=region)
        keep.append(idx[np.asarray(has_pixels(y, classes, region))])
    kept = np.concatenate(keep)
    if len(kept) < MIN_SAMPLES:
        raise DatasetError(f"class {target} is predicted{region_words(region)} in {len(kept)} "
                           f"of the {len(indices)} samples only; SpRAy needs at least "
                           f"{MIN_SAMPLES} to cluster (the others have no pixels of it to "
                           "explain)")
    return kept


def class_indices(labels, n, cls=None, where=None) -> np.ndarray:
    """Dataset indices of class ``cls`` (all ``n`` when None); a class needs labels.
    ``where`` (the dataset's name) starts the refusals."""
    the = f"{where}: " if where else ""
    if cls is None:
        if n < MIN_SAMPLES:
            raise DatasetError(f"{the}{n} sample{'s' * (n != 1)}; SpRAy needs at least "
                               f"{MIN_SAMPLES} to cluster")
        return np.arange(n)
    if labels is None:
        raise DatasetError(f"{the}--class needs a dataset with labels (give them with --labels "
                           "FILE; from Python, cls with a dataset that has labels: "
                           "lrpcore.open_dataset(data, labels=LABELS))")
    whole = isinstance(cls, (int, np.integer)) and not isinstance(cls, (bool, np.bool_))
    if not (whole or (isinstance(cls, str) and is_digits(cls.strip()))):
        # 'three' was int()'s ValueError, True was class 1 and 2.5 class 2
        raise DatasetError(f"{the}class {cls!r}: give a class index (a whole number ≥ 0)")
    indices = np.flatnonzero(np.asarray(labels) == int(cls))
    if indices.size == 0:
        raise DatasetError(f"{the}no sample of class {cls} in the dataset")
    if indices.size < MIN_SAMPLES:
        raise DatasetError(f"{the}only {indices.size} sample of class {cls} in the dataset; "
                           f"SpRAy needs at least {MIN_SAMPLES} to cluster")
    return indices


def _finite_heatmaps(R, indices, where) -> np.ndarray:
    """Stored relevance as float32 maps, refused when one is not finite there: a damaged
    store's NaN reached scikit-learn ('Input X contains NaN', an internal error) and a value
    beyond float32 printed numpy's overflow warning."""
    with np.errstate(over="ignore", invalid="ignore"):  # refused below, not printed
        R = _spatial(R).astype(np.float32)
    finite = np.isfinite(R).reshape(len(R), -1).all(axis=1)
    if not finite.all():
        k = int(indices[np.argmin(finite)])
        raise DatasetError(f"{where}: the relevance of sample {k} holds NaN, infinite values "
                           "or values beyond float32 (a damaged store?); explain it again")
    return R


def spray_precomputed(store, cls=None, labels=None, k=None, neighbours=10, size=8,
                      embed="tsne", seed=0, cancelled=None) -> SprayResult:
    """SpRAy over the heatmaps of a relevance store (``lrp explain ... --out R.zarr``, e.g. from
    a cluster): nothing is explained again. ``labels`` (else the store's dataset's) select the
    class; samples whose chunk was not computed are left out."""
    if labels is None:
        labels = getattr(store.open_dataset(), "labels", None)
    indices = class_indices(labels, len(store), cls, store.path)
    indices = indices[store.available()[indices]]
    if indices.size == 0:
        raise DatasetError(f"{store.path}: no relevance stored for these samples yet")
    R = _finite_heatmaps(store.heatmaps(indices), indices, store.path)
    res = analyse(R, k, neighbours, size, embed, seed, cancelled)
    lab = np.asarray(labels)[indices] if labels is not None else np.full(len(indices), -1)
    meta = {"class": None if cls is None else int(cls), "rule": store.provenance.get("rules"),
            "target": store.provenance.get("target"), "neighbours": neighbours, "size": size,
            "embedding": embed, "seed": seed, "store": store.path}
    return SprayResult(indices, lab, R, **res, meta=meta)


def _check(cancelled):
    if cancelled is not None and cancelled():
        raise Cancelled("SpRAy stopped")


__all__ = ["EMBEDDINGS", "SprayResult", "affinity", "alike", "analyse", "check_k", "class_indices",
           "cluster", "downsample", "eigengap", "explain_samples", "features_of", "spray",
           "spray_precomputed", "suggest_k"]
