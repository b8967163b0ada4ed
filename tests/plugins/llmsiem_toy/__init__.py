"""A third-party llmsiem plugin for the tests: one source format, one sink and (in
``target.py``) one compile target.

It is registered the way any installed package registers plugins, through entry points
(``llmsiem.sources``, ``llmsiem.sinks``, ``llmsiem.targets``); the test writes the
distribution metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmsiem.connectors.sink import Delivery, SinkConfigError
from llmsiem.deadletter import DeadLetter


class ToySource:
    """Chat logs of the form ``{"toy": {"at": ..., "who": ..., "said": ...}}``."""

    name = "toy"
    description = "toy chat log lines"

    def sniff(self, record: dict[str, Any]) -> bool:
        return isinstance(record.get("toy"), dict)

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | Exception]:
        line = record["toy"]
        if not isinstance(line.get("said"), str):
            yield ValueError("toy line without 'said' text")
            return
        yield {
            "@timestamp": line["at"],
            "event": {"kind": "event", "action": "prompt", "id": f"toy-{line['n']}"},
            "user": {"id": line["who"]},
            "trace": {"id": f"toy-trace-{line['n']}"},
            "llmsiem": {"prompt": {"text": line["said"], "chars": len(line["said"])}},
        }


class ToySink:
    """Writes one ``event.id<TAB>prompt text`` line per event."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream: Any = None

    def open(self) -> None:
        self.stream = self.path.open("a", encoding="utf-8")

    def send(self, batch: list[dict[str, Any]]) -> Delivery:
        for event in batch:
            text = event.get("llmsiem", {}).get("prompt", {}).get("text", "")
            self.stream.write(f"{event['event']['id']}\t{json.dumps(text)}\n")
        return Delivery(sent=len(batch))

    def close(self) -> None:
        self.stream.close()


class ToySinkType:
    name = "toy"
    destination = "a text file of event ids and prompts"

    def create(self, destination: str | None, dead_letter: DeadLetter) -> ToySink:
        if not destination:
            raise SinkConfigError("--to toy needs --dest PATH")
        return ToySink(Path(destination))


SOURCE = ToySource()
SINK = ToySinkType()
