"""A small FastAPI service protected by svcauth: services read and create invoices, customers
signed in at billing-portal read their own.

``create_app(verifier)`` takes its verifier from outside, so that the tests hand it the
test kit's and production hands it one on the real provider (``from_env``). No ``from __future__ import
annotations`` here: FastAPI resolves the route annotations, which name local dependencies.
"""

import os
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from svcauth.fastapi import ServiceAuth, install_error_handlers
from svcauth.receiver import (
    Guard,
    RemoteKeySet,
    ServiceIdentity,
    ServicePolicy,
    UserIdentity,
    UserPolicy,
    Verifier,
)

AUDIENCE = "billing-api"
REALM = "billing"


class NewInvoice(BaseModel):
    """An invoice to create."""

    customer: str
    amount_cents: int


def create_app(verifier: Verifier) -> FastAPI:
    """The billing API checking tokens with ``verifier``."""
    readers = ServiceAuth(Guard(verifier, ServicePolicy(
        allowed_clients={"invoicing-job", "reporting-service"},
        required_roles={"billing-api:invoices:read"}), realm=REALM))
    writers = ServiceAuth(Guard(verifier, ServicePolicy(
        required_roles={"billing-api:invoices:write"}), realm=REALM))
    customers = ServiceAuth(Guard(verifier, UserPolicy(
        allowed_clients=("billing-portal",), required_roles={"billing-api:invoices:read"}),
        realm=REALM))
    invoices: list[dict[str, object]] = []

    app = FastAPI(title="billing")
    install_error_handlers(app)

    @app.get("/invoices")
    async def list_invoices(
        caller: Annotated[ServiceIdentity, Depends(readers)],
    ) -> dict[str, object]:
        return {"caller": caller.client_id, "invoices": invoices}

    @app.post("/invoices", status_code=201)
    async def create_invoice(
        invoice: NewInvoice, caller: Annotated[ServiceIdentity, Depends(writers)],
    ) -> dict[str, object]:
        record = {"id": len(invoices) + 1, "created_by": caller.client_id, **invoice.model_dump()}
        invoices.append(record)
        return record

    @app.get("/me/invoices")
    async def my_invoices(user: Annotated[UserIdentity, Depends(customers)]) -> dict[str, object]:
        return {"customer": user.username,
                "invoices": [i for i in invoices if i["customer"] == user.username]}

    return app


def from_env() -> FastAPI:
    """The app for production: ``OIDC_ISSUER`` names the provider (keys by discovery)."""
    issuer = os.environ["OIDC_ISSUER"]
    return create_app(Verifier(issuer=issuer, audience=AUDIENCE,
                               key_set=RemoteKeySet.from_discovery(issuer)))
