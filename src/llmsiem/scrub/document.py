"""Every string of an event document, wherever it sits, and which of them are identities.

The scrubber does not keep a list of text fields: it visits every string leaf of the
document (values at any depth, inside lists too, tool-call arguments and message parts
included), every dict key (a key can be a secret: header maps, label maps), and integers
long enough to be a card number, except in the schema's numeric fields.

Those hold measurements (a duration, a token count, a size): a marker in place of one would
make the event invalid, so the whole event would be dead-lettered instead of shipped, and a
request could hide from the SIEM behind a ``max_tokens`` that happens to pass the Luhn check.

Identity fields are the one exception, and only for personal data: the principal and the
ids that detection rules correlate on stay readable, so "user.id = alice@example.com" is
not turned into a marker that every user would share. Secrets are still removed from them
(a raw API key pasted into ``llmsiem.api_key.alias`` is redacted like anywhere else).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from llmsiem.columns import NUMERIC, field_types

# Dotted paths (through dicts only) whose values keep personal data readable.
IDENTITY_FIELDS = frozenset(
    {
        "@timestamp",
        "event.id",
        "event.created",
        "event.ingested",
        "trace.id",
        "span.id",
        "source.ip",
        "user.id",
        "user.name",
        "user.email",
        "organization.id",
        "organization.name",
        "gen_ai.conversation.id",
        "gen_ai.agent.id",
        "gen_ai.response.id",
        "gen_ai.tool.call.id",
        "llmsiem.api_key.id",
        "llmsiem.api_key.alias",
        "llmsiem.api_key.hash",
        "llmsiem.team.id",
        "llmsiem.team.alias",
        "llmsiem.end_user.id",
        "llmsiem.prompt.template.sha256",
        "llmsiem.system_instructions.sha256",
    }
)
# The scrubber's own record of what it found.
SKIPPED_FIELDS = frozenset({"llmsiem.redaction"})
# Integers with at least this many digits may be a card number or an SSN and are scanned.
MIN_SCANNED_INT = 10**8


@cache
def measurement_fields() -> frozenset[str]:
    """Dotted paths of the schema's numeric fields, whose integers are not scanned."""
    return frozenset(name for name, kind in field_types().items() if kind in NUMERIC)


@dataclass
class Leaf:
    """One scannable string of a document: where it lives and whether it is an identity."""

    container: dict[str, Any] | list[Any]
    key: Any  # dict key or list index; for a dict key leaf, the key itself
    text: str
    identity: bool
    is_key: bool = False


def leaves(document: dict[str, Any]) -> Iterator[Leaf]:
    """Every string value, dict key and long integer of the document (iterative walk)."""
    stack: list[tuple[dict[str, Any] | list[Any], str | None]] = [(document, "")]
    while stack:
        container, path = stack.pop()
        items: Any = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in items:
            child = None
            if isinstance(container, dict):
                if isinstance(key, str):
                    yield Leaf(container, key, key, identity=False, is_key=True)
                if path is not None:
                    child = f"{path}.{key}" if path else str(key)
                    if child in SKIPPED_FIELDS:
                        continue
            if isinstance(value, str):
                yield Leaf(container, key, value, identity=child in IDENTITY_FIELDS)
            elif isinstance(value, dict | list):
                stack.append((value, child if isinstance(value, dict) else None))
            elif (
                isinstance(value, int)
                and not isinstance(value, bool)
                and abs(value) >= MIN_SCANNED_INT
                and child not in measurement_fields()
            ):
                yield Leaf(container, key, str(value), identity=child in IDENTITY_FIELDS)
