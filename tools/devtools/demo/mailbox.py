"""Local stand-ins for the alert providers: an SMTP server (aiosmtpd) that keeps each email
as an ``.eml`` file, and an HTTP SMS gateway (the contract's ``{"to", "body"}``) that keeps
each text in a JSON-lines file. Both report every message to a callback, for the console."""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Delivered:
    channel: str  # "email" or "sms"
    to: str
    text: str  # the subject of an email, the body of an SMS
    path: Path


class _MailHandler:
    def __init__(self, folder: Path, on_message: Callable[[Delivered], None]) -> None:
        self.folder = folder
        self.on_message = on_message
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{next(self._numbers):04d}.eml"
        path.write_bytes(data)
        self.on_message(Delivered("email", ", ".join(envelope.rcpt_tos), str(parsed.get("Subject", "")), path))
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on ``host:port`` (0 = a free port) that stores every message it gets."""

    def __init__(self, folder: Path, on_message: Callable[[Delivered], None], host: str = "127.0.0.1",
                 port: int = 1025) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self._handler = _MailHandler(folder, on_message)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(self._handler, hostname=self.host, port=_port_or_free(self.host, self.port))
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class SmsCatcher:
    """An HTTP SMS gateway: ``POST /sms`` with ``{"to", "body"}`` -> 202, kept in ``sms.jsonl``."""

    def __init__(self, folder: Path, on_message: Callable[[Delivered], None], host: str = "127.0.0.1",
                 port: int = 1026) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self.on_message = on_message
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/sms"

    @property
    def log_path(self) -> Path:
        return self.folder / "sms.jsonl"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._server = ThreadingHTTPServer((self.host, _port_or_free(self.host, self.port)), self._handler_class())
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="sms-catcher", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _keep(self, to: str, body: str) -> None:
        record = {"received_at": datetime.now(UTC).isoformat(), "to": to, "body": body}
        with self._lock, self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        self.on_message(Delivered("sms", to, body, self.log_path))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                    to, text = str(body["to"]), str(body["body"])
                except (ValueError, KeyError, TypeError):
                    self._answer(400, {"error": 'expected JSON {"to": "+E164", "body": "text"}'})
                    return
                catcher._keep(to, text)
                self._answer(202, {"status": "accepted"})

            def _answer(self, code: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo prints each SMS itself

        return Handler


def _port_or_free(host: str, port: int) -> int:
    """``port`` if it can be bound, else any free port (another catcher may hold 1025)."""
    for candidate in (port, 0) if port else (0,):
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port on {host}")
