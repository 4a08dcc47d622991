"""What `from <module> import *` gives a ported program: at least the SDK's public names for that module."""

from __future__ import annotations

import importlib

import pytest

pytestmark = pytest.mark.timeout(30)

#: names the SDK's modules (which define no __all__) hand to a star import, that programs use unqualified
STAR_NAMES = {
    "durable.retries": ["Duration", "JitterStrategy", "RetryStrategyConfig", "create_retry_strategy", "RetryPresets"],
    "durable.waits": ["Duration", "JitterStrategy", "WaitForConditionError", "WaitForConditionConfig"],
    "durable.context": [
        "DurableContext", "StepConfig", "Duration", "CallbackConfig", "MapConfig", "ParallelConfig", "ChildConfig",
        "InvokeConfig", "StepError", "CallbackError", "ChildContextError", "ValidationError", "SerDes",
        "PassThroughSerDes", "SuspendExecution", "durable_step", "durable_with_child_context",
    ],
    "durable.execution": [
        "durable_execution", "DurableContext", "ExecutionError", "InvocationError", "SuspendExecution",
        "ErrorObject", "Operation", "OperationUpdate", "LambdaClient", "DurableExecutionInvocationOutput",
    ],
    "durable.serdes": ["SerDes", "JsonSerDes", "ExtendedTypeSerDes", "BatchResult", "SerDesError", "ExecutionError"],
}


@pytest.mark.parametrize("module", sorted(STAR_NAMES))
def test_a_star_import_gives_the_names_the_sdk_module_gives(module: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module} import *", namespace)
    missing = [name for name in STAR_NAMES[module] if name not in namespace]
    assert not missing, f"{module}: {missing}"
    loaded = importlib.import_module(module)
    assert all(namespace[name] is getattr(loaded, name) for name in STAR_NAMES[module])


#: names the SDK's modules import at their top (so `from <module> import <name>` works there) that are not
#: in their star import: code written against the SDK imports them from these modules too
IMPORTED_NAMES = {
    "durable.plugin": ["Operation", "OperationUpdate", "DurableExecutionInvocationOutput", "LambdaContext"],
    "durable.concurrency.models": ["ErrorObject", "ChildContextError", "BatchResultProtocol"],
    "durable.lambda_service": ["DurableOperationError"],
    "durable.filesystem_serdes": ["DurableExecutionArn"],
}


@pytest.mark.parametrize("module", sorted(IMPORTED_NAMES))
def test_names_the_sdk_module_imports_can_be_imported_from_it(module: str) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in IMPORTED_NAMES[module] if not hasattr(loaded, name)]
    assert not missing, f"{module}: {missing}"
