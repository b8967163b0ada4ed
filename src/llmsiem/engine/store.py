"""The DuckDB event table, filled with the events of the pipeline.

A normalized JSONL file is loaded with DuckDB's typed ``read_json`` in one go (the fast
path), and only the rows the scrubber changes are replaced by the pipeline's per-record
result. When the file has any malformed line, type error or missing required field, it
goes through the pipeline record by record instead, so each bad record reaches the dead
letter with its line number and reason, and the good ones are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from llmsiem.columns import columns_sql, field_types, read_json_columns
from llmsiem.event import EventAction
from llmsiem.pipeline import Event, Pipeline
from llmsiem.pipeline.bulk import scrub_table, select_lines
from llmsiem.pipeline.staging import NamelessJsonl
from llmsiem.records import RawRecord, iter_jsonl, max_line_bytes, within_bounds
from llmsiem.validation import check_record

META_COLUMNS = {"_seq": "BIGINT", "_source": "VARCHAR", "_line": "BIGINT", "_ts": "DOUBLE"}
ACTIONS = ", ".join(f"'{a.value}'" for a in EventAction)


@dataclass
class LoadReport:
    """How many events one load added and how many it rejected."""

    loaded: int = 0
    rejected: int = 0
    fast_path: bool = True
    rescrubbed: int = 0
    """Rows of a bulk load that went through the per-record pipeline to be scrubbed."""


def unknown_fields(structure: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys of a ``json_group_structure`` that the schema does not define (free objects aside)."""
    kinds = field_types()
    unknown: list[str] = []
    for key, sub in structure.items():
        name = prefix + key
        if name in kinds:
            continue
        if not any(field.startswith(name + ".") for field in kinds):
            unknown.append(name)
        elif isinstance(sub, dict):
            unknown.extend(unknown_fields(sub, name + "."))
        elif sub != "NULL":
            unknown.append(name)  # a parent object given as a scalar or list
    return unknown


class _Staging(NamelessJsonl):
    """Nameless staging of event documents with their ``_line`` (and ``_seq``)."""

    source = "-"

    def write(self, event: Event, seq: int | None = None) -> None:
        document: dict[str, Any] = dict(event.document)
        document["_line"] = event.line
        if seq is not None:
            document["_seq"] = seq
        self.write_line(json.dumps(document, ensure_ascii=False))
        self.source = event.source

    def __enter__(self) -> _Staging:
        return self


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

    def newest(self) -> float | None:
        """The newest event time loaded (epoch seconds), None when empty."""
        row = self.con.execute("SELECT max(_ts) FROM events").fetchone()
        return None if not row or row[0] is None else float(row[0])

    def _insert_from_json(self, path: Path, source: str, meta: tuple[str, ...] = ()) -> int:
        """Insert a JSONL file of event documents; ``meta`` names the ``_line``/``_seq`` it carries.

        Rows without ``_seq`` are numbered after the existing ones in file order.
        """
        columns = dict(self.schema_columns)
        columns.update({name: META_COLUMNS[name] for name in meta})
        names = ", ".join(f'"{n}"' for n in self.schema_columns)
        self.con.execute(
            f"""
            INSERT INTO events
            SELECT {"_seq" if "_seq" in meta else "NULL"} AS _seq, ? AS _source,
                   {"_line" if "_line" in meta else "NULL"} AS _line,
                   epoch_ms("@timestamp") / 1000.0 AS _ts, {names}
            FROM read_json(?, format = 'newline_delimited', columns = {columns_sql(columns)},
                           maximum_object_size = ?)
            """,
            [source, str(path), max_line_bytes()],
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

    def _known_fields_only(self, path: Path) -> bool:
        """True when every key of every line is a schema field (typed reads drop the rest)."""
        try:
            row = self.con.execute(
                "SELECT json_group_structure(json) FROM read_ndjson_objects(?, "
                "maximum_object_size = ?)",
                [str(path), max_line_bytes()],
            ).fetchone()
        except duckdb.Error:
            return False
        structure = json.loads(row[0]) if row and row[0] else {}
        return isinstance(structure, dict) and not unknown_fields(structure)

    def _invalid_rows(self, first_seq: int) -> int:
        row = self.con.execute(
            f"""SELECT count(*) FROM events WHERE _seq >= ? AND ("@timestamp" IS NULL
                OR "event" IS NULL OR "event"."action" IS NULL
                OR "event"."action" NOT IN ({ACTIONS}))""",
            [first_seq],
        ).fetchone()
        return int(row[0]) if row else 0

    def load_file(self, path: Path, pipeline: Pipeline) -> LoadReport:
        """Load one normalized JSONL file through ``pipeline``, in bulk where possible.

        DuckDB reads the whole file and the pipeline scrubs the new rows in bulk; rows it
        cannot scrub in SQL are replaced by what the per-record pipeline makes of their
        lines. A file with any row DuckDB cannot type or that lacks a required field goes
        through the pipeline record by record instead, so each bad record reaches the dead
        letter with its line.
        """
        first_seq = self.next_seq
        rejected_before = pipeline.rejected
        typed = False
        self.con.execute("BEGIN TRANSACTION")
        if within_bounds(path) and self._known_fields_only(path):
            try:
                added = self._insert_from_json(path, str(path))
                typed = self._invalid_rows(first_seq) == 0
            except duckdb.Error:
                pass
        if typed:
            # Scrubbing after the commit is cheaper than rewriting rows inside the load's
            # transaction; if it fails, the file's rows go, so none is left unscrubbed.
            self.con.execute("COMMIT")
            try:
                replaced = self._rescrub(path, pipeline, first_seq)
            except BaseException:
                self.con.execute("DELETE FROM events WHERE _seq >= ?", [first_seq])
                raise
            rejected = pipeline.rejected - rejected_before
            return LoadReport(loaded=added - rejected, rejected=rejected, rescrubbed=replaced)
        self.con.execute("ROLLBACK")
        self.next_seq = first_seq
        report = self.load_events(pipeline.file_events(path))
        report.rejected = pipeline.rejected - rejected_before
        return report

    def _rescrub(self, path: Path, pipeline: Pipeline, first_seq: int) -> int:
        """Scrub the new rows in bulk; rows it cannot are replaced by their pipeline events."""
        seqs = scrub_table(self.con, "events", f"_seq >= {first_seq}", pipeline.scrubber)
        if not seqs:
            return 0
        self.con.execute("DELETE FROM events WHERE _seq IN (SELECT unnest(?))", [seqs])
        with path.open("rb") as stream:
            lines = select_lines(stream, {seq - first_seq + 1 for seq in seqs})
        with _Staging() as staged:
            for seq in seqs:
                line, raw = lines[seq - first_seq + 1]
                for event in pipeline.normalized_events(iter_jsonl([raw], str(path), line)):
                    staged.write(event, seq)
            if staged.count:
                self._insert_from_json(staged.ready(), str(path), ("_seq", "_line"))
        return len(seqs)

    def load_events(self, events: Iterable[Event]) -> LoadReport:
        """Load events the pipeline produced (scrubbed and validated)."""
        with _Staging() as staged:
            for event in events:
                staged.write(event)
            if staged.count:
                self._insert_from_json(staged.ready(), staged.source, ("_line",))
        return LoadReport(loaded=staged.count, fast_path=False)

    def load_documents(self, documents: Iterable[dict[str, Any]], source: str) -> LoadReport:
        """Load already-normalized documents (conformance corpora, tests), validating each."""
        rejected = 0
        valid: list[Event] = []
        for line, document in enumerate(documents, start=1):
            checked = check_record(RawRecord(source, line, document))
            if checked.event is None:
                rejected += 1
            else:
                valid.append(Event(source, line, checked.event.to_document()))
        report = self.load_events(valid)
        report.rejected = rejected
        return report

    def prune_before(self, cutoff_ts: float) -> int:
        """Drop events older than ``cutoff_ts`` (epoch seconds); bounds streaming memory."""
        row = self.con.execute(
            "DELETE FROM events WHERE _ts < ? RETURNING 1", [cutoff_ts]
        ).fetchall()
        return len(row)
