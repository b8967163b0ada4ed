"""Decoded views of a text, so a secret hidden behind an encoding is still seen.

A :class:`View` is a decoded copy of (part of) the original text plus, for every decoded
character, the offset in the original where it came from; a match found in the view maps
back to the exact original span to replace. JSON escapes (``\\n``, ``\\"``, ``\\u201c``,
``\\/``; up to three levels of nesting) and ASCII percent-escapes are decoded in place.
Base64 runs are decoded whole: what they hold is scanned, and the whole run is replaced.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

JSON_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|[\"\\/bfnrt])")
# ASCII percent-escapes decode to their character; a non-ASCII one decodes to a space
# (secrets are ASCII; what matters is that it separates tokens as the character would).
PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
MAX_ESCAPE_LEVELS = 3
BASE64_MIN_CHARS = 16
BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
# Every byte to "x" (base64 alphabet, standard or URL-safe) or " " (anything else).
BASE64_MARKS = bytes(ord("x") if b in BASE64_ALPHABET else ord(" ") for b in range(256))
BASE64_LONG_RUN = b"x" * BASE64_MIN_CHARS
MAX_PADDING = 2
PRINTABLE_SHARE = 0.9


@dataclass(frozen=True)
class View:
    """Decoded text; ``origin[i]`` is where decoded character ``i`` starts in the original."""

    text: str
    origin: tuple[int, ...] | None = None  # None: the view is the original text itself

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span a decoded span came from."""
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[end]


def _unescape(token: str) -> str:
    """The character one JSON or percent escape stands for (a space for non-ASCII bytes)."""
    if token[0] == "%":
        code = int(token[1:], 16)
        return chr(code) if code < 0x80 else " "
    if token[1] == "u":
        code = int(token[2:], 16)
        return " " if 0xD800 <= code < 0xE000 else chr(code)  # no lone surrogates
    return SIMPLE_ESCAPES[token[1]]


def _decode(text: str, pattern: re.Pattern[str]) -> View:
    pieces: list[str] = []
    origin: list[int] = []
    cursor = 0
    for match in pattern.finditer(text):
        pieces.append(text[cursor : match.start()])
        origin.extend(range(cursor, match.start()))
        pieces.append(_unescape(match.group()))
        origin.append(match.start())
        cursor = match.end()
    pieces.append(text[cursor:])
    origin.extend(range(cursor, len(text) + 1))
    return View("".join(pieces), tuple(origin))


def _compose(outer: View, inner: View) -> View:
    """A view of a view, mapped straight to the original."""
    if outer.origin is None:
        return inner
    assert inner.origin is not None
    return View(inner.text, tuple(map(outer.origin.__getitem__, inner.origin)))


def _needs(pattern: re.Pattern[str], text: str) -> bool:
    marker = "%" if pattern is PERCENT_ESCAPE else "\\"
    return marker in text and pattern.search(text) is not None


def _substitute(match: re.Match[str]) -> str:
    return _unescape(match.group())


DECODING_STEPS = (*(JSON_ESCAPE,) * MAX_ESCAPE_LEVELS, PERCENT_ESCAPE)


def decoded_text(text: str) -> str:
    """``decoded_view(text).text``, without the offsets (for the pre-filter)."""
    for pattern in DECODING_STEPS:
        if _needs(pattern, text):
            text = pattern.sub(_substitute, text)
    return text


def decoded_view(text: str) -> View:
    """The text with JSON escapes (nested up to three levels) and percent-escapes decoded."""
    view = View(text)
    for pattern in DECODING_STEPS:
        if _needs(pattern, view.text):
            view = _compose(view, _decode(view.text, pattern))
    return view


def base64_candidates(text: str) -> list[tuple[int, int, str]]:
    """Start, end and text of every base64-alphabet run worth decoding.

    A run is a longest stretch of base64 characters, at least ``BASE64_MIN_CHARS`` long,
    with up to two ``=`` after it. It is worth decoding when it mixes upper and lower case
    letters: encoded text always does; hex digests and lower-case identifiers never do.
    Runs are found with byte ``find`` on a marked copy of the text (one byte per character:
    non-ASCII characters become ``?``), at C speed even where every word is a short run.
    """
    marks = text.encode("ascii", "replace").translate(BASE64_MARKS)
    found = []
    start = marks.find(BASE64_LONG_RUN)
    while start >= 0:
        end = marks.find(b" ", start)
        end = len(marks) if end < 0 else end
        stop = end
        while stop < len(text) and stop - end < MAX_PADDING and text[stop] == "=":
            stop += 1
        run = text[start:stop]
        if run.lower() != run and run.upper() != run:
            found.append((start, stop, run))
        start = marks.find(BASE64_LONG_RUN, stop)
    return found


def decode_base64(run: str) -> str | None:
    """The text a base64 (standard or URL-safe) run encodes, or None if it is not text."""
    body = run.rstrip("=")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(c.isprintable() or c in "\n\r\t" for c in decoded)
    return decoded if decoded and printable >= PRINTABLE_SHARE * len(decoded) else None
