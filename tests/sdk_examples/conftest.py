"""The `durable_runner` fixture the ported examples use.

Each example test names its handler with
``@pytest.mark.durable_execution(handler=..., lambda_function_name=...)``; the
fixture opens a local `DurableFunctionTestRunner` for it. Handlers that call
`context.invoke` list their targets with ``functions={name: handler}`` on the
same marker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from durable.testing.runner import DurableFunctionTestRunner


@pytest.fixture
def durable_runner(request: pytest.FixtureRequest) -> Iterator[DurableFunctionTestRunner]:
    marker = request.node.get_closest_marker("durable_execution")
    if marker is None or marker.kwargs.get("handler") is None:
        pytest.fail("mark the test with @pytest.mark.durable_execution(handler=...)")
    runner = DurableFunctionTestRunner(handler=marker.kwargs["handler"], functions=marker.kwargs.get("functions"))
    with runner:
        yield runner
