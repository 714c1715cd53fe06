"""Text from the outside world (titles, caption cues, feed fields) made safe to store and to print.

Postgres text cannot hold NUL; control characters in a title or cue are never meaningful and, printed
raw, drive the user's terminal (ESC[2J clears it). Cleaning happens once, where the text comes in.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls (U+0080-U+009F).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(text: str, limit: int | None = None) -> str:
    """`text` without NUL and control characters (tab and newline kept), at most `limit` characters."""
    cleaned = _CONTROL.sub("", text)
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 1, 0)] + "…"
    return cleaned


def printable(text: str) -> str:
    """`text` for a terminal: every control character (newline and tab included) escaped, as \\x1b."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
