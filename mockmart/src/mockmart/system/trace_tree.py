"""The first checkout's trace as a tree with durations, from the services' span files.

Each service process writes its spans as JSON lines (:class:`~mockmart.tracing.
JsonLinesSpanExporter`); this module gathers them, picks the trace of the earliest
``POST /api/checkout`` and draws it::

    shop-api POST /api/checkout  14.2 ms
    └─ (later, +0.18 s) shop-api dispatcher deliver order.completed  61.0 ms
       ├─ shop-api svcauth.token.fetch [miss, 1 attempt, HTTP 200] → keycloak  9.1 ms
       │  └─ shop-api → keycloak POST /realms/techstore/protocol/openid-connect/token  8.7 ms
       └─ shop-api → notification-service POST /api/notifications/order  44.0 ms
          └─ notification-service POST /api/notifications/order  40.2 ms
             ├─ notification-service svcauth.verify [valid, caller shop-api]  6.3 ms
             │  └─ notification-service svcauth.jwks.fetch [ok, 1 key] → keycloak  5.8 ms
             └─ notification-service SMTP send → smtp  3.9 ms

Pure apart from reading the files: :func:`load_spans`, :func:`checkout_trace`,
:func:`render_tree`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["TraceTree", "checkout_trace", "first_checkout_tree", "load_spans", "render_tree"]

CHECKOUT = "POST /api/checkout"


def load_spans(span_dir: Path) -> list[dict[str, Any]]:
    """Every span in ``span_dir/*.jsonl`` (a torn last line is skipped)."""
    spans: list[dict[str, Any]] = []
    for path in sorted(span_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                spans.append(json.loads(line))
            except ValueError:
                continue
    return spans


def checkout_trace(spans: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans of the earliest checkout's trace (empty when there was none)."""
    spans = list(spans)
    checkouts = [s for s in spans if s["name"] == CHECKOUT and s["kind"] == "SERVER"]
    if not checkouts:
        return []
    trace_id = min(checkouts, key=lambda s: s["start_ns"])["trace_id"]
    return [s for s in spans if s["trace_id"] == trace_id]


def _ms(span: Mapping[str, Any]) -> float:
    return float(span["end_ns"] - span["start_ns"]) / 1e6


def _peer(attrs: Mapping[str, Any], peers: Mapping[str, str]) -> tuple[str, str]:
    """(peer name, path) of a client span, from server.* or the URL attributes."""
    url = attrs.get("url.full") or attrs.get("http.url") or ""
    parts = urlsplit(str(url)) if url else None
    host = attrs.get("server.address") or (parts.hostname if parts else "") or ""
    port = attrs.get("server.port") or (parts.port if parts else None)
    path = attrs.get("url.path") or (parts.path if parts else "")
    name = peers.get(f"{host}:{port}") or peers.get(str(host)) or f"{host}:{port}"
    return name, str(path)


def label(span: Mapping[str, Any], peers: Mapping[str, str]) -> str:
    """One line's text: service, operation and, for client spans, whom it called."""
    attrs = span.get("attributes", {})
    service, name = span["service"], span["name"]
    method = attrs.get("http.request.method") or attrs.get("http.method")
    if span["kind"] == "CLIENT" and method:
        peer, path = _peer(attrs, peers)
        return f"{service} → {peer} {method} {path}"
    if name == "svcauth.token.fetch":
        attempts = attrs.get("svcauth.fetch.attempts", 0)
        detail = [str(attrs.get("svcauth.cache.outcome", "?")),
                  f"{attempts} attempt{'s' if attempts != 1 else ''}"]
        if "http.response.status_code" in attrs:
            detail.append(f"HTTP {attrs['http.response.status_code']}")
        if "error.type" in attrs:
            detail.append(str(attrs["error.type"]))
        return f"{service} {name} [{', '.join(detail)}] → {_peer(attrs, peers)[0]}"
    if name == "svcauth.jwks.fetch":
        keys = attrs.get("svcauth.jwks.keys")
        detail = [str(attrs.get("svcauth.outcome", "?"))]
        if keys is not None:
            detail.append(f"{keys} key{'s' if keys != 1 else ''}")
        return f"{service} {name} [{', '.join(detail)}] → {_peer(attrs, peers)[0]}"
    if name == "svcauth.verify":
        detail = [str(attrs.get("svcauth.outcome", "?"))]
        if "svcauth.caller" in attrs:
            detail.append(f"caller {attrs['svcauth.caller']}")
        if "error.type" in attrs:
            detail.append(str(attrs["error.type"]))
        return f"{service} {name} [{', '.join(detail)}]"
    if span["kind"] == "CLIENT" and "server.address" in attrs:
        return f"{service} {name} → {_peer(attrs, peers)[0]}"
    return f"{service} {name}"


@dataclass
class TraceTree:
    """A trace drawn as text."""

    trace_id: str
    """32 hex digits."""
    lines: list[str] = field(default_factory=list)
    """The drawing, one span a line, parents before children."""
    services: list[str] = field(default_factory=list)
    """The services seen, in order of first appearance."""


def render_tree(spans: list[dict[str, Any]], peers: Mapping[str, str]) -> TraceTree:
    """Draw ``spans`` (one trace) as a tree; ``peers`` names ``host:port`` addresses."""
    if not spans:
        return TraceTree("")
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s["parent_id"] if s["parent_id"] in by_id else None
        children.setdefault(parent, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: s["start_ns"])
    tree = TraceTree(spans[0]["trace_id"])

    def walk(span: dict[str, Any], prefix: str, last: bool, parent: dict[str, Any] | None) -> None:
        later = ""
        if parent is not None and span["start_ns"] >= parent["end_ns"]:
            later = f"(later, +{(span['start_ns'] - parent['end_ns']) / 1e9:.2f} s) "
        branch = "" if parent is None else ("└─ " if last else "├─ ")
        tree.lines.append(f"{prefix}{branch}{later}{label(span, peers)}  {_ms(span):.1f} ms")
        if span["service"] not in tree.services:
            tree.services.append(span["service"])
        below = prefix if parent is None else prefix + ("   " if last else "│  ")
        kids = children.get(span["span_id"], [])
        for i, kid in enumerate(kids):
            walk(kid, below, i == len(kids) - 1, span)

    for root in children.get(None, []):
        walk(root, "", True, None)
    return tree


def first_checkout_tree(span_dir: Path, peers: Mapping[str, str]) -> TraceTree:
    """The earliest checkout's trace from the span files in ``span_dir``, drawn."""
    return render_tree(checkout_trace(load_spans(span_dir)) if span_dir.is_dir() else [], peers)
