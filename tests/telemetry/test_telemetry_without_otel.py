"""Without OpenTelemetry importable, svcauth works and telemetry is a no-op (a subprocess in
which ``import opentelemetry`` fails)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["opentelemetry"] = None  # any import of it now raises ImportError
    sys.path.insert(0, {tests!r})
    import logging
    from svcauth import telemetry
    from svcauth.receiver import Guard, RemoteKeySet, ServicePolicy, Verifier
    from telemetry_support import (AUDIENCE, ISSUER, JWKS_URI, Clock, JwksServer, Signer,
                                   TokenEndpoint, caching_source)
    assert telemetry.AVAILABLE is False and telemetry.enabled() is False
    telemetry.set_enabled(True)
    assert telemetry.enabled() is False
    source = caching_source(TokenEndpoint(503), Clock(1000.0))
    assert source.token() == source.token()
    assert "token" not in vars(source)
    signer = Signer()
    jwks = JwksServer(signer)
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(5.0), http_client=jwks.client())
    guard = Guard(Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys),
                  ServicePolicy(allowed_clients={{"shop-api"}}))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("svcauth.audit").addHandler(handler)
    logging.getLogger("svcauth.audit").setLevel(logging.INFO)
    assert guard.authenticate("Bearer " + signer.token("shop-api"), endpoint="GET /x").client_id == "shop-api"
    assert '"trace_id":null' in records[0].getMessage()
    assert '"endpoint":"GET /x"' in records[0].getMessage()
    print("ok")
""")


def test_everything_works_and_records_nothing_without_opentelemetry() -> None:
    tests = str(Path(__file__).resolve().parent)
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=tests)], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
