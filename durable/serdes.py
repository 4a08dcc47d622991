"""Turning operation results into checkpoint payloads (strings) and back.

The API and the wire format are those of the AWS Durable Execution SDK for
Python, so payloads written by one can be read by the other.

`ExtendedTypeSerDes` (the default, `EXTENDED_TYPES_SERDES`) writes compact
JSON as is when the value is a JSON scalar (None, str, int, float, bool) or a
list holding only such scalars, at any depth: `42`, `"hi"`, `[1,[2,3]]`.
Anything else becomes a tagged envelope, `{"t": <tag>, "v": <value>}`, in
which every nested value is itself an envelope:

    {"a": 1}          ->  {"t":"m","v":{"a":{"t":"i","v":1}}}
    (1, "x")          ->  {"t":"t","v":[{"t":"i","v":1},{"t":"s","v":"x"}]}
    b"hi"             ->  {"t":"B","v":"aGk="}

Tags: n None, s str, i int, f float, b bool, B bytes (standard base64), u UUID,
d Decimal, dt datetime, D date (both ISO 8601), t tuple, l list, m dict,
br BatchResult.  Dict keys are written as JSON writes them (an int key comes
back as a str); tuple keys are refused.  NaN and the infinities are written
the way `json.dumps` writes them.  Any other type is refused with SerDesError.

`JsonSerDes` is plain `json.dumps`/`json.loads`; `PassThroughSerDes` hands the
value over untouched (callback results use it: the raw payload string).

The module-level `serialize` and `deserialize` pick the default when no serdes
is given and turn any failure into an ExecutionError naming the operation.
"""

from __future__ import annotations

import base64
import json
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, cast

from loguru import logger

from durable.core.batch import BatchResult
from durable.core.history import plain_json_encoder
from durable.exceptions import DurableExecutionsError, ExecutionError, SerDesError

__all__ = [
    "DEFAULT_JSON_SERDES",
    "EXTENDED_TYPES_SERDES",
    "TYPE_CODEC",
    "TYPE_TOKEN",
    "VALUE_TOKEN",
    "BatchResult",
    "BytesCodec",
    "Codec",
    "ContainerCodec",
    "DateTimeCodec",
    "DecimalCodec",
    "DurableExecutionsError",
    "EncodedValue",
    "ExecutionError",
    "ExtendedTypeSerDes",
    "JsonSerDes",
    "PassThroughSerDes",
    "PrimitiveCodec",
    "SerDes",
    "SerDesContext",
    "SerDesError",
    "TypeCodec",
    "TypeTag",
    "UuidCodec",
    "deserialize",
    "serialize",
]

T = TypeVar("T")

TYPE_TOKEN: str = "t"
VALUE_TOKEN: str = "v"


class TypeTag(StrEnum):
    """The `t` of an envelope: which type its `v` holds."""

    NONE = "n"
    STR = "s"
    INT = "i"
    FLOAT = "f"
    BOOL = "b"
    BYTES = "B"
    UUID = "u"
    DECIMAL = "d"
    DATETIME = "dt"
    DATE = "D"
    TUPLE = "t"
    LIST = "l"
    DICT = "m"
    BATCH_RESULT = "br"


@dataclass(frozen=True)
class EncodedValue:
    """A value ready for JSON, and the tag that says how to read it back."""

    tag: TypeTag
    value: Any


class Codec(Protocol):
    """Encodes the types it knows into EncodedValues, and decodes them back."""

    def encode(self, obj: Any) -> EncodedValue: ...

    def decode(self, tag: TypeTag, value: Any) -> Any: ...


class PrimitiveCodec:
    """None, str, bool, int and float: the value is its own JSON."""

    def encode(self, obj: Any) -> EncodedValue:
        if obj is None:
            return EncodedValue(TypeTag.NONE, None)
        if isinstance(obj, str):
            return EncodedValue(TypeTag.STR, obj)
        if isinstance(obj, bool):  # bool is an int: test it first
            return EncodedValue(TypeTag.BOOL, obj)
        if isinstance(obj, int):
            return EncodedValue(TypeTag.INT, obj)
        if isinstance(obj, float):
            return EncodedValue(TypeTag.FLOAT, obj)
        raise SerDesError(f"Unsupported primitive type: {type(obj)!r}")

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag == TypeTag.NONE:
            return None
        if tag == TypeTag.STR:
            return str(value)
        if tag == TypeTag.BOOL:
            return bool(value)
        if tag == TypeTag.INT:
            return int(value)
        if tag == TypeTag.FLOAT:
            return float(value)
        raise SerDesError(f"Unknown primitive tag: {tag}")


class BytesCodec:
    """bytes, bytearray and memoryview, as standard base64 text; always read back as bytes."""

    def encode(self, obj: Any) -> EncodedValue:
        return EncodedValue(TypeTag.BYTES, base64.b64encode(bytes(obj)).decode("utf-8"))

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag != TypeTag.BYTES:
            raise SerDesError(f"Expected BYTES tag, got {tag}")
        return base64.b64decode(value.encode("utf-8"))


class UuidCodec:
    """A UUID as its canonical hyphenated text."""

    def encode(self, obj: Any) -> EncodedValue:
        return EncodedValue(TypeTag.UUID, str(obj))

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag != TypeTag.UUID:
            raise SerDesError(f"Expected UUID tag, got {tag}")
        return uuid.UUID(value)


class DecimalCodec:
    """A Decimal as its exact text (`str`), so no digit is lost."""

    def encode(self, obj: Any) -> EncodedValue:
        return EncodedValue(TypeTag.DECIMAL, str(obj))

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag != TypeTag.DECIMAL:
            raise SerDesError(f"Expected DECIMAL tag, got {tag}")
        return Decimal(value)


class DateTimeCodec:
    """datetime and date in ISO 8601; a trailing `Z` is read as UTC."""

    def encode(self, obj: Any) -> EncodedValue:
        if isinstance(obj, datetime):  # a datetime is a date: test it first
            return EncodedValue(TypeTag.DATETIME, obj.isoformat())
        if isinstance(obj, date):
            return EncodedValue(TypeTag.DATE, obj.isoformat())
        raise SerDesError(f"Unsupported datetime type: {type(obj)!r}")

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag == TypeTag.DATETIME:
            text = value
            if isinstance(text, str) and text.endswith("Z"):
                text = text[:-1] + "+00:00"
            return datetime.fromisoformat(text)
        if tag == TypeTag.DATE:
            return date.fromisoformat(value)
        raise SerDesError(f"Unknown datetime tag: {tag}")


class ContainerCodec(Codec):
    """list, tuple, dict and BatchResult: each element goes back through the dispatcher."""

    def __init__(self) -> None:
        self._dispatcher: TypeCodec | None = None

    def set_dispatcher(self, dispatcher: TypeCodec) -> None:
        self._dispatcher = dispatcher

    @property
    def dispatcher(self) -> TypeCodec:
        if self._dispatcher is None:
            raise DurableExecutionsError("ContainerCodec not linked to a TypeCodec dispatcher.")
        return self._dispatcher

    def encode(self, obj: Any) -> EncodedValue:
        dispatcher = self.dispatcher
        if isinstance(obj, list):
            return EncodedValue(TypeTag.LIST, [dispatcher.encode(item) for item in obj])
        if isinstance(obj, tuple):
            return EncodedValue(TypeTag.TUPLE, [dispatcher.encode(item) for item in obj])
        if isinstance(obj, dict):
            if any(isinstance(key, tuple) for key in obj):
                raise SerDesError("Tuple keys not supported")
            # Keys stay as they are: json.dumps turns int, float, bool and None keys into text.
            return EncodedValue(TypeTag.DICT, {key: dispatcher.encode(item) for key, item in obj.items()})
        # Last: BatchResult's class is a Protocol's, and isinstance against one runs Python code (several µs).
        if isinstance(obj, BatchResult):
            # The envelope's value is the encoded dict of to_dict(), without the dict's own tag.
            return EncodedValue(TypeTag.BATCH_RESULT, dispatcher.encode(obj.to_dict()).value)
        raise SerDesError(f"Unsupported container type: {type(obj)!r}")

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag == TypeTag.BATCH_RESULT:
            return BatchResult.from_dict(self.decode(TypeTag.DICT, value))
        if tag == TypeTag.LIST:
            if not isinstance(value, list):
                raise SerDesError(f"Expected list, got {type(value)}")
            return [self._element(item) for item in value]
        if tag == TypeTag.TUPLE:
            if not isinstance(value, list):
                raise SerDesError(f"Expected list, got {type(value)}")
            return tuple(self._element(item) for item in value)
        if tag == TypeTag.DICT:
            if not isinstance(value, dict):
                raise SerDesError(f"Expected dict, got {type(value)}")
            return {key: self._element(item) for key, item in value.items()}
        raise SerDesError(f"Unknown container tag: {tag}")

    def _element(self, item: Any) -> Any:
        """One element read back: an envelope is decoded, anything else is taken as it is."""
        if isinstance(item, EncodedValue):
            return self.dispatcher.decode(item.tag, item.value)
        if isinstance(item, dict) and TYPE_TOKEN in item and VALUE_TOKEN in item:
            return self.dispatcher.decode(TypeTag(item[TYPE_TOKEN]), item[VALUE_TOKEN])
        return item


class TypeCodec(Codec):
    """Sends each value to the codec for its type, and each tag to the codec that reads it."""

    def __init__(self) -> None:
        self.primitive_codec = PrimitiveCodec()
        self.bytes_codec = BytesCodec()
        self.uuid_codec = UuidCodec()
        self.decimal_codec = DecimalCodec()
        self.datetime_codec = DateTimeCodec()
        self.container_codec = ContainerCodec()
        self.container_codec.set_dispatcher(self)

    def encode(self, obj: Any) -> EncodedValue:
        if obj is None or isinstance(obj, (str, bool, int, float)):
            return self.primitive_codec.encode(obj)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self.bytes_codec.encode(bytes(obj))
        if isinstance(obj, uuid.UUID):
            return self.uuid_codec.encode(obj)
        if isinstance(obj, Decimal):
            return self.decimal_codec.encode(obj)
        if isinstance(obj, (datetime, date)):
            return self.datetime_codec.encode(obj)
        if isinstance(obj, (list, tuple, dict, BatchResult)):
            return self.container_codec.encode(obj)
        raise SerDesError(f"Unsupported type: {type(obj)}")

    def decode(self, tag: TypeTag, value: Any) -> Any:
        if tag in _PRIMITIVE_TAGS:
            return self.primitive_codec.decode(tag, value)
        if tag == TypeTag.BYTES:
            return self.bytes_codec.decode(tag, value)
        if tag == TypeTag.UUID:
            return self.uuid_codec.decode(tag, value)
        if tag == TypeTag.DECIMAL:
            return self.decimal_codec.decode(tag, value)
        if tag in (TypeTag.DATETIME, TypeTag.DATE):
            return self.datetime_codec.decode(tag, value)
        if tag in _CONTAINER_TAGS:
            return self.container_codec.decode(tag, value)
        raise SerDesError(f"Unknown type tag: {tag}")


_PRIMITIVE_TAGS = frozenset({TypeTag.NONE, TypeTag.STR, TypeTag.BOOL, TypeTag.INT, TypeTag.FLOAT})
_CONTAINER_TAGS = frozenset({TypeTag.LIST, TypeTag.TUPLE, TypeTag.DICT, TypeTag.BATCH_RESULT})

TYPE_CODEC = TypeCodec()


@dataclass(frozen=True)
class SerDesContext:
    """Which operation of which execution a value belongs to (a serdes may use it, e.g. to name a file)."""

    operation_id: str = ""
    durable_execution_arn: str = ""


class SerDes(ABC, Generic[T]):
    """Turns values of type T into checkpoint payloads (strings) and back.

    Subclass it for your own types: `class MoneySerDes(SerDes[Money])`.
    """

    @abstractmethod
    def serialize(self, value: T, serdes_context: SerDesContext) -> str: ...

    @abstractmethod
    def deserialize(self, data: str, serdes_context: SerDesContext) -> T: ...

    @staticmethod
    def is_primitive(obj: Any) -> bool:
        """True for a JSON scalar (None, str, int, float, bool) or a list of them, however nested."""
        if obj is None or isinstance(obj, (str, int, float, bool)):
            return True
        if isinstance(obj, list):
            return all(SerDes.is_primitive(item) for item in obj)
        return False


class PassThroughSerDes(SerDes[T]):
    """No conversion: the value is the payload, and the payload is the value."""

    def serialize(self, value: T, _: SerDesContext) -> str:
        return cast(str, value)

    def deserialize(self, data: str, _: SerDesContext) -> T:
        return cast(T, data)


class JsonSerDes(SerDes[T]):
    """`json.dumps` (default separators, so `{"a": 1}`) and `json.loads`; JSON types only."""

    def serialize(self, value: T, _: SerDesContext) -> str:
        return json.dumps(value)

    def deserialize(self, data: str, _: SerDesContext) -> T:
        return cast(T, json.loads(data))


#: json.dumps with separators builds a new encoder per call; a poll's state is serialized on every check, a
#: step's result once per step.  What reaches it is plain JSON types built here (scalars and lists of them,
#: or envelopes), so no cycle check is needed: a list holding itself fails `is_primitive` first.
_compact = plain_json_encoder(",", ":")


class ExtendedTypeSerDes(SerDes[T]):
    """Plain JSON for scalars and lists of scalars, tagged envelopes for everything else (see the module doc)."""

    def __init__(self) -> None:
        self._codec = TYPE_CODEC

    def serialize(self, value: Any, context: SerDesContext | None = None) -> str:
        if SerDes.is_primitive(value):
            return _compact(value)
        if self._codec is TYPE_CODEC:
            return _compact(_envelope(value))
        return _compact(_plain(self._codec.encode(value)))

    def deserialize(self, data: str, context: SerDesContext | None = None) -> Any:
        obj = json.loads(data)
        if SerDes.is_primitive(obj):
            return obj
        if not (isinstance(obj, dict) and TYPE_TOKEN in obj and VALUE_TOKEN in obj):
            raise SerDesError('Malformed envelope: missing "t" or "v" at root.')
        try:
            tag = TypeTag(obj[TYPE_TOKEN])
        except ValueError:
            raise SerDesError(f'Unknown type tag: "{obj[TYPE_TOKEN]}"') from None
        return self._codec.decode(tag, obj[VALUE_TOKEN])


def _plain(obj: Any) -> Any:
    """An EncodedValue tree as JSON-ready dicts and lists."""
    if isinstance(obj, EncodedValue):
        return {TYPE_TOKEN: obj.tag, VALUE_TOKEN: _plain(obj.value)}
    if isinstance(obj, list):
        return [_plain(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _plain(item) for key, item in obj.items()}
    return obj


#: the tag of each builtin scalar type, by exact type (a subclass, a str enum say, goes through the codecs)
_SCALAR_TAGS: dict[type, TypeTag] = {
    type(None): TypeTag.NONE, str: TypeTag.STR, bool: TypeTag.BOOL, int: TypeTag.INT, float: TypeTag.FLOAT,
}


def _envelope(value: Any) -> Any:
    """What `_plain(TYPE_CODEC.encode(value))` makes of `value`, in one pass for the builtin types that fill
    most payloads (a map's result holds an envelope per item and per field); other types go through the codecs.
    """
    kind = type(value)
    tag = _SCALAR_TAGS.get(kind)
    if tag is not None:
        return {TYPE_TOKEN: tag, VALUE_TOKEN: value}
    if kind is list:
        return {TYPE_TOKEN: TypeTag.LIST, VALUE_TOKEN: [_envelope(item) for item in value]}
    if kind is tuple:
        return {TYPE_TOKEN: TypeTag.TUPLE, VALUE_TOKEN: [_envelope(item) for item in value]}
    if kind is dict:
        for key in value:
            if isinstance(key, tuple):
                raise SerDesError("Tuple keys not supported")
        return {TYPE_TOKEN: TypeTag.DICT, VALUE_TOKEN: {key: _envelope(item) for key, item in value.items()}}
    if kind is BatchResult:
        return {TYPE_TOKEN: TypeTag.BATCH_RESULT, VALUE_TOKEN: _envelope(value.to_dict())[VALUE_TOKEN]}
    return _plain(TYPE_CODEC.encode(value))


DEFAULT_JSON_SERDES: SerDes[Any] = JsonSerDes()
EXTENDED_TYPES_SERDES: SerDes[Any] = ExtendedTypeSerDes()


#: what the built-in serdes is given: it never reads its context, and a poll builds two per check otherwise
_UNREAD_CONTEXT = SerDesContext()


def _context_for(active: SerDes[Any], operation_id: str, durable_execution_arn: str) -> SerDesContext:
    if active is EXTENDED_TYPES_SERDES:
        return _UNREAD_CONTEXT
    return SerDesContext(operation_id, durable_execution_arn)


def serialize(serdes: SerDes[T] | None, value: T, operation_id: str, durable_execution_arn: str) -> str:
    """`value` as a payload, by `serdes` (EXTENDED_TYPES_SERDES when None).

    Raises ExecutionError, naming the operation and the cause, if the serdes fails or gives something
    other than text (or None, no payload): a payload is stored as text, and a dict or bytes found only
    when the checkpoint is written would fail it far from the code that made it.
    """
    active: SerDes[T] = serdes or EXTENDED_TYPES_SERDES
    try:
        payload = active.serialize(value, _context_for(active, operation_id, durable_execution_arn))
    except Exception as error:
        logger.opt(exception=error).warning("could not serialize the value of operation {}", operation_id)
        raise ExecutionError(f"Serialization failed for id: {operation_id}, error: {error}.") from error
    if payload is not None and not isinstance(payload, str):
        raise ExecutionError(
            f"Serialization failed for id: {operation_id}, error: {type(active).__name__}.serialize returned "
            f"{type(payload).__name__}, not str."
        )
    return payload


def deserialize(serdes: SerDes[T] | None, data: str, operation_id: str, durable_execution_arn: str) -> T:
    """The value a payload holds, by `serdes` (EXTENDED_TYPES_SERDES when None).

    Raises ExecutionError naming the operation if the serdes fails; the serdes' own error is its cause.
    """
    active: SerDes[T] = serdes or EXTENDED_TYPES_SERDES
    try:
        return active.deserialize(data, _context_for(active, operation_id, durable_execution_arn))
    except Exception as error:
        logger.opt(exception=error).warning("could not deserialize the payload of operation {}", operation_id)
        raise ExecutionError(f"Deserialization failed for id: {operation_id}") from error
