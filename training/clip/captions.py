"""From a freedesktop icon name to the concept it draws: "folder-music" -> "music folder".

Icon themes name their files by the freedesktop naming spec: a context noun first, then what
qualifies it ("folder-music", "drive-harddisk", "face-smile"). `icon_concept` turns a name into
a short English noun phrase by these rules, in order:

1. Variant suffixes (-symbolic, -rtl, -ltr) are removed; an exception in `EXCEPTIONS` wins.
2. Names that give no concept are dropped: application ids (anything in the `apps` context not
   named by a category prefix such as "accessories-"), tray icons (`panel`), file types other
   than the generic ones, brands and desktop names, colour variants of folders.
3. A category or action prefix is removed ("accessories-calculator" -> "calculator",
   "edit-copy" -> "copy"); a leading context noun moves to the end, after the state words
   ("folder-music-open" -> "open music folder").
4. Every word must be English (the given vocabulary, or `EXTRA_WORDS`), at most four of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection

# Exact names whose rule-made caption would be wrong or empty; None drops the name.
EXCEPTIONS: dict[str, str | None] = {
    "user-trash": "trash can",
    "user-trash-full": "full trash can",
    "user-home": "home folder",
    "user-desktop": "desktop",
    "user-bookmarks": "bookmarks",
    "drive-harddisk": "hard disk drive",
    "drive-optical": "optical disc drive",
    "media-optical": "optical disc",
    "media-floppy": "floppy disk",
    "media-flash": "memory card",
    "media-playback-start": "play button",
    "media-playback-pause": "pause button",
    "media-playback-stop": "stop button",
    "media-record": "record button",
    "media-skip-forward": "skip forward button",
    "media-skip-backward": "skip backward button",
    "face-smile": "smiling face",
    "face-smile-big": "big smiling face",
    "face-sad": "sad face",
    "face-crying": "crying face",
    "face-wink": "winking face",
    "face-kiss": "kissing face",
    "face-laugh": "laughing face",
    "go-next": "right arrow",
    "go-previous": "left arrow",
    "go-up": "up arrow",
    "go-down": "down arrow",
    "go-home": "home",
    "go-jump": "jump arrow",
    "weather-clear": "sunny weather",
    "weather-clear-night": "clear night sky",
    "weather-few-clouds": "sun behind a few clouds",
    "weather-overcast": "overcast sky",
    "weather-showers": "rain showers",
    "weather-snow": "snow",
    "weather-storm": "thunderstorm",
    "weather-fog": "fog",
    "audio-volume-high": "loud speaker",
    "audio-volume-low": "quiet speaker",
    "audio-volume-muted": "muted speaker",
    "audio-card": "sound card",
    "x-office-document": "office document",
    "x-office-spreadsheet": "spreadsheet",
    "x-office-presentation": "presentation slides",
    "x-office-calendar": "calendar",
    "x-office-address-book": "address book",
    "x-office-drawing": "drawing",
    "text-html": "web page",
    "start-here": None,  # each distribution's logo
    "distributor-logo": None,
}
SUFFIXES = ("symbolic", "rtl", "ltr")
# Leading words that name a category ("applications-games") or an action group ("edit-copy").
PREFIXES = {
    "accessories",
    "applications",
    "preferences",
    "utilities",
    "categories",
    "edit",
    "go",
    "view",
    "format",
    "list",
    "object",
    "tools",
    "process",
}
APP_CATEGORIES = {"accessories", "applications", "preferences", "utilities"}
# Context nouns written first in icon names and last in English.
HEADS = {
    "folder",
    "drive",
    "camera",
    "battery",
    "mail",
    "network",
    "weather",
    "face",
    "emblem",
    "document",
    "input",
    "media",
    "computer",
    "phone",
    "printer",
    "audio",
    "video",
    "image",
    "text",
    "package",
    "dialog",
    "appointment",
    "security",
}
STATES = {"open", "full", "empty", "new", "locked", "remote", "missing", "important"}
DROPPED_CONTEXTS = {"panel", "apps"}  # apps: kept only under APP_CATEGORIES prefixes
MIME_CONTEXTS = {"mimetypes", "mimes"}
# Brands, desktops and theme names that are also English words: never a concept.
BRANDS = {
    "gnome",
    "kde",
    "gtk",
    "mate",
    "cinnamon",
    "breeze",
    "oxygen",
    "elementary",
    "yaru",
    "adwaita",
    "papirus",
    "nordic",
    "custom",
    "google",
    "wine",
    "snap",
    "steam",
    "ubuntu",
    "debian",
    "linux",
    "android",
    "apple",
}
COLOURS = {
    "red",
    "green",
    "blue",
    "yellow",
    "orange",
    "violet",
    "brown",
    "black",
    "white",
    "grey",
    "gray",
    "cyan",
    "magenta",
    "pink",
    "indigo",
    "teal",
    "carmine",
    "darkcyan",
    "deeporange",
    "palebrown",
    "paleorange",
    "bluegrey",
}
WORD_FIXES = {"harddisk": "hard disk", "cdrom": "cd", "im": "chat", "txt": "text", "prefs": ""}
EXTRA_WORDS = {"cd", "dvd", "usb", "pdf", "tv", "wifi", "bluetooth", "html", "ok", "pc", "www"}
MAX_WORDS = 4


def _tokens(name: str) -> list[str]:
    tokens = [t for t in re.split(r"[-_.\s]+", name.lower()) if t]
    while tokens and tokens[-1] in SUFFIXES:
        tokens.pop()
    return tokens


def _mime_concept(tokens: list[str]) -> str | None:
    """Only the generic file types draw a concept ("audio-x-generic" -> "audio file")."""
    if len(tokens) == 3 and tokens[1:] == ["x", "generic"]:
        return f"{tokens[0]} file"
    return None


def _reorder(tokens: list[str]) -> list[str]:
    if tokens[0] in PREFIXES and len(tokens) > 1:
        tokens = tokens[1:]
        if tokens[0] == "desktop" and len(tokens) > 1:  # preferences-desktop-keyboard
            tokens = tokens[1:]
    if tokens[0] in HEADS and len(tokens) > 1:
        states = [t for t in tokens[1:] if t in STATES]
        others = [t for t in tokens[1:] if t not in STATES]
        tokens = [*states, *others, tokens[0]]
    return tokens


def icon_concept(name: str, context: str, vocabulary: Collection[str]) -> str | None:
    """The concept drawn by the icon `name` found in `context` (its folder), or None."""
    tokens = _tokens(name)
    key = "-".join(tokens)
    if key in EXCEPTIONS:
        return EXCEPTIONS[key]
    if not tokens or any(t.isdigit() or t in BRANDS for t in tokens):
        return None
    if context in MIME_CONTEXTS:
        return _mime_concept(tokens)
    if context in DROPPED_CONTEXTS and not (context == "apps" and tokens[0] in APP_CATEGORIES):
        return None
    if tokens[0] in {"folder", "user"} and any(t in COLOURS for t in tokens) and len(tokens) > 2:
        return None  # "folder-red-music": a colour scheme of "folder-music"
    words = " ".join(WORD_FIXES.get(t, t) for t in _reorder(tokens)).split()
    if not words or len(words) > MAX_WORDS or len(set(words)) < len(words):
        return None
    if any(w not in vocabulary and w not in EXTRA_WORDS for w in words):
        return None
    return " ".join(words)


def icon_captions(concept: str) -> list[str]:
    """The concept and a sentence naming it, as the dataset's captions."""
    article = "an" if concept[0] in "aeiou" else "a"
    return [concept, f"{article} {concept}"]
