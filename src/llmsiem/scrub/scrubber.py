"""Replacing what the scan finds, in one text, one raw line or a whole event document.

Matches become typed markers (``[REDACTED:AWS_KEY]``); a document records the types found
in ``llmsiem.redaction.*`` so rules still see "secret in prompt" after redaction. Modes:
``redact`` (marker), ``hash`` (marker plus an HMAC-SHA256 prefix, to correlate repeats
without storing the value; needs a key) and ``keep`` (record types only, text unchanged).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from llmsiem.scrub.document import Leaf, leaves
from llmsiem.scrub.scan import Span, find_spans, might_contain_sensitive

Mode = Literal["redact", "hash", "keep"]
HMAC_KEY_ENV = "LLMSIEM_SCRUB_HMAC_KEY"
CLEAN_KEYS_CACHED = 4096
_CLEAN_KEYS: set[str] = set()  # dict keys known to hold nothing (a pure function of the key)


class MissingScrubKeyError(ValueError):
    """``hash`` mode was asked for without an HMAC key (argument or environment)."""

    def __init__(self) -> None:
        super().__init__(
            f"--scrub hash needs a key: set {HMAC_KEY_ENV} (a random per-run key would make "
            "the same secret hash differently in every run)"
        )


@dataclass
class ScrubResult:
    """Scrubbed text and the type of every finding, in order."""

    text: str
    types: list[str] = field(default_factory=list)


class Scrubber:
    """Finds and replaces secrets and personal data in text, raw lines and event documents."""

    def __init__(self, mode: Mode = "redact", hmac_key: bytes | None = None) -> None:
        if mode not in ("redact", "hash", "keep"):
            raise ValueError(f"scrub mode must be redact, hash or keep, not {mode!r}")
        self.mode = mode
        env_key = os.environ.get(HMAC_KEY_ENV, "")
        self.key = hmac_key or env_key.encode()
        if mode == "hash" and not self.key:
            raise MissingScrubKeyError

    def _marker(self, span: Span, value: str) -> str:
        if self.mode == "hash":
            digest = hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:12]
            return f"[REDACTED:{span.kind}:{digest}]"
        return f"[REDACTED:{span.kind}]"

    def _scrub(self, text: str, *, pii: bool = True) -> ScrubResult:
        spans = find_spans(text, pii=pii)
        types = [span.kind for span in spans]
        if self.mode == "keep" or not spans:
            return ScrubResult(text, types)
        pieces = []
        cursor = 0
        for span in spans:
            pieces.append(text[cursor : span.start])
            pieces.append(self._marker(span, text[span.start : span.end]))
            cursor = span.end
        pieces.append(text[cursor:])
        return ScrubResult("".join(pieces), types)

    def scrub_text(self, text: str, *, pii: bool = True) -> ScrubResult:
        """The text with every finding replaced (mode permitting), and the types found;
        ``pii=False`` looks for secrets only, as in an identity field."""
        return self._scrub(text, pii=pii)

    def scrub_raw(self, text: str) -> str:
        """A raw input line (JSON or not) with every finding replaced, for dead letters.

        Always redacts, whatever the mode (``keep`` would store the secret). Escapes are
        decoded for matching and only whole escapes are replaced, so a valid JSON line
        stays valid JSON.
        """
        if self.mode != "keep":
            return self._scrub(text).text
        return Scrubber("redact")._scrub(text).text

    def scrub_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """Scrub every string of a nested event document in place; record the findings."""
        if not _might_hold_findings(document):
            return document
        found = list(leaves(document))
        types: list[str] = []
        renamed: list[tuple[Leaf, str]] = []
        for leaf in found:
            if leaf.is_key and leaf.text in _CLEAN_KEYS:
                continue
            result = self._scrub(leaf.text, pii=not leaf.identity)
            if not result.types:
                if leaf.is_key and len(_CLEAN_KEYS) < CLEAN_KEYS_CACHED:
                    _CLEAN_KEYS.add(leaf.text)  # field names repeat in every event
                continue
            types.extend(result.types)
            if self.mode == "keep":
                continue
            if leaf.is_key:
                renamed.append((leaf, result.text))
            else:
                leaf.container[leaf.key] = result.text
        for leaf, new_key in renamed:
            _rename(leaf, new_key)
        if types:
            _record(document, self.mode, types)
        return document


def _might_hold_findings(document: dict[str, Any]) -> bool:
    """The pre-filter over the whole document at once (its JSON text, keys and all).

    Compact JSON from orjson: every string, key and integer appears exactly as the standard
    library writes it (only the separators outside strings differ), and what orjson refuses
    (lone surrogates, integers beyond 64 bits, non-string keys) is scanned leaf by leaf.
    """
    try:
        text = orjson.dumps(document).decode()
    except TypeError:  # orjson.JSONEncodeError: not JSON-like, too deep, or out of its range
        return True
    return might_contain_sensitive(text)


def _rename(leaf: Leaf, new_key: str) -> None:
    container = leaf.container
    assert isinstance(container, dict)
    unique = new_key
    suffix = 1
    while unique in container:
        suffix += 1
        unique = f"{new_key}#{suffix}"
    container[unique] = container.pop(leaf.key)


def _record(document: dict[str, Any], mode: str, types: list[str]) -> None:
    """Add the findings to ``llmsiem.redaction`` (left alone if that is not an object)."""
    extension = document.setdefault("llmsiem", {})
    if not isinstance(extension, dict):
        return
    redaction = extension.setdefault("redaction", {})
    if not isinstance(redaction, dict):
        return
    previous = redaction.get("types")
    previous_count = redaction.get("count")
    redaction["types"] = sorted(set(previous if isinstance(previous, list) else []) | set(types))
    redaction["count"] = (previous_count if isinstance(previous_count, int) else 0) + len(types)
    redaction["mode"] = mode
