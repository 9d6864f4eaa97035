"""gRPC scoring service: load a cost model once, score many candidates.

``costtune serve`` runs :func:`costtune.serve.server.serve`; Python users talk to
it with :class:`costtune.serve.client.Client`; other languages use
``costtune/serve/costtune.proto`` (package ``costtune.v1``).
"""

import os

# gRPC's fork handlers and costtune.process (fork + exec with a preexec_fn, for compiling
# candidates inside the server) do not mix: with them on, children of a process that
# serves or calls gRPC died with SIGSEGV before exec. Must be set before grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from costtune.serve.client import Client  # noqa: E402

__all__ = ["Client"]
