"""The scripted browser of the code flow (now :mod:`mockmart.system.code_login`, which
``Stack.user_token()`` uses too), re-exported for the provider tests."""

from __future__ import annotations

from mockmart.system.code_login import Browser, code_flow, params_of, pkce_pair

__all__ = ["Browser", "code_flow", "params_of", "pkce_pair"]
