"""History events in the conformance schema, and their readable table.

Events are built as data (`HistoryEvent`) by the transitions and numbered by
the store when they are committed, so EventIds follow commit order.
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs

from durable.core.records import ErrorObject, OperationRecord


@attrs.frozen(slots=True)
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


def iso_timestamp(when: float) -> str:
    moment = datetime.datetime.fromtimestamp(when, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def operation_event(op: OperationRecord, event_type: str, when: float, details: dict[str, Any]) -> HistoryEvent:
    return HistoryEvent(
        event_type=event_type,
        timestamp=when,
        details=details,
        operation_id=op.operation_id,
        name=op.name,
        parent_id=op.parent_id,
        sub_type=op.sub_type.value if op.sub_type else None,
    )


def result_details(payload: str | None) -> dict[str, Any]:
    if payload is None:
        return {}
    return {"Result": {"Payload": payload, "Truncated": False}}


def error_details(error: ErrorObject | None) -> dict[str, Any]:
    return {"Error": {"Payload": (error or ErrorObject()).to_dict()}}
