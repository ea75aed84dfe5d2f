"""The training loop behind ``lrp train``: epochs of minibatches, validation, checkpoints.

Deterministic for a given seed on numpy: one generator drives initialisation, the held-out
split, the order of samples and the augmentation, and its state is saved in the checkpoint so
that a resumed run continues exactly where it stopped. Every epoch writes the resumable
checkpoint ``MODEL.ckpt.npz``; the model file itself is written at the best epoch so far on the
held-out split (``val_split``), or at every epoch otherwise (a test set is only reported,
never used to choose an epoch). Ctrl-C stops after keeping what was written.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import __version__
from ..backend import get_backend, get_dtype
from ..errors import LRPError
from ..explain import Explainer, model_outputs
from ..fileio import exists, identity, stage_removal, staged_writes
from ..io import save_model
from ..io.datasets import check_labels_fit
from ..io.sidecar import sidecar_path
from .architectures import (
    ARCHITECTURES,
    MAX_BATCH_VALUES,
    MAX_TRAIN_PARAMETERS,
    build_model,
    model_plan,
)
from .backprop import backward, forward_trace, trainable_layers
from .checkpoint import as_run_dtype, checkpoint_path, load_checkpoint, save_checkpoint
from .data import TrainingData, random_shift, split
from .losses import softmax_cross_entropy
from .optim import make_optimizer, scheduled_lr

DEFAULT_LR = {"adam": 1e-3, "sgd": 0.05}
MAX_LR = 1e3  # 10⁶ times Adam's default; above it every step overflows (numpy warnings, NaN)


@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in checkpoints and provenance)."""

    arch: str | None = None
    layers: str | None = None
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float | None = None
    weight_decay: float = 0.0
    schedule: str = "cosine"
    augment_shift: int = 0
    val_split: float | None = None
    seed: int = 0
    dtype: str = "float32"
    pad: int = 2
    eval_every: int = 1

    def architecture(self) -> str:
        if self.layers:
            return self.layers
        if self.arch not in ARCHITECTURES:
            raise LRPError(f"unknown architecture {self.arch!r}: choose "
                           f"{', '.join(ARCHITECTURES)} or give --layers")
        return self.arch

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise LRPError("--epochs, --batch-size and --eval-every must be at least 1")
        if self.augment_shift < 0 or self.pad < 0:
            raise LRPError("--augment-shift and --pad must not be negative")
        if (not 0 <= self.weight_decay < math.inf
                or (self.lr is not None and not 0 < self.lr < math.inf)):
            raise LRPError("--lr must be positive and --weight-decay not negative (both "
                           "finite)")
        if self.lr is not None and self.lr > MAX_LR:  # would only overflow into NaN weights
            raise LRPError(f"--lr {self.lr:g} is far too large: at most {MAX_LR:g} (the "
                           f"defaults: {DEFAULT_LR['adam']:g} for adam, {DEFAULT_LR['sgd']:g} "
                           "for sgd)")
        if self.seed < 0:  # numpy's generators take no negative seed
            raise LRPError(f"--seed must be a whole number ≥ 0, got {self.seed}")
        self.architecture()


@dataclass
class TrainResult:
    model: object
    history: list
    interrupted: bool = False
    saved_epoch: int | None = None
    accuracy: dict | None = None


def accuracy_of(model, data: TrainingData, backend=None, batch=500) -> dict:
    """Top-1 accuracy of a model on raw images, batched (the figure stored in metadata)."""
    correct = 0
    ex = Explainer(model, backend)  # the data's own values, as training read them: no warning
    for s in range(0, len(data), batch):
        out = model_outputs(ex, data.images[s:s + batch])
        correct += int((out.reshape(out.shape[0], -1).argmax(1)
                        == data.labels[s:s + batch]).sum())
    n = len(data)
    return {"top1": round(correct / n, 4), "correct": correct, "n": n, "dataset": data.name}


def _software() -> str:
    return (f"lrp-explorer {__version__}, numpy {np.__version__}, "
            f"Python {platform.python_version()}")


def _copy_params_into(model, params, to_numpy) -> None:
    for layer, p in zip(model.layers, params, strict=False):
        if p is not None:
            layer.W = to_numpy(p["W"]).astype(np.float32)
            layer.B = to_numpy(p["B"]).astype(np.float32)
            layer.clear_cache()


def _check_batch(config: TrainConfig, raw_shape) -> None:
    """Refuse, before anything of the model's size is allocated, a minibatch whose kept
    activations exceed MAX_BATCH_VALUES (and, in build_model, too many parameters)."""
    params, values = model_plan(config.architecture(), raw_shape, config.pad)
    if params > MAX_TRAIN_PARAMETERS:
        return  # build_model names the parameters, the larger problem
    if config.batch_size * values > MAX_BATCH_VALUES:
        most = MAX_BATCH_VALUES // max(1, values)
        raise LRPError(f"a minibatch of {config.batch_size} keeps {config.batch_size * values:,}"
                       f" activation values for backpropagation ({values:,} per sample); at "
                       f"most {MAX_BATCH_VALUES:,}: use --batch-size {most} or less"
                       if most else
                       f"one sample keeps {values:,} activation values for backpropagation; "
                       f"at most {MAX_BATCH_VALUES:,}: use smaller layers")


def train(config: TrainConfig, data: TrainingData, out, test: TrainingData | None = None,
          resume=None, backend=None, command: str | None = None, log=print,
          overwrite: bool = False) -> TrainResult:
    """Train a model and save it to ``out`` (native ``.npz``, float32, with metadata)."""
    config.check()
    out = os.fspath(out)
    if not out.lower().endswith(".npz"):
        raise LRPError(f"{out}: the trained model is saved in the native format; use .npz")
    if os.path.exists(out) and not overwrite and resume is None:
        raise LRPError(f"{out}: file exists (use --overwrite to replace it)")
    ckpt_file = checkpoint_path(out)
    if exists(ckpt_file) and not overwrite and resume is None:  # a name too long: refused
        # another run's resumable state: replacing it silently would lose that run
        raise LRPError(f"{ckpt_file}: a checkpoint of an earlier run exists (resume it with "
                       f"--resume {ckpt_file}, or use --overwrite to replace it)")
    # a MODEL.json beside the output (e.g. from 'lrp convert X model.txt') would be applied to
    # the trained model whenever it is read: refused, or with --overwrite replaced by nothing
    stale_sidecar = sidecar_path(out) if resume is None and os.path.exists(
        sidecar_path(out)) else None
    if stale_sidecar and os.path.isdir(stale_sidecar) and not os.path.islink(stale_sidecar):
        raise LRPError(f"{stale_sidecar}: is a folder, where the sidecar of {out} goes: "
                       "left it alone (rename it, or choose another --out)")
    if stale_sidecar and not overwrite:
        raise LRPError(f"{stale_sidecar}: file exists beside {out} and would override the "
                       "trained model's metadata (use --overwrite to remove it)")
    be = get_backend(backend)
    xp = be.xp
    dtype = get_dtype(config.dtype)
    rng = np.random.default_rng(config.seed)
    if config.augment_shift and config.augment_shift >= min(data.raw_shape[:2]):
        raise LRPError(f"--augment-shift {config.augment_shift} moves a "
                       f"{'×'.join(map(str, data.raw_shape[:2]))} image out of view; it must "
                       "be smaller than the image's sides")
    _check_batch(config, data.raw_shape)
    model = build_model(config.architecture(), rng, raw_shape=data.raw_shape, pad=config.pad)
    n_classes = model.n_classes
    check_labels_fit(data.labels, n_classes, data.name)
    train_data, val_data = data, None
    if config.val_split:
        train_data, val_data = split(data, config.val_split, rng)
    layers = trainable_layers(model)
    params = [{"W": xp.asarray(ly.W, dtype=dtype), "B": xp.asarray(ly.B, dtype=dtype)}
              if ly.weighted else None for ly in layers]
    lr = config.lr if config.lr is not None else DEFAULT_LR.get(config.optimizer, 1e-3)
    opt = make_optimizer(config.optimizer, params, lr, config.weight_decay)
    spec = model.input_spec
    n = len(train_data)
    steps_per_epoch = -(-n // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    start_epoch, history, best, saved_epoch = 0, [], None, None
    ckpt = checkpoint_path(out)
    if resume is not None:
        start_epoch, history, best, saved_epoch = _restore(resume, config, params, opt, rng, xp)
    class_names = list(data.class_names) if data.class_names else [
        str(i) for i in range(n_classes)]
    provenance = {"command": command, "seed": config.seed, "software": _software(),
                  "dataset": f"{data.name} ({len(data)} samples)",
                  "config": asdict(config), "backend": be.name}

    expected = [identity(out)]  # what may be at `out` when the model is saved next

    def save_model_file(epoch, metrics):
        if identity(out) != expected[0]:
            raise LRPError(f"{out}: was created or replaced by something else during training; "
                           "left it alone (the checkpoint holds the run)")
        _copy_params_into(model, params, be.to_numpy)
        model.meta = {"class_names": class_names,
                      "provenance": {**provenance, "epochs_trained": epoch,
                                     "date": datetime.datetime.now(datetime.UTC)
                                     .isoformat(timespec="seconds")},
                      "accuracy": metrics.get("test"),
                      "validation": metrics.get("val")}
        nonlocal stale_sidecar
        with staged_writes():  # the model is saved with its stale sidecar gone, or not at all
            save_model(model, out, overwrite=True)
            if stale_sidecar:
                stage_removal(stale_sidecar, "sidecar")
        expected[0] = identity(out)
        stale_sidecar = None

    interrupted = False
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            perm = rng.permutation(n)
            loss_sum, correct = 0.0, 0
            for b in range(steps_per_epoch):
                idx = perm[b * config.batch_size:(b + 1) * config.batch_size]
                raw = random_shift(train_data.images[idx], train_data.raw_shape,
                                   config.augment_shift, rng)
                x = xp.asarray(spec.preprocess(raw, dtype=dtype))
                y = xp.asarray(train_data.labels[idx])
                # overflow shows as a non-finite loss, reported below in one line (numpy's
                # warnings about it came first and said nothing about the cause)
                with np.errstate(over="ignore", invalid="ignore"):
                    acts = forward_trace(layers, params, x, xp)
                    loss, dout, ok = softmax_cross_entropy(acts[-1], y, xp)
                if not np.isfinite(loss):  # either can drive the weights beyond float range
                    decay = (f" or --weight-decay (it is {config.weight_decay:g})"
                             if config.weight_decay else "")
                    raise LRPError(f"training diverged at epoch {epoch + 1}, step {b + 1} "
                                   f"(loss {loss}); lower --lr (it is {lr:g}){decay}")
                step = epoch * steps_per_epoch + b
                with np.errstate(over="ignore", invalid="ignore"):
                    grads = backward(layers, params, acts, dout, xp)
                    opt.step(grads, scheduled_lr(lr, config.schedule, step, total_steps), xp)
                loss_sum += loss * len(idx)
                correct += ok
            metrics = {"epoch": epoch + 1, "loss": loss_sum / n, "train_acc": correct / n}
            last = epoch + 1 == config.epochs
            if (epoch + 1) % config.eval_every == 0 or last:
                _copy_params_into(model, params, be.to_numpy)
                if val_data is not None:
                    metrics["val"] = accuracy_of(model, val_data, be)
                if test is not None:
                    metrics["test"] = accuracy_of(model, test, be)
            metrics["seconds"] = time.perf_counter() - t0
            history.append({k: v for k, v in metrics.items() if k not in ("val", "test")}
                           | {k: metrics[k]["top1"] for k in ("val", "test") if k in metrics})
            log(_progress_line(metrics, config.epochs))
            if val_data is None:
                save_model_file(epoch + 1, metrics)
                saved_epoch = epoch + 1
            elif "val" in metrics and (best is None or metrics["val"]["top1"] > best):
                best = metrics["val"]["top1"]
                save_model_file(epoch + 1, metrics)
                saved_epoch = epoch + 1
            state = {"epoch": epoch + 1, "history": history, "best": best,
                     "saved_epoch": saved_epoch, "config": asdict(config),
                     "optimizer": {"name": opt.name, "steps": opt.steps},
                     "rng": rng.bit_generator.state}
            save_checkpoint(ckpt, state, params, opt.state_arrays(), be.to_numpy)
    except KeyboardInterrupt:
        interrupted = True
        kept = (f"{out} holds epoch {saved_epoch}" if saved_epoch else "no model was saved yet")
        log(f"interrupted during epoch {epoch + 1}: {kept}; resume with --resume {ckpt}")
    if saved_epoch is None:
        return TrainResult(model, history, interrupted, None, None)
    from ..io import load_model  # noqa: PLC0415

    final = load_model(out, sidecar=False)  # the model as trained and saved
    # measured on the saved float32 model, with the same function the tests use
    accuracy = final.meta.get("accuracy")
    return TrainResult(final, history, interrupted, saved_epoch, accuracy)


def _progress_line(m, epochs) -> str:
    parts = [f"epoch {m['epoch']:>3}/{epochs}", f"loss {m['loss']:.4f}",
             f"train acc {100 * m['train_acc']:6.2f} %"]
    for key, label in (("val", "val acc"), ("test", "test acc")):
        if key in m:
            parts.append(f"{label} {100 * m[key]['top1']:6.2f} %")
    parts.append(f"{m['seconds']:.1f} s")
    return "  ".join(parts)


def _whole(value, low, high) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_state(path, state, config) -> None:
    """A checkpoint's loop state, each field of the type and range a real run writes (a
    crafted ``"epoch": -1e30`` would otherwise train forever)."""
    problems = {
        "config": isinstance(state.get("config"), dict),
        "epoch": _whole(state.get("epoch"), 0, config.epochs),
        "history": isinstance(state.get("history", []), list)
        and len(state.get("history", [])) <= config.epochs
        and all(isinstance(h, dict) for h in state.get("history", [])),
        "best": state.get("best") is None or (isinstance(state.get("best"), int | float)
                                              and 0 <= state["best"] <= 1),
        "saved_epoch": state.get("saved_epoch") is None
        or _whole(state.get("saved_epoch"), 1, config.epochs),
        "optimizer": isinstance(state.get("optimizer", {}), dict)
        and _whole(state.get("optimizer", {}).get("steps", 0), 0, 1 << 62),
        "rng": isinstance(state.get("rng"), dict),
    }
    for field, ok in problems.items():
        if not ok:
            value = str(state.get(field))[:40]
            raise LRPError(f"{path}: checkpoint field '{field}' is not what a training run "
                           f"writes ({value}); not resuming from it")


STATE_BYTES = 16 << 20  # the loop state's JSON (history of every epoch) and zip bookkeeping
BYTES_PER_PARAMETER = 24  # the parameter and up to two optimiser moments, 8 bytes each


def _restore(path, config, params, opt, rng, xp):
    values = sum(int(p[key].size) for p in params if p is not None for key in ("W", "B"))
    state, saved, opt_arrays = load_checkpoint(
        path, budget=BYTES_PER_PARAMETER * values + STATE_BYTES)
    if isinstance(state.get("epoch"), int) and state["epoch"] >= config.epochs >= 1:
        raise LRPError(f"{path}: checkpoint already has {state['epoch']} epochs; ask for more "
                       "with --epochs")
    _check_state(path, state, config)
    old = state["config"]
    for key in ("arch", "layers", "pad", "optimizer", "batch_size", "val_split", "seed"):
        if old.get(key) != getattr(config, key):
            raise LRPError(f"{path}: checkpoint was made with {key}={old.get(key)!r}, this run "
                           f"has {getattr(config, key)!r}; resume with the same settings")
    for i, p in enumerate(params):
        if p is None:
            continue
        for key in ("W", "B"):
            arr = saved.get(f"{i}.{key}")
            if arr is None or arr.shape != p[key].shape:
                raise LRPError(f"{path}: parameters of layer {i} are missing or do not fit "
                               "the architecture")
            p[key][...] = as_run_dtype(arr, p[key].dtype, xp,
                                       f"{path}: layer {i}'s {key}")
    try:
        opt.load_state_arrays(opt_arrays, xp)
    except LRPError as exc:  # a missing, misshapen or impossible state array: name the file
        raise LRPError(f"{path}: {exc}") from None
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise LRPError(f"{path}: optimizer state does not fit this run ({str(exc)[:80]})") from None
    opt.steps = int(state.get("optimizer", {}).get("steps", 0))
    try:
        rng.bit_generator.state = state["rng"]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # -1 or 2^200 as a word
        raise LRPError(f"{path}: random-generator state is damaged ({str(exc)[:80]})") from None
    epoch = int(state.get("epoch", 0))
    if epoch >= config.epochs:
        raise LRPError(f"{path}: checkpoint already has {epoch} epochs; ask for more with "
                       "--epochs")
    return epoch, list(state.get("history", [])), state.get("best"), state.get("saved_epoch")
