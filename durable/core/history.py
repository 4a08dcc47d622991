"""History events in the conformance schema, and their readable table.

Events are built as data (`HistoryEvent`) by the transitions and numbered by
the store when they are committed, so EventIds follow commit order.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from typing import Any

import attrs

from durable.core.records import ErrorObject, OperationRecord
from durable.core.values import value_class


@value_class
class HistoryEvent:
    event_type: str
    timestamp: float
    details: dict[str, Any] = attrs.field(factory=dict)
    operation_id: str | None = None
    name: str | None = None
    parent_id: str | None = None
    sub_type: str | None = None

    def to_dict(self, event_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EventType": self.event_type,
            "EventId": event_id,
            "EventTimestamp": iso_timestamp(self.timestamp),
        }
        if self.operation_id is not None:
            out["Id"] = self.operation_id
        if self.name is not None:
            out["Name"] = self.name
        if self.parent_id is not None:
            out["ParentId"] = self.parent_id
        if self.sub_type is not None:
            out["SubType"] = self.sub_type
        out[f"{self.event_type}Details"] = self.details
        return out


def plain_json_encoder(item_separator: str = ", ", key_separator: str = ": ") -> Callable[[Any], str]:
    """json.dumps with these separators, for values of plain JSON types with no cycles, from a C encoder built
    once: `JSONEncoder.encode` builds one on every call, half the cost of encoding a small dict."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without json's C accelerator
        return json.JSONEncoder(separators=(item_separator, key_separator), check_circular=False).encode
    encode = make(
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, key_separator, item_separator,
        False, False, True,
    )
    return lambda value: "".join(encode(value, 0))


_encode_details = plain_json_encoder()
#: a string as a JSON literal, escaped exactly as json.dumps escapes it
_quote = json.encoder.encode_basestring_ascii


def event_to_json(event: HistoryEvent, event_id: int) -> str:
    """The stored body of `event` numbered `event_id`: the text json.dumps makes of `to_dict`.

    Written field by field, because a flush encodes one event per operation
    transition and a generic encoder walking a fresh dict costs about twice as much.
    """
    parts = [
        '{"EventType": ', _quote(event.event_type), ', "EventId": ', str(event_id),
        ', "EventTimestamp": "', iso_timestamp(event.timestamp), '"',
    ]
    if event.operation_id is not None:
        parts += (', "Id": ', _quote(event.operation_id))
    if event.name is not None:
        parts += (', "Name": ', _quote(event.name))
    if event.parent_id is not None:
        parts += (', "ParentId": ', _quote(event.parent_id))
    if event.sub_type is not None:
        parts += (', "SubType": ', _quote(event.sub_type))
    details = _encode_details(event.details) if event.details else "{}"
    parts += (", ", _quote(f"{event.event_type}Details"), ": ", details, "}")
    return "".join(parts)


def iso_timestamp(when: float) -> str:
    """`when` as UTC ISO 8601 to the millisecond, exactly as datetime would write it (rounded to the
    microsecond half to even, then cut), but reusing the text of the second: a flush writes thousands
    of events stamped within the same few seconds."""
    seconds = math.floor(when)
    micros = round((when - seconds) * 1e6)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return f"{_utc_second(seconds)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=64)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def operation_event(op: OperationRecord, event_type: str, when: float, details: dict[str, Any]) -> HistoryEvent:
    return HistoryEvent(
        event_type=event_type,
        timestamp=when,
        details=details,
        operation_id=op.operation_id,
        name=op.name,
        parent_id=op.parent_id,
        sub_type=op.sub_type._value_ if op.sub_type else None,  # `.value` without the property call
    )


def result_details(payload: str | None) -> dict[str, Any]:
    if payload is None:
        return {}
    return {"Result": {"Payload": payload, "Truncated": False}}


def error_details(error: ErrorObject | None) -> dict[str, Any]:
    return {"Error": {"Payload": (error or ErrorObject()).to_dict()}}


def history_rows(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    """Each event as the cells `durable history` shows: id, time, type, operation, name, gist of the details."""
    return [
        (
            str(event["EventId"]),
            event["EventTimestamp"][11:23],
            event["EventType"],
            event.get("Id", ""),
            event.get("Name", "") or "",
            event_gist(event.get(f"{event['EventType']}Details") or {}),
        )
        for event in events
    ]


def format_table(events: list[dict[str, Any]]) -> str:
    """A fixed-width table of events: id, time, type, operation, name and the gist of the details."""
    rows = [("#", "time", "event", "operation", "name", "details"), *history_rows(events)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(5)]
        lines.append("  ".join([*cells, row[5]]).rstrip())
    return "\n".join(lines)


_QUIET_KEYS = {"StartTimestamp", "EndTimestamp", "RequestId", "ScheduledEndTimestamp", "Truncated"}


def event_gist(details: dict[str, Any], limit: int = 70) -> str:
    if not details:
        return ""
    parts = []
    for key, value in details.items():
        if key in _QUIET_KEYS:
            continue
        if isinstance(value, dict) and "Payload" in value:
            value = value["Payload"]
        if isinstance(value, dict) and "ErrorType" in value:
            value = f"{value.get('ErrorType')}: {value.get('ErrorMessage', '')}"
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={text}")
    joined = " ".join(parts)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"
