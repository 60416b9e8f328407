"""Syntax highlighting of code blocks as Qt rich text, through pygments' inline-styled HTML.

pygments is imported when the first code block is shown, not before the window's first paint."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygments.lexer import Lexer

LIGHT_STYLE = "default"
DARK_STYLE = "monokai"


def highlighted_html(code: str, language: str, dark: bool) -> str:
    """A <pre> block Qt's rich text can show; plain when the language is unknown."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    lexer = _lexer_for(code, language)
    if lexer is None:
        body = html.escape(code)
    else:
        formatter = HtmlFormatter(
            nowrap=True, noclasses=True, style=DARK_STYLE if dark else LIGHT_STYLE
        )
        body = highlight(code, lexer, formatter).rstrip("\n")
    return f'<pre style="margin:0; white-space:pre">{body}</pre>'


def _lexer_for(code: str, language: str) -> Lexer | None:
    from pygments.lexers import get_lexer_by_name, guess_lexer
    from pygments.util import ClassNotFound

    try:
        if language:
            return get_lexer_by_name(language, stripnl=False)
        if len(code) > 40:
            return guess_lexer(code, stripnl=False)
    except ClassNotFound:
        return None
    return None


def code_background(dark: bool) -> str:
    """The highlighting style's own background, so every token stays readable."""
    from pygments.styles import get_style_by_name

    return get_style_by_name(DARK_STYLE if dark else LIGHT_STYLE).background_color
