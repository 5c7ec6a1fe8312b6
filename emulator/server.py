"""HTTP(S) server of the emulator and the ``Emulator`` object that tests drive.

A request goes through, in order: the control interface (``/_emulator/...``, unsigned), a
pending fault if one matches, DTAPI authentication (auth.py), the route table and permission
check (routes.py), and the handler, which reads or changes the dataset under its lock. Every
request outside the control interface is recorded in the request log.
"""
from __future__ import annotations

import json
import random
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable
from urllib.parse import parse_qsl

from emulator import control, routes
from emulator.auth import (DEFAULT_PRIVATE_TOKEN, DEFAULT_PUBLIC_TOKEN, AuthOutcome, Authenticator, SignedRequest,
                           first_path_segment)
from emulator.clock import Clock
from emulator.dataset import Dataset
from emulator.faults import FAULT_RULES, FaultQueue, make_fault
from emulator.requestlog import RequestLog
from emulator.settings import SettingsStore
from emulator.wire import Response, json_response, redirect, status_phrase

CONTROL_PREFIX = '/_emulator'
# Keep-alive connections idle longer than this are closed, so handler threads do not pile up.
IDLE_TIMEOUT_S = 30


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: 'Emulator', context: ssl.SSLContext | None) -> None:
        self.emulator = emulator
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
    server: _Server

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
        emulator = self.server.emulator
        if raw_path == CONTROL_PREFIX or raw_path.startswith(CONTROL_PREFIX + '/'):
            self._send(control.handle(emulator, self.command, raw_path, raw_query, body))
            return
        headers = dict(self.headers.items())
        reply, fault_kind = emulator.answer(self.command, raw_path, raw_query, body, headers, self)
        # Logged before the reply leaves, so a client that has its reply also sees the entry.
        emulator.log.append(self.command, raw_path, raw_query, body, None if reply is None else reply.status,
                            0 if reply is None else reply.length if reply.stream is not None else len(reply.body),
                            headers, fault_kind)
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
        self.wfile.write(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + reply.body)
        for piece in reply.stream or ():
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


class Emulator:
    """A Darktrace appliance on 127.0.0.1: dataset, token pairs, clock, settings, faults and log.

    ``settings`` are the realism switches of settings.py (order, inclusive_bounds, honour_count,
    ack_reply, tag_reply, comment_reply, model_uuid_reply, date_clock, respond, signature_form,
    breach_path_route, group_lookup, details_pairs, ai_time_filter); ``incident_events`` adds a backlog of
    AI Analyst incident events spread like the breaches.
    """

    def __init__(self, breaches: int = 500, span_days: float = 7, seed: int = 1, tls: bool = False,
                 anchor_ms: int | None = None, token_pairs: Iterable[Any] | None = None, port: int = 0,
                 incident_events: int = 0, **settings: Any) -> None:
        self.settings_store = SettingsStore(**settings)
        self.dataset = Dataset(breaches=breaches, span_days=span_days, seed=seed, anchor_ms=anchor_ms,
                               incident_events=incident_events)
        self.seed = seed
        self.tls = tls
        self.port = port
        self.clock = Clock()
        self.faults = FaultQueue()
        self.log = RequestLog()
        self.authenticator = Authenticator()
        self.public_token = DEFAULT_PUBLIC_TOKEN
        self.private_token = DEFAULT_PRIVATE_TOKEN
        self.authenticator.add_token_pair(self.public_token, self.private_token, None)
        for pair in token_pairs or ():
            if isinstance(pair, dict):
                self.add_token_pair(pair['public'], pair['private'], pair.get('permissions'))
            else:
                self.add_token_pair(*pair)
        self.cert_path: str | None = None
        self._temp_dir: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._request_counter = 0
        self._counter_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError('the emulator is not started')
        scheme = 'https' if self.tls else 'http'
        return f'{scheme}://127.0.0.1:{self._server.server_address[1]}'

    def start(self) -> 'Emulator':
        if self._server is not None:
            return self
        context = None
        if self.tls:
            # Imported here so plain-HTTP use does not need the cryptography package.
            from emulator.tls import server_context, write_self_signed
            self._temp_dir = tempfile.mkdtemp(prefix='darktrace-emulator-')
            certificate = write_self_signed(self._temp_dir)
            self.cert_path = certificate.cert_path
            context = server_context(certificate)
        self._server = _Server(('127.0.0.1', self.port), self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
                                        name='darktrace-emulator', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_all_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self.cert_path = None

    def __enter__(self) -> 'Emulator':
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ control API
    def add_token_pair(self, public: str, private: str, permissions: set[str] | None = None) -> None:
        self.authenticator.add_token_pair(public, private, permissions)

    def inject_fault(self, kind: str, count: int = 1, method: str | None = None, path: str | None = None,
                     status: int | None = None, retry_after: float | str | None = None,
                     delay_s: float | None = None, size_bytes: int | None = None, payload: Any = None) -> None:
        self.faults.add(make_fault(kind, count, method, path, status, retry_after, delay_s, size_bytes, payload))

    def clear_faults(self) -> None:
        self.faults.clear()

    def shift_clock(self, seconds: float) -> int:
        return self.clock.shift(seconds)

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def set_settings(self, **changes: Any) -> dict[str, Any]:
        return self.settings_store.update(**changes)

    @property
    def settings(self) -> dict[str, Any]:
        return self.settings_store.as_dict()

    def add_breaches(self, breaches: Iterable[dict[str, Any]]) -> list[int]:
        with self.dataset.lock:
            return self.dataset.add_breaches(breaches, self.now_ms())

    def add_incident_events(self, events: Iterable[dict[str, Any]]) -> list[str]:
        with self.dataset.lock:
            return self.dataset.add_incident_events(events, self.now_ms())

    def request_log(self) -> list[dict[str, Any]]:
        return self.log.entries()

    def clear_log(self) -> None:
        self.log.clear()

    def state(self) -> dict[str, Any]:
        with self.dataset.lock:
            counts = {'breaches': self.dataset.breach_count, 'devices': len(self.dataset.devices),
                      'models': len(self.dataset.models), 'components': len(self.dataset.components),
                      'tags': len(self.dataset.tags), 'watched': len(self.dataset.watched),
                      'incidents': len(self.dataset.incidents), 'antigena': len(self.dataset.antigena),
                      'requests': len(self.log)}
        return {'counts': counts, 'now_ms': self.now_ms(), 'shift_ms': self.clock.shift_ms,
                'anchor_ms': self.dataset.anchor_ms, 'settings': self.settings, 'faults': self.faults.pending(),
                'url': self.url if self._server is not None else None}

    # ------------------------------------------------------------------ request pipeline
    def answer(self, method: str, raw_path: str, raw_query: str, body: bytes, headers: dict[str, str],
               connection: _Handler) -> tuple[Response | None, str | None]:
        """The reply to a signed-API request (None = the connection was reset) and the fault applied."""
        fault = self.faults.take(method, raw_path)

        def normal_answer() -> Response:
            return self._authenticated_answer(method, raw_path, raw_query, body, headers)

        if fault is None:
            return normal_answer(), None
        return FAULT_RULES[fault.kind](fault, normal_answer, connection), fault.kind

    def _authenticated_answer(self, method: str, raw_path: str, raw_query: str, body: bytes,
                              headers: dict[str, str]) -> Response:
        settings = self.settings_store.snapshot()
        now = self.now_ms()
        reference = now if settings.date_clock == 'appliance' else self.clock.host_ms()
        result = self.authenticator.verify(SignedRequest(method, raw_path, raw_query, body, headers), reference,
                                           settings.signature_form)
        segment = first_path_segment(raw_path)
        if result.outcome is AuthOutcome.NO_HEADERS:
            return redirect('/login')
        if result.outcome is AuthOutcome.DATE_ERROR:
            return json_response({segment: 'API DATE ERROR'}, status=400)
        if result.outcome is AuthOutcome.SIGNATURE_ERROR or result.token_pair is None:
            return json_response({segment: 'API SIGNATURE ERROR'}, status=400)
        found = routes.find_route(method, raw_path, settings)
        if found is None or (settings.respond == 'absent' and found[0].permission in routes.RESPOND_PERMISSIONS):
            return redirect('/login')
        route, path_args = found
        if route.permission not in result.token_pair.permissions or (
                settings.respond == 'no_permission' and route.permission in routes.RESPOND_PERMISSIONS):
            if route.forbidden == 'json':
                return json_response({'error': '403 Forbidden'}, status=403)
            return redirect('/403')
        try:
            parsed_body = _parse_body(headers, body) if method.upper() != 'GET' else {}
        except ValueError as error:
            return json_response({'error': str(error), 'response': 'INPUT ERROR'}, status=400)
        with self._counter_lock:
            self._request_counter += 1
            shuffle_seed = self.seed * 1_000_003 + self._request_counter
        request = routes.Request(
            method=method.upper(), path=raw_path, query=_parse_query(raw_query), body=parsed_body,
            path_args=path_args, dataset=self.dataset, settings=settings, now_ms=now,
            base_url=self.url if self._server is not None else '', token_pair=result.token_pair,
            shuffle=random.Random(shuffle_seed))
        with self.dataset.lock:
            return routes.call(route, request)


def _parse_query(raw_query: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(name, value)
    return query


def _parse_body(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A JSON object or a form body, by Content-Type (or by its first character when unlabelled)."""
    if not body:
        return {}
    content_type = next((value for name, value in headers.items() if name.lower() == 'content-type'), '')
    text = body.decode('utf-8', errors='replace')
    if 'json' in content_type.lower() or (not content_type and text.lstrip().startswith('{')):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ValueError('Invalid JSON body') from None
        if not isinstance(parsed, dict):
            raise ValueError('The JSON body must be an object')
        return parsed
    form: dict[str, Any] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        form.setdefault(name, value)
    return form
