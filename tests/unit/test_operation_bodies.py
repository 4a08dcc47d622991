"""Operation records as stored: every field comes back, from bodies written now and from older ones."""

from __future__ import annotations

import json

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from durable.core.records import ErrorObject, OperationRecord, OperationStatus, OperationSubType, OperationType
from durable.stores.base import operation_from_json, operation_to_json

_text = st.text(max_size=12)
_time = st.none() | st.floats(min_value=0, max_value=4e9, allow_nan=False)
_count = st.none() | st.integers(0, 10**6)

records = st.builds(
    OperationRecord,
    operation_id=_text,
    operation_type=st.sampled_from(OperationType),
    status=st.sampled_from(OperationStatus),
    parent_id=st.none() | _text,
    name=st.none() | _text,
    sub_type=st.none() | st.sampled_from(OperationSubType),
    start_timestamp=_time,
    end_timestamp=_time,
    result=st.none() | _text,
    error=st.none() | st.builds(
        ErrorObject, st.none() | _text, st.none() | _text, st.none() | _text, st.none() | st.lists(_text, max_size=2)
    ),
    attempt=st.integers(0, 100),
    next_attempt_timestamp=_time,
    scheduled_end_timestamp=_time,
    wait_seconds=_count,
    replay_children=st.booleans(),
    callback_id=st.none() | _text,
    heartbeat_timeout=_count,
    heartbeat_deadline=_time,
    extra=st.none() | st.dictionaries(_text, st.none() | _text | st.integers(), max_size=2),
)


def _every_key(op: OperationRecord) -> str:
    """A body as stores wrote them before fields at their defaults were left out."""
    return json.dumps({
        "t": op.operation_type.value, "s": op.status.value, "p": op.parent_id, "n": op.name,
        "st": op.sub_type.value if op.sub_type else None, "ts": op.start_timestamp, "te": op.end_timestamp,
        "r": op.result, "e": op.error.to_dict() if op.error else None, "a": op.attempt,
        "na": op.next_attempt_timestamp, "se": op.scheduled_end_timestamp, "w": op.wait_seconds,
        "rc": op.replay_children, "cb": op.callback_id, "hb": op.heartbeat_timeout, "hd": op.heartbeat_deadline,
        "x": op.extra,
    }, separators=(",", ":"))


def _same_error(op: OperationRecord) -> OperationRecord:
    """An error keeps only its set fields in a body, as it always has."""
    if op.error is None:
        return op
    return attrs.evolve(op, error=ErrorObject.from_dict(op.error.to_dict()))


@settings(max_examples=500, deadline=None)
@given(records)
def test_a_record_reads_back_as_it_was_written(op: OperationRecord) -> None:
    assert operation_from_json(op.operation_id, operation_to_json(op)) == _same_error(op)


@settings(max_examples=500, deadline=None)
@given(records)
def test_a_body_written_with_every_key_reads_back_the_same(op: OperationRecord) -> None:
    assert operation_from_json(op.operation_id, _every_key(op)) == _same_error(op)


def test_fields_at_their_defaults_are_left_out_of_the_body() -> None:
    op = OperationRecord("1-2", OperationType.STEP, OperationStatus.STARTED, parent_id="1", attempt=1)
    assert json.loads(operation_to_json(op)) == {"t": "STEP", "s": "STARTED", "p": "1", "a": 1}


@settings(max_examples=500, deadline=None)
@given(records)
def test_a_body_is_the_text_json_writes_for_its_set_fields(op: OperationRecord) -> None:
    every = json.loads(_every_key(op))
    sparse = {key: value for key, value in every.items() if value is not None and value is not False}
    if not op.attempt:
        sparse.pop("a")
    assert operation_to_json(op) == json.dumps(sparse, separators=(",", ":"))
