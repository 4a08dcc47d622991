"""context.wait: a durable timer.

The wait checkpoints its start with the duration (and waits for the commit);
the invocation suspends, and the service marks the wait SUCCEEDED when it is
due, before re-invoking.
"""

from __future__ import annotations

from durable.core.records import OperationAction, OperationStatus
from durable.exceptions import suspend
from durable.identifier import OperationIdentifier
from durable.invocation import Invocation
from durable.operation.base import recorded, update


def run_wait(seconds: int, invocation: Invocation, identifier: OperationIdentifier) -> None:
    record = recorded(invocation, identifier)
    if record is not None and record.status is OperationStatus.SUCCEEDED:
        return
    if record is None:
        invocation.checkpoint(update(identifier, OperationAction.START, wait_seconds=seconds))
        resume_at: float | None = invocation.clock.now() + seconds
    else:
        resume_at = record.scheduled_end_timestamp
    raise suspend(f"Wait for {seconds} seconds", resume_at)
