"""Scrubbing secrets and personal data out of events before anything stores or ships them.

Secrets are found with detect-secrets' plugins (their regexes give exact spans; the
keyword plugin gives values), plus patterns for token formats detect-secrets does not know
(new OpenAI keys, Anthropic and Google keys) and whole PEM private-key blocks. Personal data
is found with presidio's pattern recognizers (cards with Luhn check, widened to the card
ranges presidio's regex misses; SSNs, IBANs, e-mail, phone numbers), offline: no NLP engine,
no spaCy model, no public-suffix download.

Matches become typed markers (``[REDACTED:AWS_KEY]``); the event records the types found in
``llmsiem.redaction.*`` so rules still see "secret in prompt" after redaction. Modes:
``redact`` (marker), ``hash`` (marker plus an HMAC-SHA256 prefix, to correlate repeats
without storing the value) and ``keep`` (record types only, leave text unchanged).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.settings import default_settings

Mode = Literal["redact", "hash", "keep"]
HMAC_KEY_ENV = "LLMSIEM_SCRUB_HMAC_KEY"

SECRET_TYPE_NAMES = {
    "AWS Access Key": "AWS_KEY",
    "Azure Storage Account access key": "AZURE_KEY",
    "Basic Auth Credentials": "BASIC_AUTH",
    "GitHub Token": "GITHUB_TOKEN",
    "GitLab Token": "GITLAB_TOKEN",
    "JSON Web Token": "JWT",
    "OpenAI Token": "OPENAI_KEY",
    "Private Key": "PRIVATE_KEY",
    "Slack Token": "SLACK_TOKEN",
    "Stripe Access Key": "STRIPE_KEY",
    "Secret Keyword": "SECRET",
}
# detect-secrets plugins that are not secrets for LLM telemetry or flag ordinary prose.
SKIPPED_PLUGINS = {"Public IP (ipv4)", "Base64 High Entropy String", "Hex High Entropy String"}
EXTRA_SECRET_PATTERNS = {
    "OPENAI_KEY": re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"),
    "ANTHROPIC_KEY": re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    "GCP_KEY": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "AWS_SECRET": re.compile(
        r"(?i)aws.{0,20}?secret.{0,20}?[=:]\s*['\"]?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
    ),
    "PRIVATE_KEY": re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----.*?"
        r"(-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----|$)",
        re.DOTALL,
    ),
}
JWT_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=]*")
PII_MIN_SCORE = 0.4
DOTTED_NUMBERS = re.compile(r"[0-9]+(\.[0-9]+)+")
# presidio's card regex misses 12-digit Maestro, 2-series Mastercard and Mir, and 15-digit JCB
# numbers; any 12-19 digit run that passes Luhn and follows a card word within this window
# is treated as a card too.
CARD_DIGITS = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){11,18}(?![0-9])")
CARD_CONTEXT_CHARS = 40
# The keyword plugin only fires near words like these; skip it when none occurs.
KEYWORD_HINT = re.compile(r"(?i)pass|pwd|secret|key|token|auth|cred|api")
# Fields whose text is scrubbed, as paths into the nested document.
TEXT_FIELDS = (
    ("llmsiem", "prompt", "text"),
    ("llmsiem", "context", "text"),
    ("llmsiem", "response", "text"),
    ("gen_ai", "tool", "call", "arguments"),
    ("gen_ai", "tool", "call", "result"),
    ("error", "message"),
    ("event", "original"),
)
MESSAGE_FIELDS = (("gen_ai", "input", "messages"), ("gen_ai", "output", "messages"))


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


@dataclass
class ScrubResult:
    text: str
    types: list[str] = field(default_factory=list)


@cache
def _secret_plugins() -> tuple[list[tuple[str, re.Pattern[str]]], list[KeywordDetector]]:
    regexes: list[tuple[str, re.Pattern[str]]] = []
    keywords: list[KeywordDetector] = []
    with default_settings():
        plugin: Any
        for secret_type, plugin in get_mapping_from_secret_type_to_class().items():
            if secret_type in SKIPPED_PLUGINS:
                continue
            kind = SECRET_TYPE_NAMES.get(secret_type, re.sub(r"\W+", "_", secret_type).upper())
            if issubclass(plugin, RegexBasedDetector):
                denylist: Iterable[re.Pattern[str]] = plugin.denylist
                regexes.extend((kind, pattern) for pattern in denylist)
            elif issubclass(plugin, KeywordDetector):
                keywords.append(plugin())
    return regexes, keywords


@cache
def _pii_recognizers() -> tuple[Any, ...]:
    """presidio pattern recognizers; imported on first use (presidio loads slowly)."""
    import tldextract
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class CardNumberRecognizer(CreditCardRecognizer):
        """presidio's card recognizer, plus Luhn-valid digit runs that follow a card word."""

        def analyze(
            self,
            text: str,
            entities: list[str],
            nlp_artifacts: NlpArtifacts | None = None,
            regex_flags: int | None = None,
        ) -> list[RecognizerResult]:
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            lowered = text.lower()
            for match in CARD_DIGITS.finditer(text):
                before = lowered[max(0, match.start() - CARD_CONTEXT_CHARS) : match.start()]
                if any(word in before for word in self.context) and self.validate_result(
                    match.group()
                ):
                    results.append(RecognizerResult("CREDIT_CARD", match.start(), match.end(), 1.0))
            return results

    class OfflineEmailRecognizer(EmailRecognizer):
        """presidio's e-mail recognizer with tldextract's bundled suffix list (no download)."""

        _extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        def validate_result(self, pattern_text: str) -> bool:
            return bool(self._extract(pattern_text).fqdn)

    return (
        CardNumberRecognizer(),
        UsSsnRecognizer(),
        IbanRecognizer(),
        OfflineEmailRecognizer(),
        PhoneRecognizer(),
    )


def _secret_spans(text: str) -> Iterable[Span]:
    regexes, keywords = _secret_plugins()
    for kind, pattern in regexes:
        for match in pattern.finditer(text):
            end = match.end()
            if kind == "JWT":
                end += len(JWT_TAIL.match(text, end).group())  # type: ignore[union-attr]
            if kind != "PRIVATE_KEY":  # the whole PEM block is matched below
                yield Span(match.start(), end, kind)
    for kind, pattern in EXTRA_SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            group = 1 if kind == "AWS_SECRET" else 0
            yield Span(match.start(group), match.end(group), kind)
    if not KEYWORD_HINT.search(text):
        return
    with default_settings():
        for detector in keywords:
            offset = 0
            for line in text.split("\n"):
                for found in detector.analyze_line(filename="prompt.txt", line=line, line_number=1):
                    value = found.secret_value or ""
                    for match in re.finditer(re.escape(value), line) if value else ():
                        yield Span(offset + match.start(), offset + match.end(), "SECRET")
                offset += len(line) + 1


def _plausible(kind: str, value: str) -> bool:
    """Drop phone-number matches that are really IP addresses or bare digit runs."""
    if kind != "PHONE_NUMBER":
        return True
    return not DOTTED_NUMBERS.fullmatch(value.strip()) and any(c in value for c in "+-() ")


def _pii_spans(text: str) -> Iterable[Span]:
    has_digit = any(c.isdigit() for c in text)
    for recognizer in _pii_recognizers():
        needs = "@" if "EMAIL_ADDRESS" in recognizer.supported_entities else "digit"
        if (needs == "@" and "@" not in text) or (needs == "digit" and not has_digit):
            continue  # none of these entities can occur; skip the recognizer
        for result in recognizer.analyze(text, recognizer.supported_entities, None):
            value = text[result.start : result.end]
            if result.score >= PII_MIN_SCORE and _plausible(result.entity_type, value):
                yield Span(result.start, result.end, result.entity_type)


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans; where two overlap, the longer (then earlier) one wins."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.kind)
            continue
        merged.append(span)
    return merged


class Scrubber:
    """Finds and replaces secrets and personal data in text and in whole event documents."""

    def __init__(self, mode: Mode = "redact", hmac_key: bytes | None = None) -> None:
        if mode not in ("redact", "hash", "keep"):
            raise ValueError(f"scrub mode must be redact, hash or keep, not {mode!r}")
        self.mode = mode
        env_key = os.environ.get(HMAC_KEY_ENV)
        self.key = hmac_key or (env_key.encode() if env_key else secrets.token_bytes(32))

    def _marker(self, span: Span, value: str) -> str:
        if self.mode == "hash":
            digest = hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()[:12]
            return f"[REDACTED:{span.kind}:{digest}]"
        return f"[REDACTED:{span.kind}]"

    def scrub_text(self, text: str) -> ScrubResult:
        """The text with every finding replaced (mode permitting), and the types found."""
        spans = _merge([*_secret_spans(text), *_pii_spans(text)])
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

    def scrub_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """Scrub every text field of a nested event document in place; record the findings."""
        found: list[str] = []

        def visit(text: str) -> str:
            result = self.scrub_text(text)
            found.extend(result.types)
            return result.text

        for path in TEXT_FIELDS:
            _update(document, path, visit)
        for path in MESSAGE_FIELDS:
            for message in _get(document, path) or []:
                for part in message.get("parts", []) if isinstance(message, dict) else []:
                    if isinstance(part, dict) and isinstance(part.get("content"), str):
                        part["content"] = visit(part["content"])
        for part in _get(document, ("gen_ai", "system_instructions")) or []:
            if isinstance(part, dict) and isinstance(part.get("content"), str):
                part["content"] = visit(part["content"])
        if found:
            redaction = document.setdefault("llmsiem", {}).setdefault("redaction", {})
            previous = redaction.get("types", [])
            redaction["types"] = sorted(set(previous) | set(found))
            redaction["count"] = redaction.get("count", 0) + len(found)
            redaction["mode"] = self.mode
        return document


def _get(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = document
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _update(document: dict[str, Any], path: tuple[str, ...], change: Callable[[str], str]) -> None:
    parent = _get(document, path[:-1])
    if isinstance(parent, dict) and isinstance(parent.get(path[-1]), str):
        parent[path[-1]] = change(parent[path[-1]])
