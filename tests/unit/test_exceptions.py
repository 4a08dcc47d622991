"""The SDK's error classification for service errors (which failures a retry can fix), and errors that
break while being recorded."""

from __future__ import annotations

from typing import Any

import pytest

from durable import DurableContext, StepContext, durable_execution
from durable.core.records import ErrorObject, OperationStatus
from durable.exceptions import BotoClientError, CheckpointError, DurableApiErrorCategory
from durable.execution import InvocationStatus
from durable.testing import DurableFunctionTestRunner


class ServiceError(Exception):
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("service said no")
        self.response = response


def category(code: str | None, status: int | None, message: str = "") -> DurableApiErrorCategory:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return BotoClientError.from_exception(ServiceError(response)).error_category


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        ("KMSDisabledException", 502, "", DurableApiErrorCategory.EXECUTION),
        ("ValidationException", 400, "", DurableApiErrorCategory.EXECUTION),
        ("TooManyRequestsException", 429, "", DurableApiErrorCategory.INVOCATION),
        ("InvalidParameterValueException", 400, "Invalid Checkpoint Token: stale", DurableApiErrorCategory.INVOCATION),
        ("InvalidParameterValueException", 400, "bad name", DurableApiErrorCategory.EXECUTION),
        ("ServiceException", 500, "", DurableApiErrorCategory.INVOCATION),
        ("Unknown", None, "", DurableApiErrorCategory.INVOCATION),
    ],
)
def test_client_errors_fail_the_execution_and_transient_ones_retry(
    code: str, status: int | None, message: str, expected: DurableApiErrorCategory
) -> None:
    assert category(code, status, message) is expected


def test_an_error_without_a_response_is_retryable_and_keeps_its_subclass() -> None:
    error = CheckpointError.from_exception(ConnectionError("reset"))
    assert isinstance(error, CheckpointError)
    assert error.is_retryable() and str(error) == "reset" and error.error is None


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str broke")


def test_an_error_whose_str_raises_fails_its_step_with_what_it_raised() -> None:
    """As in the SDK: the retry strategy reads the message, that raises, and the step fails (recorded) with
    the RuntimeError, raised to the handler as a StepError; before, the step stayed STARTED."""
    assert ErrorObject.from_exception(UnprintableError()) == ErrorObject("str broke", "RuntimeError", None, None)

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def boom(_: StepContext) -> None:
            raise UnprintableError()

        return context.step(boom, name="s")

    with DurableFunctionTestRunner(handler) as runner:
        result = runner.run(execution_timeout=60)
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert (result.error.type, result.error.message) == ("StepError", "str broke")
    step = result.get_step("s")
    assert step.status is OperationStatus.FAILED and step.error == ErrorObject("str broke", "RuntimeError", None, None)
