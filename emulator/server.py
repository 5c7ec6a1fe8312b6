"""HTTP(S) server of the emulator: sockets, TLS handshakes, request bodies and replies.

It knows nothing of Darktrace. Each request, with its body read, goes to one ``Application``
(the facade's, in facade.py), which returns the reply to send, or None to send nothing (the
connection is then dropped if a fault asked for a reset).
"""
from __future__ import annotations

import itertools
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

from emulator.faults import Connection
from emulator.wire import Response, status_phrase

# (method, raw path, raw query, body, headers, connection) -> the reply, or None to send nothing.
Application = Callable[[str, str, str, bytes, dict[str, str], Connection], Response | None]

# Keep-alive connections idle longer than this are closed, so handler threads do not pile up.
IDLE_TIMEOUT_S = 30


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], application: Application, context: ssl.SSLContext | None) -> None:
        self.application = application
        self.ssl_context = context
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.ssl_context is not None:
            # The handshake runs later, in the connection's own thread, so one slow client
            # cannot hold up accept().
            connection = self.ssl_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.open_connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.open_connections)
            self.open_connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop the connection or reject the self-signed certificate are expected.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'nginx'
    timeout = IDLE_TIMEOUT_S
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        # Small replies must not wait for the client's delayed ACK (Nagle): about 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_GET
    do_DELETE = do_GET
    do_PUT = do_GET
    do_PATCH = do_GET

    def _dispatch(self) -> None:
        self._reset_requested = False
        raw_path, _, raw_query = self.path.partition('?')
        body = self._read_body()
        reply = self.server.application(self.command, raw_path, raw_query, body, dict(self.headers.items()), self)
        if reply is not None:
            self._send(reply)
        elif self._reset_requested:
            self._abort()

    def _read_body(self) -> bytes:
        length = self.headers.get('Content-Length')
        if length is not None:
            return self.rfile.read(int(length)) if int(length) > 0 else b''
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b''.join(chunks)
        return b''

    def _send(self, reply: Response) -> None:
        """Write status line, headers and body in one write (one segment when they fit)."""
        length = reply.length if reply.stream is not None else len(reply.body)
        lines = [f'HTTP/1.1 {reply.status} {status_phrase(reply.status)}', f'Server: {self.server_version}',
                 f'Date: {self.date_time_string()}', f'Content-Type: {reply.content_type}',
                 f'Content-Length: {length}']
        lines += [f'{name}: {value}' for name, value in reply.headers.items()]
        if self.close_connection or reply.stream is not None:
            self.close_connection = True  # a client may stop reading a streamed body part-way
            lines.append('Connection: close')
        head = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
        stream: Iterable[bytes] = reply.stream or ()
        if reply.trickle_head:
            stream = itertools.chain([head[i:i + 1] for i in range(len(head))], stream)
        self.wfile.write(reply.body if reply.trickle_head else head + reply.body)
        for piece in stream:
            if reply.interval_s:
                self.wfile.flush()
                time.sleep(reply.interval_s)
            try:
                self.wfile.write(piece)
            except OSError:  # the client stopped reading
                return

    def reset(self) -> None:
        """Fault ``reset``: drop the connection with no reply once the request is logged."""
        self._reset_requested = True

    def _abort(self) -> None:
        """Close with a TCP RST (SO_LINGER 0) instead of an orderly FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            # The buffered reader holds a reference to the socket; the descriptor closes only once both go.
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass
