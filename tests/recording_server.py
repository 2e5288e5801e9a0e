"""A real HTTP server on 127.0.0.1 that records every POST and answers per a plan.

Stands in for Slack's incoming webhook and for the product's nudge receiver, so delivery,
retries and timeouts run through the real socket path. Each request is recorded with its path,
headers, raw body and parsed JSON; `plan` holds one answer per coming request (an HTTP status,
or ("sleep", seconds) to stall past the client's timeout, then 200), `default` the rest.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How often the serving thread looks for a shutdown request. The standard library's 0.5 s made
# every test that used a server wait up to half a second in teardown.
POLL_SECONDS = 0.02


@dataclass
class RecordingServer:
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/"
    content_type: str = "text/plain"
    ok_body: bytes = b"ok"
    error_body: bytes = b"error"
    requests: list[dict] = field(default_factory=list)
    plan: list = field(default_factory=list)
    default: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def next_action(self):
        with self.lock:
            return self.plan.pop(0) if self.plan else self.default


@dataclass
class FakeSlack(RecordingServer):
    """A Slack incoming webhook: what it received, and how it answers the next requests."""

    path: str = "/services/T000/B000/XXXX"
    ok_body: bytes = b"ok"
    error_body: bytes = b"internal_error"

    @property
    def bodies(self) -> list[dict]:
        return [r["json"] for r in self.requests]


def _handler(receiver: RecordingServer):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                parsed = json.loads(raw or b"null")
            except ValueError:
                parsed = None
            with receiver.lock:
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": raw, "json": parsed}
                )
            action = receiver.next_action()
            status = 200
            if isinstance(action, tuple):
                time.sleep(action[1])  # past the client's timeout: it has given up by now
            else:
                status = action
            body = receiver.ok_body if status < 300 else receiver.error_body
            try:
                self.send_response(status)
                self.send_header("Content-Type", receiver.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client hung up after its timeout
                pass

        def log_message(self, *args):
            pass

    return Handler


@contextmanager
def serving(receiver: RecordingServer) -> Iterator[RecordingServer]:
    """Run `receiver` on a free port for the duration of the block."""
    server = ThreadingHTTPServer((receiver.host, 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
