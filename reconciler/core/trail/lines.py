"""Text made safe for a commit message and a terminal: one clean line, or a paragraph
wrapped so that no line after the first can be read as a trailer."""

from __future__ import annotations

import unicodedata

__all__ = ["clean_line", "wrap"]

#: Bidirectional overrides and isolates: they make text read differently from what it says.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_line(text: str) -> str:
    """`text` as one line that is safe to show in a terminal and to store in a commit message.

    Line breaks and tabs become spaces (runs collapse to one), and every other control
    character (ANSI escapes, backspace, DEL, the C1 set) and bidirectional override is written
    as a visible escape (`\\x1b`, `\\u202e`), so nothing is lost and nothing repaints the
    reader's terminal or reorders what they read. Every commit message goes through here.
    """
    out = []
    for char in text:
        if char.isspace():  # line and paragraph breaks of every kind, tabs
            out.append(" ")
        elif char in _BIDI or unicodedata.category(char) == "Cc":
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return " ".join("".join(out).split())


def wrap(text: str, width: int = 78) -> str:
    """Wrapped at `width`; lines after the first are indented, so they never start a line."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "  " + word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(lines)
