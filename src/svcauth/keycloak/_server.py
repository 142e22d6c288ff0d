"""Running a real Keycloak (``kc.sh start-dev``) on 127.0.0.1 for development and tests.

::

    with LocalKeycloak(KeycloakConfig(realm_files=(realm,), env_file=dev_env)) as kc:
        print(kc.endpoints.issuer)

:class:`LocalKeycloak` fetches and unpacks the distribution when needed, makes a private
instance home, starts Keycloak in its own process group with ``--db=dev-mem`` (so the realm
import runs every time), the hostname pinned to the URL it reports, health on a separate
management port, and waits until both ``/health/ready`` and the realm's discovery document
answer. It stops with SIGTERM, then SIGKILL after ``stop_timeout``. Nothing is left behind: an
``atexit`` hook stops it, and a watchdog process kills the group if this process dies without
running it. Failures raise :class:`svcauth.SvcAuthError` with code ``keycloak_unavailable``
(see ``_dist``) or ``keycloak_start_failed`` (with the tail of the log).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from svcauth._discovery import normalize_auth_path
from svcauth._envfile import load_env_file
from svcauth._errors import SvcAuthError
from svcauth.keycloak import _instance
from svcauth.keycloak._dist import DEFAULT_VERSION, Distribution, Progress, ensure_distribution
from svcauth.keycloak._endpoints import KeycloakEndpoints
from svcauth.keycloak._process import (
    free_port,
    group_rss_bytes,
    retry_taken_port,
    spawn_watchdog,
    terminate_group,
)

START_FAILED = "keycloak_start_failed"
"""Error code: Keycloak was there but did not become ready (the message has the log tail)."""

PORT_IN_USE = "keycloak_port_in_use"
"""Error code: Keycloak could not bind its HTTP or management port."""

def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class KeycloakConfig:
    """How to run one local Keycloak. Every default is what the tests use."""

    version: str = DEFAULT_VERSION
    """Keycloak version to fetch and run (Java picked to match, see ``java_home_for``)."""
    port: int = 0
    """HTTP port on 127.0.0.1; 0 picks a free one."""
    management_port: int = 0
    """Management (health) port; 0 picks a free one."""
    auth_path: str = ""
    """``""`` or ``/auth`` (``--http-relative-path``, the layout of Keycloak before 17)."""
    realm: str = "techstore"
    """The realm whose discovery document must answer before the server counts as ready."""
    realm_files: tuple[Path, ...] = ()
    """Realm files imported unchanged (``--import-realm``); none means no import."""
    env_file: Path | None = None
    """``KEY=value`` file (``deploy/dev.env``) for the realm's ``${PLACEHOLDERS}`` and the
    bootstrap admin; the process environment overrides it, ``env`` overrides both."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for Keycloak, highest precedence."""
    heap: str = "-Xms64m -Xmx512m"
    """``JAVA_OPTS_KC_HEAP``."""
    start_timeout: float = 300.0
    """Seconds to wait for readiness (a cold start with re-augmentation takes ~50 s on 2 cores)."""
    stop_timeout: float = 20.0
    """Seconds between SIGTERM and SIGKILL."""
    cache: Path | None = None
    """Cache directory; None means ``$SVCAUTH_KEYCLOAK_CACHE`` or ``~/.cache/svcauth/keycloak``."""
    extra_args: tuple[str, ...] = ()
    """More ``kc.sh start-dev`` options, appended last."""
    keep_home: bool = False
    """Keep the instance home (log, data) after stopping, for debugging."""
    tracing_endpoint: str = ""
    """Where Keycloak sends its own traces over OTLP/HTTP (``--tracing-enabled``, protocol
    ``http/protobuf``, e.g. ``http://127.0.0.1:4318``); empty: tracing off."""


def _build_options(config: KeycloakConfig, auth_path: str) -> list[str]:
    options = ["--db=dev-mem", "--health-enabled=true"]
    if auth_path:
        options.append(f"--http-relative-path={auth_path}")
    if config.tracing_endpoint:
        options.append("--tracing-enabled=true")  # a build option: its own kept build
    return options


def _tracing_options(config: KeycloakConfig) -> list[str]:
    if not config.tracing_endpoint:
        return []
    # Every request traced (the default sampler is parent-based, always on), sent in batches.
    return [f"--tracing-endpoint={config.tracing_endpoint}", "--tracing-protocol=http/protobuf"]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class LocalKeycloak:
    """One Keycloak process: start, wait for readiness, report its endpoints, stop.

    ``detach=True`` (for ``scripts/keycloak start``) leaves it running after this process
    exits: no atexit hook, no watchdog, the home is kept; stop it later by pid.
    """

    def __init__(self, config: KeycloakConfig | None = None, *, progress: Progress = _stderr,
                 detach: bool = False) -> None:
        self.config = config or KeycloakConfig()
        self._progress = progress
        self._detach = detach
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._home: Path | None = None
        self._endpoints: KeycloakEndpoints | None = None
        self.distribution: Distribution | None = None
        """The distribution in use, once started."""
        self.startup_seconds: float | None = None
        """Seconds from launch to ready, once started."""

    @property
    def endpoints(self) -> KeycloakEndpoints:
        """Where it answers; raises ``RuntimeError`` before :meth:`start`."""
        if self._endpoints is None:
            raise RuntimeError("LocalKeycloak: not started")
        return self._endpoints

    @property
    def pid(self) -> int | None:
        """The process (group) id, while running."""
        return self._process.pid if self._process is not None else None

    @property
    def home(self) -> Path | None:
        """The instance home (holds ``keycloak.log``)."""
        return self._home

    @property
    def log_path(self) -> Path | None:
        """The log file, once started."""
        return self._home / "keycloak.log" if self._home is not None else None

    def _environment(self, port: int, mgmt_port: int, auth_path: str) -> dict[str, str]:
        env = dict(load_env_file(self.config.env_file)) if self.config.env_file else {}
        env.update(os.environ)
        env.update(self.config.env)
        assert self.distribution is not None
        env["JAVA_HOME"] = str(self.distribution.java_home)
        env["JAVA_OPTS_KC_HEAP"] = self.config.heap
        env.pop("JAVA_OPTS", None)  # would replace kc.sh's own options wholesale
        for name in ("KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD"):
            if not env.get(name):
                raise SvcAuthError(f"Keycloak: expected {name} in the environment or env file, "
                                   "found none", code=START_FAILED)
        return env

    def start(self) -> KeycloakEndpoints:
        """Fetch if needed, launch, wait for readiness; return the endpoints.

        With automatic ports, a port taken by someone else between choosing and binding it
        (another instance starting at the same moment) is retried twice on new ports.
        """
        if self._process is not None:
            return self.endpoints
        config = self.config
        self.distribution = ensure_distribution(config.version, cache=config.cache,
                                                progress=self._progress)
        return retry_taken_port(self._start_once, code=PORT_IN_USE,
                                retry=not (config.port or config.management_port),
                                before_retry=self._before_port_retry)

    def _before_port_retry(self) -> None:
        if self._home is not None:
            _instance.remove_home(self._home)
        self._progress("  a port was taken meanwhile; retrying on new ports")

    def _start_once(self) -> KeycloakEndpoints:
        config = self.config
        assert self.distribution is not None
        auth_path = normalize_auth_path(config.auth_path) or ""
        port = config.port or free_port()
        mgmt_port = config.management_port or free_port()
        while mgmt_port == port:
            mgmt_port = free_port()
        env = self._environment(port, mgmt_port, auth_path)
        build = _build_options(config, auth_path)
        key = _instance.build_key([config.version, *build])
        warm = _instance.has_template(self.distribution, key)
        self._home = _instance.create_home(self.distribution, config.realm_files, key)
        base_url = f"http://127.0.0.1:{port}"
        self._endpoints = KeycloakEndpoints(
            base_url=base_url, auth_path=auth_path, realm=config.realm,
            management_url=f"http://127.0.0.1:{mgmt_port}{auth_path}",
            admin_username=env["KC_BOOTSTRAP_ADMIN_USERNAME"],
            admin_password=env["KC_BOOTSTRAP_ADMIN_PASSWORD"])
        command = [str(self._home / "bin" / "kc.sh"), "start-dev", *build,
                   "--http-host=127.0.0.1", f"--http-port={port}",
                   f"--hostname={base_url}{auth_path}",
                   f"--http-management-port={mgmt_port}", *_tracing_options(config),
                   *(["--import-realm"] if config.realm_files else []), *config.extra_args]
        self._progress(f"starting Keycloak {config.version} on {base_url}{auth_path} "
                       f"({'warm' if warm else 'cold: re-augmenting first'}), "
                       f"log {self.log_path}")
        started = time.monotonic()
        assert self.log_path is not None
        with self.log_path.open("wb") as log:
            # Our own kc.sh copy with options built above: no shell, no outside input.
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,  # noqa: S603
                                             stderr=subprocess.STDOUT, env=env, cwd=self._home,
                                             start_new_session=True)
        if self._detach:
            # Nobody owns a detached instance but itself: keep its home while it runs.
            (self._home / "owner.pid").write_text(f"{self._process.pid}\n")
        else:
            self._watchdog = spawn_watchdog(self._process.pid, config.stop_timeout)
            atexit.register(self.stop)
        try:
            self._wait_ready(started)
        except BaseException:
            # Keep the home (and its log) for a look; the next start sweeps it once we exit.
            self._stop_process()
            raise
        self.startup_seconds = time.monotonic() - started
        _instance.save_template(self.distribution, self._home, key)
        self._progress(f"Keycloak ready in {self.startup_seconds:.1f} s: {self.endpoints.server_url}"
                       f"  (issuer {self.endpoints.issuer})")
        return self.endpoints

    def _wait_ready(self, started: float) -> None:
        endpoints = self.endpoints
        assert self._process is not None and self.log_path is not None
        deadline = started + self.config.start_timeout
        last_report = started
        with httpx.Client(timeout=5.0) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    tail = _log_tail(self.log_path)
                    raise SvcAuthError(f"Keycloak exited with code {code} before it was ready; "
                                       f"log {self.log_path}:\n{tail}",
                                       code=PORT_IN_USE if "Port already bound" in tail
                                       else START_FAILED)
                if self._ready(client, endpoints):
                    return
                now = time.monotonic()
                if now > deadline:
                    raise SvcAuthError(f"Keycloak not ready after {self.config.start_timeout:.0f} s;"
                                       f" log {self.log_path}:\n{_log_tail(self.log_path)}",
                                       code=START_FAILED)
                if now - last_report >= 5.0:
                    last_report = now
                    self._progress(f"  ... starting, {now - started:.0f} s")
                time.sleep(0.5)

    @staticmethod
    def _ready(client: httpx.Client, endpoints: KeycloakEndpoints) -> bool:
        try:
            if client.get(endpoints.health_url).status_code != 200:
                return False
            response = client.get(endpoints.discovery_url)
        except httpx.TransportError:
            return False
        if response.status_code != 200:
            return False
        issuer = response.json().get("issuer")
        if issuer != endpoints.issuer:
            raise SvcAuthError(f"Keycloak issuer: expected {endpoints.issuer}, found {issuer}",
                               code=START_FAILED)
        return True

    def rss_bytes(self) -> int:
        """Resident memory of the process group (Linux ``/proc``), 0 when not running."""
        if self._process is None:
            return 0
        return group_rss_bytes(self._process.pid)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after ``stop_timeout``; remove the home."""
        self._stop_process()
        if self._home is not None and not self.config.keep_home and not self._detach:
            _instance.remove_home(self._home)

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            terminate_group(process.pid, self.config.stop_timeout, process)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            assert watchdog.stdin is not None
            watchdog.stdin.close()
            watchdog.wait(timeout=self.config.stop_timeout + 5)

    def __enter__(self) -> LocalKeycloak:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
