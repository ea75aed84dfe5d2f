"""Gradient baselines for comparison with LRP: sensitivity and gradient × input.

The input gradient is computed by one backward pass over the analysis layers (trailing SoftMax
dropped, as for LRP), reusing the activations cached by :meth:`Explainer.forward`:

* linear maps (Linear, Convolution, SumPool): the transposed map ``tmap`` with the plain
  weights; SumPool's forward scales the window sum by 1/sqrt(h·w), so its gradient is scaled too;
* Rect: the mask y > 0 (the gradient at 0 is taken as 0);
* Tanh: 1 − y²;
* MaxPool: the gradient goes to the window's maximum; tied maxima share it equally (the same
  positions LRP's winner rule uses; the true gradient is undefined at ties);
* Flatten: a reshape; a SoftMax inside the network: its Jacobian-vector product.

Sensitivity analysis (Simonyan et al., 2014; as evaluated by Samek et al., 2017) is the
squared gradient, gradient × input (Shrikumar et al., 2016) the elementwise product.
"""

from __future__ import annotations

import numpy as np

from ..errors import RuleError
from ..explain import Forward, initial_relevance


def output_seed(y, target="pred", labels=None, xp=np):
    """∂(explained output)/∂y: a one-hot row per sample, or ones for target ``output``."""
    if isinstance(target, str):
        t = target.strip().lower()
        if t in ("output", "all", "raw"):
            return xp.ones_like(y)
        if t in ("pred", "predicted"):
            target = xp.argmax(y, axis=1)
    return initial_relevance(xp.ones_like(y), target, labels, xp)


def input_gradient(forward: Forward, target="pred", labels=None, to_numpy=True):
    """Gradient of the explained output (per sample) with respect to the fed input."""
    ex = forward.explainer
    xp = forward.backend.xp
    acts = forward.activations
    g = output_seed(acts[-1], target, labels, xp)
    for i in range(len(ex.layers) - 1, -1, -1):
        layer, x, y = ex.layers[i], acts[i], acts[i + 1]
        g = _layer_gradient(layer, x, y, g, xp, ex.dtype, i)
    return forward.backend.to_numpy(g) if to_numpy else g


def _layer_gradient(layer, x, y, g, xp, dtype, index):
    """The gradient each layer kind declares (lrpcore.layers.Layer.gradient)."""
    try:
        return layer.gradient(x, y, g, xp, dtype)
    except RuleError as exc:
        raise RuleError(f"layer {index} ({layer.describe()}): {exc}") from None


def _channel_sum(a, channel_sum):
    return a.sum(axis=-1) if channel_sum and a.ndim == 4 else a


def sensitivity(forward: Forward, target="pred", labels=None, channel_sum=False) -> np.ndarray:
    """Squared input gradient; ``channel_sum`` adds the channels of NHWC inputs (N, H, W)."""
    g = input_gradient(forward, target, labels)
    return _channel_sum(g * g, channel_sum)


def gradient_x_input(forward: Forward, target="pred", labels=None,
                     channel_sum=False) -> np.ndarray:
    """Input gradient times the fed input."""
    g = input_gradient(forward, target, labels)
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


def attribute(forward: Forward, method, target="pred", labels=None, layer_rules=None):
    """Relevance map of ``method``: a baseline name, or an LRP rule spec / preset / RuleConfig."""
    name = baseline_name(method)
    if name is not None:
        return BASELINES[name](forward, target, labels)
    return forward.relevance(method, target, layer_rules=layer_rules, labels=labels)
