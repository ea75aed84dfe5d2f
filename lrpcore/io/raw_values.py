"""Whether samples read as raw images look raw: one check for the commands (a warning on
stderr) and the explorer (its status bar).

Floats within [−1, 1] for a model of 0…255 pixels (a PyTorch user's ``ToTensor`` digits, the
toolbox's x/127.5 − 1) are scaled a second time by the model's input specification, and
values beyond its raw range (16-bit images, floats of 0…65535) leave the range its scaling and
zB's bounds assume: both are explained silently otherwise. The explorer showed ToTensor digits
as a blank input, every one predicted as a 1, without a word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD = 64  # samples looked at: the start of a dataset tells its scaling
# values this close to a bound (a share of the range's width) count as on it: float rounding
# of pixels computed as x / 255 * 255 is no reason for a warning
RANGE_SLACK = 1e-6


@dataclass(frozen=True)
class RawValues:
    """What is wrong with the values: ``kind`` "preprocessed" (floats within [−1, 1] for a
    model whose raw pixels reach more than 1.5) or "beyond" (outside the declared raw range);
    ``low`` and ``high`` the values seen, ``raw_range`` the model's."""

    kind: str
    low: float
    high: float
    raw_range: tuple

    def describe(self) -> str:
        """What was seen, in the words every warning of it starts with."""
        lo, hi = self.raw_range
        if self.kind == "preprocessed":
            return (f"values in [{self.low:.3g}, {self.high:.3g}] look preprocessed already, "
                    f"while the model's raw input reaches {hi:g}")
        return (f"values in [{self.low:.6g}, {self.high:.6g}] exceed the model's raw input "
                f"range [{lo:g}, {hi:g}] (its scaling and zB's bounds assume it)")

    def advice(self, spec, give_raw, scale_note="") -> str:
        """The remedy every warning of it offers, with ``give_raw`` the words that feed samples
        as they are ("add --raw", "pass raw=True"): for preprocessed values, feeding them as
        they are names what the model is fed (--raw alone sent ToTensor's 0…1 digits to
        LeNet-5 unpadded and unscaled); for values beyond the range, rescaling comes first."""
        lo, hi = self.raw_range
        if self.kind == "preprocessed":
            return (f"{give_raw} if they are what the model is fed ({fed_text(spec)}), or scale "
                    f"them to its raw range [{lo:g}, {hi:g}]{scale_note}")
        return f"rescale them, or {give_raw} to feed them as they are"


def check_raw_values(x, spec, dtype=None) -> RawValues | None:
    """The finding for the first :data:`HEAD` samples of ``x`` read as raw for a model with
    input specification ``spec``, or None when they look raw. Values at the bounds are fine,
    nor is a range that is only a guess checked (:func:`raw_range_declared`), nor values
    beyond what ``dtype`` holds (refused later, in one line of their own)."""
    raw_range = getattr(spec, "raw_range", None)
    if not raw_range or not len(x):
        return None
    head = np.asarray(x[:HEAD])
    if head.dtype.kind not in "fiu" or not head.size:
        return None
    with np.errstate(invalid="ignore"):
        low, high = (float(np.nanmin(head)), float(np.nanmax(head))) \
            if np.isfinite(head).any() else (0.0, 0.0)
    peak = max(abs(low), abs(high))
    raw_range = tuple(float(v) for v in raw_range)
    if head.dtype.kind == "f" and 0 < peak <= 1.0 and raw_range[1] > 1.5:
        return RawValues("preprocessed", low, high, raw_range)
    if (raw_range_declared(spec) and beyond_range(low, high, raw_range)
            and not (dtype and peak > float(np.finfo(dtype).max))):
        return RawValues("beyond", low, high, raw_range)
    return None


def fed_text(spec) -> str:
    """What a model is fed, as ``lrp info`` ends its input line: '32×32×1 in [-1, 1]' (the
    remedy every warning of :func:`check_raw_values` offers names it)."""
    shape = "×".join(str(int(n)) for n in spec.shape)
    value_range = getattr(spec, "value_range", None)
    return shape + (f" in [{value_range[0]:g}, {value_range[1]:g}]" if value_range else "")


def beyond_range(low, high, raw_range) -> bool:
    """Whether values from ``low`` to ``high`` leave ``raw_range`` (its bounds are inside)."""
    lo, hi = (float(v) for v in raw_range)
    slack = RANGE_SLACK * max(hi - lo, 1e-300)
    return low < lo - slack or high > hi + slack


def raw_range_declared(spec) -> bool:
    """Whether ``spec``'s raw range says what the model takes, not a guess: a feature vector
    guessed from a toolbox file or an ONNX input without a sidecar is assumed to lie in
    [0, 1] (:func:`lrpcore.spec.infer_input_spec`), and features beyond it are no mistake.
    Image inputs take 8-bit pixels, guessed or declared."""
    guessed = getattr(spec, "source", None) in ("inferred", "onnx")
    return not (guessed and len(getattr(spec, "raw_shape", ())) == 1)
