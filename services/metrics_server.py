"""Each service's ``/metrics`` (Prometheus) and ``/healthz`` on an address of its own.

``COLDCHAIN_METRICS_HOST`` (default loopback) and a per-service port; port 0 serves nothing.
A port already taken is logged and the service goes on without the endpoint: metrics are for
watching a service, never a reason for it to stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, host: str, port: int,
                 healthy: Callable[[], bool] = lambda: True) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.healthy = healthy
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        if not self.port:
            return
        try:
            self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        except OSError as exc:
            log.error("no /metrics endpoint: %s:%d cannot be bound (%s)", self.host, self.port, exc)
            return
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        log.info("metrics at http://%s:%d/metrics, health at /healthz", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry, healthy = self.registry, self.healthy

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/metrics":
                    self._answer(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif self.path == "/healthz":
                    ok = healthy()
                    self._answer(200 if ok else 503, "text/plain", b"ok\n" if ok else b"unhealthy\n")
                else:
                    self._answer(404, "text/plain", b"not found\n")

            def _answer(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # scrapes every 15 s: not worth a log line
                pass

        return Handler
