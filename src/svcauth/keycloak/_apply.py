"""The I/O half of ``svcauth keycloak apply``: read the current state, run a plan.

``read_state(admin, desired)`` reads, through the Admin REST API, exactly the parts of the
realm the desired state names (see ``_plan`` for what is managed) into a
:class:`~svcauth.keycloak._plan.RealmState`; ``apply_realm`` plans against it and, unless
``dry_run``, runs each change in order. Apply is idempotent: once applied, the plan is empty.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ._admin import AdminClient
from ._plan import Change, ClientState, RealmState, desired_state, plan
from ._realm import RealmFile


def _q(value: str) -> str:
    return quote(value, safe="")


def _account_roles(admin: AdminClient, realm: str, uuid: str) -> tuple[frozenset[str], frozenset[str]]:
    user = admin.get(f"/{realm}/clients/{uuid}/service-account-user")
    if user is None:
        return frozenset(), frozenset()
    mappings = admin.get(f"/{realm}/users/{user['id']}/role-mappings") or {}
    realm_roles = frozenset(r["name"] for r in mappings.get("realmMappings") or ())
    client_roles = frozenset(f"{cid}:{r['name']}"
                             for cid, m in (mappings.get("clientMappings") or {}).items()
                             for r in m.get("mappings") or ())
    return realm_roles, client_roles


def _read_client(admin: AdminClient, realm: str, rep: dict[str, Any]) -> ClientState:
    uuid = rep["id"]
    secret = None
    if not rep.get("publicClient") and rep.get("clientAuthenticatorType") == "client-secret":
        secret = (admin.get(f"/{realm}/clients/{uuid}/client-secret") or {}).get("value")
    scopes = admin.get(f"/{realm}/clients/{uuid}/default-client-scopes") or ()
    roles = admin.get(f"/{realm}/clients/{uuid}/roles") or ()
    account: tuple[frozenset[str], frozenset[str]] | tuple[None, None] = (None, None)
    if rep.get("serviceAccountsEnabled"):
        account = _account_roles(admin, realm, uuid)
    return ClientState(
        fields=rep, attributes={k: str(v) for k, v in (rep.get("attributes") or {}).items()},
        secret=secret, default_scopes=frozenset(s["name"] for s in scopes),
        mappers={m["name"]: {"protocolMapper": m.get("protocolMapper"), "config": m.get("config") or {}}
                 for m in rep.get("protocolMappers") or ()},
        roles={r["name"]: r.get("description") for r in roles},
        account_realm_roles=account[0], account_client_roles=account[1])


def read_state(admin: AdminClient, desired: RealmState) -> RealmState | None:
    """What Keycloak has of what ``desired`` names; None when the realm does not exist."""
    name = desired.name
    rep = admin.get(f"/{_q(name)}")
    if rep is None:
        return None
    clients: dict[str, ClientState] = {}
    for cid in desired.clients:
        found = admin.get(f"/{_q(name)}/clients?clientId={_q(cid)}") or ()
        match = next((c for c in found if c.get("clientId") == cid), None)
        if match is not None:
            clients[cid] = _read_client(admin, _q(name), match)
    return RealmState(name=name, settings=rep, clients=clients)


class _Runner:
    """Runs one plan's changes against one realm (one Admin REST call or a few per change)."""

    def __init__(self, admin: AdminClient, realm: RealmFile) -> None:
        self.admin = admin
        self.realm = realm
        self.base = f"/{_q(realm.name)}"
        self._uuids: dict[str, str] = {}
        self._scopes: dict[str, str] | None = None

    def uuid(self, client_id: str) -> str:
        if client_id not in self._uuids:
            found = self.admin.get(f"{self.base}/clients?clientId={_q(client_id)}") or ()
            self._uuids[client_id] = next(c["id"] for c in found if c["clientId"] == client_id)
        return self._uuids[client_id]

    def scope_id(self, name: str) -> str:
        if self._scopes is None:
            self._scopes = {s["name"]: s["id"]
                            for s in self.admin.get(f"{self.base}/client-scopes") or ()}
        return self._scopes[name]

    def sync_scopes(self, client_id: str) -> None:
        """Make a new client's default scopes exactly the file's (Keycloak adds realm defaults)."""
        client = self.realm.client(client_id)
        want = client.default_client_scopes if client else None
        if want is None:
            return
        path = f"{self.base}/clients/{self.uuid(client_id)}/default-client-scopes"
        have = {s["name"] for s in self.admin.get(path) or ()}
        for name in sorted(set(want) - have):
            self.admin.put(f"{path}/{self.scope_id(name)}")
        for name in sorted(have - set(want)):
            self.admin.delete(f"{path}/{self.scope_id(name)}")

    def run(self, change: Change) -> None:
        getattr(self, "_" + change.kind.replace("-", "_"))(change)

    def _realm(self, c: Change) -> None:
        if c.op == "+":
            self.admin.post("", {**c.new, "realm": self.realm.name})
        else:
            self.admin.put(self.base, {c.name: c.new})

    def _client(self, c: Change) -> None:
        client = self.realm.client(c.target)
        assert client is not None
        self.admin.post(f"{self.base}/clients", dict(client.rep))
        self.sync_scopes(c.target)

    def _client_field(self, c: Change) -> None:
        path = f"{self.base}/clients/{self.uuid(c.target)}"
        rep = self.admin.get(path)
        if c.name.startswith("attributes."):
            rep.setdefault("attributes", {})[c.name[len("attributes."):]] = c.new
        else:
            rep[c.name] = c.new
        self.admin.put(path, rep)

    _client_secret = _client_field

    def _default_scope(self, c: Change) -> None:
        path = f"{self.base}/clients/{self.uuid(c.target)}/default-client-scopes/{self.scope_id(c.name)}"
        (self.admin.put if c.op == "+" else self.admin.delete)(path)

    def _mapper(self, c: Change) -> None:
        path = f"{self.base}/clients/{self.uuid(c.target)}/protocol-mappers/models"
        if c.op == "+":
            self.admin.post(path, {"name": c.name, "protocol": "openid-connect", **c.new})
            return
        model = next(m for m in self.admin.get(path) or () if m["name"] == c.name)
        if c.op == "-":
            self.admin.delete(f"{path}/{model['id']}")
            return
        key = c.key
        if key.startswith("config."):
            model.setdefault("config", {})[key[len("config."):]] = c.new
        else:
            model[key] = c.new
        self.admin.put(f"{path}/{model['id']}", model)

    def _role(self, c: Change) -> None:
        path = f"{self.base}/clients/{self.uuid(c.target)}/roles"
        name = c.name
        if c.op == "+":
            body = {"name": name} if c.new is None else {"name": name, "description": c.new}
            self.admin.post(path, body)
        elif c.op == "~":
            self.admin.put(f"{path}/{_q(name)}", {"name": name, "description": c.new})
        else:
            self.admin.delete(f"{path}/{_q(name)}")

    def _account_role(self, c: Change) -> None:
        user = self.admin.get(f"{self.base}/clients/{self.uuid(c.target)}/service-account-user")
        owner, _, role = c.name.partition(":")
        if owner == "realm":
            rep = self.admin.get(f"{self.base}/roles/{_q(role)}")
            path = f"{self.base}/users/{user['id']}/role-mappings/realm"
        else:
            owner_uuid = self.uuid(owner)
            rep = self.admin.get(f"{self.base}/clients/{owner_uuid}/roles/{_q(role)}")
            path = f"{self.base}/users/{user['id']}/role-mappings/clients/{owner_uuid}"
        if c.op == "+":
            self.admin.post(path, [rep])
        elif rep is not None:  # a role removed earlier in this plan took its mappings along
            self.admin.delete(path, [rep])


def apply_realm(admin: AdminClient, realm: RealmFile, *, dry_run: bool = False) -> list[Change]:
    """Plan ``realm`` (placeholders resolved) against Keycloak and, unless ``dry_run``, apply
    it. Returns the plan (empty: nothing to do)."""
    desired = desired_state(realm)
    changes = plan(desired, read_state(admin, desired))
    if not dry_run:
        runner = _Runner(admin, realm)
        for change in changes:
            runner.run(change)
    return changes
