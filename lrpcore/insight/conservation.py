"""Relevance conservation, layer by layer.

LRP should pass on, at every layer, the relevance it received (Bach et al., 2015). Rules do
not always: biases and stabilisers (simple, ε) absorb relevance, alpha-beta with α ≠ 1 and the
toolbox's SumPool rule multiply it (each SumPool by α), flat and w² redistribute it. For each
layer k this module reports the relevance sum arriving at its output (``sum_out``, what the
layer above sent back) and leaving at its input (``sum_in``), their difference
(``created`` > 0: created, < 0: absorbed), their ratio, and ``sum_in`` relative to the explained
output (the sum of the initial relevance). In a graph model every node has a row named by its
node, and a merge (Add, Concat) also lists what each of its input branches received
(``branches``): the split that ``sum_in`` totals.

A node's own sums are only part of what flows at its depth in a graph: the rest is on a skip
branch, so drawing ``sum_in`` node after node shows dips at every branch that look like lost
relevance. ``cut`` is the honest total at node k: the relevance crossing the cut just below k,
i.e. on every edge from a tensor written before k (or the model input) into a node at or after
k. All relevance from the output flows through that cut, so it changes only by what the nodes
above absorb or create; in a chain it is ``sum_in`` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..explain import Forward
from ..graph import node_label
from ..text import printable_line


@dataclass(frozen=True)
class ConservationRow:
    """Relevance sums of one sample around one layer (relevance flows from output to input)."""

    sample: int
    layer: int
    description: str
    sum_out: float  # relevance arriving at the layer's output
    sum_in: float  # relevance leaving at the layer's input
    explained: float  # the sample's explained output (sum of the initial relevance)
    node: str = ""  # a graph model's node name
    # at a merge: (index of the node writing the input (−1: the model input), its name, the
    # relevance this input received) per input; empty elsewhere
    branches: tuple = ()
    # ΣR across the cut at the node's input: every edge from a node before it into one at or
    # after it (a chain: sum_in)
    cut: float = math.nan
    module: str = ""  # the PyTorch module path recorded for the node (a dynamo=True export's)

    @property
    def label(self) -> str:
        """The node as tables show it: its name and its recorded module path."""
        return node_label(self.node, self.module)

    @property
    def created(self) -> float:
        """Relevance created (> 0) or absorbed (< 0) by this layer."""
        return self.sum_in - self.sum_out

    @property
    def ratio(self) -> float:
        """sum_in / sum_out (nan when nothing arrived)."""
        return self.sum_in / self.sum_out if self.sum_out != 0 else math.nan

    @property
    def of_output(self) -> float:
        """sum_in / explained output (1 when everything up to here conserved)."""
        return self.sum_in / self.explained if self.explained != 0 else math.nan


def _per_sample_sums(r) -> np.ndarray:
    r = np.asarray(r)
    return r.reshape(r.shape[0], -1).sum(axis=1)


def conservation_from_trace(per_layer, layers, samples=None) -> list[ConservationRow]:
    """Rows for a relevance trace (``Forward.relevance(..., trace=True)[1]``).

    ``per_layer[k]`` is the relevance at the input of layer k, ``per_layer[-1]`` the initial
    relevance; ``samples`` numbers the batch's samples in the rows (default 0..N−1).
    """
    if len(per_layer) != len(layers) + 1:
        raise ShapeError(f"a trace of {len(per_layer)} arrays does not fit {len(layers)} layers")
    sums = [_per_sample_sums(r) for r in per_layer]
    received = getattr(per_layer, "outputs", None)  # a graph's: what each node received
    out_sums = ([_per_sample_sums(r) for r in received] if received is not None
                else sums[1:])
    n = sums[0].shape[0]
    samples = list(range(n)) if samples is None else [int(s) for s in samples]
    if len(samples) != n:
        raise ShapeError(f"{len(samples)} sample numbers given for a batch of {n}")
    explained = sums[-1]
    names = list(getattr(layers, "names", None) or [""] * len(layers))
    split = _branch_sums(per_layer, layers, n)
    cuts = cut_sums(sums, split, getattr(layers, "sources", None))
    rows = []
    for s in range(n):
        for k in range(len(layers) - 1, -1, -1):
            branches = () if split[k] is None else tuple(
                (src, names[src] if src >= 0 else "input", float(split[k][s, i]))
                for i, src in enumerate(layers.sources[k]))
            rows.append(ConservationRow(samples[s], k, layers[k].describe(),
                                        float(out_sums[k][s]), float(sums[k][s]),
                                        float(explained[s]), names[k], branches,
                                        float(cuts[s, k]),
                                        getattr(layers[k], "module_path", None) or ""))
    return rows


def cut_sums(sums, split, sources=None) -> np.ndarray:
    """N × (L+1) relevance crossing the cut at the input of each node (column L: the initial
    relevance). ``sums[k]``: N sums at node k's input (``sums[L]``: the initial relevance),
    ``split[k]``: N × inputs sums at a merge (else None), ``sources[k]``: the node writing each
    input of node k (−1: the model input; None: a chain). An edge from node s into node j
    crosses the cuts of nodes s+1..j; in a chain each cut holds one edge, its value exactly."""
    n_layers = len(sums) - 1
    cuts = np.zeros((np.asarray(sums[0]).shape[0], n_layers + 1))
    cuts[:, n_layers] = sums[n_layers]
    for j in range(n_layers):
        srcs = (j - 1,) if sources is None else sources[j]
        for i, s in enumerate(srcs):
            edge = sums[j] if len(srcs) == 1 else split[j][:, i]
            cuts[:, s + 1:j + 1] += np.asarray(edge, dtype=np.float64)[:, None]
    return cuts


def _branch_sums(per_layer, layers, n) -> list:
    """Per node k: N × inputs relevance each input of a merge received, or None (no merge)."""
    branches = getattr(per_layer, "branches", None)
    sources = getattr(layers, "sources", None)
    out = [None] * len(layers)
    if sources is None:
        return out
    for k in range(len(layers)):
        if len(sources[k]) < 2:
            continue
        b = None if branches is None else branches[k]
        out[k] = np.zeros((n, len(sources[k]))) if b is None else \
            np.asarray(b, dtype=np.float64).reshape(n, -1)
    return out


def conservation(forward: Forward, rule=None, target="pred", labels=None, layer_rules=None,
                 samples=None) -> list[ConservationRow]:
    """Per-layer conservation rows of every sample of ``forward`` for one rule configuration."""
    _, per_layer = forward.relevance(rule, target, layer_rules=layer_rules, labels=labels,
                                     trace=True)
    return conservation_from_trace(per_layer, forward.explainer.layers, samples)


def layer_relevance_map(forward: Forward, layer: int, rule=None, target="pred", labels=None,
                        layer_rules=None, channel_sum=True, trace=None) -> np.ndarray:
    """Relevance at the input of layer ``layer`` (``len(layers)``: the initial relevance).

    Convolutional (N, H, W, C) maps are summed over channels to (N, H, W) unless
    ``channel_sum`` is False; a channels-first model input (N, C, H, W) comes back as
    (N, H, W[, C]) like every other map. Pass a ``trace`` (the per-layer list) to skip the
    backward pass.
    """
    n_layers = len(forward.explainer.layers)
    try:
        k = int(layer)
    except (TypeError, ValueError):
        raise ShapeError(f"layer {layer!r} is not an integer") from None
    if not 0 <= k <= n_layers:
        raise ShapeError(f"layer {k} does not exist: choose 0..{n_layers} "
                         f"({n_layers} = the initial relevance)")
    if trace is None:
        _, trace = forward.relevance(rule, target, layer_rules=layer_rules, labels=labels,
                                     trace=True)
    r = np.asarray(trace[k])
    if r.ndim == 4 and _channels_first_input(forward, r):  # a PyTorch model's N×C×H×W
        r = r.transpose(0, 2, 3, 1)  # input, drawn as images are (it was summed over W)
    return r.sum(axis=-1) if channel_sum and r.ndim == 4 else r


def _channels_first_input(forward, r) -> bool:
    """Whether ``r`` is relevance of the model's own input in its N×C×H×W layout (graph
    models relabel everything after it as N×H×W×C)."""
    spec = forward.explainer.model.input_spec
    return (spec is not None and spec.layout == "NCHW"
            and tuple(r.shape[1:]) == tuple(spec.shape))


def _num(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.6g}"


def branch_text(source: int, share: float) -> str:
    """How a merge's input branch is named in tables: the node writing it (or the model
    input) and its share of the merge's relevance."""
    where = "the model input" if source < 0 else f"node {source}"
    return f"↳ from {where}: {_percent(share)}"


def input_cut(rows) -> float:
    """ΣR across the cut at the model input: the last (input-most) row's cut (its input sum
    when no cut was recorded)."""
    if not rows:
        return math.nan
    last = rows[-1]
    return last.cut if math.isfinite(last.cut) else last.sum_in


def cut_summary(explained: float, bottom: float) -> str:
    """'explained output f(x) = …, ΣR across the cut at the input = … (… of f(x))': the line
    the Conservation panel and ``lrp explain --trace`` head a sample with."""
    ratio = bottom / explained if explained else math.nan
    return (f"explained output f(x) = {_num(explained)}, ΣR across the cut at the input = "
            f"{_num(bottom)} ({_num(ratio)} of f(x))")


def format_conservation(rows, classes=None) -> str:
    """A plain-text table of conservation rows, one block per sample; a graph model's rows
    name their node and give ΣR across the cut at the node's input (what flows at that depth,
    skip branches included), and under a merge one line per input branch gives the relevance
    that branch received (its share of the merge's, and the node it flows to). A node's
    recorded module path follows its name (``node_conv2d_1 [stage.0.branch1.0]``). Names are
    shown printable: an ONNX file's escape sequences reached the terminal of --trace.
    ``classes`` (sample → "class 285 (Egyptian cat)") ends each sample's first line with
    what it explains."""
    graph = any(row.node for row in rows)
    head = (f"{'layer':>5}  {'':<34} {'R at output':>12} {'R at input':>12} "
            f"{'created(+)/absorbed(-)':>22} {'in/out':>9} {'in/f(x)':>9}"
            + (f" {'ΣR across the cut':>17}  node" if graph else "")
            + (" [module]" if any(row.module for row in rows) else ""))
    lines = []
    current = None
    last = {row.sample: row for row in rows}  # each sample's input-most row
    labels = branch_labels(rows)
    for row in rows:
        if row.sample != current:
            current = row.sample
            if lines:
                lines.append("")
            bottom = input_cut([last[current]])
            which = (classes or {}).get(row.sample)
            lines.append(f"sample {row.sample}: {cut_summary(row.explained, bottom)}"
                         + (f"; explains {which}" if which is not None else ""))
            lines.append(head)
        lines.append(f"{row.layer:>5}  {row.description[:34]:<34} {_num(row.sum_out):>12} "
                     f"{_num(row.sum_in):>12} {_num(row.created):>22} {_num(row.ratio):>9} "
                     f"{_num(row.of_output):>9}"
                     + (f" {_num(row.cut):>17}  {printable_line(row.label)}" if graph else ""))
        for source, name, value in row.branches:
            share = value / row.sum_in if row.sum_in != 0 else math.nan
            lines.append(f"{'':>5}    {branch_text(source, share):<32} {'':>12} "
                         f"{_num(value):>12} {'':>22} {'':>9} {'':>9}"
                         f"{'':>18}  {printable_line(labels.get(source, name))}")
    return "\n".join(lines)


def branch_labels(rows) -> dict:
    """{node: its label} of the rows' nodes (with a recorded module path), for the branch lines
    of a merge, whose tuples keep the bare name of the node writing them."""
    return {row.layer: row.label for row in rows if row.module}


def _percent(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{100 * v:.1f} %"
