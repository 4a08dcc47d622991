"""Engines on separate hosts: each `durable worker` runs in its own network namespace and reaches the
database only over its own virtual link, which a test can cut (a partition) and restore.

Each namespace is joined to this one by a veth pair; on this side a TCP relay forwards the link's
connections to the PostgreSQL server, so a worker has no other way to it.  Cutting the link (the
outer end down) leaves the worker running with its connections open and silent, as a partition does.
Needs root (CAP_NET_ADMIN) and iproute2; in CI their absence fails the test, elsewhere it skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from durable.stores.base import ExecutionStatus
from tests.cluster_workflows import STEPS, ten_steps
from tests.conftest import wait_until
from tests.stress.test_cluster import (
    Workers,
    _invocations_never_overlap,
    _marks,
    _reruns_only_after_kills,
    _submit,
    _wait_all_done,
    workers_in,
)

pytestmark = [pytest.mark.stress, pytest.mark.timeout(600)]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _netns_unavailable() -> str | None:
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"durable-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", b"") or str(error).encode()
        return f"cannot create a network namespace (root / CAP_NET_ADMIN needed): {detail.decode().strip()}"
    _ip("netns", "del", probe)
    return None


class Relay:
    """Forwards every TCP connection made to (`host`, its port) to `target`, byte for byte, both ways."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server((host, 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name=f"relay-{host}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inner, _ = self.server.accept()
            except OSError:
                return
            outer = socket.create_connection(self.target)
            self.sockets += (inner, outer)
            for source, sink in ((inner, outer), (outer, inner)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


class Host:
    """A network namespace with one veth link to this one (10.231.<index>.0/30) and a relay to the database."""

    def __init__(self, index: int, database: tuple[str, int]) -> None:
        tag = f"{os.getpid() % 10000}{index}"
        self.namespace, self.outside, self.inside = f"durable-{tag}", f"dvo{tag}", f"dvi{tag}"
        self.address = f"10.231.{index}.1"
        #: the command prefix that runs a process inside this host
        self.launcher = ("ip", "netns", "exec", self.namespace)
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
        _ip("link", "set", self.inside, "netns", self.namespace)
        _ip("addr", "add", f"{self.address}/30", "dev", self.outside)
        _ip("link", "set", self.outside, "up")
        for args in (("addr", "add", f"10.231.{index}.2/30", "dev", self.inside),
                     ("link", "set", self.inside, "up"), ("link", "set", "lo", "up")):
            _ip("-n", self.namespace, *args)
        self.relay = Relay(self.address, database)

    def url(self, store_url: str) -> str:
        """`store_url` as seen from inside: the database is behind this host's relay."""
        parts = urlsplit(store_url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}{self.address}:{self.relay.port}"))

    def cut(self) -> None:
        _ip("link", "set", self.outside, "down")

    def restore(self) -> None:
        _ip("link", "set", self.outside, "up")

    def close(self) -> None:
        self.relay.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self.outside)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", self.namespace)


@pytest.fixture
def hosts(pg_url: str) -> Iterator[list[Host]]:
    reason = _netns_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = urlsplit(pg_url)
    database = (server.hostname or "127.0.0.1", server.port or 5432)
    first = 1 + uuid.uuid4().int % 250  # a subnet of its own, should another run be using one
    made: list[Host] = []
    try:
        for index in (first, first + 1):
            made.append(Host(index, database))
        yield made
    finally:
        for host in made:
            host.close()


@pytest.fixture
def workers(pg_url: str, tmp_path: Path) -> Iterator[Workers]:
    yield from workers_in(tmp_path, pg_url)


def test_engines_on_two_hosts_share_the_work_and_a_partitioned_one_is_fenced(
    hosts: list[Host], workers: Workers
) -> None:
    near, far = hosts
    cut_off = workers.start(far.launcher, far.url(workers.url))
    workers.start(near.launcher, near.url(workers.url))
    client, ids = _submit(workers.url, ten_steps, 200)
    try:
        def far_has_worked() -> bool:
            return workers.marks.exists() and any(
                line.endswith(f" {cut_off}") for line in workers.marks.read_text().splitlines()
            )

        wait_until(far_has_worked, timeout=60, what="the worker on the far host to run steps")
        far.cut()
        wait_until(lambda: "took over" in workers.log_of(2), timeout=60,
                   what="the near worker to take the cut-off one's executions over")
        _wait_all_done(client, ids, timeout=180)
        far.restore()
        wait_until(lambda: "lost its lease" in workers.log_of(1), timeout=120,
                   what="the far worker, reconnected, to find its lease gone")

        assert {client.status(eid).status for eid in ids} == {ExecutionStatus.SUCCEEDED}
        for eid in ids:
            succeeded = [e["Name"] for e in client.history(eid) if e["EventType"] == "StepSucceeded"]
            assert sorted(succeeded) == sorted(f"s{i}" for i in range(STEPS)), f"{eid}: one winner per step"
        assert len(_marks(workers.marks)) == 200 * STEPS
        _reruns_only_after_kills(workers.marks, {cut_off})
        _invocations_never_overlap(client, ids)
    finally:
        client.close()
