"""Benchmarks of the dataset-wide analyses on the bundled LeNet-5 and the MNIST sample.

``lrp bench --concepts``: SpRAy over one class and over all 5,000 digits, and RelMax references
over them (issue 16). ``lrp bench --trust``: a 5 × 3 parameter sweep over 256 samples with 100
flipping steps, and one cascading randomisation over 64 samples (issue 17). Wall-clock figures
of single runs, split into stages, each printed beside the issue's target on the 2-core CPU
(a figure to compare, never a pass/fail)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class ConceptsBenchRow:
    job: str
    samples: int
    seconds: dict  # stage → seconds
    target: float | None = None  # the target in seconds, for comparison

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def _spray_row(ex, ds, cls, rule):
    from .concepts import _config
    from .spray import (
        EMBEDDINGS,
        affinity,
        cluster,
        eigengap,
        explain_samples,
        features_of,
        one_thread,
        suggest_k,
    )

    labels = np.asarray(ds.labels)
    idx = np.arange(len(ds)) if cls is None else np.flatnonzero(labels == cls)
    config = _config(ex, rule)
    t = {}
    t0 = time.perf_counter()
    R = explain_samples(ex, ds, idx, config, "true", labels)
    t["explain"] = time.perf_counter() - t0
    with one_thread():  # as lrpcore.spray.analyse
        t0 = time.perf_counter()
        feats = features_of(R)
        A = affinity(feats)
        k = suggest_k(eigengap(A))
        cluster(A, k)
        t["cluster"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        EMBEDDINGS["tsne"](feats, 0)
        t["t-SNE"] = time.perf_counter() - t0
    name = "SpRAy all classes" if cls is None else f"SpRAy class {cls}"
    return ConceptsBenchRow(name, len(idx), t, 60.0 if cls is None else 10.0)


def run_concepts_benchmark(backend=None, rule="epsilon:0.01", layer="convolution1",
                           report=None) -> list[ConceptsBenchRow]:
    from .concepts import resolve_layer
    from .explain import Explainer
    from .io import load_model
    from .io.datasets import open_dataset
    from .relmax import compute_references

    ds = open_dataset("mnist-sample")
    ex = Explainer(load_model("mnist-lenet5"), backend)
    rows = []
    for cls in (3, None):
        rows.append(_spray_row(ex, ds, cls, rule))
        if report:
            report(rows[-1])
    k = resolve_layer(ex, layer)
    t0 = time.perf_counter()
    refs = compute_references(ex, ds, k, rule, n=8)
    rows.append(ConceptsBenchRow(f"RelMax {layer} ({refs.n_channels} channels × 8)", len(ds),
                                 {"references": time.perf_counter() - t0}))
    if report:
        report(rows[-1])
    return rows


def run_trust_benchmark(backend=None, n_sweep=256, n_sanity=64, steps=100,
                        report=None) -> list[ConceptsBenchRow]:
    """The sizes issue 17 names: the EpsilonGammaBox sweep (5 γ × 3 ε) and one cascading
    randomisation, float32 as the windows run them."""
    from .insight.sanity import cascading_randomisation
    from .insight.sweep import run_sweep
    from .insight.tasks import spread_indices
    from .io import load_model
    from .io.datasets import open_dataset

    ds = open_dataset("mnist-sample")
    model = load_model("mnist-lenet5")
    rows = []
    x = ds.images(spread_indices(len(ds), n_sweep))
    t0 = time.perf_counter()
    res = run_sweep(model, x, "EpsilonGammaBox", steps=steps, backend=backend, dtype="float32")
    rows.append(ConceptsBenchRow(f"sweep EpsilonGammaBox ({len(res.rows)} settings × {steps} "
                                 "steps)", len(x), {"sweep": time.perf_counter() - t0}, 30.0))
    if report:
        report(rows[-1])
    x = ds.images(spread_indices(len(ds), n_sanity))
    t0 = time.perf_counter()
    san = cascading_randomisation(model, x, "EpsilonGammaBox", backend=backend,
                                  dtype="float32")
    rows.append(ConceptsBenchRow(f"sanity: cascading randomisation ({len(san.steps)} steps)",
                                 len(x), {"randomisation": time.perf_counter() - t0}, 10.0))
    if report:
        report(rows[-1])
    return rows


def format_concepts_row(row: ConceptsBenchRow) -> str:
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in row.seconds.items())
    target = "" if row.target is None else f"  [target < {row.target:g} s]"
    return f"{row.job:<46} {row.samples:>6} samples  {row.total:7.2f} s  ({stages}){target}"
