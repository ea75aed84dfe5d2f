"""Widgets of the main window; each subscribes to AppState and writes back only through it."""
