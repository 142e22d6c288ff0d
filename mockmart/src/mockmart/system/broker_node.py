"""A throw-away RabbitMQ node trusting one identity provider's tokens (``scripts/rabbitmq``
runs the process; this module writes what the node reads).

::

    with BrokerNode(NodeConfig(jwks_url=idp.jwks_uri), run_dir) as node:
        node.url        # amqp://127.0.0.1:<free port>/

The node's files all live in ``run_dir``: ``advanced.config`` (the whole configuration as
Erlang terms: the OAuth 2.0 backend first, then the internal one for the password users; the
``http`` JWKS URL, which 3.10 accepts only there), ``enabled_plugins`` and
``definitions.json`` (the topology of :mod:`.topology`). Nothing of the system-wide node is
read or touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from mockmart.config import REPO_ROOT
from mockmart.topology import definitions
from svcauth.keycloak import free_port

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
        self._boot: subprocess.Popen[str] | None = None

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
        """Write advanced.config, enabled_plugins and definitions.json."""
        c = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        users = {**c.password_users, "admin": self.admin_password}
        defs = self.run_dir / "definitions.json"
        defs.write_text(json.dumps(definitions(c.delivery_limit, users), indent=2))
        # Erlang terms only (advanced.config, no rabbitmq.conf): the node then skips the
        # cuttlefish translation, which took 10-20 s of a boot on this two-core machine.
        (self.run_dir / "advanced.config").write_text(f"""[
 {{rabbit, [
   {{loopback_users, []}},
   {{auth_backends, [rabbit_auth_backend_oauth2, rabbit_auth_backend_internal]}},
   {{load_definitions, {json.dumps(str(defs))}}},
   {{disk_free_limit, {{absolute, 50000000}}}},
   {{log, [{{console, [{{enabled, false}}]}}, {{file, [{{level, info}}]}}]}}
 ]}},
 {{rabbitmq_auth_backend_oauth2, [
   {{resource_server_id, {_erlang_binary(c.resource_server_id)}}},
   {{extra_scopes_source, {_erlang_binary(c.scopes_claim)}}},
   {{key_config, [{{jwks_url, {_erlang_binary(c.jwks_url)}}}]}}
 ]}}
].
""")
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
        return self.begin().wait()

    def begin(self) -> BrokerNode:
        """Start booting without waiting: :attr:`url` is known at once (the ports are chosen
        here), :meth:`wait` waits for the boot. Lets the services start meanwhile."""
        if not self.available():
            raise BrokerUnavailable("rabbitmq-server not found (/usr/lib/rabbitmq/bin) and "
                                    "cannot install it (not root or no apt-get)")
        if not (self.run_dir / "advanced.config").exists():
            self.write_config()
        for name in ("port", "dist_port", "epmd_port"):
            if not (self.run_dir / name).exists():
                (self.run_dir / name).write_text(str(free_port()))
        self.url = f"amqp://127.0.0.1:{self.port}/"
        self._boot = subprocess.Popen(  # noqa: S603 (our script, our arguments)
            [str(SCRIPT), "start", str(self.run_dir), str(os.getpid())],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def wait(self, timeout: float = 300) -> BrokerNode:
        """Wait for the boot :meth:`begin` started (RuntimeError if it failed)."""
        boot, self._boot = self._boot, None
        if boot is None:
            return self
        try:
            _, err = boot.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            boot.kill()
            raise RuntimeError(f"scripts/rabbitmq start: no node after {timeout:g} s") from None
        if boot.returncode != 0:
            message = err.strip()[-800:] or f"exit status {boot.returncode}"
            if "cannot install it" in message:
                raise BrokerUnavailable(message)
            raise RuntimeError(f"scripts/rabbitmq start: {message}")
        return self

    def stop(self) -> None:
        """Stop the node (its files stay in ``run_dir``); a boot in progress is awaited."""
        if self._boot is not None:
            with contextlib.suppress(Exception):
                self.wait()
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
