"""The live console: executions, their histories, and the actor topology with messages flowing, in a browser.

`durable serve` serves it at `/` beside the HTTP API (same port, same token)
and prints its login link.  A program that embeds an engine, or a test that
wants to watch one, serves it with `serve_console`:

    from durable.console import serve_console

    with serve_console(engine) as console:
        print("open", console.url)   # the login link; console.stop() (or leaving the block) stops it

`create_console_app` builds the FastAPI app (the API plus the console) for
a server of your own; its `Console` owns the session key and the topology
feed, and `close()` stops the feed.  Needs the `http` extra (the drawings,
`durable.viz`, do not).  See
docs/console.md for what each page shows and the security model.
"""

from durable.console.server import Console, ConsoleServer, create_console_app, serve_console

__all__ = ["Console", "ConsoleServer", "create_console_app", "serve_console"]
