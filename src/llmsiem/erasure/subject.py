"""Whose events are erased: the person's ids and the events found to be theirs."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from llmsiem.event import get_dotted

PLAIN_ID = re.compile(r"[A-Za-z0-9._@:+=~ -]+")
"""Ids no JSON encoder escapes."""
USER_FIELDS = ("user.id", "llmsiem.end_user.id")
"""Fields naming the person an event is about: the ECS user and the application's end user."""


@dataclass
class Subject:
    """One person, by user id; ``event_ids`` collects the ids of their events as stores are read,
    so alerts that cite those events (correlations over several users) go too."""

    user_id: str
    event_ids: set[str] = field(default_factory=set)

    def owns_event(self, document: dict[str, Any]) -> bool:
        """The document names the person in one of ``USER_FIELDS``."""
        return any(get_dotted(document, name) == self.user_id for name in USER_FIELDS)

    def owns(self, document: dict[str, Any]) -> bool:
        """An event or alert of the person, or an alert citing one of their events."""
        if self.owns_event(document):
            return True
        cited = get_dotted(document, "llmsiem.alert.event_ids")
        return isinstance(cited, list) and not self.event_ids.isdisjoint(map(str, cited))

    def learn(self, document: dict[str, Any]) -> None:
        """Remember the id of an event found to be the person's."""
        event_id = get_dotted(document, "event.id")
        if get_dotted(document, "event.kind") != "alert" and isinstance(event_id, str):
            self.event_ids.add(event_id)

    def marker(self) -> bytes | None:
        """Bytes every JSON line naming the person contains, or None when the id has a
        character some JSON encoder may escape (then every line is parsed)."""
        return self.user_id.encode() if PLAIN_ID.fullmatch(self.user_id) else None

    def mentioned_in(self, text: str) -> bool:
        """The id appears as a whole JSON string in raw text (a dead-lettered record)."""
        return json.dumps(self.user_id, ensure_ascii=False) in text

    def sql_condition(self) -> tuple[str, list[str]]:
        """A DuckDB condition true for the person's rows (never NULL), with its parameters."""
        refs = [".".join(f'"{part}"' for part in name.split(".")) for name in USER_FIELDS]
        tests = " OR ".join(f"coalesce({ref} = ?, false)" for ref in refs)
        return f"({tests})", [self.user_id] * len(refs)

    def es_query(self) -> dict[str, Any]:
        """The Elasticsearch query for the person's documents (exact keyword terms)."""
        should = [{"term": {name: self.user_id}} for name in USER_FIELDS]
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def keyed_hash(self, key: bytes) -> str:
        """What an audit record keeps of the person: HMAC-SHA256 of the id under the audit
        key, so a later request can be matched to it while the log itself names nobody."""
        return hmac.new(key, f"user.id|{self.user_id}".encode(), hashlib.sha256).hexdigest()
