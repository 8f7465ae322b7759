"""A Server-Sent Events client for the tests: a real HTTP stream read in a thread."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    type: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


class SseClient:
    def __init__(self, url: str, headers: dict[str, str] | None = None, params: dict[str, str] | None = None) -> None:
        self.status: int | None = None
        self.body = ""
        self._events: queue.Queue[SseEvent] = queue.Queue()
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=120))
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}, params or {}), daemon=True)
        self._thread.start()
        if not self._opened.wait(15):
            raise AssertionError(f"{url} did not answer")

    def _read(self, url: str, headers: dict[str, str], params: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers, params=params) as response:
                self.status = response.status_code
                if response.status_code != 200:
                    self.body = response.read().decode()
                    self._opened.set()
                    return
                self._opened.set()
                fields: dict[str, str] = {}
                data: list[str] = []
                for line in response.iter_lines():
                    if line == "":
                        if data:
                            event = SseEvent(fields.get("event", "message"), "\n".join(data), fields.get("id"))
                            self._events.put(event)
                        fields, data = {}, []
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            data.append(value)
                        else:
                            fields[name] = value
        except (httpx.HTTPError, RuntimeError, OSError):
            pass  # closed by the test
        finally:
            self._opened.set()

    def until(self, done: Callable[[SseEvent], bool], timeout_s: float = 20) -> list[SseEvent]:
        """Every event up to and including the first for which ``done`` holds."""
        got: list[SseEvent] = []
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(e.type, e.data[:80]) for e in got]
                raise AssertionError(f"no awaited event within {timeout_s}s; got {seen}")
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            got.append(event)
            if done(event):
                return got

    def pending(self) -> list[SseEvent]:
        found = []
        while not self._events.empty():
            found.append(self._events.get_nowait())
        return found

    def close(self) -> None:
        self._client.close()
        self._thread.join(5)
