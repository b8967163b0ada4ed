"""Validating raw records against ``LLMEvent`` with field-level, located errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from pydantic import BaseModel, IPvAnyAddress, ValidationError
from pydantic_core import SchemaSerializer, SchemaValidator

from llmsiem.event import LLMEvent, refuse_raw_api_key
from llmsiem.records import RawRecord


@dataclass(frozen=True)
class Problem:
    """Why one record is not a valid event: where, which field, and what is wrong."""

    source: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class Checked:
    """A record after validation: the event, or its problems."""

    record: RawRecord
    event: LLMEvent | None = None
    problems: list[Problem] = field(default_factory=list)


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(event)"


def check_record(record: RawRecord) -> Checked:
    """Validate one record; every pydantic error becomes a located ``Problem``."""
    if record.data is None:
        reason = record.error or "unreadable record"
        return Checked(record, problems=[Problem(record.source, record.line, None, reason)])
    try:
        return Checked(record, event=LLMEvent.model_validate(record.data))
    except ValidationError as exc:
        problems = [
            Problem(record.source, record.line, _field_name(err["loc"]), err["msg"])
            for err in exc.errors(include_url=False)
        ]
        return Checked(record, problems=problems)


def check_records(records: Iterable[RawRecord]) -> Iterator[Checked]:
    """Validate a stream of records."""
    for record in records:
        yield check_record(record)


def _no_raw_api_key(llmsiem: dict[str, Any]) -> dict[str, Any]:
    """``LLMEvent._no_raw_api_key`` on the typed-dict form of ``llmsiem``."""
    key = llmsiem.get("api_key")
    if key is not None:
        refuse_raw_api_key(key.get("id"), key.get("alias"))
    return llmsiem


_IP_ANY_ADDRESS: Any = IPvAnyAddress._validate  # type: ignore[attr-defined]  # pydantic's validator


@lru_cache(maxsize=4096)
def _ip_of_text(value: str) -> str:
    return str(_IP_ANY_ADDRESS(value))


def _ip_address(value: Any) -> Any:
    """``IPvAnyAddress`` validation, text answers remembered as the text they serialize to.

    The schema serializes an address with ``str``, so the document is the same.
    """
    return _ip_of_text(value) if type(value) is str else _IP_ANY_ADDRESS(value)


# Python functions of the event schema that see a model instance or run per value, and
# what stands for each in the typed-dict schema; every other function is refused there.
_DICT_FUNCTIONS: dict[Any, Any] = {
    LLMEvent._no_raw_api_key: _no_raw_api_key,
    _IP_ANY_ADDRESS: _ip_address,
}


# What a model field may say for its typed-dict form to validate and dump it alike.
_PLAIN_FIELD_KEYS = frozenset(
    {"type", "schema", "validation_alias", "serialization_alias", "metadata"}
)


def _typed_field(spec: dict[str, Any]) -> dict[str, Any]:
    """The typed-dict field of a model field. A field that defaults to None is optional
    instead: left out when absent, which the dump without None values cannot tell from
    None, and no None is filled in for every absent field of every object."""
    schema = spec["schema"]
    required = schema["type"] != "default"
    if not required and schema.get("default", ...) is None and not schema.get("validate_default"):
        schema = schema["schema"]
    return {
        "type": "typed-dict-field",
        "schema": _as_typed_dicts(schema),
        "required": required,
        **{key: spec[key] for key in ("validation_alias", "serialization_alias") if key in spec},
    }


def _as_typed_dicts(node: Any) -> Any:
    """A copy of a core schema where every model is a typed dict of the same fields."""
    if isinstance(node, list):
        return [_as_typed_dicts(item) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "model":
        fields = node["schema"]
        config = node.get("config", {})
        specs = fields["fields"].values()
        if (
            node.get("custom_init")
            or node.get("root_model")
            or "post_init" in node
            or fields.get("computed_fields")
            or any(set(spec) - _PLAIN_FIELD_KEYS for spec in specs)
        ):
            raise TypeError(f"no typed-dict form for the model {node['cls'].__name__}")
        typed: dict[str, Any] = {
            "type": "typed-dict",
            "fields": {name: _typed_field(spec) for name, spec in fields["fields"].items()},
            "extra_behavior": config.get("extra_fields_behavior", "ignore"),
            "config": config,
        }
        for key in ("ref", "extras_schema"):
            source = node if key == "ref" else fields
            if key in source:
                typed[key] = _as_typed_dicts(source[key])
        return typed
    copy = {key: _as_typed_dicts(value) for key, value in node.items()}
    if isinstance(kind, str) and kind.startswith("function-"):
        function = copy["function"]["function"]
        if function not in _DICT_FUNCTIONS:
            raise TypeError(f"no typed-dict form for the schema function {function!r}")
        copy["function"] = {**copy["function"], "function": _DICT_FUNCTIONS[function]}
    factory = copy.get("default_factory")
    if kind == "default" and isinstance(factory, type) and issubclass(factory, BaseModel):
        del copy["default_factory"]  # a model built from nothing: the typed dict of {}
        copy.pop("default_factory_takes_data", None)
        copy.update(default={}, validate_default=True)
    return copy


@cache
def _document_codec() -> tuple[SchemaValidator, SchemaSerializer]:
    schema = _as_typed_dicts(LLMEvent.__pydantic_core_schema__)
    return SchemaValidator(schema), SchemaSerializer(schema)


def checked_document(record: RawRecord) -> tuple[dict[str, Any] | None, list[Problem]]:
    """``check_record(record).event.to_document()``, or its problems; faster.

    The record is validated by the same compiled validators with every model as a typed
    dict (no model instances built, then dumped): what that accepts is the document; what
    it refuses goes through ``check_record``, which decides and names the problems.
    """
    if record.data is not None:
        validator, serializer = _document_codec()
        try:
            valid = validator.validate_python(record.data)
        except ValidationError:
            pass
        else:
            document = serializer.to_python(valid, mode="json", by_alias=True, exclude_none=True)
            return document, []
    checked = check_record(record)
    if checked.event is None:
        return None, checked.problems
    return checked.event.to_document(), []
