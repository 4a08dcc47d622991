"""History events as stored: timestamps and the JSON body."""

from __future__ import annotations

import datetime
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from durable.core.history import HistoryEvent, event_to_json, iso_timestamp

#: the last second datetime can write (year 9999)
LAST_SECOND = 253402300799


def _datetime_text(when: float) -> str:
    moment = datetime.datetime.fromtimestamp(when, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=0, max_value=LAST_SECOND, allow_nan=False),
        st.builds(lambda s, f: s + f, st.integers(0, LAST_SECOND - 1), st.sampled_from(
            [0.0, 0.0005, 0.0009995, 0.4999995, 0.5, 0.9994999, 0.9995, 0.9999995, 0.99999949])),
    )
)
def test_an_event_timestamp_reads_as_datetime_writes_it(when: float) -> None:
    assert iso_timestamp(when) == _datetime_text(when)


def test_a_timestamp_that_rounds_up_to_the_next_second_carries_into_it() -> None:
    assert iso_timestamp(1_700_000_000.9999996) == "2023-11-14T22:13:21.000Z"
    assert iso_timestamp(1_700_000_059.9999999) == "2023-11-14T22:14:20.000Z"


def test_an_event_body_is_the_json_of_its_dictionary() -> None:
    event = HistoryEvent(
        "StepSucceeded", 1_700_000_000.25, {"Result": {"Payload": '"é"', "Truncated": False}},
        operation_id="1-2", name="poll", parent_id="1", sub_type="WaitForCondition",
    )
    body = event_to_json(event, 7)
    assert json.loads(body) == event.to_dict(7)
    assert json.loads(body)["EventTimestamp"] == "2023-11-14T22:13:20.250Z"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=1000, deadline=None)
@given(
    event_type=st.sampled_from(["StepStarted", "StepSucceeded", "WaitStarted", "ContextFailed", "CallbackStarted"]),
    event_id=st.integers(1, 2**53),
    when=st.floats(min_value=0, max_value=LAST_SECOND, allow_nan=False),
    details=st.dictionaries(st.text(), _json_values, max_size=3),
    operation_id=st.none() | st.text(),
    name=st.none() | st.text(),
    parent_id=st.none() | st.text(),
    sub_type=st.none() | st.text(),
)
def test_an_event_body_is_exactly_the_text_json_dumps_makes_of_its_dictionary(
    event_type: str, event_id: int, when: float, details: dict[str, object],
    operation_id: str | None, name: str | None, parent_id: str | None, sub_type: str | None,
) -> None:
    event = HistoryEvent(event_type, when, details, operation_id, name, parent_id, sub_type)
    assert event_to_json(event, event_id) == json.dumps(event.to_dict(event_id))
