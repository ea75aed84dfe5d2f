"""Benchmarks of the dataset-wide analyses (``lrp bench --concepts``): SpRAy over one class and
over all 5,000 digits of the MNIST sample, and RelMax references over them, on the bundled
LeNet-5. Wall-clock figures of single runs, split into explaining, clustering and embedding."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class ConceptsBenchRow:
    job: str
    samples: int
    seconds: dict  # stage → seconds

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
    return ConceptsBenchRow(name, len(idx), t)


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


def format_concepts_row(row: ConceptsBenchRow) -> str:
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in row.seconds.items())
    return f"{row.job:<40} {row.samples:>6} samples  {row.total:7.2f} s  ({stages})"
