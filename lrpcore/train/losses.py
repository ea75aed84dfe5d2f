"""Softmax cross-entropy, fused so that a final SoftMax layer needs no gradient of its own."""

from __future__ import annotations


def log_softmax(z, xp):
    z = z - z.max(axis=1, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits, labels, xp):
    """Mean cross-entropy of softmax(logits) against integer labels, and dL/dlogits.

    ``logits`` may have trailing singleton axes (a convolutional stack without Flatten); the
    gradient has the logits' shape. Returns ``(loss as float, gradient, number correct)``.
    """
    shape = logits.shape
    z = logits.reshape(shape[0], -1)
    n = z.shape[0]
    logp = log_softmax(z, xp)
    rows = xp.arange(n)
    loss = -logp[rows, labels].mean()
    grad = xp.exp(logp)
    grad[rows, labels] -= 1
    grad /= n
    correct = (z.argmax(axis=1) == labels).sum()
    return float(loss), grad.reshape(shape), int(correct)
