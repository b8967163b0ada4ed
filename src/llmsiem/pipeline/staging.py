"""A JSONL file for DuckDB to read that never has a name in the temp directory.

On Linux the file is created unlinked (``O_TMPFILE``) and read through ``/proc/self/fd``,
so no crash, not even SIGKILL, leaves plaintext events behind; elsewhere it is a named
file deleted on every exit from the ``with`` block.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

PROC_FD = Path("/proc/self/fd")


class NamelessJsonl:
    """Lines written here are readable by DuckDB at ``ready()``'s path until the block ends."""

    def __init__(self) -> None:
        self.count = 0
        self._named = not PROC_FD.is_dir()
        self._out: IO[bytes] = (
            tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and deleted by __exit__
                "w+b", prefix="llmsiem-batch-", suffix=".jsonl", delete=False
            )
            if self._named
            else tempfile.TemporaryFile("w+b")  # noqa: SIM115 - as above
        )
        self.path = Path(self._out.name) if self._named else PROC_FD / str(self._out.fileno())

    def write_line(self, line: str) -> None:
        self._out.write(line.encode() + b"\n")
        self.count += 1

    def write_lines(self, block: bytes, count: int) -> None:
        """Lines already encoded, each ending in a newline."""
        self._out.write(block)
        self.count += count

    def ready(self) -> Path:
        """The path to read, everything written so far flushed."""
        self._out.flush()
        return self.path

    def __enter__(self) -> NamelessJsonl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close (and so delete) the file; closing twice is harmless."""
        self._out.close()
        if self._named:
            self.path.unlink(missing_ok=True)
