"""``python -m svcauth.keycloak fetch|start|stop|status|run`` (what ``scripts/keycloak`` calls).

``start`` leaves Keycloak running in the background and records it in
``<cache>/instances/<name>.json``; ``stop`` and ``status`` find it there by ``--name``
(default ``default``), so a second instance (``--name auth --auth-path /auth``) can run beside.
``run`` keeps it in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import httpx

from svcauth._errors import SvcAuthError
from svcauth.keycloak._dist import DEFAULT_VERSION, cache_root, ensure_distribution
from svcauth.keycloak._process import group_rss_bytes, terminate_group
from svcauth.keycloak._server import KeycloakConfig, LocalKeycloak

_REPO = Path(__file__).resolve().parents[3]


def _default(relative: str) -> Path:
    """A repo file: relative to the current directory, else to the source checkout."""
    here = Path(relative)
    return here if here.exists() else _REPO / relative


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _state_file(name: str) -> Path:
    return cache_root() / "instances" / f"{name}.json"


def _config(args: argparse.Namespace) -> KeycloakConfig:
    chosen = args.realm_file or [str(_default("deploy/keycloak/techstore-realm.json"))]
    realm_files = () if args.no_import else tuple(Path(p) for p in chosen)
    return KeycloakConfig(version=args.version, port=args.port,
                          management_port=args.management_port, auth_path=args.auth_path,
                          realm_files=realm_files, env_file=Path(args.env_file),
                          heap=args.heap, start_timeout=args.timeout)


def _print_endpoints(kc: LocalKeycloak) -> None:
    e = kc.endpoints
    print(f"KEYCLOAK_URL={e.base_url}")
    print(f"KEYCLOAK_AUTH_PATH={e.auth_path}")
    print(f"KEYCLOAK_REALM={e.realm}")
    print(f"# issuer {e.issuer}")
    print(f"# token endpoint {e.token_endpoint}")
    print(f"# admin console {e.server_url}/admin/ (user {e.admin_username})")
    print(f"# health {e.health_url}; pid {kc.pid}; log {kc.log_path}", flush=True)


def _cmd_fetch(args: argparse.Namespace) -> int:
    dist = ensure_distribution(args.version, progress=_say)
    print(dist.home)
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    state = _state_file(args.name)
    if state.is_file():
        _say(f"an instance named {args.name!r} is recorded in {state}; "
             f"run 'stop --name {args.name}' first")
        return 1
    kc = LocalKeycloak(_config(args), progress=_say, detach=True)
    kc.start()
    state.parent.mkdir(parents=True, exist_ok=True)
    e = kc.endpoints
    state.write_text(json.dumps({
        "pid": kc.pid, "home": str(kc.home), "log": str(kc.log_path), "version": args.version,
        "base_url": e.base_url, "auth_path": e.auth_path, "issuer": e.issuer,
        "health_url": e.health_url}, indent=2) + "\n")
    _print_endpoints(kc)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    with LocalKeycloak(_config(args), progress=_say) as kc:
        _print_endpoints(kc)
        _say("running; Ctrl-C stops it")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0


def _read_state(name: str) -> dict[str, str] | None:
    try:
        loaded = json.loads(_state_file(name).read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _cmd_stop(args: argparse.Namespace) -> int:
    state = _read_state(args.name)
    if state is None:
        _say(f"no instance named {args.name!r} is recorded")
        return 0
    clean = terminate_group(int(state["pid"]), args.stop_timeout)
    _say(f"stopped pid {state['pid']}" + ("" if clean else " (killed after the timeout)"))
    shutil.rmtree(state["home"], ignore_errors=True)
    _state_file(args.name).unlink(missing_ok=True)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = _read_state(args.name)
    if state is None:
        print(f"{args.name}: not running (nothing recorded)")
        return 3
    pid = int(state["pid"])
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        print(f"{args.name}: dead (pid {pid} gone; 'stop --name {args.name}' cleans up)")
        return 1
    try:
        ready = httpx.get(state["health_url"], timeout=3.0).status_code == 200
    except httpx.TransportError:
        ready = False
    print(f"{args.name}: {'ready' if ready else 'NOT ready'} at {state['base_url']}"
          f"{state['auth_path']} (issuer {state['issuer']}), pid {pid}, "
          f"rss {group_rss_bytes(pid) / 1e6:.0f} MB, log {state['log']}")
    return 0 if ready else 1


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m svcauth.keycloak``."""
    parser = argparse.ArgumentParser(prog="scripts/keycloak",
                                     description="Run a real Keycloak on 127.0.0.1 (no Docker).")
    parser.add_argument("--version", default=os.environ.get("SVCAUTH_KEYCLOAK_VERSION",
                                                            DEFAULT_VERSION))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and unpack the distribution into the cache"
                   ).set_defaults(func=_cmd_fetch)
    for name, func, text in (("start", _cmd_start, "start in the background"),
                             ("run", _cmd_run, "start in the foreground until Ctrl-C")):
        p = sub.add_parser(name, help=text)
        p.set_defaults(func=func)
        p.add_argument("--name", default="default", help="instance name (start/stop/status)")
        p.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
        p.add_argument("--management-port", type=int, default=0, help="health port (default: free)")
        p.add_argument("--auth-path", default="", help="'' or /auth (legacy layout)")
        p.add_argument("--realm-file", action="append", default=None,
                       help="realm file to import (repeatable; default the techstore realm)")
        p.add_argument("--no-import", action="store_true", help="import no realm")
        p.add_argument("--env-file", default=str(_default("deploy/dev.env")))
        p.add_argument("--heap", default="-Xms64m -Xmx512m")
        p.add_argument("--timeout", type=float, default=300.0, help="readiness timeout, seconds")
    for name, func in (("stop", _cmd_stop), ("status", _cmd_status)):
        p = sub.add_parser(name, help=f"{name} an instance started with 'start'")
        p.set_defaults(func=func)
        p.add_argument("--name", default="default")
        p.add_argument("--stop-timeout", type=float, default=20.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; errors print their code and message and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SvcAuthError as exc:
        _say(f"keycloak {args.command}: error [{exc.code}]: {exc.message}")
        return 1
    except KeyboardInterrupt:
        return 130
    return code

