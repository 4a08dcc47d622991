"""The HTTP API (`durable serve`): complete callbacks and manage executions over HTTP.

`create_app` builds the application over an `Engine`; `serving_in_background`
serves it from a thread; `ServerLimits` lists every limit the server enforces.
Needs the `http` extra (FastAPI, uvicorn).
"""

from durable.http_api.app import create_app
from durable.http_api.server import ServerLimits, server_config, serving_in_background

__all__ = ["ServerLimits", "create_app", "server_config", "serving_in_background"]
