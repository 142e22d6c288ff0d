"""Attacks through a real (loopback) JWKS server: a 50 MiB body and a slow-drip answer.
What a MockTransport cannot show: memory actually bounded while reading a socket, and the
per-fetch deadline holding against a server that keeps every single read under the timeout.
"""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from attack_kit import AUDIENCE, ISSUER, clock, mint

from svcauth import InvalidTokenError, KeySetUnavailableError
from svcauth.receiver import RemoteKeySet, Verifier

MiB = 1024 * 1024


class Mono:
    """An injected monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def verifier(key_set: RemoteKeySet) -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set, clock=clock, cache=None)


def code_of(v: Verifier, token: str) -> str:
    try:
        v.verify(token)
    except (InvalidTokenError, KeySetUnavailableError) as exc:
        return exc.code
    return "accepted"


class _HugeJWKS(BaseHTTPRequestHandler):
    sent = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b'{"keys":[' + b" " * (256 * 1024 - 9)
        chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
        try:
            for _ in range(200):  # 50 MiB of body
                self.wfile.write(chunk)
                type(self).sent += len(block)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up at its cap: that is the point

    def log_message(self, *args: Any) -> None:
        pass


def test_fifty_mib_body_from_a_loopback_server_costs_bounded_memory() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HugeJWKS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}/certs"
        key_set = RemoteKeySet(uri, issuer=ISSUER, clock=Mono())
        v = verifier(key_set)
        tracemalloc.start()
        try:
            code = code_of(v, mint())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert code == "jwks_unavailable"
    assert peak < 4 * MiB, f"peak Python allocation {peak} bytes"
    assert _HugeJWKS.sent < 50 * MiB


# -- a slow-drip endpoint: the per-fetch deadline bounds the whole fetch ------------------------


class _Drip:
    """A loopback server that answers one byte of its status line and headers every 0.1 s for
    about 7 s: each read succeeds within any read timeout, only a deadline on the whole fetch
    stops it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/certs"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(4096)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 20:
                    if self.stop.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def drip() -> Iterator[_Drip]:
    server = _Drip()
    try:
        yield server
    finally:
        server.close()


# These two measure elapsed time, which the suite otherwise avoids: here the deadline *is* the
# behaviour under test. The bound (3 s for a 0.5 s timeout, against 7 s of dripping) leaves a
# wide margin for a loaded machine.


def test_slow_drip_endpoint_is_cut_at_the_fetch_timeout(drip: _Drip) -> None:
    v = verifier(RemoteKeySet(drip.uri, issuer=ISSUER, timeout=0.5))
    started = time.monotonic()
    assert code_of(v, mint()) == "jwks_unavailable"
    assert time.monotonic() - started < 3.0


@pytest.mark.anyio
async def test_slow_drip_endpoint_is_cut_at_the_fetch_timeout_async(drip: _Drip) -> None:
    v = verifier(RemoteKeySet(drip.uri, issuer=ISSUER, timeout=0.5))
    started = time.monotonic()
    with pytest.raises(KeySetUnavailableError):
        await v.averify(mint())
    assert time.monotonic() - started < 3.0
