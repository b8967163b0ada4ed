"""The DuckDB event table: loading telemetry files fast, and bad records into the dead letter.

Loading tries DuckDB's typed ``read_json`` on the whole file first (the fast path). When the
file has any malformed line, type error or missing required field, the file is read again
record by record in Python, each bad record goes to the dead-letter file with its line
number and reason, and the good ones are loaded.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from llmsiem.deadletter import DeadLetter
from llmsiem.engine.columns import read_json_columns
from llmsiem.event import EventAction
from llmsiem.records import RawRecord, read_records
from llmsiem.validation import check_record

META_COLUMNS = {"_seq": "BIGINT", "_source": "VARCHAR", "_line": "BIGINT", "_ts": "DOUBLE"}
ACTIONS = ", ".join(f"'{a.value}'" for a in EventAction)


@dataclass
class LoadReport:
    """How many events one load added and how many it rejected."""

    loaded: int = 0
    rejected: int = 0
    fast_path: bool = True


def columns_sql(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"


class EventStore:
    """An in-process DuckDB database holding normalized events in one typed table."""

    def __init__(self, database: str = ":memory:") -> None:
        self.con = duckdb.connect(database)
        self.con.execute("SET preserve_insertion_order = true")
        self.schema_columns = read_json_columns()
        definition = ", ".join(
            [f'"{n}" {t}' for n, t in META_COLUMNS.items()]
            + [f'"{n}" {t}' for n, t in self.schema_columns.items()]
        )
        self.con.execute(f"CREATE TABLE events ({definition})")
        self.next_seq = 1

    @property
    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def _insert_from_json(self, path: Path, source: str, line_column: bool) -> int:
        columns = dict(self.schema_columns)
        if line_column:
            columns["_line"] = "BIGINT"
        names = ", ".join(f'"{n}"' for n in self.schema_columns)
        self.con.execute(
            f"""
            INSERT INTO events
            SELECT NULL AS _seq, ? AS _source, {"_line" if line_column else "NULL"} AS _line,
                   epoch_ms("@timestamp") / 1000.0 AS _ts, {names}
            FROM read_json(?, format = 'newline_delimited', columns = {columns_sql(columns)},
                           maximum_object_size = 67108864)
            """,
            [source, str(path)],
        )
        # Numbering the new rows afterwards in row-id order (insertion order is preserved,
        # so that is file order) is much cheaper than row_number() OVER () in the INSERT,
        # which materialises the whole file in one thread.
        row = self.con.execute(
            """
            UPDATE events SET _seq = $seq - 1 + numbered.n, _line = coalesce(_line, numbered.n)
            FROM (SELECT rowid AS r, row_number() OVER (ORDER BY rowid) AS n
                  FROM events WHERE _seq IS NULL) AS numbered
            WHERE events.rowid = numbered.r
            """,
            {"seq": self.next_seq},
        ).fetchone()
        added = int(row[0]) if row else 0  # DuckDB answers an UPDATE with its row count
        self.next_seq += added
        return added

    def _invalid_rows(self, first_seq: int) -> int:
        row = self.con.execute(
            f"""SELECT count(*) FROM events WHERE _seq >= ? AND ("@timestamp" IS NULL
                OR "event" IS NULL OR "event"."action" IS NULL
                OR "event"."action" NOT IN ({ACTIONS}))""",
            [first_seq],
        ).fetchone()
        return int(row[0]) if row else 0

    def load_file(self, path: Path, dead_letter: DeadLetter) -> LoadReport:
        """Load one normalized JSONL file; falls back to per-record checks on bad input."""
        first_seq = self.next_seq
        self.con.execute("BEGIN TRANSACTION")
        try:
            added = self._insert_from_json(path, str(path), line_column=False)
            if self._invalid_rows(first_seq) == 0:
                self.con.execute("COMMIT")
                return LoadReport(loaded=added)
        except duckdb.Error:
            pass
        self.con.execute("ROLLBACK")
        self.next_seq = first_seq
        report = self.load_records(read_records(path), dead_letter)
        report.fast_path = False
        return report

    def load_records(self, records: Iterable[RawRecord], dead_letter: DeadLetter) -> LoadReport:
        """Validate records one by one; good ones are loaded, bad ones dead-lettered."""
        report = LoadReport(fast_path=False)
        source = None
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", prefix="llmsiem-batch-", suffix=".jsonl", delete=False
        ) as out:
            staged = Path(out.name)
            for record in records:
                source = record.source
                checked = check_record(record)
                if checked.event is None:
                    report.rejected += 1
                    reasons = "; ".join(str(p) for p in checked.problems)
                    dead_letter.write(
                        record.source, record.line, reasons, record.data or record.raw
                    )
                    continue
                document: dict[str, Any] = checked.event.to_document()
                document["_line"] = record.line
                out.write(json.dumps(document, ensure_ascii=False) + "\n")
                report.loaded += 1
        try:
            if report.loaded:
                self._insert_from_json(staged, source or "-", line_column=True)
        finally:
            staged.unlink(missing_ok=True)
        return report

    def load_documents(self, documents: Iterable[dict[str, Any]], source: str) -> LoadReport:
        """Load already-normalized documents (connectors, tests), validating each."""
        records = (RawRecord(source, n, doc) for n, doc in enumerate(documents, start=1))
        with DeadLetter(None) as letters:
            return self.load_records(records, letters)

    def prune_before(self, cutoff_ts: float) -> int:
        """Drop events older than ``cutoff_ts`` (epoch seconds); bounds streaming memory."""
        row = self.con.execute(
            "DELETE FROM events WHERE _ts < ? RETURNING 1", [cutoff_ts]
        ).fetchall()
        return len(row)
