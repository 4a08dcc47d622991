"""The pieces under the console: topology samples, the recording, drawings without Graphviz, paging stores."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pykka
import pytest

from actors.topology import Topology, TrackedActor
from durable.console import serve_console
from durable.console.feed import TopologyFeed
from durable.console.timeline import BRANCHES_SHOWN, render, rows
from durable.core.records import OperationRecord, OperationStatus, OperationSubType, OperationType
from durable.engine import Engine
from durable.stores.base import ExecutionQuery, ExecutionStatus, Store
from durable.stores.memory import MemoryStore
from durable.stores.sqlite import SQLiteStore
from durable.viz import graph_from_dot, layout, render_html, render_svg
from tests.conftest import wait_until
from tests.workflows import approval

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "durable" / "console" / "static" / "vendor"


class Echo(TrackedActor):
    """Sends each message it gets on to `peer` (None: keeps it)."""

    def __init__(self, topology: Topology, name: str) -> None:
        super().__init__(topology, name)
        self.peer: pykka.ActorRef[Any] | None = None

    def handle(self, message: Any) -> Any:
        if isinstance(message, pykka.ActorRef):
            self.peer = message
        elif self.peer is not None:
            self.send(self.peer, message)
        return None


@pytest.fixture
def topology() -> Iterator[Topology]:
    made = Topology()
    yield made
    made.close()


def _edge(sample: Any, source: str, target: str) -> int:
    return sum(n for a, b, n in sample.edges if a == source and b == target)


def test_a_sample_counts_the_messages_since_the_readers_last_one(topology: Topology) -> None:
    first, second = Echo.start(topology, "first"), Echo.start(topology, "second")
    try:
        first.ask(second)
        topology.sample("reader")
        for n in range(500):
            first.tell(n)
        first.ask("flush")
        second.ask("flush")
        sample = topology.sample("reader")
        assert _edge(sample, first.actor_urn, second.actor_urn) == 501
        nodes = {node.id: node for node in sample.nodes}
        assert nodes[second.actor_urn].handled == 502 and nodes[first.actor_urn].handled == 501
        assert nodes[first.actor_urn].depth == 0 and nodes[first.actor_urn].busy == 0
        assert _edge(topology.sample("reader"), first.actor_urn, second.actor_urn) == 0
        other = topology.sample("another reader")
        assert other.edges == (), "a reader's first sample is its baseline"
    finally:
        first.stop()
        second.stop()


def test_a_stopping_actors_last_messages_reach_the_next_sample(topology: Topology) -> None:
    first, second = Echo.start(topology, "first"), Echo.start(topology, "second")
    try:
        first.ask(second)
        topology.sample("reader")
        for n in range(7):
            first.tell(n)
        first.stop()
        second.ask("flush")
        sample = topology.sample("reader")
        assert _edge(sample, first.actor_urn, second.actor_urn) == 7
    finally:
        second.stop()


def test_a_sample_costs_the_same_after_many_messages_as_after_few(topology: Topology) -> None:
    """O(actors), not O(messages): the keeper reads counters, it does not replay sends."""
    first, second = Echo.start(topology, "first"), Echo.start(topology, "second")
    try:
        first.ask(second)
        topology.sample("reader")

        def timed(messages: int) -> float:
            for n in range(messages):
                first.tell(n)
            first.ask("flush")
            second.ask("flush")
            began = time.perf_counter()
            sample = topology.sample("reader")
            assert _edge(sample, first.actor_urn, second.actor_urn) == messages + 1
            return time.perf_counter() - began

        few = min(timed(10) for _ in range(3))
        many = min(timed(20_000) for _ in range(3))
        assert many < few * 5 + 0.005
    finally:
        first.stop()
        second.stop()


def test_the_recording_keeps_the_last_minute_and_answers_what_came_after_a_frame(topology: Topology) -> None:
    feed = TopologyFeed(topology, interval=0.01, keep_seconds=0.1).start()
    try:
        wait_until(lambda: feed.latest() is not None and feed.latest().seq > 25, what="25 frames")  # type: ignore[union-attr]
        frames = feed.frames
        assert len(frames) == 10
        assert [f.seq for f in frames] == list(range(frames[0].seq, frames[0].seq + 10))
        after = [f.seq for f in feed.since(frames[-3].seq) if f.seq <= frames[-1].seq]
        assert after == [frames[-2].seq, frames[-1].seq]
        assert feed.since(10**9) == ()
        assert feed.since(0)[0].seq == feed.frames[0].seq
        assert json.loads(frames[-1].text) == frames[-1].data
    finally:
        feed.stop()


def test_a_maps_branches_are_one_node_with_their_count_under_their_parent(engine: Engine) -> None:
    from examples.timer_wave import handler

    engine.register(handler.name, handler, invocation_timeout=60)
    feed = TopologyFeed(engine.topology, interval=0.05).start()
    try:
        execution_id = engine.start(handler.name, {"branches": 40, "keep": 5})

        def branches() -> Any:
            """The branches' node once a frame caught every branch started (a busy host draws some frames
            while the map is still starting them)."""
            frame = feed.latest()
            node = frame and next((n for n in frame.data["nodes"] if n["kind"] == "Branch"), None)
            return node if node and node["members"] == 41 else None

        node = wait_until(branches, timeout=20, what="the branches' node with all 41 branches")
        assert node["members"] == 41 and node["label"].endswith("x41")  # type: ignore[index]
        parent = next(n for n in feed.latest().data["nodes"] if n["id"] == node["group"])  # type: ignore[union-attr,index]
        assert parent["kind"] == "BatchParent"
        engine.stop(execution_id)
    finally:
        feed.stop()


# ----- drawings


GRAPH = {
    "nodes": [
        {"id": "caller", "kind": "caller", "label": "caller"},
        {"id": "d", "kind": "Dispatcher", "label": "Dispatcher\nengine"},
        {"id": "w", "kind": "InvocationWorker", "label": "InvocationWorker\nworker-1"},
        {"id": "x", "kind": "Mystery", "label": "<script>alert(1)</script>"},
        {"id": "c", "kind": "CheckpointWriter", "label": "CheckpointWriter"},
    ],
    "edges": [
        {"source": "caller", "target": "d", "count": 3}, {"source": "d", "target": "w", "count": 1200},
        {"source": "w", "target": "x", "count": 2}, {"source": "x", "target": "c", "count": 2},
        {"source": "c", "target": "d", "count": 9}, {"source": "w", "target": "w", "count": 1},
    ],
}


def test_the_layout_places_every_node_left_to_right_in_the_order_messages_travel() -> None:
    positions = layout(GRAPH)
    assert set(positions) == {"caller", "d", "w", "x", "c"}
    assert positions["caller"][0] < positions["d"][0] < positions["w"][0] < positions["c"][0]
    assert positions["w"][0] < positions["x"][0], "an unknown kind goes past what sends to it"
    assert layout({"nodes": [], "edges": []}) == {}


def test_the_svg_draws_every_node_and_edge_and_escapes_labels() -> None:
    svg = render_svg(GRAPH)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count('<g class="node">') == 5 and svg.count('<g class="edge">') == 6
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert ">1,200<" in svg
    assert "prefers-color-scheme: dark" in svg


def test_the_html_page_embeds_the_vendored_library_and_the_graph() -> None:
    page = render_html(GRAPH)
    assert (VENDOR / "cytoscape.min.js").read_text()[:200] in page
    assert "<script>alert(1)</script>" not in page
    assert "https://" not in page.split("<script>")[0]


def test_the_dot_an_older_engine_saved_can_still_be_drawn() -> None:
    dot = ('digraph durable {\n  rankdir=LR;\n  "caller";\n  "Dispatcher\\nengine";\n'
           '  "caller" -> "Dispatcher\\nengine" [label="4"];\n}\n')
    graph = graph_from_dot(dot)
    assert {n["id"] for n in graph["nodes"]} == {"caller", "Dispatcher\\nengine"}
    assert graph["edges"] == [{"source": "caller", "target": "Dispatcher\\nengine", "count": 4}]
    assert next(n for n in graph["nodes"] if n["kind"] == "Dispatcher")["label"] == "Dispatcher\nengine"


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_viz_writes_svg_html_and_dot_without_graphviz_and_refuses_png(tmp_path: Path) -> None:
    store = tmp_path / "viz.db"
    done = _cli("run", "examples.hello:handler", "--input", '"viz"', "--viz", str(tmp_path / "run.svg"), store=store)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run.svg").read_text().startswith("<svg")
    for name in ("t.svg", "t.html", "t.dot"):
        made = _cli("viz", "--out", str(tmp_path / name), store=store)
        assert made.returncode == 0, made.stderr
    assert "InvocationWorker" in (tmp_path / "t.svg").read_text()
    assert "cytoscape" in (tmp_path / "t.html").read_text()
    assert (tmp_path / "t.dot").read_text().startswith("digraph durable {")
    refused = _cli("viz", "--out", str(tmp_path / "t.png"), store=store)
    assert refused.returncode == 2 and "use .svg, .html or .dot" in refused.stderr
    assert "Graphviz" not in refused.stderr


def test_the_vendored_cytoscape_is_the_pinned_file_with_its_license_and_ships_with_the_package() -> None:
    table = (VENDOR / "README.md").read_text()
    pinned = re.search(r"\| `cytoscape.min.js` \|.*\| ([0-9.]+) \|.*`([0-9a-f]{64})` \|", table)
    assert pinned is not None
    assert hashlib.sha256((VENDOR / "cytoscape.min.js").read_bytes()).hexdigest() == pinned.group(2)
    assert f"\"{pinned.group(1)}\"" in (VENDOR / "cytoscape.min.js").read_text()
    assert "Permission is hereby granted" in (VENDOR / "LICENSE-cytoscape.txt").read_text()
    setup = (REPO / "setup.cfg").read_text()
    assert "durable.console =" in setup and "static/vendor/*" in setup


# ----- the timeline


def _op(operation_id: str, parent: str | None, kind: OperationType, sub: OperationSubType | None, start: float,
        end: float | None, status: OperationStatus = OperationStatus.SUCCEEDED, **more: Any) -> OperationRecord:
    return OperationRecord(operation_id, kind, status, parent_id=parent, sub_type=sub, start_timestamp=start,
                           end_timestamp=end, name=operation_id, **more)


def test_the_timeline_groups_a_maps_branches_and_shows_retries_and_waits() -> None:
    ops = [_op("m", None, OperationType.CONTEXT, OperationSubType.MAP, 0.0, None, OperationStatus.STARTED)]
    for i in range(30):
        ops.append(_op(f"b{i}", "m", OperationType.CONTEXT, OperationSubType.MAP_ITERATION, 0.1, 1.0 + i))
    ops.append(_op("s", None, OperationType.STEP, OperationSubType.STEP, 0.0, None, OperationStatus.PENDING,
                   attempt=3, next_attempt_timestamp=40.0))
    ops.append(_op("w", None, OperationType.WAIT, OperationSubType.WAIT, 1.0, None, OperationStatus.STARTED,
                   scheduled_end_timestamp=50.0))
    events = [{"EventType": "StepStarted", "Id": "s", "EventTimestamp": f"1970-01-01T00:00:0{t}.000Z"}
              for t in (0, 2, 4)]
    drawn = rows(ops, events)
    assert [r.label for r in drawn][:2] == ["m", "b0"]
    summary = drawn[BRANCHES_SHOWN + 1]
    assert summary.summary and summary.label == "+ 10 more branches" and summary.note == "10 ok"
    step = next(r for r in drawn if r.label == "s")
    assert step.ticks == (0.0, 2.0, 4.0) and "attempt 3" in step.note and step.scheduled == 40.0
    assert next(r for r in drawn if r.label == "w").scheduled == 50.0
    svg = render(ops, events, now=35.0, started=0.0)
    assert svg.count('class="tick"') == 3 and svg.count('class="scheduled"') == 2


# ----- stores page the same way


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "page.db")
    yield made
    made.close()


def test_both_stores_page_newest_first_by_keyset_with_the_same_filters(store: Store) -> None:
    from durable.core.history import HistoryEvent

    for i in range(30):
        store.create_execution(f"e{i:02d}", "f" if i % 2 else "g", None, f"n{i:02d}", None, 100.0 + i // 3,
                               HistoryEvent("ExecutionStarted", 0.0))
    everything = store.page_executions(ExecutionQuery(limit=100))
    assert [r.execution_id for r in everything] == [f"e{i:02d}" for i in range(29, -1, -1)]
    pages, before = [], None
    while True:
        page = store.page_executions(ExecutionQuery(function_name="f", before=before, limit=4))
        if not page:
            break
        pages.append([r.execution_id for r in page])
        before = page[-1].cursor
    assert [eid for page in pages for eid in page] == [f"e{i:02d}" for i in range(29, -1, -2)]
    assert [r.execution_id for r in store.page_executions(ExecutionQuery(name_prefix="n1"))] == [
        f"e{i}" for i in range(19, 9, -1)]
    assert store.page_executions(ExecutionQuery(status=ExecutionStatus.FAILED)) == []


# ----- over a real server


def test_the_feed_streams_over_a_real_server_while_executions_run(engine: Engine) -> None:
    engine.register(approval)
    with serve_console(engine, feed_interval=0.05) as server, httpx.Client(timeout=10) as client:
        assert client.get(server.url).status_code == 303
        engine.start("approval")
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        with client.stream("GET", f"{server.base_url}/console/topology/feed") as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    frames.append(json.loads(line[6:]))
                if (len(frames) >= 5 and any(f["messages"] for f in frames)) or time.monotonic() > deadline:
                    break
        assert len(frames) >= 5 and any(f["messages"] for f in frames)
        assert client.get(f"{server.base_url}/topology", headers={"Authorization": f"Bearer {server.token}"}).json()


def test_durable_serve_prints_a_login_link_that_opens_the_console_and_stops_cleanly(store_url: str) -> None:
    token = "serve-console-token-0123456789abcdef-01"
    server = subprocess.Popen(
        [sys.executable, "-m", "durable.cli", "--store", store_url, "serve", "--port", "0",
         "--function", "tests.workflows:approval"],
        cwd=REPO, env={**os.environ, "DURABLE_API_TOKEN": token}, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stderr is not None
        lines = [server.stderr.readline() for _ in range(2)]
        link = next(line.split("console: ", 1)[1].strip() for line in lines if line.startswith("console: "))
        assert token not in link
        with httpx.Client(timeout=10) as client:

            def answer() -> httpx.Response | None:
                try:
                    return client.get(link)
                except httpx.TransportError:
                    return None  # printed before the server listens; it does within a moment

            opened: Any = wait_until(answer, timeout=30, what="durable serve to answer")
            assert opened.status_code == 303 and "durable_console=" in opened.headers["set-cookie"]
            base = link.split("/console/")[0]
            assert client.get(f"{base}/console/executions").status_code == 200
            with client.stream("GET", f"{base}/console/topology/feed") as stream:  # left open: shutdown ends it
                next(line for line in stream.iter_lines() if line.startswith("data: "))
                server.send_signal(signal.SIGTERM)
                _, stderr = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr and "stopped serving" in stderr


def test_durable_viz_draws_svg_and_html_without_the_http_extra(tmp_path: Path) -> None:
    """`pip install durable` alone: the web server's packages are missing, and the drawings still work."""
    store = tmp_path / "viz.db"
    assert _cli("run", "examples.hello:handler", "--input", '"viz"', store=store).returncode == 0
    script = (
        "import sys\n"
        "for name in ('fastapi', 'starlette', 'uvicorn', 'pydantic'):\n"
        "    sys.modules[name] = None\n"
        "from durable.cli import main\n"
        f"sys.exit(main(['--store', 'sqlite:///{store}', 'viz', '--out', sys.argv[1]]))\n"
    )
    for name in ("topology.svg", "topology.html"):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], capture_output=True, text=True,
                              timeout=60, cwd=REPO)
        assert done.returncode == 0, done.stderr
        assert "InvocationWorker" in (tmp_path / name).read_text()
