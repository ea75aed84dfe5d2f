"""Concept Relevance Propagation (CRP, Achtibat et al. 2023): *what* a decision used.

A layer's channels are its concepts. Their relevance (summed over positions) ranks them; a
*conditional heatmap* is the input relevance when only one channel passes relevance at that
layer (``Forward.relevance(condition=...)``); the *composition* of a channel is how its
relevance divides among the channels of the layer below. Relevance is linear in what passes a
layer, so the conditional heatmaps of all channels sum to the unconditioned heatmap: the
identity the tests check. Chain and graph models alike: every engine keeps activations
channels-last, so a channel is an index of the last axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import Cancelled, RuleError, ShapeError
from .explain import Explainer, RuleConfig, layer_labels, resolve_rules
from .graph import node_module_path
from .graph_dilated import DilatedConvolution
from .layers import Convolution, Linear, Pad
from .text import is_digits, short

CHUNK = 64  # conditional heatmaps computed per backward pass


def _is_graph(ex) -> bool:
    return hasattr(ex, "nodes")


def layer_names(ex) -> list[str]:
    """A stable name per layer: a graph node's ONNX name; for a chain, the layer kind in lower
    case numbered among its kind (``convolution0``, ``rect1``, ...)."""
    if _is_graph(ex):
        return [n.name for n in ex.nodes]
    from .model import chain_layer_names  # noqa: PLC0415

    return chain_layer_names(ex.layers)


def concept_layers(ex) -> list[int]:
    """Layers whose output every path from the input to the output passes: only there does
    conditioning one channel isolate it (in a graph, a node bypassed by a skip connection
    would still let the skip's relevance through). Every layer of a chain; a graph's block
    outputs (Add, the ReLU after it, pooling, ...)."""
    if not _is_graph(ex):
        return list(range(len(ex.layers)))
    nodes = ex.nodes
    last_read = {ex.model.input_name: -1}
    for j, node in enumerate(nodes):
        for t in node.inputs:
            last_read[t] = j
    cuts = []
    live = {ex.model.input_name}  # tensors made so far that a later node still reads
    for k, node in enumerate(nodes):
        live = {t for t in live if last_read.get(t, -1) > k}
        if not live:
            cuts.append(k)
        live.add(node.output)
    return cuts


def resolve_layer(ex, key) -> int:
    """The layer index that ``key`` names: an index (negative counts from the end), a name
    from :func:`layer_names`, a PyTorch module path that names one layer
    (:func:`module_layers`), or a chain layer's exact description when unique; it must be
    one of :func:`concept_layers`."""
    k = _resolve(ex, key)
    if k not in concept_layers(ex):
        names = layer_labels(ex.layers)
        cuts = offered_layers(ex)
        near = sorted(sorted(cuts, key=lambda i: (abs(i - k), -i))[:4])  # the nearest ones
        raise RuleError(f"layer {names[k]!r} is bypassed by a skip connection, so its "
                        "channels cannot be isolated; choose a block output such as "
                        f"{', '.join(names[i] for i in near)}")
    return k


def offered_layers(ex) -> list[int]:
    """The layers a message suggests choosing: :func:`concept_layers` without Pad nodes, whose
    channels are only those of the layer under them (an unknown name listed ToChannelsLast,
    then Pad, Conv, ... Pad: layers bypassed by a skip connection and pads among them)."""
    return [i for i in concept_layers(ex) if not isinstance(ex.layers[i], Pad)]


def _resolve(ex, key) -> int:
    n = len(ex.layers)
    text = str(key).strip()
    if is_digits(text.lstrip("-")):
        k = int(text)
        k = k + n if k < 0 else k
        if not 0 <= k < n:
            raise RuleError(f"layer {key} does not exist (0..{n - 1})")
        return k
    names = layer_names(ex)
    if text in names:
        return names.index(text)
    by_module = module_layers(ex, text)
    if len(by_module) == 1:
        return by_module[0]
    labels = layer_labels(ex.layers)
    if by_module:
        raise RuleError(f"module path {text!r} names {len(by_module)} layers: "
                        f"{', '.join(f'{i} {labels[i]}' for i in by_module)}; give one's node "
                        "name or index")
    described = [i for i, layer in enumerate(ex.layers) if layer.describe() == text]
    if len(described) == 1:
        return described[0]
    offered = [labels[i] for i in offered_layers(ex)]
    raise RuleError(f"no layer is named {text!r} (layers to choose: {', '.join(offered[:8])}"
                    f"{', ...' if len(offered) > 8 else ''}; or give an index)")


def module_layers(ex, path: str) -> list[int]:
    """The layers of a graph whose PyTorch module path is ``path`` ('layer4.1.conv2': recorded
    for a ``dynamo=True`` export's node_conv2d_14, read from a TorchScript export's
    '/layer4/layer4.1/conv2/Conv'), without the pads the importer adds, which share it."""
    if not _is_graph(ex):
        return []
    return [k for k, node in enumerate(ex.nodes)
            if node_module_path(node.name, node.layer) == path
            and not isinstance(node.layer, Pad)]


def mixes_channels(layer) -> bool:
    """Whether ``layer`` makes each output channel from all input channels (a dense layer or
    an ungrouped convolution, dilated too): where a concept's channels are made."""
    return isinstance(layer, (Convolution, DilatedConvolution, Linear))


def lower_layer(ex, k) -> int | None:
    """The nearest layer below k that makes channels (a linear map or a merge), that all
    relevance passes (:func:`concept_layers`) and from which some linear map leads to k (a
    residual block's Add right under its ReLU would only hand each channel to itself);
    None when the input comes first."""
    for j in sorted(concept_layers(ex), reverse=True):
        layer = ex.layers[j]
        if j < k and (getattr(layer, "merge", False) or mixes_channels(layer)) and any(
                mixes_channels(ex.layers[i]) for i in range(j + 1, k + 1)):
            return j
    return None


def output_relevance(ex, trace, k):
    """Relevance arriving at layer k's output, from a ``trace=True`` result."""
    if _is_graph(ex):
        return trace.outputs[k]
    return trace[k + 1]


def channel_mask(out_shape, channel, dtype=np.float64, position=None) -> np.ndarray:
    """The per-sample mask letting one channel (optionally at one position) pass."""
    m = np.zeros(out_shape, dtype=dtype)
    if position is None:
        m[..., channel] = 1
    else:
        m[tuple(position) + (channel,)] = 1
    return m


def check_channels(channels, count) -> list[int]:
    """``channels`` as ints, in their order; ShapeError for one a layer of ``count`` channels
    lacks (channel 999 was numpy's IndexError, and -1 took the last channel under its own
    name). 1.5 or True was channel 1 under ``int``, and 'a' a bare ValueError: a channel must
    be a whole number."""
    chosen = [whole_channel(c) for c in channels]
    wrong = [c for c in chosen if not 0 <= c < count]
    if wrong:
        raise ShapeError(f"channel {wrong[0]}: the layer has channels 0..{count - 1}")
    return chosen


def whole_channel(c) -> int:
    """``c`` as an int; ShapeError naming ``channels`` unless it is a whole number."""
    if isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)):
        return int(c)
    if isinstance(c, (float, np.floating)) and float(c).is_integer():
        return int(c)
    raise ShapeError(f"channels: {short(repr(c), 40)} is no channel; a channel is a whole "
                     "number (0, 1, …)")


def _config(ex, rule, layer_rules=None) -> RuleConfig:
    return rule if isinstance(rule, RuleConfig) else resolve_rules(ex.layers, rule, layer_rules)


def _layer(fwd, k) -> int:
    """Layer ``k`` of ``fwd``'s model: an index as it is, a name (``"convolution1"``,
    ``"/layer2/relu_1/Relu"``) resolved as :func:`resolve_layer` does. A name failed deep
    inside with a TypeError. ``fwd`` must be a forward pass: a model or an explainer there
    was "AttributeError: … has no attribute 'explainer'"."""
    if not (hasattr(fwd, "explainer") and hasattr(fwd, "relevance")):
        raise ShapeError(f"fwd: got {type(fwd).__name__}; the concepts functions take a forward "
                         "pass of the sample: fwd = lrpcore.Explainer(model).forward(x)")
    return layer_index(fwd.explainer, k)


def layer_index(ex, k) -> int:
    """:func:`_layer` for an explainer (RelMax's ``k``: a name failed in a TypeError). An
    index is checked as a name is: 999 was an IndexError, -1 read the input's relevance as
    layer -1's, and a node a skip connection bypasses gave conditional heatmaps that do not
    add up to the heatmap."""
    return resolve_layer(ex, k)


def layer_relevance(fwd, k, rule=None, target="pred", labels=None, layer_rules=None,
                    region=None):
    """(N, *layer k's output shape): the relevance arriving at layer k (an index or a name),
    per sample; and the input relevance (the unconditioned heatmap). ``region``: a box of a
    segmentation model's output map (:mod:`lrpcore.map_targets`)."""
    k = _layer(fwd, k)
    config = _config(fwd.explainer, rule, layer_rules)
    R, trace = fwd.relevance(config, target, labels=labels, trace=True, region=region)
    return np.asarray(output_relevance(fwd.explainer, trace, k)), R


def channel_relevance(fwd, k, rule=None, target="pred", labels=None, layer_rules=None,
                      region=None):
    """(N, C): the relevance of every channel of layer k (an index or a name), summed over
    positions, per sample; and the input relevance, as :func:`layer_relevance`."""
    r, R = layer_relevance(fwd, k, rule, target, labels, layer_rules, region)
    return channel_sums(r), R


def channel_sums(r) -> np.ndarray:
    """(N, C): a layer's relevance r (N, ..., C) summed over positions."""
    return r.reshape(r.shape[0], -1, r.shape[-1]).sum(axis=1)


@dataclass
class Ranking:
    """The channels of one layer for one sample, best first."""

    layer: int
    name: str
    channels: np.ndarray   # channel indices, most relevant first
    relevance: np.ndarray  # their relevance (sum over positions)
    share: np.ndarray      # relevance / |total relevance of the layer| (sign kept)
    heatmap: np.ndarray    # the unconditioned input relevance (fed input's shape)
    at_layer: np.ndarray | None = None  # the relevance arriving at the layer (its output's
    # shape): RelMax's scan of a dataset holding the sample takes it (relmax.compute_references)

    def rows(self):
        return zip(self.channels.tolist(), self.relevance.tolist(), self.share.tolist(),
                   strict=True)


def rank_channels(fwd, k, rule=None, target="pred", labels=None, layer_rules=None,
                  region=None) -> Ranking:
    """Channels of layer k (an index or a name) ranked by their relevance for the first
    sample of ``fwd``."""
    k = _layer(fwd, k)
    r, R = layer_relevance(fwd, k, rule, target, labels, layer_rules, region)
    rel = channel_sums(r[:1])[0]
    order = np.argsort(-rel, kind="stable")
    total = rel.sum()  # divided by its size: against a class the total is negative, and a
    # channel for it would otherwise show a negative share (and one against it a positive)
    share = rel / abs(total) if total != 0 else np.zeros_like(rel)
    return Ranking(k, layer_names(fwd.explainer)[k], order, rel[order], share[order], R[0],
                   r[0])


def output_shape(fwd, k) -> tuple:
    """Per-sample shape of layer k's output."""
    return tuple(fwd.activations[k + 1].shape[1:])


def single_pass(ex) -> Explainer:
    """An explainer of the same model that keeps a batch in one piece, so that a condition
    mask may carry one mask per sample (shape batch × output) instead of one for all."""
    if _is_graph(ex) or ex.threads == 1:
        return ex
    return Explainer(ex.model, ex.backend.name, ex.dtype.name, threads=1)


def pass_size(ex, sample_shape, wanted) -> int:
    """Samples per pass: at most ``wanted``, and on the CPU no more than the engine's pass
    budget holds (:meth:`Explainer.passes`): 64 EfficientNet images at 224² would keep ~9 GB
    of float64 activations, where 64 digits keep a few MB."""
    return max(1, ex.passes((int(wanted),) + tuple(sample_shape), int(wanted))[0][1])


def conditional_batch(ex, x, k, masks, rule=None, target="pred", labels=None,
                      layer_rules=None, region=None) -> np.ndarray:
    """Input relevance of samples ``x`` (fed input, batch B) when layer k's output relevance
    is multiplied by ``masks`` (B × output shape), one mask per sample."""
    one = single_pass(ex)
    config = _config(one, rule, layer_rules)
    fwd = one.forward(x, raw=True)
    return fwd.relevance(config, target, labels=labels, condition={k: masks}, region=region)


def conditional_heatmaps(fwd, k, channels, rule=None, target="pred", labels=None,
                         layer_rules=None, cancelled=None, region=None) -> np.ndarray:
    """(len(channels), *fed input shape): the input relevance of the first sample of ``fwd``
    when only each channel of layer k (an index or a name) passes relevance."""
    k = _layer(fwd, k)
    ex = fwd.explainer
    x = ex.backend.to_numpy(fwd.activations[0][:1])
    shape = output_shape(fwd, k)
    lab = None if labels is None else np.asarray(labels)[:1]
    channels = check_channels(channels, shape[-1])
    out = np.empty((len(channels),) + x.shape[1:], dtype=ex.dtype)
    step = pass_size(ex, x.shape[1:], CHUNK)
    for a in range(0, len(channels), step):
        if cancelled is not None and cancelled():
            raise Cancelled("conditional heatmaps stopped")
        part = channels[a:a + step]
        masks = np.stack([channel_mask(shape, c) for c in part])
        xs = np.repeat(x, len(part), axis=0)
        labs = None if lab is None else np.repeat(lab, len(part))
        out[a:a + len(part)] = conditional_batch(ex, xs, k, masks, rule, target, labs,
                                                 layer_rules, region)
    return out


@dataclass
class Composition:
    """How one channel's relevance divides among the channels of the layer below."""

    layer: int
    channel: int
    lower: int | None          # the layer below (None: the input comes next)
    channels: np.ndarray       # lower channels, largest share first
    relevance: np.ndarray
    share: np.ndarray

    def top(self, n=5):
        return list(zip(self.channels[:n].tolist(), self.share[:n].tolist(), strict=True))


def composition(fwd, k, channel, rule=None, target="pred", labels=None,
                layer_rules=None, region=None) -> Composition:
    """The relevance of channel ``channel`` of layer k (first sample of ``fwd``), as it
    arrives at the channels of the layer below (:func:`lower_layer`); k an index or a name;
    ``region`` as in :func:`channel_relevance`."""
    k = _layer(fwd, k)
    ex = fwd.explainer
    j = lower_layer(ex, k)
    if j is None:
        empty = np.zeros(0)
        return Composition(k, int(channel), None, empty.astype(int), empty, empty)
    config = _config(ex, rule, layer_rules)
    channel = check_channels([channel], output_shape(fwd, k)[-1])[0]
    mask = channel_mask(output_shape(fwd, k), channel)
    one = ex.forward(ex.backend.to_numpy(fwd.activations[0][:1]), raw=True)
    lab = None if labels is None else np.asarray(labels)[:1]
    _, trace = one.relevance(config, target, labels=lab, trace=True, condition={k: mask},
                             region=region)
    r = np.asarray(output_relevance(ex, trace, j))[0]
    rel = r.reshape(-1, r.shape[-1]).sum(axis=0)
    order = np.argsort(-np.abs(rel), kind="stable")
    total = np.abs(rel).sum()
    share = rel / total if total != 0 else np.zeros_like(rel)
    return Composition(k, int(channel), j, order, rel[order], share[order])


__all__ = ["Composition", "Ranking", "channel_mask", "channel_relevance", "composition",
           "concept_layers",
           "conditional_batch", "conditional_heatmaps", "layer_names", "layer_relevance",
           "lower_layer", "module_layers",
           "output_relevance", "pass_size", "rank_channels", "resolve_layer"]
