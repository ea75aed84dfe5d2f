"""Text from files (class names, tensor names, provenance, file names) made safe to show:
terminal control sequences in a crafted file must not move the cursor or rewrite the screen,
and bidirectional overrides must not make ``evil\u202egnp.exe`` read as ``evilexe.png``."""

from __future__ import annotations

import re

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# bidi embeddings, overrides, isolates and marks: they reorder what follows them on screen
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


def printable(text) -> str:
    """``text`` without escape sequences, control characters and bidi controls (tabs and
    newlines kept)."""
    return _BIDI.sub("", _CONTROLS.sub("", _ESCAPES.sub("", str(text))))


def printable_line(text) -> str:
    """:func:`printable` on one line: line breaks and tabs become one space, so a file name
    with a newline cannot fake a second line in a title, status bar or dialog."""
    return printable(_LINE_BREAKS.sub(" ", _ESCAPES.sub("", str(text))))


def no_markup(text) -> str:
    """:func:`printable_line` with ``<`` and ``>`` shown as ‹ and ›: Qt renders a label or
    tooltip as HTML when it looks like markup, and ``<img src="/dev/zero">`` in a class name
    or file name then makes the explorer read that file (it crashed on the allocation)."""
    return printable_line(text).replace("<", "\u2039").replace(">", "\u203a")


def printable_meta(value, _key=None):
    """A model's metadata (class names, provenance: any nesting of lists and dicts) with every
    string made :func:`printable` (class names :func:`no_markup`: they label one line, also in
    the GUI's labels and tooltips); applied once when a model is loaded, for the CLI and GUI."""
    if isinstance(value, str):
        return no_markup(value) if _key == "class_names" else printable(value)
    if isinstance(value, list | tuple):
        return type(value)(printable_meta(v, _key) for v in value)
    if isinstance(value, dict):
        return {printable_meta(k) if isinstance(k, str) else k: printable_meta(v, k)
                for k, v in value.items()}
    return value


def listing(names, shown: int = 8, width: int = 40) -> str:
    """A few of ``names``, each cut to ``width`` characters, then how many there are in all:
    an error about a crafted file with 100,000 member names stays one short line."""
    names = [str(n) for n in names]
    cut = [n if len(n) <= width else n[: width - 1] + "…" for n in names[:shown]]
    more = f", … ({len(names):,} in all)" if len(names) > shown else ""
    return ", ".join(cut) + more
