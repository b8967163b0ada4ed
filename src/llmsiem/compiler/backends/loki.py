"""Grafana Loki LogQL backend."""

from __future__ import annotations

from typing import ClassVar

from sigma.backends.loki import LogQLBackend


class JsonLogQLBackend(LogQLBackend):
    """LogQL backend for JSON log lines, where booleans are the strings true/false.

    pySigma-backend-loki 0.15 has no boolean mapping and refuses ``field: true``; after
    ``| json`` a JSON boolean is the label value ``true`` or ``false``.
    """

    bool_values: ClassVar[dict[bool, str | None]] = {True: "true", False: "false"}
