"""Real loopback resource servers for the 401 tests: one that refuses everything, one that
verifies tokens with svcauth's Verifier against keys the test swaps (a key rotation)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from svcauth import SvcAuthError
from svcauth.receiver import StaticKeySet, Verifier


@dataclass
class Receiver:
    """What the server answers and what it saw."""

    challenge: str | None = None
    """The ``WWW-Authenticate`` of a refusal (None: no header, as naive Node services do)."""
    verifier: Verifier | None = None
    """When set, tokens it verifies get 200; otherwise every request gets 401."""
    seen: list[str] = field(default_factory=list)
    """The ``Authorization`` header of every request, in order."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, authorization: str) -> int:
        with self.lock:
            self.seen.append(authorization)
            verifier = self.verifier
        if verifier is None:
            return 401
        try:
            verifier.verify(authorization.removeprefix("Bearer "))
        except SvcAuthError:
            return 401
        return 200

    def trust(self, jwks: dict[str, Any], issuer: str, audience: str) -> None:
        """Accept exactly the tokens these keys verify (cache off: every request checks)."""
        with self.lock:
            self.verifier = Verifier(issuer=issuer, audience=audience, cache=None,
                                     key_set=StaticKeySet(jwks, issuer=issuer))


@contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on 127.0.0.1 (a free port) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status = receiver.answer(self.headers.get("Authorization", ""))
            body = b"ok" if status == 200 else b"unauthorized"
            self.send_response(status)
            if status == 401 and receiver.challenge is not None:
                self.send_header("WWW-Authenticate", receiver.challenge)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
