"""Optimisers (SGD with momentum, Adam) with weight decay, and learning-rate schedules.

Parameters are a list with one entry per layer: ``{"W": array, "B": array}`` for weighted
layers, None otherwise; gradients have the same structure. Weight decay acts on weights only,
never on biases: added to the gradient for SGD (L2), decoupled for Adam (AdamW, Loshchilov &
Hutter 2019). Optimiser state is a flat dict of named arrays so that checkpoints stay plain
``.npz`` files.
"""

from __future__ import annotations

import math

from ..errors import LRPError
from .checkpoint import as_run_dtype


def _slots(params):
    for i, p in enumerate(params):
        if p is not None:
            for key in ("W", "B"):
                yield f"{i}.{key}", i, key


class Optimizer:
    name = "base"
    nonnegative: tuple = ()  # prefixes of state arrays that are never negative

    def __init__(self, params, lr, weight_decay=0.0):
        self.params = params
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.steps = 0
        self.state: dict = {}

    def step(self, grads, lr=None, xp=None):
        raise NotImplementedError

    def state_arrays(self) -> dict:
        return dict(self.state)

    def load_state_arrays(self, arrays: dict, xp) -> None:
        for name in self.state:
            if name not in arrays:
                raise LRPError(f"optimiser state {name!r} is missing from the checkpoint")
            if tuple(arrays[name].shape) != tuple(self.state[name].shape):
                raise LRPError(f"optimiser state {name!r} has shape {arrays[name].shape}, "
                               f"the model needs {tuple(self.state[name].shape)}")
            if name.startswith(self.nonnegative) and (arrays[name] < 0).any():
                raise LRPError(f"optimiser state {name!r} holds negative values, which no run "
                               "writes (a square root of them would be NaN)")
            self.state[name] = as_run_dtype(arrays[name], self.state[name].dtype, xp,
                                            f"optimiser state {name!r}")


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay."""

    name = "sgd"

    def __init__(self, params, lr=0.01, weight_decay=0.0, momentum=0.9):
        super().__init__(params, lr, weight_decay)
        self.momentum = float(momentum)
        for slot, i, key in _slots(params):
            self.state[f"v.{slot}"] = params[i][key] * 0

    def step(self, grads, lr=None, xp=None):
        lr = self.lr if lr is None else lr
        self.steps += 1
        for slot, i, key in _slots(self.params):
            g = grads[i][key]
            if key == "W" and self.weight_decay:
                g = g + self.weight_decay * self.params[i][key]
            v = self.state[f"v.{slot}"]
            v *= self.momentum
            v += g
            self.params[i][key] -= lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with decoupled weight decay."""

    name = "adam"
    nonnegative = ("v.",)  # running means of squared gradients

    def __init__(self, params, lr=1e-3, weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        for slot, i, key in _slots(params):
            self.state[f"m.{slot}"] = params[i][key] * 0
            self.state[f"v.{slot}"] = params[i][key] * 0

    def step(self, grads, lr=None, xp=None):
        lr = self.lr if lr is None else lr
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        c1 = 1 - b1 ** self.steps
        c2 = 1 - b2 ** self.steps
        for slot, i, key in _slots(self.params):
            g = grads[i][key]
            m, v = self.state[f"m.{slot}"], self.state[f"v.{slot}"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p = self.params[i][key]
            if key == "W" and self.weight_decay:
                p -= lr * self.weight_decay * p
            p -= lr * (m / c1) / ((v / c2) ** 0.5 + self.eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
SCHEDULES = ("cosine", "constant", "step")


def make_optimizer(name, params, lr=None, weight_decay=0.0) -> Optimizer:
    if name not in OPTIMIZERS:
        raise LRPError(f"unknown optimizer {name!r}: choose {', '.join(OPTIMIZERS)}")
    kwargs = {"weight_decay": weight_decay}
    if lr is not None:
        kwargs["lr"] = lr
    return OPTIMIZERS[name](params, **kwargs)


def scheduled_lr(base_lr: float, schedule: str, step: int, total_steps: int) -> float:
    """Learning rate at ``step`` of ``total_steps``: cosine decay to 0, constant, or ÷10 at
    half and again at three quarters of the run."""
    if schedule == "constant" or total_steps <= 0:
        return base_lr
    frac = min(max(step / total_steps, 0.0), 1.0)
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * frac))
    if schedule == "step":
        return base_lr * (0.1 if frac >= 0.5 else 1.0) * (0.1 if frac >= 0.75 else 1.0)
    raise LRPError(f"unknown learning-rate schedule {schedule!r}: choose {', '.join(SCHEDULES)}")
