"""The engine's pointers to the command line, said the explorer's way.

lrpcore's messages serve the command line and the explorer alike; a few point to a command
("see 'lrp rules'") where a user of the explorer has a panel instead. One table maps each
pointer to the place in the window, applied wherever the explorer shows an error.
"""

from __future__ import annotations

import re

# (pattern in an lrpcore message, what the explorer says instead)
GUI_POINTERS = (
    (re.compile(r"\(see 'lrp rules'\)"),
     "(the rule list of the Explanation panel; each rule's tooltip gives its formula)"),
    (re.compile(r"\('lrp info MODEL' lists the layer names\)"),
     "(the per-layer rules table of the Explanation panel lists them)"),
    (re.compile(r"run 'lrp data download --kind \w+'(?: or \S+)?"),
     "download them with “Download MNIST…” (File menu, or the Browser)"),
)


def gui_message(text) -> str:
    """``text`` with every command-line pointer replaced by the explorer's."""
    text = str(text)
    for pattern, words in GUI_POINTERS:
        text = pattern.sub(words, text)
    return text
