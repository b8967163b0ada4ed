"""Local sinks: JSON Lines (append) and Parquet (one part file per batch, via DuckDB)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import duckdb

from llmsiem.engine.columns import read_json_columns
from llmsiem.engine.store import columns_sql


class JsonlSink:
    """Appends events to one JSONL file, fsynced per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, documents: list[dict[str, Any]]) -> int:
        with self.path.open("a", encoding="utf-8") as stream:
            for document in documents:
                stream.write(json.dumps(document, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        return len(documents)


class ParquetSink:
    """Writes each batch as ``part-<uuid>.parquet`` with the schema's column types."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def send(self, documents: list[dict[str, Any]]) -> int:
        if not documents:
            return 0
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as staged:
            for document in documents:
                staged.write(json.dumps(document, ensure_ascii=False) + "\n")
        target = self.directory / f"part-{uuid.uuid4().hex}.parquet"
        partial = target.with_suffix(".tmp")
        try:
            duckdb.connect().execute(
                f"""COPY (SELECT * FROM read_json(?, format='newline_delimited',
                          columns={columns_sql(read_json_columns())}))
                    TO '{partial}' (FORMAT parquet)""",
                [staged.name],
            )
            partial.replace(target)
        finally:
            Path(staged.name).unlink(missing_ok=True)
        return len(documents)
