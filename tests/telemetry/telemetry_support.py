"""Keys, tokens, a JWKS endpoint and a token endpoint for the telemetry tests (no sockets)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK is optional: the no-otel test imports this module without it
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.caller import CachingTokenSource, ClientConfig, ClientCredentialsSource, ClientSecretBasic

ISSUER = "http://idp.telemetry.test:8080/realms/techstore"
JWKS_URI = ISSUER + "/protocol/openid-connect/certs"
TOKEN_URL = ISSUER + "/protocol/openid-connect/token"
AUDIENCE = "notification-service"
SECRET = "tElemetry-S3cret-never-in-telemetry-4a7c"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class Signer:
    """An RSA key that signs tokens and publishes itself as a JWKS."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex[:8]
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        return public_jwk(self.key, kid=self.kid, alg="RS256", use="sig")

    def token(self, azp: str = "shop-api", *, now: float | None = None, **claims: Any) -> str:
        now = time.time() if now is None else now
        payload = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(now) + 300, "iat": int(now),
                   "azp": azp, "client_id": azp, "typ": "Bearer", "sub": str(uuid.uuid4()),
                   "email": "alice@example.com",
                   "resource_access": {AUDIENCE: {"roles": ["notifications:send"]}}, **claims}
        return sign_compact(payload, self.key, "RS256", {"typ": "JWT", "kid": self.kid})


class JwksServer:
    """A JWKS endpoint behind MockTransport serving the given signers' keys."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.requests = 0
        self.status = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.status != 200:
            return httpx.Response(self.status, text="down")
        return httpx.Response(200, json={"keys": [s.jwk() for s in self.signers]})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def access_token(n: int) -> str:
    """A JWT-looking access token, distinct per ``n``."""
    body = base64.urlsafe_b64encode(json.dumps({"n": n}).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.telemetry-sig-{n:04d}"


class TokenEndpoint:
    """A token endpoint behind MockTransport: scripted statuses first, then tokens."""

    def __init__(self, *script: int, expires_in: int = 300) -> None:
        self.script = list(script)
        self.issued: list[str] = []
        self.expires_in = expires_in

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.script:
            status = self.script.pop(0)
            error = "invalid_client" if status == 401 else "temporarily_unavailable"
            return httpx.Response(status, json={"error": error})
        token = access_token(len(self.issued) + 1)
        self.issued.append(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "Bearer",
                                         "expires_in": self.expires_in})


def caching_source(endpoint: Callable[[httpx.Request], httpx.Response], clock: Clock,
                   client_id: str | None = None) -> CachingTokenSource:
    """A cached client-credentials source of a fresh client id (metrics are per client)."""
    config = ClientConfig(client_id=client_id or f"svc-{uuid.uuid4().hex[:8]}",
                          auth=ClientSecretBasic(SECRET), token_endpoint=TOKEN_URL)
    source = ClientCredentialsSource(
        config, http=httpx.Client(transport=httpx.MockTransport(endpoint)),
        ahttp=httpx.AsyncClient(transport=httpx.MockTransport(endpoint)), clock=clock,
        wall_clock=lambda: 1_700_000_000.0 + clock.now, sleep=clock.sleep)
    return CachingTokenSource(source)


@dataclass
class Otel:
    """What a test reads: finished spans and collected metric points."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], float]]:
        """(attributes, value) of every data point of ``metric`` (histograms: count)."""
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], float]] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name != metric:
                        continue
                    for p in m.data.data_points:
                        value = getattr(p, "value", None)
                        found.append((dict(p.attributes or {}),
                                      value if value is not None else p.count))
        return found

    def value(self, metric: str, **attributes: Any) -> float:
        """The point of ``metric`` whose attributes include ``attributes`` (0 when none)."""
        matches = [v for a, v in self.points(metric)
                   if all(a.get(k) == want for k, want in attributes.items())]
        assert len(matches) <= 1, matches
        return matches[0] if matches else 0
