"""Ending an invocation until a time or an outside event (the SDK's helpers)."""

from __future__ import annotations

import datetime
from typing import NoReturn

from durable.exceptions import SuspendExecution, TimedSuspendExecution


def suspend_with_optional_resume_timestamp(msg: str, datetime_timestamp: datetime.datetime | None = None) -> NoReturn:
    """Suspend until `datetime_timestamp` (at once if it has passed), or until an outside event when None."""
    if datetime_timestamp is None:
        raise SuspendExecution(
            f"No timestamp provided. Suspending without retry timestamp. Original operation: [{msg}]"
        )
    now = datetime.datetime.now(tz=datetime.UTC)
    if datetime_timestamp < now:
        raise TimedSuspendExecution.from_datetime(
            f"Invalid timestamp {datetime_timestamp}, suspending with immediate retry, original operation: [{msg}]", now
        )
    raise TimedSuspendExecution.from_datetime(msg, datetime_timestamp)


def suspend_with_optional_resume_delay(msg: str, delay_seconds: int | None = None) -> NoReturn:
    """Suspend for `delay_seconds` (0 if negative), or until an outside event when None."""
    if delay_seconds is None:
        raise SuspendExecution(
            f"No delay_seconds provided, suspending without retry timestamp, original operation: [{msg}]"
        )
    if delay_seconds < 0:
        raise TimedSuspendExecution.from_delay(
            f"Invalid delay_seconds {delay_seconds}, suspending with delay 0, original operation: [{msg}]", 0
        )
    raise TimedSuspendExecution.from_delay(msg, delay_seconds)
