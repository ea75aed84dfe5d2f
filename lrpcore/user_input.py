"""Samples as a script passes them to the Python entry points (:func:`lrpcore.explain`,
:func:`lrpcore.predict`, ``Explainer.explain``/``forward``): turned into one array, or refused
in words that name ``x``, and a warning where raw samples do not look raw.

The commands read files and word their own refusals; a script hands over whatever it holds (a
file name, a list of photographs of different sizes, one image without its batch axis, ToTensor's
0…1 floats), which numpy turned into errors naming neither ``x`` nor the remedy, or explained
silently with the model's scaling applied a second time.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from .errors import RawValuesWarning, ShapeError
from .io.raw_values import check_raw_values

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def as_samples(x, spec=None, raw=False):
    """``x`` as an array of samples (N first); device arrays pass as they are. ``spec``
    (the model's input specification) lets one sample given without its batch axis be named."""
    if hasattr(x, "__cuda_array_interface__"):
        return x
    if x is None or isinstance(x, (str, bytes, os.PathLike)):
        what = "None" if x is None else f"a file name ({os.fsdecode(x)!r})"
        raise ShapeError(f"x: got {what}; pass an array of samples, N first (a file's samples: "
                         "lrpcore.open_dataset(path).images(range(n)))")
    try:
        arr = np.asarray(x)
    except ValueError:  # a list of arrays of different shapes
        shapes = sorted({_shape_text(s) for s in x})
        raise ShapeError(f"x: the samples differ in shape ({', '.join(shapes)}): give arrays of "
                         "one shape (a photograph: lrpcore.fit_image(photo, model) fits it to "
                         "the model)") from None
    except (TypeError, RuntimeError) as exc:  # a tensor that requires grad, a GPU tensor
        raise ShapeError(f"x: cannot be read as an array ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    if spec is not None:
        _refuse_one_sample(arr, spec, raw)
    return arr


def _refuse_one_sample(x, spec, raw) -> None:
    """ShapeError when ``x`` is exactly one sample of the model (its raw image, or with
    ``raw`` what it is fed), which the batch reading would take as a batch of rows."""
    one = tuple(spec.shape if raw else spec.raw_shape)
    forms = {one, one[:-1] if len(one) == 3 and one[-1] == 1 else one, (int(np.prod(one)),)}
    fits_as_batch = x.ndim >= 2 and int(np.prod(x.shape[1:])) == int(np.prod(one))
    if tuple(x.shape) in forms and not fits_as_batch:
        raise ShapeError(f"x: one sample of shape {_shape_text(x)} without a batch axis; the "
                         "entry points take batches, N first: pass x[None]")


def _shape_text(a) -> str:
    try:
        return "×".join(map(str, np.shape(a))) or "a number"
    except ValueError:  # nested lists of uneven lengths
        return "uneven nested lists"


def warn_if_not_raw(x, spec, dtype) -> None:
    """A :class:`~lrpcore.errors.RawValuesWarning` when ``x``, about to be read as raw samples,
    does not look raw (:func:`lrpcore.io.raw_values.check_raw_values`), pointing at the
    caller's line."""
    if hasattr(x, "__cuda_array_interface__"):
        return
    found = check_raw_values(x, spec, dtype)
    if found is None:
        return
    advice = found.advice(spec, "pass raw=True", " (uint8 pixels: as they are)")
    warnings.warn(f"x: {found.describe()}; {advice}", RawValuesWarning,
                  stacklevel=caller_stacklevel())


def caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this package, for a warning raised here:
    the script's line that called the entry point, however deep inside it is found."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
