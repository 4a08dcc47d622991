"""Many `durable worker` processes on one PostgreSQL database: sharing, SIGKILL, SIGSTOP, crash loops.

Real processes, a real database (a fresh schema per test).  Every step appends "execution step pid" to
a marks file; a step may run twice only if the process that ran it first was killed before its success
was committed.  Invocations of one execution never overlap in time (read back from the history).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from durable.engine import Engine
from durable.stores.base import ExecutionStatus
from tests.cluster_workflows import STEPS, steps_timer_callback, ten_steps
from tests.conftest import wait_until

pytestmark = [pytest.mark.stress, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2.0
KILLS = int(os.environ.get("DURABLE_STRESS_KILLS", "50"))


class Workers:
    """`durable worker` processes on one store, each logging to its own file."""

    def __init__(self, url: str, marks: Path, logs: Path) -> None:
        self.url, self.marks, self.logs = url, marks, logs
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.killed: set[int] = set()
        self.serial = 0

    def start(self, launcher: Sequence[str] = (), url: str | None = None) -> int:
        """Start one worker, through `launcher` (a command prefix, such as entering a network namespace)
        and on `url` (the store as seen from where it runs) if given."""
        self.serial += 1
        log = open(self.logs / f"worker-{self.serial}.log", "wb")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [*launcher, sys.executable, "-m", "durable.cli", "--store", url or self.url, "worker", "--function",
             "tests.cluster_workflows", "--isolation", "thread", "--workers", "4", "--lease", f"{LEASE}s",
             "--progress", "1"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "DURABLE_TEST_MARKS": str(self.marks), "PYTHONPATH": str(ROOT)},
        )
        log.close()
        self.procs[proc.pid] = proc
        return proc.pid

    def kill(self, pid: int, sig: int = signal.SIGKILL) -> None:
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            self.procs.pop(pid).wait(timeout=10)
            self.killed.add(pid)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker-*.log")))

    def log_of(self, serial: int) -> str:
        """The log of the `serial`-th worker started (from 1)."""
        return (self.logs / f"worker-{serial}.log").read_text(errors="replace")


def workers_in(tmp_path: Path, url: str) -> Iterator[Workers]:
    """Workers on `url` that log and mark under `tmp_path`, all stopped when the test ends."""
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = Workers(url, tmp_path / "marks.log", logs)
    try:
        yield workers
    finally:
        workers.stop_all()


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Workers]:
    yield from workers_in(tmp_path, pg_url)


def _submit(url: str, handler: Any, count: int) -> tuple[Engine, list[str]]:
    client = Engine(store=url, functions=[ten_steps, steps_timer_callback], execute=False)
    return client, [client.start(handler, {"id": f"x{i:05}"}) for i in range(count)]


def _wait_all_done(client: Engine, ids: list[str], timeout: float) -> None:
    def done() -> bool:
        return not client.store.list_executions(ExecutionStatus.RUNNING, limit=1)

    wait_until(done, timeout=timeout, what=f"all {len(ids)} executions to end")


def _marks(path: Path) -> collections.Counter[tuple[str, str]]:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in path.read_text().splitlines():
        execution, step, _pid = line.split()
        counts[(execution, step)] += 1
    return counts


def _reruns_only_after_kills(path: Path, killed: set[int]) -> None:
    """A step that ran twice ran first in a process that was then killed (its success never committed)."""
    runs: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for line in path.read_text().splitlines():
        execution, step, pid = line.split()
        runs[(execution, step)].append(int(pid))
    for key, pids in runs.items():
        assert all(pid in killed for pid in pids[:-1]), f"step {key} ran again after it completed: pids {pids}"


def _invocations_never_overlap(client: Engine, ids: list[str]) -> None:
    for eid in ids:
        spans = sorted(
            (e["InvocationCompletedDetails"]["StartTimestamp"], e["InvocationCompletedDetails"]["EndTimestamp"])
            for e in client.history(eid) if e["EventType"] == "InvocationCompleted"
            and "StartTimestamp" in e["InvocationCompletedDetails"]
        )
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end - 1e-3, f"{eid}: an invocation started at {start} before the one before ended {end}"


def test_three_workers_share_a_thousand_executions(cluster: Workers) -> None:
    for _ in range(3):
        cluster.start()
    client, ids = _submit(cluster.url, ten_steps, 1000)
    try:
        _wait_all_done(client, ids, timeout=300)
        records = [client.status(eid) for eid in ids]
        assert {r.status for r in records} == {ExecutionStatus.SUCCEEDED}
        assert {r.result for r in records} == {str(STEPS)}
        counts = _marks(cluster.marks)
        assert len(counts) == 1000 * STEPS and set(counts.values()) == {1}, "every step ran exactly once"
        pids = {line.split()[2] for line in cluster.marks.read_text().splitlines()}
        assert len(pids) == 3, f"all three engines did work, got {pids}"
        _invocations_never_overlap(client, ids[:200])
    finally:
        client.close()


def test_a_killed_workers_executions_finish_on_the_others(cluster: Workers) -> None:
    victim = cluster.start()
    for _ in range(2):
        cluster.start()
    client, ids = _submit(cluster.url, ten_steps, 300)
    try:
        wait_until(lambda: cluster.marks.exists() and len(cluster.marks.read_text().splitlines()) > 300,
                   timeout=60, what="the run to be under way")
        cluster.kill(victim)
        killed_at = time.monotonic()
        _wait_all_done(client, ids, timeout=LEASE + 60)
        assert time.monotonic() - killed_at <= LEASE + 15 + 15, "taken over within 15 s of the lease's end"
        assert {client.status(eid).status for eid in ids} == {ExecutionStatus.SUCCEEDED}
        assert len(_marks(cluster.marks)) == 300 * STEPS
        _reruns_only_after_kills(cluster.marks, cluster.killed)
        _invocations_never_overlap(client, ids)
    finally:
        client.close()


def test_a_paused_worker_wakes_up_fenced(cluster: Workers) -> None:
    sleeper = cluster.start()
    client, ids = _submit(cluster.url, ten_steps, 200)
    try:
        wait_until(lambda: cluster.marks.exists() and len(cluster.marks.read_text().splitlines()) > 100,
                   timeout=60, what="the first worker to be under way")
        cluster.kill(sleeper, signal.SIGSTOP)
        cluster.start()
        wait_until(lambda: "took over" in cluster.log_text(), timeout=LEASE + 30,
                   what="the other worker to take the paused one's executions over")
        cluster.kill(sleeper, signal.SIGCONT)
        _wait_all_done(client, ids, timeout=120)
        wait_until(lambda: "lost its lease" in cluster.log_text(), timeout=30,
                   what="the paused worker to notice it lost its lease")
        assert {client.status(eid).status for eid in ids} == {ExecutionStatus.SUCCEEDED}
        for eid in ids:
            succeeded = [e["Name"] for e in client.history(eid) if e["EventType"] == "StepSucceeded"]
            assert sorted(succeeded) == sorted(f"s{i}" for i in range(STEPS)), f"{eid}: one winner per step"
        _invocations_never_overlap(client, ids)
    finally:
        client.close()


def test_executions_survive_a_crash_loop_of_workers(cluster: Workers) -> None:
    for _ in range(3):
        cluster.start()
    client, ids = _submit(cluster.url, steps_timer_callback, 60)
    answered: set[str] = set()

    def answer_open_callbacks() -> None:
        for eid in ids:
            if eid in answered:
                continue
            for op in client.operations(eid):
                if op.callback_id and not op.status.is_terminal:
                    client.send_callback_success(op.callback_id, json.dumps("ok"))
                    answered.add(eid)

    try:
        rng = random.Random(7)
        for _ in range(KILLS):
            victim = rng.choice(sorted(cluster.procs))
            cluster.kill(victim)
            cluster.start()
            answer_open_callbacks()
            time.sleep(rng.uniform(0.1, 0.6))  # the chaos schedule itself, not a synchronisation
        deadline = time.monotonic() + 180
        while client.store.list_executions(ExecutionStatus.RUNNING, limit=1) and time.monotonic() < deadline:
            answer_open_callbacks()
            time.sleep(0.2)
        records = {eid: client.status(eid) for eid in ids}
        assert {r.status for r in records.values()} == {ExecutionStatus.SUCCEEDED}, cluster.log_text()[-3000:]
        for eid, record in records.items():
            event_id = json.loads(client.status(eid).input or "{}")["id"]
            assert json.loads(record.result or "null") == f'{event_id}:"ok"', "the callback's text, as it was sent"
        _reruns_only_after_kills(cluster.marks, cluster.killed)
        _invocations_never_overlap(client, ids)
    finally:
        client.close()
