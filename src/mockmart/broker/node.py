"""A throw-away RabbitMQ node trusting one identity provider's tokens (``scripts/rabbitmq``
runs the process; this module writes what the node reads).

::

    with BrokerNode(NodeConfig(jwks_url=idp.jwks_uri), run_dir) as node:
        node.url        # amqp://127.0.0.1:<free port>/

The node's files all live in ``run_dir``: ``rabbitmq.conf`` (the OAuth 2.0 backend first,
then the internal one for the password users), ``advanced.config`` (the ``http`` JWKS URL:
3.10 accepts it only there), ``enabled_plugins`` and ``definitions.json`` (the topology of
:mod:`.topology`). Nothing of the system-wide node is read or touched.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ..config import REPO_ROOT
from .topology import definitions

__all__ = ["SCRIPT", "BrokerNode", "BrokerUnavailable", "NodeConfig"]

SCRIPT = REPO_ROOT / "scripts" / "rabbitmq"
"""The shell script that installs (apt, when missing and root), starts and stops a node."""


class BrokerUnavailable(RuntimeError):
    """RabbitMQ cannot be had here (not installed and not installable)."""


@dataclass(frozen=True)
class NodeConfig:
    """How the node authenticates and what it declares."""

    jwks_url: str
    """The identity provider's JWKS endpoint (``http`` is fine: set in ``advanced.config``)."""
    resource_server_id: str = "rabbitmq"
    """``auth_oauth2.resource_server_id``: required in ``aud``, and the prefix of every scope
    the node honours (``rabbitmq.read:*/orders``). ``rabbitmq``."""
    scopes_claim: str = "rabbitmq_scopes"
    """``auth_oauth2.additional_scopes_key``: a top-level claim whose list joins ``scope``
    (the realm's client-role mapper writes the ``rabbitmq`` client's roles there)."""
    delivery_limit: int = 5
    """Redeliveries of one message before the broker dead-letters it. 5."""
    password_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Internal-backend users (name -> password) with every permission on ``/``; an
    ``admin`` with a random password is always added."""


def _erlang_binary(text: str) -> str:
    return "<<" + json.dumps(text) + ">>"


class BrokerNode:
    """One local node; a context manager that stops it on exit."""

    def __init__(self, config: NodeConfig, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.admin_password = secrets.token_urlsafe(18)
        self.url = ""
        """``amqp://127.0.0.1:<port>/`` once started."""

    @staticmethod
    def available() -> bool:
        """True when ``rabbitmq-server`` is installed or can be installed (root + apt-get)."""
        if Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
            return True
        return os.geteuid() == 0 and shutil.which("apt-get") is not None

    @property
    def port(self) -> int:
        """The AMQP port."""
        return int((self.run_dir / "port").read_text())

    def write_config(self) -> None:
        """Write rabbitmq.conf, advanced.config, enabled_plugins and definitions.json."""
        c = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        users = {**c.password_users, "admin": self.admin_password}
        defs = self.run_dir / "definitions.json"
        defs.write_text(json.dumps(definitions(c.delivery_limit, users), indent=2))
        (self.run_dir / "rabbitmq.conf").write_text("\n".join([
            "loopback_users = none",
            "auth_backends.1 = rabbit_auth_backend_oauth2",
            "auth_backends.2 = internal",
            f"auth_oauth2.resource_server_id = {c.resource_server_id}",
            f"auth_oauth2.additional_scopes_key = {c.scopes_claim}",
            f"load_definitions = {defs}",
            "log.console = false",
            "log.file.level = info",
            # A small machine shared with others: no disk alarm on a nearly full /tmp.
            "disk_free_limit.absolute = 50MB",
            "",
        ]))
        (self.run_dir / "advanced.config").write_text(
            "[{rabbitmq_auth_backend_oauth2, [{key_config, [{jwks_url, "
            + _erlang_binary(c.jwks_url) + "}]}]}].\n")
        (self.run_dir / "enabled_plugins").write_text("[rabbitmq_auth_backend_oauth2].\n")

    def _script(self, *args: str, timeout: float = 300) -> str:
        try:
            done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,  # noqa: S603
                                  timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"scripts/rabbitmq {args[0]}: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.strip()[-800:] or f"exit status {done.returncode}"
            if "cannot install it" in message:
                raise BrokerUnavailable(message)
            raise RuntimeError(f"scripts/rabbitmq {args[0]}: {message}")
        return done.stdout.strip()

    def start(self) -> BrokerNode:
        """Write the configuration (first start only) and start; a watcher stops the node
        should this process die without stopping it."""
        if not (self.run_dir / "rabbitmq.conf").exists():
            self.write_config()
        self.url = self._script("start", str(self.run_dir), str(os.getpid()))
        return self

    def stop(self) -> None:
        """Stop the node (its files stay in ``run_dir``)."""
        self._script("stop", str(self.run_dir), timeout=60)

    def restart(self) -> None:
        """Stop and start again on the same ports, with the same data (durable queues keep
        their messages)."""
        self.stop()
        self.url = self._script("start", str(self.run_dir), str(os.getpid()))

    def __enter__(self) -> BrokerNode:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
