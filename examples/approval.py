"""A callback: an expense report waits, durably, for a person to approve it.

    durable start examples.approval:handler --input '{"report": "R-17", "amount": 420}'
    durable resume --timeout 3       # runs it until it waits; its log line shows the callback id
    durable callback succeed CALLBACK_ID '{"approved": true, "by": "ana"}'   # wakes it; it finishes

The submitter hands the callback id to the outside world (here it only logs
the command that answers it; a real one would e-mail a link or call a
webhook).  No process waits for the answer: the execution is suspended, and
the completion, over the CLI or `POST /callbacks/ID/succeed` on `durable
serve`, wakes it.  Nobody answering within a day is a CallbackTimeoutError.
"""

from __future__ import annotations

import json
from typing import Any

from durable import DurableContext, durable_execution, durable_wait_for_callback
from durable.config import Duration, WaitForCallbackConfig
from durable.exceptions import CallbackTimeoutError
from durable.types import WaitForCallbackContext


@durable_wait_for_callback
def ask_for_approval(callback_id: str, context: WaitForCallbackContext, report: str) -> None:
    context.logger.info("approve %s with: durable callback succeed %s '{\"approved\": true}'", report, callback_id)


@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    config = WaitForCallbackConfig(timeout=Duration.from_days(1))
    try:
        answer = context.wait_for_callback(ask_for_approval(event["report"]), name="approval", config=config)
    except CallbackTimeoutError:
        return {"report": event["report"], "status": "expired"}
    decision = json.loads(answer)  # the callback's result is the text the outside system sent
    status = "approved" if decision.get("approved") else "rejected"
    return {"report": event["report"], "status": status, "by": decision.get("by")}
