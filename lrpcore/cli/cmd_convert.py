"""``lrp convert``: rewrite a model in another format (toolbox .txt or native .npz)."""

from __future__ import annotations

import os
import sys

from .common import add_command, check_outputs_free


def register(sub):
    p = add_command(sub, "convert", "Convert a model between formats (.txt, .nn, .onnx, .pth → "
                    ".npz, .txt).", "lrp convert LeNet-5.nn LeNet-5.npz --dtype float32",
                    description="Reads any model format this program reads (.txt, .nn, .npz, "
                    ".onnx, with a MODEL.json sidecar applied, and a PyTorch .pth checkpoint "
                    "with --arch) and writes the native .npz "
                    "(architecture, parameters, input specification, class names) or the "
                    "toolbox's .txt. Every model converts to .npz; .txt holds a chain of the "
                    f"toolbox's layer kinds only ({', '.join(_txt_kinds())}), so graph models "
                    "(ONNX imports with BatchNorm, other activations, residual or concatenating "
                    "nodes, an NCHW image input) convert to .npz alone: .txt refuses them, "
                    "naming the first layer it cannot hold. The .txt format has no room for "
                    "metadata: when the model has any, OUT.json is written beside it as a "
                    "sidecar.")
    p.add_argument("input", help="model to read")
    p.add_argument("output", help="file to write: .npz (native: any model) or .txt (toolbox "
                   "text: a chain of the toolbox's layer kinds, which graph models seldom are)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT (and the OUT.json sidecar beside it) if they exist")
    p.add_argument("--arch", choices=sorted(_architectures()),
                   help="architecture of a PyTorch state-dict checkpoint (.pth/.pt) to build")
    p.add_argument("--dtype", choices=["float32", "float64"],
                   help="store parameters in this precision (default: as read)")
    p.set_defaults(func=run)


def _txt_kinds():
    from ..io.toolbox_txt import TXT_KINDS  # noqa: PLC0415

    return TXT_KINDS


def _architectures():
    from ..zoo import ARCHITECTURES  # noqa: PLC0415

    return ARCHITECTURES


def run(args) -> int:
    from ..errors import ExportError
    from ..fileio import stage_removal, staged_writes
    from ..io.models import WRITERS, model_file, save_model
    from ..io.sidecar import refuse_model_sidecar, sidecar_data, sidecar_path, write_sidecar
    from ..io.toolbox_txt import check_txt_writable

    ext = os.path.splitext(args.output)[1].lower()
    if ext not in WRITERS:
        raise ExportError(f"{args.output}: cannot write {ext or 'files without extension'}; "
                          f"choose {' or '.join(sorted(WRITERS))}")
    # by the file reached: through a linked folder (or by a bundled model's name) the model
    # was converted over itself, --dtype float32 keeping none of its float64 weights
    if os.path.realpath(model_file(args.input)) == os.path.realpath(args.output):
        raise ExportError(f"{args.output}: input and output are the same file")
    # a graph written as .txt is refused before the output's folder and sidecar are checked:
    # 'out/x.txt' said "folder out does not exist", then, once made, that .txt cannot hold it
    model = _read_model(args)
    if ext == ".txt":
        check_txt_writable(model, args.output)
    # a MODEL.json beside the output would be applied to it when it is read (for .npz too):
    # it is part of the output, refused without --overwrite, replaced or removed with it
    side = sidecar_path(args.output)
    own = sidecar_path(args.input)
    if os.path.isfile(own) and os.path.realpath(own) == os.path.realpath(side):
        # effnet.onnx → effnet.npz: --overwrite removed the sidecar the input model still needs
        raise ExportError(f"{args.output}: its sidecar {side} is the one of {args.input} (it "
                          "sets that model's input specification) and would be replaced or "
                          "removed: give the output another name or folder")
    # another model's sidecar is never replaced or removed; one that does not exist is only
    # refused where it would be written (LeNet-5.nn → LeNet-5.npz beside the toolbox's
    # LeNet-5.txt writes no LeNet-5.json: it was refused all the same)
    there = os.path.lexists(side)
    if there:
        refuse_model_sidecar(side, besides=(args.output, args.input))
    check_outputs_free([args.output, side], args.overwrite, own_sidecars=[side])
    if ext == ".txt" and sidecar_data(model) and \
            os.path.realpath(own) == os.path.realpath(side):
        # m.onnx → m.txt: the .txt's m.json would become m.onnx's sidecar, and apply to it
        raise ExportError(f"{args.output}: its sidecar {side} would also be the sidecar of "
                          f"{args.input} and apply to it when it is read: give the output "
                          "another name or folder")
    if ext == ".txt" and sidecar_data(model) and not there:  # to be written: whose is it?
        refuse_model_sidecar(side, besides=(args.output, args.input))
    written = None
    with staged_writes():  # the model and its sidecar take their names together, or neither
        save_model(model, args.output, overwrite=args.overwrite, dtype=args.dtype)
        if ext == ".txt":
            written = write_sidecar(model, args.output, overwrite=True)
        if written is None and os.path.lexists(side):  # it would override the converted
            stage_removal(side, "sidecar")  # model's metadata
    print(f"wrote {args.output}: {len(model.layers)} layers, {model.param_count():,} "
          f"parameters" + (f" as {args.dtype}" if args.dtype else ""))
    if written:  # it holds the input specification only where the layers do not imply it
        print(f"wrote {written}: " + (
            "input specification and metadata (.txt cannot hold them)"
            if "input" in sidecar_data(model) else
            "metadata (.txt cannot hold it; the layers imply the input specification)"))
    _note_convention_lost(model, args.output, ext)
    return 0


def _read_model(args):
    """The model INPUT holds, or a PyTorch checkpoint built with --arch."""
    from ..io.models import load_model  # noqa: PLC0415

    if args.input.lower().endswith((".pth", ".pt")) and args.arch:
        from ..io.imagenet import build_from_checkpoint  # noqa: PLC0415

        return build_from_checkpoint(args.input, args.arch)
    if args.arch:  # it was ignored without a word: the user may expect it to be applied
        print(f"lrp convert: note: --arch {args.arch} builds a network from a PyTorch "
              f"checkpoint (.pth, .pt); {args.input} holds its own and is converted as "
              "it is", file=sys.stderr)
    return load_model(args.input)


def _note_convention_lost(model, output, ext):
    """A .txt file is read back as a toolbox chain, whatever model it came from: say so when
    the model followed another convention (an ONNX chain: zennit's numerics, EpsilonPlus in
    float32), which .npz would have kept."""
    from ..conventions import TOOLBOX, convention_of  # noqa: PLC0415

    convention = convention_of(model)
    if ext == ".txt" and convention is not TOOLBOX:
        print(f"note: {output} is read back as an LRP Toolbox chain: its explanations follow "
              f"the toolbox's numerics and start from its rule in float64, not {convention.name}"
              f"'s ({convention.rule} in {convention.dtype}); .npz keeps the model's convention")
