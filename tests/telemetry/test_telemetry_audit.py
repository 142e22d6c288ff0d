"""The audit trail: one ``svcauth.audit`` JSON line per request on a receiver, whatever the
integration, carrying the request's trace id; and nothing secret anywhere in telemetry: no
span attribute, event or status, log line or metric label holds a token or a secret."""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.

import json
import logging
from typing import Annotated, Any

import flask
import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from telemetry_support import (
    AUDIENCE,
    ISSUER,
    JWKS_URI,
    SECRET,
    Clock,
    JwksServer,
    Otel,
    Signer,
    TokenEndpoint,
    caching_source,
)

from svcauth.asgi import ServiceAuthMiddleware
from svcauth.fastapi import ServiceAuth, install_error_handlers
from svcauth.flask import require_service
from svcauth.receiver import Guard, RemoteKeySet, ServicePolicy, Verifier


def _guard(jwks: JwksServer) -> Guard[Any]:
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(5000.0), http_client=jwks.client(),
                        async_http_client=jwks.async_client())
    return Guard(Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys),
                 ServicePolicy(allowed_clients={"shop-api"}), realm=AUDIENCE)


def _fastapi(guard: Guard[Any]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/orders/{order_id}")
    async def order(order_id: str, caller: Annotated[Any, Depends(ServiceAuth(guard))]) -> dict[str, str]:
        return {"caller": caller.client_id}

    return app


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "svcauth.audit"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_each_fastapi_request_is_one_audit_line_with_its_trace_id(
        otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    signer = Signer()
    client = TestClient(_fastapi(_guard(JwksServer(signer))))
    cases = [
        (_bearer(signer.token("shop-api")), 200, "allow", None, "shop-api"),
        ({}, 401, "deny", "token_missing", None),
        (_bearer(signer.token("shop-api", now=1_000_000_000.0)), 401, "deny", "token_expired", None),
        (_bearer(signer.token("inventory-sync")), 403, "deny", "unauthorized_service",
         "inventory-sync"),
    ]
    with caplog.at_level(logging.INFO, logger="svcauth.audit"):
        for headers, status, *_ in cases:
            assert client.post("/orders/o-1", headers=headers).status_code == status
    lines = _audit_lines(caplog)
    assert len(lines) == len(cases)
    servers = [s for s in otel.spans() if s.kind == trace.SpanKind.SERVER]
    assert len(servers) == len(cases)
    for line, server, (_, status, decision, code, client_id) in zip(lines, servers, cases, strict=True):
        assert set(line) == {"time", "client_id", "endpoint", "decision", "status", "error_code",
                             "trace_id"}
        assert (line["decision"], line["status"], line["error_code"], line["client_id"]) == (
            decision, status, code, client_id)
        assert line["endpoint"] == "POST /orders/o-1"
        assert line["trace_id"] == format(server.context.trace_id, "032x")
        assert line["time"].endswith("Z")


def test_flask_and_plain_asgi_requests_are_audited_once_with_their_endpoint(
        otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    signer = Signer()
    guard = _guard(JwksServer(signer))
    flask_app = flask.Flask(__name__)

    @flask_app.get("/flask/ping")
    @require_service(guard)
    def ping() -> str:
        return "pong"

    async def asgi_ping(request: Any) -> PlainTextResponse:
        return PlainTextResponse("pong")

    asgi_app = ServiceAuthMiddleware(Starlette(routes=[Route("/asgi/ping", asgi_ping)]), guard)
    token = signer.token("shop-api")
    with caplog.at_level(logging.INFO, logger="svcauth.audit"):
        assert flask_app.test_client().get("/flask/ping?x=1", headers=_bearer(token)).status_code == 200
        assert TestClient(asgi_app).get("/asgi/ping").status_code == 401
    lines = _audit_lines(caplog)
    assert [(x["endpoint"], x["decision"], x["error_code"]) for x in lines] == [
        ("GET /flask/ping", "allow", None), ("GET /asgi/ping", "deny", "token_missing")]


def test_audit_costs_nothing_and_logs_nothing_when_its_logger_is_off(
        otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    signer = Signer()
    client = TestClient(_fastapi(_guard(JwksServer(signer))))
    with caplog.at_level(logging.WARNING, logger="svcauth.audit"):
        assert client.post("/orders/o-1", headers=_bearer(signer.token())).status_code == 200
    assert _audit_lines(caplog) == []


def _everything_recorded(otel: Otel, caplog: pytest.LogCaptureFixture) -> str:
    parts: list[str] = [caplog.text]
    parts += [r.getMessage() for r in caplog.records]
    for span in otel.spans():
        parts.append(span.name)
        parts.append(json.dumps(dict(span.attributes or {}), default=str))
        parts.append(str(span.status.description))
        for event in span.events:
            parts.append(json.dumps(dict(event.attributes or {}), default=str))
    data = otel.reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    parts.append(json.dumps(dict(p.attributes or {}), default=str))
    return "\n".join(parts)


def test_no_token_or_secret_in_spans_logs_or_metric_labels(
        otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    signer = Signer()
    endpoint = TokenEndpoint(503)
    source = caching_source(endpoint, Clock(1000.0), client_id="shop-api")
    app = _fastapi(_guard(JwksServer(signer)))
    valid = signer.token("shop-api")
    expired = signer.token("shop-api", now=1_000_000_000.0)
    head, payload, signature = valid.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    with caplog.at_level(logging.DEBUG):
        issued = source.token()
        with TestClient(app) as client:
            for token in (valid, expired, forged, issued):
                client.post("/orders/o-1", headers=_bearer(token))
        with httpx.Client(transport=httpx.MockTransport(endpoint)) as http:
            http.post("http://idp.telemetry.test:8080/x", auth=("shop-api", SECRET))
    recorded = _everything_recorded(otel, caplog)
    assert len(_audit_lines(caplog)) == 4  # the scan saw the audit lines
    assert "svcauth.token.fetch" in recorded and "svcauth.verify" in recorded
    secrets = {SECRET, valid, expired, forged, issued, signature, payload,
               issued.split(".")[2], "alice@example.com"}
    for secret in secrets:
        assert secret not in recorded, f"found {secret[:12]}... in telemetry"
