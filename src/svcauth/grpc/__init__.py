"""gRPC integration (``grpcio``, sync and ``grpc.aio``): call credentials for callers, an
interceptor for receivers, policies per method.

Caller::

    channel = grpc.secure_channel(target, channel_credentials(tokens))   # TLS
    channel = grpc.secure_channel("127.0.0.1:50051", local_channel_credentials(tokens))

Receiver::

    guards = MethodGuards({"/inventory.v1.Inventory/Reserve": ServicePolicy(
        required_roles={"inventory-service:inventory:reserve"})}, verifier=verifier,
        realm="techstore")
    server = grpc.server(pool, interceptors=[ServiceAuthInterceptor(guards)])
    # grpc.aio.server(interceptors=[AsyncServiceAuthInterceptor(guards)])
    ...
    def Reserve(request, context):
        caller = current_identity()          # the verified ServiceIdentity

Refusals are ``UNAUTHENTICATED`` (401 and 400 answers), ``PERMISSION_DENIED`` (403) or
``UNAVAILABLE`` (503), with the stable code in the trailing metadata ``svcauth-error`` and
the RFC 6750 challenge in ``www-authenticate``. See docs/integrations/grpc.md.
"""

from __future__ import annotations

try:
    import grpc as _grpc  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without grpcio installed
    raise ImportError(
        "svcauth.grpc needs grpcio: install it with  pip install 'svcauth[grpc]'"
    ) from exc

from ._client import (
    AsyncTokenCallCredentials,
    TokenCallCredentials,
    call_credentials,
    call_metadata,
    channel_credentials,
    local_channel_credentials,
)
from ._methods import MethodGuards
from ._refusal import GrpcRefusal, grpc_refusal_for
from ._server import (
    AsyncServiceAuthInterceptor,
    ServiceAuthInterceptor,
    authorization_values,
    current_identity,
)

__all__ = [
    "AsyncServiceAuthInterceptor",
    "AsyncTokenCallCredentials",
    "GrpcRefusal",
    "MethodGuards",
    "ServiceAuthInterceptor",
    "TokenCallCredentials",
    "authorization_values",
    "call_credentials",
    "call_metadata",
    "channel_credentials",
    "current_identity",
    "grpc_refusal_for",
    "local_channel_credentials",
]
