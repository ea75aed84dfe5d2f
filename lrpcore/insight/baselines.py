"""Gradient baselines for comparison with LRP: sensitivity and gradient × input.

The input gradient is computed by one backward pass over the analysis layers (trailing SoftMax
dropped, as for LRP), reusing the activations cached by :meth:`Explainer.forward`:

* linear maps (Linear, Convolution, SumPool): the transposed map ``tmap`` with the plain
  weights; SumPool's forward scales the window sum by 1/sqrt(h·w), so its gradient is scaled too;
* Rect: the mask y > 0 (the gradient at 0 is taken as 0);
* Tanh: 1 − y²;
* MaxPool: the gradient goes to the window's maximum; tied maxima share it equally (the same
  positions LRP's winner rule uses; the true gradient is undefined at ties);
* Flatten: a reshape; a SoftMax inside the network: its Jacobian-vector product;
* graph models: Clip (ReLU6) and LeakyReLU by their slopes, layout changes by their adjoint,
  and the nodes in reverse order (Add copies the gradient to its summands, Concat slices it).

Sensitivity analysis (Simonyan et al., 2014; as evaluated by Samek et al., 2017) is the
squared gradient, gradient × input (Shrikumar et al., 2016) the elementwise product.
"""

from __future__ import annotations

import numpy as np

from ..errors import RuleError
from ..explain import Forward
from ..kernels import class_relevance
from ..map_targets import map_mask, region_box
from ..targets import resolve_classes


def output_seed(y, target="pred", labels=None, xp=np, class_names=None, region=None):
    """∂(explained output)/∂y: a one-hot row per sample, or ones for target ``output``
    (:func:`lrpcore.targets.resolve_classes` reads the target); of a map, inside ``region``
    only (:mod:`lrpcore.map_targets`)."""
    classes = resolve_classes(y, target, labels, xp, class_names, region)
    ones = xp.ones_like(y)
    if classes is None:
        return ones if region is None else ones * region_box(y, region, xp)
    if y.ndim > 2:  # a map: the explained class's channel where it is predicted
        return map_mask(y, classes, xp, class_names, region)
    return class_relevance(ones, classes, xp)


def model_class_names(forward):
    """The class names of the model a forward pass ran (looked up only when a target is a
    name)."""
    return lambda: getattr(forward.explainer.model, "class_names", None)


def input_gradient(forward: Forward, target="pred", labels=None, to_numpy=True, region=None):
    """Gradient of the explained output (per sample) with respect to the fed input."""
    if getattr(forward, "stores", None) is not None:  # a graph model's forward pass
        g = _graph_input_gradient(forward, target, labels, region)
        return forward.backend.to_numpy(g) if to_numpy else g
    ex = forward.explainer
    xp = forward.backend.xp
    acts = forward.activations
    g = output_seed(acts[-1], target, labels, xp, model_class_names(forward), region)
    for i in range(len(ex.layers) - 1, -1, -1):
        layer, x, y = ex.layers[i], acts[i], acts[i + 1]
        g = _layer_gradient(layer, x, y, g, xp, ex.dtype, i)
    return forward.backend.to_numpy(g) if to_numpy else g


def _graph_input_gradient(forward, target, labels, region=None):
    """The chain rule over a graph's nodes in reverse order, shard by shard of the batch: a
    tensor read by several nodes (a residual connection) collects the gradients of all its
    readers; Add passes the gradient to every summand, Concat splits it by slices (the walk
    of the graph engine's backward pass, with gradients instead of relevance)."""
    xp = forward.backend.xp
    seed = output_seed(forward.output, target, labels, xp, model_class_names(forward), region)
    parts, start = [], 0
    for store in forward.stores:  # TensorStore: the shard's tensors by name
        parts.append(_graph_shard_gradient(forward.explainer, store,
                                           seed[start:start + store.batch], xp))
        start += store.batch
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def _graph_shard_gradient(ex, tensors, seed, xp):
    nodes = ex.nodes
    grads = {nodes[-1].output: seed}
    for k in range(len(nodes) - 1, -1, -1):
        node = nodes[k]
        g = grads.pop(node.output, None)
        if g is None:  # the explained output does not depend on this node
            continue
        layer = node.layer
        if getattr(layer, "merge", False):  # each merge kind declares its gradient
            ins = [tensors[t] for t in node.inputs]
            try:
                parts = layer.gradient_many(ins, tensors[node.output], g, xp)
            except RuleError as exc:
                raise RuleError(f"node {k} {node.name!r} ({layer.describe()}): {exc}") from None
        else:
            parts = [_layer_gradient(layer, tensors[node.inputs[0]], tensors[node.output], g,
                                     xp, ex.dtype, k)]
        for t, part in zip(node.inputs, parts, strict=True):
            grads[t] = grads[t] + part if t in grads else part
    g = grads.get(ex.model.input_name)
    return xp.zeros(tensors.shape(ex.model.input_name), ex.dtype) if g is None else g


def _layer_gradient(layer, x, y, g, xp, dtype, index):
    """The gradient each layer kind declares (lrpcore.layers.Layer.gradient)."""
    try:
        return layer.gradient(x, y, g, xp, dtype)
    except RuleError as exc:
        raise RuleError(f"layer {index} ({layer.describe()}): {exc}") from None


def _channel_sum(a, channel_sum):
    return a.sum(axis=-1) if channel_sum and a.ndim == 4 else a


def sensitivity(forward: Forward, target="pred", labels=None, channel_sum=False,
                region=None) -> np.ndarray:
    """Squared input gradient; ``channel_sum`` adds the channels of NHWC inputs (N, H, W)."""
    g = input_gradient(forward, target, labels, region=region)
    return _channel_sum(g * g, channel_sum)


def gradient_x_input(forward: Forward, target="pred", labels=None,
                     channel_sum=False, region=None) -> np.ndarray:
    """Input gradient times the fed input."""
    g = input_gradient(forward, target, labels, region=region)
    x = forward.backend.to_numpy(forward.activations[0])
    return _channel_sum(g * x, channel_sum)


BASELINES = {
    "sensitivity": sensitivity,
    "gradxinput": gradient_x_input,
}
_ALIASES = {"gradient*input": "gradxinput", "gradient_x_input": "gradxinput",
            "gxi": "gradxinput", "saliency": "sensitivity"}


def baseline_name(method) -> str | None:
    """The canonical baseline name of ``method``, or None when it is an LRP rule or preset."""
    if not isinstance(method, str):
        return None
    key = method.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in BASELINES else None


def attribute(forward: Forward, method, target="pred", labels=None, layer_rules=None,
              region=None):
    """Relevance map of ``method``: a baseline name, or an LRP rule spec / preset / RuleConfig
    (``region``: a segmentation model's box of its map)."""
    name = baseline_name(method)
    if name is not None:
        return BASELINES[name](forward, target, labels, region=region)
    return forward.relevance(method, target, layer_rules=layer_rules, labels=labels,
                             region=region)
