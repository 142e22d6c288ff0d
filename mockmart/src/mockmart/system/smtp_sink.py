"""The embedded SMTP sink: a real SMTP server (aiosmtpd) that files each message as ``.eml``.

Each accepted message is written to ``<mail_dir>/<message-id>.eml``. A second message with a
Message-ID already filed is a *duplicate delivery* (an at-least-once sender retried after a
crash between sending and recording): it is accepted (250, as a mail store that deduplicates
on Message-ID would) and filed under ``<mail_dir>/duplicates/`` instead, so tests and the demo
can count both. Files appear atomically (written aside, then hard-linked into place).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import os
import re
import signal
import socket
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

__all__ = [
    "MailboxCount",
    "SinkHandler",
    "count_mailbox",
    "read_mailbox",
    "serve_sink",
    "serve_until",
]

_SAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def _file_name(message_id: str | None) -> str:
    if not message_id:
        return f"no-id-{uuid.uuid4().hex}.eml"
    cleaned = _SAFE.sub("_", message_id.strip().strip("<>"))[:120]
    digest = hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:8]
    return f"{cleaned}-{digest}.eml"


class SinkHandler:
    """aiosmtpd handler: files every message under ``mail_dir`` (see the module docstring)."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self.duplicates_dir = mail_dir / "duplicates"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.duplicates_dir.mkdir(parents=True, exist_ok=True)

    def file_message(self, data: bytes) -> Path:
        """Write one message; returns where it went (``duplicates/`` for a repeated id)."""
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        name = _file_name(parsed.get("Message-ID"))
        tmp = self.mail_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        target = self.mail_dir / name
        try:
            os.link(tmp, target)
        except FileExistsError:
            target = self.duplicates_dir / f"{uuid.uuid4().hex[:8]}-{name}"
            os.link(tmp, target)
        finally:
            tmp.unlink()
        return target

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd hook: file the message, answer 250."""
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        await asyncio.to_thread(self.file_message, data)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class MailboxCount:
    """What the sink has filed."""

    delivered: int
    """Distinct messages (one per Message-ID)."""
    duplicates: int
    """Repeated deliveries of a Message-ID already filed."""


def count_mailbox(mail_dir: Path) -> MailboxCount:
    """Count the ``.eml`` files the sink wrote into ``mail_dir``."""
    if not mail_dir.exists():
        return MailboxCount(0, 0)
    delivered = sum(1 for _ in mail_dir.glob("*.eml"))
    dup_dir = mail_dir / "duplicates"
    duplicates = sum(1 for _ in dup_dir.glob("*.eml")) if dup_dir.exists() else 0
    return MailboxCount(delivered, duplicates)


def read_mailbox(mail_dir: Path, *, duplicates: bool = False) -> list[Message]:
    """Parse every filed message (or every duplicate), oldest file first."""
    folder = mail_dir / "duplicates" if duplicates else mail_dir
    files = sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]


async def serve_until(sock: socket.socket, mail_dir: Path, stop: asyncio.Event) -> None:
    """Serve SMTP on the listening socket ``sock`` until ``stop`` is set."""
    from aiosmtpd.smtp import SMTP

    handler = SinkHandler(mail_dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mockmart-smtp-sink", loop=loop), sock=sock)
    async with server:
        await stop.wait()


def serve_sink(sock: socket.socket, mail_dir: Path) -> None:
    """Serve SMTP on the listening socket ``sock`` until SIGTERM/SIGINT (main thread only)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_until(sock, mail_dir, stop)

    asyncio.run(main())
