"""The testing library's stand-in for the Lambda context a handler receives (`context.lambda_context`)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class LambdaContext:
    """A Lambda context with fixed test values, as the AWS local runner passes one."""

    aws_request_id: str
    log_group_name: str | None = None
    log_stream_name: str | None = None
    function_name: str | None = None
    memory_limit_in_mb: str | None = None
    function_version: str | None = None
    invoked_function_arn: str | None = None
    tenant_id: str | None = None
    client_context: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None

    def get_remaining_time_in_millis(self) -> int:
        return 900_000

    def log(self, msg: Any) -> None:
        return None


def create_test_lambda_context(invocation: Any = None) -> LambdaContext:
    """The context the local runner hands every invocation (the same values as AWS's local runner)."""
    return LambdaContext(
        aws_request_id="test-invoke-12345",
        invoked_function_arn="arn:aws:lambda:us-west-2:123456789012:function:test-function",
        tenant_id="test-tenant-789",
        client_context={
            "custom": {"test_key": "test_value"},
            "env": {"platform": "test", "make": "test", "model": "test"},
            "client": {
                "installation_id": "test-installation-123",
                "app_title": "TestApp",
                "app_version_name": "1.0.0",
                "app_version_code": "100",
                "app_package_name": "com.test.app",
            },
        },
        identity={"cognitoIdentityId": "test-cognito-identity-123", "cognitoIdentityPoolId": "us-west-2:test-pool-456"},
    )
