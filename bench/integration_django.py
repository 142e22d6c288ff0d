"""Django and DRF: the cached-path cost per request of svcauth next to the framework's own
empty authentication hook, measured in the same run.

    python bench/integration_django.py [--quick] [--json]

Every request goes through Django's ``WSGIHandler`` (what a WSGI server calls: URL
resolution, middleware chain, view, response) with a prebuilt environ; no socket. Four
builds, each a GET of a view answering ``{"client_id": ...}``:

- ``drf_hook``: a DRF ``APIView`` whose authentication class is DRF's empty hook, a
  ``BaseAuthentication`` returning a fixed user (the baseline of the DRF row);
- ``drf_svcauth``: the same view with ``ServiceTokenAuthentication`` (a valid token, the
  verified-token cache warm, a ``ServicePolicy`` with allowed clients and a role);
- ``mw_hook``: a plain Django view behind a middleware that only sets ``request.identity``
  (the baseline of the middleware row);
- ``mw_svcauth``: the same view behind ``ServiceAuthMiddleware``;
- ``mw_guard_only`` (diagnostic): a middleware calling the same ``Guard.authenticate`` with a
  prebuilt header list and nothing else, so that the shared guard's share of the added time
  can be told from the integration's own.

Batches of the builds run interleaved in a shuffled order, round after round, each timed
with the process's CPU clock (``time.process_time_ns``: on a shared machine the wall clock
also counts the time other processes hold the CPU). The figure of a build is its median
batch (per request), the ratio svcauth / hook of the same row; the best batches' ratio and
the median of the paired per-round ratios are given too. The
target (issue 18): <= 1.05x the hook.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
import types
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import django
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.receiver import Guard, ServicePolicy, StaticKeySet, Verifier

ISSUER = "http://127.0.0.1:8080/realms/techstore"
AUDIENCE = "notification-service"
ROLE = "notification-service:notifications:send"
NOW = 1_800_000_000


def _guard_and_token() -> tuple[Guard[Any], str]:
    key = rsa.generate_private_key(65537, 2048)
    jwks = {"keys": [public_jwk(key, kid="k1", alg="RS256", use="sig")]}
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, clock=lambda: float(NOW),
                        key_set=StaticKeySet(jwks, issuer=ISSUER))
    policy = ServicePolicy(allowed_clients=("shop-api", "cart-reminder-job"), required_roles=(ROLE,))
    claims = {"exp": NOW + 300, "iat": NOW - 5, "jti": "j-1", "iss": ISSUER,
              "aud": [AUDIENCE, "account"], "sub": "7c0b", "typ": "Bearer", "azp": "shop-api",
              "client_id": "shop-api", "scope": "email profile",
              "resource_access": {"notification-service": {"roles": ["notifications:send"]}}}
    return Guard(verifier, policy, realm="techstore"), sign_compact(
        claims, key, "RS256", {"typ": "JWT", "kid": "k1"})


GUARD, TOKEN = _guard_and_token()
URLS = types.ModuleType("bench_django_urls")  # ROOT_URLCONF: filled below
URLS.urlpatterns = []  # type: ignore[attr-defined]
sys.modules[URLS.__name__] = URLS
settings.configure(
    DEBUG=False, SECRET_KEY="bench-only", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=URLS.__name__,
    INSTALLED_APPS=["rest_framework"], MIDDLEWARE=[], USE_TZ=True, SVCAUTH={"GUARD": GUARD},
    REST_FRAMEWORK={"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
                    "DEFAULT_PERMISSION_CLASSES": [], "UNAUTHENTICATED_USER": None,
                    "EXCEPTION_HANDLER": "svcauth.django.drf.exception_handler"},
)
django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from svcauth.django.drf import ServiceTokenAuthentication, ServiceUser  # noqa: E402

FIXED_USER = ServiceUser(GUARD.authenticate([f"Bearer {TOKEN}"]), "techstore")


class FixedUserAuthentication(BaseAuthentication):
    """DRF's empty authentication hook: a fixed user, no work."""

    def authenticate(self, request: Any) -> tuple[Any, Any]:
        return FIXED_USER, FIXED_USER.identity


class HookView(APIView):
    authentication_classes = [FixedUserAuthentication]

    def get(self, request: Any) -> Response:
        return Response({"client_id": request.user.client_id})


class SvcauthView(HookView):
    authentication_classes = [ServiceTokenAuthentication]


def plain(request: Any) -> JsonResponse:
    return JsonResponse({"client_id": request.identity.client_id})


class EmptyMiddleware:
    """The middleware baseline: sets the identity, checks nothing."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request.identity = FIXED_USER.identity
        return self.get_response(request)


class GuardOnlyMiddleware(EmptyMiddleware):
    """Diagnostic: the guard called with a prebuilt header list, none of the integration's
    own work (reading the request, refusals): what the shared guard costs in the pipeline."""

    header = [f"Bearer {TOKEN}"]

    def __call__(self, request: Any) -> Any:
        request.identity = GUARD.authenticate(self.header)
        return self.get_response(request)


URLS.urlpatterns = [path(  # type: ignore[attr-defined]
    "drf-hook", HookView.as_view()), path("drf-svcauth", SvcauthView.as_view()),
                    path("plain", plain)]
BENCH_MIDDLEWARE = f"{__name__}.EmptyMiddleware"
GUARD_ONLY_MIDDLEWARE = f"{__name__}.GuardOnlyMiddleware"


def _handler(middleware: list[str]) -> WSGIHandler:
    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()


def _builds() -> dict[str, Any]:
    plain_handler = _handler([])
    builds = {
        "drf_hook": (plain_handler, "/drf-hook"),
        "drf_svcauth": (plain_handler, "/drf-svcauth"),
        "mw_hook": (_handler([BENCH_MIDDLEWARE]), "/plain"),
        "mw_svcauth": (_handler(["svcauth.django.middleware.ServiceAuthMiddleware"]), "/plain"),
        "mw_guard_only": (_handler([GUARD_ONLY_MIDDLEWARE]), "/plain"),
    }
    environs = {}
    for name, (_, route) in builds.items():
        environ = RequestFactory()._base_environ(PATH_INFO=route, REQUEST_METHOD="GET",
                                                 HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        environs[name] = environ
    return {name: (handler, environs[name]) for name, (handler, _) in builds.items()}


def _start_response(status: str, headers: list[tuple[str, str]]) -> None:
    if not status.startswith("200"):
        raise AssertionError(f"bench request answered {status}")


def _batch(handler: WSGIHandler, environ: dict[str, Any], n: int) -> float:
    """CPU nanoseconds of this process per request over ``n`` requests."""
    clock = time.process_time_ns
    started = clock()
    for _ in range(n):
        env = dict(environ)
        env["wsgi.input"] = BytesIO(b"")
        response = handler(env, _start_response)
        response.close()
    return (clock() - started) / n


def _loop_ns(call: Any, n: int = 20_000, repeat: int = 7) -> float:
    """Best CPU nanoseconds per call of ``call`` over ``repeat`` loops of ``n``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        for _ in range(n):
            call()
        best = min(best, (time.process_time_ns() - started) / n)
    return best


def components() -> dict[str, float]:
    """Where the added time goes, each part alone in a tight loop (CPU us per call)."""
    from rest_framework.request import Request

    from svcauth.django._request import credentials_of
    from svcauth.receiver._bearer import parse_authorization

    django_request = RequestFactory().get("/plain", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    drf_request = Request(django_request)
    header = [f"Bearer {TOKEN}"]
    claims = GUARD.verifier.verify(TOKEN)
    ours, hook = ServiceTokenAuthentication(), FixedUserAuthentication()
    parts = {
        "drf_hook_authenticate": lambda: hook.authenticate(drf_request),
        "drf_svcauth_authenticate": lambda: ours.authenticate(drf_request),
        "guard_authenticate": lambda: GUARD.authenticate(header),
        "parse_authorization": lambda: parse_authorization(header),
        "verify_cached": lambda: GUARD.verifier.verify(TOKEN),
        "policy_authorize": lambda: GUARD.policy.authorize(claims),
        "credentials_of": lambda: credentials_of(django_request),
    }
    return {name: _loop_ns(call) / 1000 for name, call in parts.items()}


def run(rounds: int, batch: int) -> dict[str, Any]:
    builds = _builds()
    for handler, environ in builds.values():  # warm-up: caches, imports, first resolve
        _batch(handler, environ, 50)
    samples: dict[str, list[float]] = {name: [] for name in builds}
    names = list(builds)
    rng = random.Random(18)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            samples[name].append(_batch(*builds[name], batch))
    median = {name: statistics.median(values) for name, values in samples.items()}
    best = {name: min(values) for name, values in samples.items()}
    rows = {}
    for row, hook, ours in (("drf", "drf_hook", "drf_svcauth"), ("middleware", "mw_hook", "mw_svcauth"),
                            ("guard_only", "mw_hook", "mw_guard_only")):
        ratios = [o / h for o, h in zip(samples[ours], samples[hook], strict=True)]
        rows[row] = {"hook_us": median[hook] / 1000, "svcauth_us": median[ours] / 1000,
                     "ratio": median[ours] / median[hook], "best_ratio": best[ours] / best[hook],
                     "paired_median_ratio": statistics.median(ratios),
                     "added_us": (median[ours] - median[hook]) / 1000}
    return {"python": platform.python_version(), "django": django.get_version(),
            "drf": __import__("rest_framework").VERSION, "rounds": rounds, "batch": batch,
            "rows": rows, "components_us": components(),
            "target_met": {row: rows[row]["ratio"] <= 1.05 for row in ("drf", "middleware")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (~5 s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    started = time.monotonic()
    result = run(rounds=15 if args.quick else 101, batch=100 if args.quick else 200)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"django integration: median CPU us per request through WSGIHandler, {result['rounds']} "
          f"shuffled rounds of {result['batch']} (Python {result['python']}, Django "
          f"{result['django']}, DRF {result['drf']})")
    print(f"{'row':<12}{'hook':>10}{'svcauth':>10}{'ratio':>9}{'best':>9}{'paired':>9}{'added':>10}")
    for row, r in result["rows"].items():
        print(f"{row:<12}{r['hook_us']:>10.2f}{r['svcauth_us']:>10.2f}{r['ratio']:>8.3f}x"
              f"{r['best_ratio']:>8.3f}x{r['paired_median_ratio']:>8.3f}x{r['added_us']:>8.2f}us")
    print("alone, best CPU us per call: " + ", ".join(
        f"{name} {value:.2f}" for name, value in result["components_us"].items()))
    print(f"target <= 1.05x the hook: {result['target_met']}  ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
