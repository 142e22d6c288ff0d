"""The order-events worker as a process: ``mockmart serve order-events-worker`` consumes in
its lifespan and answers ``GET /healthz`` with its counters (what the demo and the tests
read): consumed, acknowledged, duplicates, poison returns, dead-lettered, transient
retries, ``update-secret`` renewals, reconnections and token requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from mockmart.api_docs import api_options, install_docs
from mockmart.config import MockMartConfig
from mockmart.security import counting_token_source
from mockmart.tracing import TracingTransport, httpx_instrumented, trace_app
from mockmart.workers.order_events import OrderEventsWorker, ProcessedEvents
from svcauth.httpx import BearerAuth

__all__ = ["create_app"]


def _processed(database_url: str) -> ProcessedEvents:
    if database_url.startswith("sqlite:///"):
        return ProcessedEvents(Path(database_url.removeprefix("sqlite:///")))
    # Other databases: ids in memory; notification-service's Idempotency-Key still holds.
    return ProcessedEvents(None)


def create_app(config: MockMartConfig, *, delivery_limit: int = 5) -> FastAPI:
    """The worker's ASGI app (needs ``config.broker_url``)."""
    if not config.broker_url:
        raise ValueError("order-events-worker: MOCKMART_BROKER_URL is not set")
    url = urlsplit(config.broker_url)
    source, fetcher = counting_token_source(config)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Traced by the httpx instrumentation when installed, else by the wrapping transport.
        notification = httpx.AsyncClient(
            base_url=config.notification_url, auth=BearerAuth(source), timeout=10.0,
            transport=None if httpx_instrumented() else TracingTransport())
        worker = OrderEventsWorker(source, host=url.hostname or "127.0.0.1",
                                   port=url.port or 5672, notification=notification,
                                   processed=_processed(config.database_url),
                                   delivery_limit=delivery_limit)
        state["w"] = worker
        task = asyncio.create_task(worker.run())
        try:
            yield
        finally:
            worker.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
            await notification.aclose()

    app = FastAPI(title="MockMart order-events-worker", version="1", lifespan=lifespan, **api_options())
    install_docs(app)
    trace_app(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        worker = state.get("w")
        return {"status": "ok", "service": "order-events-worker",
                "worker": None if worker is None else worker.stats(),
                "token_fetches": fetcher.fetches}

    return app
