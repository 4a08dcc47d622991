"""The live topology feed: samples the engine's actors a few times a second and keeps the last minute.

`TopologyFeed` is a plain daemon thread, like the engine's Ticker: it takes
no messages and owns one thing, the recording.  Every `interval` (0.25 s) it
asks the TopologyKeeper for a sample (`Topology.sample`, the difference since
its own last one: O(actors and their edges), never O(messages)), turns counts
into rates, lays the graph out again when the set of nodes changed, and
appends a `Frame`.  It then publishes the whole recording as a new tuple;
readers (the Server-Sent-Events stream, `GET /topology`) read `frames`, an
immutable value that is replaced, never changed, so they need no lock and
ask nothing of the sampler.  The recording is a ring of the last
`keep_seconds` (60 s): pausing the page and stepping back walks it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
import uuid
from typing import Any

import attrs
import pykka

from actors.messages import TopologySample
from actors.topology import Topology
from durable.viz import layout

DEFAULT_INTERVAL = 0.25
DEFAULT_KEEP_SECONDS = 60.0
#: an edge stays drawn (at 0/s) this long after its last message, so a pause between waves keeps the picture
RECENT_SECONDS = 5.0


@attrs.frozen(slots=True)
class Frame:
    """One sample as the page draws it: `seq` counts up from 1; `data` is the JSON the stream sends."""

    seq: int
    at: float
    data: dict[str, Any]
    text: str


class TopologyFeed:
    def __init__(
        self, topology: Topology, interval: float = DEFAULT_INTERVAL, keep_seconds: float = DEFAULT_KEEP_SECONDS
    ) -> None:
        self.topology = topology
        self.interval = interval
        self.reader = f"feed-{uuid.uuid4().hex[:8]}"
        self.frames: tuple[Frame, ...] = ()
        self._ring: collections.deque[Frame] = collections.deque(maxlen=max(2, int(keep_seconds / interval)))
        self._positions: dict[str, tuple[float, float]] = {}
        self._laid_out: frozenset[str] = frozenset()
        self._recent: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="durable-console-feed", daemon=True)

    def start(self) -> TopologyFeed:
        self._record()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.topology.forget(self.reader)

    @property
    def stopped(self) -> bool:
        """Stopping or stopped: streams end (a server shutting down should not wait on them)."""
        return self._stop.is_set()

    def latest(self) -> Frame | None:
        frames = self.frames
        return frames[-1] if frames else None

    def since(self, seq: int) -> tuple[Frame, ...]:
        """The recorded frames after `seq` (all of them for 0), oldest first."""
        frames = self.frames
        if not frames or frames[-1].seq <= seq:
            return ()
        first = frames[0].seq
        return frames[max(0, seq + 1 - first):]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._record()
            except pykka.ActorDeadError:
                return  # the engine closed under us

    def _record(self) -> None:
        with contextlib.suppress(pykka.Timeout):
            sample = self.topology.sample(self.reader)
            seq = self._ring[-1].seq + 1 if self._ring else 1
            data = self._frame_data(seq, sample)
            self._ring.append(Frame(seq, data["at"], data, json.dumps(data, separators=(",", ":"))))
            self.frames = tuple(self._ring)

    def _frame_data(self, seq: int, sample: TopologySample) -> dict[str, Any]:
        interval = sample.interval if sample.interval > 0 else self.interval
        nodes: list[dict[str, Any]] = [
            {
                "id": node.id, "kind": node.kind, "label": node.label, "members": node.members,
                "depth": node.depth, "busy": node.busy, "rate": round(node.handled / interval, 1),
                "state": "busy" if node.busy else ("active" if node.handled else "idle"),
                "group": node.group,
            }
            for node in sample.nodes
        ]
        known = {node.id for node in sample.nodes} | {"caller"}
        if sample.nodes:
            nodes.insert(0, {"id": "caller", "kind": "caller", "label": "caller\n(handler threads, API)",
                             "members": 1, "depth": 0, "busy": 0, "rate": 0.0, "state": "idle", "group": None})
        now = time.monotonic()
        counted = {(source, target): count for source, target, count in sample.edges}
        for key in counted:
            self._recent[key] = now
        self._recent = {key: seen for key, seen in self._recent.items() if now - seen < RECENT_SECONDS}
        edges = [
            {"source": source, "target": target, "count": counted.get((source, target), 0),
             "rate": round(counted.get((source, target), 0) / interval, 1)}
            for source, target in self._recent
            if source in known and target in known
        ]
        ids = frozenset(str(node["id"]) for node in nodes)
        if ids != self._laid_out:
            self._positions = layout({"nodes": nodes, "edges": edges}, compact=False)
            self._laid_out = ids
        for node in nodes:
            x, y = self._positions.get(str(node["id"]), (0.0, 0.0))
            node["x"], node["y"] = round(x), round(y)
        return {
            "seq": seq, "at": time.time(), "interval": round(interval, 3),
            "messages": sum(edge["count"] for edge in edges), "nodes": nodes, "edges": edges,
        }
