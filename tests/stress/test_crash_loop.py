"""Crash safety: real `durable resume` and `durable worker` processes SIGKILLed at random moments.

40 executions of 40 steps each are recorded, then engine processes are
started and killed over and over (at least 50 kills) until a last one runs
everything to the end.  Every step appends `execution step pid` to a log
before it returns.  Afterwards every execution must have the right result,
and a step that ran twice must have been in flight in a killed process (the
last thing that process did for that execution): a completed step never runs
again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from durable.engine import Engine
from durable.stores.base import ExecutionStatus
from tests.workflows import crash_steps

pytestmark = [pytest.mark.stress, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
EXECUTIONS = int(os.environ.get("DURABLE_CRASH_EXECUTIONS", "40"))
STEPS = int(os.environ.get("DURABLE_CRASH_STEPS", "40"))
KILLS = int(os.environ.get("DURABLE_CRASH_KILLS", "50"))
SPEC = "tests.workflows:crash_steps"


def test_sigkilled_engines_never_rerun_a_completed_step(tmp_path: Path) -> None:
    store = tmp_path / "crash.db"
    log = tmp_path / "side-effects.log"
    log.touch()
    with Engine(store=f"sqlite:///{store}", execute=False, functions={SPEC: crash_steps}) as recorder:
        ids = [recorder.start(SPEC, {"log": str(log), "steps": STEPS}) for _ in range(EXECUTIONS)]
    rng = random.Random(int(os.environ.get("DURABLE_CRASH_SEED", "7")))
    killed: set[int] = set()
    while len(killed) < KILLS:
        assert _lines(log) < EXECUTIONS * STEPS, f"everything finished after only {len(killed)} kills"
        process = _engine_process(store, rng)
        before = _lines(log)
        deadline = time.monotonic() + 30
        while _lines(log) == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed.add(process.pid)
    final = subprocess.run(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", "resume", "--timeout", "240"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert final.returncode == 0, final.stderr

    with Engine(store=f"sqlite:///{store}", execute=False) as reader:
        for eid in ids:
            record = reader.status(eid)
            assert record.status is ExecutionStatus.SUCCEEDED, (eid, record.error)
            assert record.result == str(sum(i * i for i in range(STEPS)))
            succeeded = [e for e in reader.history(eid) if e["EventType"] == "StepSucceeded"]
            assert len(succeeded) == STEPS, "each step's success is recorded exactly once"
    runs: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    last_line_of: dict[tuple[str, int], int] = {}
    for position, line in enumerate(log.read_text().splitlines()):
        execution, step, writer = line.split()
        runs[(execution, int(step))].append((position, int(writer)))
        last_line_of[(execution, int(writer))] = position
    assert {key[0] for key in runs} == set(ids) and len(runs) == EXECUTIONS * STEPS
    reruns = 0
    for (eid, index), occurrences in runs.items():
        for position, pid in occurrences[:-1]:
            reruns += 1
            assert pid in killed, f"{eid} step {index} ran again although its process {pid} was not killed"
            assert last_line_of[(eid, pid)] == position, (
                f"{eid} step {index} ran again although process {pid} went on to later steps (it had completed)"
            )
    print(f"{len(killed)} kills, {reruns} in-flight steps re-run, 0 completed steps re-run")


def _engine_process(store: Path, rng: random.Random) -> subprocess.Popen[bytes]:
    """Alternately `durable resume` and `durable worker`, as an operator would restart them."""
    command = ["resume"] if rng.random() < 0.5 else ["worker", "--isolation", "thread", "--function", SPEC]
    return subprocess.Popen(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", *command, "--workers", "4"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _lines(log: Path) -> int:
    with open(log, "rb") as handle:
        return sum(1 for _ in handle)
