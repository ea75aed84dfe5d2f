"""Text from files (class names, tensor names, provenance, file names) made safe to show:
terminal control sequences in a crafted file must not move the cursor or rewrite the screen,
and bidirectional overrides must not make ``evil\u202egnp.exe`` read as ``evilexe.png``."""

from __future__ import annotations

import contextlib
import re
import sys

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# bidi embeddings, overrides, isolates and marks: they reorder what follows them on screen
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


def is_digits(text) -> bool:
    """Whether ``text`` is written in the digits 0-9 only (an index typed by a user, named by
    a folder or a file) and ``int`` reads it: ``str.isdigit`` also takes "²", which ``int``
    then refuses (an internal error), and other scripts' digits, which ``int`` reads as
    numbers; ``int`` refuses more digits than CPython's guard allows (4,300), no index."""
    return isinstance(text, str) and text.isascii() and text.isdigit() \
        and len(text) <= (sys.get_int_max_str_digits() or len(text))


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


def short(text, width: int = 60) -> str:
    """One printable line of at most ``width`` characters (cut with "…"): a name taken from a
    file (a node, tensor or key name may be megabytes long) as an error message shows it."""
    text = str(text)
    if len(text) > 4 * width:  # the expressions below never see a crafted megabyte
        text = text[: 4 * width]
    line = printable_line(text)
    return line if len(line) <= width else line[: width - 1] + "…"


def elide_middle(text, width: int = 48, head: int | None = None) -> str:
    """One printable line of at most ``width`` characters, cut in the middle ("…"): the start
    of a node name (its module path) and its end (the operation) both stay. ``head``: the
    characters kept before the cut (default a third)."""
    text = str(text)
    if len(text) > 8 * width:  # never more than this of a crafted megabyte is looked at
        text = text[: 4 * width] + text[-4 * width:]
    line = printable_line(text)
    if len(line) <= width:
        return line
    head = (width - 1) // 3 if head is None else max(0, min(head, width - 1))
    tail = width - 1 - head
    return line[:head] + "…" + (line[-tail:] if tail else "")


def unique_elided(names, width: int = 48) -> list[str]:
    """``names`` each shortened by :func:`elide_middle`, still told apart: names whose short
    forms collide keep more of their end (less of their start), and where that does not part
    them they end in their position (``~k``)."""
    names = [str(n) for n in names]
    out = [elide_middle(n, width) for n in names]
    for ks in _clashes(out):
        for head in range((width - 1) // 3 - 1, -1, -1):
            forms = [elide_middle(names[k], width, head) for k in ks]
            if len(set(forms)) == len(forms):
                break
        for k, form in zip(ks, forms, strict=True):
            out[k] = form
    for ks in _clashes(out):
        for k in ks:
            out[k] = f"{elide_middle(names[k], width - 1 - len(str(k)), 0)}~{k}"
    return out


def _clashes(texts) -> list[list[int]]:
    seen = {}
    for k, text in enumerate(texts):
        seen.setdefault(text, []).append(k)
    return [ks for ks in seen.values() if len(ks) > 1]


def brief(value, width: int = 60, shown: int = 8) -> str:
    """``str(value)`` when short; a long list, tuple or array as its first ``shown`` items and
    its length; anything else cut to ``width`` characters (:func:`short`). For values read from
    a file (shapes, pads, permutations) in error messages."""
    size = getattr(value, "size", None)
    if hasattr(value, "ravel") and isinstance(size, int) and size > shown:
        items, n = value.ravel()[:shown].tolist(), size
    elif isinstance(value, list | tuple) and len(value) > shown:
        items, n = value[:shown], len(value)
    else:
        return short(value, width)
    head = ", ".join(short(v, 20) for v in items)
    return f"[{head}, … ({n:,} in all)]"


def error_line(text, limit: int = 1000) -> str:
    """An error message as one printable line of at most about ``limit`` characters: its start
    (the file and the problem) and its end (the hint), whatever a crafted file put between."""
    text = str(text)
    if len(text) > 4 * limit:
        text = text[: 2 * limit] + " … " + text[-limit:]
    line = printable_line(text)
    if len(line) <= limit:
        return line
    tail = limit // 5
    return f"{line[: limit - tail - 3]} … {line[-tail:]}"


def listing(names, shown: int = 8, width: int = 40) -> str:
    """A few of ``names``, each cut to ``width`` characters, then how many there are in all:
    an error about a crafted file with 100,000 member names stays one short line."""
    names = [str(n) for n in names]
    cut = [n if len(n) <= width else n[: width - 1] + "…" for n in names[:shown]]
    more = f", … ({len(names):,} in all)" if len(names) > shown else ""
    return ", ".join(cut) + more


def closest_name(name, names, cutoff: float = 0.75):
    """The one of ``names`` a mistyped ``name`` most likely meant, case aside (``resnt``:
    resnet), spelled as ``names`` has it; None when none is close. A list of every name told
    one who typed a letter wrong only that theirs was not among them."""
    import difflib  # noqa: PLC0415 (only for an error message)

    by_key = {str(n).lower(): n for n in names}
    match = difflib.get_close_matches(str(name).strip().lower(), by_key, n=1, cutoff=cutoff)
    return by_key[match[0]] if match else None


@contextlib.contextmanager
def escaping_output():
    """stdout and stderr write what their encoding cannot hold as ``\\xff``-style escapes
    while this lasts, instead of failing: a UTF-8 terminal's stdout is strict, so a file name
    of other bytes made ``wrote …`` an internal error after the file was written, and a
    Latin-1 or ASCII terminal failed on "×", "→" and ``--help``. The error modes are put back
    afterwards (the caller's streams are theirs)."""
    changed = {}
    for stream in (sys.stdout, sys.stderr):
        errors = getattr(stream, "errors", None)
        if errors in ("strict", None) and callable(getattr(stream, "reconfigure", None)):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError, AttributeError):  # closed, or not a text stream
                continue
            changed[stream] = errors or "strict"
    try:
        yield
    finally:
        for stream, errors in changed.items():
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors=errors)
