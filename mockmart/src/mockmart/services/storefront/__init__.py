"""The storefront: MockMart's web UI, a confidential backend-for-frontend (BFF).

People log in with authorization code + PKCE (S256) at the identity provider (the embedded
DevIdP or Keycloak); the tokens stay in this process's server-side session store and the
browser holds only an opaque, HttpOnly, ``SameSite=Lax`` session cookie. Pages are rendered
here (Jinja2 through Starlette) and call shop-api with the user's access token, renewed with
the refresh token when it runs out. See docs/storefront.md.

Modules: :mod:`.settings` (configuration), :mod:`.oidc` (the code + PKCE exchange, refresh,
logout URL, ID-token check), :mod:`.sessions` (the session store), :mod:`.shop` (shop-api
calls), :mod:`.app` (routes and pages).
"""
