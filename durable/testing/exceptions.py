"""The testing library's errors, with the AWS testing library's names (users' `pytest.raises` port unchanged)."""

from __future__ import annotations

from typing import Any


class DurableFunctionsLocalRunnerError(Exception):
    """Base of the local runner's service errors."""


class UnknownRouteError(DurableFunctionsLocalRunnerError):
    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"Unknown path pattern: {method} {path}")


class SerializationError(DurableFunctionsLocalRunnerError):
    pass


class DurableFunctionsTestError(Exception):
    """A test asked for something the result or the runner does not have (an operation name, a callback)."""


class AwsApiException(DurableFunctionsLocalRunnerError):
    http_status_code: int = 500

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


class _Typed(AwsApiException):
    """An API error with a `message` and the SDK's `to_dict` shape."""

    type_name = "ServiceException"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        return {"Type": self.type_name, "message": self.message}


class InvalidParameterValueException(_Typed):
    http_status_code = 400
    type_name = "InvalidParameterValueException"


class ResourceNotFoundException(AwsApiException):
    http_status_code = 404

    def __init__(self, Message: str) -> None:  # noqa: N803 - the SDK's parameter name
        self.Message = Message
        super().__init__(Message)

    def to_dict(self) -> dict[str, Any]:
        return {"Type": "ResourceNotFoundException", "Message": self.Message}


class ServiceException(AwsApiException):
    http_status_code = 500

    def __init__(self, Message: str) -> None:  # noqa: N803 - the SDK's parameter name
        self.Message = Message
        super().__init__(Message)

    def to_dict(self) -> dict[str, Any]:
        return {"Type": "ServiceException", "Message": self.Message}


class ExecutionAlreadyStartedException(AwsApiException):
    http_status_code = 409

    def __init__(self, message: str, DurableExecutionArn: str) -> None:  # noqa: N803 - the SDK's parameter name
        self.message = message
        self.DurableExecutionArn = DurableExecutionArn
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "DurableExecutionArn": self.DurableExecutionArn}


class ExecutionConflictException(_Typed):
    http_status_code = 409
    type_name = "ExecutionConflictException"


class CallbackTimeoutException(_Typed):
    http_status_code = 408
    type_name = "CallbackTimeoutException"


class TooManyRequestsException(_Typed):
    http_status_code = 429
    type_name = "TooManyRequestsException"


class _ServiceFault(_Typed):
    """A fault of the service itself: answered as a ServiceException, whatever the class."""

    http_status_code = 500

    def to_dict(self) -> dict[str, Any]:
        return {"Type": "ServiceException", "Message": self.message}


class IllegalStateException(_ServiceFault):
    pass


class RuntimeException(_ServiceFault):
    pass


class IllegalArgumentException(_Typed):
    http_status_code = 400
    type_name = "InvalidParameterValueException"
