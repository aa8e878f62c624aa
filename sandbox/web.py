"""The HTTP(S) server: a threading HTTP/1.1 keep-alive server and the path router."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import autodiscover, control, esp, ews, google, microsoft
from .httpcore import Context, Request, Response, json_response

log = logging.getLogger("sandbox.http")
MAX_BODY = 64 * 1024 * 1024


def route(ctx: Context, req: Request) -> Response:
    path = req.path
    if path.startswith("/_sandbox"):
        return control.handle(ctx, req, path[len("/_sandbox") :])
    if path.startswith("/google/"):
        response = google.route(ctx, req, path[len("/google") :])
        if response is not None:
            return response
    elif path.startswith("/upload/gmail/"):
        # Google's upload URLs sit at the host's root (/upload/gmail/v1/…), beside the API's
        # own path: clients built from the discovery document send uploads there.
        response = google.route(ctx, req, path)
        if response is not None:
            return response
    elif path.startswith("/microsoft/"):
        response = microsoft.route(ctx, req, path[len("/microsoft") :])
        if response is not None:
            return response
    elif path.startswith("/exchange/"):
        response = ews.route(ctx, req, path[len("/exchange") :])
        if response is not None:
            return response
    elif path.lower().startswith("/autodiscover/"):
        response = autodiscover.route(ctx, req)
        if response is not None:
            return response
    elif path.rstrip("/") == "/esp":
        return esp.dashboard(ctx, req)
    elif path in ("/", ""):
        return json_response(
            200,
            {
                "service": "Mailroom sandbox",
                "google": f"{req.base_url}/google",
                "microsoft_login": f"{req.base_url}/microsoft/login",
                "graph": f"{req.base_url}/microsoft/graph",
                "exchange_ews": f"{req.base_url}/exchange/EWS/Exchange.asmx",
                "control": f"{req.base_url}/_sandbox/",
            },
        )
    return json_response(404, {"error": {"code": 404, "message": f"No route for {path}"}})


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: pollers reuse one connection per worker thread
    server_version = "MailroomSandbox/1.0"
    timeout = 300  # an idle keep-alive connection gives its thread back after this
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection_state: dict[str, Any] = {}
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        try:
            body = self._read_body()
            req = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                base_url=f"{self.server.scheme}://{host}",
                connection=self.connection_state,
            )
            response = route(self.server.ctx, req)
        except Exception:  # noqa: BLE001 - one broken request must not kill the connection
            log.error("sandbox error on %s %s\n%s", self.command, self.path, traceback.format_exc())
            response = json_response(500, {"error": {"code": 500, "message": "sandbox bug"}})
        self._write(response)

    def _write(self, response: Response) -> None:
        # One write for status line, headers and body: with keep-alive, a separate small body
        # segment would wait on Nagle + delayed ACK (40 ms per request).
        if response.stream is not None:
            self._write_stream(response)
            return
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Content-Length: {len(response.body)}",
        ]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        # A HEAD answer has the GET's headers and no body (RFC 9110 9.3.2).
        self.wfile.write(head if self.command == "HEAD" else head + response.body)

    def _write_stream(self, response: Response) -> None:
        """Headers, then each part of the body as a chunk the moment it is produced."""
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            "Transfer-Encoding: chunked",
        ]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))
        try:
            for part in response.stream or ():
                if part:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True  # the client went away: nothing more to say

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # many Celery threads connect at once during benchmarks

    def __init__(
        self,
        address: tuple[str, int],
        ctx: Context,
        *,
        ssl_context: ssl.SSLContext | None = None,
        verbose: bool = False,
    ) -> None:
        self.ctx = ctx
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context else "http"
        self.verbose = verbose
        super().__init__(address, SandboxHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the connection's own thread, so a slow client never blocks accept().
        if self.ssl_context is not None:
            try:
                request.settimeout(30)
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
