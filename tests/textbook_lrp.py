"""A slow, obvious LRP written for the third engine review, independent of ``lrpcore``.

Every linear-map layer (dense, convolution, sum pooling) is turned into an explicit dense
matrix M (inputs × outputs) with a per-output bias, and every rule is written with the full
per-sample contribution matrix z_ij = x_i M_ij, exactly as the formulas read in
``../shared/RULES.md`` and ``../shared/reference/README.md`` §8. Nothing here is fast; the
models it serves have a few hundred weights.

Layers are tuples: ``("linear", W, B)``, ``("conv", W, B, (s0, s1))``,
``("sumpool", (h, w), (s0, s1))``, ``("maxpool", (h, w), (s0, s1))``, ``("rect",)``,
``("tanh",)``, ``("flatten",)``, ``("softmax",)``.
"""

from __future__ import annotations

import numpy as np


def to_toolbox_text(layers, legacy=False) -> str:
    """The toolbox's plain-text form; ``legacy`` writes one weight row per line (dense only)."""
    def numbers(a):
        return " ".join(repr(float(v)) for v in np.ravel(a))

    out = []
    for layer in layers:
        kind = layer[0]
        if kind == "linear":
            W, B = layer[1], layer[2]
            out.append(f"Linear {W.shape[0]} {W.shape[1]}")
            out += [numbers(row) for row in W] if legacy else [numbers(W)]
            out.append(numbers(B))
        elif kind == "conv":
            W, B, (s0, s1) = layer[1], layer[2], layer[3]
            out.append("Convolution " + " ".join(map(str, W.shape)) + f" {s0} {s1}")
            out += [numbers(W), numbers(B)]
        elif kind in ("sumpool", "maxpool"):
            (h, w), (s0, s1) = layer[1], layer[2]
            out.append(f"{'SumPool' if kind == 'sumpool' else 'MaxPool'} {h} {w} {s0} {s1}")
        else:
            out.append({"rect": "Rect", "tanh": "Tanh", "flatten": "Flatten",
                        "softmax": "SoftMax"}[kind])
    return "\n".join(out) + "\n"


def _windows(in_shape, pool, stride):
    """(output index (i, j), list of input (row, col)) for every window position."""
    H, W = in_shape[:2]
    h, w = pool
    Ho, Wo = (H - h) // stride[0] + 1, (W - w) // stride[1] + 1
    for i in range(Ho):
        for j in range(Wo):
            yield (i, j), [(i * stride[0] + a, j * stride[1] + b)
                           for a in range(h) for b in range(w)], (Ho, Wo)


def as_matrix(layer, in_shape):
    """(M, structure, bias, scale, out_shape) of a linear-map layer for one input shape."""
    kind = layer[0]
    size = int(np.prod(in_shape))
    if kind == "linear":
        W, B = layer[1], layer[2]
        return W, np.ones_like(W), B, 1.0, (W.shape[1],)
    H, Wd, D = in_shape
    index_in = np.arange(size).reshape(in_shape)
    if kind == "conv":
        W, B, stride = layer[1], layer[2], layer[3]
        h, w, d, n = W.shape
        wins = list(_windows(in_shape, (h, w), stride))
        Ho, Wo = wins[0][2]
        out_shape = (Ho, Wo, n)
        index_out = np.arange(Ho * Wo * n).reshape(out_shape)
        M = np.zeros((size, Ho * Wo * n))
        for (i, j), cells, _ in wins:
            for (r, c), (a, b) in zip(cells, [(a, b) for a in range(h) for b in range(w)],
                                      strict=True):
                for ch in range(d):
                    for f in range(n):
                        M[index_in[r, c, ch], index_out[i, j, f]] += W[a, b, ch, f]
        structure = np.zeros_like(M)
        for (i, j), cells, _ in wins:
            for (r, c) in cells:
                for ch in range(d):
                    structure[index_in[r, c, ch], index_out[i, j]] = 1
        bias = np.tile(B, Ho * Wo)
        return M, structure, bias, 1.0, out_shape
    if kind == "sumpool":
        pool, stride = layer[1], layer[2]
        wins = list(_windows(in_shape, pool, stride))
        Ho, Wo = wins[0][2]
        out_shape = (Ho, Wo, D)
        index_out = np.arange(Ho * Wo * D).reshape(out_shape)
        M = np.zeros((size, Ho * Wo * D))
        for (i, j), cells, _ in wins:
            for (r, c) in cells:
                for ch in range(D):
                    M[index_in[r, c, ch], index_out[i, j, ch]] = 1.0
        return M, M.copy(), np.zeros(M.shape[1]), 1.0 / np.sqrt(pool[0] * pool[1]), out_shape
    raise ValueError(kind)


def maxpool_forward(x, pool, stride):
    wins = list(_windows(x.shape, pool, stride))
    Ho, Wo = wins[0][2]
    y = np.empty((Ho, Wo, x.shape[2]))
    for (i, j), cells, _ in wins:
        for ch in range(x.shape[2]):
            y[i, j, ch] = max(x[r, c, ch] for r, c in cells)
    return y


def forward(layers, x):
    """Activations of one sample: the input of every layer, then the output."""
    acts = [np.asarray(x, dtype=np.float64)]
    a = acts[0]
    for layer in layers:
        kind = layer[0]
        if kind in ("linear", "conv", "sumpool"):
            M, _, b, scale, out_shape = as_matrix(layer, a.shape)
            a = ((a.reshape(-1) @ M + b) * scale).reshape(out_shape)
        elif kind == "maxpool":
            a = maxpool_forward(a, layer[1], layer[2])
        elif kind == "rect":
            a = np.maximum(a, 0)
        elif kind == "tanh":
            a = np.tanh(a)
        elif kind == "flatten":
            a = a.reshape(-1)
        elif kind == "softmax":
            e = np.exp(a - a.max())
            a = e / e.sum()
        acts.append(a)
    return acts


def s(z):
    return np.where(z >= 0, 1.0, -1.0)


def stab6(z):
    return z + 1e-6 * s(z)


def linear_rule(rule, layer, x, R, input_range):
    """R_i for one sample at one linear-map layer; ``rule`` is (name, *parameters)."""
    name, *p = rule
    M, S, b, _, _ = as_matrix(layer, x.shape)
    x = x.reshape(-1)
    R = R.reshape(-1)
    Z = x[:, None] * M
    z = Z.sum(axis=0) + b  # the stored output (sum pooling: the raw window sum)
    Zp = np.where(Z > 0, Z, 0.0)
    Zn = Z - Zp
    bp, bn = np.maximum(b, 0), np.minimum(b, 0)
    if name == "simple":
        eps = 1e-12 if layer[0] == "sumpool" else 1e-16
        out = Z @ (R / (z + eps * s(z)))
    elif name == "epsilon":
        out = Z @ (R / (z + p[0] * s(z)))
    elif name == "alphabeta":
        alpha = p[0]
        beta = 1.0 - alpha
        dp = Zp.sum(axis=0) + bp + 1e-16
        dn = Zn.sum(axis=0) + bn - 2e-16
        out = alpha * (Zp @ (R / dp))
        if beta != 0:
            out = out + beta * (Zn @ (R / dn))
    elif name == "flat":
        out = S @ (R / S.sum(axis=0))
    elif name == "ww":
        out = (M * M) @ (R / (M * M).sum(axis=0))
    elif name == "zplus":
        out = Zp @ (R / stab6(Zp.sum(axis=0) + bp))
    elif name == "gamma":
        g = p[0]
        xp_, xn_ = np.maximum(x, 0), np.minimum(x, 0)
        Mp, Mn = np.maximum(M, 0), np.minimum(M, 0)
        up = xp_[:, None] * (M + g * Mp) + xn_[:, None] * (M + g * Mn)
        down = xp_[:, None] * (M + g * Mn) + xn_[:, None] * (M + g * Mp)
        c_up = np.where(z > 0, R / stab6(up.sum(axis=0) + b + g * bp), 0.0)
        c_down = np.where(z < 0, R / stab6(down.sum(axis=0) + b + g * bn), 0.0)
        out = up @ c_up + down @ c_down
    elif name == "zb":
        low, high = p if p else input_range
        Q = Z - low * np.maximum(M, 0) - high * np.minimum(M, 0)
        out = Q @ (R / stab6(Q.sum(axis=0)))
    else:
        raise ValueError(name)
    return out


def maxpool_rule(rule, layer, x, R):
    pool, stride = layer[1], layer[2]
    out = np.zeros_like(x)
    y = maxpool_forward(x, pool, stride)
    for (i, j), cells, _ in _windows(x.shape, pool, stride):
        for ch in range(x.shape[2]):
            if rule[0] in ("flat", "ww"):
                chosen = cells
            else:  # every other rule: the winners, ties split equally
                chosen = [(r, c) for r, c in cells if x[r, c, ch] == y[i, j, ch]]
            for r, c in chosen:
                out[r, c, ch] += R[i, j, ch] / len(chosen)
    return out


def relevance(layers, x, rules, target="pred", input_range=(-1.0, 1.0)):
    """Relevance at the input of one sample; ``rules[k]`` is the rule of layer k (or None).

    A trailing SoftMax is dropped first, as the toolbox's ``drop_softmax_output_layer``.
    """
    if layers[-1][0] == "softmax":
        layers = layers[:-1]
    acts = forward(layers, x)
    y = acts[-1].reshape(-1)
    if target == "output":
        R = y.copy()
    else:
        k = int(np.argmax(y)) if target == "pred" else int(target)
        R = np.zeros_like(y)
        R[k] = y[k]
    for k in range(len(layers) - 1, -1, -1):
        layer, a = layers[k], acts[k]
        if layer[0] in ("linear", "conv", "sumpool"):
            R = linear_rule(rules[k], layer, a, R, input_range).reshape(a.shape)
        elif layer[0] == "maxpool":
            R = maxpool_rule(rules[k], layer, a, R.reshape(acts[k + 1].shape))
        else:
            R = R.reshape(a.shape)
    return R
