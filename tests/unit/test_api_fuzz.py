"""Property-based fuzzing of the HTTP API, generated from its own OpenAPI document (schemathesis).

Every route, with the token and without, with data that fits the declared
schemas and data that does not: never a 500, never a response that breaks
the declared schema, status codes and content types as documented.  CI runs
a modest number of examples per route; `make fuzz` sets DURABLE_FUZZ_EXAMPLES
for a long run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from durable.engine import Engine
from durable.http_api import create_app
from tests.workflows import approval

TOKEN = "fuzz-test-token-0123456789abcdef-01234567"
EXAMPLES = int(os.environ.get("DURABLE_FUZZ_EXAMPLES", "25"))
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def fuzzed_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    store = Path(tmp_path_factory.mktemp("fuzz")) / "durable.db"
    with Engine(store=f"sqlite:///{store}", functions=[approval]) as engine:
        yield engine


@pytest.fixture(scope="module")
def api_schema(fuzzed_engine: Engine) -> Any:
    """The schema as a client holding the token sees it (the token is not part of what is fuzzed)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzzed_engine, TOKEN))
    schema.config.update(headers={"Authorization": f"Bearer {TOKEN}"})
    return schema


@pytest.fixture(scope="module")
def anonymous_schema(fuzzed_engine: Engine) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzzed_engine, TOKEN))


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_route_keeps_its_contract_with_the_token(api_schema: Any, mode: GenerationMode) -> None:
    operations = _operations(api_schema)
    assert len(operations) == 8
    fuzzed = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def keeps_contract(case: Any) -> None:
            case.call_and_validate()

        try:
            keeps_contract()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request could be generated"
            continue  # nothing in this route's request can be made invalid (a path segment is any text)
        fuzzed.append(operation.label)
    assert len(fuzzed) >= (8 if mode is GenerationMode.POSITIVE else 4), fuzzed


def test_every_route_refuses_a_missing_or_wrong_token(anonymous_schema: Any) -> None:
    for operation in _operations(anonymous_schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=max(5, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def refused(case: Any) -> None:
            for headers in ({}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}):
                response = case.call(headers=headers)
                assert response.status_code == 401, (headers, response.status_code, response.text)
                assert response.json() == {"error": "missing or wrong bearer token"}

        refused()
