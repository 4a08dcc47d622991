"""Handlers for the wait_for_condition requirements (6-x), one per requirement id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration, JitterStrategy
from durable.exceptions import WaitForConditionError
from durable.serdes import SerDes, SerDesContext
from durable.waits import WaitForConditionConfig, WaitStrategyConfig, create_wait_strategy


def _polling(keep_going: Callable[[Any], bool], max_attempts: int = 60) -> Any:
    """A fixed 1 s poll, no jitter: deterministic histories."""
    return create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=keep_going,
            max_attempts=max_attempts,
            initial_delay=Duration.from_seconds(1),
            backoff_rate=1.0,
            jitter_strategy=JitterStrategy.NONE,
        )
    )


def _increment(state: int, _check: Any) -> int:
    return state + 1


def _count_to(threshold: int, initial: int = 0, name: str | None = None) -> Callable[[DurableContext], int]:
    def run(context: DurableContext) -> int:
        config = WaitForConditionConfig(_polling(lambda state: state < threshold), initial_state=initial)
        return context.wait_for_condition(_increment, config, name=name)

    return run


def h_6_1() -> Any:
    """6-1: count from 0 up to the input threshold, one poll per invocation."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        return _count_to(event)(context)

    return handler


def h_6_2() -> Any:
    """6-2: initial state 5 already satisfies state >= 5: one check, no suspension."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        config = WaitForConditionConfig(_polling(lambda state: state < 5), initial_state=5)
        return context.wait_for_condition(lambda state, _check: state, config)

    return handler


def h_6_3() -> Any:
    """6-3: the operation is named "poll-status"."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        return _count_to(2, name="poll-status")(context)

    return handler


def h_6_4() -> Any:
    """6-4: a non-zero initial state (5) is the first check's input."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        return _count_to(event, initial=5)(context)

    return handler


def h_6_5() -> Any:
    """6-5: a fixed 2 s delay between polls (no jitter, no backoff)."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        strategy: Any = create_wait_strategy(
            WaitStrategyConfig(
                should_continue_polling=lambda state: state < event,
                initial_delay=Duration.from_seconds(2),
                backoff_rate=1.0,
                jitter_strategy=JitterStrategy.NONE,
            )
        )
        return context.wait_for_condition(_increment, WaitForConditionConfig(strategy, initial_state=0))

    return handler


def h_6_6() -> Any:
    """6-6: never satisfied; the strategy gives up on its third attempt and the execution fails."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        config = WaitForConditionConfig(_polling(lambda state: True, max_attempts=3), initial_state=event)
        return context.wait_for_condition(_increment, config)

    return handler


def _raising_check(state: Any, _check: Any) -> Any:
    raise RuntimeError("the check could not read the status")


def h_6_7() -> Any:
    """6-7: the check raises on its first call: terminal StepFailed, the execution fails."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.wait_for_condition(_raising_check, _always())

    return handler


def h_6_8() -> Any:
    """6-8: as 6-7, but the handler catches the error and returns "recovered"."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        try:
            return context.wait_for_condition(_raising_check, _always())
        except WaitForConditionError:
            return "recovered"

    return handler


def h_6_9() -> Any:
    """6-9: a structured state {status, attempts}; DONE once attempts reaches 2."""

    def check(state: dict[str, Any], _check: Any) -> dict[str, Any]:
        attempts = state["attempts"] + 1
        return {"status": "DONE" if attempts >= 2 else "PENDING", "attempts": attempts}

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config = WaitForConditionConfig(
            _polling(lambda state: state["status"] == "PENDING"), initial_state={"status": "PENDING", "attempts": 0}
        )
        return context.wait_for_condition(check, config)

    return handler


def h_6_10() -> Any:
    """6-10: the check returns null and the strategy stops at once: the result is null."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config: WaitForConditionConfig[Any] = WaitForConditionConfig(
            _polling(lambda state: state is not None), initial_state=0
        )
        return context.wait_for_condition(lambda state, _check: None, config)

    return handler


class _WrappedStringSerDes(SerDes):
    """Encodes the state as `enc:<state>` so the checkpoint shows the custom encoding."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return f"enc:{value}"

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data.removeprefix("enc:")


def h_6_11() -> Any:
    """6-11: a string state through a custom serdes; one character per check until "xx"."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config = WaitForConditionConfig(
            _polling(lambda state: len(state) < 2), initial_state="", serdes=_WrappedStringSerDes()
        )
        return context.wait_for_condition(lambda state, _check: state + "x", config)

    return handler


def h_6_12() -> Any:
    """6-12: the final state (2) feeds a step that multiplies it by 10."""

    @durable_execution
    def handler(event: int, context: DurableContext) -> int:
        final = _count_to(event)(context)
        return context.step(lambda _: final * 10, name="multiply")

    return handler


def h_6_13() -> Any:
    """6-13: two polls back to back; the first result (2) seeds the second, which stops at 4."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> int:
        first = _count_to(2)(context)
        return _count_to(4, initial=first)(context)

    return handler


HANDLERS: dict[str, Callable[[], Any]] = {
    "6-1": h_6_1, "6-2": h_6_2, "6-3": h_6_3, "6-4": h_6_4, "6-5": h_6_5, "6-6": h_6_6, "6-7": h_6_7,
    "6-8": h_6_8, "6-9": h_6_9, "6-10": h_6_10, "6-11": h_6_11, "6-12": h_6_12, "6-13": h_6_13,
}


def _always() -> WaitForConditionConfig[Any]:
    return WaitForConditionConfig(_polling(lambda s: True), initial_state=None)
