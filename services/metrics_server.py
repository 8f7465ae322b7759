"""Each service's ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` on an address of its own.

- ``/metrics``: the service's own ``CollectorRegistry`` (one per process, passed in);
- ``/healthz``: 200 while the process answers at all;
- ``/readyz``: 200 when every dependency the service names is connected, else 503; the body
  says which (``{"ready": false, "checks": {"kafka": true, "database": false}}``). The
  service passes the checks in as a callable; one that raises counts as not ready.

Where it listens is each service's ``COLDCHAIN_<SERVICE>_METRICS_ADDRESS`` (``host:port``;
see ``metrics_address``), loopback by default. An address already taken is logged and the
service goes on without the endpoint: metrics are for watching a service, never a reason
for it to stop. The API serves the same three paths on its own app (``services/api/observability.py``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Readiness = Callable[[], Mapping[str, bool]]  # dependency name -> connected


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int  # 0 (in tests): any free port, read back from MetricsServer.port

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen_address(text: str) -> ListenAddress:
    """``host:port``, ``[v6]:port`` or ``:port`` (loopback)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not host:port (e.g. 127.0.0.1:9104 or 0.0.0.0:9104)")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    return ListenAddress(host, int(port))


def metrics_address(address: str, host: str, port: int) -> ListenAddress | None:
    """Where a service's endpoint listens: ``address`` (its ``COLDCHAIN_<SERVICE>_METRICS_ADDRESS``)
    when given, else ``host`` (``COLDCHAIN_METRICS_HOST``) with ``port`` (its
    ``COLDCHAIN_<SERVICE>_METRICS_PORT``, the earlier variables); None (no endpoint) for port 0."""
    listen = parse_listen_address(address) if address.strip() else ListenAddress(host, port)
    return listen if listen.port else None


def always_ready() -> Mapping[str, bool]:
    return {}


def readiness_report(ready: Readiness) -> tuple[int, dict[str, object]]:
    """The status code and JSON body of ``/readyz``."""
    try:
        checks = {name: bool(ok) for name, ok in ready().items()}
    except Exception as exc:  # a check that fails is a dependency that is not there
        return 503, {"ready": False, "error": f"{type(exc).__name__}: {exc}"}
    ok = all(checks.values())
    return (200 if ok else 503), {"ready": ok, "checks": checks}


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, address: ListenAddress | None,
                 ready: Readiness = always_ready) -> None:
        self.registry = registry
        self.address = address
        self.ready = ready
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int | None:
        """The port bound (the one chosen, for port 0); None before ``start`` or without an address."""
        return self._server.server_address[1] if self._server is not None else None

    def start(self) -> None:
        if self.address is None:
            return
        try:
            self._server = ThreadingHTTPServer((self.address.host, self.address.port), self._handler())
        except OSError as exc:
            log.error("no /metrics endpoint: %s cannot be bound (%s)", self.address, exc)
            return
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        log.info("metrics at http://%s:%d/metrics, health at /healthz and /readyz", self.address.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry, ready = self.registry, self.ready

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._answer(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path == "/healthz":
                    self._json(200, {"status": "ok"})
                elif path == "/readyz":
                    self._json(*readiness_report(ready))
                else:
                    self._answer(404, "text/plain", b"not found\n")

            def _json(self, code: int, body: dict[str, object]) -> None:
                self._answer(code, "application/json", json.dumps(body).encode() + b"\n")

            def _answer(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # scrapes every 15 s: not worth a log line
                pass

        return Handler
