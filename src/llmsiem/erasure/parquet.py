"""Parquet stores (``ship --to parquet``): each part file is rewritten without the person's
rows, through DuckDB, and swapped in atomically; the other rows keep their order and types."""

from __future__ import annotations

from pathlib import Path

import duckdb

from llmsiem.erasure.store import StoreError, replacing
from llmsiem.erasure.subject import Subject


class ParquetStore:
    """A folder of Parquet part files (searched recursively), orphaned partial parts too."""

    kind = "parquet"
    retained: str | None = None

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.location = str(directory)

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            raise StoreError(f"{self.directory}: not a folder of Parquet files")
        parts = [*self.directory.rglob("*.parquet"), *self.directory.rglob("part-*.tmp")]
        return sorted(parts)  # .tmp: a part a crashed ship wrote but never renamed

    def _matches(self, subject: Subject, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Rows of the person per file, in one scan of every file; learns their event ids."""
        files = [str(path) for path in self.files()]
        if not files:
            return {}
        condition, parameters = subject.sql_condition()
        try:
            rows = con.execute(
                f'SELECT filename, "event"."id" FROM read_parquet(?, filename = true, '
                f"union_by_name = true) WHERE {condition}",
                [files, *parameters],
            ).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{self.directory}: {exc}") from exc
        counts: dict[str, int] = {}
        for filename, event_id in rows:
            counts[filename] = counts.get(filename, 0) + 1
            if event_id:
                subject.event_ids.add(str(event_id))
        return counts

    def scan(self, subject: Subject) -> int:
        return sum(self._matches(subject, duckdb.connect()).values())

    def erase(self, subject: Subject) -> int:
        con = duckdb.connect()
        condition, parameters = subject.sql_condition()
        counts = self._matches(subject, con)
        for filename in counts:  # files without the person's rows are not rewritten
            path = Path(filename)
            with replacing(path) as partial:
                try:
                    con.execute(
                        f"COPY (SELECT * FROM read_parquet(?) WHERE NOT {condition}) "
                        f"TO '{_literal(partial)}' (FORMAT parquet)",
                        [filename, *parameters],
                    )
                except duckdb.Error as exc:
                    raise StoreError(f"{path}: {exc}") from exc
        return sum(counts.values())


def _literal(path: Path) -> str:
    """A path as the inside of a SQL string literal (COPY TO takes no parameter)."""
    return str(path).replace("'", "''")
