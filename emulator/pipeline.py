"""The request pipeline of the signed API: fault, authentication, route and checks, handler, log.

A request goes through, in order: a pending fault if one matches (faults.py), DTAPI
authentication (auth.py), the route table (routes.py) with the permission of the token pair and
the settings that hide or forbid routes, then the handler, which reads or changes the dataset
under its lock. Every request is recorded in the request log before its reply leaves.
"""
from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

from emulator import routes
from emulator.api import email as email_routes
from emulator.auth import AuthOutcome, Authenticator, SignedRequest, first_path_segment
from emulator.clock import Clock
from emulator.dataset import Dataset
from emulator.state.email import EmailDataset
from emulator.faults import FAULT_RULES, Connection, FaultQueue
from emulator.requestlog import RequestLog
from emulator.settings import SettingsStore
from emulator.wire import Response, json_response, redirect


@dataclass
class Pipeline:
    """Answers signed-API requests from the emulator's parts; ``base_url`` gives the URL replies link to."""
    dataset: Dataset
    settings_store: SettingsStore
    clock: Clock
    faults: FaultQueue
    log: RequestLog
    authenticator: Authenticator
    seed: int
    base_url: Callable[[], str]
    emails: EmailDataset | None = None
    _request_counter: int = field(default=0, init=False)
    _counter_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def handle(self, method: str, raw_path: str, raw_query: str, body: bytes, headers: dict[str, str],
               connection: Connection) -> Response | None:
        """The reply to send (None = send nothing), once the request is in the log."""
        reply, fault_kind = self.answer(method, raw_path, raw_query, body, headers, connection)
        # Logged before the reply leaves, so a client that has its reply also sees the entry.
        self.log.append(method, raw_path, raw_query, body, None if reply is None else reply.status,
                        0 if reply is None else reply.length if reply.stream is not None else len(reply.body),
                        headers, fault_kind)
        return reply

    def answer(self, method: str, raw_path: str, raw_query: str, body: bytes, headers: dict[str, str],
               connection: Connection) -> tuple[Response | None, str | None]:
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
        now = self.clock.now_ms()
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
        if email_routes.is_email_path(raw_path) and self.emails is not None:
            return self._email_answer(method, raw_path, raw_query, body, headers, settings, now,
                                      result.token_pair.permissions)
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
            method=method.upper(), path=raw_path, query=_parse_form(raw_query), body=parsed_body,
            path_args=path_args, dataset=self.dataset, settings=settings, now_ms=now,
            base_url=self.base_url(), token_pair=result.token_pair, shuffle=random.Random(shuffle_seed))
        with self.dataset.lock:
            return routes.call(route, request)

    def _email_answer(self, method: str, raw_path: str, raw_query: str, body: bytes, headers: dict[str, str],
                      settings: Any, now: int, permissions: frozenset[str]) -> Response:
        """Darktrace/Email's API (api/email.py), on the same dataset lock."""
        try:
            parsed_body = _parse_body(headers, body) if method.upper() != 'GET' else {}
        except ValueError as error:
            return json_response({'error': str(error)}, status=400)
        with self._counter_lock:
            self._request_counter += 1
            shuffle_seed = self.seed * 1_000_003 + self._request_counter
        assert self.emails is not None
        with self.dataset.lock:
            return email_routes.answer(method, raw_path, _parse_form(raw_query), parsed_body, self.emails, settings,
                                       now, permissions, random.Random(shuffle_seed))


def _parse_form(text: str) -> dict[str, str]:
    """A query string or form body; the first value of a repeated name wins."""
    form: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        form.setdefault(name, value)
    return form


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
    return _parse_form(text)
