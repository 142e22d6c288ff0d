"""The dev IdP's view of a realm file: :mod:`svcauth.realm`, the model lint and apply share.

Kept as a module so that ``svcauth.devidp._realm`` imports keep working; everything here is
the shared model.
"""

from __future__ import annotations

from ..realm import (
    ACCOUNT_CLIENT,
    Client,
    Realm,
    RoleRef,
    User,
    load_realm,
    realm_from_dict,
)

__all__ = ["ACCOUNT_CLIENT", "Client", "Realm", "RoleRef", "User", "load_realm",
           "realm_from_dict"]
