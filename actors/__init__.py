"""The actors of the runtime and, in `actors.messages`, every message they exchange.

Actors import only the layers below them: the pure core (`durable.core`,
`durable.serdes`, `durable.exceptions`, `durable.clock`) and the stores.
Python runs a package's `__init__` before any of its modules, and
`durable/__init__` is the user API, which reaches `actors.messages`; so the
`durable` package starts loading here, before any actor module does, and an
actor module imported first (a worker process unpickling its entry point)
does not meet itself half-built.
"""

import durable.core  # noqa: F401  (load order only: see above)
