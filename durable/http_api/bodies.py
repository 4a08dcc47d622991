"""Every HTTP request and response body, declared once (pydantic); the OpenAPI document is generated from these.

Request bodies are strict: no unknown fields, no coercion (a string is not a
number, a boolean is not a number), finite numbers only.  What the shape
cannot say (valid text, bounded depth, a registered function) is checked by
the guard and the engine (`durable.limits`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from durable.limits import LIST_LIMIT, MAX_EXECUTION_TIMEOUT, MAX_NAME_LENGTH
from durable.stores.base import ExecutionStatus

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StartExecution(_Strict):
    """Start an execution of a registered function."""

    function: str = Field(
        min_length=1, max_length=MAX_NAME_LENGTH, description="the name of a function registered with the engine"
    )
    input: Any = Field(None, description="the execution input, any JSON value")
    name: str | None = Field(
        None, min_length=1, max_length=MAX_NAME_LENGTH, pattern=NO_CONTROL_CHARACTERS,
        description="an idempotency key: a second start with the same name returns the first execution's id",
    )
    execution_timeout: float | None = Field(
        None, gt=0, le=MAX_EXECUTION_TIMEOUT, allow_inf_nan=False,
        description="seconds until the execution times out (none: no limit)",
    )


class Started(BaseModel):
    execution_id: str


class ErrorObject(_Strict):
    """An error, in the AWS error-object shape; every field optional."""

    ErrorType: str | None = None
    ErrorMessage: str | None = None
    ErrorData: str | None = None
    StackTrace: list[str] | None = None


class Execution(BaseModel):
    execution_id: str
    function: str
    name: str | None
    status: ExecutionStatus
    input: str | None = Field(description="the input as JSON text")
    result: str | None = Field(description="the result as JSON text, once SUCCEEDED")
    error: ErrorObject | None
    created: float = Field(description="seconds since the epoch")
    ended: float | None
    invocations: int
    parent_execution_id: str | None
    tenant_id: str | None


class ExecutionList(BaseModel):
    executions: list[Execution] = Field(max_length=LIST_LIMIT)
    truncated: bool = Field(
        description="the page stopped before `limit` because its executions reached 8 MiB of JSON; ask for fewer"
    )


class History(BaseModel):
    events: list[dict[str, Any]] = Field(description="conformance-schema history events, oldest first")


class Problem(BaseModel):
    """Every error response: one line that names the problem."""

    error: str
