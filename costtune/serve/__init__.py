"""gRPC scoring service: load a cost model once, score many candidates.

``costtune serve`` runs :func:`costtune.serve.server.serve`; Python users talk to
it with :class:`costtune.serve.client.Client`; other languages use
``costtune/serve/costtune.proto`` (package ``costtune.v1``).
"""

from costtune.serve.client import Client

__all__ = ["Client"]
