"""Hearth's desktop GUI (PySide6); it talks to the backend over HTTP only."""
