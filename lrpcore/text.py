"""Text from files (class names, tensor names, provenance, file names) made safe to print:
terminal control sequences in a crafted file must not move the cursor or rewrite the screen."""

from __future__ import annotations

import re

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text) -> str:
    """``text`` without escape sequences and control characters (tabs and newlines kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", str(text)))


def printable_meta(value):
    """A model's metadata (class names, provenance: any nesting of lists and dicts) with every
    string made :func:`printable`; applied once when a model is loaded, for the CLI and GUI."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list | tuple):
        return type(value)(printable_meta(v) for v in value)
    if isinstance(value, dict):
        return {printable_meta(k) if isinstance(k, str) else k: printable_meta(v)
                for k, v in value.items()}
    return value
