"""The ``Emulator`` object that tests, the runner and benchmarks drive: an appliance on 127.0.0.1.

It owns the parts (dataset, settings, clock, token pairs, faults, request log), wires them into
the request pipeline (pipeline.py) and the control interface (control.py), and starts and stops
the HTTP server (server.py) that feeds them requests.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from typing import Any, Iterable

from emulator import control
from emulator.auth import DEFAULT_PRIVATE_TOKEN, DEFAULT_PUBLIC_TOKEN, Authenticator
from emulator.clock import Clock
from emulator.dataset import Dataset
from emulator.state.email import EmailDataset
from emulator.faults import Connection, FaultQueue, make_fault
from emulator.pipeline import Pipeline
from emulator.requestlog import RequestLog
from emulator.server import HttpServer
from emulator.settings import SettingsStore
from emulator.wire import Response


class Emulator:
    """A Darktrace appliance on 127.0.0.1: dataset, token pairs, clock, settings, faults and log.

    ``settings`` are the realism switches of settings.py (order, inclusive_bounds, honour_count,
    ack_reply, tag_reply, comment_reply, model_uuid_reply, date_clock, respond, signature_form,
    breach_path_route, group_lookup, details_pairs, ai_time_filter); ``incident_events`` adds a backlog of
    AI Analyst incident events spread like the breaches.
    """

    def __init__(self, breaches: int = 500, span_days: float = 7, seed: int = 1, tls: bool = False,
                 anchor_ms: int | None = None, token_pairs: Iterable[Any] | None = None, port: int = 0,
                 incident_events: int = 0, emails: int = 0, email_span_days: float = 2, **settings: Any) -> None:
        self.settings_store = SettingsStore(**settings)
        self.dataset = Dataset(breaches=breaches, span_days=span_days, seed=seed, anchor_ms=anchor_ms,
                               incident_events=incident_events)
        self.seed = seed
        # Darktrace/Email (api/email.py): `emails` spread over `email_span_days` before the dataset's anchor
        self.email_dataset = EmailDataset(self.dataset.anchor_ms, emails=emails, span_days=email_span_days, seed=seed)
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
        self.pipeline = Pipeline(self.dataset, self.settings_store, self.clock, self.faults, self.log,
                                 self.authenticator, seed, lambda: self.url if self._server is not None else '',
                                 self.email_dataset)
        self.cert_path: str | None = None
        self._temp_dir: str | None = None
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None

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
        self._server = HttpServer(('127.0.0.1', self.port), self._handle, context)
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

    def _handle(self, method: str, raw_path: str, raw_query: str, body: bytes, headers: dict[str, str],
                connection: Connection) -> Response | None:
        """The control interface answers its own paths, unsigned and unlogged; the pipeline the rest."""
        if control.is_control_path(raw_path):
            return control.handle(self, method, raw_path, raw_query, body)
        return self.pipeline.handle(method, raw_path, raw_query, body, headers, connection)

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

    def add_emails(self, emails: Iterable[dict[str, Any]]) -> list[str]:
        """Darktrace/Email emails from specs (EmailDataset.add); returns their uuids."""
        with self.dataset.lock:
            return self.email_dataset.add_many(emails)

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
