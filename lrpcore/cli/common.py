"""Helpers shared by the sub-commands: formatting help, loading arrays safely."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..errors import DatasetError, ExportError, ShapeError
from ..fileio import exists, no_folder_error
from ..io.raw_values import check_raw_values

LABEL_FORMATS = ".npy, .npz, .mat, .txt or IDX; N, N×1 or one-hot rows"


MODEL_HELP = ("model file (.txt toolbox, .nn, .npz, .onnx) or a bundled model's name "
              "(mnist-lenet5, efficientnet-lite0)")


def samples_help(more="") -> str:
    """The help of every command's samples argument, one wording (it was five: explain named
    natural-images and photographs, evaluate neither, sweep and sanity "a dataset file or
    folder", concepts "any format lrp opens", spray "dataset with labels"); ``more``: what
    else one command takes there."""
    return (".npy array of samples (raw images unless --raw), any dataset file lrp opens (IDX, "
            ".mat, .npz, .txt, a PNG/JPEG photograph, an image folder) or a built-in dataset "
            f"name (mnist-test, mnist-sample, natural-images){more}")


def labels_help(samples, use) -> str:
    """The help of every ``--labels``, one sentence: the formats the one label reader takes,
    what the command uses them for (``use``), and when they are needed at all — every command
    reads a dataset's own labels and ``X_labels.npy`` beside ``X_images.npy`` (the help of
    some said so, of others "needed for --target true" as if never found by themselves)."""
    return (f"labels of {samples} ({LABEL_FORMATS}), {use}, when {samples} carries none (a "
            "dataset's own labels, or X_labels.npy beside an X_images.npy, need no --labels)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The --help layout of every command: descriptions and examples as written, and option
    help wrapped at spaces only, never inside a name ("--layer-\nrule", "efficientnet-\nlite0"
    broke at their hyphens; 'lrp rules' wraps its own text the same way)."""

    def _split_lines(self, text, width):
        import textwrap  # noqa: PLC0415

        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False)


def add_command(sub, name, help_text, example, description=None):
    """Add a sub-command whose --help ends with an example."""
    return sub.add_parser(
        name, help=help_text, description=description or help_text,
        epilog=f"example:\n  {example}", formatter_class=HelpFormatter)


BACKENDS = ("numpy", "cupy", "auto")
AUTO_BACKEND_HELP = "array backend (default: cupy when a GPU is available, else numpy)"


def add_backend_argument(p, default="auto", help_text=AUTO_BACKEND_HELP) -> None:
    """``--backend``, the same choices for every command (evaluate, sweep and sanity took free
    text, so ``--backend gpu`` passed the parser and failed later in other words)."""
    p.add_argument("--backend", choices=BACKENDS, default=default, help=help_text)


def add_raw_argument(p, samples="INPUT") -> None:
    """``--raw``, one meaning in every command that takes samples: ``samples`` (the name of
    its positional argument) holds arrays in the model's own layout, fed as stored."""
    p.add_argument("--raw", action="store_true",
                   help=f"feed {samples} as stored, no preprocessing")


def add_layer_rule_argument(p) -> None:
    """``--layer-rule KEY=SPEC``, as ``lrp explain`` takes it (its --help and 'lrp rules'
    describe the keys), for every command that explains with a rule."""
    p.add_argument("--layer-rule", action="append", default=[], metavar="KEY=SPEC",
                   help="rule for one layer or node, repeatable: a layer index, an ONNX node "
                   "name, a glob or a PyTorch module path (see 'lrp explain --help')")


DTYPES = ("float32", "float64")
MODEL_DTYPE = ("the model's: float32 for graph models (ONNX, efficientnet-lite0), float64 for "
               "toolbox models")
# why a command keeps a default other than the model's (its users' results would change)
SCORING_FLOAT32 = ("it explains and scores many samples: 3-4× faster than float64, the same "
                   "scores to about 4 digits")
EXPLORER_FLOAT64 = "as the explorer's Concepts and SpRAy windows compute, whatever the model"


def add_dtype_argument(p, default=None, why="") -> None:
    """``--dtype float32|float64``, one definition for every command that runs LRP (concepts
    took float64 only, spray none). ``default`` None: the model's, as ``lrp explain`` and the
    explorer take it (:func:`model_defaults` fills it in); a command that keeps another
    default, because changing it would change its users' results, says ``why``."""
    said = MODEL_DTYPE if default is None else f"{default}: {why}" if why else default
    p.add_argument("--dtype", choices=DTYPES, default=default,
                   help=f"precision of the computation (default {said})")


def add_progress_arguments(p) -> None:
    """``--progress`` and ``--quiet``, one meaning in every command that draws a progress bar
    (some took only one of them): the bar is drawn on stderr when it is a terminal, always
    with --progress, never with --quiet; both at once are refused. ``args.progress`` is
    True, False or None (a terminal decides), as :class:`~.progress.ProgressBar` takes it."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--progress", action="store_const", const=True, default=None,
                       help="draw the progress bar on stderr even when it is not a terminal "
                       "(default: only on a terminal)")
    group.add_argument("--quiet", dest="progress", action="store_const", const=False,
                       help="no progress bar, even on a terminal")


def refuse_undrawable(model, model_name, fed_shape, cmap=None, outline=True, scaling=None,
                      why="") -> None:
    """Refuse, before any work, heatmap PNGs of a model whose input is no image (the XOR
    net's 2 values), naming the model file: ``lrp demo`` printed its accuracy and
    predictions first, then failed on "relevance: a flat vector of 2 values…"."""
    from ..export import input_heatmap_image  # noqa: PLC0415
    from ..render import DEFAULT_COLORMAP  # noqa: PLC0415
    from ..spec import unit_inputs  # noqa: PLC0415
    from ..text import printable_line  # noqa: PLC0415

    blank = np.zeros((1,) + tuple(fed_shape[1:]))
    try:
        input_heatmap_image(blank[0], unit_inputs(model.input_spec, blank)[0],
                            cmap or DEFAULT_COLORMAP, outline, scaling)
    except ShapeError as exc:
        raise ShapeError(f"{why}{printable_line(os.fspath(model_name))}: {exc}") from None


def load_array(path, what="input", mmap=False) -> np.ndarray:
    """Load a ``.npy`` array without pickle; errors name the file. With ``mmap`` a ``.npy`` is
    not read whole but as its samples are used (plain reads, never a memory map)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DatasetError(f"{path}: a folder; {what} must be a .npy file")
    from ..fileio import read_bytes

    head = read_bytes(path, DatasetError, limit=6)
    if not head.startswith((b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06")):
        # numpy would try it as a pickle and say it "contains pickled (object) data"
        raise DatasetError(f"{path}: not a .npy file (no .npy header); {what} must be an "
                           "array saved with numpy.save")
    from ..io.claims import check_npy_claim, check_npz_member  # noqa: PLC0415

    if head.startswith(b"\x93NUMPY"):
        check_npy_claim(path)  # before numpy allocates what the header claims
    from ..io.file_array import read_npy  # noqa: PLC0415

    try:  # with mmap: read as used, never mapped (a mapped file that shrinks is SIGBUS)
        if mmap and head.startswith(b"\x93NUMPY"):
            arr = read_npy(path)
        else:
            arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DatasetError(f"{path}: not a plain .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read {what}: {exc}") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        keys = list(arr.keys())
        if len(keys) != 1:
            raise DatasetError(f"{path}: an .npz with {len(keys)} arrays; pass a single .npy")
        check_npz_member(path, keys[0])  # before numpy inflates it
        arr = arr[keys[0]]
    return arr


class DatasetArray:
    """A dataset (a built-in name, IDX, .mat, .npz, an image folder, ...) seen as the array
    of its samples, read slice by slice: what the commands index like a memory-mapped .npy."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.shape = (len(dataset),) + tuple(dataset.sample_shape)
        self.ndim = len(self.shape)
        self.dtype = dataset.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index):
        return self.dataset.images(index)

    def __array__(self, dtype=None, copy=None):
        a = self.dataset.images(None)
        return a if dtype is None else a.astype(dtype)


def load_samples(path, what="input", mmap=False, model=None):
    """(samples, labels or None) of a ``.npy`` file (as :func:`load_array`) or of anything
    :func:`lrpcore.open_dataset` opens — a built-in name such as ``mnist-sample`` or
    ``mnist-test``, IDX, .mat, .npz, .txt, an image folder — with the labels it carries.
    With ``model``, a folder of photographs of any size is resized and cropped to its input."""
    from ..io.datasets import labels_beside, open_dataset  # noqa: PLC0415

    path = os.fspath(path)
    if os.path.isfile(path) and path.lower().endswith(".npy"):
        arr = load_array(path, what, mmap=mmap)  # X_images.npy's X_labels.npy, as open_dataset
        if not arr.ndim:  # every command takes len(): a 0-d array was an internal TypeError
            raise DatasetError(f"{path}: a single number, not a dataset (an array of shape ())")
        return arr, labels_beside(path, len(arr))
    # a missing path: "no such file, folder or built-in dataset (…)"
    ds = open_dataset(path, model=model)
    return DatasetArray(ds), ds.labels


def warn_unreadable(command, path, data) -> None:
    """One line on stderr naming the images of a folder that cannot be read, left out of the
    samples (the others are used): ``data`` a dataset, or the array a command read (nothing
    said for others); ``command`` None: "lrp: warning: …"."""
    dataset = data.dataset if isinstance(data, DatasetArray) else data
    note = getattr(dataset, "unreadable_note", lambda: None)()
    if note:
        from ..text import printable_line  # noqa: PLC0415

        prog = f"lrp {command}" if command else "lrp"
        print(f"{prog}: warning: {printable_line(os.fspath(path))}: "
              f"{printable_line(note)}", file=sys.stderr)


def check_samples_fit(path, model, x, raw=False) -> None:
    """Refuse samples ``x`` (a batch, or what the model would be fed) the model cannot take,
    naming their file ``path``, before any work: lrp sweep, sanity, spray and demo refused
    them from their first batch, in words that named no file."""
    from ..explain import Explainer  # noqa: PLC0415

    if len(x):
        try:
            Explainer(model, "numpy", "float64").prepare(x[:1] if np.ndim(x) >= 2 else x,
                                                         raw=raw)
        except ShapeError as exc:
            raise ShapeError(f"{path}: {exc}") from None


def no_labels(path, what=None, model=None):
    """The one-line refusal of ``--target true`` without labels, naming the samples' file;
    for an image folder with class subfolders (unlabelled for ``model`` unless they all name
    its classes) it says how to name them."""
    from ..io.datasets import folder_labels_hint  # noqa: PLC0415

    p = os.fspath(path)
    if what is None:
        what = f"{p}: --target true needs --labels FILE (or a dataset that has labels)"
    subs = sorted(d for d in os.listdir(p) if not d.startswith(".")
                  and os.path.isdir(os.path.join(p, d))) if os.path.isdir(p) else []
    if subs:
        what += f"; {p}: {folder_labels_hint(subs, model)}"
    return ShapeError(what)


def load_labels(path, n, classes=None) -> np.ndarray:
    """Labels of ``n`` samples from any label file (N or the toolbox's N×1 floats), checked
    against the model's ``classes`` outputs when given, so that an error names the file."""
    from ..io.datasets import check_labels_fit, normalize_labels
    from ..io.datasets import load_labels as read_labels

    labels = normalize_labels(read_labels(path), n, name=path)
    check_labels_fit(labels, classes, path)
    return labels


def model_defaults(args, model) -> None:
    """``--rule`` and ``--dtype`` left out take the model's (:mod:`lrpcore.conventions`): the
    rule its metadata recommends, else EpsilonPlus in float32 for graph models and the
    engine's simple in float64 for toolbox ones."""
    from ..conventions import convention_of, recommended_rule  # noqa: PLC0415

    convention = convention_of(model)
    if getattr(args, "rule", "") is None:
        args.rule = recommended_rule(model) or convention.command_rule
    if getattr(args, "dtype", "") is None:
        args.dtype = convention.dtype


def parse_target(text, words=("pred", "true", "output"), model=None, what="--target"):
    """``--target``: one of ``words``, a class index or one of ``model``'s class names
    ("Egyptian cat"); :func:`lrpcore.targets.parse_target`, the parser of the engine and the
    GUI. ``model`` may be a callable returning the model (loaded only to look up a name)."""
    from ..targets import parse_target as parse  # noqa: PLC0415

    def names():
        m = model() if callable(model) else model
        return getattr(m, "class_names", None)

    target = parse(text, words, what=what, class_names=names if callable(model) else names())
    if callable(model) and isinstance(target, int):
        # a class index is checked against the model's outputs here too, before any work
        # (the Dask path found an index out of range only inside its workers)
        target = parse(text, words, what=what, class_names=names())
    return target


def warn_if_preprocessed(command, path, x, model, dtype=None) -> None:
    """A warning on stderr when INPUT, read as raw images, does not look raw
    (:func:`lrpcore.io.raw_values.check_raw_values`): float values within [-1, 1] (the LRP
    Toolbox's x/127.5 − 1, or x/255) for a model whose raw pixels reach 255 — without --raw
    the scaling would be applied twice, silently — or values beyond the model's raw range
    (16-bit images for a model of 8-bit pixels, float images of 0…65535 or 0…1000)."""
    spec = getattr(model, "input_spec", None)
    found = check_raw_values(x, spec, dtype)
    if found is None:
        return
    print(f"lrp {command}: warning: {path}: {found.describe()}; "
          f"{found.advice(spec, 'add --raw')}", file=sys.stderr)


def warn_if_incomplete(command, path, model, x=None) -> None:
    """A warning on stderr when MODEL looks cut short (:mod:`lrpcore.io.completeness`): it
    ends where no classifier does, or has another output count than the classes of the
    dataset ``x`` comes from (a :class:`DatasetArray`)."""
    from ..io.completeness import class_count_hint, ending_hint  # noqa: PLC0415
    from ..text import printable  # noqa: PLC0415

    for hint in (ending_hint(model), class_count_hint(model, getattr(x, "dataset", None))):
        if hint:
            print(f"lrp {command}: warning: {printable(os.fspath(path))}: {hint}",
                  file=sys.stderr)


def plural(n: int, word: str) -> str:
    """'1 sample', '2 samples': counts in the commands' summary lines."""
    return f"{n} {word}{'s' * (n != 1)}"


def png_output(text: str) -> str:
    """argparse type of an option naming a PNG to write: images are written as PNG only, so
    another extension (``--out heatmap.jpg``) would label PNG bytes as something else."""
    import argparse  # noqa: PLC0415

    from ..render.compose import check_png_name  # noqa: PLC0415

    if text:  # "": the command names the file
        try:
            check_png_name(text)
        except ExportError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


SCALING_HELP = ("each pixel becomes a K×K block (default: 3 for digits and other images of "
                "at most 96 pixels a side, 1 for photographs, as the explorer shows them)")


def scaling_option(text: str) -> int:
    """argparse type of ``--scaling``: a whole number ≥ 1, refused as the option's fault (not
    the relevance file's, as a later check would word it)."""
    import argparse  # noqa: PLC0415

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"each pixel becomes a K×K block: K must be at least "
                                         f"1, got {value}")
    return value


def check_sigma(value) -> float | None:
    """``--sigma``: a number from 0 to the outline's limit, refused naming the option before
    any file is read (it was checked only where an outline was drawn: without --input a NaN
    or negative value passed silently, into the sidecar)."""
    from ..errors import RuleError  # noqa: PLC0415
    from ..render.outline import MAX_SIGMA  # noqa: PLC0415

    if value is None:  # the input's outline style's
        return None
    if not 0 <= value <= MAX_SIGMA:  # NaN fails too
        raise RuleError(f"--sigma {value:g}: the edge detector's smoothing must be from 0 to "
                        f"{MAX_SIGMA:g} enlarged pixels")
    return float(value)


def check_outputs_free(paths, overwrite, folders_must_exist=True, inputs=(),
                       own_sidecars=()) -> None:
    """Fail before any computation when an output exists (without --overwrite) or its folder
    is missing (unless the command makes it); ``None`` entries (options not given) are
    skipped. Two outputs naming one file (``--out a.npy --outputs a.npy``, or an output and
    another's sidecar) are refused: the later would silently replace the earlier. An output
    that is one of the files the command reads (``inputs``) is refused even with --overwrite:
    ``lrp explain m x.npy --out x.npy --overwrite`` replaced the samples with their relevance;
    so is a model's sidecar (``--csv m.json`` beside ``m.npz``), whichever model is used,
    except ``own_sidecars``: those of a model the command writes, which the caller checks.
    A pipe, device or symbolic link at an output is refused, --overwrite or not."""
    from ..fileio import identity  # noqa: PLC0415
    from ..io.sidecar import refuse_model_sidecar  # noqa: PLC0415

    for path in paths:  # "e.csv/" passed every check, then failed after the computation
        if path and os.fspath(path).endswith(("/", os.sep)):
            raise ExportError(f"{path}: ends in '/', so it names a folder: give the output "
                              "a file name")
    refuse_shadowing(paths)
    from ..io.datasets import labels_file_beside  # noqa: PLC0415

    inputs = [p for p in inputs if p]
    read = {os.path.realpath(p): os.fspath(p) for p in inputs if os.path.isfile(p)}
    for p in inputs:  # x_labels.npy beside x_images.npy is read with it
        beside = labels_file_beside(p)
        if beside and os.path.realpath(beside) not in read:
            read[os.path.realpath(beside)] = f"{beside}, the labels of {os.fspath(p)}"
    for path in paths:
        if path and os.path.realpath(path) in read:
            raise ExportError(f"{path}: is also a file this command reads "
                              f"({read[os.path.realpath(path)]}); writing there would replace "
                              "it: give the output another name")
    for path in paths:
        if path and path not in own_sidecars:
            refuse_model_sidecar(path)
    refuse_images_in_folders_read(paths, inputs)
    seen: dict[str, str] = {}
    for path in paths:
        if not path:
            continue
        key = os.path.realpath(path)
        if key in seen:
            also = "" if seen[key] == os.fspath(path) else f" (also as {seen[key]})"
            raise ExportError(f"{path}: named for two outputs of this command{also}, sidecars "
                              "included; give each output its own file")
        seen[key] = os.fspath(path)
        if os.path.isdir(path):  # "file exists" misled: --overwrite cannot replace a folder
            raise ExportError(f"{path}: is a folder, not a file; give a file path (e.g. a "
                              "name inside that folder) instead")
        if exists(path) and not overwrite:
            raise ExportError(f"{path}: file exists (use --overwrite to replace it)")
        # a pipe, device or link there is never replaced (lrpcore.fileio's writes refuse it):
        # said now, not after the whole computation (--csv FIFO --overwrite)
        if os.path.lexists(path):
            identity(path)
        folder = os.path.dirname(os.path.abspath(path))
        if folders_must_exist and not os.path.isdir(folder):
            raise no_folder_error(path, folder)


def refuse_shadowing(paths, folders=False) -> None:
    """Refused: an output that would make a new file or folder in the current folder named as
    a built-in dataset, or a file named as a bundled model (a folder is never read as a
    model). Such a name, given bare, reads what the current folder holds first, so every
    later command run there would read the output instead (``lrp explain M mnist-test --png
    mnist-test``: the next ``lrp explain M mnist-test`` explained the 10,000 heatmap PNGs,
    without a word). ``folders``: the paths are folders to be made."""
    from ..io.datasets import DATASET_NAMES  # noqa: PLC0415
    from ..io.models import model_names  # noqa: PLC0415

    here = os.getcwd()
    for path in paths:
        if not path:
            continue
        rel = os.path.relpath(os.path.abspath(path), here)
        top = rel.split(os.sep)[0]
        names = set(DATASET_NAMES) | (set(model_names()) if rel == top and not folders
                                      else set())
        if top in names and not os.path.lexists(top):
            what = "built-in dataset" if top in DATASET_NAMES else "bundled model"
            raise ExportError(f"{path}: would make {top} in this folder, which every later "
                              f"command run here would read instead of the {what} {top}: "
                              "give the output another name")


def model_files(model) -> list:
    """The files loading ``model`` (a path or a bundled model's name) reads: the model file
    and the sidecar beside it (``MODEL.json``, applied to it), for ``check_outputs_free``'s
    ``inputs``; none for a name that is no model (refused, naming it, when it is loaded)."""
    from ..errors import ModelFormatError  # noqa: PLC0415
    from ..io.sidecar import sidecar_path  # noqa: PLC0415
    from .trust_args import model_path  # noqa: PLC0415

    try:
        path = model_path(model) if model else None
    except ModelFormatError:
        return []
    return [path, sidecar_path(path)] if path and os.path.isfile(path) else []


def refuse_images_in_folders_read(paths, inputs) -> None:
    """An image output inside a folder the command reads (an image folder of samples) is
    refused: it becomes one of the folder's samples the next time it is read (``lrp evaluate
    M photos --plot photos/flip.png``), as ``lrp explain --png`` refuses."""
    from ..fileio import within  # noqa: PLC0415
    from ..io.image_folder import IMAGE_EXTENSIONS  # noqa: PLC0415

    folders = [os.fspath(p) for p in inputs if p and os.path.isdir(p)]
    for path in paths:
        if not path or not os.fspath(path).lower().endswith(IMAGE_EXTENSIONS):
            continue
        for folder in folders:
            if within(path, folder):
                raise ExportError(f"{path}: is inside the folder {folder} this command reads; "
                                  "it would be read as one of its samples next time: write "
                                  "it outside that folder")


def refuse_folder_in_folders_read(out, inputs) -> None:
    """An output folder inside a folder the command reads: ``lrp concepts M photos --out
    photos/c`` made ``photos`` read as one class of two concept figures (its subfolder), the
    photographs left out."""
    from ..fileio import within  # noqa: PLC0415

    for folder in (os.fspath(p) for p in inputs if p and os.path.isdir(p)):
        if within(out, folder):
            raise ExportError(f"{out}: is inside the folder {folder} this command reads; its "
                              "images would be read as samples of it next time: write "
                              "outside that folder")


def check_png_out(args) -> None:
    """``lrp render``/``lrp figure``: ``--out`` and its sidecar checked before any map is read,
    as every command does; they were checked only at the write (in the library's words,
    "pass overwrite=True"), and ``--input photo.png --out photo.png --overwrite`` replaced
    the photograph it had just read."""
    from ..export import sidecar_path  # noqa: PLC0415

    check_outputs_free([args.out, sidecar_path(args.out)], args.overwrite,
                       inputs=[args.relevance, args.input])


def check_png_out_of(args, inputs) -> None:
    """``--out`` checked against the dataset the maps' sidecar or store names, read as the
    input (``inputs``, None when none was) when ``--input`` is left out: ``lrp render r.npy
    --out photos/h.png`` wrote into the image folder it drew beside the map, and ``--out
    photo.png --overwrite`` replaced the photograph it had just read (refused with ``--input
    photo.png``). Checked once the dataset opened, before anything is written: a sidecar
    naming a folder that is no dataset (``/``) refused every --out inside it."""
    from ..export import sidecar_path  # noqa: PLC0415

    if args.input is None and inputs is not None:
        check_outputs_free([args.out, sidecar_path(args.out)], True, inputs=[inputs.path])


def remove_with_sidecars(paths) -> None:
    """Delete exported files and their JSON sidecars (after a failure or Ctrl-C)."""
    from ..export import sidecar_path

    remove_quietly(q for p in paths for q in (p, sidecar_path(p)))


def remove_quietly(paths) -> None:
    """Delete files this command wrote before it failed (missing ones are fine)."""
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def print_diagnosis(diagnosis, prog="lrp explain") -> None:
    """The conservation warnings on stderr; the expected changes (Cause.expected) as notes
    beside them, or alone where they change the overall ΣR (a final LogSoftmax's by-design
    loss): a heatmap summing to 0.07× the output is not passed over in silence."""
    warnings = diagnosis.warnings()
    for line in warnings:
        print(f"{prog}: warning: {line}", file=sys.stderr)
    total = diagnosis.total_note()  # '' beside warnings: their first line gives the total
    notes = [total, *diagnosis.notes()] if total else diagnosis.notes() if warnings else []
    for line in notes:
        print(f"{prog}: note: {line}", file=sys.stderr)
