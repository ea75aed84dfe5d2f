"""Slow, obvious LRP: every layer as an explicit matrix, every rule as its textbook formula.

Used only by tests to check the fast engine (which never builds batch × inputs × outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrpcore.rules import Epsilon


def s(z):
    return np.where(z >= 0, 1.0, -1.0)


def dense_matrix(layer, in_shape):
    """(inputs × outputs) matrix and bias vector of a Linear, Convolution or SumPool layer."""
    size = int(np.prod(in_shape))
    if layer.kind == "Linear":
        return layer.W, layer.B
    out_shape = layer.output_shape(in_shape)
    M = np.zeros((size, int(np.prod(out_shape))))
    Ho, Wo, n = out_shape
    s0, s1 = layer.stride
    idx_in = np.arange(size).reshape(in_shape)
    idx_out = np.arange(M.shape[1]).reshape(out_shape)
    if layer.kind == "Convolution":
        h, w, d, n = layer.W.shape
        for i in range(Ho):
            for j in range(Wo):
                for f in range(n):
                    field = idx_in[i * s0:i * s0 + h, j * s1:j * s1 + w, :]
                    M[field.ravel(), idx_out[i, j, f]] = layer.W[:, :, :, f].ravel()
        return M, np.broadcast_to(layer.B, out_shape).ravel()
    if layer.kind == "SumPool":
        h, w = layer.pool
        for i in range(Ho):
            for j in range(Wo):
                for c in range(n):
                    M[idx_in[i * s0:i * s0 + h, j * s1:j * s1 + w, c].ravel(), idx_out[i, j, c]] = 1
        return M, np.zeros(M.shape[1])
    raise ValueError(layer.kind)


def linear_lrp(rule, params, x, M, b, R, stab_simple=1e-16, beta_only_stab=-1e-16, bounds=None):
    """x: N × I, M: I × J, b: J, R: N × J → N × I, by the formulas of RULES.md."""
    Z = x[:, :, None] * M[None]  # N × I × J contributions
    z = Z.sum(1) + b
    if rule in ("simple", "epsilon"):
        eps = stab_simple if rule == "simple" else params
        return (Z * (R / (z + eps * s(z)))[:, None, :]).sum(2)
    if rule == "alphabeta":
        # params: α (the toolbox's β' = 1 − α) or (α, β) in the literature's sign, β' = −β
        alpha, beta = (params, 1 - params) if np.isscalar(params) else (params[0], -params[1])
        Zp, Zn = np.maximum(Z, 0), np.minimum(Z, 0)
        if beta == 0:
            Dp = Zp.sum(1) + np.maximum(b, 0) + 1e-16
            return alpha * (Zp * (R / Dp)[:, None, :]).sum(2)
        if alpha == 0:
            Dn = Zn.sum(1) + np.minimum(b, 0) + beta_only_stab
            return beta * (Zn * (R / Dn)[:, None, :]).sum(2)
        Dp = Zp.sum(1) + np.maximum(b, 0) + 1e-16
        Dn = z - Dp - 1e-16
        return (alpha * Zp * (R / Dp)[:, None, :] + beta * Zn * (R / Dn)[:, None, :]).sum(2)
    if rule == "ww":
        W2 = M ** 2
        return (W2[None] * (R / W2.sum(0))[:, None, :]).sum(2)
    if rule == "zplus":
        Zp = np.maximum(Z, 0)
        D = Zp.sum(1) + np.maximum(b, 0)
        return (Zp * (R / (D + 1e-6 * s(D)))[:, None, :]).sum(2)
    if rule == "gamma":
        g = params
        out = np.zeros_like(x)
        for sgn in (1, -1):
            mask = (z > 0) if sgn == 1 else (z < 0)
            # contributions favoured for this sign: positive ones if z > 0, negative if z < 0
            if sgn == 1:
                Zg = Z + g * np.maximum(Z, 0)
                bg = b + g * np.maximum(b, 0)
            else:
                Zg = Z + g * np.minimum(Z, 0)
                bg = b + g * np.minimum(b, 0)
            D = Zg.sum(1) + bg
            c = np.where(mask, R / (D + 1e-6 * s(D)), 0)
            out += (Zg * c[:, None, :]).sum(2)
        return out
    if rule == "zb":
        low, high = bounds
        L = np.full_like(x, low)[:, :, None]
        H = np.full_like(x, high)[:, :, None]
        Q = Z - L * np.maximum(M, 0)[None] - H * np.minimum(M, 0)[None]
        D = Q.sum(1)
        return (Q * (R / (D + 1e-6 * s(D)))[:, None, :]).sum(2)
    raise ValueError(rule)


def flat_lrp(M, R):
    A = (M != 0).astype(float)
    fan = A.sum(0)
    return (A[None] * (R / fan)[:, None, :]).sum(2)


@dataclass(frozen=True)
class Unstabilised(Epsilon):
    """The ε-rule with ε = 0, which the parser refuses (it divides by zero where z = 0):
    built directly (no declared parameters, so no range check) to provoke NaN in tests."""

    epsilon: float = 0.0
    params = ()

    def spec(self):
        return "epsilon:0"
