"""An engine raises the collector's young-generation threshold only from Python's defaults."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.collector import PYTHON_DEFAULTS, YOUNG_THRESHOLD
from durable.engine import Engine
from durable.exceptions import ValidationError
from tests.workflows import collector_thresholds

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*PYTHON_DEFAULTS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def test_an_engine_raises_the_young_threshold_from_pythons_defaults(thresholds: None, tmp_path: Path) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'a.db'}"):
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *PYTHON_DEFAULTS[1:])


def test_a_process_that_tuned_its_collector_keeps_its_thresholds(thresholds: None, tmp_path: Path) -> None:
    gc.set_threshold(1234, 5, 6)
    with Engine(store=f"sqlite:///{tmp_path / 'a.db'}"):
        assert gc.get_threshold() == (1234, 5, 6)


def test_none_leaves_the_collector_alone(thresholds: None, tmp_path: Path) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'a.db'}", collector_threshold=None):
        assert gc.get_threshold() == PYTHON_DEFAULTS


@pytest.mark.parametrize("bad", [0, -5, 2.5, "10000", True])
def test_a_bad_threshold_is_refused_before_anything_starts(thresholds: None, tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValidationError, match="collector_threshold must be a positive integer"):
        Engine(store=f"sqlite:///{tmp_path / 'a.db'}", collector_threshold=bad)  # type: ignore[arg-type]
    assert gc.get_threshold() == PYTHON_DEFAULTS
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize("threshold", [YOUNG_THRESHOLD, None])
def test_worker_processes_run_with_the_engines_setting(tmp_path: Path, threshold: int | None) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'a.db'}", isolation="process", workers=1,
                collector_threshold=threshold) as engine:
        engine.register(collector_thresholds)
        record = engine.wait(engine.start(collector_thresholds.name, None), timeout=30)
    assert json.loads(record.result or "null") == [threshold or PYTHON_DEFAULTS[0], *PYTHON_DEFAULTS[1:]]
