"""Before Qt starts: can it open a window here? Qt's own answer to a missing X11 library is
an abort ("could not load the Qt platform plugin xcb") after a page of hints; this module
names the missing Debian/Ubuntu packages in one sentence instead. It never imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys

# The libraries Qt's xcb platform plugin loads that minimal systems (containers, WSL, fresh
# servers) often lack, with the Debian/Ubuntu package that carries each.
X11_LIBRARIES = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
}


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_x11_packages(loads=_loads) -> list[str]:
    """Packages of :data:`X11_LIBRARIES` whose library the dynamic loader cannot find."""
    return [package for soname, package in X11_LIBRARIES.items() if not loads(soname)]


def uses_x11(environ=None, platform=None) -> bool:
    """Whether Qt will try its X11 (xcb) plugin: Linux, no other platform asked for, and no
    Wayland session that Qt would prefer."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(":")[0].split(";")[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def display_problem(environ=None, platform=None, loads=_loads) -> str | None:
    """One sentence saying why Qt cannot open a window here, or None when it can try."""
    env = os.environ if environ is None else environ
    if not uses_x11(env, platform):
        return None
    missing = missing_x11_packages(loads)
    if missing:
        return (f"the X11 libraries Qt needs are missing ({', '.join(missing)}); install them "
                f"with 'sudo apt-get install {' '.join(missing)}' (Debian/Ubuntu), or run "
                "without a display with QT_QPA_PLATFORM=offscreen (e.g. for --screenshot)")
    if not env.get("DISPLAY"):
        return ("no display to open a window on (DISPLAY is not set): run it on a desktop, "
                "through 'ssh -X', or with QT_QPA_PLATFORM=offscreen for --screenshot")
    return None
