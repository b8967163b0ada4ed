"""Dead-letter file: every record a stage could not take, with where it came from and why.

The raw record is kept so nothing is lost, but it is scrubbed first: a malformed record
may still carry a secret, and the dead-letter file is storage like any other.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmsiem.scrub import Scrubber


class DeadLetter:
    """Append-only JSONL of rejected records; opened lazily so clean runs leave no file.

    Threads may share one (``ship`` spools and delivers at once): each entry is written
    whole under a lock.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        self._stream: IO[str] | None = None
        self._scrubber: Scrubber | None = None
        self._lock = threading.Lock()

    def _scrubbed(self, raw: Any) -> str | None:
        if raw is None:
            return None
        if self._scrubber is None:
            from llmsiem.scrub import Scrubber

            self._scrubber = Scrubber()
        try:
            text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        except (RecursionError, ValueError, TypeError) as exc:
            text = f"(record not serializable: {type(exc).__name__})"
        return self._scrubber.scrub_raw(text)

    def write(self, source: str, line: int, reason: str, raw: Any) -> None:
        """Record one rejected input and the reason it was rejected."""
        with self._lock:
            self._write(source, line, reason, raw)

    def _write(self, source: str, line: int, reason: str, raw: Any) -> None:
        self.count += 1
        if self.path is None:
            return
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # A JSON escape of a lone surrogate (\ud800) decodes to a character UTF-8
            # cannot hold; written back as the same escape, the entry stays exact JSON.
            self._stream = self.path.open("a", encoding="utf-8", errors="backslashreplace")
        entry = {
            "@timestamp": datetime.now(UTC).isoformat(),
            "source": source,
            "line": line,
            "reason": reason,
            "raw": self._scrubbed(raw),
        }
        self._stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> DeadLetter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
