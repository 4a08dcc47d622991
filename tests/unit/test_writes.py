"""The writes that end an invocation or an execution from outside the handler: one shape wherever made."""

from __future__ import annotations

from durable.core.records import ErrorObject
from durable.core.writes import ExecutionStatus, close_invocation, end_execution


def test_closing_an_invocation_records_why_and_fences_it() -> None:
    ws = close_invocation("e1", 3, 100.0, ErrorObject("timed out", "Sandbox.Timedout"), request_id="3")
    assert ws.token == 3
    assert ws.execution is not None and ws.execution.bump_token and ws.execution.invocation_open is False
    (event,) = ws.events
    assert event.event_type == "InvocationCompleted"
    assert event.details == {"RequestId": "3", "Error": {"Payload": {"ErrorMessage": "timed out",
                                                                      "ErrorType": "Sandbox.Timedout"}}}


def test_ending_an_execution_sets_its_status_and_clears_its_alarm() -> None:
    stopped = end_execution("e1", ExecutionStatus.STOPPED, "ExecutionStopped", 5.0, None)
    assert stopped.token is None and stopped.alarm is None and stopped.events[0].details == {}
    assert stopped.execution is not None and stopped.execution.status is ExecutionStatus.STOPPED
    error = ErrorObject("too long", "ExecutionTimedOut")
    timed_out = end_execution("e1", ExecutionStatus.TIMED_OUT, "ExecutionTimedOut", 5.0, error)
    assert timed_out.execution is not None and timed_out.execution.error == error
    assert timed_out.events[0].details == {"Error": {"Payload": error.to_dict()}}
