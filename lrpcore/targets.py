"""What a relevance map explains: the one parser of target specs, used by the command line,
the GUI's state and its workers.

A target is ``"pred"`` (the predicted class), ``"true"`` (the label), ``"output"`` (every
output at once) or a class index (an int, or its digits as text).
"""

from __future__ import annotations

import numpy as np

from .errors import RuleError

TARGET_WORDS = ("pred", "true", "output")


def parse_target(value, words=TARGET_WORDS, what="target"):
    """``value`` as lrpcore takes it: one of ``words`` (lower case) or a class index (int).

    Raises RuleError naming ``what`` (e.g. "--target") for anything else, also for negative
    indices and booleans.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if value < 0:
            raise RuleError(f"{what} {value}: a class index cannot be negative")
        return int(value)
    if not isinstance(value, str):
        raise RuleError(f"{what} {value!r}: use {', '.join(words)} or a class index")
    text = value.strip().lower()
    if text in words:
        return text
    if text.isdigit():
        return int(text)
    raise RuleError(f"{what} {value!r}: use {', '.join(words)} or a class index")


def target_spec(value, words=TARGET_WORDS) -> str:
    """The text form of a target (what settings and sidecars store): "pred", "3", ..."""
    return str(parse_target(value, words))
