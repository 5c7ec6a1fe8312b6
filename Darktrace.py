"""Darktrace integration for Cortex XSOAR.

Turns Darktrace model breaches, AI Analyst incident events and Darktrace/Email emails into XSOAR incidents (each
record exactly once), mirrors those incidents with their records, and gives analysts and playbooks commands to
enrich and act on them.
One file, as XSOAR ships it, in sections that read top to bottom as the architecture; each section's constants
stand at its top:

- CONSTANTS: the few used across sections (time formats).
- TRANSPORT: HTTP under the `Client`: the command's deadline on every socket (`DeadlineSocket`), retries within a
  budget (`BudgetedRetry`), reading a reply body in bounded pieces (`read_body`).
- ERRORS: `DarktraceApiError` and the rule tables that turn a reply or a transport failure into one message saying
  what to fix (`REPLY_RULES`, `TRANSPORT_RULES`).
- CLIENT: DTAPI signing, then the `Client`: `request()`, then one method per endpoint, by domain; Darktrace/Email's
  last, through `email_request()`, which picks the Email API's path.
- ARGUMENT PARSING: every argument parser, RESPOND's included; bad input fails here, before any request.
- OUTPUT HELPERS: times, reply values, War Room tables.
- COMMANDS: one part per domain (model breaches, models, devices, endpoints and Advanced Search, tags, watched
  list, AI Analyst, RESPOND, Darktrace/Email); `RecordKind` (acknowledge and comment on a breach or an AI Analyst
  event) and `/details` paging stand before the commands that use them. A command goes argument parsing -> client
  call -> CommandResults.
- FETCH INCIDENTS: one `FetchSource` per source in `FETCH_SOURCE_TABLE`, run by one loop (`fetch_incidents`) that
  shares out the run's incidents and bytes read.
- MIRRORING: what mirroring remembers, get-modified-remote-data, get-remote-data, update-remote-system (emails'
  incoming mirroring last).
- MAIN: the command tables (`COMMANDS`, `MIRRORING_COMMANDS`), the integration context, `build_client`, `main()`.
"""
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401,F403
import base64
import hashlib
import hmac
import inspect
import io
import ipaddress
import json
import math
import re
import socket
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from typing import Any, TypeVar, overload
from urllib.parse import quote, urlsplit
import idna
import requests
from urllib3 import PoolManager
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry


''' CONSTANTS '''
# Used across sections; every other constant stands at the top of the section that uses it.

DTAPI_DATE_FORMAT = '%Y-%m-%d %H:%M:%S'
ISO_FORMAT = '%Y-%m-%dT%H:%M:%S'


''' TRANSPORT '''
# Deadlines, retries and body reading under the Client: no command outlives XSOAR's 5 minutes, whatever the server.

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 50
DEFAULT_RETRY_BUDGET_S = 60
MAX_RETRY_BUDGET_S = 180  # with the timeouts above, a command still ends well inside XSOAR's 5 minutes
# XSOAR ends a command after 5 minutes: past this many seconds a command sends nothing more and each
# request's timeouts shrink to what is left, however many requests it makes and whatever the retries.
COMMAND_TIME_LIMIT_S = MAX_RETRY_BUDGET_S + CONNECT_TIMEOUT_S + READ_TIMEOUT_S
# A reply body is read in pieces of at most this many bytes, the clock checked between them, so a server
# that trickles bytes cannot stretch a command past COMMAND_TIME_LIMIT_S.
READ_CHUNK_BYTES = 16 * 1024
# Bytes read per reply, counted after decompression, so neither a huge body nor a gzip bomb exhausts memory.
MAX_REPLY_BYTES = 32 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# urllib3 caps Retry-After itself only from 2.6.3 on (`retry_after_max`); the image's 2.3.0 raises
# TypeError on that keyword, so BudgetedRetry applies the same cap where it is missing.
RETRY_TAKES_RETRY_AFTER_MAX = 'retry_after_max' in inspect.signature(Retry.__init__).parameters
IDEMPOTENT_METHODS = frozenset({'GET', 'DELETE'})
# How the failures to connect that retrying cannot help read (urllib3 and the resolver word them; lowercase).
NAME_FAILURE_MARKERS = ('name or service not known', 'nodename nor servname', 'getaddrinfo', 'name resolution',
                        'failed to resolve', 'temporary failure in name', 'no address associated')
REFUSED_MARKERS = ('connection refused', 'errno 111', 'actively refused')


def has_marker(error: Any, markers: tuple[str, ...]) -> bool:
    return any(marker in str(error).lower() for marker in markers)


def connect_failure_is_final(error: Exception, history: tuple[Any, ...]) -> bool:
    """Whether a failure to connect is reported at once instead of retried for the whole budget.

    A host name that does not resolve will not resolve seconds later: never retried. A refused connection is tried
    once more, at once (an appliance restarting its web server), then reported.
    """
    if has_marker(error, NAME_FAILURE_MARKERS):
        return True
    return has_marker(error, REFUSED_MARKERS) and any(has_marker(earlier.error, REFUSED_MARKERS)
                                                      for earlier in history)


class BudgetedRetry(Retry):
    """urllib3 retries that stop once a wall-clock budget is spent, and report each retry.

    urllib3 does the waiting (honouring Retry-After, with exponential backoff and jitter), so
    the integration itself never sleeps.
    """

    deadline: float = math.inf
    on_retry: Callable[[str], None] | None = None
    retry_after_cap_s: float = math.inf  # only where urllib3 has no retry_after_max

    def new(self, **kwargs: Any) -> 'BudgetedRetry':
        retry = super().new(**kwargs)
        retry.deadline = self.deadline
        retry.on_retry = self.on_retry
        retry.retry_after_cap_s = self.retry_after_cap_s
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        # Both the wait urllib3 sleeps and the one checked against the budget below come from here.
        return min(super().parse_retry_after(retry_after), self.retry_after_cap_s)

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> 'BudgetedRetry':
        if error is not None and connect_failure_is_final(error, self.history):
            raise MaxRetryError(_pool, url, error)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        wait_s = retry.get_retry_after(response) if response is not None else None
        if wait_s is None:
            wait_s = retry.get_backoff_time()
        cause = f'HTTP {response.status}' if response is not None else type(error).__name__
        if time.monotonic() + wait_s > self.deadline:
            raise MaxRetryError(_pool, url, error or ResponseError(f'{cause}; retry budget spent'))
        if self.on_retry:
            path = urlsplit(url or '').path
            self.on_retry(f'Darktrace: retrying {method} {path} after {cause}, waiting {wait_s:.1f}s '
                          f'(attempt {len(retry.history) + 1})')
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        """The wait a reply's Retry-After asks for; None (back off as usual) when the header cannot be read."""
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            # The header's value is not logged: a hostile server could echo a token in it.
            if self.on_retry:
                self.on_retry('Darktrace: ignored a Retry-After header that is neither seconds nor an HTTP date')
            return None


class DeadlineSocket:
    """A connected socket whose every read waits at most until `deadline` (time.monotonic), then fails.

    http.client reads a reply's status line and headers itself, one socket read after another, each
    allowed the whole read timeout: a server sending them a byte at a time could hold a command for
    hours. Read through this instead, each read's timeout shrinks to the time left before the deadline.
    """

    def __init__(self, sock: Any, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._timeout: float | None = sock.gettimeout()
        self._files = 0  # like socket.socket: closing waits until the files made from it are closed too
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._timeout

    def _until_deadline(self) -> None:
        remaining_s = self._deadline - time.monotonic()
        if remaining_s <= 0:
            raise socket.timeout('the command reached its time limit')
        self._sock.settimeout(remaining_s if self._timeout is None else min(self._timeout, remaining_s))

    def recv_into(self, *args: Any) -> int:
        self._until_deadline()
        return self._sock.recv_into(*args)

    def recv(self, *args: Any) -> bytes:
        self._until_deadline()
        return self._sock.recv(*args)

    def makefile(self, mode: str = 'rb', *args: Any, **kwargs: Any) -> io.BufferedReader:
        # http.client only reads a reply through the file it makes here; socket.socket's own makefile would
        # read the wrapped socket directly, around the deadline.
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, 'rb'))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:  # called by SocketIO.close()
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._files <= 0:
            self._sock.close()


class DeadlineResponses:
    """Mixin for a urllib3 connection: the reply is read through a `DeadlineSocket` (`deadline` is set per Client)."""

    deadline: Callable[[], float]

    def getresponse(self) -> Any:
        sock = self.sock  # type: ignore[has-type]
        self.sock = DeadlineSocket(sock, self.deadline())
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            if isinstance(self.sock, DeadlineSocket):  # None when http.client closed a connection not kept alive
                self.sock = sock


def weak_deadline(client: Any) -> Callable[[], float]:
    """`client.deadline`, without holding `client`: once the client is gone, its deadline is now."""
    ref = weakref.ref(client)

    def deadline() -> float:
        alive = ref()
        return time.monotonic() if alive is None else alive.deadline()
    return deadline


def bound_by_deadline(manager: PoolManager, deadline: Callable[[], float]) -> PoolManager:
    """`manager`, its connections now reading replies through a `DeadlineSocket` (for http, https, SOCKS alike).

    The pools keep their own classes and settings (the TLS context of "Trust any certificate", a proxy),
    only their connections learn the deadline.
    """
    def bounded(pool_cls: Any) -> Any:
        if issubclass(pool_cls.ConnectionCls, DeadlineResponses):  # a proxy manager requests made before
            return pool_cls
        connection_cls = type(pool_cls.ConnectionCls.__name__, (DeadlineResponses, pool_cls.ConnectionCls),
                              {'deadline': staticmethod(deadline)})
        return type(pool_cls.__name__, (pool_cls,), {'ConnectionCls': connection_cls})

    manager.pool_classes_by_scheme = {scheme: bounded(pool_cls)
                                      for scheme, pool_cls in manager.pool_classes_by_scheme.items()}
    return manager


def unfinished_advice(method: str) -> str:
    """What to do about a reply that was not read to its end: a change probably reached the appliance."""
    if method in IDEMPOTENT_METHODS:
        return 'Narrow the request (time range, limit, filters), or check the appliance and any proxy in between.'
    return 'The change was probably applied: check in the Threat Visualizer before running the command again.'


def read_body(response: requests.Response, operation: str, max_bytes: int, deadline: float) -> bytes:
    """The body of a streamed reply, decompressed, read in pieces until `deadline` (time.monotonic) or `max_bytes`.

    Each piece is one read of the socket the Client's connections wrap in a `DeadlineSocket`, whose timeout
    shrinks to the time left, so however slowly the bytes arrive the read ends by the deadline; decompressed
    bytes are counted, so a gzip bomb stops at the cap.
    """
    pieces: list[bytes] = []
    size = 0
    advice = unfinished_advice(operation.split(' ', 1)[0])
    while True:
        remaining_s = deadline - time.monotonic()
        if remaining_s > 0:
            try:
                piece = response.raw.read1(READ_CHUNK_BYTES, decode_content=True)
            except (Urllib3Error, OSError):
                if time.monotonic() < deadline:
                    raise
                remaining_s = 0  # the read timed out at the deadline (its timeout was the time left)
        if remaining_s <= 0:
            raise DarktraceApiError('timeout', (
                f'Stopped reading the reply to {operation} after {size} bytes: Darktrace sent it so slowly that this '
                f'command reached its limit of {COMMAND_TIME_LIMIT_S} s, close to the 5 minutes XSOAR allows. '
                f'{advice}'))
        if not piece:
            return b''.join(pieces)
        size += len(piece)
        if size > max_bytes:
            raise DarktraceApiError('too_large', (
                f'Darktrace answered {operation} with more than {max_bytes:,} bytes (after decompression), the most '
                f'this integration reads in one reply; it stopped reading there. {advice}'))
        pieces.append(piece)


''' ERRORS '''
# Every failure becomes one DarktraceApiError whose message says what happened and what to do about it.

# A change that failed after it may have reached the appliance is not sent again, so it is never applied twice.
NOT_RETRIED_ADVICE = ('It was not retried, because the appliance may already have applied it: check in the Threat '
                      'Visualizer whether the change took effect before running the command again.')
# The documented shapes of replies; `Client.request` refuses any other (see expect_shape).
LIST = 'a list'
OBJECT = 'an object'
LIST_OR_OBJECT = 'a list or an object'
# Error classification: ordered tables of (applies, kind, message), REPLY_RULES and TRANSPORT_RULES. The first rule
# that applies to what happened gives the error; its message is a str.format template over the facts (ReplyFacts,
# TransportFacts) and MESSAGE_CONSTANTS.
MESSAGE_CONSTANTS = {'not_retried': NOT_RETRIED_ADVICE, 'connect_timeout_s': CONNECT_TIMEOUT_S,
                     'read_timeout_s': READ_TIMEOUT_S}
PERMISSION_MESSAGE = ('Darktrace refused {operation} ({refusal}): the API token\'s user lacks the permission '
                      'this command needs. Grant it in Darktrace (see the integration description), then retry.')
HTML_TITLE_PATTERN = re.compile(r'<title[^>]*>([^<]{1,100})', re.IGNORECASE)
# OpenSSL's words for a refused certificate, and for a TLS greeting answered in plain HTTP (the reply's first bytes
# read as a TLS record: 'HTTP/1.1 400' is no TLS version, or too long a record).
CERTIFICATE_MARKERS = ('certificate verify failed', 'certificate_verify_failed', 'certificate has expired',
                       'self signed certificate', 'self-signed certificate', 'unable to get local issuer',
                       "hostname mismatch", "doesn't match", 'certificate is not valid')
PLAIN_HTTP_MARKERS = ('wrong version number', 'wrong_version_number', 'record layer failure', 'http_request',
                      'http request', 'packet length too long', 'unknown protocol')
CUT_SHORT = ('The reply from Darktrace at {base_url} was cut short (the connection closed part-way through it). ')
CLOSED_EARLY = 'The connection to {base_url} was closed before Darktrace answered'


class DarktraceApiError(DemistoException):
    """A failed Darktrace call, with a `kind` that names the failure and a message that says what to fix."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def describe(value: Any) -> str:
    """What a reply value is, for a message: 'an object', 'a list', 'the number 42', 'the text "…"'."""
    if isinstance(value, dict):
        return 'an object' if value else 'an empty object'
    if isinstance(value, list):
        return 'a list' if value else 'an empty list'
    if isinstance(value, bool) or value is None:
        return f'the value {json.dumps(value)}'
    if isinstance(value, (int, float)):
        return f'the number {value}'
    return f'the text {json.dumps(str(value)[:60])}'


def expect_shape(reply: Any, shape: str, operation: str) -> Any:
    """`reply` when it has the documented `shape` (LIST, OBJECT or LIST_OR_OBJECT); else an error saying what came."""
    accepted = {LIST: (list,), OBJECT: (dict,), LIST_OR_OBJECT: (list, dict)}[shape]
    if isinstance(reply, accepted):
        return reply
    answered = f'Darktrace answered {operation} with {describe(reply)} where {shape} was expected'
    if operation.split(' ', 1)[0] not in IDEMPOTENT_METHODS:
        raise DarktraceApiError('unexpected_reply', (
            f'{answered}, without confirming the change. Check in the Threat Visualizer whether it took effect '
            'before running the command again.'))
    raise DarktraceApiError('unexpected_reply', (
        f'{answered}. Check that the server URL points at the Darktrace appliance and that its version supports '
        'this command; if it does, the appliance or a proxy in front of it answered wrongly: try again later.'))


def is_login_page(html: str) -> bool:
    """Whether an HTML reply is the appliance's login page (a form posting to /login, or a password field)."""
    text = html.lower()
    return 'action="/login"' in text or "action='/login'" in text or 'type="password"' in text \
        or bool(re.search(r'<title[^>]*>[^<]*log\s?in', text))


def _error_field(reply: Any) -> str:
    """The appliance's own error text from a JSON error reply (`error`, or the one value of `{segment: text}`)."""
    if isinstance(reply, dict):
        if reply.get('error'):
            return str(reply['error'])
        if len(reply) == 1:
            return str(next(iter(reply.values())))
    return ''


@dataclass(frozen=True)
class ReplyFacts:
    """What the classification of an HTTP reply reads, and the pieces its messages quote."""

    status: int
    operation: str  # 'GET /devices'
    changes: bool  # the request may change something (a POST), so it is never sent twice
    text: str  # the body as text
    data: Any  # the body as JSON; None when it is not JSON (a redirect's body is not read)
    html: bool
    location: str  # where a redirect leads (or its body)
    error_text: str  # the appliance's own error text from a JSON error reply, cut to 300 characters
    appliance_text: str  # what the appliance said: its error text, else the page title, else the body's start
    titled: str  # ' titled ...' for an HTML page with a title
    retried: str  # what became of the retries of a 429 or 50x

    @classmethod
    def of(cls, response: requests.Response, method: str, path: str, body: bytes) -> 'ReplyFacts':
        status = response.status_code
        text = body.decode('utf-8', errors='replace')  # JSON is UTF-8; anything else only feeds messages
        data = None
        if not 300 <= status < 400:
            try:
                data = json.loads(body) if text.strip() else {}
            except ValueError:
                data = None
        error_text = _error_field(data)[:300]
        title = HTML_TITLE_PATTERN.search(text)
        # urllib3 leaves the retries it made on the final reply.
        retries = len(getattr(getattr(response.raw, 'retries', None), 'history', None) or ())
        wait = str(response.headers.get('Retry-After') or '').strip()
        asked = f' the {wait} s it asked for' if wait.isdigit() else ''
        return cls(
            status=status, operation=f'{method} {path}', changes=method not in IDEMPOTENT_METHODS, text=text,
            data=data, html='<html' in text.lower() or 'text/html' in response.headers.get('Content-Type', ''),
            location=response.headers.get('Location', '') or text, error_text=error_text,
            appliance_text=error_text or (f'a web page titled {title.group(1).strip()!r}' if title
                                          else text[:200].strip()),
            titled=f' titled {title.group(1).strip()!r}' if title else '',
            retried=(f'even after {retries} {"retry" if retries == 1 else "retries"}' if retries
                     else f'and the retry budget left no time to wait{asked} and retry'))

    @property
    def redirect(self) -> bool:
        return 300 <= self.status < 400

    @property
    def failed(self) -> bool:
        return self.status >= 400

    @property
    def overloaded(self) -> bool:
        return self.status in RETRY_STATUSES or self.status >= 500

    @property
    def location_start(self) -> str:
        return self.location[:100]

    @property
    def reason(self) -> str:
        return f': {self.error_text}' if self.error_text else ''

    @property
    def api_error(self) -> Any:
        return self.data.get('error') if isinstance(self.data, dict) else None

    @property
    def body_start(self) -> str:
        return repr(self.text[:80])


REPLY_RULES: tuple[tuple[Callable[[ReplyFacts], Any], str, str], ...] = (
    (lambda r: r.redirect and '/403' in r.location, 'permission',
     PERMISSION_MESSAGE.replace('{refusal}', 'redirect to /403')),
    (lambda r: r.redirect and '/login' in r.location, 'login_redirect',
     'Darktrace redirected {operation} to its login page: the appliance does not know this API endpoint (check the '
     'URL points at the appliance and its version supports the command), or the request reached it without the API '
     'headers (check any proxy in between).'),
    (lambda r: r.redirect, 'redirect',
     'Darktrace answered {operation} with an unexpected redirect ({status} to {location_start}): check the '
     'server URL.'),
    (lambda r: r.failed and 'API SIGNATURE ERROR' in r.text, 'signature',
     'Darktrace rejected the request signature (API SIGNATURE ERROR): check that the public and private API tokens '
     'are correct and from the same token pair.'),
    (lambda r: r.failed and 'API DATE ERROR' in r.text, 'date',
     'Darktrace rejected the request date (API DATE ERROR): this machine\'s clock differs from the appliance\'s by '
     'more than 30 minutes. Synchronise both clocks (NTP) and retry.'),
    (lambda r: r.status == 403, 'permission', PERMISSION_MESSAGE.replace('{refusal}', '403 Forbidden')),
    (lambda r: r.status == 404 and r.appliance_text, 'not_found', 'Darktrace found nothing for {operation} (404): '
                                                                  '{appliance_text}.'),
    (lambda r: r.status == 404, 'not_found', 'Darktrace found nothing for {operation} (404): '
                                             'check the identifiers given.'),
    (lambda r: r.status == 400 and r.appliance_text, 'input', 'Darktrace rejected the parameters of {operation} '
                                                              '(400 INPUT ERROR): {appliance_text}.'),
    (lambda r: r.status == 400, 'input', 'Darktrace rejected the parameters of {operation} (400 INPUT ERROR): '
                                         'check the arguments.'),
    (lambda r: r.failed and r.overloaded and r.changes, 'unavailable',
     'Darktrace could not serve {operation} (HTTP {status}). {not_retried}'),
    (lambda r: r.status in RETRY_STATUSES, 'unavailable',
     'Darktrace could not serve {operation} (HTTP {status}), {retried}: the appliance or a proxy in front of it is '
     'overloaded or restarting. Try again in a few minutes.'),
    (lambda r: r.status >= 500, 'unavailable',
     'Darktrace failed on {operation} with an internal error (HTTP {status}{reason}). Such errors are not retried, '
     'as they rarely pass within seconds. Try again later; if it persists, check the appliance\'s System Status page '
     'or ask Darktrace support.'),
    (lambda r: r.failed, 'http', 'Darktrace answered {operation} with HTTP {status}: {appliance_text}'),
    (lambda r: r.data is None and r.html and is_login_page(r.text), 'login_page',
     'Darktrace answered {operation} with its login web page instead of data: something between XSOAR and the '
     'appliance followed a redirect to /login. Check the URL and any proxy; the tokens may also lack API access.'),
    (lambda r: r.data is None and r.html, 'html_page',
     '{operation} was answered with a web page{titled} instead of Darktrace data: the server URL may point at '
     'something other than the appliance\'s API, or a proxy in between answered. Check the server URL and any proxy.'),
    (lambda r: r.data is None and not r.changes, 'bad_json',
     'Darktrace answered {operation} with a reply that is not valid JSON (it may have been cut short by a proxy or a '
     'timeout). Retry; if it persists, check the appliance. Reply began: {body_start}'),
    (lambda r: r.data is None, 'bad_json',
     'Darktrace answered {operation} with a reply that is not valid JSON (it may have been cut short by a proxy or a '
     'timeout). The change was probably applied: check in the Threat Visualizer before running the command again. '
     'Reply began: {body_start}'),
    (lambda r: r.api_error, 'api_error', 'Darktrace reported an error for {operation}: {api_error}'),
)


@dataclass(frozen=True)
class TransportFacts:
    """What the classification of a request that got no complete reply reads: the error and where it happened."""

    cause: Exception
    detail: str  # 'type: text' of the error, lowercase, which the markers below are looked for in
    base_url: str
    repeatable: bool  # a GET, which was retried

    @property
    def cause_type(self) -> str:
        return type(self.cause).__name__

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or self.base_url

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        try:
            return parts.port or (443 if parts.scheme.lower() == 'https' else 80)
        except ValueError:
            return 443 if parts.scheme.lower() == 'https' else 80

    @property
    def tls_reason(self) -> str:
        """OpenSSL's reason for a failed handshake ('sslv3 alert handshake failure'), or the error's type."""
        found = re.search(r'\[ssl(?:: [a-z0-9_]+)?\] ([^(\]\'"]+)', self.detail)
        return found.group(1).strip() if found else self.cause_type

    def is_a(self, types: Any, *markers: str) -> bool:
        return isinstance(self.cause, types) or any(marker in self.detail for marker in markers)


TRANSPORT_RULES: tuple[tuple[Callable[[TransportFacts], Any], str, str], ...] = (
    # A certificate message only when a certificate was refused: "Trust any certificate" cannot help otherwise.
    (lambda e: e.is_a((), *CERTIFICATE_MARKERS), 'tls',
     'TLS verification of {base_url} failed: the appliance\'s certificate is not trusted by this machine '
     '({tls_reason}). Install a trusted certificate on the appliance, or tick "Trust any certificate (not secure)".'),
    (lambda e: e.is_a((), *PLAIN_HTTP_MARKERS), 'plain_http',
     '{host} answered on port {port} in plain HTTP, not HTTPS: the server URL {base_url} asks for TLS, which that port '
     'does not speak. Use http://{host}:{port} if the appliance serves plain HTTP there, or the port where it serves '
     'HTTPS (443 unless changed).'),
    (lambda e: e.is_a(requests.exceptions.SSLError, 'sslerror', '[ssl'), 'tls',
     'The TLS handshake with {host} on port {port} failed ({tls_reason}): the appliance and this machine share no TLS '
     'version or cipher, or something in between interfered. Check the server URL and any proxy or load balancer '
     'in between.'),
    (lambda e: e.is_a(requests.exceptions.ProxyError, 'proxyerror'), 'proxy',
     'The proxy refused the connection to {base_url}: check the system proxy, or clear "Use system proxy".'),
    (lambda e: e.is_a((requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
                      'connection broken', 'incompleteread') and e.repeatable, 'bad_json',
     CUT_SHORT + 'Retry; if it persists, check the appliance and any proxy or load balancer in between.'),
    (lambda e: e.is_a((requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
                      'connection broken', 'incompleteread'), 'bad_json', CUT_SHORT + '{not_retried}'),
    (lambda e: e.is_a((), 'decodeerror', 'failed to decode'), 'bad_json',
     'The reply from Darktrace at {base_url} could not be decompressed (its Content-Encoding does not match its '
     'body): check any proxy or load balancer in between.'),
    (lambda e: e.is_a(requests.exceptions.RetryError, 'retry budget spent'), 'unavailable',
     'Darktrace at {base_url} kept failing until the retry budget was spent: the appliance or a proxy in front of it '
     'is overloaded or restarting. Try again in a few minutes, or raise the retry budget.'),
    (lambda e: e.is_a(requests.exceptions.ConnectTimeout, 'connecttimeout'), 'timeout',
     'Connecting to {base_url} timed out after {connect_timeout_s} s: check the URL and that the appliance is '
     'reachable from XSOAR (firewall, routing).'),
    (lambda e: e.is_a(requests.exceptions.ReadTimeout, 'read timed out') and not e.repeatable, 'timeout',
     'Darktrace at {base_url} did not answer within {read_timeout_s} s. {not_retried}'),
    (lambda e: e.is_a(requests.exceptions.ReadTimeout, 'read timed out'), 'timeout',
     'Darktrace at {base_url} did not answer within {read_timeout_s} s, even after retrying: the appliance is busy. '
     'Narrow the request (time range, limit) or try again later.'),
    (lambda e: e.is_a((), *NAME_FAILURE_MARKERS), 'dns',
     'The host name {host} (server URL {base_url}) could not be resolved, so nothing was sent; a name that does not '
     'resolve is not retried. Check the spelling of the server URL, and that the DNS servers XSOAR uses know the '
     'appliance.'),
    (lambda e: e.is_a((), 'refused'), 'connection',
     '{host} refused the connection on port {port}, also when tried once more: nothing listens there. Check the port '
     'in the server URL {base_url} (443 for HTTPS unless changed), and that the appliance is up.'),
    (lambda e: e.is_a((), 'reset', 'aborted', 'remotedisconnected', 'closed') and not e.repeatable, 'connection',
     CLOSED_EARLY + '. {not_retried}'),
    (lambda e: e.is_a((), 'reset', 'aborted', 'remotedisconnected', 'closed'), 'connection',
     CLOSED_EARLY + ', even after retrying. Try again; if it persists, check the appliance and any proxy or load '
                    'balancer in between.'),
    (lambda e: True, 'connection',
     'Could not reach Darktrace at {base_url}: check the server URL and the network path ({cause_type}).'),
)


Facts = TypeVar('Facts', ReplyFacts, TransportFacts)


def classify(rules: tuple[tuple[Callable[[Facts], Any], str, str], ...], facts: Facts) -> tuple[str, str] | None:
    """(kind, message) of the first rule that applies, or None when none does."""
    for applies, kind, template in rules:
        if applies(facts):
            fields = {name: getattr(facts, name) for name in dir(facts) if not name.startswith('_')}
            return kind, template.format(**fields, **MESSAGE_CONSTANTS)
    return None


def parse_reply(response: requests.Response, method: str, path: str, body: bytes) -> Any:
    """The JSON `body` of a successful reply; every other outcome becomes an actionable `DarktraceApiError`."""
    facts = ReplyFacts.of(response, method, path, body)
    error = classify(REPLY_RULES, facts)
    if error is not None:
        raise DarktraceApiError(*error, facts.status)
    return facts.data


def transport_error(error: Exception, base_url: str, method: str = 'GET') -> DarktraceApiError:
    """Explain a request that got no complete HTTP reply: TLS, DNS, refused or reset connection, timeouts, a cut reply.

    A change (`method` POST) may have reached the appliance before the failure, so its message says to check.
    """
    cause = getattr(error, 'exception', None) or error
    facts = TransportFacts(cause, f'{type(cause).__name__}: {cause}'.lower(), base_url, method in IDEMPOTENT_METHODS)
    kind, message = classify(TRANSPORT_RULES, facts) or ('connection', '')  # the last rule always applies
    return DarktraceApiError(kind, message)


''' CLIENT '''
# DTAPI signing, then the Client: request(), then one method per endpoint, by domain.

ALL_STATUS_CODES = tuple(range(100, 600))  # every status reaches our own reply handling
SECRET_HEADERS = frozenset({'dtapi-token', 'dtapi-signature'})  # never written to a log
# What a query or form body is signed as: its decoded values ('tag=Active Threat', Darktrace's guide and its own
# clients) or its percent-encoded bytes ('tag=Active%20Threat', as sent). Appliances differ; decoded comes first.
SIGNING_FORMS = ('decoded', 'encoded')


def dtapi_signature(private_token: str, public_token: str, signed_target: str, date: str) -> str:
    """Lowercase hex HMAC-SHA1, keyed with the private token, of target, public token and date, one per line."""
    message = f'{signed_target}\n{public_token}\n{date}'
    return hmac.new(private_token.encode(), message.encode(), hashlib.sha1).hexdigest()


def query_pairs(params: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The (key, text) pairs of a query or form body, in the given order: None values left out, booleans lowercase."""
    return [(key, str(value).lower() if isinstance(value, bool) else str(value))
            for key, value in (params or {}).items() if value is not None]


def encode_query(params: dict[str, Any] | None) -> str:
    """`k=v&…` percent-encoded, as sent: only RFC 3986 unreserved characters stay literal, so no HTTP
    library re-encodes the string, and it decodes to exactly the values of `query_pairs`."""
    return '&'.join(f'{quote(key, safe="")}={quote(text, safe="")}' for key, text in query_pairs(params))


def decoded_query(params: dict[str, Any] | None) -> str:
    """`k=v&…` with the values as they are (`tag=Active Threat`): what Darktrace's guide signs."""
    return '&'.join(f'{key}={text}' for key, text in query_pairs(params))


def request_targets(path: str, params: dict[str, Any] | None, form: dict[str, Any] | None,
                    json_text: str | None) -> dict[str, str]:
    """The signed request target in each signing form.

    A body is signed in place of the query string (a URL query beside a JSON body is not signed). A JSON
    body is signed exactly as sent, and a path (Advanced Search's base64) byte for byte, in either form.
    """
    if json_text is not None:
        return dict.fromkeys(SIGNING_FORMS, f'{path}?{json_text}')
    if form is not None:
        return {'decoded': f'{path}?{decoded_query(form)}', 'encoded': f'{path}?{encode_query(form)}'}
    decoded, encoded = decoded_query(params), encode_query(params)
    return {'decoded': f'{path}?{decoded}' if decoded else path, 'encoded': f'{path}?{encoded}' if encoded else path}


def encode_body(form: dict[str, Any] | None, json_body: Any) -> tuple[str, str] | None:
    """The text of a request body and its content type: `json_body` when given, else `form`, else None."""
    if json_body is not None:
        return json.dumps(json_body, separators=(',', ':')), 'application/json'  # ASCII: non-ASCII is \u-escaped
    if form is not None:
        return encode_query(form), 'application/x-www-form-urlencoded'
    return None


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Request headers fit for a log: the token and the signature (which proves the private token) blanked."""
    return {name: '<redacted>' if name.lower() in SECRET_HEADERS else value for name, value in headers.items()}


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every one of `secrets` (tokens, signatures) replaced by <redacted>."""
    for secret in sorted((secret for secret in secrets if secret), key=len, reverse=True):
        text = text.replace(secret, '<redacted>')
    return text


def without_pinned_outside(params: dict[str, Any]) -> dict[str, Any]:
    """AI Analyst query parameters that keep a time range to itself: pinned events and incidents come back whatever
    the window unless `includeallpinned=false` is sent (guide 2.5, 2.6), so it is, unless the caller chose."""
    if (params.get('starttime') is None and params.get('endtime') is None) or params.get('includeallpinned') \
            is not None:
        return params
    return {**params, 'includeallpinned': False}


class Client(BaseClient):
    """Signs and sends Darktrace API requests; knows HTTP and the DTAPI scheme, nothing of XSOAR.

    Every query and body is built once, as ordered (key, text) pairs; the bytes sent are their
    percent-encoding, and the signature covers them decoded or encoded (`signing_form`).
    """

    def __init__(self, base_url: str, public_token: str, private_token: str, verify: bool = True,
                 proxy: bool = False, retry_budget_s: float = DEFAULT_RETRY_BUDGET_S,
                 on_retry: Callable[[str], None] | None = None,
                 on_request: Callable[[str], None] | None = None, signing_form: str = SIGNING_FORMS[0],
                 on_signing_form: Callable[[str], None] | None = None) -> None:
        # Only scheme://host[:port] is kept: a trailing slash or a path would change the signed target.
        parts = urlsplit(base_url.strip())
        super().__init__(base_url=f'{parts.scheme}://{parts.netloc}', verify=verify, proxy=proxy)
        self._public_token = public_token
        self._private_token = private_token
        # A Client serves one command, so its clock starts with the command.
        self._started = time.monotonic()
        self._retry_deadline = self._started + min(retry_budget_s, COMMAND_TIME_LIMIT_S)
        self._retry_budget_s = retry_budget_s
        self._on_retry = on_retry
        self._on_request = on_request
        # The form this appliance accepted last; `on_signing_form` hears when a request needed the other one.
        self.signing_form = signing_form if signing_form in SIGNING_FORMS else SIGNING_FORMS[0]
        self._on_signing_form = on_signing_form
        self._signatures: set[str] = set()  # every signature sent, so none is echoed back in a message
        # Reply bytes read so far (after decompression; a reply over its cap counts as the cap): fetch's run budget.
        self.read_bytes = 0
        # Retries go on the adapter BaseClient mounted for the URL's scheme. With "Trust any certificate"
        # that is the platform's SSLAdapter, whose cipher fallback older appliances need; mounting another
        # adapter over it would lose that.
        self._adapter = self._session.adapters[f'{parts.scheme.lower()}://']
        # The status line and headers obey the command's deadline like the body (read_body), through this adapter
        # and any proxy manager it makes.
        # Through a weak reference: the connection classes must not keep this client (and all it refers to) alive.
        deadline = weak_deadline(self)
        bound_by_deadline(self._adapter.poolmanager, deadline)
        make_proxy_manager = self._adapter.proxy_manager_for
        self._adapter.proxy_manager_for = lambda proxy, **kwargs: bound_by_deadline(  # type: ignore[method-assign]
            make_proxy_manager(proxy, **kwargs), deadline)

    # --- signing and transport -------------------------------------------------------------

    def deadline(self) -> float:
        """The time.monotonic() at which this command stops waiting for Darktrace."""
        return self._started + COMMAND_TIME_LIMIT_S

    def signed_headers(self, signed_target: str, now: datetime | None = None) -> dict[str, str]:
        """The three DTAPI headers for a request whose signed target is `signed_target`."""
        date = (now or utc_moment(now_ms())).strftime(DTAPI_DATE_FORMAT)
        signature = dtapi_signature(self._private_token, self._public_token, signed_target, date)
        return {'DTAPI-Token': self._public_token, 'DTAPI-Date': date, 'DTAPI-Signature': signature}

    def _retry_policy(self, method: str) -> BudgetedRetry:
        """GETs retry every transient failure; a POST only a failure to connect, which never reached the appliance."""
        retryable = method in IDEMPOTENT_METHODS
        retry_after_max = int(self._retry_budget_s) + 1
        retry = BudgetedRetry(
            total=10, connect=10, read=10 if retryable else 0, other=0, redirect=0,
            status=10 if retryable else 0, status_forcelist=RETRY_STATUSES if retryable else (),
            allowed_methods=IDEMPOTENT_METHODS, backoff_factor=0.5, backoff_max=10, backoff_jitter=0.5,
            raise_on_status=False, raise_on_redirect=False, respect_retry_after_header=True,
            **({'retry_after_max': retry_after_max} if RETRY_TAKES_RETRY_AFTER_MAX else {}),
        )
        retry.deadline = self._retry_deadline
        retry.on_retry = self._on_retry
        if not RETRY_TAKES_RETRY_AFTER_MAX:
            retry.retry_after_cap_s = retry_after_max
        return retry

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                form: dict[str, Any] | None = None, json_body: Any = None, *, shape: str = LIST_OR_OBJECT,
                max_bytes: int | None = None, signing_form: str | None = None, raw: bool = False) -> Any:
        """Send one signed request and return its parsed JSON reply, or raise `DarktraceApiError`.

        `path` is sent and signed as given (already encoded); `params`, `form` and `json_body`
        are encoded here, once. The reply must have the documented `shape` and at most `max_bytes`
        (MAX_REPLY_BYTES when not given). Signed in `signing_form` (by default the form that worked
        last); when the appliance rejects that signature and the other form signs something else, the
        request is sent once more in the other form. That is safe for a change too: a request refused
        at authentication was not applied.
        """
        signing_form = signing_form or self.signing_form
        target, headers, body, signed_targets = self._prepared(path, params, form, json_body, signing_form)
        reply_bytes, response = self._exchange(method, path, target, headers, body, max_bytes)
        content_type = str(response.headers.get('Content-Type') or '').lower()
        if raw and 200 <= response.status_code < 300 and 'json' not in content_type and 'html' not in content_type:
            return reply_bytes  # a file (Darktrace/Email's .eml); JSON or a web page is judged as any reply
        operation = f'{method} {path}'
        try:
            reply = expect_shape(parse_reply(response, method, path, reply_bytes), shape, operation)
        except DarktraceApiError as error:
            other_form = next(form_ for form_ in SIGNING_FORMS if form_ != signing_form)
            if error.kind != 'signature' or signing_form != self.signing_form \
                    or signed_targets[other_form] == signed_targets[signing_form]:
                raise self.redacted(error) from None
            if self._on_request:
                self._on_request(f'Darktrace: {method} {path} signature refused in the {signing_form} form; '
                                 f'sending it once more signed in the {other_form} form')
            return self.request(method, path, params, form, json_body, shape=shape, max_bytes=max_bytes,
                                signing_form=other_form, raw=raw)
        if signing_form != self.signing_form:
            self.signing_form = signing_form
            if self._on_signing_form:
                self._on_signing_form(signing_form)
        return reply

    def _prepared(self, path: str, params: dict[str, Any] | None, form: dict[str, Any] | None, json_body: Any,
                  signing_form: str) -> tuple[str, dict[str, str], bytes | None, dict[str, str]]:
        """The target sent, the headers signed in `signing_form`, the body's bytes, and the target each form signs."""
        query = encode_query(params or {})
        target = f'{path}?{query}' if query else path
        headers: dict[str, str] = {}
        body: bytes | None = None
        json_text: str | None = None
        encoded_body = encode_body(form, json_body)
        if encoded_body is not None:
            body_text, headers['Content-Type'] = encoded_body
            body = body_text.encode()
            json_text = body_text if json_body is not None else None
        signed_targets = request_targets(path, params, form, json_text)
        headers.update(self.signed_headers(signed_targets[signing_form]))
        self._signatures.add(headers['DTAPI-Signature'])
        return target, headers, body, signed_targets

    def _exchange(self, method: str, path: str, target: str, headers: dict[str, str], body: bytes | None,
                  max_bytes: int | None) -> tuple[bytes, requests.Response]:
        """Send the request within the command's deadline and read its reply: (its body's bytes, the response)."""
        started = time.monotonic()
        deadline = self.deadline()
        remaining_s = deadline - started
        if remaining_s <= 0:
            raise DarktraceApiError('timeout', (
                f'Stopped before {method} {path}: this command has waited {COMMAND_TIME_LIMIT_S} s for Darktrace, '
                'close to the 5 minutes XSOAR allows a command. Narrow the request (time range, limit) or try again '
                'later.'))
        self._adapter.max_retries = self._retry_policy(method)
        try:
            response = self._http_request(
                method, full_url=self._base_url + target, data=body, headers=headers, resp_type='response',
                ok_codes=ALL_STATUS_CODES, allow_redirects=False, stream=True,
                timeout=(min(CONNECT_TIMEOUT_S, remaining_s), min(READ_TIMEOUT_S, remaining_s)))
        except (DemistoException, requests.exceptions.RequestException) as error:
            failure = type(getattr(error, 'exception', None) or error).__name__
            self._log_request(method, target, headers, f'no reply ({failure})', started)
            if time.monotonic() >= deadline:  # no retry starts past it (BudgetedRetry's budget ends before)
                raise DarktraceApiError('timeout', (
                    f'Stopped waiting for Darktrace\'s reply to {method} {path}: it had not answered when this command '
                    f'reached its limit of {COMMAND_TIME_LIMIT_S} s, close to the 5 minutes XSOAR allows. '
                    f'{unfinished_advice(method)}')) from None
            raise self.redacted(transport_error(error, self._base_url, method)) from None
        try:
            reply_bytes = read_body(response, f'{method} {path}', max_bytes or MAX_REPLY_BYTES, deadline)
        except DarktraceApiError as error:
            if error.kind == 'too_large':
                self.read_bytes += max_bytes or MAX_REPLY_BYTES
            self._log_request(method, target, headers, f'HTTP {response.status_code}, {error.kind}', started)
            raise self.redacted(error) from None
        except (Urllib3Error, requests.exceptions.RequestException, OSError) as error:  # cut part-way through
            self._log_request(method, target, headers, f'HTTP {response.status_code}, cut ({type(error).__name__})',
                              started)
            raise self.redacted(transport_error(error, self._base_url, method)) from None
        finally:
            response.close()
        self.read_bytes += len(reply_bytes)
        self._log_request(method, target, headers, f'HTTP {response.status_code}, {len(reply_bytes)} bytes', started)
        return reply_bytes, response

    def redacted(self, error: DarktraceApiError) -> DarktraceApiError:
        """`error` with the tokens and every signature this client sent removed from its message."""
        return DarktraceApiError(error.kind, self.redact(str(error)), error.status)

    def redact(self, text: str) -> str:
        return redact(text, [self._public_token, self._private_token, *self._signatures])

    def _log_request(self, method: str, target: str, headers: dict[str, str], outcome: str, started: float) -> None:
        if self._on_request:
            self._on_request(self.redact(f'Darktrace: {method} {target[:300]} {redact_headers(headers)} -> {outcome} '
                                         f'in {time.monotonic() - started:.2f} s'))

    # --- endpoints ---------------------------------------------------------------------------

    @property
    def server_url(self) -> str:
        """scheme://host[:port] of the appliance, where Threat Visualizer links start."""
        return self._base_url

    def get_status(self, fast: bool = False) -> dict[str, Any]:
        # guide 2.38: fast=true answers quicker, leaving out subnet data a health check does not need
        return self.request('GET', '/status', {'fast': True} if fast else None, shape=OBJECT)

    # model breaches
    def get_model_breaches(self, params: dict[str, Any], max_bytes: int | None = None) -> Any:
        return self.request('GET', '/modelbreaches', params, shape=LIST, max_bytes=max_bytes)

    def get_model_breach(self, pbid: int) -> Any:
        # ?pbid= as every public client reads one breach (some appliances have no /modelbreaches/{pbid} route).
        # Acknowledged breaches are otherwise left out, and the flag and link only appear when asked for.
        return self.request('GET', '/modelbreaches', {
            'pbid': pbid, 'includeacknowledged': True, 'includebreachurl': True, 'deviceattop': True,
            'minimal': False})  # guide ambiguities 1, 2: both defaults are contradictory, so both are sent

    def acknowledge_model_breach(self, pbid: int) -> Any:
        return self.request('POST', f'/modelbreaches/{pbid}/acknowledge', form={'acknowledge': True})

    def unacknowledge_model_breach(self, pbid: int) -> Any:
        return self.request('POST', f'/modelbreaches/{pbid}/unacknowledge', form={'unacknowledge': True})

    def get_model_breach_comments(self, pbid: int) -> Any:
        return self.request('GET', f'/modelbreaches/{pbid}/comments')

    def add_model_breach_comment(self, pbid: int, message: str) -> Any:
        return self.request('POST', f'/modelbreaches/{pbid}/comments', json_body={'message': message})

    def get_breach_comment_feed(self, start_ms: int, end_ms: int, count: int) -> Any:
        # guide 2.27: the comments made on any breach within a window, at most `count` (default 100)
        return self.request('GET', '/mbcomments', {'starttime': start_ms, 'endtime': end_ms, 'count': count},
                            shape=LIST)

    def get_details(self, params: dict[str, Any]) -> Any:
        return self.request('GET', '/details', params, shape=LIST)

    # models
    def get_model(self, uuid: str) -> Any:
        return self.request('GET', '/models', {'uuid': uuid})

    def get_model_component(self, cid: int) -> Any:
        return self.request('GET', f'/components/{cid}')

    # devices
    def search_devices(self, query: str | None, order_by: str | None, order: str | None, count: int,
                       offset: int) -> Any:
        return self.request('GET', '/devicesearch', {
            'query': query, 'orderBy': order_by, 'order': order, 'count': count, 'offset': offset})

    def get_device(self, did: int) -> Any:
        return self.request('GET', '/devices', {'did': did, 'includetags': True})

    def get_similar_devices(self, did: int, count: int) -> Any:
        return self.request('GET', '/similardevices', {'did': did, 'count': count})

    def get_device_info(self, params: dict[str, Any]) -> Any:
        return self.request('GET', '/deviceinfo', params)

    # external endpoints and Advanced Search
    def get_endpoint_details(self, endpoint_key: str, endpoint_value: str, additional_info: bool,
                             devices: bool, score: bool) -> Any:
        return self.request('GET', '/endpointdetails', {
            endpoint_key: endpoint_value, 'additionalinfo': additional_info, 'devices': devices, 'score': score})

    def advanced_search_analyze(self, metric: str, operation: str, encoded_query: str) -> Any:
        return self.request('GET', f'/advancedsearch/api/analyze/{metric}/{operation}/{encoded_query}')

    # tags
    def get_tagged_devices(self, tag: str) -> Any:
        return self.request('GET', '/tags/entities', {'tag': tag, 'fulldevicedetails': True})

    def get_device_tags(self, did: int) -> Any:
        return self.request('GET', '/tags/entities', {'did': did}, shape=LIST)

    def add_tag_to_device(self, did: int, tag: str, duration_s: int | None) -> Any:
        return self.request('POST', '/tags/entities', form={'did': did, 'tag': tag, 'duration': duration_s})

    def get_tags(self) -> Any:
        return self.request('GET', '/tags', shape=LIST)

    def remove_tag_from_device(self, did: int, tag: str) -> Any:
        return self.request('DELETE', '/tags/entities', {'did': did, 'tag': tag})

    # watched list
    def add_to_watched_list(self, body: dict[str, Any]) -> Any:
        return self.request('POST', '/intelfeed', json_body=body)

    def get_watched_endpoints(self, source: str | None = None) -> Any:
        return self.request('GET', '/intelfeed', {'fulldetails': True, 'source': source}, shape=LIST)

    def get_watched_sources(self) -> Any:
        return self.request('GET', '/intelfeed', {'sources': True}, shape=LIST)

    def remove_from_watched_list(self, entry: str, source: str | None = None) -> Any:
        # guide 2.26: `source` must be given with removeentry when several sources exist
        return self.request('POST', '/intelfeed', json_body={'removeentry': entry, **({'source': source} if source
                                                                                      else {})})

    # AI Analyst
    def get_ai_analyst_incident_events(self, params: dict[str, Any], max_bytes: int | None = None) -> Any:
        return self.request('GET', '/aianalyst/incidentevents', without_pinned_outside(params), max_bytes=max_bytes)

    def acknowledge_ai_analyst_event(self, event_id: str) -> Any:
        return self.request('POST', '/aianalyst/acknowledge', form={'uuid': event_id})

    def unacknowledge_ai_analyst_event(self, event_id: str) -> Any:
        return self.request('POST', '/aianalyst/unacknowledge', form={'uuid': event_id})

    def get_ai_analyst_comments(self, event_id: str) -> Any:
        return self.request('GET', '/aianalyst/incident/comments', {'incident_id': event_id})

    def add_ai_analyst_comment(self, event_id: str, message: str) -> Any:
        return self.request('POST', '/aianalyst/incident/comments',
                            json_body={'incident_id': event_id, 'message': message})

    def get_ai_analyst_groups(self, params: dict[str, Any]) -> Any:
        return self.request('GET', '/aianalyst/groups', without_pinned_outside(params))

    # RESPOND
    def get_respond_actions(self, params: dict[str, Any]) -> Any:
        return self.request('GET', '/antigena', params)

    def change_respond_action(self, body: dict[str, Any]) -> Any:
        return self.request('POST', '/antigena', json_body=body)

    def create_respond_action(self, body: dict[str, Any]) -> Any:
        return self.request('POST', '/antigena/manual', json_body=body)

    # --- Darktrace/Email ---------------------------------------------------------------------
    # The Email API lives under one of two prefixes on the same host, signed like every other call with the full path
    # (email-facts 1, 2). `email_path` is the prefix pinned by the instance or remembered from an earlier command;
    # `on_email_path` hears when another prefix answered, so later commands start there.

    email_path: str | None = None
    email_path_pinned: bool = False
    on_email_path: Callable[[str], None] | None = None
    email_time_unit: str = 'seconds'  # of the search window (email-facts 10, question 1)

    def email_request(self, method: str, endpoint: str, params: dict[str, Any] | None = None,
                      json_body: Any = None, *, shape: str = LIST_OR_OBJECT, max_bytes: int | None = None,
                      raw: bool = False) -> Any:
        """One Email API request under the chosen prefix: the pinned one alone, else the remembered (or the guide's)
        one first and the other once when the first has no such route (404 without an Email answer, or a redirect
        to the login page). A 403 names the Email permission or licence (email-facts 5, 6) and is never retried."""
        prefixes = email_prefixes(self.email_path, self.email_path_pinned)
        for position, prefix in enumerate(prefixes):
            try:
                reply = self.request(method, prefix + endpoint, params, json_body=json_body, shape=shape,
                                     max_bytes=max_bytes, raw=raw)
            except DarktraceApiError as error:
                if error.kind == 'permission':
                    raise email_permission_error(f'{method} {prefix}{endpoint}') from None
                if position + 1 < len(prefixes) and is_missing_route(error):
                    if self._on_request:
                        self._on_request(f'Darktrace: {prefix} has no Email API here ({error.kind}); trying '
                                         f'{prefixes[position + 1]}')
                    continue
                raise
            if prefix != self.email_path:
                self.email_path = prefix
                if self.on_email_path and not self.email_path_pinned:
                    self.on_email_path(prefix)
            return reply
        raise AssertionError('unreachable: the last prefix raises or returns')  # pragma: no cover

    def search_emails(self, body: dict[str, Any], max_bytes: int | None = None) -> Any:
        # email-facts 3.1: POST with a JSON body; the reply is a bare list
        return self.email_request('POST', '/emails/search', json_body=body, shape=LIST, max_bytes=max_bytes)

    def get_email(self, uuid: str, dtime_ms: int | None = None) -> Any:
        # email-facts 3.2: optional dtime in ms, as the vendor's client sends it
        return self.email_request('GET', f'/emails/{quote(uuid, safe="")}',
                                  {'dtime': dtime_ms} if dtime_ms else None, shape=OBJECT)

    def email_action(self, uuid: str, action: str, recipients: list[str]) -> Any:
        # email-facts 3.3: {"action": ..., "recipients": [...]}
        return self.email_request('POST', f'/emails/{quote(uuid, safe="")}/action',
                                  json_body={'action': action, 'recipients': recipients}, shape=OBJECT)

    def download_email(self, uuid: str) -> bytes:
        # email-facts 3.6: the raw MIME message
        return self.email_request('GET', f'/emails/{quote(uuid, safe="")}/download', raw=True)

    def get_email_tags(self) -> Any:
        return self.email_request('GET', '/resources/tags', shape=LIST)  # email-facts 3.4

    def get_email_actions(self) -> Any:
        return self.email_request('GET', '/resources/actions')  # email-facts 3.5: shape not public

    def get_email_filters(self) -> Any:
        return self.email_request('GET', '/resources/filters')  # email-facts 3.5: shape not public


''' ARGUMENT PARSING '''
# Every check runs before any request, and every message names the argument and what it accepts.
# `parse_*` give None (or the `default` given) for an argument that is missing; `require_*` refuse it.
# Identifiers that become URL path segments (pbid, cid) are validated integers; every other value
# reaches the appliance only through params, form or JSON.

DEFAULT_LIST_LIMIT = 50  # every list command takes `limit`
MAX_LIST_LIMIT = 1000
MAX_COMMENT_LENGTH = 4096
HOSTNAME_PATTERN = re.compile(r'(?=.{1,253}\.?$)(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?')
DATE_PATTERN = re.compile(r'\d{4}-\d{2}-\d{2}')
TIME_PATTERN = re.compile(r'\d{2}:\d{2}:\d{2}')
MODEL_UUID_PATTERN = re.compile(r'[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}')
MODEL_UUID_EXAMPLE = 'a model UUID such as 80010119-6d7f-0000-0305-5e0000000256'
AI_ANALYST_ID_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9-]{0,127}')
ISO_TIME_PATTERN = re.compile(r'\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?')
RELATIVE_TIME_PATTERN = re.compile(r'now|(in\s+)?\d{1,5}\s+(second|minute|hour|day|week|month|year)s?(\s+ago)?',
                                   re.IGNORECASE)
EPOCH_TIME_PATTERN = re.compile(r'\d{10}|\d{13}')
TIME_ARGUMENT_FORMS = ('an ISO 8601 time such as 2024-01-31T13:00:00Z, a relative time such as "3 days" '
                       '(ago) or "in 2 hours", or epoch seconds or milliseconds')
# Comments XSOAR posts start with this, so get-remote-data recognises them and never mirrors them back in.
XSOAR_COMMENT_PREFIX = '[Cortex XSOAR] '
# Durations are bounded by this integration, not by Darktrace: at least a minute, so an action outlives the
# read-back that reports it; at most 7 days, so one mistaken command or playbook run cannot cut a device off for
# longer than a week without someone deciding to extend it.
MIN_RESPOND_DURATION_S = 60
MAX_RESPOND_DURATION_S = 7 * 24 * 60 * 60
DURATION_PATTERN = re.compile(r'([0-9]{1,9})\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)?',
                              re.IGNORECASE)
DURATION_UNITS_S = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}  # by the unit's first letter
DURATION_FORMS = 'a duration such as "30 minutes", "2 hours" or "1 day", or a number of seconds such as 3600'
MAX_RESPOND_CONNECTIONS = 100
# Darktrace/Email: an email's UUID (with its recipient suffix), addresses, action names, raw criteria
EMAIL_UUID_PATTERN = re.compile(r'[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}'
                                r'(\.[0-9]{1,9})?')
EMAIL_UUID_EXAMPLE = 'an email UUID such as BA13B274-03F3-46D6-8698-244DFF1037A0.1'
EMAIL_ADDRESS_PATTERN = re.compile(r'[^@\s,;<>"]{1,200}@[^@\s,;<>"]{1,255}')
EMAIL_ACTION_NAME_PATTERN = re.compile(r'[A-Za-z][A-Za-z0-9_]{0,63}')
MAX_EMAIL_RAW_CRITERIA = 20


Parsed = TypeVar('Parsed')


def _arg_text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    return '' if value is None else str(value).strip()


def _required(value: Parsed | None, name: str, expected: str = '') -> Parsed:
    """`value`, unless the argument is missing: then the error that says what to give (`expected`)."""
    if value is None:
        raise ValueError(f'Missing required argument "{name}"{f": {expected}" if expected else ""}.')
    return value


def _shown(name: str, label: str) -> str:
    """How a message names an argument, or an instance parameter by its label and name: "Minimum Score" (min_score)."""
    return f'"{label}" ({name})' if label else f'"{name}"'


def _whole_numbers(minimum: int, maximum: int | None) -> str:
    return f'a whole number from {minimum} to {maximum}' if maximum is not None \
        else f'a whole number of at least {minimum}'


@overload
def parse_int(args: dict[str, Any], name: str, minimum: int, maximum: int | None = None, *, default: int,
              label: str = '') -> int:
    ...


@overload
def parse_int(args: dict[str, Any], name: str, minimum: int, maximum: int | None = None,
              *, default: None = None, label: str = '') -> int | None:
    ...


def parse_int(args: dict[str, Any], name: str, minimum: int, maximum: int | None = None,
              *, default: int | None = None, label: str = '') -> int | None:
    """An integer argument within [minimum, maximum]; `label` names an instance parameter in messages."""
    text = _arg_text(args, name)
    if not text:
        return default
    if not re.fullmatch(r'[+-]?[0-9]{1,18}', text):  # ASCII digits, and few enough for int() to take
        raise ValueError(f'Invalid {_shown(name, label)}="{text}": expected {_whole_numbers(minimum, maximum)}.')
    number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f'Invalid {_shown(name, label)}={number}: expected {_whole_numbers(minimum, maximum)}.')
    return number


def require_int(args: dict[str, Any], name: str, minimum: int, maximum: int | None = None) -> int:
    return _required(parse_int(args, name, minimum, maximum), name, f'give {_whole_numbers(minimum, maximum)}')


def parse_did(args: dict[str, Any], name: str) -> int | None:
    """A Darktrace device id (`did`): a positive integer."""
    return parse_int(args, name, minimum=1)


def require_did(args: dict[str, Any], name: str) -> int:
    return require_int(args, name, minimum=1)


def require_pbid(args: dict[str, Any]) -> int:
    """A model breach id: a positive integer, so it is safe as a path segment."""
    return require_int(args, 'pbid', minimum=1)


def parse_limit(args: dict[str, Any], maximum: int = MAX_LIST_LIMIT) -> int:
    return parse_int(args, 'limit', 1, maximum, default=DEFAULT_LIST_LIMIT)


def parse_score(args: dict[str, Any], name: str, label: str = '') -> float | None:
    """A score from 0 to 100, as analysts see it in the Threat Visualizer."""
    text = _arg_text(args, name)
    if not text:
        return None
    try:
        score = float(text)
    except ValueError:
        score = math.nan
    if not 0 <= score <= 100:  # NaN fails this comparison too
        raise ValueError(f'Invalid {_shown(name, label)}="{text}": expected a number from 0 to 100.')
    return score


@overload
def parse_bool(args: dict[str, Any], name: str, default: bool = False, label: str = '') -> bool:
    ...


@overload
def parse_bool(args: dict[str, Any], name: str, default: None, label: str = '') -> bool | None:
    ...


def parse_bool(args: dict[str, Any], name: str, default: bool | None = False, label: str = '') -> bool | None:
    text = _arg_text(args, name)
    if not text:
        return default
    try:
        return argToBoolean(text)
    except ValueError:
        raise ValueError(f'Invalid {_shown(name, label)}="{text}": expected true or false.') from None


@overload
def parse_choice(args: dict[str, Any], name: str, choices: tuple[str, ...], *, default: str, label: str = '') -> str:
    ...


@overload
def parse_choice(args: dict[str, Any], name: str, choices: tuple[str, ...], *, default: None = None,
                 label: str = '') -> str | None:
    ...


def parse_choice(args: dict[str, Any], name: str, choices: tuple[str, ...], *,
                 default: str | None = None, label: str = '') -> str | None:
    """One of `choices`, matched case-insensitively and returned in its canonical spelling."""
    text = _arg_text(args, name)
    if not text:
        return default
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    raise ValueError(f'Invalid {_shown(name, label)}="{text}": expected one of {", ".join(choices)}.')


def require_choice(args: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    return _required(parse_choice(args, name, choices), name, f'expected one of {", ".join(choices)}')


def parse_text(args: dict[str, Any], name: str, max_length: int) -> str | None:
    text = _arg_text(args, name)
    if not text:
        return None
    if len(text) > max_length:
        raise ValueError(f'Invalid "{name}": {len(text)} characters, at most {max_length} are accepted.')
    return text


def require_text(args: dict[str, Any], name: str, max_length: int) -> str:
    return _required(parse_text(args, name, max_length), name)


def parse_matching(args: dict[str, Any], name: str, pattern: re.Pattern[str], expected: str) -> str | None:
    """A text argument that `pattern` matches in full; `expected` says what is accepted."""
    text = _arg_text(args, name)
    if not text:
        return None
    if not pattern.fullmatch(text):
        raise ValueError(f'Invalid "{name}"="{text}": expected {expected}.')
    return text


def parse_model_uuid(args: dict[str, Any], name: str) -> str | None:
    return parse_matching(args, name, MODEL_UUID_PATTERN, MODEL_UUID_EXAMPLE)


def require_model_uuid(args: dict[str, Any], name: str) -> str:
    return _required(parse_model_uuid(args, name), name, f'give {MODEL_UUID_EXAMPLE}')


def parse_ai_analyst_id(args: dict[str, Any], name: str) -> str | None:
    """An AI Analyst incident event or group id: letters, digits and hyphens."""
    return parse_matching(args, name, AI_ANALYST_ID_PATTERN, 'an AI Analyst id (letters, digits and hyphens)')


def require_ai_analyst_id(args: dict[str, Any], name: str) -> str:
    return _required(parse_ai_analyst_id(args, name), name,
                     'give an AI Analyst id such as 04a3f36e-4u8w-v9dh-x6lb-894778cf9633')


def is_ip(value: str) -> bool:
    if '%' in value:  # an IPv6 scope id ('fe80::1%eth0') may hold any character and means nothing to Darktrace
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_hostname(value: str) -> bool:
    return bool(HOSTNAME_PATTERN.fullmatch(value)) and not re.fullmatch(r'[\d.]+', value)


def ascii_hostname(value: str) -> str | None:
    """A host name in any script in the ASCII form DNS and Darktrace know (IDNA: bücher.example becomes
    xn--bcher-kva.example); None when it is not a host name."""
    if not value.isascii():
        try:
            value = '.'.join(idna.encode(label, uts46=True).decode() if label else label for label in value.split('.'))
        except (idna.IDNAError, UnicodeError):
            return None
    return value if is_hostname(value) else None


def idna_remapped(value: str) -> str | None:
    """The other host name IDNA's mapping (UTS #46) makes of `value`, or None when it keeps the name as typed.

    The mapping drops invisible characters (a zero-width no-break space) and folds compatibility forms (full-width
    letters), so 'C\ufeffATS.COM' would be sent as cats.com. Such a name is refused, showing the name it would
    become, rather than sent as a name the user did not type; case alone is no change, as DNS ignores it.
    """
    if value.isascii():
        return None
    try:
        ascii_form = '.'.join(idna.encode(label, uts46=True).decode() if label else label for label in value.split('.'))
        unicode_form = idna.decode(ascii_form)
    except (idna.IDNAError, UnicodeError):
        return None
    return None if unicode_form == value.lower() else unicode_form


def visible(text: str) -> str:
    """`text` with invisible and control characters written as escapes (\\ufeff), so a message shows them."""
    return ''.join(char if char.isprintable() else f'\\u{ord(char):04x}' for char in text)


def parse_endpoint_list(args: dict[str, Any], name: str, maximum: int | None = None) -> list[str]:
    """One or more comma-separated IP addresses or host names (required)."""
    # A value such as '[1, null]' is read as a JSON list, so an entry is not necessarily text.
    endpoints = [item.strip() if isinstance(item, str) else item for item in argToList(args.get(name))]
    endpoints = [item for item in endpoints if item != '']
    if not endpoints:
        raise ValueError(f'Missing required argument "{name}": give one or more IP addresses or host names, '
                         'separated by commas.')
    for endpoint in endpoints:
        if not (isinstance(endpoint, str) and (is_ip(endpoint) or is_hostname(endpoint))):
            raise ValueError(f'Invalid entry "{endpoint}" in "{name}": expected IP addresses or host names '
                             'separated by commas.')
    if maximum is not None and len(endpoints) > maximum:
        raise ValueError(f'Invalid "{name}": {len(endpoints)} entries, at most {maximum} are accepted per command.')
    return endpoints


def parse_date_time(args: dict[str, Any], date_name: str, time_name: str) -> datetime:
    """A UTC moment from a YYYY-MM-DD date argument and an HH:MM:SS time argument (both required)."""
    date_text, time_text = _arg_text(args, date_name), _arg_text(args, time_name)
    if not DATE_PATTERN.fullmatch(date_text):
        raise ValueError(f'Invalid "{date_name}"="{date_text}": expected a date as YYYY-MM-DD, e.g. 2024-01-31.')
    if not TIME_PATTERN.fullmatch(time_text):
        raise ValueError(f'Invalid "{time_name}"="{time_text}": expected a time as HH:MM:SS, e.g. 13:05:00.')
    try:
        return datetime.strptime(f'{date_text} {time_text}', DTAPI_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f'Invalid "{date_name}"/"{time_name}"="{date_text} {time_text}": '
                         'not a real date and time.') from None


def parse_time_arg(args: dict[str, Any], name: str, default: str | None = None) -> int | None:
    """An ISO 8601, relative ("3 days", "in 2 hours") or epoch time argument → epoch milliseconds (UTC).

    Only these shapes are handed to the date parser, which would otherwise read "1.5" as a date.
    """
    text = _arg_text(args, name) or default
    if not text:
        return None
    moment: datetime | None = None
    if ISO_TIME_PATTERN.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text.replace('Z', '+00:00'))
        except ValueError:
            moment = None
    elif EPOCH_TIME_PATTERN.fullmatch(text) or RELATIVE_TIME_PATTERN.fullmatch(text):
        try:
            moment = parse_moment(text, name)
        except (ValueError, OverflowError):  # e.g. "99999 years" is out of the calendar's range
            moment = None
    if moment is None:
        raise ValueError(f'Invalid "{name}"="{text}": expected {TIME_ARGUMENT_FORMS}.')
    return utc_epoch_ms(moment)


def parse_time_range(args: dict[str, Any], start_name: str, end_name: str,
                     default_start: str | None = None) -> tuple[int | None, int | None]:
    """A start and end time in epoch ms; an open end is now, and a range that runs backwards is refused."""
    start_ms = parse_time_arg(args, start_name, default=default_start)
    end_ms = parse_time_arg(args, end_name)
    if start_ms is not None and end_ms is None:
        end_ms = now_ms()  # some appliance versions ignore a start time given without an end time
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise ValueError(f'Invalid time range: "{end_name}" ({ms_to_iso(end_ms)}) is before "{start_name}" '
                         f'({ms_to_iso(start_ms)}).')
    return start_ms, end_ms


def parse_first_fetch(text: str, now_ms: int) -> int:
    """The "First fetch time" parameter: '3 days', an ISO date or an epoch value (s or ms) → epoch ms, not after now.

    A future time is refused: fetching would skip every breach until then.
    """
    first_ms: int | None = None
    if re.fullmatch(r'\d{9,10}', text):
        first_ms = int(text) * 1000
    elif re.fullmatch(r'\d{12,13}', text):
        first_ms = int(text)
    else:
        try:
            moment = parse_moment(text, 'first_fetch', now_ms)
        except ValueError:
            moment = None
        first_ms = utc_epoch_ms(moment) if moment is not None else None
    if first_ms is None:
        raise ValueError(f'Invalid "First fetch time" (first_fetch)="{text}": expected a relative time such as '
                         '"3 days", an ISO date such as 2024-01-31T00:00:00Z, or an epoch value.')
    if first_ms > now_ms and not RELATIVE_TIME_PATTERN.fullmatch(text):
        raise ValueError(f'Invalid "First fetch time" (first_fetch)="{text}": {ms_to_iso(first_ms)} is in the future, '
                         'so every breach until then would be skipped. Give a past time, such as "3 days".')
    # A relative time ahead ("in 2 hours") starts now.
    return min(first_ms, now_ms)


def parse_last_update(args: dict[str, Any], name: str = 'lastUpdate') -> int:
    """When XSOAR last mirrored an incident (ISO 8601 or epoch) → epoch ms; 0 (the beginning) when not given."""
    # The platform may send up to nine fractional digits; Python's ISO parser takes at most six.
    text = re.sub(r'(\.\d{6})\d+', r'\1', _arg_text(args, name))
    return parse_time_arg({name: text}, name) or 0


def parse_json_arg(args: dict[str, Any], name: str, expected: type) -> Any:
    """An argument the platform passes as a list or an object, or as JSON text when run from the War Room.

    Missing or empty, it is an empty value of the `expected` type.
    """
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return expected()
    shape = 'list' if expected is list else 'object'
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f'Invalid "{name}": expected a JSON {shape}.') from None
    if not isinstance(value, expected):
        raise ValueError(f'Invalid "{name}": expected a JSON {shape}, not {type(value).__name__}.')
    return value


def _duration_text(seconds: int) -> str:
    """Seconds as the largest whole unit: 7200 -> '2 hours', 90 -> '90 seconds'."""
    for unit, size in (('day', 86400), ('hour', 3600), ('minute', 60)):
        if seconds % size == 0:
            count = seconds // size
            return f'{count} {unit}{"" if count == 1 else "s"}'
    return f'{seconds} seconds'


def parse_duration(args: dict[str, Any], name: str) -> int | None:
    """A RESPOND duration ("30 minutes", "2 hours", "1 day" or seconds) → seconds, within the bounds."""
    text = _arg_text(args, name)
    if not text:
        return None
    bounds = f'from {_duration_text(MIN_RESPOND_DURATION_S)} to {_duration_text(MAX_RESPOND_DURATION_S)}'
    match = DURATION_PATTERN.fullmatch(text)
    if not match:
        raise ValueError(f'Invalid "{name}"="{text}": expected {DURATION_FORMS}, {bounds}.')
    seconds = int(match.group(1)) * DURATION_UNITS_S[(match.group(2) or 's')[0].lower()]
    if not MIN_RESPOND_DURATION_S <= seconds <= MAX_RESPOND_DURATION_S:
        raise ValueError(f'Invalid "{name}"="{text}": the duration must be {bounds}.')
    return seconds


def require_duration(args: dict[str, Any], name: str) -> int:
    return _required(parse_duration(args, name), name, f'give {DURATION_FORMS}')


def _connection_endpoint(text: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[IPv6]:port` or a bare IPv6 address → (host, port or None)."""
    if text.startswith('['):
        host, _, rest = text[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else (None if not rest else '')
    elif text.count(':') == 1:
        host, port = text.split(':')
    else:
        host, port = text, None
    if port is not None and not (re.fullmatch(r'[0-9]{1,5}', port) and 0 < int(port) < 65536):
        raise ValueError(port)
    if not (is_ip(host) or is_hostname(host)):
        raise ValueError(host)
    return host, int(port) if port is not None else None


def parse_connections(args: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """`src>dst[:port]` items, separated by commas → [{src, dst, port?}]; empty when not given."""
    items = [item.strip() if isinstance(item, str) else item for item in argToList(args.get(name))]
    items = [item for item in items if item != '']
    if len(items) > MAX_RESPOND_CONNECTIONS:
        raise ValueError(f'Invalid "{name}": {len(items)} entries, at most {MAX_RESPOND_CONNECTIONS} are accepted.')
    connections = []
    for item in items:
        source, separator, destination = item.partition('>') if isinstance(item, str) else ('', '', '')
        source = source.strip()
        try:
            if not separator or not (is_ip(source) or is_hostname(source)):
                raise ValueError(source)
            host, port = _connection_endpoint(destination.strip())
        except ValueError:
            raise ValueError(f'Invalid entry "{item}" in "{name}": expected source>destination[:port], such as '
                             '10.0.1.5>203.0.113.7:443 (IP addresses or host names; an IPv6 destination with a port '
                             'as [2001:db8::7]:443).') from None
        connections.append({'src': source, 'dst': host, **({'port': port} if port is not None else {})})
    return connections


def respond_reason(args: dict[str, Any]) -> dict[str, str]:
    """{"reason": ...} as Darktrace records it with the change, marked as coming from Cortex XSOAR; empty when no
    reason is given (guide 2.13: recommended, required only where "Audit Antigena" is on)."""
    reason = parse_text(args, 'reason', MAX_COMMENT_LENGTH)
    return {'reason': XSOAR_COMMENT_PREFIX + reason} if reason else {}


# Darktrace/Email

def require_email_uuid(args: dict[str, Any], name: str = 'uuid') -> str:
    return _required(parse_matching(args, name, EMAIL_UUID_PATTERN, EMAIL_UUID_EXAMPLE), name,
                     f'give {EMAIL_UUID_EXAMPLE}')


def parse_email_addresses(args: dict[str, Any], name: str) -> list[str]:
    """A comma-separated list of email addresses, each checked, duplicates dropped."""
    addresses = list(dict.fromkeys(str(item).strip() for item in argToList(args.get(name)) if str(item).strip()))
    for address in addresses:
        if not EMAIL_ADDRESS_PATTERN.fullmatch(address):
            raise ValueError(f'Invalid "{name}": "{visible(address)[:100]}" is not an email address such as '
                             'jane.doe@example.com.')
    return addresses


def parse_severities(args: dict[str, Any], name: str, label: str = '') -> list[str]:
    """Tag severities (critical, warn, info); "warning" and "informational", as the Email console writes them, too."""
    aliases = {'warning': 'warn', 'informational': 'info'}
    chosen = []
    for item in argToList(args.get(name)):
        text = aliases.get(str(item).strip().lower(), str(item).strip())
        chosen.append(parse_choice({name: text}, name, EMAIL_SEVERITIES, default='', label=label))
    return [severity for severity in EMAIL_SEVERITIES if severity in chosen]


def parse_raw_criteria(args: dict[str, Any], name: str) -> list[dict[str, str]]:
    """Search criteria given as JSON, [{"apiFilter": ..., "operator": ..., "value": ...}], for filters the other
    arguments do not cover (list them with darktrace-email-filter-list)."""
    items = parse_json_arg(args, name, list)
    if len(items) > MAX_EMAIL_RAW_CRITERIA:
        raise ValueError(f'Invalid "{name}": {len(items)} criteria, at most {MAX_EMAIL_RAW_CRITERIA} are accepted.')
    criteria = []
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict) or not all(isinstance(item.get(key), (str, int, float)) and str(item[key])
                                                 for key in ('apiFilter', 'operator', 'value')):
            raise ValueError(f'Invalid "{name}": criterion {position} must be an object with "apiFilter", "operator" '
                             'and "value", such as {"apiFilter": "Recipient.Email", "operator": "~*", '
                             '"value": "finance"}.')
        criteria.append(criterion(str(item['apiFilter']), str(item['operator']), item['value']))
    return criteria


''' OUTPUT HELPERS '''
# Times, reply values and War Room tables.

# Keys whose values Darktrace sends as epoch milliseconds (or as 'YYYY-MM-DD HH:MM:SS' UTC text).
TIME_KEYS = frozenset({
    'time', 'timems', 'creationTime', 'firstSeen', 'lastSeen', 'firsttime', 'firstTime',
    'createdAt', 'expiry', 'expires', 'start', 'end', 'timestamp', 'contactTime', 'lastTime',
    'firstseen', 'lastseen',  # guide ambiguity 27: /antigena and /devicesearch examples write them in lower case
})
EPOCH_MS_FLOOR = 10 ** 11  # smaller numbers are not millisecond timestamps (durations, zero expiries)
MAX_TABLE_ROWS = 50  # the War Room stays readable; context always holds everything
MAX_CELL_ITEMS = 20  # values listed in one table cell


def now_ms() -> int:
    """The one clock of the integration: every "now" (signature dates, open-ended ranges, relative times, expiries,
    fetch windows) is read here."""
    return int(time.time() * 1000)


def utc_moment(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)


def parse_moment(text: str, name: str, now: int | None = None) -> datetime | None:
    """A time as the platform's arg_to_datetime reads it, with relative times ("3 days") counted back from `now`
    (default now_ms()) rather than from the date parser's own clock."""
    # dateparser reads a naive base as being in its TIMEZONE setting, hence UTC without tzinfo.
    base = utc_moment(now_ms() if now is None else now).replace(tzinfo=None)
    return arg_to_datetime(text, arg_name=name, required=True, settings={'TIMEZONE': 'UTC', 'RELATIVE_BASE': base})


def utc_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of a moment; one without a time zone is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def iso_seconds(moment: datetime) -> str:
    """A UTC moment as ISO 8601 to the second, e.g. 2024-01-31T13:05:00Z."""
    return moment.strftime(ISO_FORMAT) + 'Z'


def ms_to_iso(value: Any) -> Any:
    """Epoch milliseconds (number or digit string) or 'YYYY-MM-DD HH:MM:SS' UTC text → ISO 8601 UTC; else unchanged."""
    if isinstance(value, str):
        if value.isdigit():
            value = int(value)
        elif re.fullmatch(r'\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}', value):
            return value.replace(' ', 'T') + '.000Z'
        else:
            return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= EPOCH_MS_FLOOR:
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
        return moment.strftime(ISO_FORMAT) + f'.{moment.microsecond // 1000:03d}Z'
    return value


def iso_times(data: Any) -> Any:
    """A copy of `data` with every timestamp under a TIME_KEYS key turned into ISO 8601 UTC."""
    if isinstance(data, dict):
        return {key: ms_to_iso(value) if key in TIME_KEYS and not isinstance(value, (dict, list))
                else iso_times(value) for key, value in data.items()}
    if isinstance(data, list):
        return [iso_times(item) for item in data]
    return data


def _epoch_ms(value: Any) -> float:
    """Epoch ms of a reply time (ms, or 'YYYY-MM-DD HH:MM:SS' UTC text) for sorting; 0 when unknown."""
    number = _number(value)
    if number is not None:
        return float(number)
    return float(time_ms(value) or 0)


def time_ms(value: Any) -> int | None:
    """Epoch ms of a reply time in any documented form (ms as a number or digit string, 'YYYY-MM-DD HH:MM:SS' UTC
    text); None when it is none of them or not after 1970."""
    number = _number(value)
    if number is None and isinstance(value, str):
        try:
            number = utc_epoch_ms(datetime.strptime(value.strip(), DTAPI_DATE_FORMAT))
        except ValueError:
            return None
    return int(number) if number is not None and number > 0 else None


def as_pbid(value: Any) -> int | None:
    """A model breach id as an int (replies may carry it as text); None when it is not a positive whole number."""
    number = _number(value)
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return number if isinstance(number, int) and number > 0 else None


def as_list(reply: Any) -> list[Any]:
    """A reply that may be one object or a list, as a list (empty for nothing)."""
    if reply is None or reply == {}:
        return []
    return reply if isinstance(reply, list) else [reply]


def _dict(value: Any) -> dict[str, Any]:
    """A reply's nested object, or an empty one when the appliance sent something else."""
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> int | float | None:
    """A numeric reply value as a number (some replies carry numbers as text); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        if math.isfinite(number):
            return int(number) if number.is_integer() else number
    return None


def _flag(value: Any) -> bool | None:
    """A reply's true/false value, whether a boolean, text or an object (present = true)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ('true', '1', 'yes')
    return bool(value)


def _int_or_value(value: Any) -> Any:
    """A digit string as an int (some replies carry ids as text); anything else unchanged."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def min_score_param(score: float | None) -> str | None:
    """A 0..100 score as the appliance's `minscore`, whose scale is 0..1; None (or 0) leaves it out."""
    return f'{score / 100:g}' if score else None


def _one_record(reply: Any, key: str, value: Any, what: str) -> dict[str, Any]:
    """The record whose `key` is `value`, from a reply that may be one object or a list.

    Matching on the key guards against an appliance that ignores the filter and answers with everything.
    """
    records = [item for item in as_list(reply) if isinstance(item, dict)]
    for record in records:
        if str(record.get(key)).lower() == str(value).lower():
            return record
    if len(records) == 1 and key not in records[0]:
        return records[0]
    raise DarktraceApiError('not_found', f'Darktrace has no {what}: check the identifier.')


def _confirms(reply: Any) -> bool:
    """Whether a reply to a change confirms it: {"response": "SUCCESS"}, {"aianalyst": "SUCCESS"}, or a
    Unified View list whose every entry says `replicate: true`."""
    items = reply if isinstance(reply, list) else [reply]
    return bool(items) and all(
        isinstance(item, dict) and (item.get('replicate') is True or any(
            str(item.get(field, '')).upper() == 'SUCCESS' for field in ('response', 'aianalyst')))
        for item in items)


def _unconfirmed(operation: str, reply: Any) -> DarktraceApiError:
    return DarktraceApiError('unexpected_reply', (
        f'Darktrace answered {operation} without confirming the change: {json.dumps(reply)[:200]}. '
        'Check in the Threat Visualizer whether it took effect before retrying.'))


def markdown_table(title: str, rows: list[dict[str, Any]], headers: list[str], context_path: str = '') -> str:
    """A War Room table capped at MAX_TABLE_ROWS rows, saying where the rest is when it is cut."""
    shown = rows[:MAX_TABLE_ROWS]
    table = tableToMarkdown(title, shown, headers=headers, removeNull=False)
    if len(rows) > len(shown):
        table += (f'\nShowing the first {len(shown)} of {len(rows)} rows; '
                  f'all {len(rows)} are in context{f" at {context_path}" if context_path else ""}.\n')
    return table


def joined(values: list[Any], limit: int = MAX_CELL_ITEMS) -> str:
    """Values for one table cell, the first `limit` of them and how many more there are (context has all)."""
    shown = ', '.join(str(value) for value in values[:limit])
    return f'{shown} and {len(values) - limit} more' if len(values) > limit else shown


def readable_text(value: Any) -> str:
    """A reply value as text for the War Room, never a Python repr or JSON: objects as 'key: value' parts,
    lists joined with commas, flags as true/false, timestamps under time keys in ISO 8601."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, dict):
        return '; '.join(f'{key}: {readable_text(ms_to_iso(item) if key in TIME_KEYS else item)}'
                         for key, item in value.items() if item not in (None, '', [], {}))
    if isinstance(value, (list, tuple)):
        return ', '.join(text for text in (readable_text(item) for item in value) if text)
    return str(value)


def device_name(device: dict[str, Any]) -> str:
    """How an analyst recognises a device: its hostname, else its label, else its IP."""
    return str(device.get('hostname') or device.get('devicelabel') or device.get('ip') or device.get('did', ''))


''' COMMANDS '''

# --- the Test button -----------------------------------------------------------------------------


def test_module(client: Client, email: bool = False) -> str:
    """Checks the URL, the tokens and the clock with GET /status, whose reply must look like the appliance's; with
    `email`, also that the Darktrace/Email API answers these tokens (test_email_api)."""
    status = client.get_status(fast=True)
    if 'version' not in status and 'time' not in status:
        raise DarktraceApiError('unexpected_reply', (
            'Darktrace answered GET /status with an object that has neither "version" nor "time": the server URL '
            'may point at something other than a Darktrace appliance. Check the server URL.'))
    if email:
        test_email_api(client)
    return 'ok'


# --- a record acknowledged and commented on (model breaches, AI Analyst events) ------------------


def _created_comment(reply: Any, message: str, operation: str) -> dict[str, Any]:
    """The comment a POST created: {"response": "SUCCESS"} or a list (or object) holding the comment."""
    if _confirms(reply):
        return {'message': message}
    comments = [item for item in as_list(reply) if isinstance(item, dict) and 'message' in item]
    if not comments:
        raise _unconfirmed(operation, reply)
    created = [comment for comment in comments if comment.get('message') == message] or comments
    return iso_times(created[-1])


def _oldest_first(comments: Any) -> list[dict[str, Any]]:
    """The comments of a reply (one object or a list) with ISO times, oldest first."""
    return sorted((iso_times(c) for c in as_list(comments) if isinstance(c, dict)),
                  key=lambda c: str(c.get('time') or ''))


def _comments_table(title: str, comments: list[dict[str, Any]], context_path: str) -> str:
    rows = [{'Time': c.get('time'), 'User': c.get('username'), 'Message': c.get('message')} for c in comments]
    return markdown_table(title, rows, ['Time', 'User', 'Message'], context_path)


@dataclass(frozen=True)
class RecordKind:
    """What differs between the two kinds of Darktrace record an analyst acknowledges and comments on (model breaches
    and AI Analyst incident events): the commands and mirroring serve both through this, so each is written once."""

    what: str  # for titles and messages: 'model breach'
    outputs_prefix: str  # context: 'Darktrace.ModelBreach'
    key_field: str  # the record's id in context: 'pbid'
    require_id: Callable[[dict[str, Any]], Any]  # the id argument of a command, checked
    type_name: str  # the incident type, and the mapping scheme of get-mapping-fields
    fields: dict[str, str]  # the fields get-remote-data adds to the raw record, with their descriptions
    read: Callable[[Client, Any], dict[str, Any]]
    get_comments: Callable[[Client, Any], Any]  # the reply
    comment_records: Callable[[Any], list[dict[str, Any]]]  # the comments in that reply
    mirrored: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]
    acknowledge: Callable[[Client, Any], Any]
    unacknowledge: Callable[[Client, Any], Any]
    add_comment: Callable[[Client, Any, str], Any]
    acknowledge_path: str  # '{id}' stands for the record's id, '{action}' for acknowledge or unacknowledge
    comment_path: str

    def comments(self, client: Client, record_id: Any) -> list[dict[str, Any]]:
        return self.comment_records(self.get_comments(client, record_id))


def set_acknowledged(kind: RecordKind, client: Client, args: dict[str, Any], acknowledged: bool) -> CommandResults:
    record_id = kind.require_id(args)
    action = 'acknowledge' if acknowledged else 'unacknowledge'
    reply = kind.acknowledge(client, record_id) if acknowledged else kind.unacknowledge(client, record_id)
    if not _confirms(reply):
        raise _unconfirmed(f'POST {kind.acknowledge_path.format(id=record_id, action=action)}', reply)
    return CommandResults(outputs_prefix=kind.outputs_prefix, outputs_key_field=kind.key_field,
                          outputs={kind.key_field: record_id, 'acknowledged': acknowledged},
                          readable_output=f'### {kind.what[:1].upper()}{kind.what[1:]} {record_id} {action}d\n',
                          raw_response=reply)


def record_comments(kind: RecordKind, client: Client, args: dict[str, Any]) -> CommandResults:
    record_id = kind.require_id(args)
    reply = kind.get_comments(client, record_id)
    comments = _oldest_first(kind.comment_records(reply))
    readable = _comments_table(f'Comments on {kind.what} {record_id}', comments, f'{kind.outputs_prefix}.comments')
    return CommandResults(outputs_prefix=kind.outputs_prefix, outputs_key_field=kind.key_field,
                          outputs={kind.key_field: record_id, 'comments': comments}, readable_output=readable,
                          raw_response=reply)


def post_record_comment(kind: RecordKind, client: Client, args: dict[str, Any]) -> CommandResults:
    record_id = kind.require_id(args)
    message = require_text(args, 'message', MAX_COMMENT_LENGTH)
    reply = kind.add_comment(client, record_id, message)
    comment = _created_comment(reply, message, f'POST {kind.comment_path.format(id=record_id)}')
    return CommandResults(outputs_prefix=kind.outputs_prefix, outputs_key_field=kind.key_field,
                          outputs={kind.key_field: record_id, 'postedComment': comment},
                          readable_output=f'### Comment added to {kind.what} {record_id}\n{message}\n',
                          raw_response=reply)


RecordCommand = Callable[[Client, dict[str, Any]], CommandResults]


def record_commands(kind: RecordKind) -> tuple[RecordCommand, RecordCommand, RecordCommand, RecordCommand]:
    """The acknowledge, unacknowledge, list-comments and post-comment commands of one kind of record."""
    return (partial(set_acknowledged, kind, acknowledged=True), partial(set_acknowledged, kind, acknowledged=False),
            partial(record_comments, kind), partial(post_record_comment, kind))


# --- /details events, newest first (model breach connections, device events) ---------------------

# /details takes its time parameters in pairs and never `count` with a pair, so a time range is read newest
# slice first: the first slice is an hour, each next one (ending where the last began) four times longer.
DETAILS_FIRST_SLICE_MS = 60 * 60 * 1000
MAX_DETAILS_REQUESTS = 8  # an hour, then 4 h, 16 h, ... : 8 slices reach back about 2.5 years
DEFAULT_DETAILS_LOOKBACK_MS = 24 * 60 * 60 * 1000  # a range given only its end starts a day earlier
EVENT_HEADERS = ['Time', 'Event', 'Action', 'Source', 'Destination', 'Port', 'Protocol', 'Direction', 'Details']


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    """One /details event (already in ISO times) as a table row, whatever its event type."""
    def endpoint(name: Any, device: Any) -> Any:
        return name or (device_name(device) if isinstance(device, dict) and device else None)

    model = _dict(event.get('model'))
    details = event.get('msg') or event.get('info') or event.get('name') or model.get('name')
    if event.get('eventType') == 'devicehistory' and event.get('value') is not None:
        details = f'{event.get("name")}: {event.get("value")}'
    return {'Time': event.get('timems') or event.get('time'), 'Event': event.get('eventType'),
            'Action': event.get('action'), 'Source': endpoint(event.get('source'), event.get('sourceDevice')),
            'Destination': endpoint(event.get('destination'), event.get('destinationDevice')),
            'Port': event.get('destinationPort') or event.get('port') or None,
            'Protocol': event.get('applicationprotocol') or event.get('protocol'),
            'Direction': event.get('direction'), 'Details': details}


def _newest_events(reply: Any, limit: int, drop_breach_record: bool = False) -> list[dict[str, Any]]:
    events = [event for event in as_list(reply) if isinstance(event, dict)]
    if drop_breach_record:
        events = [event for event in events if str(event.get('eventType', '')).lower() != 'policybreach']
    events.sort(key=lambda event: _epoch_ms(event.get('timems') or event.get('time')), reverse=True)
    return [iso_times(event) for event in events[:limit]]


@dataclass(frozen=True)
class DetailsPage:
    """The newest events /details gave (ISO times, newest first), the replies, and how far back they reach."""

    events: list[dict[str, Any]]
    replies: list[Any]
    read_from_ms: int | None  # the start of the range read, when it stopped short of the start asked for


def read_details(client: Client, params: dict[str, Any], start_ms: int | None, end_ms: int | None, limit: int,
                 drop_breach_record: bool = False) -> DetailsPage:
    """Up to `limit` newest /details events of `params`, in [start_ms, end_ms] when a range is given.

    Without a range, one request with `count` (the appliance answers the newest events). With one, `count` is
    never sent: slices of the range are read newest first, each ending just before the previous one began and
    four times longer, until `limit` events, the start of the range, or MAX_DETAILS_REQUESTS requests.
    """
    if start_ms is None and end_ms is None:
        # With pbid the breach record comes first and counts against `count`: ask for one more.
        reply = client.get_details({**params, 'count': limit + 1 if drop_breach_record else limit})
        return DetailsPage(_newest_events(reply, limit, drop_breach_record), [reply], None)
    end_ms = now_ms() if end_ms is None else end_ms
    start_ms = end_ms - DEFAULT_DETAILS_LOOKBACK_MS if start_ms is None else start_ms
    replies: list[Any] = []
    found: dict[str, Any] = {}  # by content: with pbid every reply repeats the breach record
    upper_ms, slice_ms = end_ms, DETAILS_FIRST_SLICE_MS
    lower_ms = start_ms
    for _ in range(MAX_DETAILS_REQUESTS):
        lower_ms = max(start_ms, upper_ms - slice_ms + 1)
        reply = client.get_details({**params, 'starttime': lower_ms, 'endtime': upper_ms})
        replies.append(reply)
        found.update((json.dumps(event, sort_keys=True), event) for event in as_list(reply))
        events = _newest_events(list(found.values()), limit, drop_breach_record)
        if len(events) >= limit or lower_ms <= start_ms:
            return DetailsPage(events, replies, None)
        upper_ms, slice_ms = lower_ms - 1, slice_ms * 4
    return DetailsPage(_newest_events(list(found.values()), limit, drop_breach_record), replies, lower_ms)


def _read_from_note(page: DetailsPage) -> str:
    """Says in the War Room where reading stopped, when the range asked for was not read to its start."""
    if page.read_from_ms is None:
        return ''
    return (f'\nRead back to {ms_to_iso(page.read_from_ms)} in {len(page.replies)} requests, not to the start of the '
            'range: give a later start time to see the older events.\n')


# --- model breaches ------------------------------------------------------------------------------

DEFAULT_BREACH_WINDOW = '7 days'
BREACH_HEADERS = ['Model', 'Category', 'Score', 'Device', 'Time', 'Link', 'Breach ID', 'Acknowledged']
MIRRORED_TYPE_NAME = 'Darktrace NDR Model Breach'
# The fields of a mirrored breach that mappers can use (get-mapping-fields).
MIRRORED_FIELDS = {
    'pbid': 'Model breach ID.',
    'acknowledged': 'Whether the model breach is acknowledged in Darktrace (true or false).',
    'score': 'Breach score, from 0 to 1.',
    'percentscore': 'Breach score, from 0 to 100.',
    'modelName': 'Name of the model that was breached (model.then.name in the raw breach).',
    'deviceHostname': 'Host name of the breaching device (device.hostname in the raw breach).',
    'breachUrl': 'Link to the model breach in the Darktrace Threat Visualizer.',
    'commentCount': 'Number of comments on the model breach.',
}


def _link(url: Any) -> str | None:
    return f'[Open in Darktrace]({url})' if url else None


def _breach_model(breach: dict[str, Any]) -> dict[str, Any]:
    """The model as it was when the breach happened (`then`), else its current definition, else a flat model."""
    model = _dict(breach.get('model'))
    return model.get('then') or model.get('now') or model


def breach_context(breach: dict[str, Any]) -> dict[str, Any]:
    """A model breach as Darktrace.ModelBreach: ISO times, numeric scores, the model flattened."""
    model = _breach_model(breach)
    score = _number(breach.get('score'))
    percent_score = _number(breach.get('percentscore'))
    if percent_score is None and score is not None:
        percent_score = round(score * 100)
    return {
        'pbid': _int_or_value(breach.get('pbid')),
        'time': ms_to_iso(breach.get('time')),
        'creationTime': ms_to_iso(breach.get('creationTime')),
        'score': score,
        'percentscore': percent_score,
        'acknowledged': _flag(breach.get('acknowledged')),
        'breachUrl': breach.get('breachUrl'),
        'commentCount': _number(breach.get('commentCount')),
        'model': {
            'name': model.get('name'),
            'uuid': model.get('uuid'),
            'pid': _int_or_value(model.get('pid')),
            'phid': _int_or_value(model.get('phid')),
            'category': model.get('category'),
            'priority': _number(model.get('priority')),
            'description': model.get('description'),
            'tags': model.get('tags') or [],
        },
        'device': iso_times(breach.get('device') or {}),
        'triggeredComponents': iso_times(breach.get('triggeredComponents') or []),
        'mitreTechniques': breach.get('mitreTechniques') or [],
    }


def breach_row(context: dict[str, Any]) -> dict[str, Any]:
    device = context['device']
    return {'Breach ID': context['pbid'], 'Model': context['model']['name'], 'Category': context['model']['category'],
            'Score': context['percentscore'], 'Device': device_name(device) if device else None,
            'Time': context['time'], 'Acknowledged': context['acknowledged'], 'Link': _link(context['breachUrl'])}


def _component_rows(context: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for component in context['triggeredComponents']:
        if not isinstance(component, dict):
            continue
        metric = _dict(component.get('metric'))
        triggers = [': '.join(text for text in (readable_text(f.get('filterType')),
                                                readable_text(_dict(f.get('trigger')).get('value'))) if text)
                    for f in component.get('triggeredFilters') or [] if isinstance(f, dict)]
        rows.append({'Component ID': component.get('cid'), 'Metric': metric.get('label') or metric.get('name'),
                     'Time': component.get('time'), 'Triggered by': '; '.join(triggers)})
    return rows


def get_model_breach_command(client: Client, args: dict[str, Any]) -> CommandResults:
    pbid = require_pbid(args)
    breach = _one_record(client.get_model_breach(pbid), 'pbid', pbid, f'model breach with pbid {pbid}')
    context = breach_context(breach)
    readable = markdown_table(f'Model breach {pbid}', [breach_row(context)], BREACH_HEADERS)
    if context['model']['description']:
        readable += f'\n{context["model"]["description"]}\n'
    components = _component_rows(context)
    if components:
        readable += markdown_table('Triggered components', components,
                                   ['Component ID', 'Metric', 'Time', 'Triggered by'])
    techniques = [{'Technique': t.get('technique'), 'ID': t.get('techniqueID')}
                  for t in context['mitreTechniques'] if isinstance(t, dict)]
    if techniques:
        readable += markdown_table('MITRE ATT&CK techniques', techniques, ['Technique', 'ID'])
    return CommandResults(outputs_prefix='Darktrace.ModelBreach', outputs_key_field='pbid', outputs=context,
                          readable_output=readable, raw_response=breach)


def list_model_breaches_command(client: Client, args: dict[str, Any]) -> CommandResults:
    """The appliance has no paging: the whole window is fetched, sorted newest first, then sliced."""
    start_ms, end_ms = parse_time_range(args, 'start_time', 'end_time', default_start=DEFAULT_BREACH_WINDOW)
    min_score = parse_score(args, 'min_score')
    did = parse_did(args, 'did')
    uuid = parse_model_uuid(args, 'uuid')
    acknowledged = parse_bool(args, 'acknowledged', default=None)
    limit = parse_limit(args)
    page = parse_int(args, 'page', minimum=1, default=1)
    reply = client.get_model_breaches({
        'starttime': start_ms, 'endtime': end_ms,
        'minscore': min_score_param(min_score),
        'did': did, 'uuid': uuid,
        # Acknowledged breaches are always asked for, so every record says whether it is acknowledged.
        # guide ambiguities 1 and 2: the defaults of deviceattop and minimal are contradictory, so both are sent
        'includeacknowledged': True, 'includebreachurl': True, 'deviceattop': True, 'minimal': False,
    })
    breaches = sorted((b for b in as_list(reply) if isinstance(b, dict) and 'pbid' in b),
                      key=lambda b: (_epoch_ms(b.get('time')), _number(b.get('pbid')) or 0), reverse=True)
    # (record, context) pairs, so the raw response holds only the page shown, not a whole year of breaches.
    pairs = [(breach, breach_context(breach)) for breach in breaches]
    if min_score:
        pairs = [(b, c) for b, c in pairs if c['score'] is None or round(c['score'] * 100, 6) >= min_score]
    if acknowledged is not None:
        pairs = [(b, c) for b, c in pairs if bool(c['acknowledged']) == acknowledged]
    first = (page - 1) * limit
    page_pairs = pairs[first:first + limit]
    shown = [context for _, context in page_pairs]
    if shown:
        title = f'Model breaches {first + 1} to {first + len(shown)} of {len(pairs)} (page {page}, newest first)'
    else:
        title = f'No model breaches on page {page} ({len(pairs)} in the time range)'
    return CommandResults(outputs_prefix='Darktrace.ModelBreach', outputs_key_field='pbid', outputs=shown,
                          readable_output=markdown_table(title, [breach_row(c) for c in shown], BREACH_HEADERS,
                                                         'Darktrace.ModelBreach'),
                          raw_response=[breach for breach, _ in page_pairs])


def mirrored_breach(breach: dict[str, Any], comments: list[dict[str, Any]]) -> dict[str, Any]:
    """The breach as XSOAR mirrors it: the raw record (like rawJSON at fetch) and the fields of MIRRORED_FIELDS."""
    device = _dict(breach.get('device'))
    return {**breach, 'acknowledged': bool(_flag(breach.get('acknowledged'))), 'commentCount': len(comments),
            'modelName': _breach_model(breach).get('name'), 'deviceHostname': device.get('hostname')}


def _read_breach(client: Client, pbid: int) -> dict[str, Any]:
    return _one_record(client.get_model_breach(pbid), 'pbid', pbid, f'model breach with pbid {pbid}')


# Model breaches as a kind of record: their acknowledgement, comments and mirroring.
BREACH_KIND = RecordKind(
    what='model breach', outputs_prefix='Darktrace.ModelBreach', key_field='pbid', require_id=require_pbid,
    type_name=MIRRORED_TYPE_NAME, fields=MIRRORED_FIELDS,
    read=_read_breach,
    get_comments=lambda client, pbid: client.get_model_breach_comments(pbid),
    comment_records=lambda reply: [comment for comment in as_list(reply) if isinstance(comment, dict)],
    mirrored=mirrored_breach,
    acknowledge=lambda client, pbid: client.acknowledge_model_breach(pbid),
    unacknowledge=lambda client, pbid: client.unacknowledge_model_breach(pbid),
    add_comment=lambda client, pbid, message: client.add_model_breach_comment(pbid, message),
    acknowledge_path='/modelbreaches/{id}/{action}', comment_path='/modelbreaches/{id}/comments')


(acknowledge_model_breach_command, unacknowledge_model_breach_command, get_model_breach_comments_command,
 post_comment_to_model_breach_command) = record_commands(BREACH_KIND)


def get_model_breach_connections_command(client: Client, args: dict[str, Any]) -> CommandResults:
    pbid = require_pbid(args)
    limit = parse_limit(args)
    start_ms, end_ms = parse_time_range(args, 'start_time', 'end_time')
    page = read_details(client, {'pbid': pbid}, start_ms, end_ms, limit, drop_breach_record=True)
    readable = markdown_table(f'Connections of model breach {pbid} (newest first)',
                              [_event_row(event) for event in page.events], EVENT_HEADERS[:-1],
                              'Darktrace.ModelBreach.connections') + _read_from_note(page)
    return CommandResults(outputs_prefix='Darktrace.ModelBreach', outputs_key_field='pbid',
                          outputs={'pbid': pbid, 'connections': page.events}, readable_output=readable,
                          raw_response=page.replies[0] if len(page.replies) == 1 else page.replies)


# --- models --------------------------------------------------------------------------------------


def _component_ids(logic: Any) -> list[Any]:
    """The component ids a model's logic refers to (plain ids, or {cid, weight} entries)."""
    data = logic.get('data') if isinstance(logic, dict) else None
    if not isinstance(data, list):
        return []
    return [item.get('cid') if isinstance(item, dict) else item for item in data]


def get_model_command(client: Client, args: dict[str, Any]) -> CommandResults:
    uuid = require_model_uuid(args, 'uuid')
    model = _one_record(client.get_model(uuid), 'uuid', uuid, f'model with uuid {uuid}')
    context = iso_times(model)
    context['priority'] = _number(model.get('priority'))
    row = {'Name': model.get('name'), 'UUID': model.get('uuid'), 'Model ID': model.get('pid'),
           'Category': model.get('category'), 'Priority': context['priority'], 'Active': model.get('active'),
           'Tags': readable_text(model.get('tags') or []),
           'Component IDs': readable_text(_component_ids(model.get('logic'))),
           'Description': model.get('description')}
    return CommandResults(outputs_prefix='Darktrace.Model', outputs_key_field='uuid', outputs=context,
                          readable_output=markdown_table(f'Model {model.get("name") or uuid}', [row], list(row)),
                          raw_response=model)


def get_model_component_command(client: Client, args: dict[str, Any]) -> CommandResults:
    cid = require_int(args, 'cid', minimum=1)
    component = _one_record(client.get_model_component(cid), 'cid', cid, f'model component with cid {cid}')
    row = {'Component ID': component.get('cid'), 'Metric ID': component.get('mlid'),
           'Threshold': component.get('threshold'), 'Interval (s)': component.get('interval'),
           'Active': component.get('active')}
    filters = [{'Filter': f.get('id'), 'Type': f.get('filtertype'), 'Comparator': f.get('comparator'),
                'Value': (f.get('arguments') or {}).get('value')}
               for f in component.get('filters') or [] if isinstance(f, dict)]
    readable = markdown_table(f'Model component {cid}', [row], list(row))
    if filters:
        readable += markdown_table('Filters', filters, ['Filter', 'Type', 'Comparator', 'Value'])
    return CommandResults(outputs_prefix='Darktrace.ModelComponent', outputs_key_field='cid',
                          outputs=iso_times(component), readable_output=readable, raw_response=component)


# --- devices -------------------------------------------------------------------------------------

MAX_SIMILAR_DEVICES = 300  # the appliance's own limit for /similardevices and /devicesearch
MAX_QUERY_LENGTH = 1024
CONNECTION_DATA_TYPES = ('co', 'sizeout', 'sizein')
DEVICE_EVENT_TYPES = ('connection', 'unusualconnection', 'newconnection', 'notice', 'devicehistory', 'modelbreach')
DEVICE_ORDER_FIELDS = ('priority', 'hostname', 'ip', 'macaddress', 'vendor', 'os', 'firstSeen', 'lastSeen',
                       'devicelabel', 'typelabel')
SORT_ORDERS = ('asc', 'desc')
DEVICE_SEARCH_PAGE_SIZE = 300  # the appliance's maximum `count` for /devicesearch
MAX_DEVICE_SUMMARIES = 10  # devices whose connection tables the War Room shows (a device and its similar ones)
DEVICE_HEADERS = ['Device ID', 'Hostname', 'IP', 'MAC address', 'Type', 'Vendor', 'OS', 'Label', 'Last seen']


def device_context(device: dict[str, Any]) -> dict[str, Any]:
    """A device as Darktrace.Device: keyed by deviceId like the tag commands, ISO times, everything else kept.
    /devices names first and last seen `time` and `endtime` (guide 2.20); they are also given the other endpoints'
    names, firstSeen and lastSeen."""
    context = {'deviceId': _int_or_value(device.get('did')),
               **{key: value for key, value in iso_times(device).items() if key != 'did'}}
    if 'firstSeen' not in context and 'time' in context and 'endtime' in context:
        context['firstSeen'], context['lastSeen'] = context['time'], ms_to_iso(context['endtime'])
    return context


def device_row(context: dict[str, Any]) -> dict[str, Any]:
    return {'Device ID': context.get('deviceId'), 'Hostname': context.get('hostname'), 'IP': context.get('ip'),
            'MAC address': context.get('macaddress'), 'Type': context.get('typelabel'),
            'Vendor': context.get('vendor'), 'OS': context.get('os'), 'Label': context.get('devicelabel'),
            'Last seen': context.get('lastSeen')}


def _search_devices(client: Client, query: str | None, order_by: str | None, order: str | None,
                    limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` devices from /devicesearch, a page of at most 300 per request, and the total it reports."""
    devices: list[dict[str, Any]] = []
    seen: set[Any] = set()
    total: int | None = None
    offset = 0
    while len(devices) < limit:
        count = min(DEVICE_SEARCH_PAGE_SIZE, limit - len(devices))
        reply = client.search_devices(query, order_by, order, count, offset)
        if isinstance(reply, dict):
            page = [d for d in as_list(reply.get('devices')) if isinstance(d, dict)]
            total = int(_number(reply.get('totalCount')) or 0) if 'totalCount' in reply else total
        else:
            page = [d for d in as_list(reply) if isinstance(d, dict)]
        fresh = [d for d in page if d.get('did') not in seen]
        seen.update(d.get('did') for d in fresh)
        devices.extend(fresh)
        offset += len(page)
        # An appliance that ignores `offset` repeats the same devices: stop rather than loop.
        if not fresh or len(page) < count or (total is not None and offset >= total):
            break
    return devices[:limit], total


def search_devices_command(client: Client, args: dict[str, Any]) -> CommandResults:
    query = parse_text(args, 'query', MAX_QUERY_LENGTH)
    order_by = parse_choice(args, 'order_by', DEVICE_ORDER_FIELDS)
    order = parse_choice(args, 'order', SORT_ORDERS)
    limit = parse_limit(args)
    devices, total = _search_devices(client, query, order_by, order, limit)
    outputs = [device_context(device) for device in devices]
    found = f'{len(outputs)} of {total}' if total is not None else str(len(outputs))
    title = f'Devices matching "{query}" ({found})' if query else f'Devices ({found})'
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field='deviceId', outputs=outputs,
                          readable_output=markdown_table(title, [device_row(o) for o in outputs], DEVICE_HEADERS,
                                                         'Darktrace.Device'),
                          raw_response={'totalCount': total, 'devices': devices})


def get_device_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = require_did(args, 'did')
    device = _one_record(client.get_device(did), 'did', did, f'device with did {did}')
    context = device_context(device)
    row = device_row(context)
    row['First seen'] = context.get('firstSeen')
    row['Tags'] = readable_text([t.get('name') if isinstance(t, dict) else t for t in context.get('tags') or []])
    readable = markdown_table(f'Device {did}', [row], DEVICE_HEADERS + ['First seen', 'Tags'])
    ips = [{'IP': entry.get('ip'), 'Subnet ID': entry.get('sid'), 'Last seen': entry.get('timems') or entry.get('time')}
           for entry in context.get('ips') or [] if isinstance(entry, dict)]
    if len(ips) > 1:
        readable += markdown_table('IP addresses', ips, ['IP', 'Subnet ID', 'Last seen'])
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field='deviceId', outputs=context,
                          readable_output=readable, raw_response=device)


def get_device_events_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = require_did(args, 'did')
    event_type = parse_choice(args, 'event_type', DEVICE_EVENT_TYPES, default='connection')
    start_ms, end_ms = parse_time_range(args, 'start_time', 'end_time')
    limit = parse_limit(args)
    page = read_details(client, {'did': did, 'eventtype': event_type}, start_ms, end_ms, limit)
    readable = markdown_table(f'Events of device {did} ({event_type}, newest first)',
                              [_event_row(event) for event in page.events], EVENT_HEADERS,
                              'Darktrace.DeviceEvents.events') + _read_from_note(page)
    return CommandResults(outputs_prefix='Darktrace.DeviceEvents', outputs_key_field=['did', 'eventType'],
                          outputs={'did': did, 'eventType': event_type, 'startTime': ms_to_iso(start_ms),
                                   'endTime': ms_to_iso(end_ms), 'events': page.events},
                          readable_output=readable, raw_response=page.replies[0] if len(page.replies) == 1
                          else page.replies)


def get_similar_devices_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = require_did(args, 'did')
    max_results = require_int(args, 'max_results', 1, MAX_SIMILAR_DEVICES)
    reply = client.get_similar_devices(did, max_results)
    devices = [iso_times(device) for device in as_list(reply) if isinstance(device, dict) and 'did' in device]
    if len(devices) < len(as_list(reply)):
        raise DarktraceApiError('unexpected_reply', (
            f'Darktrace answered GET /similardevices with {describe(reply)} holding entries that are not devices '
            '(objects with a "did"). Check that the appliance\'s version supports this command, then try again.'))
    rows = [{'Device ID': d.get('did'), 'Hostname': d.get('hostname'), 'IP': d.get('ip'),
             'Similarity': d.get('score'), 'Type': d.get('typelabel'), 'Last seen': d.get('lastSeen')}
            for d in devices]
    return CommandResults(
        outputs_prefix='Darktrace.SimilarDevices', outputs_key_field='deviceId',
        outputs={'deviceId': did, 'devices': devices},
        readable_output=markdown_table(f'Devices similar to device {did}', rows,
                                       ['Device ID', 'Hostname', 'IP', 'Similarity', 'Type', 'Last seen'],
                                       'Darktrace.SimilarDevices.devices'),
        raw_response=devices)


def _largest(items: Any, key: str, count: int = 5) -> list[dict[str, Any]]:
    """The `count` largest entries of a deviceinfo list by `key`, dicts only."""
    def size(item: dict[str, Any]) -> float:
        value = item.get(key)
        return value if isinstance(value, (int, float)) else -1

    entries = [item for item in items or [] if isinstance(item, dict)]
    return sorted(entries, key=size, reverse=True)[:count]


def connection_summary(device_info: dict[str, Any], data_type: str) -> str:
    """Totals, peak hour, top ports and top peer devices of one /deviceinfo entry, as small tables."""
    did = device_info.get('did')
    info = device_info.get('info') or {}
    graph = [point for point in device_info.get('graphData') or [] if isinstance(point, dict)]
    peak = max(graph, key=lambda point: point.get('count') or 0, default={})
    unit = {'co': 'connections', 'sizeout': 'bytes out', 'sizein': 'bytes in'}[data_type]
    totals = [{'Device ID': did, 'Similarity': device_info.get('similarityScore'),
               'Total used': info.get('totalUsed'), 'Total served': info.get('totalServed'),
               'Device/port pairs': info.get('totalDevicesAndPorts'),
               'Peak hour': peak.get('time'), f'Peak {unit}': peak.get('count')}]
    parts = [tableToMarkdown(f'Connections of device {did} ({unit}, last 4 weeks)', totals,
                             headers=list(totals[0]))]
    ports = [{'Port': p.get('port'), 'Direction': direction, 'Size': p.get('size'), 'First seen': p.get('firstTime')}
             for direction, key in (('out', 'portsUsed'), ('in', 'portsServed'))
             for p in _largest(info.get(key), 'size')]
    if ports:
        parts.append(tableToMarkdown('Top ports', ports, headers=['Port', 'Direction', 'Size', 'First seen']))
    peers = [{'Peer device': p.get('did'), 'Direction': direction, 'Size': p.get('size'),
              'First seen': p.get('firstTime')}
             for direction, key in (('out', 'devicesUsed'), ('in', 'devicesServed'))
             for p in _largest(info.get(key), 'size')]
    if peers:
        parts.append(tableToMarkdown('Top peer devices', peers,
                                     headers=['Peer device', 'Direction', 'Size', 'First seen']))
    return '\n'.join(parts)


def get_device_connection_info_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = require_did(args, 'did')
    data_type = require_choice(args, 'data_type', CONNECTION_DATA_TYPES)
    external_domain = _arg_text(args, 'external_domain') or None
    if external_domain and not is_hostname(external_domain):
        raise ValueError(f'Invalid "external_domain"="{external_domain}": expected a domain name such as example.com.')
    params = {
        'did': did,
        'datatype': data_type,
        'externaldomain': external_domain,
        # odid 0 means "external", so 0 is valid here, unlike for did.
        'odid': parse_int(args, 'destination_did', minimum=0),
        'showallgraphdata': parse_bool(args, 'show_all_graph_data', default=None),
        'similardevices': parse_int(args, 'num_similar_devices', minimum=0, maximum=MAX_SIMILAR_DEVICES),
        'fulldevicedetails': parse_bool(args, 'full_device_details', default=None),
    }
    reply = client.get_device_info(params)
    entries = [iso_times(entry) for entry in as_list(reply.get('deviceInfo') if isinstance(reply, dict) else reply)]
    outputs = {'did': did, 'dataType': data_type, 'deviceInfo': entries}
    if isinstance(reply, dict) and 'devices' in reply:
        outputs['devices'] = iso_times(reply['devices'])
    summaries = [entry for entry in entries if isinstance(entry, dict)]
    readable = '\n'.join(connection_summary(entry, data_type) for entry in summaries[:MAX_DEVICE_SUMMARIES]) \
        or f'### No connection data for device {did}\n'
    if len(summaries) > MAX_DEVICE_SUMMARIES:
        readable += (f'\nShowing the connections of the first {MAX_DEVICE_SUMMARIES} of {len(summaries)} devices; '
                     f'all {len(summaries)} are in context at Darktrace.DeviceConnectionInfo.deviceInfo.\n')
    return CommandResults(outputs_prefix='Darktrace.DeviceConnectionInfo', outputs_key_field=['did', 'dataType'],
                          outputs=outputs, readable_output=readable, raw_response=reply)


# --- external endpoints and Advanced Search ------------------------------------------------------

MAX_ADVANCED_SEARCH_QUERY_LENGTH = 4096
ADVANCED_SEARCH_OPERATIONS = ('mean', 'terms', 'trend', 'score')
# Not starting with a dot, so a field name is never the path segment '.' or '..'.
FIELD_NAME_PATTERN = re.compile(r'[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,99}')
ADVANCED_SEARCH_SIZE = 10000
ADVANCED_SEARCH_STATS = (('Count', 'count'), ('Min', 'min'), ('Max', 'max'), ('Average', 'avg'), ('Sum', 'sum'))


def get_external_endpoint_details_command(client: Client, args: dict[str, Any]) -> CommandResults:
    endpoint_type = require_choice(args, 'endpoint_type', ('IP', 'hostname'))
    value = _arg_text(args, 'endpoint_value')
    if endpoint_type == 'IP' and not is_ip(value):
        raise ValueError(f'Invalid "endpoint_value"="{value}": expected an IP address, as endpoint_type is IP.')
    remapped = idna_remapped(value) if endpoint_type == 'hostname' else None
    if remapped is not None:
        raise ValueError(f'Invalid "endpoint_value"="{visible(value)}": IDNA would send it as another host name, '
                         f'"{remapped}" (it holds invisible or full-width characters that IDNA drops or changes). '
                         f'Give "{remapped}" if that is the host meant.')
    sent_value = value if endpoint_type == 'IP' else ascii_hostname(value)
    if sent_value is None:
        raise ValueError(f'Invalid "endpoint_value"="{value}": expected a host name such as example.com or '
                         'bücher.example, as endpoint_type is hostname.')
    additional_info = parse_bool(args, 'additional_info')
    devices = parse_bool(args, 'devices')
    score = parse_bool(args, 'score')
    key = 'ip' if endpoint_type == 'IP' else 'hostname'
    # Sent in its ASCII (IDNA) form; shown and kept in context as the user typed it.
    reply = client.get_endpoint_details(key, sent_value, additional_info, devices, score)
    details = iso_times(reply if isinstance(reply, dict) else {'results': reply})
    details['endpoint'] = value
    summary = {
        'Endpoint': value,
        'First seen': details.get('firsttime'),
        'Popularity': details.get('popularity'),
        'DGA score': details.get('dgascore'),
        'Country': details.get('country'),
        'City': details.get('city'),
        'ASN': details.get('asn'),
        'Subnet': details.get('subnetlabel') or details.get('subnetnetwork'),
        'Devices': len(details.get('devices') or []) if 'devices' in details else None,
        'IPs': joined([ip.get('ip', ip) if isinstance(ip, dict) else ip for ip in details.get('ips') or []]),
    }
    headers = [header for header, cell in summary.items() if cell not in (None, '')]
    readable = markdown_table(f'What Darktrace knows of {value}', [summary], headers)
    device_rows = [{'Device ID': d.get('did'), 'Hostname': d.get('hostname'), 'IP': d.get('ip'),
                    'Last contact': d.get('contactTime') or d.get('lastSeen')}
                   for d in details.get('devices') or [] if isinstance(d, dict)]
    if device_rows:
        readable += markdown_table('Devices that contacted it', device_rows,
                                   ['Device ID', 'Hostname', 'IP', 'Last contact'],
                                   'Darktrace.ExternalEndpointDetails.devices')
    return CommandResults(outputs_prefix='Darktrace.ExternalEndpointDetails', outputs_key_field='endpoint',
                          outputs=details, readable_output=readable, raw_response=reply)


def advanced_search_rows(reply: dict[str, Any], operation: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The result of an Advanced Search analysis as table rows, with their headers, from the guide's reply shapes
    (2.2): terms in `aggregations.terms.buckets`, mean in `aggregations.stats`, trend and score in `hits.hits`."""
    aggregations = _dict(reply.get('aggregations'))
    if operation == 'terms':
        buckets = _dict(aggregations.get('terms')).get('buckets') or []
        return [{'Value': b.get('key'), 'Count': b.get('doc_count')} for b in buckets if isinstance(b, dict)], \
            ['Value', 'Count']
    if operation == 'mean':
        stats = _dict(aggregations.get('stats'))
        if not stats and isinstance(aggregations.get('mean'), dict):  # an older single-value reply
            stats = {'avg': aggregations['mean'].get('value')}
        return [{label: stats.get(key) for label, key in ADVANCED_SEARCH_STATS}], \
            [label for label, _ in ADVANCED_SEARCH_STATS]
    hits = [h for h in _dict(reply.get('hits')).get('hits') or [] if isinstance(h, dict)]
    if operation == 'trend':  # `start` is a system field (guide 2.2), kept in context only
        return [{'Value': h.get('id'), 'Count': h.get('count'), 'Trend': h.get('trend')} for h in hits], \
            ['Value', 'Count', 'Trend']
    return [{'Value': h.get('id'), 'Count': h.get('count')} for h in hits], ['Value', 'Count']


def run_advanced_search_analysis_command(client: Client, args: dict[str, Any]) -> CommandResults:
    start = parse_date_time(args, 'initialDate', 'initialTime')
    end = parse_date_time(args, 'endDate', 'endTime')
    if end < start:
        raise ValueError(f'Invalid time range: the end ("endDate"/"endTime", {end:%Y-%m-%d %H:%M:%S}) is before the '
                         f'start ("initialDate"/"initialTime", {start:%Y-%m-%d %H:%M:%S}).')
    query = require_text(args, 'query', MAX_ADVANCED_SEARCH_QUERY_LENGTH)
    operation = require_choice(args, 'operation', ADVANCED_SEARCH_OPERATIONS)
    metric = _arg_text(args, 'metric')
    if not FIELD_NAME_PATTERN.fullmatch(metric):
        raise ValueError(f'Invalid "metric"="{metric}": expected an Advanced Search field name such as '
                         'destinationPort or @fields.source_ip (letters, digits, _ . @ -).')
    offset = parse_int(args, 'offset', minimum=0, default=0)
    start_text, end_text = iso_seconds(start), iso_seconds(end)
    search = {'search': query, 'fields': [], 'offset': offset, 'timeframe': 'custom',
              'time': {'from': start_text, 'to': end_text, 'user_interval': '0'}, 'size': ADVANCED_SEARCH_SIZE}
    encoded_query = base64.b64encode(json.dumps(search, separators=(',', ':')).encode()).decode()
    reply = client.advanced_search_analyze(metric, operation, encoded_query)
    reply = reply if isinstance(reply, dict) else {'hits': {'hits': as_list(reply)}}
    rows, headers = advanced_search_rows(reply, operation)
    outputs = {key: value for key, value in iso_times(reply).items() if key != 'kibana'}
    outputs.update({'searchId': hashlib.sha1(encoded_query.encode()).hexdigest()[:16], 'query': query,
                    'metric': metric, 'operation': operation, 'from': start_text, 'to': end_text, 'offset': offset})
    title = f'Advanced Search {operation} of {metric} for "{query}"'
    return CommandResults(outputs_prefix='Darktrace.AdvancedSearch', outputs_key_field='searchId', outputs=outputs,
                          readable_output=markdown_table(title, rows, headers, 'Darktrace.AdvancedSearch'),
                          raw_response=reply)


# --- tags ----------------------------------------------------------------------------------------

MAX_TAG_NAME_LENGTH = 128


def _credential_text(credential: Any) -> str:
    """One credential seen on a device, for a table cell: 'alice (last seen 2024-01-31T13:05:00.000Z)'."""
    if not isinstance(credential, dict):
        return readable_text(credential)
    name = readable_text(credential.get('credential'))
    return f'{name} (last seen {credential["lastSeen"]})' if credential.get('lastSeen') else name


def _device_and_tag(args: dict[str, Any]) -> tuple[int, str]:
    """The device (`deviceId`) and the tag name (`tagName`) a tag is added to or removed from."""
    return require_did(args, 'deviceId'), require_text(args, 'tagName', MAX_TAG_NAME_LENGTH)


def get_tagged_devices_command(client: Client, args: dict[str, Any]) -> CommandResults:
    tag = require_text(args, 'tagName', MAX_TAG_NAME_LENGTH)
    reply = client.get_tagged_devices(tag)
    if isinstance(reply, dict):
        devices = as_list(reply.get('devices'))
    else:  # appliances that ignore fulldevicedetails answer with bare tag-entity links
        devices = [{'did': link.get('entityValue')} for link in as_list(reply)
                   if isinstance(link, dict) and link.get('entityType', 'Device') == 'Device']
    outputs = []
    for device in devices:
        other_tags = [t.get('name') if isinstance(t, dict) else t for t in device.get('tags') or []]
        outputs.append({
            'deviceId': _int_or_value(device.get('did')),
            'hostname': device.get('hostname'),
            'label': device.get('devicelabel'),
            # [{credential, lastSeen (ms)}] on current versions, plain names on older ones
            'credentials': iso_times(device.get('credentials')),
            'otherTags': [name for name in other_tags if name and name != tag],
        })
    rows = [{'Device ID': o['deviceId'], 'Hostname': o['hostname'], 'Label': o['label'],
             'Credentials': joined([_credential_text(c) for c in as_list(o['credentials'])]),
             'Other tags': ', '.join(map(str, o['otherTags']))} for o in outputs]
    readable = markdown_table(f'Devices tagged "{tag}"', rows,
                              ['Device ID', 'Hostname', 'Label', 'Credentials', 'Other tags'], 'Darktrace.Device')
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field='deviceId', outputs=outputs,
                          readable_output=readable, raw_response=reply)


def get_tags_for_device_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = require_did(args, 'deviceId')
    tags = [tag for tag in as_list(client.get_device_tags(did)) if isinstance(tag, dict)]
    outputs = [{'deviceId': did, 'tagId': tag.get('tid'), 'tagName': tag.get('name'),
                'tagDescription': (tag.get('data') or {}).get('description'),
                'expiry': ms_to_iso(tag.get('expiry')) or None} for tag in tags]
    rows = [{'Tag ID': o['tagId'], 'Tag': o['tagName'], 'Description': o['tagDescription'], 'Expires': o['expiry']}
            for o in outputs]
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field=['deviceId', 'tagName'],
                          outputs=outputs, raw_response=tags,
                          readable_output=markdown_table(f'Tags on device {did}', rows,
                                                         ['Tag ID', 'Tag', 'Description', 'Expires']))


def post_tag_to_device_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did, tag = _device_and_tag(args)
    duration_s = parse_int(args, 'duration', minimum=1)
    reply = client.add_tag_to_device(did, tag, duration_s)
    # Appliances answer either {"tid": N} or {"response": "SUCCESS"}; both mean the tag was applied.
    reply_fields = reply if isinstance(reply, dict) else {}
    tag_id = reply_fields.get('tid')
    response = str(reply_fields.get('response') or 'SUCCESS')
    outputs = {'deviceId': did, 'tagId': tag_id, 'tagName': tag, 'response': response}
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field=['deviceId', 'tagName'],
                          outputs=outputs, raw_response=reply,
                          readable_output=f'### Tag "{tag}" added to device {did}\n'
                                          + (f'Tag ID: {tag_id}\n' if tag_id is not None else ''))


def list_tags_command(client: Client, args: dict[str, Any]) -> CommandResults:
    limit = parse_limit(args)
    tags = [tag for tag in as_list(client.get_tags()) if isinstance(tag, dict)]
    outputs = []
    for tag in tags[:limit]:
        data = _dict(tag.get('data'))
        outputs.append({'tid': tag.get('tid'), 'name': tag.get('name'), 'description': data.get('description'),
                        'color': data.get('color'), 'visibility': data.get('visibility'), 'auto': data.get('auto'),
                        'restricted': tag.get('restricted'), 'isReferenced': tag.get('isReferenced'),
                        'expiry': ms_to_iso(tag.get('expiry')) or None})
    rows = [{'Tag ID': o['tid'], 'Name': o['name'], 'Description': o['description'], 'Restricted': o['restricted'],
             'Used by models': o['isReferenced']} for o in outputs]
    readable = markdown_table(f'Tags ({len(outputs)} of {len(tags)})', rows,
                              ['Tag ID', 'Name', 'Description', 'Restricted', 'Used by models'], 'Darktrace.Tag')
    return CommandResults(outputs_prefix='Darktrace.Tag', outputs_key_field='tid', outputs=outputs,
                          readable_output=readable, raw_response=tags)


def remove_tag_from_device_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did, tag = _device_and_tag(args)
    reply = client.remove_tag_from_device(did, tag)
    # An empty reply is how some versions answer a DELETE; any other reply must confirm it.
    if reply not in ({}, [], None) and not _confirms(reply):
        raise _unconfirmed('DELETE /tags/entities', reply)
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field=['deviceId', 'tagName'],
                          outputs={'deviceId': did, 'tagName': tag, 'removed': True}, raw_response=reply,
                          readable_output=f'### Tag "{tag}" removed from device {did}\n')


# --- watched list --------------------------------------------------------------------------------

MAX_DESCRIPTION_LENGTH = 255
MAX_WATCHED_SOURCE_LENGTH = 63  # the appliance takes source names shorter than 64 characters
MAX_ENDPOINTS_PER_REMOVAL = 100  # one request each, so a playbook cannot start thousands by mistake
MAX_WATCHED_SOURCES = 50  # sources read in turn to list the whole watched list
MAX_ENDPOINTS_PER_WATCH = 1000  # one request for all; bounds its body (at most about 250 kB)


def post_to_watched_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    endpoints = parse_endpoint_list(args, 'endpointsToWatch', MAX_ENDPOINTS_PER_WATCH)
    description = parse_text(args, 'description', MAX_DESCRIPTION_LENGTH)
    expiry_ms = parse_time_arg(args, 'expiry')
    if expiry_ms is not None and expiry_ms <= now_ms():
        raise ValueError(f'Invalid "expiry"="{_arg_text(args, "expiry")}": the time has passed; give a future time '
                         'such as "in 30 days" or 2030-01-31T00:00:00Z.')
    source = parse_text(args, 'source', MAX_WATCHED_SOURCE_LENGTH)
    hostname = parse_bool(args, 'hostname', default=None)
    # Options are sent only when given, so the request of an existing playbook is unchanged.
    body: dict[str, Any] = {'addlist': ','.join(endpoints)}
    if description:
        body['description'] = description
    options: dict[str, Any] = {}
    if expiry_ms is not None:
        options['expiry'] = iso_seconds(datetime.fromtimestamp(expiry_ms / 1000, tz=timezone.utc))
    if source:
        options['source'] = source
    body.update(options)
    if hostname is not None:
        body['hostname'] = hostname
    reply = client.add_to_watched_list(body)
    watched = isinstance(reply, dict) and str(reply.get('response', '')).upper() == 'SUCCESS'
    outputs = [{'endpoint': endpoint, 'Watched': watched, 'description': description, **options}
               for endpoint in endpoints]
    rows = [{'Endpoint': endpoint, 'Watched': watched} for endpoint in endpoints]
    counts = f' ({reply.get("added", 0)} added, {reply.get("updated", 0)} updated)' if isinstance(reply, dict) else ''
    return CommandResults(outputs_prefix='Darktrace.Endpoint', outputs_key_field='endpoint', outputs=outputs,
                          readable_output=markdown_table(f'Watched list{counts}', rows, ['Endpoint', 'Watched']),
                          raw_response=reply)


def watched_sources(client: Client) -> list[str]:
    """The names of the watched list's sources (guide 2.26: GET /intelfeed?sources=true)."""
    return [str(name) for name in as_list(client.get_watched_sources()) if isinstance(name, str) and name.strip()]


def _watched_entries(client: Client, source: str | None) -> list[dict[str, Any]]:
    """Watched entries with their details and the sources holding each. A GET without `source` may list only the
    "default" source (guide 2.26), so without one every source is read in turn."""
    sources = [source] if source else watched_sources(client)[:MAX_WATCHED_SOURCES]
    entries: dict[str, dict[str, Any]] = {}
    for name in sources or [None]:
        for entry in as_list(client.get_watched_endpoints(name)):
            # Appliances that ignore fulldetails answer with bare names.
            details = entry if isinstance(entry, dict) else {'name': entry}
            record = entries.setdefault(str(details.get('name')), {
                'endpoint': details.get('name'), 'Watched': True, 'description': details.get('description'),
                'expiry': ms_to_iso(details.get('expiry')) or None, 'strength': _number(details.get('strength')),
                'iagn': details.get('iagn'), 'sources': []})
            held_by = name or details.get('source')
            if held_by and held_by not in record['sources']:
                record['sources'].append(held_by)
    for record in entries.values():
        record['source'] = record['sources'][0] if len(record['sources']) == 1 else None
    return list(entries.values())


def list_watched_endpoints_command(client: Client, args: dict[str, Any]) -> CommandResults:
    limit = parse_limit(args)
    source = parse_text(args, 'source', MAX_WATCHED_SOURCE_LENGTH)
    outputs = _watched_entries(client, source)
    shown = outputs[:limit]
    rows = [{'Endpoint': o['endpoint'], 'Sources': joined(o['sources']), 'Description': o['description'],
             'Expires': o['expiry'], 'Strength': o['strength']} for o in shown]
    title = f'Watched endpoints{f" of source {source}" if source else ""} ({len(shown)} of {len(outputs)})'
    return CommandResults(outputs_prefix='Darktrace.Endpoint', outputs_key_field='endpoint', outputs=shown,
                          readable_output=markdown_table(title, rows, ['Endpoint', 'Sources', 'Description',
                                                                       'Expires', 'Strength'], 'Darktrace.Endpoint'),
                          raw_response=outputs)


def list_watched_sources_command(client: Client, args: dict[str, Any]) -> CommandResults:
    sources = watched_sources(client)
    return CommandResults(outputs_prefix='Darktrace.WatchedSource', outputs_key_field='name',
                          outputs=[{'name': name} for name in sources],
                          readable_output=markdown_table(f'Watched list sources ({len(sources)})',
                                                         [{'Source': name} for name in sources], ['Source']),
                          raw_response=sources)


def _removal_sources(client: Client, endpoints: list[str], source: str | None) -> dict[str, str | None]:
    """The source to send with each removal: the one given; else the entry's only source. An entry held by several
    sources is refused before anything is removed, naming them (guide 2.26: the source must then be given)."""
    if source:
        return {endpoint: source for endpoint in endpoints}
    held = {str(entry['endpoint']).lower(): entry['sources'] for entry in _watched_entries(client, None)}
    ambiguous = {endpoint: held[endpoint.lower()] for endpoint in endpoints if len(held.get(endpoint.lower(), [])) > 1}
    if ambiguous:
        which = '; '.join(f'{endpoint} is in {", ".join(sources)}' for endpoint, sources in ambiguous.items())
        raise DarktraceApiError('ambiguous_source', f'Nothing was removed: {which}. Give source= one of them (run the '
                                                    'command once per source to remove it from several).')
    return {endpoint: (held.get(endpoint.lower()) or [None])[0] for endpoint in endpoints}


def remove_from_watched_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    endpoints = parse_endpoint_list(args, 'endpointsToRemove', MAX_ENDPOINTS_PER_REMOVAL)
    source = parse_text(args, 'source', MAX_WATCHED_SOURCE_LENGTH)
    sources = _removal_sources(client, endpoints, source)
    removed: list[str] = []
    replies = []
    for endpoint in endpoints:  # the appliance removes one entry per request
        try:
            reply = client.remove_from_watched_list(endpoint, sources[endpoint])
            if not _confirms(reply):
                raise _unconfirmed('POST /intelfeed (removeentry)', reply)
        except DarktraceApiError as error:
            if not removed:
                raise
            raise DarktraceApiError(error.kind, f'Removed {", ".join(removed)} from the watched list, then failed on '
                                                f'{endpoint}: {error}', error.status) from None
        removed.append(endpoint)
        replies.append(reply)
    outputs = [{'endpoint': endpoint, 'Watched': False, **({'source': sources[endpoint]} if sources[endpoint] else {})}
               for endpoint in removed]
    return CommandResults(outputs_prefix='Darktrace.Endpoint', outputs_key_field='endpoint', outputs=outputs,
                          readable_output=markdown_table('Removed from the watched list',
                                                         [{'Endpoint': o['endpoint'], 'Source': o.get('source'),
                                                           'Watched': False} for o in outputs],
                                                         ['Endpoint', 'Source', 'Watched']),
                          raw_response=replies)


# --- AI Analyst ----------------------------------------------------------------------------------

AI_EVENT_HEADERS = ['Event ID', 'Title', 'Category', 'Score', 'Group score', 'Devices', 'Created', 'Acknowledged']
MIRRORED_AI_ANALYST_TYPE_NAME = 'Darktrace NDR AI Analyst Incident'
# The fields of a mirrored AI Analyst incident event.
MIRRORED_AI_ANALYST_FIELDS = {
    'id': 'AI Analyst incident event ID.',
    'acknowledged': 'Whether the event is acknowledged in Darktrace (true or false).',
    'title': 'Title AI Analyst gave the event.',
    'category': 'Category of the event (critical, suspicious, compliance or informational).',
    'aiaScore': 'AI Analyst score of the event, from 0 to 100.',
    'groupScore': 'Score of the AI Analyst incident the event belongs to, from 0 to 100.',
    'currentGroup': 'ID of the AI Analyst incident the event belongs to.',
    'deviceHostname': 'Host name of the first device involved (breachDevices[0].hostname in the raw event).',
    'incidentEventUrl': 'Link to the event in the Darktrace Threat Visualizer.',
    'commentCount': 'Number of comments on the event.',
}
# darktrace-list-ai-analyst-incident-events `pinned`: pinned events only when in the range, also from outside it, or
# only pinned events (from any time)
AI_ANALYST_PINNED_CHOICES = ('in_range', 'all', 'only')


def ai_event_context(event: dict[str, Any]) -> dict[str, Any]:
    """An AI Analyst incident event with ISO times and numeric scores; fields are often missing, so none is required."""
    context = iso_times(event)
    for key in ('aiaScore', 'groupScore'):
        if key in context:
            context[key] = _number(context[key])
    if 'acknowledged' in context:
        context['acknowledged'] = _flag(context['acknowledged'])
    return context


def ai_event_row(context: dict[str, Any]) -> dict[str, Any]:
    devices = [device_name(d) for d in context.get('breachDevices') or [] if isinstance(d, dict)]
    return {'Event ID': context.get('id'), 'Title': context.get('title'), 'Category': context.get('category'),
            'Score': context.get('aiaScore'), 'Group score': context.get('groupScore'), 'Devices': ', '.join(devices),
            'Created': context.get('createdAt'), 'Acknowledged': context.get('acknowledged')}


def ai_analyst_comments(reply: Any) -> list[dict[str, Any]]:
    """The comments of an /aianalyst/incident/comments reply: {"comments": [...]}, or the list itself."""
    comments = reply.get('comments') if isinstance(reply, dict) else reply
    return [comment for comment in as_list(comments) if isinstance(comment, dict)]


def _ai_analyst_event(client: Client, event_id: str) -> dict[str, Any]:
    reply = client.get_ai_analyst_incident_events({'uuid': event_id, 'includeacknowledged': True})
    return _one_record(reply, 'id', event_id, f'AI Analyst incident event with id {event_id}')


def get_ai_analyst_incident_event_command(client: Client, args: dict[str, Any]) -> CommandResults:
    event_id = require_ai_analyst_id(args, 'event_id')
    event = _ai_analyst_event(client, event_id)
    context = ai_event_context(event)
    readable = markdown_table(f'AI Analyst incident event {event_id}', [ai_event_row(context)], AI_EVENT_HEADERS)
    if context.get('summary'):  # text, or on some versions an object: shown as text, kept whole in context
        readable += f'\n{readable_text(context["summary"])}\n'
    related = [{'Breach ID': b.get('pbid'), 'Model': b.get('modelName'), 'Score': b.get('threatScore'),
                'Time': b.get('timestamp')} for b in context.get('relatedBreaches') or [] if isinstance(b, dict)]
    if related:
        readable += markdown_table('Related model breaches', related, ['Breach ID', 'Model', 'Score', 'Time'])
    return CommandResults(outputs_prefix='Darktrace.AIAnalystEvent', outputs_key_field='id', outputs=context,
                          readable_output=readable, raw_response=event)


def list_ai_analyst_incident_events_command(client: Client, args: dict[str, Any]) -> CommandResults:
    start_ms, end_ms = parse_time_range(args, 'start_time', 'end_time')
    min_group_score = parse_score(args, 'min_group_score')
    acknowledged = parse_bool(args, 'acknowledged', default=None)
    pinned = parse_choice(args, 'pinned', AI_ANALYST_PINNED_CHOICES, default='in_range')
    limit = parse_limit(args)
    reply = client.get_ai_analyst_incident_events({
        'starttime': start_ms, 'endtime': end_ms, 'includeacknowledged': True,
        'mingroupscore': f'{min_group_score:g}' if min_group_score else None,  # AI Analyst scores are 0..100
        # guide 2.5: pinned events come back from outside the range unless includeallpinned=false
        'includeallpinned': pinned != 'in_range', 'includeonlypinned': True if pinned == 'only' else None,
    })
    events = sorted((e for e in as_list(reply) if isinstance(e, dict)),
                    key=lambda e: _epoch_ms(e.get('createdAt')), reverse=True)
    contexts = [ai_event_context(event) for event in events]
    if min_group_score:
        contexts = [c for c in contexts if c.get('groupScore') is None or c['groupScore'] >= min_group_score]
    if acknowledged is not None:
        contexts = [c for c in contexts if bool(c.get('acknowledged')) == acknowledged]
    shown = contexts[:limit]
    return CommandResults(outputs_prefix='Darktrace.AIAnalystEvent', outputs_key_field='id', outputs=shown,
                          readable_output=markdown_table(
                              f'AI Analyst incident events ({len(shown)} of {len(contexts)}, newest first)',
                              [ai_event_row(c) for c in shown], AI_EVENT_HEADERS, 'Darktrace.AIAnalystEvent'),
                          raw_response=reply)


def mirrored_ai_event(event: dict[str, Any], comments: list[dict[str, Any]]) -> dict[str, Any]:
    """The AI Analyst event as XSOAR mirrors it: the raw record (like rawJSON at fetch) and the fields of
    MIRRORED_AI_ANALYST_FIELDS."""
    devices = [device for device in as_list(event.get('breachDevices')) if isinstance(device, dict)]
    return {**event, 'acknowledged': bool(_flag(event.get('acknowledged'))), 'commentCount': len(comments),
            'deviceHostname': devices[0].get('hostname') if devices else None}


def _read_ai_event(client: Client, event_id: str) -> dict[str, Any]:
    reply = client.get_ai_analyst_incident_events({'uuid': event_id, 'includeacknowledged': True,
                                                   'includeincidenteventurl': True})
    event = _one_record(reply, 'id', event_id, f'AI Analyst incident event with id {event_id}')
    return with_event_url(event, client.server_url)


# AI Analyst incident events as a kind of record: their acknowledgement, comments and mirroring.
AI_EVENT_KIND = RecordKind(
    what='AI Analyst incident event', outputs_prefix='Darktrace.AIAnalystEvent', key_field='id',
    require_id=lambda args: require_ai_analyst_id(args, 'event_id'),
    type_name=MIRRORED_AI_ANALYST_TYPE_NAME, fields=MIRRORED_AI_ANALYST_FIELDS,
    read=_read_ai_event,
    get_comments=lambda client, event_id: client.get_ai_analyst_comments(event_id),
    comment_records=ai_analyst_comments,
    mirrored=mirrored_ai_event,
    acknowledge=lambda client, event_id: client.acknowledge_ai_analyst_event(event_id),
    unacknowledge=lambda client, event_id: client.unacknowledge_ai_analyst_event(event_id),
    add_comment=lambda client, event_id, message: client.add_ai_analyst_comment(event_id, message),
    acknowledge_path='/aianalyst/{action}', comment_path='/aianalyst/incident/comments')


(acknowledge_ai_analyst_incident_event_command, unacknowledge_ai_analyst_incident_event_command,
 get_ai_analyst_comments_command, post_comment_to_ai_analyst_incident_event_command) = record_commands(AI_EVENT_KIND)


def _group_event_ids(group: dict[str, Any]) -> list[str]:
    """The incident event ids of a group (plain ids, or {uuid, title, ...} entries)."""
    return [str(item.get('uuid') or item.get('id')) if isinstance(item, dict) else str(item)
            for item in group.get('incidentEvents') or []]


def _group_holding_event(reply: Any, event_id: str) -> dict[str, Any] | None:
    """The group of a reply that lists `event_id` among its events, or the only group when it lists none."""
    groups = [group for group in as_list(reply) if isinstance(group, dict)]
    for group in groups:
        if event_id in _group_event_ids(group):
            return group
    if len(groups) == 1 and not groups[0].get('incidentEvents'):
        return groups[0]
    return None


def get_ai_analyst_incident_group_command(client: Client, args: dict[str, Any]) -> CommandResults:
    """An AI Analyst incident (group), by its own id (`groupid=`) or as the group holding an event (`uuid=`)."""
    group_id = parse_ai_analyst_id(args, 'group_id')
    event_id = parse_ai_analyst_id(args, 'event_id')
    if bool(group_id) == bool(event_id):
        raise ValueError('Give exactly one of "group_id" (an AI Analyst incident id) or "event_id" (the id of one '
                         'of its incident events).')
    if event_id:
        reply = client.get_ai_analyst_groups({'uuid': event_id, 'includeacknowledged': True})
        group = _group_holding_event(reply, event_id)
        if group is None:
            raise DarktraceApiError('not_found', f'Darktrace has no AI Analyst incident holding the incident event '
                                                 f'{event_id}: check the event id (use group_id for an incident id).')
    else:
        reply = client.get_ai_analyst_groups({'groupid': group_id, 'includeacknowledged': True})
        group = _one_record(reply, 'id', group_id, f'AI Analyst incident with id {group_id}')
    context = iso_times(group)
    if 'groupScore' in context:
        context['groupScore'] = _number(context['groupScore'])
    devices = [str(d.get('did') if isinstance(d, dict) else d) for d in group.get('devices') or []]
    row = {'Incident ID': group.get('id'), 'Category': group.get('category'), 'Score': context.get('groupScore'),
           'Start': context.get('start'), 'End': context.get('end'), 'Acknowledged': group.get('acknowledged'),
           'Pinned': group.get('pinned'), 'Events': len(_group_event_ids(group)), 'Device IDs': joined(devices)}
    readable = markdown_table(f'AI Analyst incident {group.get("id")}', [row], list(row))
    events = [{'Event ID': e.get('uuid') or e.get('id'), 'Title': e.get('title'), 'Start': e.get('start')}
              for e in context.get('incidentEvents') or [] if isinstance(e, dict)]
    if events:
        readable += markdown_table('Incident events', events, ['Event ID', 'Title', 'Start'])
    return CommandResults(outputs_prefix='Darktrace.AIAnalystGroup', outputs_key_field='id', outputs=context,
                          readable_output=readable, raw_response=group)


# --- Darktrace RESPOND ---------------------------------------------------------------------------
# Autonomous Response actions (the API's /antigena). Every argument is checked before anything is sent; a change
# is sent once (the Client retries a POST only when it never reached the appliance), then read back, so the War
# Room shows the state Darktrace reports rather than the one asked for.

RESPOND_ACTIONS = ('quarantine', 'quarantineOutgoing', 'quarantineIncoming', 'connection', 'pol', 'gpol')
RESPOND_HEADERS = ['Code ID', 'Device', 'Action', 'State', 'Triggered by', 'Started', 'Expires', 'Model breach']
# Activate, clear and reactivate each send one change and read the action back: what is sent besides the codeid
# and reason, whether a (new) duration is sent too, what the War Room says was done, the states the action may then
# be in.
RESPOND_STATE_CHANGES: dict[str, tuple[dict[str, Any], bool, str, tuple[str, ...]]] = {
    'activate': ({'activate': True}, False, 'activated', ('active',)),
    'clear': ({'clear': True}, False, 'cleared', ('cleared',)),
    'reactivate': ({'activate': True}, True, 'reactivated for {duration}', ('active',)),
}
# How far apart two expiries may be and still count as the same (clock skew, whole seconds).
EXPIRY_TOLERANCE_MS = 60_000


def _audit_refusal(error: DarktraceApiError, body: dict[str, Any]) -> DarktraceApiError:
    """A 400 to a change sent without a reason: where RESPOND is audited the appliance requires one (guide 2.13)."""
    if error.kind != 'input' or body.get('reason'):
        return error
    return DarktraceApiError('reason_required', (
        f'{error} This appliance may audit RESPOND actions ("Audit Antigena" in System Config), in which case every '
        'change needs a reason: nothing was changed, so run the command again with reason="...".'), error.status)


def _respond_call(call: Callable[[], Parsed], change: bool) -> Parsed:
    """Run a RESPOND request; a refusal says which RESPOND permission is missing, or that RESPOND is absent."""
    try:
        return call()
    except DarktraceApiError as error:
        if error.kind == 'permission':
            refusal = '403 Forbidden' if error.status == 403 else 'a redirect to /403'
            need = 'act on RESPOND actions (confirm, extend, clear, reactivate, create)' if change \
                else 'view RESPOND actions'
            raise DarktraceApiError('permission', (
                f'Darktrace refused the RESPOND request ({refusal}): the API token\'s user lacks the RESPOND '
                f'(Antigena) permission to {need}. Grant it to that user in Darktrace (see the integration '
                'description), then retry.'), error.status) from None
        if error.kind == 'login_redirect':
            raise DarktraceApiError('respond_unavailable', (
                'Darktrace answered the RESPOND request (/antigena) with a redirect to its login page: this '
                'appliance does not offer Darktrace RESPOND (Autonomous Response). Check that RESPOND is licensed '
                'and enabled on it; if it is, check that nothing between XSOAR and the appliance strips the API '
                'headers.'), error.status) from None
        raise


def respond_action_state(action: dict[str, Any], now: int) -> str:
    """pending, active, expired or cleared, from the action's flags and its expiry at `now` (epoch ms)."""
    if _flag(action.get('cleared')):
        return 'cleared'
    expires_ms = _epoch_ms(action.get('expires'))
    if expires_ms and expires_ms <= now:
        return 'expired'
    return 'active' if _flag(action.get('active')) else 'pending'


def respond_action_context(action: dict[str, Any], now: int) -> dict[str, Any]:
    context = iso_times(action)
    for key in ('codeid', 'did', 'pbid'):
        if key in context:
            context[key] = _int_or_value(context[key])
    for key in ('active', 'cleared', 'manual', 'blocked'):
        if key in context:
            context[key] = _flag(context[key])
    context['state'] = respond_action_state(action, now)
    return context


def respond_action_row(context: dict[str, Any]) -> dict[str, Any]:
    triggerer = context.get('triggerer')
    person = triggerer.get('username') if isinstance(triggerer, dict) else triggerer
    triggered_by = f'{person} (manual)' if person and context.get('manual') else (
        f'Model: {context["model"]}' if context.get('model') else person)
    device = f'{context.get("did")} ({context["ip"]})' if context.get('ip') else context.get('did')
    return {'Code ID': context.get('codeid'), 'Device': device, 'Action': context.get('label') or context.get('action'),
            'State': context.get('state'), 'Triggered by': triggered_by, 'Started': context.get('start'),
            'Expires': context.get('expires'), 'Model breach': context.get('pbid') or None}


def respond_reply_parts(reply: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(actions, blocked connections, devices) of a GET /antigena reply: a bare array of actions, or an object
    {actions, connections?, devices?} when includeconnections or fulldevicedetails is sent (guide 2.13)."""
    def records(value: Any) -> list[dict[str, Any]]:
        return [item for item in as_list(value) if isinstance(item, dict)]
    if isinstance(reply, dict) and 'actions' in reply:
        return records(reply['actions']), records(reply.get('connections')), records(reply.get('devices'))
    return records(reply), [], []


def _find_action(reply: Any, codeid: int) -> dict[str, Any] | None:
    actions, _, _ = respond_reply_parts(reply)
    return next((item for item in actions if str(item.get('codeid')) == str(codeid)), None)


def _with_device_details(context: dict[str, Any], connections: list[dict[str, Any]],
                         devices: dict[Any, dict[str, Any]], show_connections: bool) -> dict[str, Any]:
    """An action's context with its device's details and the connections RESPOND blocked for that device: the
    guide's reply lists both per device (did), not per action."""
    device = devices.get(str(context.get('did')))
    if device is not None:
        context['device'] = iso_times(device)
    if show_connections:
        context['blockedConnections'] = [iso_times(connection) for connection in connections
                                         if str(connection.get('did')) == str(context.get('did'))]
    return context


def _blocked_connections_table(connections: list[dict[str, Any]]) -> str:
    rows = [{'Device': connection.get('did'), 'Action': connection.get('label') or connection.get('action'),
             'Direction': connection.get('direction'), 'IP': connection.get('ip'), 'Port': connection.get('port'),
             'Time': ms_to_iso(connection.get('timems')) or connection.get('time')} for connection in connections]
    return markdown_table(f'Connections RESPOND blocked ({len(rows)})', rows,
                          ['Device', 'Action', 'Direction', 'IP', 'Port', 'Time'], 'Darktrace.RespondAction')


def list_respond_actions_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = parse_did(args, 'did')
    pbid = parse_int(args, 'pbid', minimum=1)
    include_cleared = parse_bool(args, 'include_cleared')
    need_confirming = parse_bool(args, 'need_confirming')
    include_history = parse_bool(args, 'include_history')
    include_connections = parse_bool(args, 'include_connections')
    full_device_details = parse_bool(args, 'full_device_details')
    start_ms, end_ms = parse_time_range(args, 'start_time', 'end_time')
    limit = parse_limit(args)
    # guide 2.13: `did` is not in the parameter table (its workflow uses it), so the reply is filtered on it too.
    reply = _respond_call(lambda: client.get_respond_actions({
        'did': did, 'pbid': pbid, 'includecleared': include_cleared or None, 'needconfirming': need_confirming or None,
        'includehistory': include_history or None, 'includeconnections': include_connections or None,
        'fulldevicedetails': full_device_details or None, 'starttime': start_ms, 'endtime': end_ms}), change=False)
    actions, connections, devices = respond_reply_parts(reply)
    now = now_ms()
    actions = sorted(actions, key=lambda a: _epoch_ms(a.get('start')), reverse=True)
    by_did = {str(device.get('did')): device for device in devices}
    contexts = [_with_device_details(respond_action_context(action, now), connections, by_did, include_connections)
                for action in actions]
    # The same filters again, in case an appliance ignores one of them.
    contexts = [c for c in contexts if (include_cleared or c['state'] != 'cleared')
                and (not need_confirming or c['state'] == 'pending') and (did is None or str(c.get('did')) == str(did))]
    shown = contexts[:limit]
    readable = markdown_table(f'Darktrace RESPOND actions ({len(shown)} of {len(contexts)}, newest first)',
                              [respond_action_row(c) for c in shown], RESPOND_HEADERS, 'Darktrace.RespondAction')
    if include_connections:
        shown_dids = {str(c.get('did')) for c in shown}
        readable += '\n' + _blocked_connections_table([c for c in connections if str(c.get('did')) in shown_dids])
    return CommandResults(outputs_prefix='Darktrace.RespondAction', outputs_key_field='codeid', outputs=shown,
                          readable_output=readable, raw_response=reply)


def _read_action(client: Client, codeid: int, did: int | None) -> dict[str, Any] | None:
    return _find_action(_respond_call(lambda: client.get_respond_actions({'did': did, 'includecleared': True}),
                                      change=False), codeid)


def _read_back(client: Client, codeid: int, did: int | None, done: str, expected: tuple[str, ...],
               reply: Any, note: str = '') -> CommandResults:
    """The action as Darktrace reports it after a confirmed change.

    A failed read-back is reported, not raised: the change was made, and an error could lead someone to repeat it.
    """
    problem = ''
    try:
        record = _read_action(client, codeid, did)
        if record is None:
            problem = f'its list of actions does not show action {codeid}'
    except DarktraceApiError as error:
        record, problem = None, f'reading the action back failed: {error}'
    if record is None:
        return CommandResults(outputs_prefix='Darktrace.RespondAction', outputs_key_field='codeid',
                              outputs={'codeid': codeid, 'did': did, 'state': 'unknown'}, raw_response=reply,
                              readable_output=f'### {done}\nDarktrace confirmed the change, but {problem}. Check with '
                                              '!darktrace-list-respond-actions before running the change again.\n')
    context = respond_action_context(record, now_ms())
    readable = markdown_table(done, [respond_action_row(context)], RESPOND_HEADERS)
    if context['state'] not in expected:
        readable += (f'\nDarktrace confirmed the change, but now reports the action as {context["state"]} '
                     f'(expected {" or ".join(expected)}).\n')
    return CommandResults(outputs_prefix='Darktrace.RespondAction', outputs_key_field='codeid', outputs=context,
                          readable_output=readable + note, raw_response=reply)


def _post_respond_change(client: Client, body: dict[str, Any]) -> Any:
    """POST /antigena once. The guide documents no reply (2.13), so any reply but an error is taken as accepted and
    the read-back decides; a reply that says the change failed is an error."""
    try:
        reply = _respond_call(lambda: client.change_respond_action(body), change=True)
    except DarktraceApiError as error:
        raise _audit_refusal(error, body) from None
    if isinstance(reply, dict) and str(reply.get('response', 'SUCCESS')).upper() != 'SUCCESS':
        raise _unconfirmed('POST /antigena', reply)
    return reply


def _change_respond_action(client: Client, codeid: int, body: dict[str, Any], did: int | None, done: str,
                           expected: tuple[str, ...]) -> CommandResults:
    reply = _post_respond_change(client, {'codeid': codeid, **body})
    return _read_back(client, codeid, did, done, expected, reply)


def _set_respond_state(change: str, client: Client, args: dict[str, Any]) -> CommandResults:
    sent, takes_duration, done, expected = RESPOND_STATE_CHANGES[change]
    codeid = require_int(args, 'codeid', minimum=1)
    duration = {'duration': require_duration(args, 'duration')} if takes_duration else {}
    reason = respond_reason(args)
    done = done.format(duration=_duration_text(duration['duration']) if duration else '')
    return _change_respond_action(client, codeid, {**sent, **duration, **reason}, None,
                                  f'RESPOND action {codeid} {done}', expected)


activate_respond_action_command = partial(_set_respond_state, 'activate')


clear_respond_action_command = partial(_set_respond_state, 'clear')


reactivate_respond_action_command = partial(_set_respond_state, 'reactivate')


def _extendable_action(client: Client, codeid: int) -> dict[str, Any]:
    """The action to extend, refused when Darktrace lists no such action or it no longer runs."""
    action = _read_action(client, codeid, None)
    if action is None:
        raise DarktraceApiError('not_found', f'Darktrace lists no RESPOND action with code ID {codeid}: check the '
                                             'codeid (!darktrace-list-respond-actions include_cleared=true).')
    state = respond_action_state(action, now_ms())
    # Refusals from here on depend on what Darktrace reported, so they are DarktraceApiErrors, not argument errors.
    if state in ('cleared', 'expired'):
        raise DarktraceApiError('refused', f'RESPOND action {codeid} is {state}, so it cannot be extended: use '
                                           '!darktrace-reactivate-respond-action to run it again.')
    return action


def _ended_meanwhile(client: Client, codeid: int, error: DarktraceApiError) -> DarktraceApiError:
    """A refused extension: if the action expired or was cleared since it was read, say so (nothing was changed)."""
    try:
        action = _read_action(client, codeid, None)
    except DarktraceApiError:
        return error
    state = respond_action_state(action, now_ms()) if action else 'gone'
    if state not in ('cleared', 'expired'):
        return error
    return DarktraceApiError('refused', (
        f'RESPOND action {codeid} {state} before the extension reached Darktrace, which refused it: nothing was '
        f'changed. Use !darktrace-reactivate-respond-action to run it again. ({error})'), error.status)


def _corrected_if_counted_from_start(client: Client, action: dict[str, Any], sent_s: int, target_ms: float,
                                     reason: dict[str, str]) -> bool:
    """Guide 2.13 counts an extension's duration from now; under the other reading of its text (ambiguity 8) an
    appliance counts it from the action's start and the action now ends too early. That shows in the new expiry
    (start + duration): then one more POST sets the expiry asked for. True when it was sent."""
    codeid, start_ms = action.get('codeid'), _epoch_ms(action.get('start'))
    try:
        record = _read_action(client, codeid, None)
    except DarktraceApiError:
        return False  # the read-back reports it
    expires_ms = _epoch_ms(record.get('expires')) if record else 0
    if not (start_ms and expires_ms) or abs(expires_ms - target_ms) <= EXPIRY_TOLERANCE_MS \
            or abs(expires_ms - (start_ms + sent_s * 1000)) > EXPIRY_TOLERANCE_MS:
        return False
    _post_respond_change(client, {'codeid': codeid, 'duration': math.ceil((target_ms - start_ms) / 1000), **reason})
    return True


def extend_respond_action_command(client: Client, args: dict[str, Any]) -> CommandResults:
    """Extends an action BY `duration`. Darktrace sets the action to end `duration` seconds after the POST (guide
    2.13: "100 seconds remaining, duration 110 extends by 10 seconds"), so the time it still has left is added."""
    codeid = require_int(args, 'codeid', minimum=1)
    extension_s = require_duration(args, 'duration')
    reason = respond_reason(args)
    action = _extendable_action(client, codeid)
    expires_ms = _epoch_ms(action.get('expires'))
    remaining_s = max(0, math.ceil((expires_ms - now_ms()) / 1000)) if expires_ms else 0
    body = {'codeid': codeid, 'duration': remaining_s + extension_s, **reason}
    try:
        reply = _post_respond_change(client, body)
    except DarktraceApiError as error:
        raise _ended_meanwhile(client, codeid, error) if error.kind == 'input' else error from None
    note = ''
    if expires_ms:
        target_ms = expires_ms + extension_s * 1000
        note = (f'\nAsked: {_duration_text(extension_s)} more than the {_duration_text(remaining_s)} it had left, '
                f'so until about {ms_to_iso(target_ms)}.\n')
        if _corrected_if_counted_from_start(client, action, body['duration'], target_ms, reason):
            note += ('This appliance counted the duration from the action\'s start rather than from now, which ended '
                     'the action too early; a second request set the expiry asked for.\n')
    return _read_back(client, codeid, _int_or_value(action.get('did')),
                      f'RESPOND action {codeid} extended by {_duration_text(extension_s)}', ('active', 'pending'),
                      reply, note)


def _created_codeid(reply: Any) -> int | None:
    """The new action's id: the guide's example reply is {"code": 10170}, its text says "the codeid" (guide 2.14,
    ambiguity 14), so either key is read."""
    if not isinstance(reply, dict):
        return None
    codeid = _number(reply['code'] if 'code' in reply else reply.get('codeid'))
    return codeid if isinstance(codeid, int) and codeid > 0 else None


def create_respond_action_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = require_did(args, 'did')
    action = require_choice(args, 'action', RESPOND_ACTIONS)
    duration_s = require_duration(args, 'duration')
    reason = respond_reason(args)
    connections = parse_connections(args, 'connections')
    if action == 'connection' and not connections:
        raise ValueError('Missing required argument "connections": the connection action blocks the connections '
                         'given, as source>destination[:port] items such as 10.0.1.5>203.0.113.7:443.')
    if action != 'connection' and connections:
        raise ValueError(f'Invalid "connections": only the connection action takes connections, not {action}. '
                         'Leave connections out, or use action=connection.')
    body: dict[str, Any] = {'did': did, 'action': action, 'duration': duration_s, **reason}
    if connections:
        body['connections'] = connections
    try:
        reply = _respond_call(lambda: client.create_respond_action(body), change=True)
    except DarktraceApiError as error:
        raise _audit_refusal(error, body) from None
    codeid = _created_codeid(reply)
    if codeid is None:
        raise _unconfirmed('POST /antigena/manual', reply)
    # The raw reply keeps `codeid` under that name whichever key Darktrace used: playbooks read it (extend-context).
    return _read_back(client, codeid, did, f'RESPOND action {codeid} created: {action} on device {did} for '
                                           f'{_duration_text(duration_s)}', ('active',), {**reply, 'codeid': codeid})


# --- Darktrace/Email commands ---------------------------------------------------------------------
# Darktrace/Email (formerly Antigena Email) has its own API on the same host and tokens: searching emails, reading
# one, holding and releasing it per recipient, and its catalogues. What public evidence says about it is summed up in
# docs/email.md; "email-facts N" below names the section of the evidence notes a rule rests on.

EMAIL_PATH_EP = '/agemail/api/ep/api/v1.0'  # the guide's prefix for token access (email-facts 1)
EMAIL_PATH_DIRECT = '/agemail/api/v1.0'  # the Email service's own routes, which the vendor's XSOAR client used
EMAIL_PATHS = (EMAIL_PATH_EP, EMAIL_PATH_DIRECT)
EMAIL_PATH_AUTOMATIC = 'Automatic'
EMAIL_PATH_KEY = 'emailApiPath'  # integration context: the prefix that answered last
EMAIL_TIME_UNITS = ('seconds', 'milliseconds')
EMAIL_DIRECTIONS = ('inbound', 'outbound', 'internal')  # email-facts 3.1, 4
EMAIL_SEVERITIES = ('critical', 'warn', 'info')  # the `status` of /resources/tags (email-facts 3.4)
EMAIL_SEVERITY_RANK = {'info': 0, 'warn': 1, 'critical': 2}
EMAIL_FILTER_SCORE = 'Email.Antigena Email Anomaly'  # email-facts 3.1: apiFilter names real clients send
EMAIL_FILTER_SEVERITY = 'Model Tag Severity'
EMAIL_FILTER_DIRECTION = 'Connection.Direction'
EMAIL_FILTER_ACTION = 'Action.Action Taken'
EMAIL_FILTER_TAG = 'Antigena Tag'
EMAIL_FILTER_RECIPIENT = 'Recipient.Email'
EMAIL_FILTER_SENDER = 'Header.From.Email'
EMAIL_FILTER_SUBJECT = 'Header.Subject.Subject Value'
EMAIL_PAGE_SIZE = 20  # itemsPerPage both real clients send; no maximum is public (email-facts 3.1)
MAX_EMAIL_PAGE_SIZE = 100
MAX_EMAIL_SEARCH_PAGES = 50  # a search command reads at most this many pages
MAX_EMAIL_TEXT_LENGTH = 512
EMAIL_HELD = 'held'
EMAIL_RELEASED = 'released'
# The action statuses each action leaves a recipient in; the same request again is answered 409 (email-facts 3.3).
EMAIL_ACTION_TARGET = {'hold': (EMAIL_HELD, EMAIL_RELEASED), 'release': (EMAIL_RELEASED,)}
EMAIL_HEADERS = ['Time', 'Sender', 'Subject', 'Recipients', 'Direction', 'Score', 'Critical tags', 'Status', 'UUID']
EMAIL_RECIPIENT_HEADERS = ['Recipient', 'Status', 'Read', 'Actions taken', 'Tags', 'Release requested']
EMAIL_PERMISSION_MESSAGE = (
    'Darktrace refused {operation} (403 Forbidden): Darktrace/Email is not licensed and linked to this Threat '
    'Visualizer, or the API token\'s user lacks the Darktrace/Email permissions: "Email logs" for every Email '
    'command, plus "Manual Action" (or "Restricted Manual Action") to hold or release and "Download Email" to '
    'download. Grant them to the token\'s user in Darktrace, then retry.')


def email_prefixes(remembered: str | None, pinned: bool) -> tuple[str, ...]:
    """The Email API prefixes to try, in order: the pinned one alone, else the remembered one (or the guide's) first."""
    if pinned and remembered:
        return (remembered,)
    first = remembered if remembered in EMAIL_PATHS else EMAIL_PATH_EP
    return (first, *(prefix for prefix in EMAIL_PATHS if prefix != first))


def is_missing_route(error: DarktraceApiError) -> bool:
    """Whether an error says the prefix has no such route (a 404 that is not the Email API's own "Email not found",
    or a redirect to the login page), so the other prefix may have it (email-facts 1, 5)."""
    if error.kind == 'login_redirect':
        return True
    return error.kind == 'not_found' and 'email not found' not in str(error).lower()


def email_permission_error(operation: str) -> DarktraceApiError:
    return DarktraceApiError('permission', EMAIL_PERMISSION_MESSAGE.format(operation=operation), 403)


def email_time_value(epoch_ms: int, unit: str) -> int:
    """A search window end as the appliance reads it: epoch seconds (what real clients send) or milliseconds."""
    return epoch_ms if unit == 'milliseconds' else epoch_ms // 1000


def email_search_body(start_ms: int, end_ms: int, criteria: list[dict[str, str]], page: int, page_size: int,
                      unit: str) -> dict[str, Any]:
    """The body of POST /emails/search (email-facts 3.1): every criterion value as text, combined with "and"."""
    return {'page': page, 'itemsPerPage': page_size, 'timeFrom': email_time_value(start_ms, unit),
            'timeTo': email_time_value(end_ms, unit), 'query': {'criteriaList': criteria, 'mode': 'and'}}


def criterion(api_filter: str, operator: str, value: Any) -> dict[str, str]:
    return {'apiFilter': api_filter, 'operator': operator, 'value': str(value)}


def score_criterion(min_score: float) -> dict[str, str]:
    """`>` is the operator public clients use; a minimum of s on integer scores is "> ceil(s) - 1"."""
    return criterion(EMAIL_FILTER_SCORE, '>', max(math.ceil(min_score) - 1, -1))


def recipients_of(email: dict[str, Any]) -> list[dict[str, Any]]:
    return [rcpt for rcpt in as_list(email.get('rcpts')) if isinstance(rcpt, dict)]


def email_dtime_ms(email: dict[str, Any]) -> int:
    """When the email was seen: dtime_unix (ms), else dtime (ISO text); 0 when neither is usable."""
    value = _number(email.get('dtime_unix'))
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return time_ms(email.get('dtime')) or 0


def email_tags(email: dict[str, Any]) -> list[str]:
    """Every tag name of every recipient, once each, in order."""
    return list(dict.fromkeys(str(tag) for rcpt in recipients_of(email) for tag in as_list(rcpt.get('tags'))))


def tag_severities(catalogue: Any) -> dict[str, str]:
    """{tag name: critical | warn | info} from /resources/tags; entries without a known status are left out."""
    return {str(tag['name']): str(tag['status']) for tag in as_list(catalogue)
            if isinstance(tag, dict) and tag.get('name') and tag.get('status') in EMAIL_SEVERITIES}


def tags_by_severity(tags: list[str], severities: dict[str, str]) -> dict[str, list[str]]:
    """Tags grouped by severity; a tag the catalogue does not know counts as info, so it never stops a fetch."""
    grouped: dict[str, list[str]] = {severity: [] for severity in EMAIL_SEVERITIES}
    for tag in tags:
        grouped[severities.get(tag, 'info')].append(tag)
    return grouped


def is_actioned(email: dict[str, Any]) -> bool:
    return any(_flag(rcpt.get('action_status')) or as_list(rcpt.get('rcpt_actions_taken'))
               for rcpt in recipients_of(email))


def held_recipients(email: dict[str, Any]) -> list[str]:
    return [str(rcpt.get('rcpt_to')) for rcpt in recipients_of(email)
            if str(rcpt.get('rcpt_status') or '').lower() == EMAIL_HELD]


def email_link(server_url: str, uuid: Any) -> str:
    """The Email console's page of one email, as the vendor's client links it (email-facts 4)."""
    return f'{server_url}/agemail/?uuid={quote(str(uuid), safe="")}'


def email_context(email: dict[str, Any], severities: dict[str, str], server_url: str) -> dict[str, Any]:
    """The email as the API sent it, plus what analysts and playbooks need without parsing it again."""
    tags = email_tags(email)
    return {**email, 'time': ms_to_iso(email_dtime_ms(email)) if email_dtime_ms(email) else email.get('dtime'),
            'recipients': [str(rcpt.get('rcpt_to')) for rcpt in recipients_of(email)],
            'held_recipients': held_recipients(email), 'actioned': is_actioned(email), 'tags': tags,
            'tags_by_severity': tags_by_severity(tags, severities),
            'ui_link': email_link(server_url, email.get('uuid')), 'recipient_rows': recipient_rows(email)}


def recipient_rows(email: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per recipient, in text an incident grid shows: address, status, read, actions taken, release asked."""
    return [{'recipient': str(rcpt.get('rcpt_to')), 'status': str(rcpt.get('rcpt_status') or 'unknown'),
             'read': bool(_flag(rcpt.get('is_read'))),
             'actions': ', '.join(str(label) for label in as_list(rcpt.get('rcpt_actions_taken'))) or 'none',
             'release_requested': bool(rcpt.get('requestedRelease'))} for rcpt in recipients_of(email)]


def email_row(context: dict[str, Any]) -> dict[str, Any]:
    statuses = [f'{rcpt.get("rcpt_to")}: {rcpt.get("rcpt_status") or "unknown"}' for rcpt in recipients_of(context)]
    return {'Time': context.get('time'), 'Sender': context.get('header_from_email'),
            'Subject': readable_text(context.get('header_subject')), 'Recipients': joined(context['recipients']),
            'Direction': context.get('direction'), 'Score': context.get('model_score'),
            'Critical tags': joined(context['tags_by_severity']['critical']), 'Status': joined(statuses),
            'UUID': context.get('uuid')}


def recipient_row(rcpt: dict[str, Any]) -> dict[str, Any]:
    return {'Recipient': rcpt.get('rcpt_to'), 'Status': rcpt.get('rcpt_status'), 'Read': rcpt.get('is_read'),
            'Actions taken': joined(as_list(rcpt.get('rcpt_actions_taken'))), 'Tags': joined(as_list(rcpt.get('tags'))),
            'Release requested': bool(rcpt.get('requestedRelease'))}


def read_tag_severities(client: Client) -> dict[str, str]:
    return tag_severities(client.get_email_tags())


@dataclass(frozen=True)
class EmailQuery:
    """What to search for: server-side criteria, and the checks the API has no filter for (made on each hit)."""

    criteria: list[dict[str, str]]
    severities: tuple[str, ...] = ()  # with several, checked on each hit (one is a server-side criterion)
    actioned_only: bool = False
    held_only: bool = False

    def keeps(self, email: dict[str, Any], severities: dict[str, str]) -> bool:
        if self.actioned_only and not is_actioned(email):
            return False
        if self.held_only and not held_recipients(email):
            return False
        if len(self.severities) > 1:
            grouped = tags_by_severity(email_tags(email), severities)
            return any(grouped[severity] for severity in self.severities)
        return True


def email_query_from_args(args: dict[str, Any], prefix: str = '') -> EmailQuery:
    """The search arguments (or fetch parameters, named with `prefix`) as an EmailQuery, each checked."""
    criteria = []
    min_score = parse_score(args, f'{prefix}min_score')
    if min_score:
        criteria.append(score_criterion(min_score))
    for name, api_filter in (('sender', EMAIL_FILTER_SENDER), ('recipient', EMAIL_FILTER_RECIPIENT),
                             ('subject', EMAIL_FILTER_SUBJECT), ('tag', EMAIL_FILTER_TAG)):
        text = parse_text(args, f'{prefix}{name}', MAX_EMAIL_TEXT_LENGTH)
        if text:  # "contains" for text (email-facts 3.1); a tag name matches exactly
            criteria.append(criterion(api_filter, '=' if name == 'tag' else '~*', text))
    direction = parse_choice(args, f'{prefix}direction', EMAIL_DIRECTIONS)
    if direction:
        criteria.append(criterion(EMAIL_FILTER_DIRECTION, '=', direction))
    severities = parse_severities(args, f'{prefix}tag_severity')
    if len(severities) == 1:
        criteria.append(criterion(EMAIL_FILTER_SEVERITY, '=', severities[0]))
    held_only = parse_bool(args, f'{prefix}held_only')
    if held_only:
        criteria.append(criterion(EMAIL_FILTER_ACTION, '=', 'Hold'))  # as [PS] asks for held emails (email-facts 3.1)
    criteria += parse_raw_criteria(args, f'{prefix}raw_criteria')
    return EmailQuery(criteria, tuple(severities) if len(severities) < len(EMAIL_SEVERITIES) else (),
                      parse_bool(args, f'{prefix}actioned_only'), held_only)


# Commands

def search_email_pages(client: Client, query: EmailQuery, window: tuple[int, int], first_page: int,
                       page_size: int, limit: int) -> tuple[list[dict[str, Any]], dict[str, str], int]:
    """Hits of a search, page after page until a short page (email-facts 3.1) or `limit` kept hits, each once by
    uuid (the reply order is not documented, so a record can move between pages), and the pages read."""
    found: dict[str, dict[str, Any]] = {}
    severities: dict[str, str] | None = None
    pages = 0
    for page in range(first_page, first_page + MAX_EMAIL_SEARCH_PAGES):
        body = email_search_body(window[0], window[1], query.criteria, page, page_size, client.email_time_unit)
        reply = client.search_emails(body)
        pages += 1
        hits = [hit for hit in reply if isinstance(hit, dict) and hit.get('uuid')]
        if hits and severities is None:
            severities = read_tag_severities(client)
        for hit in hits:
            if str(hit['uuid']) not in found and query.keeps(hit, severities or {}):
                found[str(hit['uuid'])] = hit
        if len(reply) < page_size or len(found) >= limit:
            break
    ordered = sorted(found.values(), key=lambda hit: (-email_dtime_ms(hit), str(hit['uuid'])))
    return ordered[:limit], severities or {}, pages


def search_emails_command(client: Client, args: dict[str, Any]) -> CommandResults:
    start_ms, end_ms = parse_time_range(args, 'start_time', 'end_time', default_start='1 day')
    query = email_query_from_args(args)
    first_page = parse_int(args, 'page', 0, 10000, default=0)
    page_size = parse_int(args, 'page_size', 1, MAX_EMAIL_PAGE_SIZE, default=EMAIL_PAGE_SIZE)
    limit = parse_limit(args)
    emails, severities, pages = search_email_pages(client, query, (start_ms or 0, end_ms or now_ms()), first_page,
                                                   page_size, limit)
    contexts = [email_context(email, severities, client.server_url) for email in emails]
    title = (f'Darktrace/Email: {len(contexts)} emails from {ms_to_iso(start_ms)} to {ms_to_iso(end_ms)} '
             f'({pages} pages read)')
    return CommandResults(outputs_prefix='Darktrace.Email', outputs_key_field='uuid', outputs=contexts,
                          readable_output=markdown_table(title, [email_row(context) for context in contexts],
                                                         EMAIL_HEADERS, 'Darktrace.Email'),
                          raw_response=emails)


def email_readable(context: dict[str, Any], title: str) -> str:
    rcpts = recipients_of(context)
    readable = markdown_table(title, [email_row(context)], EMAIL_HEADERS)
    readable += markdown_table('Recipients', [recipient_row(rcpt) for rcpt in rcpts], EMAIL_RECIPIENT_HEADERS)
    summaries = [f'- {rcpt.get("rcpt_to")}: {readable_text(" ".join(str(line) for line in as_list(rcpt["summary"])))}'
                 for rcpt in rcpts if as_list(rcpt.get('summary'))]
    grouped = context['tags_by_severity']
    readable += '\n'.join(f'**{severity.capitalize()} tags**: {joined(grouped[severity])}'
                          for severity in EMAIL_SEVERITIES if grouped[severity]) + '\n'
    if summaries:
        readable += '\n**Summary**\n' + '\n'.join(summaries) + '\n'
    return readable + f'\n[Open in Darktrace/Email]({context["ui_link"]})\n'


def get_email_command(client: Client, args: dict[str, Any]) -> CommandResults:
    uuid = require_email_uuid(args)
    dtime_ms = parse_time_arg(args, 'dtime')
    email = client.get_email(uuid, dtime_ms)
    context = email_context(email, read_tag_severities(client), client.server_url)
    return CommandResults(outputs_prefix='Darktrace.Email', outputs_key_field='uuid', outputs=context,
                          readable_output=email_readable(context, f'Darktrace/Email: email {uuid}'),
                          raw_response=email)


def _action_recipients(email: dict[str, Any], action: str, asked: list[str]) -> tuple[list[str], dict[str, str]]:
    """The recipients to send `action` for, and each recipient's status before it. Asked for none, hold means every
    recipient not already held or released and release every held one; a recipient already in the state the action
    leads to is left out (the appliance would answer 409). An address the email does not list is sent as given:
    the appliance decides (restricted and group recipients are not public, email-facts 10 question 6)."""
    statuses = {str(rcpt.get('rcpt_to')): str(rcpt.get('rcpt_status') or '') for rcpt in recipients_of(email)}
    by_lower = {known.lower(): known for known in statuses}
    chosen = [by_lower.get(address.lower(), address) for address in asked] if asked else list(statuses)
    if not asked and action == 'release':
        chosen = [known for known in chosen if statuses[known].lower() == EMAIL_HELD]
    done = EMAIL_ACTION_TARGET.get(action, ())
    return [address for address in chosen if statuses.get(address, '').lower() not in done], statuses


def email_action_outcome(client: Client, uuid: str, action: str, recipients: list[str]) -> tuple[str, Any]:
    """('success' | 'already_actioned', reply) of one action request; a 409 (the same action again, email-facts
    3.3) is an answer, not an error."""
    try:
        return 'success', client.email_action(uuid, action, recipients)
    except DarktraceApiError as error:
        if error.status != 409:
            raise
        return 'already_actioned', {'error': str(error)}


def run_email_action(client: Client, args: dict[str, Any], action: str) -> CommandResults:
    uuid = require_email_uuid(args)
    asked = parse_email_addresses(args, 'recipients')
    email = client.get_email(uuid)
    recipients, statuses = _action_recipients(email, action, asked)
    status, reply = email_action_outcome(client, uuid, action, recipients) if recipients \
        else ('already_actioned', None)
    if status == 'success' and isinstance(reply, dict) and reply.get('error'):
        raise DarktraceApiError('api_error', f'Darktrace/Email refused to {action} email {uuid}: {reply["error"]}')
    asked_lower = {address.lower() for address in asked}
    left_out = [known for known in statuses if known not in recipients and (not asked or known.lower() in asked_lower)]
    rows = [{'Recipient': address, 'Status before': statuses.get(address) or 'unknown',
             'Outcome': 'done' if status == 'success' else 'already done'} for address in recipients]
    rows += [{'Recipient': address, 'Status before': statuses[address] or 'unknown', 'Outcome': 'already done'}
             for address in left_out]
    outcome = {'uuid': uuid, 'action': action, 'status': status, 'recipients': recipients,
               'previous_status': statuses, 'code': _dict(reply).get('code'), 'resp': _dict(reply).get('resp'),
               'message': _dict(reply).get('error')}
    title = email_action_title(uuid, action, status, bool(recipients))
    return CommandResults(outputs_prefix='Darktrace.EmailAction', outputs_key_field=['uuid', 'action'],
                          outputs=outcome, readable_output=markdown_table(title, rows,
                                                                          ['Recipient', 'Status before', 'Outcome']),
                          raw_response=reply)


def email_action_title(uuid: str, action: str, status: str, sent: bool) -> str:
    done = {'hold': 'held', 'release': 'released'}.get(action, f'actioned ({action})')
    if status == 'success':
        queued = ': Darktrace queues a release, delivery follows shortly' if action == 'release' else ''
        return f'Darktrace/Email: {action} sent for email {uuid}{queued}'
    if not sent:
        return f'Darktrace/Email: email {uuid} was already {done} for the recipients asked for: nothing sent'
    return f'Darktrace/Email: email {uuid} was already {done} (Darktrace answered 409): nothing changed'


def hold_email_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return run_email_action(client, args, 'hold')


def release_email_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return run_email_action(client, args, 'release')


def email_action_command(client: Client, args: dict[str, Any]) -> CommandResults:
    action = _required(parse_matching(args, 'action', EMAIL_ACTION_NAME_PATTERN, 'an action name such as hold'),
                       'action', 'an action name listed by darktrace-email-action-list')
    # Which actions the API takes besides hold and release is not public (email-facts 10, question 4): the
    # appliance's own answer (400 for an action it does not take) names what is wrong.
    return run_email_action(client, args, action)


def list_email_actions_command(client: Client, args: dict[str, Any]) -> CommandResults:
    reply = client.get_email_actions()
    items = [item if isinstance(item, dict) else {'action': item} for item in
             (reply if isinstance(reply, list) else [{'action': key, **_dict(value)} for key, value in reply.items()]
              if isinstance(reply, dict) else [])]
    rows = [{'Action': item.get('action') or item.get('name') or item.get('id'),
             'Description': readable_text(item.get('description') or item.get('label'))} for item in items]
    return CommandResults(outputs_prefix='Darktrace.EmailActionType', outputs=items, raw_response=reply,
                          readable_output=markdown_table('Darktrace/Email actions', rows, ['Action', 'Description']))


def list_email_tags_command(client: Client, args: dict[str, Any]) -> CommandResults:
    severities = parse_severities(args, 'severity')
    limit = parse_limit(args)
    reply = client.get_email_tags()
    tags = [tag for tag in reply if isinstance(tag, dict) and (not severities or tag.get('status') in severities)]
    tags.sort(key=lambda tag: (-EMAIL_SEVERITY_RANK.get(str(tag.get('status')), -1), str(tag.get('name'))))
    rows = [{'Tag': tag.get('name'), 'Severity': tag.get('readable_status') or tag.get('status'),
             'Category': tag.get('category'), 'Description': readable_text(tag.get('description')),
             'Tag ID': tag.get('tag_id')} for tag in tags[:limit]]
    return CommandResults(outputs_prefix='Darktrace.EmailTag', outputs_key_field='tag_id', outputs=tags[:limit],
                          raw_response=reply,
                          readable_output=markdown_table(f'Darktrace/Email tags ({len(tags)})', rows,
                                                         ['Tag', 'Severity', 'Category', 'Description', 'Tag ID']))


def list_email_filters_command(client: Client, args: dict[str, Any]) -> CommandResults:
    reply = client.get_email_filters()
    items = [item if isinstance(item, dict) else {'apiFilter': item} for item in as_list(reply)] \
        if isinstance(reply, list) else [{'apiFilter': key, **_dict(value)} for key, value in _dict(reply).items()]
    rows = [{'Filter': item.get('apiFilter') or item.get('name') or item.get('filter'),
             'Type': item.get('type'), 'Operators': joined(as_list(item.get('operators')))} for item in items]
    return CommandResults(outputs_prefix='Darktrace.EmailFilter', outputs=items, raw_response=reply,
                          readable_output=markdown_table('Darktrace/Email search filters', rows,
                                                         ['Filter', 'Type', 'Operators']))


def download_email_command(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    uuid = require_email_uuid(args)
    content = client.download_email(uuid)
    if not isinstance(content, bytes):  # a JSON reply where the message was expected (email-facts 3.6)
        raise DarktraceApiError('unexpected_reply', (
            f'Darktrace answered GET /emails/{uuid}/download with {describe(content)} where the email message was '
            'expected. Check that the token\'s user has the "Download Email" permission, then try again.'))
    return fileResult(f'{uuid}.eml', content)


def checks_email(params: dict[str, Any]) -> bool:
    """Whether test-module checks Darktrace/Email: when fetch reads it, or the instance asks (email_test)."""
    fetches_email = argToBoolean(params.get('isFetch') or False) and FETCH_SOURCE_EMAIL in _fetch_sources(params)
    return fetches_email or parse_bool(params, 'email_test', label='Test Darktrace/Email')


def test_email_api(client: Client) -> None:
    """The tokens reach the Email API (the filter catalogue, as the PowerShell client checks, email-facts 11.1) and
    its search answers a one-item page of the last hour in the configured time unit."""
    client.get_email_filters()
    end_ms = now_ms()
    client.search_emails(email_search_body(end_ms - 60 * 60 * 1000, end_ms, [], 0, 1, client.email_time_unit))


''' FETCH INCIDENTS '''

DEFAULT_MAX_ALERTS = 50
MAX_ALERTS_LIMIT = 1000
DEFAULT_FIRST_FETCH = '3 days'
MAX_REQUESTS_PER_RUN = 3
INITIAL_WINDOW_MS = 60 * 60 * 1000
MIN_WINDOW_MS = 1000
MAX_WINDOW_MS = 7 * 24 * 60 * 60 * 1000
# A fetch run reads at most FETCH_MAX_RUN_BYTES, each source an equal part of what the sources before it left
# (fetch_incidents). Each reply is capped at FETCH_MAX_REPLY_BYTES; a source asks for a window or a listing only
# while such a reply still fits its part (its first request always goes, so it advances every run), and reads records
# one by one only while the largest so far still fits (_read_one_by_one). A reply over the cap narrows the window by
# NARROWING_FACTOR. The one exception, a millisecond whose id listing alone is over the cap, is _compact_listing's.
FETCH_MAX_RUN_BYTES = 2_000_000
FETCH_MAX_REPLY_BYTES = 2 * 1024 * 1024 // MAX_REQUESTS_PER_RUN  # 699,050 bytes (683 KiB)
NARROWING_FACTOR = 8
# pbids of breaches delivered without a usable time, remembered so a re-read window does not deliver them again.
MAX_UNPLACED_PBIDS = 1000
# The appliance accepts requests dated up to 30 minutes from its clock; a stored fetch start further ahead of
# this machine's clock means the clock moved back or the state is damaged.
CLOCK_SKEW_MS = 30 * 60 * 1000
RESET_ADVICE = ('To start again, open the instance in Settings > Integrations and click "Reset the \'last run\' '
                'timestamp" (set "First fetch time" to the time of the last incident fetched first, so breaches are '
                'neither skipped nor fetched twice).')
# The appliance rejects requests dated more than 30 minutes from its clock, so once our clock
# has passed a moment by this much, every breach created up to that moment is on the appliance.
SETTLE_MS = 35 * 60 * 1000
FETCH_SOURCE_BREACHES = 'Model Breaches'
FETCH_SOURCE_AI_ANALYST = 'AI Analyst Incidents'
FETCH_SOURCE_EMAIL = 'Darktrace/Email'
FETCH_SOURCES = (FETCH_SOURCE_BREACHES, FETCH_SOURCE_AI_ANALYST, FETCH_SOURCE_EMAIL)
AI_ANALYST_CURSOR_KEY = 'ai_analyst'  # the AI Analyst cursor's part of lastRun; the breach cursor is the rest
AI_CURSOR_PREFIX = f'{AI_ANALYST_CURSOR_KEY}.'  # how messages name its fields: ai_analyst.start_ms
AI_RECORDS = 'AI Analyst incident'  # what messages say a damaged AI Analyst cursor does not skip
# Which time starttime/endtime filter on for AI Analyst events (createdAt, or the activity periods) is not
# documented. The sweep lists the ids from this far before its previous run up to the cursor and de-duplicates by
# event id, so an event is found either way, as long as it reaches the API at most this long after its createdAt,
# and its activity ended at most this long before it (together).
AI_ANALYST_LOOKBACK_MS = 12 * 60 * 60 * 1000
# The look-back is not read with every request: its ids are listed once the cursor has moved this far, or each run
# once it is this close to now (a sweep).
AI_ANALYST_SWEEP_STEP_MS = 60 * 60 * 1000
MAX_AI_ANALYST_SEEN_IDS = 2000  # lastRun stays small; past this, the horizon moves up to the newest ids
# Records of a window of MIN_WINDOW_MS too dense for one reply are listed by id and read one by one, this many at
# most per source and run (about 0.6 MB of model breaches).
DENSE_BATCH_LIMIT = 200
# lastRun key naming the source that went first, when sources take turns (max_alerts below their number).
FETCH_TURN_KEY = 'fetch_turn'
# The one key the integration adds to a record's rawJSON: the pack's classifier picks the incident type from it.
RECORD_KIND_KEY = 'darktraceRecordKind'
BREACH_RECORD_KIND = 'Model Breach'
AI_ANALYST_RECORD_KIND = 'AI Analyst Incident'
AI_ANALYST_HIGH_SCORE = 80  # AI Analyst scores are 0..100
MIRROR_DIRECTIONS = {'None': None, 'Incoming': 'In', 'Outgoing': 'Out', 'Incoming And Outgoing': 'Both'}
DEFAULT_COMMENT_TAG = 'darktrace comment'


@dataclass(frozen=True)
class FetchSettings:
    """The fetch parameters, validated."""

    min_score: float  # 0..100, as the user gives it
    max_alerts: int  # for all sources together
    first_fetch_ms: int
    include_acknowledged: bool  # for all sources
    sources: tuple[str, ...] = (FETCH_SOURCE_BREACHES,)
    ai_analyst_min_score: float = 0.0  # 0..100, the scale of AI Analyst scores
    email: 'EmailFetchSettings | None' = None  # with Darktrace/Email among the sources

    @classmethod
    def from_params(cls, params: dict[str, Any], now_ms: int) -> 'FetchSettings':
        min_score = parse_score(params, 'min_score', label='Minimum Score') or 0.0
        max_alerts = parse_int(params, 'max_alerts', 1, MAX_ALERTS_LIMIT, default=DEFAULT_MAX_ALERTS)
        first_fetch_text = str(params.get('first_fetch') or DEFAULT_FIRST_FETCH).strip()
        first_fetch_ms = parse_first_fetch(first_fetch_text, now_ms)
        include_acknowledged = parse_bool(params, 'include_acknowledged', default=True)
        sources = _fetch_sources(params)
        return cls(min_score, max_alerts, first_fetch_ms, include_acknowledged, sources,
                   parse_score(params, 'ai_analyst_min_score', label='Minimum AI Analyst Score') or 0.0,
                   EmailFetchSettings.from_params(params) if FETCH_SOURCE_EMAIL in sources else None)


def _fetch_sources(params: dict[str, Any]) -> tuple[str, ...]:
    """The "Fetch" multi-select, a list or comma-separated text; none chosen (as on an instance set up before
    it existed) means model breaches only, as before."""
    chosen = [parse_choice({'fetch_sources': name}, 'fetch_sources', FETCH_SOURCES, label='Fetch')
              for name in argToList(params.get('fetch_sources'))]
    return tuple(source for source in FETCH_SOURCES if source in chosen) or (FETCH_SOURCE_BREACHES,)


@dataclass(frozen=True)
class MirrorSettings:
    """The mirroring parameters, validated, with the instance name incidents carry."""

    direction: str | None  # 'In', 'Out', 'Both', or None when incidents are not mirrored
    instance: str
    close_incident: bool
    close_out: bool
    comment_tag: str

    @classmethod
    def from_params(cls, params: dict[str, Any], instance: str) -> 'MirrorSettings':
        choice = parse_choice(params, 'mirror_direction', tuple(MIRROR_DIRECTIONS), default='None',
                              label='Incident Mirroring Direction')
        return cls(direction=MIRROR_DIRECTIONS[choice], instance=instance,
                   close_incident=parse_bool(params, 'close_incident'), close_out=parse_bool(params, 'close_out'),
                   comment_tag=str(params.get('comment_tag') or '').strip() or DEFAULT_COMMENT_TAG)


def breach_severity(breach: dict[str, Any]) -> float:
    """XSOAR severity from the model's category and priority, raised one step for a score of 0.8 or more.

    | model                          | score < 0.8 | score ≥ 0.8 |
    | Critical category / priority 5 | High        | Critical    |
    | Suspicious / priority 4        | Medium      | High        |
    | Compliance                     | Low         | Medium      |
    | Informational / priority 0-3   | Low         | Medium      |
    """
    model = _breach_model(breach)
    category = str(model.get('category') or '').lower()
    priority = model.get('priority')
    if not isinstance(priority, (int, float)):
        priority = 0
    high_score = (_number(breach.get('score')) or 0) >= 0.8
    if category == 'critical' or priority >= 5:
        return IncidentSeverity.CRITICAL if high_score else IncidentSeverity.HIGH
    if category == 'suspicious' or priority == 4:
        return IncidentSeverity.HIGH if high_score else IncidentSeverity.MEDIUM
    return IncidentSeverity.MEDIUM if high_score else IncidentSeverity.LOW


def with_breach_defaults(breach: dict[str, Any], server_url: str | None) -> dict[str, Any]:
    """The breach with what an appliance may leave out and the pack's mapper reads: its Threat Visualizer link
    (absent when the appliance has no FQDN configured, guide 0.6), built from the server URL, and its 0-100 score."""
    added: dict[str, Any] = {}
    if not breach.get('breachUrl') and server_url and as_pbid(breach.get('pbid')):
        added['breachUrl'] = f'{server_url}/#modelbreach/{as_pbid(breach.get("pbid"))}'
    score = _number(breach.get('score'))
    if _number(breach.get('percentscore')) is None and score is not None:
        added['percentscore'] = round(score * 100)
    return {**breach, **added} if added else breach


def breach_to_incident(breach: dict[str, Any], mirror: MirrorSettings | None = None,
                       server_url: str | None = None) -> dict[str, Any]:
    breach = with_breach_defaults(breach, server_url)
    model = _breach_model(breach)
    device = _dict(breach.get('device'))
    pbid = as_pbid(breach.get('pbid'))
    details = (model.get('description') or '').strip()
    if device:
        details += f'\n\nDevice: {device_name(device)} (did {device.get("did")}, IP {device.get("ip")})'
    incident = {
        'name': f'Darktrace Model Breach {pbid}: {model.get("name", "unknown model")}',
        'occurred': ms_to_iso(time_ms(breach.get('time')) or time_ms(breach.get('creationTime'))),
        'severity': breach_severity(breach),
        'details': details.strip(),
        'rawJSON': json.dumps({**breach, RECORD_KIND_KEY: BREACH_RECORD_KIND}),
        'dbotMirrorId': str(pbid),
    }
    return with_mirroring(incident, mirror)


def with_mirroring(incident: dict[str, Any], mirror: MirrorSettings | None) -> dict[str, Any]:
    """The incident, saying how XSOAR mirrors it when `mirror` has a direction."""
    if mirror and mirror.direction:
        incident['dbotMirrorDirection'] = mirror.direction
        incident['dbotMirrorInstance'] = mirror.instance
        if mirror.direction in ('Out', 'Both'):
            # XSOAR hands update-remote-system only the War Room entries that carry one of these tags.
            incident['dbotMirrorTags'] = [mirror.comment_tag]
    return incident


def _creation_ms(breach: dict[str, Any]) -> int | None:
    """When the breach record was created (else when its activity began), in epoch ms; None when it has neither."""
    return time_ms(breach.get('creationTime')) or time_ms(breach.get('time'))


# A stored cursor is repaired only where that loses and repeats nothing (a value missing, a window out of bounds);
# any other damage fails the run with a message naming the field and how to reset the state.

def _damaged_state(name: str, value: Any, expected: str, records: str = 'breach') -> ValueError:
    shown = json.dumps(value, default=str)[:60]
    return ValueError(f'The stored fetch state (last run) of this instance is damaged: {name} is {shown}, where '
                      f'{expected} was expected. Nothing was fetched, so no {records} is skipped. {RESET_ADVICE}')


def _stored_ms(last_run: dict[str, Any], name: str, default: int, prefix: str = '', records: str = 'breach') -> int:
    """A whole, non-negative number of milliseconds from lastRun (the platform may hand numbers back as floats);
    `prefix` places the field in lastRun for the message ('ai_analyst.')."""
    value = last_run.get(name, default)
    number = _number(value) if not isinstance(value, str) or value.strip().isdigit() else None
    if not isinstance(number, (int, float)) or not math.isfinite(number) or number < 0 or number != int(number):
        raise _damaged_state(prefix + name, value, 'a whole number of milliseconds, at least 0', records)
    return int(number)


def _not_ahead_of_clock(name: str, value: int, now_ms: int, records: str = 'breach') -> None:
    """Never moved back silently: the clock may have jumped back, and fetching from now would skip records."""
    if value > now_ms + CLOCK_SKEW_MS:
        raise ValueError(f'The stored fetch state (last run) of this instance says {ms_to_iso(value)} '
                         f'({name}), more than 30 minutes after this machine\'s clock ({ms_to_iso(now_ms)}): the '
                         f'clock moved back or the state is damaged. Nothing was fetched, so no {records} is skipped. '
                         f'If the clock is right, reset the state. {RESET_ADVICE}')


def _window_within_bounds(window_ms: int) -> int:
    if not MIN_WINDOW_MS <= window_ms <= MAX_WINDOW_MS:
        demisto.info(f'Darktrace: stored fetch window of {window_ms} ms is outside {MIN_WINDOW_MS}..'
                     f'{MAX_WINDOW_MS} ms; using the nearest bound.')
    return min(max(window_ms, MIN_WINDOW_MS), MAX_WINDOW_MS)


def _stored_pbids(last_run: dict[str, Any], name: str) -> set[int]:
    value = last_run.get(name, [])
    pbids = [as_pbid(item) for item in value] if isinstance(value, list) else [None]
    if None in pbids:
        raise _damaged_state(name, value, 'a list of model breach ids')
    return {pbid for pbid in pbids if pbid is not None}


def fetch_cursor(last_run: dict[str, Any], settings: FetchSettings, now_ms: int) -> dict[str, Any]:
    """The breach fetch cursor of lastRun, checked: repaired where that loses nothing, else a ValueError that names
    the field and says how to reset the state. Every repair is logged."""
    if not isinstance(last_run, dict):
        raise _damaged_state('lastRun', last_run, 'an object')
    first_fetch_ms = _stored_ms(last_run, 'first_fetch_ms', settings.first_fetch_ms)
    start_ms = _stored_ms(last_run, 'start_ms', first_fetch_ms)
    if 'first_fetch_ms' not in last_run and start_ms >= EPOCH_MS_FLOOR:
        # State stored without its first fetch time: a start before today's first fetch time may be a cursor that
        # fell behind (an appliance down for days), so it is kept; only a start before 1973 is plainly damaged.
        first_fetch_ms = min(first_fetch_ms, start_ms)
    window_ms = _stored_ms(last_run, 'window_ms', INITIAL_WINDOW_MS)
    seen = _stored_pbids(last_run, 'seen_pbids')
    unplaced = _stored_pbids(last_run, 'unplaced_pbids')
    _not_ahead_of_clock('first_fetch_ms', first_fetch_ms, now_ms)
    _not_ahead_of_clock('start_ms', start_ms, now_ms)
    if start_ms < first_fetch_ms:
        # A cursor starts at the first fetch time and only moves forward, so nothing before it is owed.
        demisto.info(f'Darktrace: stored fetch start {ms_to_iso(start_ms)} is before the first fetch time '
                     f'{ms_to_iso(first_fetch_ms)}; fetching from the first fetch time.')
        start_ms, seen = first_fetch_ms, set()
    return {'first_fetch_ms': first_fetch_ms, 'start_ms': start_ms, 'seen_pbids': seen,
            'window_ms': _window_within_bounds(window_ms),
            'unplaced_pbids': unplaced, 'dense': last_run.get('dense') is True}


def _breach_summary(record: Any) -> str:
    """Enough of a reply record to find it in the Threat Visualizer: model, time, device (or the record itself)."""
    if not isinstance(record, dict):
        return f'{describe(record)}'
    device = _dict(record.get('device'))
    return (f'model "{_breach_model(record).get("name") or "unknown"}", time {ms_to_iso(record.get("time"))}, '
            f'created {ms_to_iso(record.get("creationTime"))}, device {device_name(device) or "unknown"} '
            f'(did {device.get("did")}), pbid {json.dumps(record.get("pbid"))[:40]}')


def _resized_window(window_ms: int, found: int, limit: int) -> int:
    """The next window of any source: narrowed in proportion when it held more than twice `limit` records, doubled
    when it held at most half, within MIN_WINDOW_MS..MAX_WINDOW_MS."""
    if found > 2 * limit:
        return max(MIN_WINDOW_MS, window_ms * limit // found)
    if found <= limit // 2:
        return min(MAX_WINDOW_MS, window_ms * 2)
    return window_ms


def _narrowed_window(window_ms: int, what: str, start_ms: int, end_ms: int) -> int:
    """The window after a reply over FETCH_MAX_REPLY_BYTES: NARROWING_FACTOR times narrower, never below
    MIN_WINDOW_MS (a window that narrow is read compactly instead, see _compact_listing)."""
    narrower = max(MIN_WINDOW_MS, window_ms // NARROWING_FACTOR)
    demisto.debug(f'Darktrace: {what} from {ms_to_iso(start_ms)} to {ms_to_iso(end_ms)} are more than '
                  f'{FETCH_MAX_REPLY_BYTES:,} bytes; asking again for {narrower} ms')
    return narrower


def _too_large(error: DarktraceApiError) -> bool:
    return error.kind == 'too_large'


def _read_budget(client: Client, read_budget: int) -> dict[str, int]:
    """A source run's part of the fetch run's read budget, from what `client` has read so far."""
    return {'read_from': client.read_bytes, 'read_until': client.read_bytes + read_budget}


def _may_ask(client: Client, run: dict[str, Any]) -> bool:
    """Whether the source run may ask for another window or listing: its first request, or one whose largest
    reply (FETCH_MAX_REPLY_BYTES) still fits its read budget."""
    return client.read_bytes == run['read_from'] or client.read_bytes + FETCH_MAX_REPLY_BYTES <= run['read_until']


RecordKey = TypeVar('RecordKey')
ReadRecord = TypeVar('ReadRecord')


def _read_one_by_one(client: Client, run: dict[str, Any], keys: list[RecordKey],
                     read: Callable[[RecordKey], ReadRecord]) -> list[ReadRecord]:
    """`read` of each key in turn, the first always, then each while one as large as the largest read so far still
    fits the run's read budget."""
    records: list[ReadRecord] = []
    largest = 0
    for key in keys:
        if records and client.read_bytes + largest > run['read_until']:
            break
        before = client.read_bytes
        records.append(read(key))
        largest = max(largest, client.read_bytes - before)
    return records


def _compact_listing(read: Callable[[int, int, int], list[Any]], start_ms: int, end_ms: int,
                     what: str) -> tuple[list[Any], int]:
    """The ids and creation times of a window of at most MIN_WINDOW_MS whose full records are over the reply cap
    (`read(start_ms, end_ms, max_bytes)` asks for them with `responsedata`, guide 0.6), and the end of what it
    lists. A listing over the cap too is narrowed to the window's first millisecond; a millisecond whose listing
    alone is over the cap is read whole, up to the command cap, and logged (more than ~15,000 records)."""
    try:
        return read(start_ms, end_ms, FETCH_MAX_REPLY_BYTES), end_ms
    except DarktraceApiError as error:
        if not _too_large(error) or end_ms <= start_ms + 1:
            raise
    try:
        return read(start_ms, start_ms + 1, FETCH_MAX_REPLY_BYTES), start_ms + 1
    except DarktraceApiError as error:
        if not _too_large(error):
            raise
    demisto.info(f'Darktrace: the ids of the {what} created at {ms_to_iso(start_ms)} alone are more than '
                 f'{FETCH_MAX_REPLY_BYTES:,} bytes; reading that millisecond\'s ids whole, once this run.')
    return read(start_ms, start_ms + 1, MAX_REPLY_BYTES), start_ms + 1


def _breach_window_params(settings: FetchSettings, start_ms: int, end_ms: int) -> dict[str, Any]:
    return {
        # One millisecond earlier, in case the appliance treats the bound as exclusive.
        'starttime': start_ms - 1, 'endtime': end_ms, 'creationtime': True,
        'minscore': min_score_param(settings.min_score),
        'includeacknowledged': settings.include_acknowledged, 'deviceattop': True,
    }


def _dense_breaches(client: Client, settings: FetchSettings, run: dict[str, Any],
                    room: int) -> tuple[list[tuple[int, int, dict[str, Any] | None]], int, bool]:
    """The next breaches of the run's window of MIN_WINDOW_MS, too dense to read whole: listed by pbid and
    creationTime (`responsedata`, guide 2.31), the next `room` (at most DENSE_BATCH_LIMIT, and what the read budget
    allows) read one by one (`pbid`), as (created, pbid, breach or None when it vanished meanwhile); the end of the
    window listed; whether more remain."""
    def read(start_ms: int, end_ms: int, max_bytes: int) -> list[Any]:
        params = {**_breach_window_params(settings, start_ms, end_ms), 'responsedata': 'pbid,creationTime'}
        return as_list(client.get_model_breaches(params, max_bytes=max_bytes))

    start_ms, seen = run['start_ms'], run['seen']
    listing, end_ms = _compact_listing(read, start_ms, run['end_ms'], 'model breaches')
    fresh = sorted({(created, pbid) for created, pbid in (
        (time_ms(item.get('creationTime')), as_pbid(item.get('pbid'))) for item in listing if isinstance(item, dict))
        if created is not None and pbid is not None
        and (start_ms < created <= end_ms or (created == start_ms and pbid not in seen))})
    batch = _read_one_by_one(client, run, fresh[:min(room, DENSE_BATCH_LIMIT)],
                             lambda key: (*key, _dense_breach(client, key[1])))
    demisto.info(f'Darktrace: {len(fresh)} model breaches created from {ms_to_iso(start_ms)} to {ms_to_iso(end_ms)} '
                 f'are more than one fetch reply holds; read {len(batch)} of them one by one.')
    return batch, end_ms, len(fresh) > len(batch)


def _dense_breach(client: Client, pbid: int) -> dict[str, Any] | None:
    try:
        return _read_breach(client, pbid)
    except DarktraceApiError as error:
        if error.kind != 'not_found':
            raise
    demisto.info(f'Darktrace: model breach {pbid} was listed but is gone; it is not fetched.')
    return None


PlacedBreaches = tuple[list[tuple[int, int, dict[str, Any]]], dict[int, dict[str, Any]]]


def _placed_breaches(reply: list[Any], window: tuple[int, int], seen: set[int], unplaced_pbids: list[int],
                     skip: Callable[[Any, str], None]) -> PlacedBreaches:
    """The breaches of a window reply not yet delivered, as sorted (created, pbid, breach), and those whose
    times cannot be read by pbid; records without a pbid are logged through `skip`."""
    start_ms, end_ms = window
    fresh: list[tuple[int, int, dict[str, Any]]] = []
    unplaced: dict[int, dict[str, Any]] = {}
    for record in reply:
        pbid = as_pbid(record.get('pbid')) if isinstance(record, dict) else None
        created = _creation_ms(record) if isinstance(record, dict) else None
        if pbid is None:
            skip(record, 'without a usable pbid' if isinstance(record, dict) else 'that is not an object')
        elif created is None:
            if pbid not in unplaced_pbids:
                unplaced[pbid] = record
        elif start_ms < created <= end_ms or (created == start_ms and pbid not in seen):
            fresh.append((created, pbid, record))
    fresh.sort(key=lambda item: item[:2])
    return fresh, unplaced


def _breach_skipper() -> Callable[[Any, str], None]:
    """Logs each record skipped, once per run."""
    logged: set[str] = set()

    def skip(record: Any, why: str) -> None:
        message = f'Darktrace: skipped a model breach record {why}: {_breach_summary(record)}'
        if message not in logged:
            logged.add(message)
            demisto.error(message)
    return skip


def _read_breach_window(client: Client, settings: FetchSettings, run: dict[str, Any], limit: int,
                        skip: Callable[[Any, str], None]) -> tuple[list[Any], dict[int, dict[str, Any]], bool] | None:
    """One window of the breach run: its fresh breaches, those without times, and whether more than the room
    remain; None when the reply was over the cap and the window narrowed. A window of MIN_WINDOW_MS over the
    cap (or known dense from the previous run) is read compactly (_dense_breaches)."""
    window = (run['start_ms'], run['end_ms'])
    if not (run['dense'] and run['window_ms'] <= MIN_WINDOW_MS):
        try:
            reply = as_list(client.get_model_breaches({**_breach_window_params(settings, *window),
                                                       'includebreachurl': True}, max_bytes=FETCH_MAX_REPLY_BYTES))
        except DarktraceApiError as error:
            if not _too_large(error):
                raise
            if run['window_ms'] > MIN_WINDOW_MS:
                run['window_ms'] = _narrowed_window(run['window_ms'], 'model breaches', *window)
                return None
        else:
            run['window_ms'] = _resized_window(run['window_ms'], len(reply), limit)
            fresh, unplaced = _placed_breaches(reply, window, run['seen'], run['unplaced_pbids'], skip)
            return fresh, unplaced, False
    if not _may_ask(client, run):  # the next run starts with the listing
        run['dense'] = True
        return None
    items, run['end_ms'], more = _dense_breaches(client, settings, run, limit - len(run['delivered']))
    run['dense_read'] = True
    return items, {}, more


def _advance_breach_run(run: dict[str, Any], fresh: list[Any], unplaced: dict[int, dict[str, Any]], more: bool,
                        limit: int, settled_ms: int) -> None:
    """Deliver what fits of one window's breaches and move the cursor past them (and past the whole window once
    it was read whole and has settled)."""
    start_ms = run['start_ms']
    room = limit - len(run['delivered'])
    # Records that cannot be placed in time go first, so they never wait behind the others.
    placed_first = sorted(unplaced.items())[:room]
    run['delivered'].extend(record for _, record in placed_first)
    run['unplaced_pbids'] = (run['unplaced_pbids'] + [pbid for pbid, _ in placed_first])[-MAX_UNPLACED_PBIDS:]
    taken = fresh[:room - len(placed_first)]
    run['delivered'].extend(record for _, _, record in taken if record is not None)
    if more or len(fresh) > len(taken) or len(unplaced) > len(placed_first):
        next_start = taken[-1][0] if taken else start_ms
    else:  # the whole window was read, but past settled_ms the appliance may still record breaches
        next_start = max([start_ms, min(run['end_ms'], settled_ms)] + [created for created, _, _ in taken])
    if next_start != start_ms:
        run['seen'] = set()
    run['seen'].update(pbid for created, pbid, _ in taken if created == next_start)
    run['start_ms'] = next_start


def fetch_model_breaches(client: Client, cursor: dict[str, Any], settings: FetchSettings, now_ms: int, limit: int,
                         read_budget: int = FETCH_MAX_RUN_BYTES) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The model-breach source of a fetch cycle: the next breaches by creation time, each exactly once, at most
    `limit` and about `read_budget` bytes read, and the next cursor.

    The cursor is (`start_ms`, `seen_pbids`): every breach created before `start_ms` was delivered,
    and so were those created exactly at `start_ms` whose pbid is in `seen_pbids`. Each request asks
    for a bounded window `[start_ms, start_ms + window_ms]` that narrows when it holds far more than
    `limit` breaches, or more bytes than FETCH_MAX_REPLY_BYTES (the request is then made again,
    narrower, within the run), and widens when it holds few. A window of MIN_WINDOW_MS still over the cap
    is listed by pbid and creation time and its next breaches read one by one (`dense` remembers that for
    the next run). Windows filter on `creationTime`, so a breach recorded hours after its activity (`time`)
    is still picked up when it appears. A breach whose times cannot be read is delivered when first seen and
    remembered by pbid (`unplaced_pbids`); one without a pbid is logged, never turned into an incident. Any
    failed request or wrong-shaped reply raises, and the platform then keeps the previous `lastRun`.
    """
    cursor = fetch_cursor(cursor, settings, now_ms)
    run: dict[str, Any] = {**cursor, 'seen': cursor['seen_pbids'], 'unplaced_pbids': sorted(cursor['unplaced_pbids']),
                           'delivered': [], **_read_budget(client, read_budget)}
    skip = _breach_skipper()
    for _ in range(MAX_REQUESTS_PER_RUN):  # every request counts, a reply over the cap too, so a run reads little
        # Past now: the appliance's clock is a little ahead of ours, nothing to ask for yet.
        if run['start_ms'] > now_ms or not _may_ask(client, run):
            break
        run['end_ms'] = min(run['start_ms'] + run['window_ms'], now_ms)
        window = _read_breach_window(client, settings, run, limit, skip)
        if window is None:
            continue
        _advance_breach_run(run, *window, limit, now_ms - SETTLE_MS)
        if run.get('dense_read'):  # read compactly at most once a run; the next run starts there if not past it
            run['dense'] = run['start_ms'] < run['end_ms']
            break
        if len(run['delivered']) >= limit or run['end_ms'] >= now_ms:
            break
    next_run = {'start_ms': run['start_ms'], 'seen_pbids': sorted(run['seen']), 'window_ms': run['window_ms'],
                'first_fetch_ms': cursor['first_fetch_ms']}
    if run['unplaced_pbids']:
        next_run['unplaced_pbids'] = run['unplaced_pbids']
    if run['dense']:
        next_run['dense'] = True
    return next_run, run['delivered']


def ai_event_severity(event: dict[str, Any]) -> float:
    """XSOAR severity of an AI Analyst incident event from its category, raised one step for a score of 80 or more.

    | category                            | score < 80 | score ≥ 80 |
    | critical                            | High       | Critical   |
    | suspicious                          | Medium     | High       |
    | compliance, informational, missing  | Low        | Medium     |

    The category is the event's `category` (else its incident's `groupCategory`); the score its `aiaScore`
    (else `groupScore`), both from 0 to 100.
    """
    category = str(event.get('category') or event.get('groupCategory') or '').lower()
    score = _number(event.get('aiaScore'))
    if score is None:
        score = _number(event.get('groupScore'))
    high_score = (score or 0) >= AI_ANALYST_HIGH_SCORE
    if category == 'critical':
        return IncidentSeverity.CRITICAL if high_score else IncidentSeverity.HIGH
    if category == 'suspicious':
        return IncidentSeverity.HIGH if high_score else IncidentSeverity.MEDIUM
    return IncidentSeverity.MEDIUM if high_score else IncidentSeverity.LOW


def summary_lines(value: Any, indent: str = '') -> str:
    """A summary for an analyst, whatever its shape: text as it is, an object as "key: value" lines, a list as
    "- item" lines, nested ones indented."""
    if value is None or isinstance(value, str):
        return indent + (value or '').strip()
    if isinstance(value, dict):
        items = [(f'{key}:', item) for key, item in value.items() if item not in (None, '', [], {})]
    elif isinstance(value, list):
        items = [('-', item) for item in value if item not in (None, '', [], {})]
    else:
        return f'{indent}{value}'
    lines = [f'{indent}{label}\n{summary_lines(item, indent + "  ")}' if isinstance(item, (dict, list))
             else f'{indent}{label} {summary_lines(item).strip()}' for label, item in items]
    return '\n'.join(lines)


def event_first_activity_ms(event: dict[str, Any]) -> Any:
    """When the activity of an AI Analyst event began: the earliest start of its periods, else its createdAt."""
    starts = [_number(period.get('start')) for period in as_list(event.get('periods')) if isinstance(period, dict)]
    starts = [start for start in starts if start is not None and start >= EPOCH_MS_FLOOR]
    return min(starts) if starts else event.get('createdAt')


def with_event_url(event: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The event with its Threat Visualizer link, built from the server URL when the appliance left it out."""
    if event.get('incidentEventUrl'):
        return event
    return {**event, 'incidentEventUrl': f'{server_url}/#aiaincidentevent/{event.get("id")}'}


def readable_summary(event: dict[str, Any]) -> dict[str, str]:
    """{'summaryText': the summary as text} when the appliance sent it as an object or a list, for the pack's
    mapper (which reads `summaryText`, else `summary`); nothing when the summary is already text."""
    summary = event.get('summary')
    return {'summaryText': summary_lines(summary)} if isinstance(summary, (dict, list)) and summary else {}


def ai_event_to_incident(event: dict[str, Any], server_url: str,
                         mirror: MirrorSettings | None = None) -> dict[str, Any]:
    """An AI Analyst incident event as an XSOAR incident (rules in the README's "AI Analyst incidents")."""
    devices = [device for device in as_list(event.get('breachDevices')) if isinstance(device, dict)]
    breaches = [breach for breach in as_list(event.get('relatedBreaches')) if isinstance(breach, dict)]
    details = [summary_lines(event.get('summary'))]
    if devices:
        details.append('Devices: ' + ', '.join(f'{device_name(device)} (did {device.get("did")}, IP {device.get("ip")})'
                                               for device in devices[:MAX_CELL_ITEMS]))
    if breaches:
        details.append('Related model breaches: ' + ', '.join(f'{breach.get("pbid")} ({breach.get("modelName")})'
                                                              for breach in breaches[:MAX_CELL_ITEMS]))
    title = str(event.get('title') or 'untitled event')
    on_device = f' ({device_name(devices[0])})' if devices and device_name(devices[0]) else ''
    incident = {
        'name': f'Darktrace AI Analyst Incident: {title}{on_device}',
        'occurred': ms_to_iso(event_first_activity_ms(event)),
        'severity': ai_event_severity(event),
        'details': '\n\n'.join(part for part in details if part),
        'rawJSON': json.dumps({**with_event_url(event, server_url), **readable_summary(event),
                               RECORD_KIND_KEY: AI_ANALYST_RECORD_KIND}),
        'dbotMirrorId': str(event.get('id')),
    }
    return with_mirroring(incident, mirror)


def _event_id(event: Any) -> str | None:
    """The id of an AI Analyst event in a reply, or None for anything that is not an event."""
    if not isinstance(event, dict) or event.get('id') in (None, ''):
        return None
    return str(event['id'])


def _created_ms(event: dict[str, Any]) -> int:
    """When an AI Analyst event was created; without createdAt, the end of its latest activity period; else 0."""
    created = _number(event.get('createdAt'))
    if created is None:
        ends = [_number(period.get('end')) for period in as_list(event.get('periods')) if isinstance(period, dict)]
        created = max((end for end in ends if end is not None), default=0)
    return int(created)


def _event_key(event: dict[str, Any]) -> tuple[int, str]:
    """Where an AI Analyst event sits in fetch order: (createdAt, id)."""
    return _created_ms(event), str(_event_id(event))


def _stored_id(cursor: dict[str, Any], name: str) -> str:
    value = cursor.get(name, '')
    if not isinstance(value, str):
        raise _damaged_state(AI_CURSOR_PREFIX + name, value, 'an event id (text)', AI_RECORDS)
    return value


def ai_analyst_cursor(cursor: Any, first_fetch_ms: int, now_ms: int) -> dict[str, Any]:
    """The AI Analyst part of lastRun, checked by the rule of the model-breach cursor: a missing part starts at the
    first fetch time, a missing piece takes the value of a new cursor and a window out of bounds the nearest bound
    (none of which loses or repeats an event); any other damage is a ValueError naming the field and saying how to
    reset the state.

    Events are ordered by (createdAt, id). Every event up to (`start_ms`, `start_id`) was delivered, or is found
    by the sweep if it reached the API late; `seen_ids` (id → createdAt) holds those delivered after
    (`horizon_ms`, `horizon_id`), which is never after the start; `swept_ms` is the start at the last sweep.
    """
    if cursor is None or cursor == {}:
        cursor = {}
    elif not isinstance(cursor, dict):
        raise _damaged_state(AI_ANALYST_CURSOR_KEY, cursor, 'an object', AI_RECORDS)
    start_ms = _stored_ms(cursor, 'start_ms', first_fetch_ms, AI_CURSOR_PREFIX, AI_RECORDS)
    _not_ahead_of_clock(AI_CURSOR_PREFIX + 'start_ms', start_ms, now_ms, AI_RECORDS)
    window_ms = _window_within_bounds(_stored_ms(cursor, 'window_ms', INITIAL_WINDOW_MS, AI_CURSOR_PREFIX, AI_RECORDS))
    start = (start_ms, _stored_id(cursor, 'start_id'))
    horizon = (_stored_ms(cursor, 'horizon_ms', start_ms, AI_CURSOR_PREFIX, AI_RECORDS),
               _stored_id(cursor, 'horizon_id'))
    if horizon > start:  # events created between the start and the horizon would be skipped
        raise _damaged_state(AI_CURSOR_PREFIX + 'horizon_ms', horizon[0], f'at most start_ms ({start_ms})', AI_RECORDS)
    seen = cursor.get('seen_ids', {})
    if not isinstance(seen, dict):
        raise _damaged_state(AI_CURSOR_PREFIX + 'seen_ids', seen, 'an object of event ids', AI_RECORDS)
    return {'start': start, 'window_ms': window_ms, 'horizon': horizon, 'dense': cursor.get('dense') is True,
            'swept_ms': _stored_ms(cursor, 'swept_ms', start_ms, AI_CURSOR_PREFIX, AI_RECORDS),
            'seen': {str(event_id): _stored_ms(seen, event_id, 0, f'{AI_CURSOR_PREFIX}seen_ids.', AI_RECORDS)
                     for event_id in seen}}


def _ai_params(settings: FetchSettings, start_ms: int, end_ms: int) -> dict[str, Any]:
    return {
        # One millisecond earlier, in case the appliance treats the bound as exclusive.
        'starttime': start_ms - 1, 'endtime': end_ms,
        'minscore': f'{settings.ai_analyst_min_score:g}' if settings.ai_analyst_min_score else None,
        'includeacknowledged': settings.include_acknowledged, 'includeincidenteventurl': True,
    }


def _ai_listing(client: Client, settings: FetchSettings, start_ms: int, end_ms: int,
                max_bytes: int) -> list[tuple[int, str]]:
    """The (createdAt, id) of the events of a window, read compactly with `responsedata` (guide 0.6)."""
    params = {**_ai_params(settings, start_ms, end_ms), 'responsedata': 'id,createdAt',
              'includeincidenteventurl': None}
    reply = client.get_ai_analyst_incident_events(params, max_bytes=max_bytes)
    return [_event_key(event) for event in as_list(reply) if _event_id(event) is not None]


def _ai_event_or_none(client: Client, event_id: str) -> dict[str, Any] | None:
    """One full event (`uuid`, guide 2.5); None, logged, when it is gone meanwhile."""
    try:
        return with_event_url(_ai_analyst_event(client, event_id), client.server_url)
    except DarktraceApiError as error:
        if error.kind != 'not_found':
            raise
    demisto.info(f'Darktrace: AI Analyst incident event {event_id} was listed but is gone; it is not fetched.')
    return None


def _ai_events_by_id(client: Client, run: dict[str, Any],
                     keys: list[tuple[int, str]]) -> tuple[dict[str, dict[str, Any]], int]:
    """The full events of the first of `keys` the run's read budget allows, read one by one, by id (one gone
    meanwhile left out), and how many keys were read."""
    events = _read_one_by_one(client, run, keys, lambda key: _ai_event_or_none(client, key[1]))
    return {str(_event_id(event)): event for event in events if event is not None}, len(events)


def _fresh_keys(run: dict[str, Any], keys: Any) -> list[tuple[int, str]]:
    """The keys after the cursor's start, within the run's window, not delivered: in fetch order."""
    return sorted(key for key in set(keys) if run['start'] < key and key[0] <= run['end_ms']
                  and key[1] not in run['seen'])


def _ai_dense_window(client: Client, settings: FetchSettings, run: dict[str, Any],
                     limit: int) -> tuple[list[tuple[int, str]], dict[str, dict[str, Any]], int] | None:
    """A window read compactly: its events listed by id and createdAt, the next read one by one. The window
    narrows when even the listing is over the cap (to its first millisecond, see _compact_listing, at
    MIN_WINDOW_MS) and widens when it holds few; listing ends once a window lists at most `limit` events, so
    reading it whole fits a reply again."""
    start_ms, end_ms = run['start'][0], run['end_ms']
    read = partial(_ai_listing, client, settings)
    try:
        listing = read(start_ms, end_ms, FETCH_MAX_REPLY_BYTES)
    except DarktraceApiError as error:
        if not _too_large(error):
            raise
        if run['window_ms'] > MIN_WINDOW_MS:
            run['window_ms'] = _narrowed_window(run['window_ms'], 'AI Analyst incident event ids', start_ms, end_ms)
            return None
        listing, run['end_ms'] = _compact_listing(read, start_ms, end_ms, 'AI Analyst incident events')
    keys = _fresh_keys(run, listing)
    run['window_ms'] = _resized_window(run['window_ms'], len(keys), limit)
    run['dense'] = len(listing) > limit
    batch = keys[:min(limit - len(run['delivered']), DENSE_BATCH_LIMIT)]
    events, taken = _ai_events_by_id(client, run, batch)
    if batch:
        demisto.info(f'Darktrace: AI Analyst incident events from {ms_to_iso(start_ms)} to {ms_to_iso(run["end_ms"])} '
                     f'are more than one fetch reply holds; read {taken} of {len(keys)} one by one.')
    return keys, events, taken


def _ai_window_events(client: Client, settings: FetchSettings, run: dict[str, Any],
                      limit: int) -> tuple[list[tuple[int, str]], dict[str, dict[str, Any]], int] | None:
    """The keys and events of the run's window after its start, and how many of them may be taken; None when the
    reply was over the cap and the window narrowed. A window of MIN_WINDOW_MS over the cap, and the windows after
    it while they stay dense (`dense`), are read compactly (_ai_dense_window)."""
    if run['dense']:
        return _ai_dense_window(client, settings, run, limit)
    start_ms, end_ms = run['start'][0], run['end_ms']
    try:
        reply = client.get_ai_analyst_incident_events(_ai_params(settings, start_ms, end_ms),
                                                      max_bytes=FETCH_MAX_REPLY_BYTES)
    except DarktraceApiError as error:
        if not _too_large(error):
            raise
        if run['window_ms'] > MIN_WINDOW_MS:
            run['window_ms'] = _narrowed_window(run['window_ms'], 'AI Analyst incident events', start_ms, end_ms)
        else:
            run['dense'] = True
        return None
    events = {str(_event_id(event)): event for event in as_list(reply) if _event_id(event) is not None}
    undated = [event_id for event_id, event in events.items() if _created_ms(event) < EPOCH_MS_FLOOR]
    if undated:
        demisto.debug(f'Darktrace: {len(undated)} AI Analyst events without createdAt or activity periods '
                      f'cannot be placed in a fetch window and are not fetched: {", ".join(undated[:20])}')
    keys = _fresh_keys(run, map(_event_key, events.values()))
    run['window_ms'] = _resized_window(run['window_ms'], len(keys), limit)
    return keys, events, limit - len(run['delivered'])


def _deliver_events(run: dict[str, Any], keys: list[tuple[int, str]], events: dict[str, dict[str, Any]],
                    room: int) -> list[tuple[int, str]]:
    """Deliver the events of the first `room` keys in order; the keys taken (an event gone meanwhile too)."""
    taken = keys[:room]
    for key in taken:
        if key[1] in events:
            run['delivered'].append(events[key[1]])
        run['seen'][key[1]] = key[0]
    return taken


def _sweep_late_events(client: Client, settings: FetchSettings, run: dict[str, Any], now_ms: int,
                       limit: int) -> None:
    """Once the cursor has moved AI_ANALYST_SWEEP_STEP_MS since the last sweep (at `swept_ms`), or at all when it is
    within that of now (caught up), list the ids of the events created from AI_ANALYST_LOOKBACK_MS before that
    sweep to the start, and deliver those neither delivered
    nor before the horizon: events that reached the API after the cursor passed them, or (filtering on activity
    periods) that a window left out. A sweep that leaves some for lack of room, or whose listing is over the cap,
    comes again next run. Events of that span before a horizon moved by the id limit are logged by id."""
    start_ms = run['start'][0]
    caught_up = run['swept_ms'] < start_ms >= now_ms - AI_ANALYST_SWEEP_STEP_MS
    if start_ms < run['swept_ms'] + AI_ANALYST_SWEEP_STEP_MS and not caught_up:
        return
    # From the look-back before the last sweep, even before the horizon: an appliance filtering on activity periods
    # finds an event by activity that may have ended that long before its creation.
    low_ms = run['swept_ms'] - AI_ANALYST_LOOKBACK_MS
    try:
        listing = set(_ai_listing(client, settings, low_ms, start_ms, FETCH_MAX_REPLY_BYTES))
    except DarktraceApiError as error:
        if not _too_large(error):
            raise
        demisto.info(f'Darktrace: the ids of the AI Analyst incident events created from {ms_to_iso(low_ms)} to '
                     f'{ms_to_iso(start_ms)} are more than {FETCH_MAX_REPLY_BYTES:,} bytes; late events there are '
                     'looked for again next run.')
        return
    late = sorted(key for key in listing if run['horizon'] < key < run['start'] and key[1] not in run['seen'])
    lost = sorted(key[1] for key in listing if key <= run['horizon'] and key[1] not in run['seen']
                  and key[0] >= run['swept_ms'] - AI_ANALYST_LOOKBACK_MS)
    if lost:
        demisto.info(f'Darktrace: AI Analyst incident events before the fetch horizon {ms_to_iso(run["horizon"][0])} '
                     f'(fetched before, or reached the API too late to be placed) are not fetched: {", ".join(lost)}')
    batch = late[:min(limit, DENSE_BATCH_LIMIT)]
    if batch:
        demisto.info(f'Darktrace: {len(late)} AI Analyst incident events reached the API late; fetching {len(batch)}.')
    events, taken = _ai_events_by_id(client, run, batch)
    _deliver_events(run, batch, events, taken)
    if taken == len(late):  # else the sweep comes again next run
        run['swept_ms'] = start_ms


def _trimmed_seen(run: dict[str, Any]) -> None:
    """Forget the ids the next sweep does not reach, and past MAX_AI_ANALYST_SEEN_IDS the oldest; the horizon moves
    to the newest forgotten, so none of them is delivered again (it never passes the start: every id remembered was
    delivered at or before it)."""
    run['horizon'] = max(run['horizon'], (run['swept_ms'] - AI_ANALYST_LOOKBACK_MS, ''))
    ordered = sorted((created, event_id) for event_id, created in run['seen'].items())
    forgotten = [key for key in ordered if key <= run['horizon']]
    if len(ordered) - len(forgotten) > MAX_AI_ANALYST_SEEN_IDS:
        forgotten = ordered[:len(ordered) - MAX_AI_ANALYST_SEEN_IDS]
        run['horizon'] = max(run['horizon'], forgotten[-1])
        demisto.info(f'Darktrace: more than {MAX_AI_ANALYST_SEEN_IDS} AI Analyst incident events fetched within the '
                     f'look-back; one created before {ms_to_iso(forgotten[-1][0])} that reaches the API from now on '
                     'is logged by id, not fetched.')
    for _, event_id in forgotten:
        del run['seen'][event_id]


def fetch_ai_analyst_events(client: Client, cursor: Any, settings: FetchSettings, now_ms: int, limit: int,
                            read_budget: int = FETCH_MAX_RUN_BYTES) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The AI Analyst source of a fetch cycle: the next incident events by (createdAt, id), each exactly once, at
    most `limit` and about `read_budget` bytes read, and the next cursor.

    Windows `[start_ms, start_ms + window_ms]` move over createdAt and narrow or widen like the model-breach
    windows, narrowing too when a reply is over FETCH_MAX_REPLY_BYTES; a window of MIN_WINDOW_MS still over it is
    listed by id and its next events read one by one, so ties of any size pass in runs of `limit`. Whether the
    appliance filters starttime/endtime on createdAt or on the activity periods is not documented, and an event
    may reach the API after events created later: the sweep (_sweep_late_events) finds those. Any failed request
    raises, and the platform then keeps the previous `lastRun`.
    """
    run = {**ai_analyst_cursor(cursor, settings.first_fetch_ms, now_ms), 'delivered': [],
           **_read_budget(client, read_budget)}
    _sweep_late_events(client, settings, run, now_ms, limit)
    for _ in range(MAX_REQUESTS_PER_RUN):
        if len(run['delivered']) >= limit or run['start'][0] >= now_ms or not _may_ask(client, run):
            break
        run['end_ms'] = max(run['start'][0], min(run['start'][0] + run['window_ms'], now_ms))
        window = _ai_window_events(client, settings, run, limit)
        if window is None:
            continue
        keys, events, room = window
        taken = _deliver_events(run, keys, events, room)
        run['start'] = taken[-1] if len(keys) > len(taken) else max([run['start'], (run['end_ms'], '')] + taken)
    _trimmed_seen(run)
    next_cursor = {'start_ms': run['start'][0], 'start_id': run['start'][1], 'window_ms': run['window_ms'],
                   'horizon_ms': run['horizon'][0], 'horizon_id': run['horizon'][1], 'swept_ms': run['swept_ms'],
                   'seen_ids': run['seen']}
    if run['dense']:  # the next run lists its first window compactly
        next_cursor['dense'] = True
    return next_cursor, run['delivered']


# --- Darktrace/Email fetch ------------------------------------------------------------------------
# Emails become incidents through POST /emails/search, whose order is not documented and whose results for a past
# window can still change (late analysis, `in_progress`): rules in docs/fetching.md, "Darktrace/Email".

EMAIL_CURSOR_KEY = 'email'  # the Email cursor's part of lastRun
EMAIL_CURSOR_PREFIX = f'{EMAIL_CURSOR_KEY}.'
EMAIL_RECORDS = 'Darktrace/Email email'
EMAIL_RECORD_KIND = 'Darktrace/Email'
EMAIL_OVERLAP_MS = 10 * 60 * 1000  # an email may become searchable this long after its dtime (email-facts 11.3)
EMAIL_SETTLE_MS = 60 * 1000  # the newest minute is read only once it has settled
EMAIL_IN_PROGRESS_WAIT_MS = 60 * 60 * 1000  # an email still being analysed waits this long at most
EMAIL_FETCH_PAGES_PER_RUN = 40  # 800 emails at most per run, except in a window of one second
MAX_EMAIL_WINDOWS_PER_RUN = 4
MAX_EMAIL_SEEN = 5000
EMAIL_HIGH_SCORE = 80  # model_score is 0..100 (email-facts 4)


@dataclass(frozen=True)
class EmailFetchSettings:
    """The Darktrace/Email fetch parameters, validated: what to search for and the unit of the search window."""

    query: EmailQuery
    time_unit: str = EMAIL_TIME_UNITS[0]

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> 'EmailFetchSettings':
        return cls(email_query_from_args(params, 'email_'),
                   parse_choice(params, 'email_time_unit', EMAIL_TIME_UNITS, default=EMAIL_TIME_UNITS[0],
                                label='Darktrace/Email search time unit'))


def email_cursor(cursor: Any, first_fetch_ms: int, now_ms: int) -> dict[str, Any]:
    """The Email part of lastRun, checked: `hw_ms` (a whole second) is where the next window starts; every email
    before it was delivered or is re-read from `hw_ms - (EMAIL_OVERLAP_MS - lag_ms)`, as the region just before it
    was read only `lag_ms` after its time; `seen` (uuid → dtime ms) holds the emails delivered around it."""
    if cursor is None or cursor == {}:
        cursor = {}
    elif not isinstance(cursor, dict):
        raise _damaged_state(EMAIL_CURSOR_KEY, cursor, 'an object', EMAIL_RECORDS)
    hw_ms = _stored_ms(cursor, 'hw_ms', first_fetch_ms // 1000 * 1000, EMAIL_CURSOR_PREFIX, EMAIL_RECORDS)
    _not_ahead_of_clock(EMAIL_CURSOR_PREFIX + 'hw_ms', hw_ms, now_ms, EMAIL_RECORDS)
    seen = cursor.get('seen', {})
    if not isinstance(seen, dict):
        raise _damaged_state(EMAIL_CURSOR_PREFIX + 'seen', seen, 'an object of email uuids', EMAIL_RECORDS)
    return {'hw_ms': hw_ms // 1000 * 1000,
            'lag_ms': _stored_ms(cursor, 'lag_ms', EMAIL_OVERLAP_MS, EMAIL_CURSOR_PREFIX, EMAIL_RECORDS),
            'window_ms': _window_within_bounds(_stored_ms(cursor, 'window_ms', INITIAL_WINDOW_MS, EMAIL_CURSOR_PREFIX,
                                                          EMAIL_RECORDS)),
            'seen': {str(uuid): _stored_ms(seen, uuid, 0, f'{EMAIL_CURSOR_PREFIX}seen.', EMAIL_RECORDS)
                     for uuid in seen}}


def _email_window_hits(client: Client, settings: EmailFetchSettings, run: dict[str, Any], window: tuple[int, int],
                       whole: bool) -> list[dict[str, Any]] | None:
    """Every hit of the window, page after page until a short one; None when that takes more pages or bytes than the
    run has left, unless `whole` (a window of one second, which is read to its end so no tie is dropped). The window
    starts a second early, as the API may not include its ends (email-facts 10, question 1)."""
    found: dict[str, dict[str, Any]] = {}
    for page in range(10 ** 6):
        if not whole and (run['pages'] >= EMAIL_FETCH_PAGES_PER_RUN or client.read_bytes >= run['read_until']):
            return None
        body = email_search_body(window[0] - 1000, window[1], settings.query.criteria, page, EMAIL_PAGE_SIZE,
                                 settings.time_unit)
        reply = client.search_emails(body, max_bytes=FETCH_MAX_REPLY_BYTES)
        run['pages'] += 1
        for hit in reply:
            if isinstance(hit, dict) and hit.get('uuid'):
                found.setdefault(str(hit['uuid']), hit)
        if len(reply) < EMAIL_PAGE_SIZE:
            break
    return list(found.values())


def _deliver_emails(run: dict[str, Any], hits: list[dict[str, Any]], room: int, window_end: int,
                    now_ms: int) -> list[dict[str, Any]]:
    """The next emails of a window read whole, by (dtime, uuid), each once, at most `room`; moves the cursor to the
    second of the last one taken when some are left, else to the window's end, but never past an email still being
    analysed (deferred up to EMAIL_IN_PROGRESS_WAIT_MS)."""
    fresh = sorted((hit for hit in hits if str(hit['uuid']) not in run['seen']),
                   key=lambda hit: (email_dtime_ms(hit), str(hit['uuid'])))
    deferred = [hit for hit in fresh if _flag(hit.get('in_progress'))
                and email_dtime_ms(hit) > now_ms - EMAIL_IN_PROGRESS_WAIT_MS]
    waiting = {str(hit['uuid']) for hit in deferred}
    ready = [hit for hit in fresh if str(hit['uuid']) not in waiting]
    taken = ready[:room]
    hw_ms = email_dtime_ms(taken[-1]) // 1000 * 1000 if len(ready) > room else window_end
    if deferred:
        hw_ms = min(hw_ms, email_dtime_ms(deferred[0]) // 1000 * 1000)
    run['hw_ms'] = max(hw_ms, run['hw_ms'] - EMAIL_OVERLAP_MS)
    for hit in taken:
        run['seen'][str(hit['uuid'])] = email_dtime_ms(hit)
    return taken


def _trimmed_email_seen(run: dict[str, Any]) -> dict[str, int]:
    """The delivered emails a later window can still return: those at most the overlap (and a second) before the
    cursor; past MAX_EMAIL_SEEN, the newest."""
    floor_ms = run['hw_ms'] - EMAIL_OVERLAP_MS - 2000
    kept = sorted(((dtime, uuid) for uuid, dtime in run['seen'].items() if dtime >= floor_ms), reverse=True)
    return {uuid: dtime for dtime, uuid in sorted(kept[:MAX_EMAIL_SEEN])}


def _email_run_window(run: dict[str, Any], end_ms: int) -> tuple[int, int, bool]:
    """The next window: from the cursor (less the part of the overlap not yet re-read late enough) for window_ms,
    at least one second past the cursor, at most to the settled end; and whether it is that one second."""
    start_ms = run['hw_ms'] - max(0, EMAIL_OVERLAP_MS - run['lag_ms'])
    window_end = min(end_ms, max(run['hw_ms'] + 1000, start_ms + run['window_ms']))
    return start_ms, window_end, window_end <= run['hw_ms'] + 1000


def fetch_emails(client: Client, cursor: Any, settings: FetchSettings, now_ms: int, limit: int,
                 read_budget: int = FETCH_MAX_RUN_BYTES) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Darktrace/Email source of a fetch cycle: the next emails by (dtime, uuid), each exactly once, at most
    `limit`, as email contexts (email_context), and the next cursor. A window that needs more pages or bytes than the
    run has left (`read_budget`) is halved instead of read in part; any failed request raises, and the platform keeps
    the previous lastRun."""
    email_settings = settings.email or EmailFetchSettings(EmailQuery([]))
    run = {**email_cursor(cursor, settings.first_fetch_ms, now_ms), 'pages': 0, **_read_budget(client, read_budget)}
    end_ms = (now_ms - EMAIL_SETTLE_MS) // 1000 * 1000
    delivered: list[dict[str, Any]] = []
    severities: dict[str, str] | None = None
    for _ in range(MAX_EMAIL_WINDOWS_PER_RUN):
        if len(delivered) >= limit or run['hw_ms'] >= end_ms:
            break
        start_ms, window_end, whole = _email_run_window(run, end_ms)
        hits = _email_window_hits(client, email_settings, run, (start_ms, window_end), whole)
        if hits is None:
            run['window_ms'] = max(MIN_WINDOW_MS, run['window_ms'] // 2)
            continue
        if hits and severities is None:
            severities = read_tag_severities(client)
        kept = [hit for hit in hits if email_settings.query.keeps(hit, severities or {})]
        room = limit - len(delivered)
        taken = _deliver_emails(run, kept, room, window_end, now_ms)
        delivered += taken
        # How late the overlap before the cursor was read: now, when this window spans it, else no later than before.
        spans_overlap = start_ms <= run['hw_ms'] - EMAIL_OVERLAP_MS
        run['lag_ms'] = max(0, end_ms - run['hw_ms'] if spans_overlap else min(end_ms - run['hw_ms'], run['lag_ms']))
        if len(taken) < room // 2:
            run['window_ms'] = min(MAX_WINDOW_MS, run['window_ms'] * 2)
    next_cursor = {'hw_ms': run['hw_ms'], 'lag_ms': run['lag_ms'], 'window_ms': run['window_ms'],
                   'seen': _trimmed_email_seen(run)}
    demisto.debug(f'Darktrace: Darktrace/Email fetch read {run["pages"]} pages, '
                  f'{client.read_bytes - run["read_from"]} bytes; '
                  f'{len(delivered)} new emails')
    return next_cursor, [email_context(email, severities or {}, client.server_url) for email in delivered]


def email_severity(context: dict[str, Any]) -> float:
    """XSOAR severity from the worst tag and the score: no or info tags Low, warn Medium, critical High, one step
    higher for a score of EMAIL_HIGH_SCORE or more. A held email keeps its severity: holding it is what an analyst
    decided, not how bad it was."""
    grouped = _dict(context.get('tags_by_severity'))
    worst = max((EMAIL_SEVERITY_RANK[severity] for severity in EMAIL_SEVERITIES if grouped.get(severity)), default=0)
    score = _number(context.get('model_score'))
    raised = isinstance(score, (int, float)) and score >= EMAIL_HIGH_SCORE
    return float(min(IncidentSeverity.CRITICAL, IncidentSeverity.LOW + worst + (1 if raised else 0)))


def email_to_incident(context: dict[str, Any], server_url: str,
                      mirror: MirrorSettings | None = None) -> dict[str, Any]:
    """A Darktrace/Email email (email_context) as one XSOAR incident with every recipient."""
    recipients = context.get('recipients') or []
    sender = context.get('header_from_email') or context.get('header_from') or 'unknown sender'
    subject = str(context.get('header_subject') or '(no subject)')[:200]
    details = [f'From {sender} to {", ".join(recipients[:MAX_CELL_ITEMS])}'
               + (f' and {len(recipients) - MAX_CELL_ITEMS} more' if len(recipients) > MAX_CELL_ITEMS else '')]
    details += [f'{severity.capitalize()} tags: {", ".join(tags)}'
                for severity, tags in _dict(context.get('tags_by_severity')).items() if tags]
    incident = {
        'name': f'Darktrace/Email: {subject} from {sender} ({len(recipients)} recipients, score '
                f'{context.get("model_score")})',
        'occurred': ms_to_iso(email_dtime_ms(context)) if email_dtime_ms(context) else None,
        'severity': email_severity(context),
        'details': '\n'.join(details),
        'rawJSON': json.dumps({**context, RECORD_KIND_KEY: EMAIL_RECORD_KIND}),
        'dbotMirrorId': str(context.get('uuid')),
    }
    return with_mirroring(incident, mirror)


@dataclass(frozen=True)
class FetchSource:
    """One thing fetch turns into incidents, as fetch_incidents runs it: where its cursor lives in lastRun, how
    the cursor is checked (its start, to order the sources), how one run fetches and how a record becomes an
    incident. A new source (Darktrace/Email) is one more of these in FETCH_SOURCE_TABLE."""

    name: str  # its choice in the "Fetch" parameter (fetch_sources)
    cursor_key: str | None  # its part of lastRun; None: the top level, every key no other source owns
    cursor_start: Callable[[Any, FetchSettings, int], int]
    # (client, cursor, settings, now_ms, incidents it may deliver, bytes it may read) -> (next cursor, records)
    fetch: Callable[[Client, Any, FetchSettings, int, int, int], tuple[dict[str, Any], list[dict[str, Any]]]]
    to_incident: Callable[[dict[str, Any], str, MirrorSettings | None], dict[str, Any]]


FETCH_SOURCE_TABLE = (
    FetchSource(FETCH_SOURCE_BREACHES, None,
                cursor_start=lambda cursor, settings, now: fetch_cursor(cursor, settings, now)['start_ms'],
                fetch=fetch_model_breaches,
                to_incident=lambda breach, server_url, mirror: breach_to_incident(breach, mirror, server_url)),
    FetchSource(FETCH_SOURCE_AI_ANALYST, AI_ANALYST_CURSOR_KEY,
                cursor_start=lambda cursor, settings, now: ai_analyst_cursor(cursor, settings.first_fetch_ms,
                                                                             now)['start'][0],
                fetch=fetch_ai_analyst_events, to_incident=ai_event_to_incident),
    FetchSource(FETCH_SOURCE_EMAIL, EMAIL_CURSOR_KEY,
                cursor_start=lambda cursor, settings, now: email_cursor(cursor, settings.first_fetch_ms, now)['hw_ms'],
                fetch=fetch_emails, to_incident=email_to_incident),
)


SOURCE_KEYS = {source.cursor_key for source in FETCH_SOURCE_TABLE if source.cursor_key} | {FETCH_TURN_KEY}


def _source_cursor(last_run: dict[str, Any], source: FetchSource) -> Any:
    if source.cursor_key is None:
        return {key: value for key, value in last_run.items() if key not in SOURCE_KEYS}
    return last_run.get(source.cursor_key)


def _fetch_order(last_run: dict[str, Any], settings: FetchSettings, now_ms: int) -> list[FetchSource]:
    """The chosen sources, every cursor checked before any request, the one nearer now first (it usually needs
    less than its half). With fewer incidents per run than sources, they take turns going first instead
    (FETCH_TURN_KEY names the last one that went first), so none waits behind another's backlog."""
    chosen = [source for source in FETCH_SOURCE_TABLE if source.name in settings.sources]
    if len(chosen) == 1:  # its fetch checks its cursor before its first request
        return chosen
    starts = {source.name: source.cursor_start(_source_cursor(last_run, source), settings, now_ms)
              for source in chosen}
    if settings.max_alerts >= len(chosen):
        return sorted(chosen, key=lambda source: -starts[source.name])
    names = [source.name for source in chosen]
    last_first = last_run.get(FETCH_TURN_KEY)
    turn = (names.index(last_first) + 1) % len(names) if last_first in names else 0
    return chosen[turn:] + chosen[:turn]


def fetch_incidents(client: Client, last_run: dict[str, Any], settings: FetchSettings, now_ms: int,
                    mirror: MirrorSettings | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One fetch cycle over the chosen sources (FETCH_SOURCE_TABLE), at most `max_alerts` incidents in all.

    Each source keeps its own cursor in lastRun: the model-breach cursor at the top level, as before AI Analyst
    incidents could be fetched (so an existing instance keeps it), the AI Analyst cursor under "ai_analyst". A
    source not chosen keeps its cursor as it is. Each source in turn (_fetch_order) gets an equal part of what is
    left: with a backlog on both sides each gets half, and a share one source does not use goes to the next. Any
    failed request raises, and the platform then keeps the previous `lastRun`. With `mirror` set to a direction,
    each incident also says how XSOAR mirrors it.
    """
    if not isinstance(last_run, dict):
        raise _damaged_state('lastRun', last_run, 'an object')
    order = _fetch_order(last_run, settings, now_ms)
    cursors = {source.name: _source_cursor(last_run, source) for source in FETCH_SOURCE_TABLE}
    incidents: list[dict[str, Any]] = []
    read_from = client.read_bytes
    for position, source in enumerate(order):
        share = (settings.max_alerts - len(incidents)) // (len(order) - position)
        if share <= 0 and position == 0:
            share = settings.max_alerts  # taking turns (max_alerts below the number of sources)
        if share <= 0:
            continue
        read_share = (FETCH_MAX_RUN_BYTES - (client.read_bytes - read_from)) // (len(order) - position)
        cursors[source.name], records = source.fetch(client, cursors[source.name], settings, now_ms, share,
                                                     read_share)
        incidents.extend(source.to_incident(record, client.server_url, mirror) for record in records)
    next_run = dict(cursors[FETCH_SOURCE_TABLE[0].name])
    next_run.update({source.cursor_key: cursors[source.name] for source in FETCH_SOURCE_TABLE[1:]
                     if cursors[source.name] is not None})
    if settings.max_alerts < len(order):
        next_run[FETCH_TURN_KEY] = order[0].name
    return next_run, incidents


''' MIRRORING '''
# XSOAR mirrors an incident through these commands. Each cycle it runs get-modified-remote-data once, then
# get-remote-data only for the records that command names. Darktrace cannot list what changed since a time, so
# get-modified-remote-data compares what it can list cheaply (id-only lists, the breach comment feed) with what
# get-remote-data last delivered, which the instance remembers; docs/mirroring.md gives the reasoning and costs.

MIRROR_CLOSE_REASON = 'Acknowledged in Darktrace'
# Integration context: pbids whose incident was closed for their acknowledgement (newest last), so it is closed once.
MIRROR_CLOSED_KEY = 'mirrorClosedIds'
MAX_REMEMBERED_CLOSES = 10000  # about 400 kB of context at most; a record forgotten can at worst be closed once more
# What mirroring remembers in the integration context (docs/mirroring.md): per kind of record, the mirrored records
# with their time, the state last mirrored in and the comments already delivered; where the comment feed was read.
MIRROR_STATE_KEY = 'mirror'
MIRROR_BREACHES = 'breaches'
MIRROR_EVENTS = 'events'
MAX_MIRRORED_RECORDS = 10000  # per kind, the newest; an older record's changes arrive only with another change
MAX_SEEN_COMMENTS = 100  # comment identities per record; older comments are known by the newest forgotten one's time
MIRROR_DELETED = 'deleted'  # the state of a record gone from the appliance
MIRROR_DELETED_REASON = 'Deleted on the Darktrace appliance'
MIRROR_FEED_COUNT = 1000  # /mbcomments per cycle: a window of about an hour rarely holds as many breach comments
MIRROR_MAX_LOOKBACK_MS = 365 * 24 * 60 * 60 * 1000
MIRROR_LIST_MAX_BYTES = 16 * 1024 * 1024  # an id-only list of 10,000 records is well under 1 MB
# The fields of an id-only AI Analyst event list: what the mapper shows of an event and can change.
AI_EVENT_STATE_FIELDS = ('acknowledged', 'aiaScore', 'groupScore', 'currentGroup', 'title', 'category')
# Notes get-remote-data writes start with this, so update-remote-system never posts them back out.
DARKTRACE_NOTE_HEADING = '**Darktrace comment**'


def is_xsoar_comment(message: str) -> bool:
    """Whether a breach comment was posted by update-remote-system."""
    return message.lstrip().startswith(XSOAR_COMMENT_PREFIX.strip())


def comment_note(comment: dict[str, Any]) -> dict[str, Any]:
    """A Darktrace breach comment as a War Room note."""
    author = str(comment.get('username') or 'unknown user')
    return {'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.MARKDOWN, 'Note': True,
            'Contents': f'{DARKTRACE_NOTE_HEADING} by {author} at {ms_to_iso(comment.get("time"))}\n\n'
                        f'{comment.get("message") or ""}'}


def close_entry(reason: str = MIRROR_CLOSE_REASON) -> dict[str, Any]:
    """The entry that makes XSOAR close a mirrored incident."""
    return {'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON,
            'Contents': {'dbotIncidentClose': True, 'closeReason': reason}}


def remembered_closes(context: dict[str, Any] | None = None) -> list[int | str]:
    """The records (pbids, AI Analyst event ids) whose incident was closed for their acknowledgement, oldest first
    (a corrupted value: none)."""
    remote_ids = (integration_context() if context is None else context).get(MIRROR_CLOSED_KEY)
    if not isinstance(remote_ids, list):
        return []
    return [remote_id for remote_id in remote_ids
            if isinstance(remote_id, (int, str)) and not isinstance(remote_id, bool)]


def _remember_close(context: dict[str, Any], remote_id: int | str, closed: bool) -> None:
    """Record that the incident of a record was closed for its acknowledgement (or forget it), keeping the newest."""
    remote_ids = [known for known in remembered_closes(context) if known != remote_id] + ([remote_id] if closed else [])
    context[MIRROR_CLOSED_KEY] = remote_ids[-MAX_REMEMBERED_CLOSES:]


def parse_remote_id(args: dict[str, Any], name: str) -> tuple[RecordKind, int | str]:
    """A mirrored incident's remote id (its dbotMirrorId) and the kind of record it names: a number is a model
    breach (pbid), anything else an AI Analyst incident event id."""
    text = _arg_text(args, name)
    if not text or re.fullmatch(r'[+-]?[0-9]+', text):
        return BREACH_KIND, require_int(args, name, minimum=1)
    if not AI_ANALYST_ID_PATTERN.fullmatch(text):
        raise ValueError(f'Invalid "{name}"="{text}": expected a model breach ID (pbid, a positive integer) or an '
                         'AI Analyst incident event ID (letters, digits and hyphens).')
    return AI_EVENT_KIND, text


# --- what mirroring remembers ---------------------------------------------------------------------

def mirror_state(context: dict[str, Any]) -> dict[str, Any]:
    """The mirroring part of the integration context (a damaged one counts as empty: mirroring starts afresh)."""
    state = context.get(MIRROR_STATE_KEY)
    return state if isinstance(state, dict) else {}


def mirrored_records(state: dict[str, Any], part: str) -> dict[str, dict[str, Any]]:
    """The remembered records of one kind by id: {"t": time ms, "s": state last mirrored in, "c": comment ids}."""
    records = state.get(part)
    if not isinstance(records, dict):
        return {}
    return {str(key): record for key, record in records.items()
            if isinstance(record, dict) and isinstance(record.get('t'), int)}


def _kind_part(kind: RecordKind) -> str:
    return MIRROR_BREACHES if kind is BREACH_KIND else MIRROR_EVENTS


def _fingerprint(values: list[Any]) -> str:
    return hashlib.sha1(json.dumps(values, default=str).encode()).hexdigest()[:12]


def breach_state(acknowledged: bool, score: Any) -> str:
    """What of a breach can change and the mapper shows, as one comparable text: 'a|0.87' (acknowledged) or 'u|...'.
    The score part is left empty when unknown, and then not compared."""
    number = _number(score)
    return f'{"a" if acknowledged else "u"}|{"" if number is None else f"{number:g}"}'


def event_state(event: dict[str, Any]) -> str:
    """What of an AI Analyst event can change and the mapper shows (AI_EVENT_STATE_FIELDS): 'a|' (acknowledged) or
    'u|', then a short digest of the other fields."""
    acknowledged = bool(_flag(event.get('acknowledged')))
    return f'{"a" if acknowledged else "u"}|' + _fingerprint([
        _number(event.get('aiaScore')), _number(event.get('groupScore')), event.get('currentGroup'),
        event.get('title'), event.get('category')])


def record_state(kind: RecordKind, record: dict[str, Any]) -> str:
    if kind is BREACH_KIND:
        return breach_state(bool(_flag(record.get('acknowledged'))), record.get('score'))
    return event_state(record)


def record_time(kind: RecordKind, record: dict[str, Any]) -> int:
    """The time lists are filtered on: a breach's `time` (guide 2.31), an event's creation."""
    if kind is BREACH_KIND:
        return time_ms(record.get('time')) or _creation_ms(record) or 0
    return _created_ms(record)


def comment_identity(comment: dict[str, Any]) -> str:
    """Darktrace gives comments no id, so a comment is known by what the appliance set once and for all: its time
    (on the appliance's clock), author and text. The same comment read twice has the same identity, however far
    XSOAR's clock is from the appliance's."""
    return _fingerprint([time_ms(comment.get('time')), str(comment.get('username') or ''),
                         str(comment.get('message') or '')])


def is_unseen(comment: dict[str, Any], remembered: dict[str, Any] | None) -> bool:
    """Whether a comment was never delivered to the incident of a remembered record."""
    if remembered is None or not isinstance(remembered.get('c'), list):
        return True
    floor = remembered.get('f')
    if isinstance(floor, int) and (time_ms(comment.get('time')) or 0) <= floor:
        return False  # older than comments forgotten to keep the memory bounded: delivered back then
    return comment_identity(comment) not in remembered['c']


def seen_comments(comments: list[dict[str, Any]]) -> dict[str, Any]:
    """The comment memory of a record after delivering `comments` (all it has): the newest MAX_SEEN_COMMENTS
    identities, and the time of the newest one left out."""
    ordered = sorted(comments, key=lambda comment: time_ms(comment.get('time')) or 0)
    kept, dropped = ordered[-MAX_SEEN_COMMENTS:], ordered[:-MAX_SEEN_COMMENTS]
    memory: dict[str, Any] = {'c': [comment_identity(comment) for comment in kept]}
    if dropped:
        memory['f'] = time_ms(dropped[-1].get('time')) or 0
    return memory


def _bounded(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if len(records) <= MAX_MIRRORED_RECORDS:
        return records
    newest = sorted(records.items(), key=lambda item: item[1]['t'])[-MAX_MIRRORED_RECORDS:]
    return dict(newest)


def _store_records(context: dict[str, Any], part: str, changes: dict[str, dict[str, Any]], replace: bool) -> None:
    """Merge remembered records of one kind into the context: `replace` overwrites what is known of them, else only
    records not known yet are added (fetch registering its incidents)."""
    state = mirror_state(context)
    records = mirrored_records(state, part)
    for remote_id, record in changes.items():
        if replace or remote_id not in records:
            records[remote_id] = record
    context[MIRROR_STATE_KEY] = {**state, part: _bounded(records)}


def fetched_records(incidents: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The records of incidents fetched for incoming mirroring, by kind, as get-modified-remote-data watches them."""
    found: dict[str, dict[str, dict[str, Any]]] = {MIRROR_BREACHES: {}, MIRROR_EVENTS: {}, MIRROR_EMAILS: {}}
    for incident in incidents:
        try:
            raw = json.loads(incident.get('rawJSON') or '{}')
        except ValueError:
            continue
        if isinstance(raw, dict) and raw.get(RECORD_KIND_KEY) == EMAIL_RECORD_KIND and incident.get('dbotMirrorId'):
            found[MIRROR_EMAILS][str(incident['dbotMirrorId'])] = {'t': email_dtime_ms(raw)}
            continue
        kind = AI_EVENT_KIND if raw.get(RECORD_KIND_KEY) == AI_ANALYST_RECORD_KIND else BREACH_KIND
        remote_id = str(incident.get('dbotMirrorId') or '')
        if remote_id and isinstance(raw, dict):
            found[_kind_part(kind)][remote_id] = {'t': record_time(kind, raw)}
    return found


def remember_fetched(incidents: list[dict[str, Any]], mirror: MirrorSettings) -> None:
    """Called by fetch before it hands over incidents mirrored in: get-modified-remote-data watches their records."""
    if mirror.direction not in ('In', 'Both') or not incidents:
        return
    found = fetched_records(incidents)

    def register(context: dict[str, Any]) -> None:
        for part, records in found.items():
            if records:
                _store_records(context, part, records, replace=False)
    change_integration_context(register)


# --- get-modified-remote-data ---------------------------------------------------------------------

def _live(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {remote_id: record for remote_id, record in records.items() if record.get('s') != MIRROR_DELETED}


def _list_start(records: dict[str, dict[str, Any]], margin_ms: int, now: int) -> int:
    """Where an id-only list starts: `margin_ms` before the oldest record, at most a year back (a breach reply
    covers a year at most, guide 2.31), so a record without a usable time does not stretch it to 1970."""
    oldest = min(record['t'] for record in records.values())
    return max(oldest - margin_ms, now - MIRROR_MAX_LOOKBACK_MS)


def _list_ids(reply: Any, key: str) -> dict[str, dict[str, Any]]:
    """The records of an id-only list by id (a pbid as its decimal text)."""
    found = {}
    for item in as_list(reply):
        if isinstance(item, dict) and item.get(key) is not None:
            remote_id = as_pbid(item[key]) if key == 'pbid' else item[key]
            found[str(remote_id)] = item
    return found


def changed_breaches(client: Client, records: dict[str, dict[str, Any]], now: int) -> tuple[list[str], list[str]]:
    """Remembered breaches whose acknowledgement or score differs from what was mirrored in, and those no longer
    listed. Two id-only lists over the remembered breaches' times (guide 2.31: pairs, `time`, includeacknowledged,
    minimal, responsedata; 0.6), whatever their number: every breach, with its score, and the unacknowledged ones."""
    live = _live(records)
    if not live:
        return [], []
    window = {'starttime': _list_start(live, 1000, now), 'endtime': now + CLOCK_SKEW_MS,
              'minimal': True, 'includesuppressed': True}
    every = _list_ids(client.get_model_breaches({**window, 'includeacknowledged': True, 'responsedata': 'pbid,score'},
                                                max_bytes=MIRROR_LIST_MAX_BYTES), 'pbid')
    unacknowledged = _list_ids(client.get_model_breaches({**window, 'includeacknowledged': False,
                                                          'responsedata': 'pbid'}, max_bytes=MIRROR_LIST_MAX_BYTES),
                               'pbid')
    changed, absent = [], []
    for pbid, record in live.items():
        if pbid not in every:
            absent.append(pbid)
            continue
        remembered = str(record.get('s') or '')
        listed = breach_state(pbid not in unacknowledged, every[pbid].get('score'))
        score_known = not listed.endswith('|')
        if listed[:1] != remembered[:1] or (score_known and listed != remembered):
            changed.append(pbid)
    return changed, absent


def changed_events(client: Client, records: dict[str, dict[str, Any]], now: int) -> tuple[list[str], list[str]]:
    """Remembered AI Analyst events whose mapped fields differ from what was mirrored in, and those no longer listed:
    one id-only list from the oldest one's creation (guide 2.5: one time alone is allowed, includeacknowledged,
    includeallpinned; 0.6 responsedata), reaching as far back as fetch does for the undocumented time filter."""
    live = _live(records)
    if not live:
        return [], []
    reply = client.get_ai_analyst_incident_events({
        'starttime': _list_start(live, AI_ANALYST_LOOKBACK_MS, now),
        'includeacknowledged': True, 'includeallpinned': False,
        'responsedata': ','.join(('id',) + AI_EVENT_STATE_FIELDS)})
    listed = _list_ids(reply, 'id')
    changed = [event_id for event_id, record in live.items()
               if event_id in listed and event_state(listed[event_id]) != record.get('s')]
    return changed, [event_id for event_id in live if event_id not in listed]


def breaches_with_new_comments(client: Client, records: dict[str, dict[str, Any]], start: int, end: int) -> list[str]:
    """Breaches with a comment made in Darktrace and not yet delivered, from the comment feed (guide 2.27). The
    window is wide enough for either clock to be 30 minutes off; what it repeats is known by comment identity."""
    feed = [comment for comment in as_list(client.get_breach_comment_feed(start, end, MIRROR_FEED_COUNT))
            if isinstance(comment, dict)]
    if len(feed) >= MIRROR_FEED_COUNT:
        demisto.info(f'Darktrace: {len(feed)} breach comments in one mirroring window, the most one request reads; '
                     'comments beyond them arrive with the next change to their breach')
    found = []
    for comment in feed:
        pbid = as_pbid(comment.get('pbid'))
        remembered = records.get(str(pbid))
        if pbid is None or is_xsoar_comment(str(comment.get('message') or '')):
            continue
        if (remembered is None or remembered.get('s') != MIRROR_DELETED) and is_unseen(comment, remembered):
            found.append(str(pbid))
    return found


def event_with_new_comments(client: Client, records: dict[str, dict[str, Any]], cursor: Any) -> tuple[list[str], str]:
    """AI Analyst comments cannot be listed across events (guide 2.9: one event per request), so each cycle reads
    the comments of one mirrored event, the next after `cursor` in id order: a new comment on an otherwise unchanged
    event arrives within as many cycles as there are mirrored events, for one request per cycle."""
    candidates = sorted(event_id for event_id, record in _live(records).items() if record.get('s') is not None)
    if not candidates:
        return [], ''
    event_id = next((candidate for candidate in candidates if candidate > str(cursor or '')), candidates[0])
    try:
        comments = AI_EVENT_KIND.comments(client, event_id)
    except DarktraceApiError as error:
        if error.kind != 'not_found':
            raise
        return [event_id], event_id  # get-remote-data finds out whether the event is gone
    new = [comment for comment in comments if not is_xsoar_comment(str(comment.get('message') or ''))
           and is_unseen(comment, records[event_id])]
    return ([event_id] if new else []), event_id


def get_modified_remote_data_command(client: Client, args: dict[str, Any],
                                     mirror: MirrorSettings) -> GetModifiedRemoteDataResponse:
    """The mirrored records changed since the last cycle, for a constant number of requests: the breach comment feed,
    two id-only breach lists, one id-only AI Analyst event list, and the comments of one AI Analyst event. Records
    never mirrored in yet, and records no longer listed (once, so get-remote-data can tell whether they are gone),
    are named too."""
    last_update_ms = parse_last_update(args)
    now = now_ms()
    state = mirror_state(integration_context())
    breaches = mirrored_records(state, MIRROR_BREACHES)
    events = mirrored_records(state, MIRROR_EVENTS)
    emails = mirrored_records(state, MIRROR_EMAILS)
    feed_from = state.get('feedFrom') if isinstance(state.get('feedFrom'), int) else last_update_ms or now
    modified = [remote_id for remote_id, record in {**breaches, **events, **emails}.items() if record.get('s') is None]
    modified += changed_emails(client, emails, now)
    modified += breaches_with_new_comments(client, breaches, feed_from - 2 * CLOCK_SKEW_MS, now + CLOCK_SKEW_MS)
    changed_pbids, absent_pbids = changed_breaches(client, breaches, now)
    changed_event_ids, absent_event_ids = changed_events(client, events, now)
    commented, cursor = event_with_new_comments(client, events, state.get('eventCommentsCursor'))
    unlisted = absent_pbids + absent_event_ids
    reported_before = set(state.get('unlisted') or []) if isinstance(state.get('unlisted'), list) else set()
    modified += changed_pbids + changed_event_ids + commented
    modified += [remote_id for remote_id in unlisted if remote_id not in reported_before]

    def remember_cycle(context: dict[str, Any]) -> None:
        context[MIRROR_STATE_KEY] = {**mirror_state(context), 'feedFrom': now, 'unlisted': unlisted,
                                     'eventCommentsCursor': cursor}
    change_integration_context(remember_cycle)
    modified_ids = list(dict.fromkeys(modified))
    demisto.debug(f'Darktrace: {len(modified_ids)} of {len(breaches) + len(events)} mirrored records changed')
    return GetModifiedRemoteDataResponse(modified_incident_ids=modified_ids)


# --- get-remote-data and update-remote-system -------------------------------------------------------

def deleted_note(kind: RecordKind, remote_id: int | str) -> dict[str, Any]:
    """The one note saying a mirrored record is gone from the appliance."""
    return {'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.MARKDOWN, 'Note': True,
            'Contents': f'**Darktrace**: the {kind.what} {remote_id} no longer exists on the Darktrace appliance (it '
                        'was deleted, or aged out of its memory). This incident is no longer mirrored: changes made '
                        'here are not sent to Darktrace.'}


def _mirror_deleted(kind: RecordKind, remote_id: int | str, known: dict[str, Any] | None,
                    mirror: MirrorSettings) -> GetRemoteDataResponse:
    """A record the appliance no longer has: one note (and, with close_incident on, a close) the first time, then
    nothing."""
    entries: list[dict[str, Any]] = []
    if not known or known.get('s') != MIRROR_DELETED:
        entries.append(deleted_note(kind, remote_id))
        if mirror.close_incident:
            entries.append(close_entry(MIRROR_DELETED_REASON))
        gone = {'t': known['t'] if known else 0, 's': MIRROR_DELETED}
        change_integration_context(lambda context: _store_records(context, _kind_part(kind), {str(remote_id): gone},
                                                                  replace=True))
    demisto.debug(f'Darktrace: {kind.what} {remote_id} no longer exists on the appliance; {len(entries)} entries')
    return GetRemoteDataResponse(mirrored_object={kind.key_field: remote_id}, entries=entries)


def _new_comments(comments: list[dict[str, Any]], known: dict[str, Any] | None,
                  last_update_ms: int) -> list[dict[str, Any]]:
    """The comments to deliver, oldest first: those not delivered before, by identity. A record mirrored before
    this instance remembered comments (known to it neither from fetch nor from an earlier mirror) had its comments
    up to lastUpdate delivered then, so only those later are new."""
    ordered = sorted(comments, key=lambda comment: _epoch_ms(comment.get('time')))
    fresh = [comment for comment in ordered if not is_xsoar_comment(str(comment.get('message') or ''))]
    if known is None:
        return [comment for comment in fresh if _epoch_ms(comment.get('time')) > last_update_ms]
    return [comment for comment in fresh if is_unseen(comment, known)]


def get_remote_data_command(client: Client, args: dict[str, Any], mirror: MirrorSettings) -> GetRemoteDataResponse:
    """The record (model breach or AI Analyst event) of a mirrored incident, its comments made in Darktrace and not
    delivered yet (each once, by identity), and, with close_incident on, a close entry when the record is newly
    acknowledged (once per acknowledgement). A record gone from the appliance gets one note (and a close), once."""
    if is_email_remote_id(args, 'id'):
        return email_remote_data(client, _arg_text(args, 'id'))
    kind, remote_id = parse_remote_id(args, 'id')
    last_update_ms = parse_last_update(args)
    context = integration_context()
    known = mirrored_records(mirror_state(context), _kind_part(kind)).get(str(remote_id))
    if known and known.get('s') == MIRROR_DELETED:
        return _mirror_deleted(kind, remote_id, known, mirror)
    try:
        record = kind.read(client, remote_id)
        comments = kind.comments(client, remote_id)
    except DarktraceApiError as error:
        if error.kind != 'not_found':
            raise
        return _mirror_deleted(kind, remote_id, known, mirror)
    entries = [comment_note(comment) for comment in _new_comments(comments, known, last_update_ms)]
    mirrored = kind.mirrored(record, comments)
    # A record says whether it is acknowledged, not when, so "acknowledged since lastUpdate" cannot be read from
    # Darktrace. The instance remembers instead the records whose incident it closed: one close entry per
    # acknowledgement. After an analyst reopens the incident, later cycles leave it open; once the record is
    # unacknowledged in Darktrace it is forgotten, so acknowledging it again closes the incident again.
    closed = remote_id in remembered_closes(context)
    close = mirror.close_incident and mirrored['acknowledged'] and not closed
    forget = mirror.close_incident and not mirrored['acknowledged'] and closed
    if close:
        entries.append(close_entry())
    delivered = {'t': record_time(kind, record), 's': record_state(kind, mirrored), **seen_comments(comments)}

    def remember(stored: dict[str, Any]) -> None:
        _store_records(stored, _kind_part(kind), {str(remote_id): delivered}, replace=True)
        if close or forget:
            _remember_close(stored, remote_id, bool(close))
    change_integration_context(remember)
    demisto.debug(f'Darktrace: {kind.what} {remote_id} mirrored in with {len(entries)} new entries '
                  f'(acknowledged: {mirrored["acknowledged"]})')
    return GetRemoteDataResponse(mirrored_object=mirrored, entries=entries)


def _entry_field(entry: dict[str, Any], name: str) -> Any:
    """A field of an outgoing War Room entry, whichever case the platform spells its key in."""
    return entry.get(name, entry.get(name.capitalize()))


def outgoing_comment(entry: Any, comment_tag: str) -> str | None:
    """The breach comment for a War Room entry XSOAR sends out, or None for an entry that is not one to post:
    a file or other non-note entry, one without the comment tag, or a note that came from Darktrace."""
    if not isinstance(entry, dict):
        return None
    tags = _entry_field(entry, 'tags')
    if isinstance(tags, list) and comment_tag.lower() not in (str(tag).lower() for tag in tags):
        return None
    if _number(_entry_field(entry, 'type')) not in (None, EntryType.NOTE):
        return None
    text = _entry_field(entry, 'contents')
    if not isinstance(text, str) or not text.strip() or text.lstrip().startswith(DARKTRACE_NOTE_HEADING):
        return None
    user = str(_entry_field(entry, 'user') or '').strip()
    message = f'{XSOAR_COMMENT_PREFIX}{f"{user}: " if user else ""}{text.strip()}'
    return message if len(message) <= MAX_COMMENT_LENGTH else message[:MAX_COMMENT_LENGTH - 1] + '…'


def update_remote_system_command(client: Client, args: dict[str, Any], mirror: MirrorSettings) -> str:
    """Sends an XSOAR incident's changes to its record (model breach or AI Analyst event): with close_out on,
    closing the incident acknowledges the record; each War Room entry tagged with the comment tag becomes a comment
    on it. Returns the remote id.

    The acknowledgement goes first: repeating it is harmless, so when a comment fails and XSOAR sends the update
    again, only comments can be posted twice. Changes to a record gone from the appliance are skipped with a note in
    the log, not an error XSOAR would repeat every cycle.
    """
    if is_email_remote_id(args, 'remoteId'):  # Darktrace/Email incidents are mirrored in only
        return _arg_text(args, 'remoteId')
    kind, remote_id = parse_remote_id(args, 'remoteId')
    delta = parse_json_arg(args, 'delta', dict)
    entries = parse_json_arg(args, 'entries', list)
    changed = parse_bool(args, 'incidentChanged')
    closed = bool(delta.get('closeReason')) or (changed and _number(args.get('status')) == IncidentStatus.DONE)
    messages = [message for message in (outgoing_comment(entry, mirror.comment_tag) for entry in entries) if message]
    gone = (f'Darktrace: the {kind.what} {remote_id} no longer exists on the appliance, so the changes of its '
            f'incident were not sent (acknowledgement: {mirror.close_out and closed}, {len(messages)} comments)')
    known = mirrored_records(mirror_state(integration_context()), _kind_part(kind)).get(str(remote_id))
    if known and known.get('s') == MIRROR_DELETED:
        demisto.info(gone)
        return str(remote_id)
    try:
        _send_incident_changes(kind, client, remote_id, mirror.close_out and closed, messages)
    except DarktraceApiError as error:
        if error.kind != 'not_found':
            raise
        demisto.info(gone)  # the next mirroring cycle notes it in the incident
        return str(remote_id)
    demisto.debug(f'Darktrace: incident of {kind.what} {remote_id} mirrored out: acknowledged: '
                  f'{mirror.close_out and closed}, {len(messages)} comments posted')
    return str(remote_id)


def _remember_acknowledged(context: dict[str, Any], kind: RecordKind, remote_id: int | str) -> None:
    """After acknowledging a record from XSOAR: its incident is closed, and its remembered state acknowledged, so
    get-modified-remote-data does not name it for an acknowledgement XSOAR made."""
    _remember_close(context, remote_id, True)
    known = mirrored_records(mirror_state(context), _kind_part(kind)).get(str(remote_id))
    if known and isinstance(known.get('s'), str) and known['s'][:2] in ('a|', 'u|'):
        _store_records(context, _kind_part(kind), {str(remote_id): {**known, 's': 'a' + known['s'][1:]}},
                       replace=True)


def _send_incident_changes(kind: RecordKind, client: Client, remote_id: int | str, acknowledge: bool,
                           messages: list[str]) -> None:
    if acknowledge:
        reply = kind.acknowledge(client, remote_id)
        if not _confirms(reply):
            raise _unconfirmed(f'POST {kind.acknowledge_path.format(id=remote_id, action="acknowledge")}', reply)
        # Closed in XSOAR already: the acknowledgement coming back must not close it again, nor name it as changed.
        change_integration_context(lambda context: _remember_acknowledged(context, kind, remote_id))
    for message in messages:
        _created_comment(kind.add_comment(client, remote_id, message), message,
                         f'POST {kind.comment_path.format(id=remote_id)}')


def get_mapping_fields_command(client: Client, args: dict[str, Any],
                               mirror: MirrorSettings) -> GetMappingFieldsResponse:
    """The fields of each kind of mirrored record, for XSOAR's mapping editor; no request is sent."""
    kinds = [SchemeTypeMapping(type_name=kind.type_name, fields=dict(kind.fields))
             for kind in (BREACH_KIND, AI_EVENT_KIND)]
    return GetMappingFieldsResponse(kinds + [SchemeTypeMapping(type_name=EMAIL_TYPE_NAME,
                                                               fields=dict(EMAIL_MIRRORED_FIELDS))])


# --- Darktrace/Email incoming mirroring ------------------------------------------------------------
# An email incident's receipt, read and action status per recipient change in Darktrace/Email (held, released,
# read, actions taken). get-modified-remote-data finds the changed ones with one search over the window of the
# remembered emails, comparing each email's state with the one last mirrored in; get-remote-data reads one email.

MIRROR_EMAILS = 'emails'
EMAIL_TYPE_NAME = 'Darktrace NDR Email'
EMAIL_MIRRORED_FIELDS = {  # what get-remote-data adds to the email, for the mapping editor
    'recipients': 'Every recipient address.', 'held_recipients': 'The recipients for whom the email is held.',
    'actioned': 'Whether any action was taken for any recipient.', 'tags_by_severity': 'Tags by severity.',
    'ui_link': 'Link to the email in the Darktrace/Email console.'}
EMAIL_MIRROR_LOOKBACK_MS = 7 * 24 * 60 * 60 * 1000  # older emails rarely change: their changes are not looked for
EMAIL_MIRROR_PAGE_SIZE = 100
EMAIL_MIRROR_PAGES = 10


def is_email_remote_id(args: dict[str, Any], name: str) -> bool:
    return bool(EMAIL_UUID_PATTERN.fullmatch(_arg_text(args, name))) and '.' in _arg_text(args, name)


def email_state(email: dict[str, Any]) -> str:
    """What of an email can change and the incident shows, per recipient, as one short comparable digest."""
    return _fingerprint(sorted([str(rcpt.get('rcpt_to')), str(rcpt.get('rcpt_status')), bool(rcpt.get('is_read')),
                                [str(label) for label in as_list(rcpt.get('rcpt_actions_taken'))],
                                bool(rcpt.get('action_status'))] for rcpt in recipients_of(email)))


def changed_emails(client: Client, records: dict[str, dict[str, Any]], now: int) -> list[str]:
    """The remembered emails whose state differs from the one last mirrored in, from one search (at most
    EMAIL_MIRROR_PAGES pages) over their window; emails older than EMAIL_MIRROR_LOOKBACK_MS are not looked for."""
    live = {uuid: record for uuid, record in _live(records).items() if record['t'] >= now - EMAIL_MIRROR_LOOKBACK_MS}
    if not live:
        return []
    start_ms = min(record['t'] for record in live.values()) - 1000
    changed = []
    for page in range(EMAIL_MIRROR_PAGES):
        reply = client.search_emails(email_search_body(start_ms, now, [], page, EMAIL_MIRROR_PAGE_SIZE,
                                                       client.email_time_unit), max_bytes=MIRROR_LIST_MAX_BYTES)
        changed += [str(hit['uuid']) for hit in reply if isinstance(hit, dict) and str(hit.get('uuid')) in live
                    and live[str(hit['uuid'])].get('s') != email_state(hit)]
        if len(reply) < EMAIL_MIRROR_PAGE_SIZE:
            break
    return changed


def email_remote_data(client: Client, uuid: str) -> GetRemoteDataResponse:
    """get-remote-data for an email incident: the email as fetch described it, read again, and a note the first time
    the email is gone from Darktrace/Email."""
    known = mirrored_records(mirror_state(integration_context()), MIRROR_EMAILS).get(uuid)
    try:
        email = client.get_email(uuid)
    except DarktraceApiError as error:
        if error.kind != 'not_found':
            raise
        entries = [] if known and known.get('s') == MIRROR_DELETED else [{
            'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.MARKDOWN, 'Note': True,
            'Contents': f'**Darktrace**: the email {uuid} is no longer in Darktrace/Email (it aged out of its '
                        'retention); its status is no longer mirrored.'}]
        gone = {'t': known['t'] if known else 0, 's': MIRROR_DELETED}
        change_integration_context(lambda context: _store_records(context, MIRROR_EMAILS, {uuid: gone}, replace=True))
        return GetRemoteDataResponse(mirrored_object={'uuid': uuid}, entries=entries)
    context = {**email_context(email, read_tag_severities(client), client.server_url),
               RECORD_KIND_KEY: EMAIL_RECORD_KIND}
    delivered = {'t': email_dtime_ms(email), 's': email_state(email)}
    change_integration_context(lambda stored: _store_records(stored, MIRROR_EMAILS, {uuid: delivered}, replace=True))
    demisto.debug(f'Darktrace: email {uuid} mirrored in (held for {len(context["held_recipients"])} recipients)')
    return GetRemoteDataResponse(mirrored_object=context, entries=[])


''' MAIN '''

SIGNING_FORM_KEY = 'signingForm'  # integration context: the form this instance's appliance accepted last
MAX_CONTEXT_WRITE_ATTEMPTS = 5  # a write that keeps meeting other runs' writes gives up after this many


COMMANDS: dict[str, Callable[[Client, dict[str, Any]], CommandResults]] = {
    # model breaches
    'darktrace-get-model-breach': get_model_breach_command,
    'darktrace-list-model-breaches': list_model_breaches_command,
    'darktrace-acknowledge-model-breach': acknowledge_model_breach_command,
    'darktrace-unacknowledge-model-breach': unacknowledge_model_breach_command,
    'darktrace-get-model-breach-comments': get_model_breach_comments_command,
    'darktrace-post-comment-to-model-breach': post_comment_to_model_breach_command,
    'darktrace-get-model-breach-connections': get_model_breach_connections_command,
    # models
    'darktrace-get-model': get_model_command,
    'darktrace-get-model-component': get_model_component_command,
    # devices
    'darktrace-search-devices': search_devices_command,
    'darktrace-get-device': get_device_command,
    'darktrace-get-device-events': get_device_events_command,
    'darktrace-get-similar-devices': get_similar_devices_command,
    'darktrace-get-device-connection-info': get_device_connection_info_command,
    # external endpoints and Advanced Search
    'darktrace-get-external-endpoint-details': get_external_endpoint_details_command,
    'darktrace-run-advanced-search-analysis': run_advanced_search_analysis_command,
    # tags
    'darktrace-get-tagged-devices': get_tagged_devices_command,
    'darktrace-get-tags-for-device': get_tags_for_device_command,
    'darktrace-post-tag-to-device': post_tag_to_device_command,
    'darktrace-list-tags': list_tags_command,
    'darktrace-remove-tag-from-device': remove_tag_from_device_command,
    # watched list
    'darktrace-post-to-watched-list': post_to_watched_list_command,
    'darktrace-list-watched-endpoints': list_watched_endpoints_command,
    'darktrace-list-watched-sources': list_watched_sources_command,
    'darktrace-remove-from-watched-list': remove_from_watched_list_command,
    # AI Analyst
    'darktrace-get-ai-analyst-incident-event': get_ai_analyst_incident_event_command,
    'darktrace-list-ai-analyst-incident-events': list_ai_analyst_incident_events_command,
    'darktrace-acknowledge-ai-analyst-incident-event': acknowledge_ai_analyst_incident_event_command,
    'darktrace-unacknowledge-ai-analyst-incident-event': unacknowledge_ai_analyst_incident_event_command,
    'darktrace-get-ai-analyst-comments': get_ai_analyst_comments_command,
    'darktrace-post-comment-to-ai-analyst-incident-event': post_comment_to_ai_analyst_incident_event_command,
    'darktrace-get-ai-analyst-incident-group': get_ai_analyst_incident_group_command,
    # RESPOND
    'darktrace-list-respond-actions': list_respond_actions_command,
    'darktrace-activate-respond-action': activate_respond_action_command,
    'darktrace-extend-respond-action': extend_respond_action_command,
    'darktrace-clear-respond-action': clear_respond_action_command,
    'darktrace-reactivate-respond-action': reactivate_respond_action_command,
    'darktrace-create-respond-action': create_respond_action_command,
    # Darktrace/Email
    'darktrace-email-email-search': search_emails_command,
    'darktrace-email-email-get': get_email_command,
    'darktrace-email-email-hold': hold_email_command,
    'darktrace-email-email-release': release_email_command,
    'darktrace-email-email-action': email_action_command,
    'darktrace-email-action-list': list_email_actions_command,
    'darktrace-email-tag-list': list_email_tags_command,
    'darktrace-email-filter-list': list_email_filters_command,
    'darktrace-email-email-download': download_email_command,  # type: ignore[dict-item]  # a file entry
}


# Run by XSOAR to mirror incidents; they also take the mirroring parameters.
MIRRORING_COMMANDS: dict[str, Callable[[Client, dict[str, Any], MirrorSettings], Any]] = {
    'get-remote-data': get_remote_data_command,
    'get-modified-remote-data': get_modified_remote_data_command,
    'update-remote-system': update_remote_system_command,
    'get-mapping-fields': get_mapping_fields_command,
}


def _secret(params: dict[str, Any], name: str) -> str:
    """An encrypted parameter: plain text, or a credentials object whose password holds the value."""
    value = params.get(name)
    if isinstance(value, dict):
        value = value.get('password')
    return str(value or '').strip()


def _stored_context() -> tuple[dict[str, Any], int]:
    """The instance's stored state (signing form, mirroring memory) and the version it was read at. The platform
    answers {"context": {...}, "version": n}; anything else counts as an empty state of unknown version (-1)."""
    versioned = demisto.getIntegrationContextVersioned(True)
    if not isinstance(versioned, dict):
        return {}, -1
    if 'context' not in versioned:  # an older platform mock answers with the state itself
        return versioned, -1
    context, version = versioned.get('context'), versioned.get('version')
    return (context if isinstance(context, dict) else {},
            version if isinstance(version, int) and not isinstance(version, bool) else -1)


def integration_context() -> dict[str, Any]:
    """The instance's stored state; empty when missing or not an object."""
    return _stored_context()[0]


def change_integration_context(change: Callable[[dict[str, Any]], None]) -> None:
    """Apply `change` to the stored state and write it back under the version it was read at.

    Fetch, mirroring and commands can run at the same time on one instance. When another run wrote in between,
    the platform refuses the write (ValueError, as CommonServerPython's own retries expect); the state is then
    read again and `change` applied again to it, so neither run's update is lost.
    """
    for attempt in range(1, MAX_CONTEXT_WRITE_ATTEMPTS + 1):
        context, version = _stored_context()
        change(context)
        try:
            demisto.setIntegrationContextVersioned(context, version, True)
            return
        except ValueError as conflict:
            demisto.debug(f'Darktrace: the integration context changed meanwhile ({conflict}); '
                          f'write attempt {attempt} of {MAX_CONTEXT_WRITE_ATTEMPTS} is repeated on the new state')
    raise DemistoException(f'Could not store the instance state: other runs changed it {MAX_CONTEXT_WRITE_ATTEMPTS} '
                           'times while this one wrote. Run the command again.')


def update_integration_context(**changes: Any) -> None:
    """Store `changes` in the instance's state, keeping every other key as it is now."""
    change_integration_context(lambda context: context.update(changes))


def remember_signing_form(signing_form: str) -> None:
    """Called by the Client when the appliance accepted only the other signing form: later commands sign that
    way first, so they need one request each."""
    demisto.debug(f'Darktrace: the appliance accepts signatures over the {signing_form} form; remembered')
    update_integration_context(**{SIGNING_FORM_KEY: signing_form})


def build_client(params: dict[str, Any]) -> Client:
    """A `Client` from the instance parameters, refusing unusable ones before any request."""
    url = str(params.get('url') or '').strip()
    parts = urlsplit(url)
    if '@' in parts.netloc:
        # Never echoed: the text before '@' is a user name and password.
        raise ValueError('Invalid "Server URL" (url): it holds a user name or password before "@". Darktrace API '
                         'access uses only the API tokens: enter the appliance address alone, such as '
                         'https://darktrace.example.com, and change that password if the URL was shared.')
    if parts.scheme not in ('https', 'http') or not parts.netloc:
        raise ValueError(f'Invalid "Server URL" (url)="{url}": expected the appliance address, such as '
                         'https://darktrace.example.com.')
    public_token = _secret(params, 'public_api_token')
    private_token = _secret(params, 'private_api_token')
    if not public_token or not private_token:
        raise ValueError('Missing API token: enter both the public and the private API token '
                         '(Darktrace System Config > Settings > API Token).')
    retry_budget_s = parse_int(params, 'retry_budget_seconds', 0, MAX_RETRY_BUDGET_S, default=DEFAULT_RETRY_BUDGET_S)
    client = Client(url, public_token, private_token, verify=not argToBoolean(params.get('insecure') or False),
                    proxy=argToBoolean(params.get('proxy') or False), retry_budget_s=retry_budget_s,
                    on_retry=demisto.debug, on_request=demisto.debug,
                    signing_form=str(integration_context().get(SIGNING_FORM_KEY) or SIGNING_FORMS[0]),
                    on_signing_form=remember_signing_form)
    return with_email_settings(client, params)


def with_email_settings(client: Client, params: dict[str, Any]) -> Client:
    """The client, with the Email API prefix pinned by the instance or remembered (email-facts 1), and the unit of
    the Email search window."""
    path = parse_choice(params, 'email_api_path', (EMAIL_PATH_AUTOMATIC, *EMAIL_PATHS), default=EMAIL_PATH_AUTOMATIC,
                        label='Darktrace/Email API path')
    remembered = integration_context().get(EMAIL_PATH_KEY)
    client.email_path_pinned = path != EMAIL_PATH_AUTOMATIC
    client.email_path = path if client.email_path_pinned else remembered if remembered in EMAIL_PATHS else None
    client.on_email_path = remember_email_path
    client.email_time_unit = parse_choice(params, 'email_time_unit', EMAIL_TIME_UNITS, default=EMAIL_TIME_UNITS[0],
                                          label='Darktrace/Email search time unit')
    return client


def remember_email_path(prefix: str) -> None:
    """Called by the Client when the Email API answered under another prefix: later commands start there."""
    demisto.debug(f'Darktrace: the Darktrace/Email API answers under {prefix}; remembered')
    update_integration_context(**{EMAIL_PATH_KEY: prefix})


def main() -> None:
    command = demisto.command()
    params = demisto.params()
    demisto.debug(f'Darktrace: running {command}')
    try:
        if command == 'test-module':
            if argToBoolean(params.get('isFetch') or False):
                FetchSettings.from_params(params, now_ms())  # a broken fetch setup fails the test, not a later fetch
            MirrorSettings.from_params(params, demisto.integrationInstance())
            return_results(test_module(build_client(params), checks_email(params)))
        elif command == 'fetch-incidents':
            settings = FetchSettings.from_params(params, now_ms())
            mirror = MirrorSettings.from_params(params, demisto.integrationInstance())
            next_run, incidents = fetch_incidents(build_client(params), demisto.getLastRun() or {}, settings, now_ms(),
                                                  mirror)
            remember_fetched(incidents, mirror)  # before lastRun moves on: a failure here fetches them again
            demisto.setLastRun(next_run)
            demisto.incidents(incidents)
        elif command in COMMANDS:
            args = demisto.args()
            return_results(COMMANDS[command](build_client(params), args))
        elif command in MIRRORING_COMMANDS:
            mirror = MirrorSettings.from_params(params, demisto.integrationInstance())
            return_results(MIRRORING_COMMANDS[command](build_client(params), demisto.args(), mirror))
        else:
            raise NotImplementedError(f'Command "{command}" is not implemented by the Darktrace integration.')
    except Exception as error:
        # Clients already redact what they raise; this also covers text a command took from a reply.
        secrets = [_secret(params, 'public_api_token'), _secret(params, 'private_api_token')]
        return_error(redact(f'Failed to execute {command} command.\nError:\n{error}', secrets))


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
