"""Fault injection against the emulator over HTTP, through `Darktrace.main()` and the platform stand-ins.

Every fault kind is thrown at the first request of every command in `Darktrace.COMMANDS`, of test-module
and of fetch-incidents:
- a transient fault (429 with Retry-After, 502, 503, 504, a reset connection, a read timeout) on a GET or
  DELETE is survived: the appliance sees the request twice and the command succeeds;
- the same fault on a POST is not retried once the request reached the appliance: it sees exactly one
  POST and the War Room gets an error saying the change may have been applied;
- a fault that retrying would not cure (500, a truncated body, the HTML login page) gives its own message.
Error entries are the platform's type-4 entries and never hold a traceback.

Command arguments come from `command_examples` (the first line of each command), run against the dataset
the examples were written for; a command without an example line uses `FALLBACK_ARGS`. Retry waits stay
short: Retry-After is 1 s, the retry budget a few seconds, and read timeouts are provoked by lowering
`Darktrace.READ_TIMEOUT_S` and delaying a reply slightly longer.
"""
from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs

import pytest

import demistomock
import xsoar_platform
import Darktrace
from emulator import Emulator
from fault_catalogue import (HEAD_TRICKLE_INTERVAL_S, HOSTILE_COMMAND_TIME_LIMIT_S, STOPPED_WAITING, Fault,
                             fault_catalogue)
from network import unresolvable
from runner.examples import example_args
from runner.targets import EMULATOR_DATASET

REPO_ROOT = Path(__file__).resolve().parent.parent
ERROR_ENTRY_TYPE = 4
RETRY_BUDGET_S = '5'
# Long enough for a healthy reply on a busy 2-core machine (the retry must get one), short enough to keep the
# suite quick: each read-timeout case waits this long once.
TEST_READ_TIMEOUT_S = 0.75
FETCH = 'fetch-incidents'
TEST_MODULE = 'test-module'
FAULTS = fault_catalogue(TEST_READ_TIMEOUT_S)


# Arguments for commands that have no line in command_examples, built from the emulator's own dataset.
FALLBACK_ARGS: dict[str, Callable[[Emulator], dict[str, str]]] = {
    'darktrace-get-similar-devices': lambda emu: {'did': str(min(emu.dataset.devices)), 'max_results': '5'},
    'darktrace-get-external-endpoint-details': lambda emu: {
        'endpoint_type': 'hostname', 'endpoint_value': min(emu.dataset.endpoints)},
    'darktrace-get-device-connection-info': lambda emu: {'did': str(min(emu.dataset.devices)), 'data_type': 'co'},
    'darktrace-run-advanced-search-analysis': lambda emu: {
        'initialDate': '2024-06-03', 'initialTime': '08:00:00', 'endDate': '2024-06-03', 'endTime': '18:00:00',
        'query': '@type:conn', 'operation': 'terms', 'metric': '@fields.dest_port'},
    'darktrace-post-to-watched-list': lambda emu: {'endpointsToWatch': 'faults.example.com'},
    'darktrace-list-watched-endpoints': lambda emu: {},
    'darktrace-remove-from-watched-list': lambda emu: {'endpointsToRemove': 'faults.example.com'},
    'darktrace-get-tagged-devices': lambda emu: {'tagName': emu.dataset.tags[min(emu.dataset.tags)]['name']},
    'darktrace-get-tags-for-device': lambda emu: {'deviceId': str(min(emu.dataset.devices))},
    'darktrace-post-tag-to-device': lambda emu: {'deviceId': str(min(emu.dataset.devices)), 'tagName': 'Faults'},
    'darktrace-list-tags': lambda emu: {},
    'darktrace-remove-tag-from-device': lambda emu: {'deviceId': str(min(emu.dataset.devices)), 'tagName': 'Faults'},
    'darktrace-list-model-breaches': lambda emu: {'start_time': '3 days'},
    'darktrace-get-model-breach': lambda emu: {'pbid': str(min(emu.dataset.breaches))},
    'darktrace-get-model-breach-connections': lambda emu: {'pbid': str(min(emu.dataset.breaches))},
    'darktrace-acknowledge-model-breach': lambda emu: {'pbid': str(min(emu.dataset.breaches))},
    'darktrace-unacknowledge-model-breach': lambda emu: {'pbid': str(min(emu.dataset.breaches))},
    'darktrace-post-comment-to-model-breach': lambda emu: {'pbid': str(min(emu.dataset.breaches)), 'message': 'x'},
    'darktrace-get-model-breach-comments': lambda emu: {'pbid': str(min(emu.dataset.breaches))},
    'darktrace-get-model': lambda emu: {'uuid': min(emu.dataset.models_by_uuid)},
    'darktrace-get-model-component': lambda emu: {'cid': str(min(emu.dataset.components))},
    'darktrace-search-devices': lambda emu: {'limit': '5'},
    'darktrace-get-device': lambda emu: {'did': str(min(emu.dataset.devices))},
    'darktrace-get-device-events': lambda emu: {'did': str(min(emu.dataset.devices))},
    'darktrace-list-ai-analyst-incident-events': lambda emu: {'start_time': '30 days'},
    'darktrace-get-ai-analyst-incident-event': lambda emu: {'event_id': min(emu.dataset.incidents)},
    'darktrace-acknowledge-ai-analyst-incident-event': lambda emu: {'event_id': min(emu.dataset.incidents)},
    'darktrace-unacknowledge-ai-analyst-incident-event': lambda emu: {'event_id': min(emu.dataset.incidents)},
    'darktrace-post-comment-to-ai-analyst-incident-event': lambda emu: {
        'event_id': min(emu.dataset.incidents), 'message': 'x'},
    'darktrace-get-ai-analyst-comments': lambda emu: {'event_id': min(emu.dataset.incidents)},
    'darktrace-get-ai-analyst-incident-group': lambda emu: {'group_id': min(emu.dataset.groups)},
}


def command_args(emu: Emulator, command: str) -> dict[str, str]:
    examples = example_args()
    if command in examples:
        return examples[command]
    assert command in FALLBACK_ARGS, f'{command} has no line in command_examples and no entry in FALLBACK_ARGS'
    return FALLBACK_ARGS[command](emu)


OPERATIONS = sorted(Darktrace.COMMANDS) + [TEST_MODULE, FETCH]


@dataclass
class Outcome:
    """What one run of an operation handed to the platform."""

    entries: list[Any] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    fetch_error: str | None = None  # return_error raises during fetch-incidents, as on the platform
    last_run: dict[str, Any] | None = None  # what the run stored

    @property
    def error(self) -> str | None:
        if self.fetch_error is not None:
            return self.fetch_error
        errors = [entry['Contents'] for entry in self.entries
                  if isinstance(entry, dict) and entry.get('Type') == ERROR_ENTRY_TYPE]
        return errors[0] if errors else None


def instance_params(emu: Emulator, **overrides: str) -> dict[str, Any]:
    return xsoar_platform.instance_params(emu, **{'retry_budget_seconds': RETRY_BUDGET_S, 'min_score': '0',
                                                  'max_alerts': '40', 'first_fetch': '3 days', **overrides})


def run_operation(emu: Emulator, operation: str, args: dict[str, str] | None = None,
                  last_run: dict[str, Any] | None = None, **params: str) -> Outcome:
    """One command, test-module or fetch run through main(), as XSOAR runs it."""
    result = xsoar_platform.run_command(operation, args, instance_params(emu, **params), last_run=last_run)
    # return_error ends a failed command with exit code 0, as on the platform
    assert result.exit_code in (0, None), f'{operation} exited with {result.exit_code!r}'
    error = result.exception
    if error is not None:
        assert operation == FETCH, f'{operation} let an exception escape: {error!r}'
        assert type(error) is Exception, f'fetch-incidents let {error!r} escape instead of return_error\'s Exception'
    return Outcome(entries=result.entries, incidents=result.incidents, logs=result.logs, fetch_error=result.error,
                   last_run=result.record.last_run)


def operation_args(emu: Emulator, operation: str) -> dict[str, str]:
    return {} if operation in (TEST_MODULE, FETCH) else command_args(emu, operation)


def assert_succeeded(operation: str, outcome: Outcome) -> None:
    assert outcome.error is None, f'{operation} failed: {outcome.error}'
    if operation == TEST_MODULE:
        assert outcome.entries == ['ok']
    elif operation == FETCH:
        assert outcome.incidents, 'fetch-incidents delivered nothing'
    else:
        assert outcome.entries and all(entry.get('Type') != ERROR_ENTRY_TYPE for entry in outcome.entries)


def assert_actionable_error(outcome: Outcome, *fragments: str) -> None:
    """A single error whose text is the integration's message, never a traceback."""
    message = outcome.error
    assert message is not None, 'the operation succeeded instead of failing'
    assert message.startswith('Failed to execute ') and 'Traceback' not in message
    for fragment in fragments:
        assert fragment in message, f'{fragment!r} not in {message!r}'


@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(**EMULATOR_DATASET) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def clean_emulator(emu: Emulator) -> Iterator[None]:
    emu.clear_faults()
    emu.clear_log()
    yield
    emu.clear_faults()


@dataclass(frozen=True)
class FirstRequest:
    method: str
    path: str
    clean_count: int  # how many requests with this method and path a clean run makes


@pytest.fixture(scope='module')
def first_requests(emu: Emulator) -> Callable[[str], FirstRequest]:
    """The first request of an operation, from one clean run of it (made once per operation)."""
    found: dict[str, FirstRequest] = {}

    def first_request(operation: str) -> FirstRequest:
        if operation not in found:
            emu.clear_log()
            outcome = run_operation(emu, operation, operation_args(emu, operation))
            assert_succeeded(operation, outcome)
            first = emu.request_log()[0]
            found[operation] = FirstRequest(first['method'], first['path'],
                                            len(requests_to(emu, first['method'], first['path'])))
            emu.clear_log()
        return found[operation]

    return first_request


def requests_to(emu: Emulator, method: str, path: str) -> list[dict[str, Any]]:
    return [entry for entry in emu.request_log() if entry['method'] == method and entry['path'] == path]


DELAYED_REQUEST_DEADLINE_S = 10


def wait_for_delayed_request(emu: Emulator, method: str, path: str) -> None:
    """Wait until the emulator logs the delayed request: it does so only when it answers, after the client gave
    up on it. Polls the log for that entry, up to a generous deadline; nothing is asserted about how long it took."""
    deadline = time.monotonic() + DELAYED_REQUEST_DEADLINE_S
    poll = threading.Event()  # never set: waiting on it paces the polling without a bare sleep
    while not any(entry['fault'] == 'delay' for entry in requests_to(emu, method, path)):
        if time.monotonic() > deadline:
            raise AssertionError(f'the delayed {method} {path} never reached the request log')
        poll.wait(0.01)


def lower_limits(monkeypatch: pytest.MonkeyPatch, fault: Fault) -> None:
    """The fault's small limits (module constants the integration reads at run time), for this test only."""
    for name, value in fault.limits:
        monkeypatch.setattr(Darktrace, name, value)


@pytest.mark.parametrize('fault', FAULTS, ids=[fault.name for fault in FAULTS])
@pytest.mark.parametrize('operation', OPERATIONS)
def test_fault_on_first_request(emu: Emulator, first_requests: Callable[[str], FirstRequest],
                                monkeypatch: pytest.MonkeyPatch, operation: str, fault: Fault) -> None:
    """
    Given an appliance whose reply to the operation's first request is hit by the fault
    When the operation runs through main()
    Then a GET or DELETE survives a transient fault by one retry, a POST is sent exactly once and reported as
    possibly applied, and a fault that retrying cannot cure is reported with its own message.
    """
    first = first_requests(operation)
    method, path = first.method, first.path
    # Only the read-timeout fault lowers the read timeout: it would also cut off a healthy reply on a busy machine.
    lower_limits(monkeypatch, fault)
    emu.inject_fault(method=method, path=path, **fault.inject)

    outcome = run_operation(emu, operation, operation_args(emu, operation))

    if fault.name == 'read_timeout':
        wait_for_delayed_request(emu, method, path)
    seen = requests_to(emu, method, path)
    faulted = [entry for entry in seen if entry['fault']]
    assert len(faulted) == 1
    if method not in Darktrace.IDEMPOTENT_METHODS:
        assert len(seen) == 1, f'{method} {path} was sent {len(seen)} times'
        assert_actionable_error(outcome, *fault.post_errors)
    elif operation == FETCH and fault.name in ('huge_body', 'gzip_bomb'):
        # Fetch does not fail on a reply over its cap: it asks again, for a narrower window, within the run.
        assert_succeeded(operation, outcome)
        queries = [parse_qs(entry['query']) for entry in seen]
        windows = [int(query['endtime'][0]) - int(query['starttime'][0]) for query in queries]
        assert len(windows) >= 2 and windows[1] < windows[0]
    elif (operation, fault.name) == ('darktrace-email-email-download', 'truncate'):
        # A file has no structure to check: a body cut short under a Content-Length that matches it is the file.
        assert len(seen) == 1
        assert_succeeded(operation, outcome)
    elif fault.transient:
        # The faulted request, its retry, and the requests a clean run makes after the first.
        assert len(seen) == first.clean_count + 1, f'{method} {path} was sent {len(seen)} times'
        assert_succeeded(operation, outcome)
    else:
        assert len(seen) == 1
        assert_actionable_error(outcome, fault.get_error)


def test_retry_budget_zero_turns_retries_off(emu: Emulator) -> None:
    """
    Given a retry budget of 0 and an appliance answering 503, then resetting the connection
    When test-module runs for each
    Then each request is sent once and the failure is reported.
    """
    emu.inject_fault('status', status=503, path='/status')
    assert_actionable_error(run_operation(emu, TEST_MODULE, retry_budget_seconds='0'), '(HTTP 503)', 'no time')
    emu.inject_fault('reset', path='/status')
    assert_actionable_error(run_operation(emu, TEST_MODULE, retry_budget_seconds='0'), 'closed before')
    assert len(requests_to(emu, 'GET', '/status')) == 2


def test_retry_budget_bounds_the_retries(emu: Emulator) -> None:
    """
    Given an appliance that answers 503 to every request, and a retry budget of 2 s
    When test-module runs
    Then it stops retrying once the budget would be overrun and reports the failure.
    """
    emu.inject_fault('status', status=503, count=100, path='/status')
    outcome = run_operation(emu, TEST_MODULE, retry_budget_seconds='2')
    assert_actionable_error(outcome, '(HTTP 503), even after', 'retries')
    assert 2 <= len(requests_to(emu, 'GET', '/status')) <= 5


def test_retries_are_logged_without_secrets(emu: Emulator) -> None:
    """
    Given an appliance that answers 503 once, then resets the connection once
    When test-module runs
    Then each retry is logged with demisto.debug (method, path, cause), and no log line holds the private
    token, the public token or a signature.
    """
    emu.inject_fault('status', status=503, path='/status')
    emu.inject_fault('reset', path='/status')
    outcome = run_operation(emu, TEST_MODULE)
    assert_succeeded(TEST_MODULE, outcome)
    retries = [message for level, message in outcome.logs if level == 'debug' and 'retrying' in message]
    assert len(retries) == 2
    assert retries[0].startswith('Darktrace: retrying GET /status after HTTP 503')
    assert retries[1].startswith('Darktrace: retrying GET /status after ProtocolError')
    requests_logged = [message for level, message in outcome.logs
                       if message.startswith('Darktrace: GET /status?fast=true ')]
    assert requests_logged and all("'DTAPI-Signature': '<redacted>'" in message for message in requests_logged)
    for level, message in outcome.logs:
        assert emu.private_token not in message and emu.public_token not in message
        assert not re.search(r'\b[0-9a-f]{40}\b', message), f'a signature-like value was logged: {message}'


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A 127.0.0.1 port held by a bound socket that never listens: connecting to it is refused, and no other
    process can take it meanwhile. SO_REUSEADDR lets an emulator bind the same port while it is held (Linux
    allows this when nothing listens on it yet), so the port never passes through a free state."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(('127.0.0.1', 0))
        yield int(holder.getsockname()[1])


def test_post_that_never_reached_the_appliance_is_retried_once_it_is_up() -> None:
    """
    Given no appliance listening yet at the instance URL, one that starts as soon as the first retry is logged
    When darktrace-post-tag-to-device runs
    Then the refused POST is retried, the tag is applied, and the appliance saw exactly one POST.
    """
    with reserved_port() as port:
        late = Emulator(breaches=20, span_days=1, seed=3, port=port)
        did = min(late.dataset.devices)
        params = xsoar_platform.instance_params(f'http://127.0.0.1:{port}', late.public_token, late.private_token,
                                                retry_budget_seconds='5')

        def main_starting_the_appliance_on_retry() -> None:
            logged = demistomock.debug  # the run's recorder; the run puts the module's own back when it ends

            def debug_and_start(message: str) -> None:
                logged(message)
                if 'retrying POST /tags/entities' in message:
                    late.start()

            demistomock.debug = debug_and_start
            Darktrace.main()

        try:
            result = xsoar_platform.run_command('darktrace-post-tag-to-device',
                                                {'deviceId': str(did), 'tagName': 'Late'}, params,
                                                main=main_starting_the_appliance_on_retry)
        finally:
            late.stop()
    (entry,) = result.entries
    assert entry['Type'] != ERROR_ENTRY_TYPE, entry['Contents']
    assert [e['method'] for e in late.request_log()] == ['POST']
    assert any(link.did == did for link in late.dataset.tag_links.values()
               if late.dataset.tags[link.tid]['name'] == 'Late')


def retries_logged(outcome: Outcome) -> list[str]:
    return [line for _, line in outcome.logs if 'Darktrace: retrying' in line]


def test_connection_refused_is_reported(emu: Emulator) -> None:
    """
    Given an instance URL where nothing listens (a real socket, bound and never listening), and the default retry
    budget
    When test-module runs
    Then the connection is tried once more at once, not for the whole budget, and the War Room names the host and
    the port that refused it.
    """
    with reserved_port() as port:
        outcome = run_operation(emu, TEST_MODULE, url=f'http://127.0.0.1:{port}', retry_budget_seconds='60')
    assert_actionable_error(outcome, f'127.0.0.1 refused the connection on port {port}, also when tried once more')
    assert len(retries_logged(outcome)) == 1, retries_logged(outcome)


def test_dns_failure_is_reported(emu: Emulator) -> None:
    """
    Given a host name that does not resolve (resolution fails locally, no DNS query leaves the machine), and the
    default retry budget
    When test-module runs
    Then it is not retried, and the War Room names the host name that could not be resolved.
    """
    with unresolvable('darktrace.invalid'):
        outcome = run_operation(emu, TEST_MODULE, url='https://darktrace.invalid', retry_budget_seconds='60')
    assert_actionable_error(outcome, 'The host name darktrace.invalid (server URL https://darktrace.invalid) could '
                                     'not be resolved', 'not retried')
    assert retries_logged(outcome) == []


@pytest.mark.parametrize('insecure', ['false', 'true'])
def test_https_url_to_a_plain_http_appliance_is_named(emu: Emulator, insecure: str) -> None:
    """
    Given an https URL pointing at the port of a plain-HTTP appliance, with "Trust any certificate" off or on
    When test-module runs
    Then the War Room says the port speaks plain HTTP and gives the fixes (http://, or the HTTPS port), without
    certificate advice, and nothing is retried.
    """
    port = emu.url.rsplit(':', 1)[1]
    outcome = run_operation(emu, TEST_MODULE, url=f'https://127.0.0.1:{port}', insecure=insecure,
                            retry_budget_seconds='60')
    assert_actionable_error(outcome, f'127.0.0.1 answered on port {port} in plain HTTP, not HTTPS',
                            f'Use http://127.0.0.1:{port}')
    assert 'certificate' not in (outcome.error or '').lower()
    assert retries_logged(outcome) == []


def test_tls_verification_is_on_unless_insecure() -> None:
    """
    Given an appliance with a self-signed certificate
    When test-module runs with verification on, then with insecure set
    Then the first fails with the TLS message and the second succeeds.
    """
    with Emulator(breaches=10, span_days=1, seed=4, tls=True) as tls_emu:
        outcome = run_operation(tls_emu, TEST_MODULE, retry_budget_seconds='0')
        assert_actionable_error(outcome, 'TLS verification', 'Trust any certificate')
        assert_succeeded(TEST_MODULE, run_operation(tls_emu, TEST_MODULE, insecure='true'))


@pytest.mark.parametrize('tls', [False, True], ids=['http', 'https'])
def test_trickled_status_line_and_headers_stop_at_the_command_limit(monkeypatch: pytest.MonkeyPatch,
                                                                    tls: bool) -> None:
    """
    Given an appliance (plain, or TLS with "Trust any certificate") that sends the status line and headers of its
    reply one byte at a time, to a GET and to a POST
    When test-module and a breach acknowledgement run with a command time limit of 1 s
    Then each stops waiting at the limit (long before the headers could have arrived), says so, and for the POST
    that the change was probably applied; neither request is sent again.
    """
    monkeypatch.setattr(Darktrace, 'COMMAND_TIME_LIMIT_S', HOSTILE_COMMAND_TIME_LIMIT_S)
    with Emulator(breaches=10, span_days=1, seed=4, tls=tls) as emulator:
        emulator.inject_fault('trickle_headers', delay_s=HEAD_TRICKLE_INTERVAL_S, path='/status')
        outcome = run_operation(emulator, TEST_MODULE, insecure='true')
        assert_actionable_error(outcome, STOPPED_WAITING, 'limit of 1.0 s')
        pbid = str(min(emulator.dataset.breaches))
        emulator.inject_fault('trickle_headers', delay_s=HEAD_TRICKLE_INTERVAL_S, method='POST')
        outcome = run_operation(emulator, 'darktrace-acknowledge-model-breach', {'pbid': pbid}, insecure='true')
        assert_actionable_error(outcome, STOPPED_WAITING, 'probably applied')
        assert [(entry['method'], entry['fault']) for entry in emulator.request_log()] == [
            ('GET', 'trickle_headers'), ('POST', 'trickle_headers')]


@contextlib.contextmanager
def relaying_proxy(target_port: int) -> Iterator[tuple[str, list[int]]]:
    """A forward proxy on 127.0.0.1 that relays each connection's bytes to `target_port` as they are; yields its
    URL and the list of connections it relayed."""
    relayed: list[int] = []
    listener = socket.create_server(('127.0.0.1', 0))

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                upstream = socket.create_connection(('127.0.0.1', target_port))
                relayed.append(1)
                threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f'http://127.0.0.1:{listener.getsockname()[1]}', relayed
    finally:
        listener.close()


def test_trickled_headers_through_a_proxy_stop_at_the_command_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given "Use system proxy" and a proxy in front of an appliance that sends the status line and headers of its
    reply one byte at a time
    When test-module runs with a command time limit of 1 s
    Then the request went through the proxy and the command stops waiting at the limit, saying so.
    """
    monkeypatch.setattr(Darktrace, 'COMMAND_TIME_LIMIT_S', HOSTILE_COMMAND_TIME_LIMIT_S)
    for name in ('no_proxy', 'NO_PROXY'):
        monkeypatch.delenv(name, raising=False)
    with Emulator(breaches=10, span_days=1, seed=4) as emulator, \
            relaying_proxy(int(emulator.url.rsplit(':', 1)[1])) as (proxy_url, relayed):
        monkeypatch.setenv('HTTP_PROXY', proxy_url)
        emulator.inject_fault('trickle_headers', delay_s=HEAD_TRICKLE_INTERVAL_S)  # the proxy sends an absolute URL
        assert_actionable_error(run_operation(emulator, TEST_MODULE, proxy='true'), STOPPED_WAITING)
        assert relayed and len(emulator.request_log()) == 1


def test_appliance_refusals_get_their_own_messages(emu: Emulator) -> None:
    """
    Given a wrong private token, a clock 31 minutes off, a token pair without permissions and an unknown pbid
    When commands run
    Then each failure names what to fix: the tokens, the clocks, the permission, the identifier.
    """
    assert_actionable_error(run_operation(emu, TEST_MODULE, private_api_token='not-the-private-token'),
                            'API SIGNATURE ERROR')
    emu.add_token_pair('no-permissions-public', 'no-permissions-private', set())
    public, private = 'no-permissions-public', 'no-permissions-private'
    assert_actionable_error(run_operation(emu, TEST_MODULE, public_api_token=public, private_api_token=private),
                            'redirect to /403')
    assert_actionable_error(run_operation(emu, 'darktrace-post-to-watched-list', {'endpointsToWatch': 'x.example.com'},
                                          public_api_token=public, private_api_token=private), '403 Forbidden')
    assert_actionable_error(run_operation(emu, 'darktrace-get-model-breach', {'pbid': '999999999'}), 'found nothing')
    emu.shift_clock(31 * 60)
    try:
        assert_actionable_error(run_operation(emu, TEST_MODULE), 'API DATE ERROR')
    finally:
        emu.shift_clock(-31 * 60)


# --- fetch: nothing lost, nothing duplicated under repeated faults ----------------------------------

def drain_with_faults(fault: Fault) -> tuple[list[int], set[int]]:
    """Fetch until caught up, the fault hitting a /modelbreaches request of every run (every other run when
    retrying cannot cure it); a failed run keeps the previous lastRun, as the platform does."""
    with Emulator(breaches=150, span_days=1, seed=14) as emulator:
        last_run: dict[str, Any] = {}
        delivered: list[int] = []
        drained = False
        for run in range(40):
            if fault.transient or run % 2 == 0:
                emulator.inject_fault(method='GET', path='/modelbreaches', **fault.inject)
            outcome = run_operation(emulator, FETCH, last_run=last_run, max_alerts='60', first_fetch='2 days')
            if outcome.fetch_error is None:
                last_run = outcome.last_run or last_run
            delivered.extend(int(incident['dbotMirrorId']) for incident in outcome.incidents)
            caught_up = last_run.get('start_ms', 0) >= emulator.now_ms() - Darktrace.SETTLE_MS - 60_000
            if not outcome.incidents and outcome.fetch_error is None and caught_up:
                drained = True
                break
        assert drained, f'fetch did not catch up within 40 runs under {fault.name} faults'
        if fault.name == 'read_timeout':
            wait_for_delayed_request(emulator, 'GET', '/modelbreaches')
        now = emulator.now_ms()
        visible = {b.pbid for b in emulator.dataset.breaches.values() if b.creation_time <= now}
    return delivered, visible


@pytest.mark.parametrize('fault', FAULTS, ids=[fault.name for fault in FAULTS])
def test_fetch_loses_and_duplicates_nothing_under_repeated_faults(monkeypatch: pytest.MonkeyPatch,
                                                                  fault: Fault) -> None:
    """
    Given an appliance whose breach requests keep being hit by the fault
    When fetch-incidents runs until caught up
    Then every visible breach became exactly one incident: none lost, none duplicated.
    """
    lower_limits(monkeypatch, fault)
    delivered, visible = drain_with_faults(fault)
    assert len(delivered) == len(set(delivered)), 'duplicated incidents'
    assert set(delivered) == visible, f'{len(visible - set(delivered))} breaches lost'


def test_unparseable_retry_after_is_ignored_and_said_so(emu: Emulator) -> None:
    """
    Given an appliance that answers 503 once with a Retry-After that is neither seconds nor a date
    When test-module runs
    Then the header is ignored (the usual backoff applies), the debug log says so, and the retry succeeds.
    """
    emu.inject_fault('status', status=503, retry_after='garbage', path='/status')
    outcome = run_operation(emu, TEST_MODULE)
    assert_succeeded(TEST_MODULE, outcome)
    assert any('ignored a Retry-After header' in message for level, message in outcome.logs if level == 'debug')
    assert len(requests_to(emu, 'GET', '/status')) == 2


@pytest.mark.parametrize('payload', [[], {}, {'a': 1}, 'ok'])
def test_test_module_checks_the_shape_of_status(emu: Emulator, payload: Any) -> None:
    """
    Given /status answering a list, an empty object, an object without version or time, or text
    When test-module runs
    Then it fails with a message naming /status, never "ok".
    """
    emu.inject_fault('wrong_shape', payload=payload, path='/status')
    assert_actionable_error(run_operation(emu, TEST_MODULE), 'GET /status')


@pytest.mark.parametrize('payload', [{}, 42])
def test_fetch_with_a_reply_that_is_not_a_list_keeps_the_cursor(emu: Emulator, payload: Any) -> None:
    """
    Given /modelbreaches answering {} or 42
    When fetch-incidents runs
    Then the run fails naming the endpoint, sets no lastRun and creates no incident, so no window is skipped.
    """
    last_run = {'start_ms': emu.now_ms() - 3600_000, 'seen_pbids': [], 'window_ms': 3600_000}
    emu.inject_fault('wrong_shape', payload=payload, path='/modelbreaches')
    outcome = run_operation(emu, FETCH, last_run=last_run)
    assert_actionable_error(outcome, 'GET /modelbreaches with', 'where a list was expected')
    assert outcome.last_run == last_run and outcome.incidents == []
