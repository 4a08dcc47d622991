"""The live console: executions, their histories, and the actor topology with messages flowing, in a browser.

`durable serve` serves it at `/` beside the HTTP API (same port, same token)
and prints its login link.  A program that embeds an engine, or a test that
wants to watch one, serves it with `serve_console`:

    from durable.console import serve_console

    with serve_console(engine) as console:
        print("open", console.url)   # the login link; console.stop() (or leaving the block) stops it

`create_console_app` builds the FastAPI app (the API plus the console) for
a server of your own; its `Console` owns the session key and the topology
feed, and `close()` stops the feed.  The server needs the `http` extra; the
drawings (`durable.console.svg`) do not.  See
docs/console.md for what each page shows and the security model.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Console", "ConsoleServer", "create_console_app", "serve_console"]


def __getattr__(name: str) -> Any:
    """The server's names load on first use, so `durable.console.svg` (what `durable viz` draws with)
    imports without the http extra."""
    if name in __all__:
        from durable.console import server

        return getattr(server, name)
    raise AttributeError(f"module 'durable.console' has no attribute {name!r}")
