"""The console's pages, rendered on the server from string templates.

Everything that comes from the store (ids, names, inputs, results, errors,
history) passes through `e` (html.escape, quotes included) before it
reaches a page.  Pages hold no inline script or style (the
Content-Security-Policy forbids both); behaviour is in `static/console.js`
and `static/topology.js`.  Forms that change something carry the session's
CSRF token and POST; the bearer token never appears in a page.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from durable import __version__
from durable.core.history import history_rows
from durable.core.records import OperationRecord
from durable.stores.base import ExecutionRecord, ExecutionStatus

SHOWN_TEXT = 20_000
CURRENT = ' aria-current="page"'


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(value: float | None) -> str:
    if value is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value)) + f".{int(value % 1 * 1000):03d}Z"


def pretty(text: str | None) -> str:
    """JSON text indented for reading (as stored, if it is not JSON), cut at SHOWN_TEXT characters."""
    if text is None:
        return ""
    try:
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        shown = text
    if len(shown) > SHOWN_TEXT:
        shown = shown[:SHOWN_TEXT] + f"\n… ({len(shown) - SHOWN_TEXT:,} more characters)"
    return shown


def layout(title: str, body: str, csrf: str | None = None, current: str = "", scripts: Iterable[str] = ()) -> str:
    """The frame of every page: header and navigation, the offline banner, the main content."""
    nav = ""
    if csrf is not None:
        links = [("executions", "/console/executions", "Executions"), ("topology", "/console/topology", "Topology")]
        items = "".join(
            f'<a href="{href}"{CURRENT if key == current else ""}>{label}</a>' for key, href, label in links
        )
        nav = (f'<nav aria-label="console">{items}</nav>'
               f'<form method="post" action="/console/logout" class="logout">{csrf_field(csrf)}'
               f'<button type="submit">Log out</button></form>')
    script_tags = "".join(f'<script src="/console/static/{e(name)}" defer></script>' for name in scripts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · durable console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>{script_tags}
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">durable <small>{e(__version__)}</small></span>{nav}</header>
<div id="offline" class="banner" role="alert" hidden>Cannot reach the server. Retrying…</div>
<main id="main">
{body}
</main></body></html>
"""


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(csrf)}">'


def notice(text: str | None, kind: str = "ok") -> str:
    if not text:
        return ""
    role = "alert" if kind == "error" else "status"
    return f'<p class="notice {kind}" role="{role}">{e(text)}</p>'


def login_help(reason: str = "", status_line: str = "") -> str:
    """Where a visitor without a session lands: how to get the link, and a form for the token."""
    body = f"""<h1>Open the console</h1>
{notice(reason, "error") if reason else ""}
<p>The console opens from the login link that <code>durable serve</code> prints when it starts:</p>
<pre>durable serve --function MODULE:FUNCTION
serving http://127.0.0.1:8765 …
console: http://127.0.0.1:8765/console/login?key=…</pre>
<p>Open that link in this browser. A program that embeds the engine gets the same link from
<code>durable.console.serve_console(engine).url</code>.</p>
<p>Or enter the server's bearer token (the one <code>durable serve</code> printed,
or <code>DURABLE_API_TOKEN</code>):</p>
<form method="post" action="/console/login" class="login">
<label for="token">Bearer token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Open the console</button>
</form>{f'<p class="muted">{e(status_line)}</p>' if status_line else ""}"""
    return layout("Log in", body)


def error_page(status: int, message: str, csrf: str | None = None) -> str:
    """The one-line page every console error renders (never a traceback)."""
    body = f"""<h1>{status}: {e(_REASONS.get(status, "Error"))}</h1>
<p class="notice error" role="alert">{e(message)}</p>
<p><a href="/console/executions">Back to the executions</a></p>"""
    return layout(f"{status}", body, csrf)


_REASONS = {400: "Bad request", 403: "Refused", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
            413: "Too large", 500: "Internal error"}


def status_badge(status: ExecutionStatus | str) -> str:
    value = status.value if isinstance(status, ExecutionStatus) else status
    return f'<span class="badge {e(value.lower())}">{e(value)}</span>'


def executions_page(
    records: list[ExecutionRecord],
    filters: dict[str, str],
    next_cursor: str | None,
    csrf: str,
    functions: list[str],
    message: str | None = None,
    took_ms: float | None = None,
) -> str:
    statuses = "".join(
        f'<option value="{s.value}"{" selected" if filters.get("status") == s.value else ""}>{s.value}</option>'
        for s in ExecutionStatus
    )
    function_options = "".join(f'<option value="{e(name)}"></option>' for name in functions)
    rows = "".join(
        f"""<tr>
<td><input type="checkbox" name="execution_id" value="{e(r.execution_id)}" form="bulk"
 aria-label="select {e(r.execution_id)}"{"" if not r.status.is_terminal else " disabled"}></td>
<td><a href="/console/executions/{e(r.execution_id)}"><code>{e(r.execution_id)}</code></a></td>
<td>{status_badge(r.status)}</td><td>{e(r.function_name)}</td><td>{e(r.name or "")}</td>
<td>{e(when(r.created))}</td><td>{e(when(r.ended))}</td><td class="num">{r.invocations}</td></tr>"""
        for r in records
    )
    kept = {key: value for key, value in filters.items() if value and key != "before"}
    more = (f'<a class="button" rel="next" href="/console/executions?{e(urlencode({**kept, "before": next_cursor}))}">'
            "Older</a>") if next_cursor else ""
    first = (f'<a class="button" href="/console/executions?{e(urlencode(kept))}">Newest</a>'
             if filters.get("before") else "")
    timing = f'<span class="muted">{took_ms:.1f} ms</span>' if took_ms is not None else ""
    body = f"""<h1>Executions</h1>
{notice(message)}
<form method="get" action="/console/executions" class="filters" role="search">
<label>Status <select name="status"><option value="">any</option>{statuses}</select></label>
<label>Function <input name="function" list="functions" value="{e(filters.get("function", ""))}"></label>
<datalist id="functions">{function_options}</datalist>
<label>Name starts with <input name="name" value="{e(filters.get("name", ""))}"></label>
<button type="submit">Filter</button> <a href="/console/executions">Clear</a>
</form>
<form method="post" action="/console/executions/stop" id="bulk" class="bulk">{csrf_field(csrf)}
<button type="submit">Stop selected…</button></form>
<table class="executions"><thead><tr><th scope="col"><span class="sr">select</span></th><th scope="col">Execution</th>
<th scope="col">Status</th><th scope="col">Function</th><th scope="col">Name</th><th scope="col">Created (UTC)</th>
<th scope="col">Ended (UTC)</th><th scope="col">Invocations</th></tr></thead>
<tbody>{rows or '<tr><td colspan="8" class="muted">No executions match.</td></tr>'}</tbody></table>
<p class="pager">{first} {more} {timing}</p>"""
    return layout("Executions", body, csrf, "executions")


def execution_page(
    record: ExecutionRecord,
    operations: list[OperationRecord],
    events: list[dict[str, Any]],
    timeline_svg: str,
    csrf: str,
    message: str | None = None,
    problem: str | None = None,
) -> str:
    eid = e(record.execution_id)
    facts = [
        ("Status", status_badge(record.status)), ("Function", e(record.function_name)),
        ("Name", e(record.name or "")), ("Created", e(when(record.created))), ("Ended", e(when(record.ended))),
        ("Invocations", str(record.invocations)),
    ]
    if record.parent_execution_id:
        facts.append(("Started by", f'<a href="/console/executions/{e(record.parent_execution_id)}">'
                                    f"{e(record.parent_execution_id)}</a>"))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    outcome = ""
    if record.result is not None:
        outcome = f'<h2>Result</h2><pre class="json">{e(pretty(record.result))}</pre>'
    if record.error is not None:
        outcome += f'<h2>Error</h2><pre class="json error">{e(pretty(json.dumps(record.error.to_dict())))}</pre>'
    callbacks = [op for op in operations if op.callback_id and not op.status.is_terminal]
    callback_forms = "".join(
        f"""<li><h3>{e(op.name or "callback")} <small>operation {e(op.operation_id)}</small></h3>
<form method="post" action="/console/executions/{eid}/callbacks/{e(op.operation_id)}/succeed" class="callback">
{csrf_field(csrf)}<label>Result (JSON, optional) <textarea name="result" rows="2"></textarea></label>
<button type="submit" class="succeed">Succeed</button></form>
<form method="post" action="/console/executions/{eid}/callbacks/{e(op.operation_id)}/fail" class="callback">
{csrf_field(csrf)}<label>Error type <input name="error_type" value="Rejected"></label>
<label>Message <input name="error_message"></label>
<button type="submit" class="fail">Fail</button></form></li>"""
        for op in callbacks
    )
    open_callbacks = f'<h2>Open callbacks</h2><ul class="callbacks">{callback_forms}</ul>' if callbacks else ""
    actions = f"""<form method="post" action="/console/executions/{eid}/rerun" class="inline">{csrf_field(csrf)}
<button type="submit">Run again…</button></form>"""
    if not record.status.is_terminal:
        actions = f"""<form method="post" action="/console/executions/{eid}/stop" class="inline">{csrf_field(csrf)}
<button type="submit" class="danger">Stop…</button></form>""" + actions
    history = "".join(
        f"<tr><td class=\"num\">{e(n)}</td><td>{e(t)}</td><td>{e(kind)}</td><td>{e(op)}</td><td>{e(name)}</td>"
        f"<td>{e(gist)}</td></tr>"
        for n, t, kind, op, name, gist in history_rows(events)
    )
    body = f"""<p><a href="/console/executions">← Executions</a></p>
<h1>Execution <code>{eid}</code></h1>
{notice(message)}{notice(problem, "error")}
<div class="actions">{actions}</div>
<dl class="facts">{dl}</dl>
{open_callbacks}
<h2>Input</h2><pre class="json">{e(pretty(record.input))}</pre>
{outcome}
<h2>Timeline</h2>
<div class="timeline-box">{timeline_svg or '<p class="muted">No operations yet.</p>'}</div>
<h2>History</h2>
<table class="history"><thead><tr><th scope="col">#</th><th scope="col">Time (UTC)</th><th scope="col">Event</th>
<th scope="col">Operation</th><th scope="col">Name</th><th scope="col">Details</th></tr></thead>
<tbody>{history}</tbody></table>"""
    return layout(f"Execution {record.execution_id[:8]}", body, csrf, "executions")


def confirm_page(question: str, action: str, fields: dict[str, list[str]], csrf: str, button: str,
                 back: str, details: Iterable[str] = ()) -> str:
    """Asks before an action: the same form posted again with `confirmed=yes`."""
    hidden = "".join(
        f'<input type="hidden" name="{e(name)}" value="{e(value)}">' for name, values in fields.items()
        for value in values
    )
    items = "".join(f"<li><code>{e(item)}</code></li>" for item in details)
    body = f"""<h1>{e(question)}</h1>
{f"<ul>{items}</ul>" if items else ""}
<form method="post" action="{e(action)}" class="confirm">{csrf_field(csrf)}{hidden}
<input type="hidden" name="confirmed" value="yes">
<button type="submit" class="danger" autofocus>{e(button)}</button>
<a class="button" href="{e(back)}">Cancel</a></form>"""
    return layout("Confirm", body, csrf)


def topology_page(csrf: str) -> str:
    body = """<h1>Topology</h1>
<p class="muted">The engine's actors, live: a node's colour says busy, active (handled messages in the last sample)
or idle; edges carry messages per second. Paused, the slider steps through the last minute.</p>
<div class="controls" role="group" aria-label="recording">
<button type="button" id="pause" aria-pressed="false">Pause</button>
<button type="button" id="back" disabled>◀ Step back</button>
<button type="button" id="forward" disabled>Step forward ▶</button>
<label for="scrub">Recording</label>
<input type="range" id="scrub" min="0" max="0" value="0" disabled>
<span id="frame-info" aria-live="polite">waiting for the first sample…</span>
</div>
<div id="graph" aria-label="actor graph (the table below lists the same nodes)"></div>
<h2>Nodes</h2>
<table class="nodes"><thead><tr><th scope="col">Actor</th><th scope="col">Count</th><th scope="col">Mailbox</th>
<th scope="col">Busy</th><th scope="col">Handled/s</th><th scope="col">State</th></tr></thead>
<tbody id="node-rows"></tbody></table>
<h2>Edges</h2>
<table class="edges"><thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Messages/s</th></tr>
</thead><tbody id="edge-rows"></tbody></table>"""
    return layout("Topology", body, csrf, "topology", scripts=("vendor/cytoscape.min.js", "topology.js"))
