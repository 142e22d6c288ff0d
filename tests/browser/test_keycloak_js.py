"""keycloak-js (npm, the adapter line for Keycloak 26) logs a user in against the embedded
provider in headless Chromium: 3p-cookie check, login-status iframe, the login page,
code + PKCE S256 over fetch with CORS, SSO on a second visit, a refresh, logout.

The page is served from 127.0.0.1 on a free port; the provider on another. keycloak-js comes
from ``scripts/keycloak-js install`` (npm, cached under ~/.cache/svcauth/keycloak-js)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from browser_support import chromium_page
from service_support import unavailable
from svcauth.devidp import DevIdP, load_env_file
from svcauth.devidp._realm import realm_from_dict

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>spa</title></head><body>
<p id="status">starting</p>
<script type="module">
import Keycloak from '/keycloak.js';
const kc = new Keycloak({url: %(url)s, realm: 'techstore', clientId: 'storefront-js'});
window.kc = kc;
kc.init({onLoad: 'login-required', pkceMethod: 'S256', checkLoginIframe: true,
         messageReceiveTimeout: 30000})
  .then((authenticated) => {
    window.kcDone = {authenticated, username: kc.tokenParsed && kc.tokenParsed.preferred_username,
                     sessionId: kc.sessionId || null, nonce: kc.idTokenParsed && kc.idTokenParsed.nonce,
                     sid: kc.tokenParsed && kc.tokenParsed.sid};
    document.getElementById('status').textContent = 'authenticated as ' + window.kcDone.username;
  }, (err) => { window.kcDone = {error: String((err && (err.error || err.message)) || err)}; });
</script></body></html>"""


@pytest.fixture(scope="module")
def keycloak_js() -> Path:
    script = ROOT / "scripts" / "keycloak-js"
    if shutil.which("npm") is None:
        unavailable("keycloak-js", "npm is not installed (apt-get install npm)")
    done = subprocess.run([str(script), "install"], capture_output=True, text=True, timeout=300,
                          check=False)
    if done.returncode != 0:
        unavailable("keycloak-js", f"scripts/keycloak-js install failed: {done.stderr[-500:]}")
    lib = Path(done.stdout.strip().splitlines()[-1]) / "lib" / "keycloak.js"
    assert lib.is_file(), lib
    return lib


class _App(BaseHTTPRequestHandler):
    page = b""
    script = b""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        body, ctype = ((self.script, "text/javascript") if path == "/keycloak.js"
                       else (self.page, "text/html;charset=utf-8"))
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app(keycloak_js: Path) -> Iterator[tuple[str, type[_App]]]:
    handler = type("App", (_App,), {"script": keycloak_js.read_bytes()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def provider(app: tuple[str, type[_App]]) -> Iterator[DevIdP]:
    origin, handler = app
    data = json.loads((ROOT / "deploy" / "keycloak" / "techstore-realm.json").read_text())
    storefront = next(c for c in data["clients"] if c["clientId"] == "storefront")
    # A public browser client (keycloak-js runs in the page: no secret) shaped like the
    # storefront's, with this run's app origin as its web origin.
    spa = {k: v for k, v in storefront.items() if k != "secret"}
    data["clients"].append({**spa, "clientId": "storefront-js", "publicClient": True,
                            "webOrigins": [origin]})
    realm = realm_from_dict(data, load_env_file(ROOT / "deploy" / "dev.env"))
    with DevIdP(realm) as idp:
        handler.page = (PAGE % {"url": json.dumps(idp.base_url)}).encode()
        yield idp


def _wait_done(page: Any) -> dict[str, Any]:
    page.wait_for_function("() => window.kcDone !== undefined", timeout=20000)
    result: dict[str, Any] = page.evaluate("() => window.kcDone")
    return result


def test_keycloak_js_logs_in_through_the_login_page(provider: DevIdP,
                                                    app: tuple[str, type[_App]]) -> None:
    origin, _ = app
    with chromium_page() as page:
        page.goto(f"{origin}/")
        page.wait_for_selector("#username", timeout=20000)
        assert page.url.startswith(f"{provider.issuer}/protocol/openid-connect/auth?")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "devidp-login.png"))
        page.fill("#username", "alice")
        page.fill("#password", "not-her-password")
        page.click("#kc-login")
        page.wait_for_selector("#input-error", timeout=20000)
        assert page.inner_text("#input-error") == "Invalid username or password."
        page.fill("#password", "dev-alice-password")
        page.click("#kc-login")
        result = _wait_done(page)
        assert result == {"authenticated": True, "username": "alice",
                          "sessionId": result["sid"], "nonce": result["nonce"],
                          "sid": result["sid"]}
        assert result["sid"] and result["nonce"]
        assert page.url == f"{origin}/"  # keycloak-js removed the code from the URL

        # A refresh through keycloak-js (fetch with CORS and credentials).
        refreshed = page.evaluate("() => window.kc.updateToken(-1)")
        assert refreshed is True
        assert page.evaluate("() => window.kc.tokenParsed.sid") == result["sid"]

        # A second visit: the SSO cookie logs in without the form, same session.
        page.evaluate("() => { window.kcDone = undefined; }")
        page.goto(f"{origin}/")
        again = _wait_done(page)
        assert again["authenticated"] is True and again["sid"] == result["sid"]

        # Logout through keycloak-js, back to the app, which must show the login page again.
        page.evaluate("() => window.kc.logout({redirectUri: location.origin + '/'})")
        page.wait_for_selector("#username", timeout=20000)
        assert page.url.startswith(f"{provider.issuer}/protocol/openid-connect/auth?")
