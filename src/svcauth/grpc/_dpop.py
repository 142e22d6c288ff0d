"""DPoP over gRPC (RFC 9449 applied to HTTP/2 calls): the ``htm``/``htu`` rule, the same on
both sides, and the ``dpop`` metadata.

The rule:

* ``htm`` is ``POST`` (every gRPC call is an HTTP/2 POST);
* ``htu`` is ``<scheme>://<authority>/<package.Service>/<Method>``: the channel target as the
  caller addressed it and the full method name. The caller builds it from gRPC's
  ``AuthMetadataContext.service_url`` (``https://host:port/package.Service`` on a TLS
  channel; ``://host:port/package.Service``, with no scheme, on a local channel, read as
  ``http``) and ``method_name``. The server cannot see the ``:authority`` a call was sent
  to (grpcio hides it), so it is told: ``DPoPSettings(external_url="http://127.0.0.1:50051")``
  (the base URL callers address it by, scheme included), and compares the proof's ``htu``
  with that base plus the called method, RFC 9449 §4.3-normalised (case of scheme and
  host, default ports).

Server nonces (``use_dpop_nonce``) are not offered over gRPC: a guard whose DPoP settings
ask for nonces is refused at configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._errors import ConfigurationError
from ..receiver import DPoPSettings, RequestInfo

__all__ = ["DPOP_METHOD", "caller_htu", "dpop_metadata_values", "receiver_htu"]

DPOP_METHOD = "POST"
"""The ``htm`` of every gRPC proof."""
_DPOP = "dpop"


def caller_htu(service_url: str, method_name: str) -> str:
    """The ``htu`` of a call to ``method_name`` of ``service_url`` (from gRPC's
    ``AuthMetadataContext``); a scheme-less ``service_url`` (a local channel) is ``http``."""
    scheme, sep, rest = service_url.partition("://")
    authority, _, service = rest.partition("/")
    if not sep or not authority or not service:
        raise ConfigurationError("gRPC DPoP: expected a service URL [scheme]://host:port/"
                                 "package.Service from gRPC, found another shape")
    return f"{(scheme or 'http').lower()}://{authority.lower()}/{service}/{method_name}"


def receiver_htu(settings: DPoPSettings, method: str, where: str) -> str:
    """The ``htu`` a proof for ``method`` (``/package.Service/Method``) must name at a server
    configured with ``settings``; ``where`` names the guard's key in errors."""
    if settings.external_url is None:
        raise ConfigurationError(
            f"grpc method {where!r}: DPoP over gRPC needs DPoPSettings(external_url=...), the "
            "base URL callers address this server by (http://127.0.0.1:50051): gRPC servers "
            "do not see the :authority a call was sent to")
    if settings.nonces is not None:
        raise ConfigurationError(f"grpc method {where!r}: DPoP server nonces are not offered "
                                 "over gRPC; expected DPoPSettings(nonces=None)")
    return settings.external_url.rstrip("/") + method


def dpop_metadata_values(metadata: Iterable[tuple[str, Any]] | None) -> list[str]:
    """Every ``dpop`` value of the call's invocation metadata (keys arrive lower-cased)."""
    return [value.decode("latin-1") if isinstance(value, bytes) else value
            for key, value in metadata or () if key == _DPOP]


def request_info(url: str, metadata: Iterable[tuple[str, Any]] | None) -> RequestInfo:
    """What the guard checks the proof against: ``POST``, ``url`` and the call's proofs."""
    return RequestInfo(DPOP_METHOD, url, tuple(dpop_metadata_values(metadata)))
