"""The private API token never leaves the signing code: not in output, context, logs, exceptions or stdout/stderr.

Every scenario runs through `Darktrace.main()` with a recognisable private token: every command succeeding,
test-module and fetch, every error kind the appliance or the network produces (against the emulator, and through
requests_mock for the shapes the emulator cannot produce), retried faults with their debug logging, invalid
parameters and arguments, with XSOAR's debug mode on and off. Everything the platform would receive is captured:
War Room entries, context, incidents, lastRun, the integration context, log lines, escaped exceptions with their
tracebacks, standard output and error, and Python logging records. None may hold the token, a piece of it, an
encoding of it, or a request signature (which is derived from it).
"""
from __future__ import annotations

import base64
import json
import logging
import re
import socket
import traceback
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import requests_mock

import demistomock
import xsoar_platform
import Darktrace
from emulator import Emulator
from network import unresolvable
from runner.examples import example_args
from runner.targets import EMULATOR_DATASET

REPO_ROOT = Path(__file__).resolve().parent.parent
PUBLIC = 'public-canary-token'
PRIVATE = 'PRIVATE-CANARY-8c1f2e7d9b4a6f3e5d0c'
WRONG_PRIVATE = 'PRIVATE-CANARY-WRONG-41b7e9c2a0d3'
NO_PERMISSION_PUBLIC = 'public-canary-no-permission'
NO_PERMISSION_PRIVATE = 'PRIVATE-CANARY-NOPERM-5e2a9c7f13b8'
MOCK_URL = 'https://dt.example'


def forbidden_fragments(token: str) -> list[str]:
    """The token, its first and last 12 characters, its middle, and the encodings a careless log might use."""
    middle = len(token) // 2
    return [token, token[:12], token[-12:], token[middle - 6:middle + 6], token.encode().hex(),
            base64.b64encode(token.encode()).decode().rstrip('=')]


class Captured:
    """Everything the platform would receive from the runs, as text to scan."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.signatures: set[str] = set()
        self.logs: list[tuple[str, str]] = []
        self.runs = 0
        self.last_run: dict[str, Any] | None = None  # what the latest run stored

    def run(self, command: str, params: dict[str, Any], args: dict[str, str] | None = None,
            last_run: dict[str, Any] | None = None) -> list[Any]:
        result = xsoar_platform.run_command(command, args, params, last_run=last_run)
        error = result.exception
        if error is not None:  # return_error raises during fetch-incidents
            self.texts += [str(error), repr(error), ''.join(traceback.format_exception(error))]
            # Any other command reports through the War Room; an escaped exception there is a bug of its own.
            assert command == 'fetch-incidents', f'{command} let {error!r} escape'
        platform_run = result.record
        self.last_run = platform_run.last_run
        self.texts += [json.dumps(value, default=str) for value in (
            platform_run.results, platform_run.incidents, platform_run.last_run, platform_run.integration_context,
            platform_run.logs)]
        self.logs += platform_run.logs
        self.runs += 1
        return list(platform_run.results)

    def scan(self, tokens: list[str]) -> None:
        for level, message in self.logs:
            # Signatures are 40 hex digits; the emulator's are not collected, so none may be logged at all.
            assert not re.search(r'\b[0-9a-f]{40}\b', message), f'a signature-like value was logged: {message}'
        for text in self.texts:
            for token in tokens:
                for fragment in forbidden_fragments(token):
                    assert fragment not in text, f'{fragment!r} (from a private token) leaked into: {text[:300]}'
            for signature in self.signatures:
                assert signature not in text, f'a request signature leaked into: {text[:300]}'


@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(**EMULATOR_DATASET) as emulator:
        emulator.add_token_pair(PUBLIC, PRIVATE)
        emulator.add_token_pair(NO_PERMISSION_PUBLIC, NO_PERMISSION_PRIVATE, set())
        yield emulator


@pytest.fixture(params=[False, True], ids=['debug-mode-off', 'debug-mode-on'])
def debug_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    # In debug mode the platform's return_error appends the traceback to the War Room entry.
    monkeypatch.setattr(demistomock, 'is_debug', request.param)
    return bool(request.param)


def params_for(url: str, **overrides: Any) -> dict[str, Any]:
    return xsoar_platform.instance_params(url, PUBLIC, PRIVATE, **{
        'retry_budget_seconds': '3', 'min_score': '0', 'max_alerts': '20', 'first_fetch': '3 days', **overrides})


def is_error(entries: list[Any]) -> bool:
    return any(isinstance(entry, dict) and entry.get('Type') == 4 for entry in entries)


def emulator_scenarios(emu: Emulator, captured: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    params = params_for(emu.url)
    # Every command succeeds, then test-module and two fetch runs.
    for command, args in example_args().items():
        if command in Darktrace.COMMANDS:
            assert not is_error(captured.run(command, params, args)), command
    assert captured.run('test-module', params) == ['ok']
    captured.run('fetch-incidents', params)
    captured.run('fetch-incidents', params, last_run=captured.last_run)
    # The private token as a credentials object, as a type-9 parameter holds it.
    assert captured.run('test-module', {**params, 'private_api_token': {'identifier': '', 'password': PRIVATE}}) \
        == ['ok']
    # The appliance refuses: signature, date, permission (redirect and JSON), not found; also during fetch.
    wrong = {**params, 'private_api_token': WRONG_PRIVATE}
    assert is_error(captured.run('test-module', wrong))
    captured.run('fetch-incidents', wrong)
    assert is_error(captured.run('darktrace-post-comment-to-model-breach', wrong, {'pbid': '10001', 'message': 'x'}))
    no_permission = {**params, 'public_api_token': NO_PERMISSION_PUBLIC, 'private_api_token': NO_PERMISSION_PRIVATE}
    assert is_error(captured.run('test-module', no_permission))
    assert is_error(captured.run('darktrace-post-to-watched-list', no_permission, {'endpointsToWatch': 'x.example'}))
    assert is_error(captured.run('darktrace-get-model-breach', params, {'pbid': '999999999'}))
    emu.shift_clock(31 * 60)
    try:
        assert is_error(captured.run('test-module', params))
        captured.run('fetch-incidents', params)
    finally:
        emu.shift_clock(-31 * 60)
    # Faults: retried on GET (logged), reported on POST, reported when retrying cannot cure them.
    monkeypatch.setattr(Darktrace, 'READ_TIMEOUT_S', 0.25)
    for fault in ({'kind': 'status', 'status': 503}, {'kind': 'status', 'status': 429, 'retry_after': 0},
                  {'kind': 'reset'}, {'kind': 'status', 'status': 500}, {'kind': 'truncate'},
                  {'kind': 'html_login'}, {'kind': 'delay', 'delay_s': 0.4}):
        emu.inject_fault(path='/status', **fault)
        captured.run('test-module', params)
        emu.inject_fault(path='/modelbreaches', **fault)
        captured.run('fetch-incidents', params)
        emu.inject_fault(path='/tags/entities', method='POST', **fault)
        captured.run('darktrace-post-tag-to-device', params, {'deviceId': '1', 'tagName': 'Canary'})
    emu.inject_fault('status', status=503, count=50, path='/status')
    assert is_error(captured.run('test-module', {**params, 'retry_budget_seconds': '1'}))
    emu.clear_faults()
    # Invalid parameters and arguments.
    assert is_error(captured.run('test-module', {**params, 'url': 'not a url'}))
    assert is_error(captured.run('test-module', {**params, 'retry_budget_seconds': 'lots'}))
    assert is_error(captured.run('test-module', {**params, 'public_api_token': ''}))
    assert is_error(captured.run('darktrace-get-device', params, {'did': 'abc'}))
    assert is_error(captured.run('darktrace-no-such-command', params))
    captured.run('fetch-incidents', {**params, 'first_fetch': 'whenever'})


def network_scenarios(captured: Captured) -> None:
    """TLS, refused connections and DNS failures, without traffic beyond 127.0.0.1."""
    with Emulator(breaches=10, span_days=1, seed=4, tls=True) as tls_emu:
        tls_emu.add_token_pair(PUBLIC, PRIVATE)
        assert is_error(captured.run('test-module', params_for(tls_emu.url)))
        assert captured.run('test-module', params_for(tls_emu.url, insecure='true')) == ['ok']
    # The port stays bound (never listening) during the run, so connecting is refused and no other process
    # can start listening on it in between.
    with socket.socket() as holder:
        holder.bind(('127.0.0.1', 0))
        nothing_listening = params_for(f'http://127.0.0.1:{holder.getsockname()[1]}', retry_budget_seconds='1')
        entries = captured.run('test-module', nothing_listening)
    assert is_error(entries) and 'refused' in json.dumps(entries)
    with unresolvable('darktrace.invalid'):
        assert is_error(captured.run('test-module', params_for('https://darktrace.invalid', retry_budget_seconds='0')))


MOCKED_REPLIES: list[dict[str, Any]] = [
    {'status_code': 400, 'json': {'error': 'Invalid did', 'response': 'INPUT ERROR'}},
    {'status_code': 401, 'json': {'status': 'API SIGNATURE ERROR'}},
    {'status_code': 200, 'json': {'error': 'no such tag'}},
    {'status_code': 302, 'headers': {'Location': '/login'}, 'text': 'Found. Redirecting to /login'},
    {'status_code': 302, 'headers': {'Location': '/403'}, 'text': 'Found. Redirecting to /403'},
    {'status_code': 302, 'headers': {'Location': 'https://elsewhere.example/'}},
    {'status_code': 403, 'json': {'error': '403 Forbidden'}},
    {'status_code': 404, 'json': {'error': 'not found'}},
    {'status_code': 418, 'text': 'teapot'},
    {'status_code': 200, 'text': '<html><title>Log In | Darktrace</title></html>',
     'headers': {'Content-Type': 'text/html'}},
    {'status_code': 200, 'text': '{"cut": "sho'},
    {'exc': requests.exceptions.ChunkedEncodingError('Connection broken: IncompleteRead(10 bytes read)')},
    {'exc': requests.exceptions.ConnectTimeout('connect timed out')},
    {'exc': requests.exceptions.ReadTimeout('Read timed out.')},
    {'exc': requests.exceptions.ProxyError('Unable to connect to proxy')},
    {'exc': requests.exceptions.SSLError('[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')},
    {'exc': requests.exceptions.ConnectionError('something odd')},
]


def mocked_scenarios(captured: Captured) -> None:
    """The failure shapes the emulator does not produce, through requests_mock; their signatures are collected."""
    params = params_for(MOCK_URL, retry_budget_seconds='0')
    for reply in MOCKED_REPLIES:
        with requests_mock.Mocker() as appliance:
            appliance.register_uri(requests_mock.ANY, requests_mock.ANY, **reply)
            assert is_error(captured.run('test-module', params))
            captured.run('fetch-incidents', params)
            comment = {'pbid': '1', 'message': 'x'}
            assert is_error(captured.run('darktrace-post-comment-to-model-breach', params, comment))
            captured.signatures.update(request.headers['DTAPI-Signature'] for request in appliance.request_history)


def test_private_token_never_leaves_the_integration(emu: Emulator, debug_mode: bool,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """
    Given instances whose private tokens are recognisable canaries, in debug mode and not
    When every command, test-module and fetch run, and every error kind and fault is provoked
    Then no captured output, context, incident, lastRun, log line, exception, stdout/stderr or logging record
    holds a private token, a piece or an encoding of one, or a request signature.
    """
    caplog.set_level(logging.DEBUG)
    captured = Captured()
    emulator_scenarios(emu, captured, monkeypatch)
    network_scenarios(captured)
    mocked_scenarios(captured)

    out, err = capsys.readouterr()
    captured.texts += [out, err, caplog.text]
    assert captured.runs > 80 and captured.signatures
    captured.scan([PRIVATE, WRONG_PRIVATE, NO_PERMISSION_PRIVATE])


def test_request_debug_log_redacts_token_and_signature() -> None:
    """
    Given a request's headers
    When they are prepared for the debug log
    Then the token and signature are replaced and the date and content type are kept.
    """
    headers = Darktrace.Client(MOCK_URL, PUBLIC, PRIVATE).signed_headers('/status')
    redacted = Darktrace.redact_headers({**headers, 'Content-Type': 'application/json'})
    assert redacted == {'DTAPI-Token': '<redacted>', 'DTAPI-Date': headers['DTAPI-Date'],
                        'DTAPI-Signature': '<redacted>', 'Content-Type': 'application/json'}


ECHOING_FAULTS: list[dict[str, Any]] = [
    {'kind': 'echo_error'}, {'kind': 'echo_error', 'status': 401}, {'kind': 'echo_error', 'status': 400},
    {'kind': 'echo_error', 'status': 404}, {'kind': 'status', 'status': 503, 'retry_after': PUBLIC},
]


@pytest.mark.parametrize('fault', ECHOING_FAULTS, ids=lambda fault: f'{fault["kind"]}-{fault.get("status", 500)}')
def test_servers_echoing_request_headers_leak_neither_token_nor_signature(emu: Emulator, debug_mode: bool,
                                                                         fault: dict[str, Any]) -> None:
    """
    Given an appliance (or a proxy) whose error replies echo the request headers: the public token and the signature
    When test-module, fetch and a change (POST) each meet such a reply
    Then no War Room entry, incident, lastRun or log line holds either token or a signature-like value.
    """
    captured = Captured()
    params = params_for(emu.url, retry_budget_seconds='1')
    for path, command, args in (('/status', 'test-module', {}), ('/modelbreaches', 'fetch-incidents', {}),
                                ('/tags/entities', 'darktrace-post-tag-to-device', {'deviceId': '1', 'tagName': 'C'})):
        emu.inject_fault(path=path, **fault)
        captured.run(command, params, args)
        emu.clear_faults()
    echoed = [text for text in captured.texts if '<redacted>' in text]
    assert echoed or fault['kind'] == 'status', 'the echoed headers never reached a message'
    captured.scan([PRIVATE])
    for text in captured.texts:
        assert PUBLIC not in text, f'the public token leaked into: {text[:300]}'
        assert not re.search(r'\b[0-9a-f]{40}\b', text), f'a signature-like value leaked into: {text[:300]}'
