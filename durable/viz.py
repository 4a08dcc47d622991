"""The topology drawn without Graphviz: a layered layout, an SVG of it, and a standalone HTML page.

A graph is plain data, `{"nodes": [{"id", "label", "kind", ...}], "edges":
[{"source", "target", "count" or "rate"}]}`: what `TopologyGraph.to_dict`
gives for a finished engine and what the live feed gives for a running one.

The layout is layered, left to right in the order a message travels: a
caller, then the Dispatcher and the other engine-wide actors, the workers, a
map's parent and branches, the execution's state, and last the alarm actors
and the writer.  Kinds the table below does not know go one layer past the
nodes that send to them.  Within a layer, nodes are ordered by the mean
position of their neighbours (two sweeps), which uncrosses most edges.  It
is the same layout the console's live page uses (`durable.console.feed`), so
a saved SVG and the live page look alike.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

#: the layer of each known kind, in the order a message travels
LAYER_OF_KIND = {
    "caller": 0,
    "Dispatcher": 1,
    "ExternalEvents": 1,
    "InvocationWorker": 2,
    "CompletionBoard": 2,
    "ParentLink": 3,
    "ChildLink": 4,
    "BatchParent": 4,
    "Branch": 5,
    "TimerScheduler": 5,
    "ExecutionState": 6,
    "AlarmClient": 7,
    "AlarmManager": 8,
    "CheckpointWriter": 8,
}
LAYER_GAP = 210
COLUMN_GAP = 50
ROW_GAP = 22
CHAR_WIDTH = 7
LINE_HEIGHT = 15
MARGIN = 24


def graph_from_dot(dot: str) -> dict[str, Any]:
    """The graph of a DOT text this engine wrote (`Topology.to_dot`), for stores saved before the JSON was."""
    nodes: dict[str, dict[str, Any]] = {}
    edges = []
    for line in dot.splitlines():
        line = line.strip()
        if line.startswith('"') and "->" in line:
            source, rest = line[1:].split('" -> "', 1)
            target, attributes = rest.split('"', 1)
            count = attributes.split('label="', 1)[1].split('"', 1)[0] if 'label="' in attributes else "0"
            edges.append({"source": source, "target": target, "count": int(count) if count.isdigit() else 0})
            names: tuple[str, ...] = (source, target)
        elif line.startswith('"') and line.endswith('";'):
            names = (line[1:-2],)
        else:
            continue
        for name in names:
            label = name.replace("\\n", "\n")
            nodes.setdefault(name, {"id": name, "label": label, "kind": label.split("\n")[0].split(" (")[0]})
    return {"nodes": list(nodes.values()), "edges": edges}


def node_size(label: str) -> tuple[int, int]:
    lines = label.split("\n")
    return max(90, max(len(line) for line in lines) * CHAR_WIDTH + 18), len(lines) * LINE_HEIGHT + 14


def layout(graph: dict[str, Any], compact: bool = True) -> dict[str, tuple[float, float]]:
    """The centre of every node, in pixels from the top left.

    `compact`: empty layers take no room (a drawing); otherwise every layer keeps its column, so a
    node that comes and goes (an execution's state, a map's branches) moves nothing else (the live page).
    """
    nodes = graph["nodes"]
    if not nodes:
        return {}
    ids = [node["id"] for node in nodes]
    known = set(ids)
    edges = [(e["source"], e["target"]) for e in graph["edges"] if e["source"] in known and e["target"] in known]
    layer = {node["id"]: LAYER_OF_KIND[node["kind"]] for node in nodes if node.get("kind") in LAYER_OF_KIND}
    for _ in range(len(ids)):  # unknown kinds: one past their furthest placed sender (bounded: no cycles run away)
        changed = False
        for source, target in edges:
            if target not in layer and source in layer:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    for node_id in ids:
        layer.setdefault(node_id, 1)
    columns: dict[int, list[str]] = {}
    for node in sorted(nodes, key=lambda n: (n.get("kind", ""), n["id"])):
        columns.setdefault(layer[node["id"]], []).append(node["id"])
    neighbours: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for source, target in edges:
        if source != target:
            neighbours[source].append(target)
            neighbours[target].append(source)
    order = sorted(columns)
    rank = {node_id: i for column in columns.values() for i, node_id in enumerate(column)}
    for sweep in range(2):
        for number in order if sweep == 0 else reversed(order):
            column = columns[number]

            def centre(node_id: str) -> float:
                around = [rank[n] for n in neighbours[node_id] if layer[n] != layer[node_id]]
                return sum(around) / len(around) if around else float(rank[node_id])

            column.sort(key=centre)
            rank.update({node_id: i for i, node_id in enumerate(column)})
    labels = {node["id"]: node.get("label", node["id"]) for node in nodes}
    heights = {number: sum(node_size(labels[n])[1] + ROW_GAP for n in column) for number, column in columns.items()}
    tallest = max(heights.values())
    widths = {number: max(node_size(labels[n])[0] for n in column) for number, column in columns.items()}
    positions: dict[str, tuple[float, float]] = {}
    x = float(MARGIN)
    column_width = max(widths.values()) + COLUMN_GAP
    for number in order:
        if not compact:
            x = MARGIN + number * column_width
        y = MARGIN + (tallest - heights[number]) / 2
        for node_id in columns[number]:
            height = node_size(labels[node_id])[1]
            positions[node_id] = (x + widths[number] / 2, y + height / 2)
            y += height + ROW_GAP
        x += widths[number] + LAYER_GAP - 120
    return positions


def edge_text(edge: dict[str, Any]) -> str:
    if "rate" in edge:
        return f"{edge['rate']:.1f}/s"
    return f"{edge.get('count', 0):,}"


def render_svg(graph: dict[str, Any], title: str = "durable topology") -> str:
    """A standalone SVG: boxes, curved arrows labelled with counts (or rates), light and dark."""
    positions = layout(graph)
    labels = {node["id"]: node.get("label", node["id"]) for node in graph["nodes"]}
    width = max((x + node_size(labels[n])[0] / 2 for n, (x, _) in positions.items()), default=0) + MARGIN
    height = max((y + node_size(labels[n])[1] / 2 for n, (_, y) in positions.items()), default=0) + MARGIN * 3
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f"<title>{html.escape(title)}</title>",
        "<style>svg{background:#fff;color:#1b1f24}.node rect{fill:#eef3fb;stroke:#4a6fa5}"
        ".edge path{stroke:#6b7280;fill:none}.edge text{fill:#374151}text{fill:currentColor}"
        "@media (prefers-color-scheme: dark){svg{background:#16181d;color:#e5e7eb}"
        ".node rect{fill:#1f2a3a;stroke:#7aa2e3}.edge path{stroke:#9ca3af}.edge text{fill:#d1d5db}}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
    ]
    for edge in graph["edges"]:
        source, target = edge["source"], edge["target"]
        if source not in positions or target not in positions:
            continue
        (x1, y1), (x2, y2) = positions[source], positions[target]
        w1, h1 = node_size(labels[source])
        w2, h2 = node_size(labels[target])
        if source == target:
            sx, sy = x1 + w1 / 2, y1
            path = (f"M{sx:.0f},{sy - 6:.0f} C{sx + 40:.0f},{sy - 40:.0f} "
                    f"{sx + 40:.0f},{sy + 40:.0f} {sx:.0f},{sy + 6:.0f}")
            lx, ly = sx + 34, sy
        elif x2 > x1:
            sx, sy, tx, ty = x1 + w1 / 2, y1, x2 - w2 / 2, y2
            bend = (tx - sx) / 2
            path = f"M{sx:.0f},{sy:.0f} C{sx + bend:.0f},{sy:.0f} {tx - bend:.0f},{ty:.0f} {tx:.0f},{ty:.0f}"
            lx, ly = (sx + tx) / 2, (sy + ty) / 2
        else:  # back or sideways: leave from the bottom, arc under, arrive at the bottom
            sx, sy, tx, ty = x1, y1 + h1 / 2, x2, y2 + h2 / 2
            drop = max(sy, ty) + 30 + abs(x1 - x2) / 12
            path = f"M{sx:.0f},{sy:.0f} C{sx:.0f},{drop:.0f} {tx:.0f},{drop:.0f} {tx:.0f},{ty:.0f}"
            lx, ly = (sx + tx) / 2, drop - 8
        out.append(
            f'<g class="edge"><path d="{path}" marker-end="url(#arrow)"/>'
            f'<text x="{lx:.0f}" y="{ly - 3:.0f}" text-anchor="middle" font-size="10">'
            f"{html.escape(edge_text(edge))}</text></g>"
        )
    for node in graph["nodes"]:
        node_id = node["id"]
        x, y = positions[node_id]
        w, h = node_size(labels[node_id])
        lines = labels[node_id].split("\n")
        out.append(f'<g class="node"><rect x="{x - w / 2:.0f}" y="{y - h / 2:.0f}" width="{w}" height="{h}" rx="6"/>')
        top = y - h / 2 + 7 + LINE_HEIGHT - 3
        for i, line in enumerate(lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{x:.0f}" y="{top + i * LINE_HEIGHT:.0f}" text-anchor="middle"{weight}>'
                       f"{html.escape(line)}</text>")
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def vendored_cytoscape() -> str:
    """The pinned Cytoscape.js the package ships (`static/vendor/`)."""
    return (Path(__file__).resolve().parent / "console" / "static" / "vendor" / "cytoscape.min.js").read_text("utf-8")


def render_html(graph: dict[str, Any], title: str = "durable topology") -> str:
    """One file that opens anywhere: the vendored Cytoscape.js, the graph as JSON and the same layout."""
    positions = layout(graph)
    elements = [
        {"data": {"id": n["id"], "label": n.get("label", n["id"])}, "position": {"x": x, "y": y}}
        for n in graph["nodes"]
        for x, y in [positions[n["id"]]]
    ] + [
        {"data": {"id": f"e{i}", "source": e["source"], "target": e["target"], "label": edge_text(e)}}
        for i, e in enumerate(graph["edges"])
        if e["source"] in positions and e["target"] in positions
    ]
    data = json.dumps(elements).replace("<", "\\u003c")
    return _PAGE.format(title=html.escape(title), library=vendored_cytoscape().replace("</script", "<\\/script"),
                        data=data)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root {{ color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --node: #eef3fb; --line: #4a6fa5; --edge: #6b7280; }}
@media (prefers-color-scheme: dark) {{
  :root {{ --fg: #e5e7eb; --bg: #16181d; --node: #1f2a3a; --line: #7aa2e3; --edge: #9ca3af; }} }}
html, body {{ margin: 0; height: 100%; background: var(--bg); color: var(--fg); font-family: Helvetica, sans-serif; }}
h1 {{ font-size: 1rem; margin: 0; padding: .5rem 1rem; }}
#graph {{ position: absolute; top: 2.2rem; bottom: 0; left: 0; right: 0; }}
</style></head>
<body><h1>{title}</h1><div id="graph" role="img" aria-label="actor topology"></div>
<script>{library}</script>
<script type="application/json" id="elements">{data}</script>
<script>
(function () {{
  var css = getComputedStyle(document.documentElement);
  function v(name) {{ return css.getPropertyValue(name).trim(); }}
  cytoscape({{
    container: document.getElementById("graph"),
    elements: JSON.parse(document.getElementById("elements").textContent),
    layout: {{ name: "preset" }},
    style: [
      {{ selector: "node", style: {{ "shape": "round-rectangle", "label": "data(label)", "text-wrap": "wrap",
         "text-valign": "center", "font-size": 11, "color": v("--fg"), "background-color": v("--node"),
         "border-width": 1, "border-color": v("--line"), "width": "label", "height": "label", "padding": 8 }} }},
      {{ selector: "edge", style: {{ "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
         "line-color": v("--edge"), "target-arrow-color": v("--edge"), "label": "data(label)", "font-size": 9,
         "color": v("--fg"), "text-background-color": v("--bg"), "text-background-opacity": 1 }} }}
    ]
  }});
}})();
</script></body></html>
"""
