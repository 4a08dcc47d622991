// The live topology: frames arrive over Server-Sent Events (/console/topology/feed) a few times a
// second; the page keeps the last minute of them. Live, the newest frame is drawn; paused, the
// slider and the step buttons walk back and forth through the recording.
(function () {
  "use strict";
  var KEEP = 240;              // frames kept: a minute at the feed's 4 samples a second
  var frames = [];
  var paused = false;
  var shown = -1;              // index into frames of the frame drawn while paused
  var cy = null;
  var graph, pauseButton, back, forward, scrub, info, nodeRows, edgeRows;

  function colour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  function setup() {
    graph = document.getElementById("graph");
    pauseButton = document.getElementById("pause");
    back = document.getElementById("back");
    forward = document.getElementById("forward");
    scrub = document.getElementById("scrub");
    info = document.getElementById("frame-info");
    nodeRows = document.getElementById("node-rows");
    edgeRows = document.getElementById("edge-rows");
    if (typeof cytoscape === "function") {
      cy = cytoscape({
        container: graph,
        layout: { name: "preset" },
        style: [
          { selector: "node", style: {
            "shape": "round-rectangle", "label": "data(text)", "text-wrap": "wrap", "text-valign": "center",
            "font-size": 11, "color": colour("--fg"), "background-color": colour("--panel"),
            "border-width": 2, "border-color": colour("--muted"), "width": "label", "height": "label",
            "padding": 8 } },
          { selector: "node[state = 'active']", style: { "border-color": colour("--ok") } },
          { selector: "node[state = 'busy']", style: { "border-color": colour("--bad"), "border-width": 3 } },
          { selector: "edge", style: {
            "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": colour("--muted"),
            "target-arrow-color": colour("--muted"), "width": "mapData(rate, 0, 400, 1, 7)",
            "label": "data(text)", "font-size": 10, "color": colour("--fg"),
            "text-background-color": colour("--bg"), "text-background-opacity": 0.85 } },
          { selector: "edge[rate = 0]", style: { "line-style": "dashed", "opacity": 0.5 } }
        ]
      });
    }
    window.durableTopology = { cy: cy, frames: function () { return frames; } };
    pauseButton.addEventListener("click", function () { setPaused(!paused); });
    back.addEventListener("click", function () { step(-1); });
    forward.addEventListener("click", function () { step(1); });
    scrub.addEventListener("input", function () { shown = Number(scrub.value); draw(frames[shown]); });
    document.addEventListener("keydown", function (event) {
      if (event.target && (event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA")) { return; }
      if (event.key === " " || event.key === "p") { event.preventDefault(); setPaused(!paused); }
      if (paused && event.key === "ArrowLeft") { step(-1); }
      if (paused && event.key === "ArrowRight") { step(1); }
    });
    connect();
  }

  function connect() {
    var source = new EventSource("/console/topology/feed");
    source.addEventListener("frame", function (event) {
      var frame = JSON.parse(event.data);
      frames.push(frame);
      if (frames.length > KEEP) {
        frames.shift();
        if (paused && shown > 0) { shown -= 1; }
      }
      if (!paused) { draw(frame); }
      controls();
    });
    source.addEventListener("error", function () {
      if (window.durableConsole) { window.durableConsole.unreachable(); }
    });
    if (window.durableConsole) {
      // The browser retries a dropped stream by itself; one it gave up on (the server restarted and no
      // longer knows this session) is replaced by reloading the page, which leads to the login page.
      window.durableConsole.onReconnect(function () {
        if (source.readyState === EventSource.CLOSED) { window.location.reload(); }
      });
    }
  }

  function setPaused(on) {
    paused = on;
    pauseButton.setAttribute("aria-pressed", on ? "true" : "false");
    pauseButton.textContent = on ? "Resume live" : "Pause";
    shown = frames.length - 1;
    if (frames.length) { draw(frames[frames.length - 1]); }
    controls();
  }

  function step(by) {
    if (!frames.length) { return; }
    shown = Math.max(0, Math.min(frames.length - 1, shown + by));
    draw(frames[shown]);
    controls();
  }

  function controls() {
    back.disabled = !paused || shown <= 0;
    forward.disabled = !paused || shown >= frames.length - 1;
    scrub.disabled = !paused;
    scrub.max = String(Math.max(0, frames.length - 1));
    scrub.value = String(paused ? shown : frames.length - 1);
  }

  function rate(value) { return (Math.round(value * 10) / 10).toFixed(1) + "/s"; }

  function nodeText(node) {
    var extra = "mailbox " + node.depth + (node.busy ? " · busy " + node.busy : "") +
      (node.rate ? " · " + rate(node.rate) : "");
    return node.label + "\n" + extra;
  }

  function draw(frame) {
    if (!frame) { return; }
    var age = ((Date.now() / 1000) - frame.at).toFixed(1);
    info.textContent = (paused ? "paused at sample " : "live, sample ") + frame.seq + " (" +
      new Date(frame.at * 1000).toLocaleTimeString() + (paused ? ", " + age + " s ago" : "") + "), " +
      frame.messages + " messages in " + frame.interval.toFixed(2) + " s";
    graph.dataset.seq = String(frame.seq);
    graph.dataset.messages = String(frame.messages);
    graph.dataset.nodes = String(frame.nodes.length);
    if (cy) { drawGraph(frame); }
    drawTables(frame);
  }

  function drawGraph(frame) {
    var seen = {};
    cy.batch(function () {
      frame.nodes.forEach(function (node) {
        seen[node.id] = true;
        var data = { id: node.id, text: nodeText(node), state: node.state, rate: node.rate };
        var existing = cy.getElementById(node.id);
        if (existing.length) {
          existing.data(data);
          existing.position({ x: node.x, y: node.y });
        } else {
          cy.add({ group: "nodes", data: data, position: { x: node.x, y: node.y } });
        }
      });
      frame.edges.forEach(function (edge) {
        var id = edge.source + " -> " + edge.target;
        seen[id] = true;
        var data = { id: id, source: edge.source, target: edge.target, rate: edge.rate, text: rate(edge.rate) };
        var existing = cy.getElementById(id);
        if (existing.length) { existing.data(data); } else { cy.add({ group: "edges", data: data }); }
      });
      cy.elements().forEach(function (element) { if (!seen[element.id()]) { cy.remove(element); } });
    });
    if (!graph.dataset.fitted || graph.dataset.fitted !== String(frame.nodes.length)) {
      cy.fit(undefined, 20);
      graph.dataset.fitted = String(frame.nodes.length);
    }
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
  }

  function drawTables(frame) {
    var labels = {};
    var nodes = document.createDocumentFragment();
    frame.nodes.forEach(function (node) {
      labels[node.id] = node.label.replace(/\n/g, " ");
      var row = document.createElement("tr");
      row.dataset.kind = node.kind;
      cell(row, labels[node.id]);
      cell(row, String(node.members), "num");
      cell(row, String(node.depth), "num");
      cell(row, String(node.busy), "num");
      cell(row, node.rate.toFixed(1), "num");
      cell(row, node.state, "state-" + node.state);
      nodes.appendChild(row);
    });
    nodeRows.replaceChildren(nodes);
    var edges = document.createDocumentFragment();
    frame.edges.slice().sort(function (a, b) { return b.rate - a.rate; }).forEach(function (edge) {
      var row = document.createElement("tr");
      cell(row, labels[edge.source] || edge.source);
      cell(row, labels[edge.target] || edge.target);
      cell(row, edge.rate.toFixed(1), "num");
      edges.appendChild(row);
    });
    edgeRows.replaceChildren(edges);
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
