"""An execution's operations over time, as an SVG drawn on the server: one bar per operation.

Rows follow the operation tree (a child context's operations under it, a
map's or parallel's branches under it, indented); a map or parallel with
many branches shows its first `BRANCHES_SHOWN` and one summary row for the
rest.  A bar runs from the operation's start to its end (to now while it
runs); a wait or a step waiting to retry shows its scheduled end as a
dashed outline; every attempt a step started is a tick on its bar.  The
drawing uses classes only (the stylesheet colours them), so a strict
Content-Security-Policy holds.
"""

from __future__ import annotations

import datetime
import html
from typing import Any

import attrs

from durable.core.records import OperationRecord, OperationStatus, OperationSubType, OperationType

BRANCHES_SHOWN = 20
MAX_ROWS = 400
ROW = 20
LABELS = 300
WIDTH = 960
AXIS = 26
GROUPS = frozenset({OperationSubType.MAP, OperationSubType.PARALLEL})


@attrs.frozen(slots=True)
class Row:
    label: str
    depth: int
    kind: str
    status: str
    start: float | None
    end: float | None
    scheduled: float | None = None
    ticks: tuple[float, ...] = ()
    note: str = ""
    summary: bool = False


def _kind(op: OperationRecord) -> str:
    if op.sub_type in GROUPS:
        return "group"
    return {
        OperationType.STEP: "step", OperationType.WAIT: "wait", OperationType.CALLBACK: "callback",
        OperationType.CHAINED_INVOKE: "invoke", OperationType.CONTEXT: "context",
    }.get(op.operation_type, "context")


def _status(status: OperationStatus) -> str:
    if status is OperationStatus.SUCCEEDED:
        return "ok"
    if status.is_terminal:
        return "failed"
    return "pending" if status is OperationStatus.PENDING else "running"


def _when(text: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def rows(operations: list[OperationRecord], events: list[dict[str, Any]]) -> list[Row]:
    """The timeline's rows in tree order (at most MAX_ROWS, the last one saying what was left out)."""
    starts: dict[str, list[float]] = {}
    for event in events:
        if event.get("EventType") == "StepStarted" and "Id" in event:
            when = _when(event.get("EventTimestamp", ""))
            if when is not None:
                starts.setdefault(event["Id"], []).append(when)
    known = {op.operation_id for op in operations}
    children: dict[str | None, list[OperationRecord]] = {}
    for op in operations:
        children.setdefault(op.parent_id if op.parent_id in known else None, []).append(op)
    out: list[Row] = []

    def add(op: OperationRecord, depth: int) -> None:
        ticks = tuple(starts.get(op.operation_id, ()))
        note = ""
        if op.attempt > 1 or len(ticks) > 1:
            note = f"attempt {max(op.attempt, len(ticks))}"
        if op.status is OperationStatus.PENDING and op.next_attempt_timestamp:
            note = (note + ", " if note else "") + "retry scheduled"
        scheduled = op.scheduled_end_timestamp if not op.status.is_terminal else None
        if op.status is OperationStatus.PENDING:
            scheduled = op.next_attempt_timestamp
        name = op.name or (op.sub_type.value if op.sub_type else op.operation_type.value.lower())
        out.append(Row(f"{name}", depth, _kind(op), _status(op.status), op.start_timestamp, op.end_timestamp,
                       scheduled, ticks, note))
        below = children.get(op.operation_id, [])
        if op.sub_type in GROUPS and len(below) > BRANCHES_SHOWN:
            for child in below[:BRANCHES_SHOWN]:
                add(child, depth + 1)
            rest = below[BRANCHES_SHOWN:]
            counts: dict[str, int] = {}
            for child in rest:
                counts[_status(child.status)] = counts.get(_status(child.status), 0) + 1
            spread = [t for child in rest for t in (child.start_timestamp, child.end_timestamp) if t is not None]
            gist = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
            out.append(Row(f"+ {len(rest)} more branches", depth + 1, "group",
                           "running" if counts.get("running") else "ok",
                           min(spread, default=None), max(spread, default=None), note=gist, summary=True))
        else:
            for child in below:
                add(child, depth + 1)

    for op in children.get(None, []):
        add(op, 0)
    if len(out) > MAX_ROWS:
        left = len(out) - MAX_ROWS + 1
        out = [*out[: MAX_ROWS - 1], Row(f"+ {left} more operations (see the history below)", 0, "group", "ok",
                                           None, None, summary=True)]
    return out


def render(operations: list[OperationRecord], events: list[dict[str, Any]], now: float, started: float) -> str:
    """The timeline as an inline SVG (empty text when there are no operations)."""
    drawn = rows(operations, events)
    if not drawn:
        return ""
    times = [t for row in drawn for t in (row.start, row.end, row.scheduled, *row.ticks) if t is not None]
    first = min([started, *times])
    running = any(row.end is None and row.start is not None and not row.summary for row in drawn)
    last = max([*times, now if running else first + 0.001])
    span = max(last - first, 0.001)
    scale = (WIDTH - LABELS - 20) / span

    def x(t: float) -> float:
        return LABELS + (t - first) * scale

    height = AXIS + len(drawn) * ROW + 8
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="operations over time">'
    ]
    for i in range(5):
        t = first + span * i / 4
        out.append(f'<line class="grid" x1="{x(t):.1f}" y1="{AXIS - 6}" x2="{x(t):.1f}" y2="{height}"/>'
                   f'<text class="axis" x="{x(t):.1f}" y="{AXIS - 10}" text-anchor="middle">+{t - first:.1f} s</text>')
    for n, row in enumerate(drawn):
        y = AXIS + n * ROW
        label = html.escape(("  " * row.depth) + row.label)
        out.append(f'<g class="row {row.kind} {row.status}{" summary" if row.summary else ""}">')
        note = f'<tspan class="note"> · {html.escape(row.note)}</tspan>' if row.note and not row.summary else ""
        out.append(f'<text class="label" x="{6 + row.depth * 12}" y="{y + 14}">{html.escape(row.label)}{note}</text>')
        if row.start is not None:
            end = row.end if row.end is not None and row.status != "running" else now
            width = max(2.0, (end - row.start) * scale)
            tip = f"{label.strip()}: {row.status}, {end - row.start:.3f} s" + (f", {html.escape(row.note)}"
                                                                               if row.note else "")
            out.append(f'<rect class="bar" x="{x(row.start):.1f}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}" '
                       f'rx="2"><title>{tip}</title></rect>')
            if row.scheduled is not None and row.scheduled > end:
                out.append(f'<rect class="scheduled" x="{x(end):.1f}" y="{y + 3}" '
                           f'width="{max(2.0, (row.scheduled - end) * scale):.1f}" height="{ROW - 6}" rx="2"/>')
            for tick in row.ticks:
                out.append(f'<line class="tick" x1="{x(tick):.1f}" y1="{y + 1}" x2="{x(tick):.1f}" '
                           f'y2="{y + ROW - 1}"/>')
        if row.note and row.summary:
            out.append(f'<text class="note" x="{LABELS - 8}" y="{y + 14}" text-anchor="end">'
                       f"{html.escape(row.note)}</text>")
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
