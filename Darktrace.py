"""Darktrace integration for Cortex XSOAR.

Turns Darktrace model breaches into XSOAR incidents (each breach exactly once), and gives
analysts and playbooks commands to enrich and act on them. Reads top to bottom: constants,
the HTTP `Client`, small pure helpers, argument parsing, the command functions, fetch, `main()`.
"""
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401

import base64
import hashlib
import hmac
import ipaddress
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

''' CONSTANTS '''

VENDOR = 'Darktrace'
DTAPI_DATE_FORMAT = '%Y-%m-%d %H:%M:%S'
ISO_FORMAT = '%Y-%m-%dT%H:%M:%S'
ALL_STATUS_CODES = tuple(range(100, 600))  # every status reaches our own reply handling

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 50
DEFAULT_RETRY_BUDGET_S = 60
MAX_RETRY_BUDGET_S = 180  # with the timeouts above, a command still ends well inside XSOAR's 5 minutes
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({'GET', 'DELETE'})

MAX_SIMILAR_DEVICES = 300  # the appliance's own limit for /similardevices and /devicesearch
MAX_DESCRIPTION_LENGTH = 255
MAX_TAG_NAME_LENGTH = 128
MAX_TABLE_ROWS = 50  # the War Room stays readable; context always holds everything
ADVANCED_SEARCH_SIZE = 10000
ADVANCED_SEARCH_OPERATIONS = ('mean', 'terms', 'trend', 'score')
CONNECTION_DATA_TYPES = ('co', 'sizeout', 'sizein')

# Keys whose values Darktrace sends as epoch milliseconds (or as 'YYYY-MM-DD HH:MM:SS' UTC text).
TIME_KEYS = frozenset({
    'time', 'timems', 'creationTime', 'firstSeen', 'lastSeen', 'firsttime', 'firstTime',
    'createdAt', 'expiry', 'expires', 'start', 'end', 'timestamp', 'contactTime',
})
EPOCH_MS_FLOOR = 10 ** 11  # smaller numbers are not millisecond timestamps (durations, zero expiries)

# fetch-incidents
DEFAULT_MAX_ALERTS = 50
MAX_ALERTS_LIMIT = 1000
DEFAULT_FIRST_FETCH = '3 days'
MAX_REQUESTS_PER_RUN = 3
INITIAL_WINDOW_MS = 60 * 60 * 1000
MIN_WINDOW_MS = 1000
MAX_WINDOW_MS = 7 * 24 * 60 * 60 * 1000
# The appliance rejects requests dated more than 30 minutes from its clock, so once our clock
# has passed a moment by this much, every breach created up to that moment is on the appliance.
SETTLE_MS = 35 * 60 * 1000


''' CLIENT '''


class DarktraceApiError(DemistoException):
    """A failed Darktrace call, with a `kind` that names the failure and a message that says what to fix."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class BudgetedRetry(Retry):
    """urllib3 retries that stop once a wall-clock budget is spent, and report each retry.

    urllib3 does the waiting (honouring Retry-After, with exponential backoff and jitter), so
    the integration itself never sleeps.
    """

    deadline: float = math.inf
    on_retry: Callable[[str], None] | None = None

    def new(self, **kwargs: Any) -> 'BudgetedRetry':
        retry = super().new(**kwargs)
        retry.deadline = self.deadline
        retry.on_retry = self.on_retry
        return retry

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> 'BudgetedRetry':
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


class Client(BaseClient):
    """Signs and sends Darktrace API requests; knows HTTP and the DTAPI scheme, nothing of XSOAR.

    Every request target and body is encoded once; exactly those bytes are signed and sent.
    """

    def __init__(self, base_url: str, public_token: str, private_token: str, verify: bool = True,
                 proxy: bool = False, retry_budget_s: float = DEFAULT_RETRY_BUDGET_S,
                 on_retry: Callable[[str], None] | None = None) -> None:
        # Only scheme://host[:port] is kept: a trailing slash or a path would change the signed target.
        parts = urlsplit(base_url.strip())
        super().__init__(base_url=f'{parts.scheme}://{parts.netloc}', verify=verify, proxy=proxy)
        self._public_token = public_token
        self._private_token = private_token
        self._retry_deadline = time.monotonic() + retry_budget_s
        self._retry_budget_s = retry_budget_s
        self._on_retry = on_retry
        self._adapter = HTTPAdapter()
        self._session.mount('https://', self._adapter)
        self._session.mount('http://', self._adapter)

    # --- signing and transport -------------------------------------------------------------

    def signed_headers(self, signed_target: str, now: datetime | None = None) -> dict[str, str]:
        """The three DTAPI headers for a request whose signed target is `signed_target`."""
        date = (now or datetime.now(timezone.utc)).strftime(DTAPI_DATE_FORMAT)
        signature = dtapi_signature(self._private_token, self._public_token, signed_target, date)
        return {'DTAPI-Token': self._public_token, 'DTAPI-Date': date, 'DTAPI-Signature': signature}

    def _retry_policy(self, method: str) -> BudgetedRetry:
        """GETs retry every transient failure; a POST only a failure to connect, which never reached the appliance."""
        retryable = method in IDEMPOTENT_METHODS
        retry = BudgetedRetry(
            total=10, connect=10, read=10 if retryable else 0, other=0, redirect=0,
            status=10 if retryable else 0, status_forcelist=RETRY_STATUSES if retryable else (),
            allowed_methods=IDEMPOTENT_METHODS, backoff_factor=0.5, backoff_max=10, backoff_jitter=0.5,
            raise_on_status=False, raise_on_redirect=False, respect_retry_after_header=True,
            retry_after_max=int(self._retry_budget_s) + 1,
        )
        retry.deadline = self._retry_deadline
        retry.on_retry = self._on_retry
        return retry

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                form: dict[str, Any] | None = None, json_body: Any = None) -> Any:
        """Send one signed request and return its parsed JSON reply, or raise `DarktraceApiError`.

        `path` is sent and signed as given (already encoded); `params`, `form` and `json_body`
        are encoded here, once.
        """
        query = encode_query(params or {})
        target = f'{path}?{query}' if query else path
        headers: dict[str, str] = {}
        body: bytes | None = None
        signed_target = target
        if json_body is not None:
            body_text = json.dumps(json_body, separators=(',', ':'))  # ASCII: non-ASCII is \u-escaped
            signed_target = f'{path}?{body_text}'
            headers['Content-Type'] = 'application/json'
            body = body_text.encode()
        elif form is not None:
            body_text = encode_query(form)
            signed_target = f'{path}?{body_text}'
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
            body = body_text.encode()
        headers.update(self.signed_headers(signed_target))
        self._adapter.max_retries = self._retry_policy(method)
        try:
            response = self._http_request(
                method, full_url=self._base_url + target, data=body, headers=headers, resp_type='response',
                ok_codes=ALL_STATUS_CODES, allow_redirects=False, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except (DemistoException, requests.exceptions.RequestException) as error:
            raise transport_error(error, self._base_url) from None
        return parse_reply(response, method, path)

    # --- endpoints ---------------------------------------------------------------------------

    def get_status(self) -> dict[str, Any]:
        return self.request('GET', '/status')

    def get_similar_devices(self, did: int, count: int) -> Any:
        return self.request('GET', '/similardevices', {'did': did, 'count': count})

    def get_endpoint_details(self, endpoint_key: str, endpoint_value: str, additional_info: bool,
                             devices: bool, score: bool) -> Any:
        return self.request('GET', '/endpointdetails', {
            endpoint_key: endpoint_value, 'additionalinfo': additional_info, 'devices': devices, 'score': score})

    def get_device_info(self, params: dict[str, Any]) -> Any:
        return self.request('GET', '/deviceinfo', params)

    def advanced_search_analyze(self, metric: str, operation: str, encoded_query: str) -> Any:
        return self.request('GET', f'/advancedsearch/api/analyze/{metric}/{operation}/{encoded_query}')

    def add_to_watched_list(self, body: dict[str, Any]) -> Any:
        return self.request('POST', '/intelfeed', json_body=body)

    def get_tagged_devices(self, tag: str) -> Any:
        return self.request('GET', '/tags/entities', {'tag': tag, 'fulldevicedetails': True})

    def get_device_tags(self, did: int) -> Any:
        return self.request('GET', '/tags/entities', {'did': did})

    def add_tag_to_device(self, did: int, tag: str, duration_s: int | None) -> Any:
        return self.request('POST', '/tags/entities', form={'did': did, 'tag': tag, 'duration': duration_s})

    def get_model_breaches(self, params: dict[str, Any]) -> Any:
        return self.request('GET', '/modelbreaches', params)


''' HELPERS '''


def dtapi_signature(private_token: str, public_token: str, signed_target: str, date: str) -> str:
    """Lowercase hex HMAC-SHA1, keyed with the private token, of target, public token and date, one per line."""
    message = f'{signed_target}\n{public_token}\n{date}'
    return hmac.new(private_token.encode(), message.encode(), hashlib.sha1).hexdigest()


def encode_query(params: dict[str, Any]) -> str:
    """`k=v&…` in the given order, None values left out, booleans lowercase, everything percent-encoded.

    Only RFC 3986 unreserved characters stay literal, so no HTTP library re-encodes the string
    after it was signed.
    """
    pairs = []
    for key, value in params.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        pairs.append(f'{quote(key, safe="")}={quote(text, safe="")}')
    return '&'.join(pairs)


def _reply_text(response: requests.Response, limit: int = 200) -> str:
    return response.text[:limit].strip()


def _error_field(reply: Any) -> str:
    """The appliance's own error text from a JSON error reply (`error`, or the one value of `{segment: text}`)."""
    if isinstance(reply, dict):
        if reply.get('error'):
            return str(reply['error'])
        if len(reply) == 1:
            return str(next(iter(reply.values())))
    return ''


def parse_reply(response: requests.Response, method: str, path: str) -> Any:
    """The JSON body of a successful reply; every other outcome becomes an actionable `DarktraceApiError`."""
    status = response.status_code
    operation = f'{method} {path}'
    body_text = response.text or ''
    if 300 <= status < 400:
        location = response.headers.get('Location', '') or body_text
        if '/403' in location:
            raise DarktraceApiError('permission', (
                f'Darktrace refused {operation} (redirect to /403): the API token\'s user lacks the permission '
                'this command needs. Grant it in Darktrace (see the integration description), then retry.'), status)
        if '/login' in location:
            raise DarktraceApiError('login_redirect', (
                f'Darktrace redirected {operation} to its login page: the appliance does not know this API '
                'endpoint (check the URL points at the appliance and its version supports the command), '
                'or the request reached it without the API headers (check any proxy in between).'), status)
        raise DarktraceApiError('redirect', f'Darktrace answered {operation} with an unexpected redirect '
                                            f'({status} to {location[:100]}): check the server URL.', status)
    try:
        reply = response.json() if body_text.strip() else {}
    except ValueError:
        reply = None
    if status >= 400:
        appliance_text = _error_field(reply) or _reply_text(response)
        if 'API SIGNATURE ERROR' in body_text:
            raise DarktraceApiError('signature', (
                'Darktrace rejected the request signature (API SIGNATURE ERROR): check that the public and '
                'private API tokens are correct and from the same token pair.'), status)
        if 'API DATE ERROR' in body_text:
            raise DarktraceApiError('date', (
                'Darktrace rejected the request date (API DATE ERROR): this machine\'s clock differs from the '
                'appliance\'s by more than 30 minutes. Synchronise both clocks (NTP) and retry.'), status)
        if status == 403:
            raise DarktraceApiError('permission', (
                f'Darktrace refused {operation} (403 Forbidden): the API token\'s user lacks the permission '
                'this command needs. Grant it in Darktrace (see the integration description), then retry.'), status)
        if status == 404:
            raise DarktraceApiError('not_found', f'Darktrace found nothing for {operation} (404): '
                                                 f'{appliance_text or "check the identifiers given"}.', status)
        if status == 400:
            raise DarktraceApiError('input', f'Darktrace rejected the parameters of {operation} (400 INPUT ERROR): '
                                             f'{appliance_text or "check the arguments"}.', status)
        if status in RETRY_STATUSES or status >= 500:
            raise DarktraceApiError('unavailable', (
                f'Darktrace could not serve {operation} (HTTP {status}), even after retrying: the appliance or a '
                'proxy in front of it is overloaded or restarting. Try again in a few minutes.'), status)
        raise DarktraceApiError('http', f'Darktrace answered {operation} with HTTP {status}: {appliance_text}', status)
    if reply is None:
        if '<html' in body_text.lower() or 'text/html' in response.headers.get('Content-Type', ''):
            raise DarktraceApiError('login_page', (
                f'Darktrace answered {operation} with its login web page instead of data: something between XSOAR '
                'and the appliance followed a redirect to /login. Check the URL and any proxy; the tokens may '
                'also lack API access.'), status)
        raise DarktraceApiError('bad_json', (
            f'Darktrace answered {operation} with a reply that is not valid JSON (it may have been cut short by '
            f'a proxy or a timeout). Retry; if it persists, check the appliance. Reply began: {body_text[:80]!r}'),
            status)
    if isinstance(reply, dict) and reply.get('error'):
        raise DarktraceApiError('api_error', f'Darktrace reported an error for {operation}: {reply["error"]}', status)
    return reply


def transport_error(error: Exception, base_url: str) -> DarktraceApiError:
    """Explain a request that got no HTTP reply: TLS, DNS, refused or reset connection, timeouts."""
    cause = getattr(error, 'exception', None) or error
    detail = f'{type(cause).__name__}: {cause}'.lower()
    if isinstance(cause, requests.exceptions.SSLError) or any(
            marker in detail for marker in ('sslerror', 'certificate verify failed', '[ssl')):
        return DarktraceApiError('tls', (
            f'TLS verification of {base_url} failed: the appliance\'s certificate is not trusted by this machine. '
            'Install a trusted certificate on the appliance, or tick "Trust any certificate (not secure)".'))
    if isinstance(cause, requests.exceptions.ProxyError) or 'proxyerror' in detail:
        return DarktraceApiError('proxy', (
            f'The proxy refused the connection to {base_url}: check the system proxy, or clear "Use system proxy".'))
    if isinstance(cause, requests.exceptions.ConnectTimeout) or 'connecttimeout' in detail:
        return DarktraceApiError('timeout', (
            f'Connecting to {base_url} timed out after {CONNECT_TIMEOUT_S} s: check the URL and that the appliance '
            'is reachable from XSOAR (firewall, routing).'))
    if isinstance(cause, requests.exceptions.ReadTimeout) or 'read timed out' in detail:
        return DarktraceApiError('timeout', (
            f'Darktrace at {base_url} did not answer within {READ_TIMEOUT_S} s, even after retrying: the appliance '
            'is busy. Narrow the request (time range, limit) or try again later.'))
    if any(marker in detail for marker in ('name or service not known', 'nodename nor servname', 'getaddrinfo',
                                           'name resolution', 'failed to resolve', 'temporary failure in name')):
        return DarktraceApiError('dns', f'The host name in {base_url} could not be resolved: check the server URL.')
    if 'refused' in detail:
        return DarktraceApiError('connection', (
            f'{base_url} refused the connection: check the server URL and port, and that the appliance is up.'))
    if any(marker in detail for marker in ('reset', 'aborted', 'remotedisconnected', 'closed')):
        return DarktraceApiError('connection', (
            f'The connection to {base_url} was closed before Darktrace answered, even after retrying. '
            'Try again; if it persists, check the appliance and any proxy or load balancer in between.'))
    return DarktraceApiError('connection', (
        f'Could not reach Darktrace at {base_url}: check the server URL and the network path '
        f'({type(cause).__name__}).'))


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


def as_list(reply: Any) -> list[Any]:
    """A reply that may be one object or a list, as a list (empty for nothing)."""
    if reply is None or reply == {}:
        return []
    return reply if isinstance(reply, list) else [reply]


def markdown_table(title: str, rows: list[dict[str, Any]], headers: list[str], context_path: str = '') -> str:
    """A War Room table capped at MAX_TABLE_ROWS rows, saying where the rest is when it is cut."""
    shown = rows[:MAX_TABLE_ROWS]
    table = tableToMarkdown(title, shown, headers=headers, removeNull=False)
    if len(rows) > len(shown):
        table += (f'\nShowing the first {len(shown)} of {len(rows)} rows; '
                  f'all {len(rows)} are in context{f" at {context_path}" if context_path else ""}.\n')
    return table


def device_name(device: dict[str, Any]) -> str:
    """How an analyst recognises a device: its hostname, else its label, else its IP."""
    return str(device.get('hostname') or device.get('devicelabel') or device.get('ip') or device.get('did', ''))


''' ARGUMENT PARSING '''
# Every check runs before any request, and every message names the argument and what it accepts.

HOSTNAME_PATTERN = re.compile(r'(?=.{1,253}\.?$)(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?')
DATE_PATTERN = re.compile(r'\d{4}-\d{2}-\d{2}')
TIME_PATTERN = re.compile(r'\d{2}:\d{2}:\d{2}')
FIELD_NAME_PATTERN = re.compile(r'[A-Za-z0-9_.@-]{1,100}')


def _arg_text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    return '' if value is None else str(value).strip()


def parse_int(args: dict[str, Any], name: str, minimum: int, maximum: int | None = None,
              default: int | None = None, required: bool = False) -> int | None:
    """An integer argument within [minimum, maximum]."""
    text = _arg_text(args, name)
    accepted = f'a whole number from {minimum} to {maximum}' if maximum is not None \
        else f'a whole number of at least {minimum}'
    if not text:
        if required:
            raise ValueError(f'Missing required argument "{name}": give {accepted}.')
        return default
    if not re.fullmatch(r'[+-]?\d+', text):
        raise ValueError(f'Invalid "{name}"="{text}": expected {accepted}.')
    number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f'Invalid "{name}"={number}: expected {accepted}.')
    return number


def parse_did(args: dict[str, Any], name: str, required: bool = True) -> int | None:
    """A Darktrace device id (`did`): a positive integer."""
    return parse_int(args, name, minimum=1, required=required)


def parse_bool(args: dict[str, Any], name: str, default: bool | None = False) -> bool | None:
    text = _arg_text(args, name)
    if not text:
        return default
    try:
        return argToBoolean(text)
    except ValueError:
        raise ValueError(f'Invalid "{name}"="{text}": expected true or false.') from None


def parse_choice(args: dict[str, Any], name: str, choices: Iterable[str], required: bool = True,
                 default: str | None = None) -> str | None:
    """One of `choices`, matched case-insensitively and returned in its canonical spelling."""
    choices = tuple(choices)
    text = _arg_text(args, name)
    if not text:
        if required:
            raise ValueError(f'Missing required argument "{name}": expected one of {", ".join(choices)}.')
        return default
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    raise ValueError(f'Invalid "{name}"="{text}": expected one of {", ".join(choices)}.')


def parse_text(args: dict[str, Any], name: str, max_length: int, required: bool = True) -> str | None:
    text = _arg_text(args, name)
    if not text:
        if required:
            raise ValueError(f'Missing required argument "{name}".')
        return None
    if len(text) > max_length:
        raise ValueError(f'Invalid "{name}": {len(text)} characters, at most {max_length} are accepted.')
    return text


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_hostname(value: str) -> bool:
    return bool(HOSTNAME_PATTERN.fullmatch(value)) and not re.fullmatch(r'[\d.]+', value)


def parse_endpoint(args: dict[str, Any], name: str) -> str:
    """An IP address or a host name."""
    value = parse_text(args, name, max_length=253) or ''
    if not (is_ip(value) or is_hostname(value)):
        raise ValueError(f'Invalid "{name}"="{value}": expected an IP address or a host name such as example.com.')
    return value


def parse_date_time(args: dict[str, Any], date_name: str, time_name: str) -> datetime:
    """A UTC moment from a YYYY-MM-DD date argument and an HH:MM:SS time argument."""
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


''' COMMANDS '''


def test_module(client: Client) -> str:
    """Checks the URL, the tokens and the clock with GET /status."""
    client.get_status()
    return 'ok'


def get_similar_devices_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = parse_did(args, 'did')
    max_results = parse_int(args, 'max_results', 1, MAX_SIMILAR_DEVICES, required=True)
    devices = [iso_times(device) for device in as_list(client.get_similar_devices(did, max_results))]
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


def get_external_endpoint_details_command(client: Client, args: dict[str, Any]) -> CommandResults:
    endpoint_type = parse_choice(args, 'endpoint_type', ('IP', 'hostname'))
    value = _arg_text(args, 'endpoint_value')
    if endpoint_type == 'IP' and not is_ip(value):
        raise ValueError(f'Invalid "endpoint_value"="{value}": expected an IP address, as endpoint_type is IP.')
    if endpoint_type == 'hostname' and not is_hostname(value):
        raise ValueError(f'Invalid "endpoint_value"="{value}": expected a host name such as example.com, '
                         'as endpoint_type is hostname.')
    additional_info = parse_bool(args, 'additional_info')
    devices = parse_bool(args, 'devices')
    score = parse_bool(args, 'score')
    key = 'ip' if endpoint_type == 'IP' else 'hostname'
    reply = client.get_endpoint_details(key, value, bool(additional_info), bool(devices), bool(score))
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
        'IPs': ', '.join(str(ip.get('ip', ip) if isinstance(ip, dict) else ip) for ip in details.get('ips') or []),
    }
    headers = [header for header, cell in summary.items() if cell not in (None, '')]
    readable = markdown_table(f'{endpoint_type} {value}', [summary], headers)
    device_rows = [{'Device ID': d.get('did'), 'Hostname': d.get('hostname'), 'IP': d.get('ip'),
                    'Last contact': d.get('contactTime') or d.get('lastSeen')}
                   for d in details.get('devices') or [] if isinstance(d, dict)]
    if device_rows:
        readable += markdown_table('Devices that contacted it', device_rows,
                                   ['Device ID', 'Hostname', 'IP', 'Last contact'],
                                   'Darktrace.ExternalEndpointDetails.devices')
    return CommandResults(outputs_prefix='Darktrace.ExternalEndpointDetails', outputs_key_field='endpoint',
                          outputs=details, readable_output=readable, raw_response=reply)


def _top(items: list[Any], key: str, count: int = 5) -> list[dict[str, Any]]:
    """The `count` largest entries of a deviceinfo list by `key`, dicts only."""
    entries = [item for item in items or [] if isinstance(item, dict)]
    return sorted(entries, key=lambda item: item.get(key) if isinstance(item.get(key), (int, float)) else -1,
                  reverse=True)[:count]


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
             for p in _top(info.get(key), 'size')]
    if ports:
        parts.append(tableToMarkdown('Top ports', ports, headers=['Port', 'Direction', 'Size', 'First seen']))
    peers = [{'Peer device': p.get('did'), 'Direction': direction, 'Size': p.get('size'),
              'First seen': p.get('firstTime')}
             for direction, key in (('out', 'devicesUsed'), ('in', 'devicesServed'))
             for p in _top(info.get(key), 'size')]
    if peers:
        parts.append(tableToMarkdown('Top peer devices', peers,
                                     headers=['Peer device', 'Direction', 'Size', 'First seen']))
    return '\n'.join(parts)


def get_device_connection_info_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = parse_did(args, 'did')
    data_type = parse_choice(args, 'data_type', CONNECTION_DATA_TYPES)
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
    entries = [iso_times(entry) for entry in as_list((reply or {}).get('deviceInfo') if isinstance(reply, dict)
                                                     else reply)]
    outputs = {'did': did, 'dataType': data_type, 'deviceInfo': entries}
    if isinstance(reply, dict) and 'devices' in reply:
        outputs['devices'] = iso_times(reply['devices'])
    readable = '\n'.join(connection_summary(entry, data_type) for entry in entries if isinstance(entry, dict)) \
        or f'### No connection data for device {did}\n'
    return CommandResults(outputs_prefix='Darktrace.DeviceConnectionInfo', outputs_key_field=['did', 'dataType'],
                          outputs=outputs, readable_output=readable, raw_response=reply)


def advanced_search_rows(reply: dict[str, Any], operation: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The hits of an Advanced Search analysis as table rows, with their headers."""
    if operation == 'terms':
        buckets = ((reply.get('aggregations') or {}).get('terms') or {}).get('buckets') or []
        return [{'Value': b.get('key'), 'Count': b.get('doc_count')} for b in buckets], ['Value', 'Count']
    if operation == 'mean':
        aggregations = reply.get('aggregations') or {}
        rows = [{'Aggregation': name, 'Value': value.get('value') if isinstance(value, dict) else value}
                for name, value in aggregations.items()]
        return rows, ['Aggregation', 'Value']
    hits = (reply.get('hits') or {}).get('hits') or []
    if operation == 'trend':
        return ([{'Value': h.get('id'), 'Count': h.get('count'), 'Trend': h.get('trend'), 'Since': ms_to_iso(h.get('start'))}
                 for h in hits], ['Value', 'Count', 'Trend', 'Since'])
    return [{'Value': h.get('id'), 'Count': h.get('count')} for h in hits], ['Value', 'Count']


def run_advanced_search_analysis_command(client: Client, args: dict[str, Any]) -> CommandResults:
    start = parse_date_time(args, 'initialDate', 'initialTime')
    end = parse_date_time(args, 'endDate', 'endTime')
    if end < start:
        raise ValueError(f'Invalid time range: the end ({end:%Y-%m-%d %H:%M:%S}) is before the start '
                         f'({start:%Y-%m-%d %H:%M:%S}).')
    query = parse_text(args, 'query', max_length=4096)
    operation = parse_choice(args, 'operation', ADVANCED_SEARCH_OPERATIONS)
    metric = _arg_text(args, 'metric')
    if not FIELD_NAME_PATTERN.fullmatch(metric):
        raise ValueError(f'Invalid "metric"="{metric}": expected an Advanced Search field name such as '
                         'destinationPort or @fields.source_ip (letters, digits, _ . @ -).')
    offset = parse_int(args, 'offset', minimum=0, default=0)
    search = {'search': query, 'fields': [], 'offset': offset, 'timeframe': 'custom',
              'time': {'from': start.strftime(ISO_FORMAT) + 'Z', 'to': end.strftime(ISO_FORMAT) + 'Z',
                       'user_interval': '0'},
              'size': ADVANCED_SEARCH_SIZE}
    encoded_query = base64.b64encode(json.dumps(search, separators=(',', ':')).encode()).decode()
    reply = client.advanced_search_analyze(metric, operation, encoded_query)
    reply = reply if isinstance(reply, dict) else {'hits': {'hits': as_list(reply)}}
    rows, headers = advanced_search_rows(reply, operation)
    outputs = {key: value for key, value in iso_times(reply).items() if key != 'kibana'}
    outputs.update({'searchId': hashlib.sha1(encoded_query.encode()).hexdigest()[:16], 'query': query,
                    'metric': metric, 'operation': operation, 'from': search['time']['from'],
                    'to': search['time']['to'], 'offset': offset})
    title = f'Advanced Search {operation} of {metric} for "{query}"'
    return CommandResults(outputs_prefix='Darktrace.AdvancedSearch', outputs_key_field='searchId', outputs=outputs,
                          readable_output=markdown_table(title, rows, headers, 'Darktrace.AdvancedSearch'),
                          raw_response=reply)


def post_to_watched_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    endpoints = [item.strip() for item in argToList(args.get('endpointsToWatch')) if item.strip()]
    if not endpoints:
        raise ValueError('Missing required argument "endpointsToWatch": give one or more IP addresses or host names, '
                         'separated by commas.')
    for endpoint in endpoints:
        if not (is_ip(endpoint) or is_hostname(endpoint)):
            raise ValueError(f'Invalid entry "{endpoint}" in "endpointsToWatch": expected IP addresses or host names '
                             'separated by commas.')
    description = parse_text(args, 'description', MAX_DESCRIPTION_LENGTH, required=False)
    body: dict[str, Any] = {'addlist': ','.join(endpoints)}
    if description:
        body['description'] = description
    reply = client.add_to_watched_list(body)
    watched = isinstance(reply, dict) and str(reply.get('response', '')).upper() == 'SUCCESS'
    outputs = [{'endpoint': endpoint, 'Watched': watched, 'description': description} for endpoint in endpoints]
    rows = [{'Endpoint': endpoint, 'Watched': watched} for endpoint in endpoints]
    counts = f' ({reply.get("added", 0)} added, {reply.get("updated", 0)} updated)' if isinstance(reply, dict) else ''
    return CommandResults(outputs_prefix='Darktrace.Endpoint', outputs_key_field='endpoint', outputs=outputs,
                          readable_output=markdown_table(f'Watched list{counts}', rows, ['Endpoint', 'Watched']),
                          raw_response=reply)


def get_tagged_devices_command(client: Client, args: dict[str, Any]) -> CommandResults:
    tag = parse_text(args, 'tagName', MAX_TAG_NAME_LENGTH)
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
            'credentials': device.get('credentials'),
            'otherTags': [name for name in other_tags if name and name != tag],
        })
    rows = [{'Device ID': o['deviceId'], 'Hostname': o['hostname'], 'Label': o['label'],
             'Credentials': ', '.join(map(str, o['credentials'] or [])) if isinstance(o['credentials'], list)
             else o['credentials'], 'Other tags': ', '.join(o['otherTags'])} for o in outputs]
    return CommandResults(outputs_prefix='Darktrace.Device', outputs_key_field='deviceId', outputs=outputs,
                          readable_output=markdown_table(f'Devices tagged "{tag}"', rows,
                                                         ['Device ID', 'Hostname', 'Label', 'Credentials',
                                                          'Other tags'], 'Darktrace.Device'),
                          raw_response=reply)


def _int_or_value(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def get_tags_for_device_command(client: Client, args: dict[str, Any]) -> CommandResults:
    did = parse_did(args, 'deviceId')
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
    did = parse_did(args, 'deviceId')
    tag = parse_text(args, 'tagName', MAX_TAG_NAME_LENGTH)
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


''' FETCH INCIDENTS '''


@dataclass(frozen=True)
class FetchSettings:
    """The fetch parameters, validated."""

    min_score: float  # 0..100, as the user gives it
    max_alerts: int
    first_fetch_ms: int
    include_acknowledged: bool

    @classmethod
    def from_params(cls, params: dict[str, Any], now_ms: int) -> 'FetchSettings':
        min_score_text = str(params.get('min_score') or '0').strip()
        try:
            min_score = float(min_score_text)
        except ValueError:
            min_score = -1.0
        if not 0 <= min_score <= 100:
            raise ValueError(f'Invalid "Minimum Score" (min_score)="{min_score_text}": expected a number from 0 to 100.')
        max_alerts = parse_int(params, 'max_alerts', 1, MAX_ALERTS_LIMIT, default=DEFAULT_MAX_ALERTS)
        first_fetch_text = str(params.get('first_fetch') or DEFAULT_FIRST_FETCH).strip()
        first_fetch_ms = parse_first_fetch(first_fetch_text, now_ms)
        include_acknowledged = parse_bool(params, 'include_acknowledged', default=True)
        return cls(min_score, int(max_alerts or DEFAULT_MAX_ALERTS), first_fetch_ms, bool(include_acknowledged))


def parse_first_fetch(text: str, now_ms: int) -> int:
    """'3 days', an ISO date or an epoch value (seconds or milliseconds) → epoch milliseconds."""
    if re.fullmatch(r'\d{9,10}', text):
        return int(text) * 1000
    if re.fullmatch(r'\d{12,13}', text):
        return int(text)
    try:
        moment = arg_to_datetime(text, arg_name='first_fetch', required=True)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f'Invalid "First fetch time" (first_fetch)="{text}": expected a relative time such as '
                         '"3 days", an ISO date such as 2024-01-31T00:00:00Z, or an epoch value.')
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    first_fetch_ms = int(moment.timestamp() * 1000)
    return min(first_fetch_ms, now_ms)


def breach_severity(breach: dict[str, Any]) -> float:
    """XSOAR severity from the model's category and priority, raised one step for a score of 0.8 or more.

    | model                          | score < 0.8 | score ≥ 0.8 |
    | Critical category / priority 5 | High        | Critical    |
    | Suspicious / priority 4        | Medium      | High        |
    | Compliance                     | Low         | Medium      |
    | Informational / priority 0-3   | Low         | Medium      |
    """
    model = (breach.get('model') or {}).get('then') or (breach.get('model') or {}).get('now') or {}
    category = str(model.get('category') or '').lower()
    priority = model.get('priority') if isinstance(model.get('priority'), (int, float)) else 0
    high_score = (breach.get('score') or 0) >= 0.8
    if category == 'critical' or priority >= 5:
        return IncidentSeverity.CRITICAL if high_score else IncidentSeverity.HIGH
    if category == 'suspicious' or priority == 4:
        return IncidentSeverity.HIGH if high_score else IncidentSeverity.MEDIUM
    return IncidentSeverity.MEDIUM if high_score else IncidentSeverity.LOW


def breach_to_incident(breach: dict[str, Any]) -> dict[str, Any]:
    model = (breach.get('model') or {}).get('then') or (breach.get('model') or {}).get('now') or {}
    device = breach.get('device') or {}
    pbid = breach.get('pbid')
    details = (model.get('description') or '').strip()
    if device:
        details += f'\n\nDevice: {device_name(device)} (did {device.get("did")}, IP {device.get("ip")})'
    return {
        'name': f'Darktrace Model Breach {pbid}: {model.get("name", "unknown model")}',
        'occurred': ms_to_iso(breach.get('time')),
        'severity': breach_severity(breach),
        'details': details.strip(),
        'rawJSON': json.dumps(breach),
        'dbotMirrorId': str(pbid),
    }


def _creation_ms(breach: dict[str, Any]) -> int:
    return int(breach.get('creationTime') or breach.get('time') or 0)


def fetch_incidents(client: Client, last_run: dict[str, Any], settings: FetchSettings,
                    now_ms: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One fetch cycle: the next breaches by creation time, each exactly once, at most `max_alerts`.

    The cursor is (`start_ms`, `seen_pbids`): every breach created before `start_ms` was delivered,
    and so were those created exactly at `start_ms` whose pbid is in `seen_pbids`. Each request asks
    for a bounded window `[start_ms, start_ms + window_ms]` that narrows when it holds far more than
    `max_alerts` breaches and widens when it holds few. Windows filter on `creationTime`, so a breach
    recorded hours after its activity (`time`) is still picked up when it appears. Any failed request
    raises, and the platform then keeps the previous `lastRun`.
    """
    start_ms = int(last_run.get('start_ms', settings.first_fetch_ms))
    seen = set(last_run.get('seen_pbids', []))
    window_ms = int(last_run.get('window_ms', INITIAL_WINDOW_MS))
    settled_ms = now_ms - SETTLE_MS
    delivered: list[dict[str, Any]] = []

    for _ in range(MAX_REQUESTS_PER_RUN):
        end_ms = min(start_ms + window_ms, now_ms)
        reply = as_list(client.get_model_breaches({
            # One millisecond earlier, in case the appliance treats the bound as exclusive.
            'starttime': start_ms - 1, 'endtime': end_ms, 'creationtime': True,
            'minscore': f'{settings.min_score / 100:g}' if settings.min_score else None,
            'includeacknowledged': settings.include_acknowledged, 'includebreachurl': True, 'deviceattop': True,
        }))
        fresh = sorted((breach for breach in reply if isinstance(breach, dict) and 'pbid' in breach
                        and (start_ms < _creation_ms(breach) <= end_ms
                             or (_creation_ms(breach) == start_ms and breach['pbid'] not in seen))),
                       key=lambda breach: (_creation_ms(breach), breach['pbid']))
        room = settings.max_alerts - len(delivered)
        if len(reply) > 2 * settings.max_alerts:
            window_ms = max(MIN_WINDOW_MS, window_ms * settings.max_alerts // len(reply))
        elif len(reply) <= settings.max_alerts // 2:
            window_ms = min(MAX_WINDOW_MS, window_ms * 2)
        taken = fresh[:room]
        delivered.extend(taken)
        if len(fresh) > room:
            next_start = _creation_ms(taken[-1])
        else:  # the whole window was read, but past settled_ms the appliance may still record breaches
            next_start = max([start_ms, min(end_ms, settled_ms)] + [_creation_ms(breach) for breach in taken])
        if next_start != start_ms:
            seen = set()
        seen.update(breach['pbid'] for breach in taken if _creation_ms(breach) == next_start)
        start_ms = next_start
        if len(delivered) >= settings.max_alerts or end_ms >= now_ms:
            break

    next_run = {'start_ms': start_ms, 'seen_pbids': sorted(seen), 'window_ms': window_ms}
    return next_run, [breach_to_incident(breach) for breach in delivered]


''' MAIN '''

COMMANDS: dict[str, Callable[[Client, dict[str, Any]], CommandResults]] = {
    'darktrace-get-similar-devices': get_similar_devices_command,
    'darktrace-get-external-endpoint-details': get_external_endpoint_details_command,
    'darktrace-get-device-connection-info': get_device_connection_info_command,
    'darktrace-run-advanced-search-analysis': run_advanced_search_analysis_command,
    'darktrace-post-to-watched-list': post_to_watched_list_command,
    'darktrace-get-tagged-devices': get_tagged_devices_command,
    'darktrace-get-tags-for-device': get_tags_for_device_command,
    'darktrace-post-tag-to-device': post_tag_to_device_command,
}


def _secret(params: dict[str, Any], name: str) -> str:
    """An encrypted parameter: plain text, or a credentials object whose password holds the value."""
    value = params.get(name)
    if isinstance(value, dict):
        value = value.get('password')
    return str(value or '').strip()


def build_client(params: dict[str, Any]) -> Client:
    """A `Client` from the instance parameters, refusing unusable ones before any request."""
    url = str(params.get('url') or '').strip()
    parts = urlsplit(url)
    if parts.scheme not in ('https', 'http') or not parts.netloc:
        raise ValueError(f'Invalid "Server URL" (url)="{url}": expected the appliance address, such as '
                         'https://darktrace.example.com.')
    public_token = _secret(params, 'public_api_token')
    private_token = _secret(params, 'private_api_token')
    if not public_token or not private_token:
        raise ValueError('Missing API token: enter both the public and the private API token '
                         '(Darktrace System Config > Settings > API Token).')
    retry_budget_s = parse_int(params, 'retry_budget_seconds', 0, MAX_RETRY_BUDGET_S, default=DEFAULT_RETRY_BUDGET_S)
    return Client(url, public_token, private_token, verify=not argToBoolean(params.get('insecure') or False),
                  proxy=argToBoolean(params.get('proxy') or False), retry_budget_s=float(retry_budget_s or 0),
                  on_retry=demisto.debug)


def now_ms() -> int:
    return int(time.time() * 1000)


def main() -> None:
    command = demisto.command()
    params = demisto.params()
    demisto.debug(f'Darktrace: running {command}')
    try:
        if command == 'test-module':
            if argToBoolean(params.get('isFetch') or False):
                FetchSettings.from_params(params, now_ms())  # a broken fetch setup fails the test, not a later fetch
            return_results(test_module(build_client(params)))
        elif command == 'fetch-incidents':
            settings = FetchSettings.from_params(params, now_ms())
            next_run, incidents = fetch_incidents(build_client(params), demisto.getLastRun() or {}, settings, now_ms())
            demisto.setLastRun(next_run)
            demisto.incidents(incidents)
        elif command in COMMANDS:
            args = demisto.args()
            return_results(COMMANDS[command](build_client(params), args))
        else:
            raise NotImplementedError(f'Command "{command}" is not implemented by the Darktrace integration.')
    except Exception as error:
        return_error(f'Failed to execute {command} command.\nError:\n{error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
