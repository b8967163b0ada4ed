"""Parquet stores (``ship --to parquet``): each part file is rewritten without the person's
rows, through DuckDB, and swapped in atomically; the other rows keep their order and types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

    def _query(self, sql: str, parameters: list[str], path: Path) -> list[tuple[Any, ...]]:
        try:
            return duckdb.connect().execute(sql, parameters).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{path}: {exc}") from exc

    def scan(self, subject: Subject) -> int:
        condition, parameters = subject.sql_condition()
        found = 0
        for path in self.files():
            rows = self._query(
                f'SELECT "event"."id" FROM read_parquet(?) WHERE {condition}',
                [str(path), *parameters],
                path,
            )
            subject.event_ids.update(str(event_id) for (event_id,) in rows if event_id)
            found += len(rows)
        return found

    def erase(self, subject: Subject) -> int:
        condition, parameters = subject.sql_condition()
        erased = 0
        for path in self.files():
            ((count,),) = self._query(
                f"SELECT count(*) FROM read_parquet(?) WHERE {condition}",
                [str(path), *parameters],
                path,
            )
            if not count:
                continue  # untouched files are not rewritten
            with replacing(path) as partial:
                self._query(
                    f"COPY (SELECT * FROM read_parquet(?) WHERE NOT {condition}) "
                    f"TO '{_literal(partial)}' (FORMAT parquet)",
                    [str(path), *parameters],
                    path,
                )
            erased += int(count)
        return erased


def _literal(path: Path) -> str:
    """A path as the inside of a SQL string literal (COPY TO takes no parameter)."""
    return str(path).replace("'", "''")
