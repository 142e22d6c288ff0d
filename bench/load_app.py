"""The apps `bench/load.py` measures, one per uvicorn process.

Each is a minimal FastAPI app built like notification-service (``mockmart.security``): one
protected route ``GET /api/notifications`` answering a small JSON document, guarded by

- ``none``: nothing (the ceiling);
- ``noop-dependency``: a dependency that reads the request's ``Authorization`` header and
  returns it, nothing more: what FastAPI's ``Depends`` machinery alone costs;
- ``svcauth``: ``ServiceAuth(Guard(Verifier(..., RemoteKeySet), ServicePolicy(...)))`` with
  the default :class:`~svcauth.receiver.VerifiedTokenCache`;
- ``svcauth-asgi``: the unguarded route of ``none`` wrapped in svcauth's plain ASGI
  middleware (:class:`svcauth.asgi.ServiceAuthMiddleware`), same guard and cache as
  ``svcauth``: what the check costs without FastAPI's dependency machinery;
- ``svcauth-nocache``: the same as ``svcauth`` with ``cache=None`` (a signature check per
  request);
- ``pyjwt``: the common FastAPI recipe, ``HTTPBearer`` + ``PyJWKClient`` + ``jwt.decode``.

Run as ``python bench/load_app.py VARIANT PORT ISSUER JWKS_URI``; prints ``ready`` when up.
"""

# No `from __future__ import annotations`: FastAPI must evaluate route annotations that
# name dependencies local to create_app().

import sys
from typing import Annotated, Any

import jwt
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from svcauth.asgi import ServiceAuthMiddleware
from svcauth.fastapi import ServiceAuth, install_error_handlers
from svcauth.receiver import Guard, RemoteKeySet, ServicePolicy, Verifier

VARIANTS = ("none", "noop-dependency", "svcauth", "svcauth-asgi", "svcauth-nocache", "pyjwt")
"""What ``create_app`` can build, in the order the benchmark runs them."""

AUDIENCE = "notification-service"
ROLE = "notification-service:notifications:send"
BODY = {"notifications": [], "service": "notification-service"}


def _svcauth_guard(issuer: str, jwks_uri: str, *, cache: bool) -> Guard[Any]:
    keys = RemoteKeySet(jwks_uri, issuer=issuer)
    options: dict[str, Any] = {} if cache else {"cache": None}
    verifier = Verifier(issuer=issuer, audience=AUDIENCE, key_set=keys, **options)
    policy = ServicePolicy(allowed_clients={"shop-api"}, required_roles={ROLE})
    return Guard(verifier, policy, realm=AUDIENCE)


def _svcauth_dependency(issuer: str, jwks_uri: str, *, cache: bool) -> Any:
    return ServiceAuth(_svcauth_guard(issuer, jwks_uri, cache=cache))


def _pyjwt_dependency(issuer: str, jwks_uri: str) -> Any:
    """The recipe most FastAPI services copy (PyJWT docs + FastAPI security docs)."""
    jwks_client = jwt.PyJWKClient(jwks_uri)
    bearer = HTTPBearer()

    async def current_service(
        creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> dict[str, Any]:
        try:
            key = jwks_client.get_signing_key_from_jwt(creds.credentials)
            claims: dict[str, Any] = jwt.decode(
                creds.credentials, key.key, algorithms=["RS256"], audience=AUDIENCE,
                issuer=issuer, options={"require": ["exp", "iat", "iss", "aud"]})
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token",
                                headers={"WWW-Authenticate": "Bearer"}) from None
        roles = claims.get("resource_access", {}).get(AUDIENCE, {}).get("roles", [])
        if claims.get("azp") != "shop-api" or "notifications:send" not in roles:
            raise HTTPException(403, "insufficient_scope")
        return claims

    return current_service


def create_app(variant: str, issuer: str, jwks_uri: str) -> Any:
    """The ASGI app for ``variant`` (one of :data:`VARIANTS`)."""
    app = FastAPI(title=f"load-{variant}")
    if variant in ("none", "svcauth-asgi"):
        @app.get("/api/notifications")
        async def open_route() -> dict[str, Any]:
            return BODY
        if variant == "svcauth-asgi":
            guard = _svcauth_guard(issuer, jwks_uri, cache=True)
            return ServiceAuthMiddleware(app, guard, exclude_paths=())
        return app
    if variant == "noop-dependency":
        async def noop(request: Request) -> Any:
            return request.headers.get("authorization")

        dep = noop
    elif variant in ("svcauth", "svcauth-nocache"):
        install_error_handlers(app)
        dep = _svcauth_dependency(issuer, jwks_uri, cache=variant == "svcauth")
    elif variant == "pyjwt":
        dep = _pyjwt_dependency(issuer, jwks_uri)
    else:
        raise SystemExit(f"variant: expected one of {VARIANTS}, found {variant!r}")

    @app.get("/api/notifications")
    async def guarded(identity: Annotated[Any, Depends(dep)]) -> dict[str, Any]:
        return BODY

    return app


def main(argv: list[str]) -> None:
    """``VARIANT PORT ISSUER JWKS_URI``: serve the app on 127.0.0.1:PORT."""
    variant, port, issuer, jwks_uri = argv
    app = create_app(variant, issuer, jwks_uri)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
