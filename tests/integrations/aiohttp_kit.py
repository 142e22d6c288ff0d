"""aiohttp's real server (``web.AppRunner`` + ``web.SockSite``) on 127.0.0.1, a free port,
running in its own thread and event loop so sync and async tests can talk to it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from aiohttp import web

# Large enough for the kit's 20 000-byte token row to reach the middleware, as it does on
# uvicorn and werkzeug.
LARGE_FIELDS = 32 * 1024


@contextmanager
def aiohttp_server(make_app: Callable[[], web.Application], *,
                   max_field_size: int | None = LARGE_FIELDS) -> Iterator[str]:
    """Serve the app ``make_app()`` builds (inside the server's loop); yields the base URL.

    ``max_field_size`` is the parser's header-line limit (``None``: aiohttp's default,
    8190 bytes, which refuses the oversized-token row before any middleware runs).
    The server is stopped and its thread joined on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    started: Future[web.AppRunner] = Future()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            limits = ({} if max_field_size is None
                      else {"max_field_size": max_field_size, "max_line_size": max_field_size})
            runner = web.AppRunner(make_app(), access_log=None, **limits)
            await runner.setup()
            await web.SockSite(runner, sock).start()
        except BaseException as exc:
            started.set_exception(exc)
            raise
        started.set_result(runner)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True,
                              name="aiohttp-test-server")
    thread.start()
    try:
        started.result(timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()
        sock.close()
