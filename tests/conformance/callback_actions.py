"""Playing a requirement's CallbackActions: the outside system that answers callbacks.

A driver thread watches the execution's history.  Each new CallbackStarted
binds the next actions (in listed order) whose CallbackName matches it,
up to and including a terminal one (success or failure): a heartbeat then a
success bind to one callback together.  Each bound action fires `Delay`
seconds after its callback appeared; one callback's actions fire in order,
different callbacks' independently.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import attrs

from .requirements import SLASHED_REGEX

POLL = 0.02


@attrs.define
class _Planned:
    due: float
    callback_id: str
    action: dict[str, Any]


class CallbackActionDriver:
    def __init__(self, runner: Any, execution_arn: str, actions: list[dict[str, Any]], timeout: float) -> None:
        self.runner = runner
        self.arn = execution_arn
        self.unbound = list(actions)
        self.deadline = time.monotonic() + timeout
        self.planned: list[_Planned] = []
        self.seen: set[int] = set()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callback-actions", daemon=True)

    def __enter__(self) -> CallbackActionDriver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the driver thread and wait for it (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def failed(self) -> bool:
        """The driver thread stopped on an error (the test need not wait any longer)."""
        return self.error is not None

    def problems(self, execution_ended: bool) -> list[str]:
        """The driver's own error and, once the execution has ended, the actions it never sent.

        Stops the driver first, so the lists are final.
        """
        self.stop()
        found = []
        if self.error is not None:
            found.append(f"callback actions: the driver failed: {self.error!r}")
        if not execution_ended:
            return found
        found += [f"callback actions: never bound to a CallbackStarted: {a!r}" for a in self.unbound]
        found += [f"callback actions: bound to {p.callback_id} but never sent: {p.action!r}" for p in self.planned]
        return found

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and (self.unbound or self.planned) and time.monotonic() < self.deadline:
                self._bind_new_callbacks()
                self._fire_due()
                self._stop.wait(POLL)
        except BaseException as error:  # reported to the test by check()
            self.error = error

    def _bind_new_callbacks(self) -> None:
        for event in self.runner.get_history(self.arn):
            if event["EventType"] != "CallbackStarted" or event["EventId"] in self.seen:
                continue
            self.seen.add(event["EventId"])
            callback_id = event["CallbackStartedDetails"]["CallbackId"]
            appeared, pending = time.monotonic(), list(self.unbound)
            for action in pending:
                if not _name_matches(action.get("CallbackName", "*"), event.get("Name")):
                    continue
                self.unbound.remove(action)
                self.planned.append(_Planned(appeared + float(action.get("Delay", 0)), callback_id, action))
                if action["Operation"] in ("success", "failure"):
                    break

    def _fire_due(self) -> None:
        now = time.monotonic()
        for plan in list(self.planned):
            earlier = [p for p in self.planned if p.callback_id == plan.callback_id and p is not plan]
            if plan.due > now or any(self.planned.index(p) < self.planned.index(plan) for p in earlier):
                continue
            self.planned.remove(plan)
            action, callback_id = plan.action, plan.callback_id
            if action["Operation"] == "success":
                payload = json.dumps(action["Payload"]) if "Payload" in action else None
                self.runner.send_callback_success(callback_id, payload)
            elif action["Operation"] == "failure":
                self.runner.send_callback_failure(callback_id, action.get("Payload"))
            elif action["Operation"] == "heartbeat":
                self.runner.send_callback_heartbeat(callback_id)
            else:
                raise ValueError(f"unknown callback action {action['Operation']!r}")


def _name_matches(expected: str, actual: str | None) -> bool:
    if expected == "*":
        return True
    if actual is None:
        return False
    regex = re.fullmatch(r"\$\{(/.*/)\}", expected)
    if regex:
        body = SLASHED_REGEX.match(regex.group(1))
        return body is not None and re.search(body.group(1), actual) is not None
    return expected == actual
