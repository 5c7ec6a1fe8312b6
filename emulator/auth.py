"""Server-side DTAPI verification: the one place that knows how the appliance checks a request.

A request carries three headers: ``DTAPI-Token`` (public token), ``DTAPI-Date`` (a UTC
timestamp) and ``DTAPI-Signature`` (lowercase hex HMAC-SHA1, keyed with the private token, of
``<request-target>\\n<public token>\\n<DTAPI-Date>``).

The request-target the appliance accepts:

- GET/DELETE: the raw path plus ``?`` and the query, percent-decoded (``tag=Active Threat``, as
  Darktrace's guide and its own clients sign it) or exactly as received on the wire, as the
  ``signature_form`` setting says: ``decoded``, ``encoded`` or ``either``.
- POST: the path plus ``?`` and the body. A JSON body is signed exactly as received; a form
  body decoded or as received, like a query. A URL query on a POST with a body is never signed.
  A POST without a body is signed like a GET. The path is always signed as received.

Permissions: every route needs one permission name, and a token pair holds a set of them.
The names, one per route group:

==================== =====================================================================
status               GET /status
modelbreaches        GET /modelbreaches, /modelbreaches/{pbid}
modelbreaches_write  POST /modelbreaches/{pbid}/acknowledge, /unacknowledge
comments             GET/POST /modelbreaches/{pbid}/comments, GET /mbcomments
details              GET /details
devices              GET /devices
devicesearch         GET /devicesearch
similardevices       GET /similardevices
endpointdetails      GET /endpointdetails
deviceinfo           GET /deviceinfo
tags                 GET /tags, GET /tags/entities
tags_write           POST /tags/entities, DELETE /tags/entities
intelfeed            GET /intelfeed
intelfeed_write      POST /intelfeed
advancedsearch       GET /advancedsearch/api/...
models               GET /models
components           GET /components
aianalyst            GET /aianalyst/incidentevents, /aianalyst/groups, /aianalyst/incident/comments
aianalyst_write      POST /aianalyst/acknowledge|unacknowledge|pin|unpin, /aianalyst/incident/comments
antigena             GET /antigena
antigena_write       POST /antigena, /antigena/manual
email                every path under /agemail/api/ep/api and /agemail/api (Darktrace/Email's "Email logs")
email_action         POST /agemail/.../emails/{uuid}/action ("Manual Action")
email_download       GET /agemail/.../emails/{uuid}/download ("Download Email")
==================== =====================================================================
"""
from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from urllib.parse import unquote, unquote_plus

PERMISSIONS: frozenset[str] = frozenset({
    'status', 'modelbreaches', 'modelbreaches_write', 'comments', 'details', 'devices',
    'devicesearch', 'similardevices', 'endpointdetails', 'deviceinfo', 'tags', 'tags_write',
    'intelfeed', 'intelfeed_write', 'advancedsearch', 'models', 'components', 'aianalyst',
    'aianalyst_write', 'antigena', 'antigena_write', 'email', 'email_action', 'email_download',
})

# A 31-minute offset was rejected by a real appliance; 30 minutes is the documented limit.
MAX_SKEW_MS = 30 * 60 * 1000

DEFAULT_PUBLIC_TOKEN = 'demo-public-token'
DEFAULT_PRIVATE_TOKEN = 'demo-private-token'
DEFAULT_USERNAME = 'api_user'

_DATE_FORMATS = ('%Y-%m-%d %H:%M:%S', '%Y%m%dT%H%M%S')


class AuthOutcome(Enum):
    """What the appliance decides about a request before routing it."""
    OK = 'ok'
    NO_HEADERS = 'no_headers'
    DATE_ERROR = 'date_error'
    SIGNATURE_ERROR = 'signature_error'


@dataclass(frozen=True)
class TokenPair:
    """One API token pair and the permissions of the user it belongs to."""
    public: str
    private: str
    permissions: frozenset[str]
    username: str = DEFAULT_USERNAME


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request that take part in the signature, as received on the wire."""
    method: str
    raw_path: str
    raw_query: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class AuthResult:
    """The outcome plus the token pair that signed the request (None unless OK)."""
    outcome: AuthOutcome
    token_pair: TokenPair | None = None


def sign(private_token: str, public_token: str, request_target: str, date: str) -> str:
    """The signature a client must send for ``request_target`` at ``date``."""
    message = f'{request_target}\n{public_token}\n{date}'.encode('utf-8')
    return hmac.new(private_token.encode('utf-8'), message, hashlib.sha1).hexdigest()


def parse_dtapi_date(value: str) -> int | None:
    """Epoch ms of a DTAPI-Date value, or None when the appliance would not understand it.

    Naive timestamps are UTC, as the documented formats carry no offset.
    """
    text = value.strip()
    if not text:
        return None
    parsed: datetime | None = None
    for date_format in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, date_format)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def request_targets(request: SignedRequest, signature_form: str = 'either') -> list[str]:
    """Every request-target string the appliance accepts a signature for, raw form first.

    ``signature_form`` is ``decoded`` (the query or form body percent-decoded, ``+`` read either
    way), ``encoded`` (exactly as received) or ``either``.
    """
    path = request.raw_path
    if request.method.upper() == 'POST' and request.body:
        text = request.body.decode('utf-8', errors='surrogateescape')
        if text.lstrip().startswith(('{', '[')):
            return [f'{path}?{text}']
    elif request.raw_query:
        text = request.raw_query
    else:
        return [path]
    candidates = []
    if signature_form in ('encoded', 'either'):
        candidates.append(f'{path}?{text}')
    if signature_form in ('decoded', 'either'):
        candidates += [f'{path}?{unquote(text)}', f'{path}?{unquote_plus(text)}']
    unique: list[str] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def first_path_segment(raw_path: str) -> str:
    """The key of the appliance's JSON error bodies: ``/tags/entities`` -> ``tags``."""
    return raw_path.lstrip('/').split('/', 1)[0].split('?', 1)[0]


class Authenticator:
    """Holds the token pairs and checks DTAPI headers against the appliance clock."""

    def __init__(self) -> None:
        self._pairs: dict[str, TokenPair] = {}
        self._lock = threading.Lock()

    def add_token_pair(self, public: str, private: str, permissions: set[str] | frozenset[str] | None = None,
                       username: str = DEFAULT_USERNAME) -> TokenPair:
        """Register a pair; ``permissions=None`` grants every permission."""
        granted = PERMISSIONS if permissions is None else frozenset(permissions)
        unknown = granted - PERMISSIONS
        if unknown:
            raise ValueError(f'unknown permissions: {sorted(unknown)}')
        pair = TokenPair(public=public, private=private, permissions=granted, username=username)
        with self._lock:
            self._pairs[public] = pair
        return pair

    def token_pair(self, public: str) -> TokenPair | None:
        with self._lock:
            return self._pairs.get(public)

    def verify(self, request: SignedRequest, now_ms: int, signature_form: str = 'either') -> AuthResult:
        """Decide as the appliance does: missing headers, then the date, then the signature."""
        public = request.header('DTAPI-Token')
        date = request.header('DTAPI-Date')
        signature = request.header('DTAPI-Signature')
        if public is None and date is None and signature is None:
            return AuthResult(AuthOutcome.NO_HEADERS)
        date_ms = parse_dtapi_date(date or '')
        if date_ms is None or abs(date_ms - now_ms) > MAX_SKEW_MS:
            return AuthResult(AuthOutcome.DATE_ERROR)
        pair = self.token_pair(public or '')
        if pair is None or signature is None:
            return AuthResult(AuthOutcome.SIGNATURE_ERROR)
        received = signature.strip().lower().encode('ascii', errors='replace')
        matched = False
        # Every candidate is compared (no early exit) so timing does not reveal which form matched.
        for target in request_targets(request, signature_form):
            expected = sign(pair.private, pair.public, target, date or '').encode('ascii')
            matched = hmac.compare_digest(expected, received) or matched
        if not matched:
            return AuthResult(AuthOutcome.SIGNATURE_ERROR)
        return AuthResult(AuthOutcome.OK, pair)
