"""Values and pure pieces: retry strategies, the due queue, transitions (serdes: test_serdes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.due_queue import DueQueue
from durable.config import Duration, JitterStrategy
from durable.core.records import OperationAction, OperationStatus, OperationType, RecordUpdate
from durable.core.transitions import apply_update, fire_due
from durable.exceptions import InvalidStateError
from durable.retries import RetryStrategyConfig, create_retry_strategy

pytestmark = pytest.mark.timeout(60)


@given(st.integers(1, 10), st.integers(1, 30), st.sampled_from(list(JitterStrategy)))
def test_retry_delays_are_whole_seconds_within_backoff(attempt: int, initial: int, jitter: JitterStrategy) -> None:
    config = RetryStrategyConfig(
        max_attempts=20, initial_delay=Duration(initial), max_delay=Duration(60), jitter_strategy=jitter
    )
    decision = create_retry_strategy(config)(RuntimeError("x"), attempt)
    assert decision.should_retry
    ceiling = min(initial * 2 ** (attempt - 1), 60)
    assert 1 <= decision.delay.seconds <= max(1, ceiling)
    if jitter is JitterStrategy.NONE:
        assert decision.delay.seconds == max(1, ceiling)


def test_retry_stops_at_max_attempts_and_on_non_retryable_errors() -> None:
    strategy = create_retry_strategy(RetryStrategyConfig(max_attempts=2, retryable_error_types=[KeyError]))
    assert strategy(KeyError("k"), 1).should_retry
    assert not strategy(KeyError("k"), 2).should_retry
    assert not strategy(ValueError("v"), 1).should_retry


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["set", "remove", "pop"]), st.integers(0, 5), st.integers(0, 50))))
def test_due_queue_matches_a_plain_dict(operations: list[tuple[str, int, int]]) -> None:
    queue: DueQueue[int] = DueQueue()
    model: dict[int, float] = {}
    for kind, key, when in operations:
        if kind == "set":
            queue.set(key, float(when))
            model[key] = float(when)
        elif kind == "remove":
            queue.remove(key)
            model.pop(key, None)
        else:
            fired = queue.pop_due(float(when))
            expected = sorted((k, d) for k, d in model.items() if d <= when)
            assert sorted(fired) == expected
            assert [d for _, d in fired] == sorted(d for _, d in fired)
            for k, _ in expected:
                del model[k]
        assert len(queue) == len(model)
        assert queue.earliest() == (min(model.values()) if model else None)


def _update(action: OperationAction, **fields: Any) -> RecordUpdate:
    return RecordUpdate("1", OperationType.STEP, action, name="s", **fields)


def test_step_transitions_count_attempts_and_record_retry_details() -> None:
    op, events = apply_update(None, _update(OperationAction.START), 100.0)
    assert op.status is OperationStatus.STARTED and op.attempt == 1
    op, events = apply_update(op, _update(OperationAction.RETRY, next_attempt_delay_seconds=3), 101.0)
    assert op.status is OperationStatus.PENDING and op.next_attempt_timestamp == 104.0
    assert events[0].details["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 3}
    assert fire_due([op], 103.0) == ([], [])
    (ready,), _ = fire_due([op], 104.0)
    assert ready.status is OperationStatus.READY
    op, _ = apply_update(ready, _update(OperationAction.START), 105.0)
    assert op.attempt == 2
    op, events = apply_update(op, _update(OperationAction.SUCCEED, payload='"x"'), 106.0)
    assert events[0].event_type == "StepSucceeded"
    assert events[0].details["RetryDetails"] == {"CurrentAttempt": 2}
    with pytest.raises(InvalidStateError, match="already SUCCEEDED"):
        apply_update(op, _update(OperationAction.FAIL), 107.0)


def test_an_unwaited_retry_counts_its_delay_from_when_it_was_asked_never_from_the_future() -> None:
    """A poll's retry that waited in the state's mailbox is due when its branch's timer expects it."""
    op, _ = apply_update(None, _update(OperationAction.START), 100.0)
    asked, _ = apply_update(op, _update(OperationAction.RETRY, next_attempt_delay_seconds=2, issued_at=100.5), 100.9)
    assert asked.next_attempt_timestamp == 102.5
    (ready,), _ = fire_due([asked], 102.5)
    assert ready.status is OperationStatus.READY
    later, _ = apply_update(op, _update(OperationAction.RETRY, next_attempt_delay_seconds=2, issued_at=150.0), 101.0)
    assert later.next_attempt_timestamp == 103.0


def test_wait_strategy_backs_off_then_gives_up_at_max_attempts() -> None:
    from durable.exceptions import WaitForConditionError
    from durable.waits import WaitStrategyConfig, create_wait_strategy

    strategy: Any = create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=lambda state: state != "done", max_attempts=3, initial_delay=Duration(2),
            backoff_rate=2.0, jitter_strategy=JitterStrategy.NONE,
        )
    )
    assert [strategy("waiting", n).delay.seconds for n in (1, 2)] == [2, 4]
    assert not strategy("done", 1).should_continue
    with pytest.raises(WaitForConditionError, match="exhausted 3 attempts before the condition was met"):
        strategy("waiting", 3)
