"""The ``Store`` interface, its per-store result, and the atomic rewrite every file store uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llmsiem.erasure.subject import Subject


class StoreError(RuntimeError):
    """A store could not be read or rewritten; nothing of it was changed."""


@dataclass
class StoreResult:
    """What one store holds of the person (``found``) and what was erased of it."""

    kind: str
    location: str
    found: int = 0
    erased: int = 0
    retained: str | None = None
    """Why the records found are kept (a store llmsiem does not erase), if so."""
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Store(Protocol):
    """A place llmsiem keeps events or alerts."""

    kind: str
    location: str
    retained: str | None
    """Why the store's records are counted but kept (not erased); None for erasable stores."""

    def scan(self, subject: Subject) -> int:
        """How many records are the person's (learning their event ids); changes nothing."""
        ...

    def erase(self, subject: Subject) -> int:
        """Remove the person's records; every other record stays as it was. Returns the count."""
        ...


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A file to write that replaces ``path`` atomically when the block ends without error.

    The new file is written beside the old one (same mode), synced, and renamed over it; a
    crash leaves the old file or the new one, never a mix. ``path`` must not change meanwhile
    (a writer appending to it): that is detected and nothing is replaced.
    """
    before = path.stat()
    partial = path.with_name(f".{path.name}.erasing")
    try:
        yield partial
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise StoreError(f"{path} changed while it was being rewritten; run forget again")
        partial.chmod(before.st_mode & 0o7777)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
