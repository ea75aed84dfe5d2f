"""Persistent settings (QSettings): last model, dataset, rule, colormap, geometry, folders.

``LRP_EXPLORER_SETTINGS=/path/file.ini`` redirects everything to one ini file, which is how the
tests keep the user's real settings untouched.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ENV = "LRP_EXPLORER_SETTINGS"
MAX_RECENT = 8


def open_settings() -> QSettings:
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "lrp-explorer",
                     "lrp-explorer")


class Settings:
    """Typed access to the few values the explorer remembers."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or open_settings()

    def get(self, key, default=None):
        value = self.q.value(key, default)
        return default if value is None else value

    def get_str(self, key, default=None):
        value = self.q.value(key, default)
        return value if isinstance(value, str) else default

    def get_bool(self, key, default=False):
        value = self.q.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def set(self, key, value) -> None:
        self.q.setValue(key, value)

    def remove(self, key) -> None:
        self.q.remove(key)

    def recent(self, kind: str) -> list[str]:
        """The last MAX_RECENT files of ``kind``: the explorer writes no more, and a settings
        file edited to list 1,000 froze the window for 96 s at every refresh of its lists
        (each entry compared with every other by resolved path)."""
        value = self.q.value(f"recent/{kind}", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)][:MAX_RECENT]

    def add_recent(self, kind: str, entry: str) -> None:
        items = [entry] + [v for v in self.recent(kind) if v != entry]
        self.q.setValue(f"recent/{kind}", items[:MAX_RECENT])

    def last_dir(self, purpose: str) -> str:
        return self.get_str(f"dirs/{purpose}", "") or os.getcwd()

    def set_last_dir(self, purpose: str, folder: str) -> None:
        self.q.setValue(f"dirs/{purpose}", folder)

    def sync(self) -> None:
        self.q.sync()
