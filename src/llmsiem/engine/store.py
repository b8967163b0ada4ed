"""The DuckDB event table, filled with the events of the pipeline.

A normalized JSONL file is loaded in chunks of lines, each with DuckDB's typed
``read_json`` in one go (the fast path); only the rows the scrubber changes are replaced
by the pipeline's per-record result. A line DuckDB would not take as the pipeline does
(not a JSON object, a field outside the schema, a type error, a missing required field, a
broken constraint of the schema) is quarantined: it alone goes through the pipeline
record by record, so it reaches the dead letter with its line number and reason, and the
rest of the chunk stays on the fast path. The typed read fills in the defaults the model
gives a member a line leaves out (``pipeline.defaults``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from llmsiem.columns import (
    OWN_COLUMN_FIELDS,
    columns_sql,
    field_types,
    schema_tree,
    table_columns,
)
from llmsiem.engine.chunks import CHUNK_LINES, JsonlChunk, jsonl_chunks
from llmsiem.pipeline import Event, Pipeline
from llmsiem.pipeline.bulk import scrub_table
from llmsiem.pipeline.constraints import broken_row_sql
from llmsiem.pipeline.defaults import filled_columns
from llmsiem.pipeline.staging import NamelessJsonl
from llmsiem.pipeline.survey import flagged_lines, survey
from llmsiem.records import RawRecord, iter_jsonl, max_line_bytes
from llmsiem.validation import check_record

META_COLUMNS = {"_seq": "BIGINT", "_source": "VARCHAR", "_line": "BIGINT", "_ts": "DOUBLE"}


@dataclass
class LoadReport:
    """How many events one load added and how many it rejected."""

    loaded: int = 0
    rejected: int = 0
    fast_path: bool = True
    rescrubbed: int = 0
    """Rows of a bulk load that went through the per-record pipeline to be scrubbed."""
    quarantined: int = 0
    """Lines of a bulk load that DuckDB could not take, sent through the per-record pipeline."""


PARQUET_ALWAYS = frozenset(
    {
        "@timestamp",
        "event.action",
        "event.kind",
        "event.id",
        "llmsiem.redaction.mode",
        "llmsiem.redaction.types",
        "llmsiem.redaction.count",
    }
)
"""Read from Parquet whatever the rules need: what validation and the alerts rely on."""
MAX_TYPED_RETRIES = 16
FAILED_LINE = re.compile(r"\bin line (\d+)")


@dataclass
class PreparedChunk:
    """A chunk staged for DuckDB (``None`` when a line breaks a bound, so the chunk goes
    record by record) and the positions of its lines to quarantine."""

    chunk: JsonlChunk
    staged: NamelessJsonl | None
    suspects: set[int]

    def close(self) -> None:
        if self.staged is not None:
            self.staged.close()


class _Staging(NamelessJsonl):
    """Nameless staging of event documents with their ``_line`` (and ``_seq``)."""

    source = "-"

    def write(self, event: Event, seq: int | None = None) -> None:
        document = _with_own_columns(event.document)
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
        # Times are read, compared and formatted in UTC (alerts say "Z"), not in the zone
        # of the machine, which DuckDB takes by default; GLOBAL: its cursors too.
        self.con.execute("SET GLOBAL TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = true")
        # Checkpoints only after a prune (below): DuckDB's automatic one fires at whichever
        # statement crosses its threshold, stalling it for seconds mid-detection.
        self.con.execute("SET checkpoint_threshold = '1TB'")
        self.schema_columns = table_columns()
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

    def _insert_from_json(
        self, path: Path, source: str, meta: tuple[str, ...] = (), first_line: int = 1
    ) -> int:
        """Insert a JSONL file of event documents; ``meta`` names the ``_line``/``_seq`` it carries.

        Rows without ``_seq`` are numbered after the existing ones in file order, and
        without ``_line`` from ``first_line``.
        """
        columns = dict(self.schema_columns)
        columns.update({name: META_COLUMNS[name] for name in meta})
        values = {n: filled_columns().get(n, f'"{n}"') for n in self.schema_columns}
        names = ", ".join(f'{value} AS "{n}"' for n, value in values.items())
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
        return self._number_new_rows(first_line)

    def _number_new_rows(self, first_line: int = 1) -> int:
        """Give rows without ``_seq`` the next numbers in row-id order (and a ``_line`` from
        ``first_line`` to those without one); returns how many."""
        # Numbering the new rows afterwards in row-id order (insertion order is preserved,
        # so that is file order) is much cheaper than row_number() OVER () in the INSERT,
        # which materialises the whole file in one thread.
        row = self.con.execute(
            """
            UPDATE events SET _seq = $seq - 1 + numbered.n,
                              _line = coalesce(_line, $line - 1 + numbered.n)
            FROM (SELECT rowid AS r, row_number() OVER (ORDER BY rowid) AS n
                  FROM events WHERE _seq IS NULL) AS numbered
            WHERE events.rowid = numbered.r
            """,
            {"seq": self.next_seq, "line": first_line},
        ).fetchone()
        added = int(row[0]) if row else 0  # DuckDB answers an UPDATE with its row count
        self.next_seq += added
        return added

    def _insert_chunk(
        self, chunk: JsonlChunk, suspects: set[int], staged_path: Path | None
    ) -> int | None:
        """Insert the chunk's lines in one typed read, the ``suspects`` as empty rows (first
        from ``staged_path`` when it holds them so); on a line DuckDB cannot type, that line
        joins the suspects and the read is retried. None when too many lines fail (the
        caller then goes record by record)."""
        for _ in range(MAX_TYPED_RETRIES):
            with NamelessJsonl() as staged:
                if staged_path is None:
                    staged.write_lines(chunk.staged(suspects), len(chunk))
                path, staged_path = staged_path or staged.ready(), None
                self.con.execute("BEGIN TRANSACTION")
                try:
                    added = self._insert_from_json(path, chunk.source, first_line=chunk.first_line)
                except duckdb.Error as exc:
                    self.con.execute("ROLLBACK")
                    found = FAILED_LINE.search(str(exc))
                    if found is None or not 0 < int(found[1]) <= len(chunk):
                        return None
                    suspects.add(int(found[1]) - 1)
                    continue
            return added
        return None

    def prepare(
        self, chunk: JsonlChunk, con: duckdb.DuckDBPyConnection | None = None
    ) -> PreparedChunk:
        """Stage a chunk for the typed read and find the lines to quarantine: lines that
        are no JSON object, hold a field outside the schema or a date in another form than
        the typed read takes as the model does (``pipeline.survey``). Only
        reads files, so on a connection of its own (``con``, a cursor of the store's) it
        may run on another thread while the store is busy."""
        suspects = chunk.irregular()
        if not chunk.within_bounds():
            return PreparedChunk(chunk, None, suspects)
        staged = NamelessJsonl()
        try:
            staged.write_lines(chunk.staged(suspects), len(chunk))
            path = staged.ready()
            found = survey(con or self.con, path)
            if found.malformed:
                suspects |= chunk.malformed(found.malformed)
            if (
                found.flagged
                or found.odd_dates
                or found.malformed > len(suspects - chunk.irregular())
            ):
                suspects |= flagged_lines(con or self.con, path, found.flagged)
        except BaseException:
            staged.close()
            raise
        return PreparedChunk(chunk, staged, suspects)

    def prepared(self, chunks: Iterator[JsonlChunk]) -> Iterator[PreparedChunk]:
        """``prepare`` of each chunk, the next one made on a worker thread (with a cursor
        of its own) while the caller loads and evaluates the current one, so that both
        cores work."""
        cursor = self.con.cursor()

        def next_prepared() -> PreparedChunk | None:
            chunk = next(chunks, None)
            return None if chunk is None else self.prepare(chunk, cursor)

        with cursor, ThreadPoolExecutor(1, thread_name_prefix="llmsiem-prepare") as worker:
            pending = worker.submit(next_prepared)
            try:
                while (current := pending.result()) is not None:
                    pending = worker.submit(next_prepared)
                    yield current
            finally:  # the caller stopped early: close what the worker made meanwhile
                if not pending.cancel() and pending.exception() is None:
                    left = pending.result()
                    if left is not None:
                        left.close()

    def load_chunk(self, chunk: JsonlChunk, pipeline: Pipeline) -> LoadReport:
        """Load consecutive lines of a normalized JSONL file through ``pipeline``, in bulk
        (``prepare``, then ``load_prepared``)."""
        return self.load_prepared(self.prepare(chunk), pipeline)

    def load_prepared(self, prepared: PreparedChunk, pipeline: Pipeline) -> LoadReport:
        """Load a prepared chunk through ``pipeline``, in bulk.

        DuckDB reads the lines in one typed read and the pipeline scrubs the new rows in
        bulk. A line that is no JSON object, holds a field outside the schema, fails a type,
        lacks a required field or breaks a constraint of the schema is quarantined: it goes
        through the per-record pipeline (which dead-letters it with its line and reason),
        and the rest stays on the fast path. Rows the bulk scrubber cannot rewrite in SQL go
        the same way.
        """
        chunk, suspects = prepared.chunk, prepared.suspects
        first_seq = self.next_seq
        rejected_before = pipeline.rejected
        if prepared.staged is None:
            return self._load_records(chunk, range(len(chunk)), pipeline, first_seq)
        with prepared.staged as staged:
            unchanged = suspects == chunk.irregular()
            added = self._insert_chunk(chunk, suspects, staged.path if unchanged else None)
        if added is None:
            self.next_seq = first_seq
            return self._load_records(chunk, range(len(chunk)), pipeline, first_seq)
        # Rows breaking a constraint the typed read does not enforce go to the per-record pipeline.
        invalid = [
            seq
            for (seq,) in self.con.execute(
                f"SELECT _seq FROM events WHERE _seq >= ? AND ({broken_row_sql()})", [first_seq]
            ).fetchall()
        ]
        suspects |= {seq - first_seq for seq in invalid}
        # Invalid rows are deleted and the rest scrubbed after the commit: one row deleted
        # among a transaction's appended rows makes DuckDB copy them all at commit, and
        # rewriting rows inside it costs more than after. If either fails, the chunk's
        # rows go, so none is left invalid or unscrubbed.
        self.con.execute("COMMIT")
        try:
            self._delete_rows(invalid)
            rescrub = scrub_table(self.con, "events", f"_seq >= {first_seq}", pipeline.scrubber)
            self._delete_rows(rescrub)
            report = self._load_records(
                chunk, sorted(suspects | {s - first_seq for s in rescrub}), pipeline, first_seq
            )
        except BaseException:
            self.con.execute("DELETE FROM events WHERE _seq >= ?", [first_seq])
            raise
        report.loaded += added - len(invalid) - len(rescrub)
        report.rejected = pipeline.rejected - rejected_before
        report.rescrubbed = len(rescrub)
        report.quarantined = len(suspects - chunk.irregular())
        return report

    def _load_records(
        self, chunk: JsonlChunk, positions: Iterable[int], pipeline: Pipeline, first_seq: int
    ) -> LoadReport:
        """The chunk's lines at ``positions`` through the per-record pipeline, each kept at
        its own ``_seq``."""
        rejected_before = pipeline.rejected
        with _Staging() as staged:
            for position in positions:
                line = chunk.first_line + position
                for event in pipeline.normalized_events(
                    iter_jsonl([chunk.line(position)], chunk.source, line)
                ):
                    staged.write(event, first_seq + position)
            if staged.count:
                self._insert_from_json(staged.ready(), chunk.source, ("_seq", "_line"))
        self.next_seq = first_seq + len(chunk)
        return LoadReport(staged.count, pipeline.rejected - rejected_before, fast_path=False)

    def load_file(
        self, path: Path, pipeline: Pipeline, chunk_lines: int = CHUNK_LINES
    ) -> LoadReport:
        """Load a whole normalized JSONL file, chunk by chunk (see ``load_chunk``)."""
        total = LoadReport()
        for chunk in jsonl_chunks(path, chunk_lines):
            report = self.load_chunk(chunk, pipeline)
            total.loaded += report.loaded
            total.rejected += report.rejected
            total.rescrubbed += report.rescrubbed
            total.quarantined += report.quarantined
        return total

    def load_parquet(
        self, path: Path, pipeline: Pipeline, fields: Iterable[str] | None = None
    ) -> LoadReport:
        """Load one Parquet file (the schema's nested columns, as ``ship --to parquet``
        writes, or flat dotted column names), reading only ``fields`` (all when None).

        Rows are taken in time order, filled with the model's defaults and scrubbed in bulk
        like JSONL; a row breaking a constraint its read columns show, or that the bulk
        scrubber leaves to the pipeline, goes through the per-record pipeline as the
        document its columns make.
        """
        wanted = set(field_types() if fields is None else fields) | PARQUET_ALWAYS
        source = str(path)
        try:
            relation = self.con.sql(
                "SELECT * FROM read_parquet(?, hive_partitioning = true)", params=[source]
            )
            present = dict(zip(relation.columns, relation.types, strict=True))
        except duckdb.Error as exc:
            pipeline.reject(source, 0, f"cannot read as Parquet: {exc}"[:500], None)
            return LoadReport(rejected=1, fast_path=False)
        columns = _parquet_columns(present, wanted)
        filled = ", ".join(f'{sql} AS "{name}"' for name, sql in filled_columns().items())
        first_seq = self.next_seq
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                f"""INSERT INTO events BY NAME
                    SELECT NULL AS _seq, ? AS _source, file_row_number + 1 AS _line,
                           epoch_ms("@timestamp") / 1000.0 AS _ts,
                           * EXCLUDE (file_row_number) REPLACE ({filled})
                    FROM (SELECT {columns}, file_row_number
                          FROM read_parquet(?, hive_partitioning = true, file_row_number = true))
                    ORDER BY "@timestamp", _line""",
                [source, source],
            )
        except duckdb.Error as exc:
            self.con.execute("ROLLBACK")
            pipeline.reject(source, 0, f"cannot read as events: {exc}"[:500], None)
            return LoadReport(rejected=1, fast_path=False)
        added = self._number_new_rows()
        self.con.execute("COMMIT")
        rejected_before = pipeline.rejected
        redo = self.con.execute(
            f"""SELECT _seq FROM events
                WHERE _seq >= ? AND ({broken_row_sql(frozenset(wanted))})""",
            [first_seq],
        ).fetchall()
        seqs = {seq for (seq,) in redo}
        seqs |= set(scrub_table(self.con, "events", f"_seq >= {first_seq}", pipeline.scrubber))
        redone = self._revalidate_rows(sorted(seqs), pipeline) if seqs else 0
        return LoadReport(
            loaded=added - len(seqs) + redone, rejected=pipeline.rejected - rejected_before
        )

    def _delete_rows(self, seqs: list[int]) -> None:
        """Delete the rows numbered ``seqs``; none is no statement (a DELETE that removes
        nothing still costs ten times the scan)."""
        if seqs:
            self.con.execute("DELETE FROM events WHERE _seq IN (SELECT unnest(?))", [seqs])

    def _revalidate_rows(self, seqs: list[int], pipeline: Pipeline) -> int:
        """Replace the rows ``seqs`` by what the per-record pipeline makes of them."""
        document = ", ".join(
            f'"{name}" := '
            + (
                "strftime(\"@timestamp\", '%Y-%m-%dT%H:%M:%S.%fZ')"
                if name == "@timestamp"
                else f'"{name}"'
            )
            for name in self.schema_columns
            if name not in OWN_COLUMN_FIELDS  # the pipeline sets these anew
        )
        rows = self.con.execute(
            f"""SELECT _seq, _source, _line, to_json(struct_pack({document}))
                FROM events WHERE _seq IN (SELECT unnest(?)) ORDER BY _seq""",
            [seqs],
        ).fetchall()
        self._delete_rows(seqs)
        with _Staging() as staged:
            for seq, source, line, document in rows:
                record = RawRecord(source, int(line), _without_nulls(json.loads(document)))
                for event in pipeline.normalized_events([record]):
                    staged.write(event, seq)
            if staged.count:
                self._insert_from_json(staged.ready(), staged.source, ("_seq", "_line"))
        return staged.count

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
        """Drop events older than ``cutoff_ts`` (epoch seconds); bounds streaming memory.

        A checkpoint right after the delete frees the deleted rows' memory at once; it costs
        less than DuckDB's automatic checkpoint, which this store turns off (see above)."""
        row = self.con.execute("DELETE FROM events WHERE _ts < ?", [cutoff_ts]).fetchone()
        deleted = int(row[0]) if row else 0  # DuckDB answers a DELETE with its row count
        if deleted:
            self.con.execute("CHECKPOINT")
        return deleted


def _with_own_columns(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of an event document with ``OWN_COLUMN_FIELDS`` moved to top-level keys
    named by the dotted name, as the event table's typed read takes them."""
    moved = dict(document)
    for name in OWN_COLUMN_FIELDS:
        *parents, leaf = name.split(".")
        node = moved
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node[part] = node = dict(child)
        else:
            if leaf in node:
                moved[name] = node.pop(leaf)
    return moved


def _parquet_columns(present: dict[str, Any], wanted: set[str]) -> str:
    """The SELECT list that turns Parquet columns ``present`` into the event table's."""
    flat = {name for name in present if "." in name}
    selected = []
    for name, sub in schema_tree(OWN_COLUMN_FIELDS).items():
        ref = f'"{name}"' if name in present else None
        value, _ = _parquet_value(sub, name, ref, present.get(name), flat, wanted)
        selected.append(f'{value} AS "{name}"')
    return ", ".join(selected)


def _parquet_value(
    sub: Any, dotted: str, ref: str | None, node: Any, flat: set[str], wanted: set[str]
) -> tuple[str, list[str]]:
    """SQL for one schema column or struct member from Parquet: the member at ``ref``
    (``node`` its Parquet type), a flat column named by its dotted name, or NULL; and the
    SQL conditions under which it is present."""
    if isinstance(sub, str):
        if dotted not in wanted:
            return f"NULL::{sub}", []
        if dotted in flat:
            return f'CAST("{dotted}" AS {sub})', [f'"{dotted}" IS NOT NULL']
        if ref is not None:
            return f"CAST({ref} AS {sub})", [f"{ref} IS NOT NULL"]
        return f"NULL::{sub}", []
    children = dict(node.children) if node is not None and node.id == "struct" else {}
    members, present = [], [] if ref is None else [f"{ref} IS NOT NULL"]
    for member, inner in sub.items():
        child = children.get(member)
        value, conditions = _parquet_value(
            inner,
            f"{dotted}.{member}",
            f'{ref}."{member}"' if ref is not None and child is not None else None,
            child,
            flat,
            wanted,
        )
        members.append(f'"{member}" := {value}')
        if ref is None:
            present.extend(conditions)
    packed = f"struct_pack({', '.join(members)})"
    return f"CASE WHEN {' OR '.join(present) or 'false'} THEN {packed} END", present


def _without_nulls(value: Any) -> Any:
    """A JSON value without null members (a Parquet row names every column)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
