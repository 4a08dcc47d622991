"""Serialization of checkpointed values.

A payload is a string.  `ExtendedTypeSerDes` (the default) writes plain JSON
for plain JSON values, so histories stay readable (`'"hello"'`), and a tagged
object only for the types JSON lacks; a user dict that happens to use the tag
key is itself wrapped, so decoding is never ambiguous.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
from abc import ABC, abstractmethod
from typing import Any

import attrs

from durable.concurrency.models import BatchResult
from durable.exceptions import ExecutionError, SerDesError

_TAG = "__durable_type__"


@attrs.frozen(slots=True)
class SerDesContext:
    operation_id: str = ""
    durable_execution_arn: str = ""


class SerDes(ABC):
    """Turns values into checkpoint payloads and back."""

    @abstractmethod
    def serialize(self, value: Any, serdes_context: SerDesContext) -> str: ...

    @abstractmethod
    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any: ...


class JsonSerDes(SerDes):
    """Plain JSON: only str, int, float, bool, None, list and dict with str keys."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise SerDesError(
                f"cannot serialize a value of type {type(value).__name__} as JSON "
                f"(operation {serdes_context.operation_id or '-'}): {error}"
            ) from error

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        try:
            return json.loads(data)
        except ValueError as error:
            raise SerDesError(
                f"payload of operation {serdes_context.operation_id or '-'} is not JSON: {error}"
            ) from error


class ExtendedTypeSerDes(SerDes):
    """JSON plus bytes, UUID, Decimal, datetime, date, tuple, set and BatchResult."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        try:
            return json.dumps(_encode(value), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise SerDesError(
                f"cannot serialize a value of type {_culprit(value)} "
                f"(operation {serdes_context.operation_id or '-'}): {error}"
            ) from error

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        try:
            return _decode(json.loads(data))
        except (ValueError, KeyError, TypeError) as error:
            raise SerDesError(
                f"cannot deserialize the payload of operation {serdes_context.operation_id or '-'}: {error}"
            ) from error


def _culprit(value: Any) -> str:
    """Name the innermost type that JSON cannot hold, so the error points at it."""
    try:
        _encode(value)
    except TypeError as error:
        return str(error.args[0]) if error.args else type(value).__name__
    return type(value).__name__


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {_TAG: "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", "v": [_encode(v) for v in value]}
    if isinstance(value, bytes):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "v": str(value)}
    if isinstance(value, decimal.Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, datetime.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, BatchResult):
        return {_TAG: "BatchResult", "v": _encode(value.to_dict())}
    raise TypeError(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    raw = value["v"]
    if tag == "dict":
        return {_decode(k): _decode(v) for k, v in raw}
    if tag == "tuple":
        return tuple(_decode(v) for v in raw)
    if tag == "set":
        return {_decode(v) for v in raw}
    if tag == "bytes":
        return base64.b64decode(raw)
    if tag == "uuid":
        return uuid.UUID(raw)
    if tag == "decimal":
        return decimal.Decimal(raw)
    if tag == "datetime":
        return datetime.datetime.fromisoformat(raw)
    if tag == "date":
        return datetime.date.fromisoformat(raw)
    if tag == "BatchResult":
        return BatchResult.from_dict(_decode(raw))
    raise ValueError(f"unknown tagged type {tag!r}")


DEFAULT_SERDES: SerDes = ExtendedTypeSerDes()


class PassThroughSerDes(SerDes):
    """Values are already text: written and read as they are."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return value

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data


DEFAULT_JSON_SERDES: SerDes = JsonSerDes()
EXTENDED_TYPES_SERDES: SerDes = DEFAULT_SERDES


def serialize(serdes: SerDes | None, value: Any, operation_id: str, durable_execution_arn: str) -> str:
    """Serialize with the given serdes (the extended one if None); any failure is an ExecutionError."""
    chosen = serdes or DEFAULT_SERDES
    try:
        return chosen.serialize(value, SerDesContext(operation_id, durable_execution_arn))
    except Exception as error:
        raise ExecutionError(f"Serialization failed for id: {operation_id}, error: {error}.") from error


def deserialize(serdes: SerDes | None, data: str, operation_id: str, durable_execution_arn: str) -> Any:
    chosen = serdes or DEFAULT_SERDES
    try:
        return chosen.deserialize(data, SerDesContext(operation_id, durable_execution_arn))
    except Exception as error:
        raise ExecutionError(f"Deserialization failed for id: {operation_id}") from error
