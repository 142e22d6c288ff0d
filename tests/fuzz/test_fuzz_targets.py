"""Hypothesis twins of the atheris harness (``run_atheris.py``): the same four targets and
contracts (``fuzz_targets.py``), a few seconds each in ``make test``; ``--hypothesis-profile
=fuzz`` (``make fuzz`` runs it after atheris) gives 20,000 examples per test.

The raw-bytes twins mirror what libFuzzer feeds; the structured ones reach deeper (JSON
token answers and JWK-shaped key sets). The verifier's and the header parser's structured
fuzzing lives in tests/security/test_fuzz.py and is not repeated here. Inputs atheris
found crashing are replayed in ``REGRESSIONS``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzz_targets import TARGETS, check_jwks, check_token_response, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TWIN = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


def _mutated(name: str) -> st.SearchStrategy[bytes]:
    """A seed with bytes flipped, cut or appended (a poor man's libFuzzer mutation)."""
    def mutate(args: tuple[bytes, list[tuple[int, int]], int, bytes]) -> bytes:
        seed, flips, cut, tail = args
        data = bytearray(seed)
        for pos, value in flips:
            if data:
                data[pos % len(data)] = value
        return bytes(data[: max(0, len(data) - cut)]) + tail

    return st.tuples(st.sampled_from(seeds(name)),
                     st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
                     st.integers(0, 40), st.binary(max_size=20)).map(mutate)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_meet_the_contract(name: str) -> None:
    results = [TARGETS[name](seed) for seed in seeds(name)]
    assert results[0] is not None  # the first seed of each target is a valid input


@pytest.mark.parametrize("name", sorted(TARGETS))
@TWIN
@given(data=st.data())
def test_raw_bytes_meet_the_contract(name: str, data: st.DataObject) -> None:
    TARGETS[name](data.draw(st.binary(max_size=600) | _mutated(name)))


@st.composite
def token_answers(draw: st.DrawFn) -> bytes:
    status = draw(st.integers(0, 10))
    doc: dict[str, Any] = {"access_token": "eyJabc.def.ghi", "token_type": "Bearer",
                           "expires_in": 300}
    for name in draw(st.lists(st.sampled_from(["access_token", "token_type", "expires_in",
                                               "scope", "error", "error_description",
                                               "error_uri", "refresh_expires_in"]), max_size=4)):
        doc[name] = draw(json_values)
    retry = draw(st.sampled_from([b"", b"120\n", b"Wed, 21 Oct 2099 07:28:00 GMT\n"])
                 | st.text(max_size=12).map(lambda t: t.encode("latin-1", "ignore") + b"\n"))
    return bytes([status]) + retry + json.dumps(doc).encode()


@TWIN
@given(token_answers())
def test_token_endpoint_answers_meet_the_contract(data: bytes) -> None:
    check_token_response(data)


@st.composite
def jwks_documents(draw: st.DrawFn) -> bytes:
    base = json.loads(seeds("jwks")[0])["keys"]
    keys: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        jwk = dict(draw(st.sampled_from(base)))
        for name in draw(st.lists(st.sampled_from(["kty", "alg", "use", "kid", "crv", "n", "e",
                                                   "x", "y", "key_ops", "x5c", "d"]),
                                  max_size=3)):
            jwk[name] = draw(json_values)
        keys.append(jwk if draw(st.integers(0, 9)) else draw(json_values))
    return json.dumps({"keys": keys}).encode()


@TWIN
@given(jwks_documents())
def test_jwks_documents_meet_the_contract(data: bytes) -> None:
    check_jwks(data)


REGRESSIONS = [
    # atheris, 2026-11-26: a 503 answer whose Retry-After is a non-ASCII digit ("³", byte
    # 0xB3 as httpx decodes it): str.isdigit() says yes, float() raises ValueError, which
    # escaped parse_token_response (and ClientCredentialsSource.fetch) instead of
    # TokenEndpointError.
    ("token_response", b"\x04\xb3\xb3\xb3\n{\"error\":\"temporarily_unavailable\"}"),
    ("token_response", b"\x09\xb9\n{}"),
    # Fixed in f6a068a with the above: an expires_in past float range (OverflowError).
    ("token_response", b"\x00" + b'{"access_token":"eyJabc","token_type":"Bearer","expires_in":1'
     + b"0" * 400 + b"}"),
]


@pytest.mark.parametrize(("name", "data"), REGRESSIONS)
def test_inputs_atheris_found_crashing_now_meet_the_contract(name: str, data: bytes) -> None:
    TARGETS[name](data)


def test_a_token_endpoint_sending_a_non_ascii_digit_retry_after_gives_a_token_endpoint_error(
) -> None:
    """The regression above end to end: a real HTTP answer through the caller's fetch."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from svcauth import TokenEndpointError
    from svcauth.caller import ClientConfig, ClientCredentialsSource, ClientSecretBasic

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.send_header("Retry-After", "\xb3")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = ClientCredentialsSource(ClientConfig(
            client_id="shop-api", auth=ClientSecretBasic("dev-secret"), deadline=1.0,
            token_endpoint=f"http://127.0.0.1:{server.server_port}/token"))
        with pytest.raises(TokenEndpointError) as caught:
            source.fetch()
        assert caught.value.status == 503
    finally:
        server.shutdown()
        server.server_close()
