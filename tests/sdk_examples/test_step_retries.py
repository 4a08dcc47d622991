"""Tests for step retries: presets, custom strategies, error-type filters, exhaustion."""

import pytest

from durable.execution import InvocationStatus
from durable.lambda_service import ErrorObject, OperationStatus
from tests.sdk_examples.functions import (
    step_context_attempt,
    step_linear_retry,
    step_retry_custom,
    step_retry_function,
    step_retry_presets,
    step_retryable_error_types,
)
from tests.sdk_examples.payloads import deserialize_operation_payload


def _modeled_seconds(operation) -> float:
    return (operation.end_timestamp - operation.start_timestamp).total_seconds()


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_context_attempt.handler, lambda_function_name="step context attempt")
def test_step_context_attempt(durable_runner):
    """StepContext.attempt counts from 1; two retries with 2 s then 4 s backoff are skipped."""
    with durable_runner:
        result = durable_runner.run(input={"succeed_on": 3}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"attempt": 3}
    step = result.get_step("flaky_call")
    assert step.attempt == 3
    assert step.status is OperationStatus.SUCCEEDED
    # The error of the failed attempts is not kept once the step succeeds.
    assert step.error is None
    assert step.next_attempt_timestamp is None
    assert 6 <= _modeled_seconds(step) < 15


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_retry_presets.handler, lambda_function_name="step retry presets")
@pytest.mark.parametrize(
    ("preset", "succeed_on", "min_seconds", "max_seconds"),
    [
        ("critical", 10, 80, 95),  # 1,2,3,4,6,8,12,18,26 s: 1.5x backoff rounded up, no jitter
        ("linear", 6, 15, 25),  # 1,2,3,4,5 s
        ("fixed", 5, 20, 30),  # 4 x 5 s
        ("fixed_2s", 3, 4, 10),  # RetryPresets.fixed(Duration.from_seconds(2))
        ("transient", 3, 0, 30),  # half jitter
        ("resource_availability", 5, 0, 120),  # full jitter
        ("default", 6, 0, 200),  # full jitter
    ],
)
def test_retry_presets_succeed_on_last_attempt(durable_runner, preset, succeed_on, min_seconds, max_seconds):
    """Each preset allows exactly as many attempts as it promises; backoff time is skipped."""
    with durable_runner:
        result = durable_runner.run(input={"preset": preset, "succeed_on": succeed_on}, timeout=60)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {"preset": preset, "attempts": succeed_on}
    step = result.get_step(f"{preset}_step")
    assert step.attempt == succeed_on
    assert min_seconds <= _modeled_seconds(step) < max_seconds


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_retry_presets.handler, lambda_function_name="step retry presets")
@pytest.mark.parametrize(("preset", "max_attempts"), [("none", 1), ("default", 6), ("transient", 3)])
def test_retry_presets_exhausted(durable_runner, preset, max_attempts):
    """One attempt past the preset's limit fails the step and the execution with StepError."""
    with durable_runner:
        result = durable_runner.run(input={"preset": preset, "succeed_on": max_attempts + 1}, timeout=60)

    assert result.status is InvocationStatus.FAILED
    assert result.result is None
    assert result.error == ErrorObject(
        message=f"transient failure on attempt {max_attempts}",
        type="StepError",
        data=None,
        stack_trace=None,
    )
    step = result.get_step(f"{preset}_step")
    assert step.status is OperationStatus.FAILED
    assert step.attempt == max_attempts
    assert step.error.type == "RuntimeError"
    assert step.error.message == f"transient failure on attempt {max_attempts}"


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_retry_custom.handler, lambda_function_name="step retry custom")
def test_custom_retry_strategy_backoff(durable_runner):
    """10 s, then 30 s (x3), then 30 s (capped at max_delay): 70 modeled seconds."""
    with durable_runner:
        result = durable_runner.run(
            input={"messages": ["throttled", "timeout after 30ms", "throttled"]}, timeout=30
        )

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '"ok after 4 attempts"'
    step = result.get_step("call_service")
    assert step.attempt == 4
    assert 70 <= _modeled_seconds(step) < 80


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_retry_custom.handler, lambda_function_name="step retry custom")
def test_custom_retry_strategy_max_attempts(durable_runner):
    """The fourth failure is final even though its message matches."""
    with durable_runner:
        result = durable_runner.run(
            input={"messages": ["throttled", "timeout after 30ms", "throttled", "throttled"]}, timeout=30
        )

    assert result.status is InvocationStatus.FAILED
    assert result.error.type == "StepError"
    assert result.error.message == "throttled"
    assert result.get_step("call_service").attempt == 4


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_retry_custom.handler, lambda_function_name="step retry custom")
@pytest.mark.parametrize(
    ("messages", "attempts"),
    [
        (["throttled", "fatal: bad input"], 2),  # second message matches no pattern
        (["timeout after 30 ms"], 1),  # the regex needs "30ms", not "30 ms"
    ],
)
def test_custom_retry_strategy_message_filter(durable_runner, messages, attempts):
    """Errors whose message matches neither a substring nor the regex are not retried."""
    with durable_runner:
        result = durable_runner.run(input={"messages": messages}, timeout=30)

    assert result.status is InvocationStatus.FAILED
    assert result.error.message == messages[-1]
    step = result.get_step("call_service")
    assert step.attempt == attempts
    assert step.error == ErrorObject(message=messages[-1], type="RuntimeError", data=None, stack_trace=None)


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=step_retryable_error_types.handler, lambda_function_name="step retryable error types"
)
def test_retryable_error_type_is_retried(durable_runner):
    """TransientServiceError is in retryable_error_types: three attempts, then StepError."""
    with durable_runner:
        result = durable_runner.run(input={"error": "transient"}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "error_type": "TransientServiceError",
        "message": "transient error on attempt 3",
    }
    step = result.get_step("call")
    assert step.status is OperationStatus.FAILED
    assert step.attempt == 3


@pytest.mark.example
@pytest.mark.durable_execution(
    handler=step_retryable_error_types.handler, lambda_function_name="step retryable error types"
)
def test_other_error_type_is_not_retried(durable_runner):
    """Setting retryable_error_types alone drops the match-all message default."""
    with durable_runner:
        result = durable_runner.run(input={"error": "invalid"}, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert deserialize_operation_payload(result.result) == {
        "error_type": "InvalidRequestError",
        "message": "invalid error on attempt 1",
    }
    assert result.get_step("call").attempt == 1


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_retry_function.handler, lambda_function_name="step retry function")
def test_retry_strategy_function(durable_runner):
    """A plain function can be the retry strategy: 1 min + 2 min of modeled backoff."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == '"parsed"'
    step = result.get_step("parse")
    assert step.attempt == 3
    assert 180 <= _modeled_seconds(step) < 190


@pytest.mark.example
@pytest.mark.durable_execution(handler=step_linear_retry.handler, lambda_function_name="step linear retry")
def test_linear_retry_strategy(durable_runner):
    """3 s, 5 s, 7 s between attempts."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == "4"
    step = result.get_step("poll")
    assert step.attempt == 4
    assert 15 <= _modeled_seconds(step) < 22
