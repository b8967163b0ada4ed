"""Local sinks: JSON Lines (append) and Parquet (one part file per batch, via DuckDB)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import duckdb

from llmsiem.columns import columns_sql, read_json_columns
from llmsiem.connectors.sink import Delivery, SinkConfigError
from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline.staging import NamelessJsonl


class JsonlSink:
    """Appends events to one JSONL file, fsynced per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def open(self) -> None:
        """Nothing to open: each batch appends and syncs on its own."""

    def close(self) -> None:
        """Nothing to close."""

    def send(self, documents: list[dict[str, Any]]) -> Delivery:
        with self.path.open("a", encoding="utf-8") as stream:
            for document in documents:
                stream.write(json.dumps(document, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        return Delivery(sent=len(documents))


class ParquetSink:
    """Writes each batch as ``part-<uuid>.parquet`` with the schema's column types."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def open(self) -> None:
        """Nothing to open: each batch is its own part file."""

    def close(self) -> None:
        """Nothing to close."""

    def send(self, documents: list[dict[str, Any]]) -> Delivery:
        if not documents:
            return Delivery()
        target = self.directory / f"part-{uuid.uuid4().hex}.parquet"
        partial = target.with_suffix(".tmp")
        with NamelessJsonl() as staged:
            for document in documents:
                staged.write_line(json.dumps(document, ensure_ascii=False))
            duckdb.connect().execute(
                f"""COPY (SELECT * FROM read_json(?, format='newline_delimited',
                          columns={columns_sql(read_json_columns())}))
                    TO '{partial}' (FORMAT parquet)""",
                [str(staged.ready())],
            )
        partial.replace(target)
        return Delivery(sent=len(documents))


def _path(destination: str | None, name: str) -> Path:
    if not destination:
        raise SinkConfigError(f"--to {name} needs --dest PATH")
    return Path(destination)


class JsonlSinkType:
    name = "jsonl"
    destination = "a JSONL file (appended)"

    def create(self, destination: str | None, dead_letter: DeadLetter) -> JsonlSink:
        return JsonlSink(_path(destination, self.name))


class ParquetSinkType:
    name = "parquet"
    destination = "a folder of Parquet part files"

    def create(self, destination: str | None, dead_letter: DeadLetter) -> ParquetSink:
        return ParquetSink(_path(destination, self.name))


JSONL_SINK = JsonlSinkType()
PARQUET_SINK = ParquetSinkType()
