"""Unit tests of the Darktrace integration, in sections: client & signing; replies & errors; helpers & argument
parsing; then one section per command domain (model breaches and models, devices, endpoints & Advanced Search,
tags, watch list, AI Analyst, RESPOND), each holding every unit test of its commands and ending with the
domain's bad-argument rows (<DOMAIN>_BAD_ARGUMENTS) and its runs on recorded-shape replies (<DOMAIN>_TABLE_RUNS);
fetch; mirroring; main & test-module; and the generic tests that run every domain's rows. End-to-end tests mirror
it in tests/e2e/, one module per domain. A new command's rows go in its domain's lists.

Replies come from recorded-shape fixtures in test_data/; HTTP is intercepted with requests_mock (the exact
requests and reply shapes); fetch logic runs against tests/fake_appliance.py. Only the platform's public names
are used, so these tests also pass with the real platform modules.
"""
import json
import re
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock as requests_mocking

import demistomock as demisto
from CommonServerPython import (CommandResults, DemistoException, EntryFormat, EntryType, GetMappingFieldsResponse,
                                GetModifiedRemoteDataResponse, GetRemoteDataResponse, IncidentSeverity, IncidentStatus)

import Darktrace
from Darktrace import (Client, DarktraceApiError, FetchSettings, MirrorSettings, dtapi_signature, encode_query,
                       fetch_incidents, iso_times, ms_to_iso)
from fake_appliance import FakeAppliance

BASE = 'https://dt.example'
PUBLIC = 'unit-public'
PRIVATE = 'unit-private-SECRET-7f3a'
REPO_ROOT = Path(__file__).parent
TEST_DATA = REPO_ROOT / 'test_data'


def load(name: str) -> Any:
    return json.loads((TEST_DATA / name).read_text())


@pytest.fixture(autouse=True)
def stored_context(mocker: Any) -> dict[str, Any]:
    """The instance's integration context, empty for each test and kept as JSON as the platform keeps it."""
    stored: dict[str, Any] = {}

    def store(value: dict[str, Any]) -> None:
        stored.clear()
        stored.update(json.loads(json.dumps(value)))

    versions = [0]

    def store_versioned(value: dict[str, Any], version: int = -1, sync: bool = False) -> None:
        if version not in (-1, versions[0]):
            raise ValueError(f'integration context version {version} is older than {versions[0]}')
        store(value)
        versions[0] += 1

    mocker.patch.object(demisto, 'getIntegrationContext', side_effect=lambda: json.loads(json.dumps(stored)))
    mocker.patch.object(demisto, 'setIntegrationContext', side_effect=store)
    mocker.patch.object(demisto, 'getIntegrationContextVersioned',
                        side_effect=lambda refresh=False: {'context': json.loads(json.dumps(stored)),
                                                           'version': versions[0]})
    mocker.patch.object(demisto, 'setIntegrationContextVersioned', side_effect=store_versioned)
    return stored


@pytest.fixture
def client() -> Client:
    return Client(f'{BASE}/', PUBLIC, PRIVATE, retry_budget_s=0)


def query_of(request: Any) -> dict[str, list[str]]:
    """The query exactly as sent (requests_mock's own `qs` lowercases names and values)."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query, keep_blank_values=True)


def context_key(result: CommandResults) -> str:
    """The one EntryContext key of a result, e.g. 'Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId)'."""
    (key,) = result.to_context()['EntryContext']
    return key


def decoded_form(encoded: str) -> str:
    """A query or form body as Darktrace's guide signs it: `k=v&…` with each key and value percent-decoded."""
    return '&'.join('='.join(urllib.parse.unquote(part) for part in pair.split('=', 1))
                    for pair in encoded.split('&')) if encoded else ''


def assert_signed(request: Any, body: bytes | None = None, signing_form: str = 'decoded') -> None:
    """The request carries a valid DTAPI signature over its wire target (or path?body for a POST), with the
    query or form body decoded (the default) or exactly as sent; a JSON body is always signed as sent."""
    parts = urllib.parse.urlsplit(request.url)
    signed_text = parts.query
    if body is not None:
        assert request.body == body
        signed_text = body.decode()
    if signing_form == 'decoded' and not signed_text.startswith('{'):
        signed_text = decoded_form(signed_text)
    target = f'{parts.path}?{signed_text}' if signed_text or body is not None else parts.path
    expected = dtapi_signature(PRIVATE, PUBLIC, target, request.headers['DTAPI-Date'])
    assert request.headers['DTAPI-Token'] == PUBLIC
    assert request.headers['DTAPI-Signature'] == expected

HOUR_MS = 3600 * 1000


NOW_MS = 1_700_000_000_000


def settings(**overrides: Any) -> FetchSettings:
    values = {'min_score': 0.0, 'max_alerts': 50, 'first_fetch_ms': NOW_MS - 24 * HOUR_MS,
              'include_acknowledged': True}
    values.update(overrides)
    return FetchSettings(**values)


def make_breach(pbid: int, creation_ms: int, time_ms: int | None = None, score: float = 0.5) -> dict[str, Any]:
    template = load('model_breaches.json')[0]
    return {**template, 'pbid': pbid, 'creationTime': creation_ms, 'time': time_ms or creation_ms, 'score': score,
            'percentscore': round(score * 100)}


PARAMS = {'url': BASE, 'public_api_token': PUBLIC, 'private_api_token': {'password': PRIVATE}, 'min_score': '0'}


def run_main(mocker: Any, command: str, args: dict | None = None, params: dict | None = None) -> Any:
    mocker.patch.object(demisto, 'command', return_value=command)
    mocker.patch.object(demisto, 'params', return_value=params or PARAMS)
    mocker.patch.object(demisto, 'args', return_value=args or {})
    results = mocker.patch.object(Darktrace, 'return_results')
    error = mocker.patch.object(Darktrace, 'return_error')
    Darktrace.main()
    return results, error


PBID = 30960


MODEL_UUID = '80010119-6d7f-0000-0305-5e0000000256'


EVENT_ID = '04a3f36e-4u8w-v9dh-x6lb-894778cf9633'


GROUP_ID = 'g04a3f36e-4u8w-v9dh-x6lb-894778cf9633'


def form_fields(request: Any) -> dict[str, list[str]]:
    body = request.body if isinstance(request.body, str) else request.body.decode()
    return urllib.parse.parse_qs(body, keep_blank_values=True)


def details_appliance(events: list[dict[str, Any]], breach_record: dict[str, Any] | None = None) -> Any:
    """A requests_mock callback playing /details as the darktrace-sdk says appliances take it: times only in
    pairs and `count` only without them (else 400 INPUT ERROR); a pair selects the events inside it (both ends
    included), `count` alone the newest ones; with pbid the breach record comes first."""
    def answer(request: Any, context: Any) -> Any:
        query = {key: values[0] for key, values in query_of(request).items()}
        paired = {'starttime', 'endtime'} & set(query)
        if len(paired) == 1 or (paired and 'count' in query):
            context.status_code = 400
            return {'error': 'unpaired time or count with a time range', 'response': 'INPUT ERROR'}
        newest = sorted(events, key=lambda event: event['timems'], reverse=True)
        if paired:
            selected = [e for e in newest if int(query['starttime']) <= e['timems'] <= int(query['endtime'])]
        else:
            selected = newest[:int(query['count']) - (1 if breach_record else 0)] if 'count' in query else newest
        return ([breach_record] if breach_record else []) + selected
    return answer


def details_windows(requests_mock: Any) -> list[tuple[int, int]]:
    return [(int(query_of(r)['starttime'][0]), int(query_of(r)['endtime'][0])) for r in requests_mock.request_history]


RECORDED = load('breach_connections.json')


BREACH_RECORD, RECORDED_CONNECTIONS = RECORDED[0], RECORDED[1:]


# test_data/respond_actions.json is dated around this moment: 5001 pending, 5002 and 5003 active, 5004 cleared,
# 5005 expired.
RESPOND_NOW_MS = 1717416000000  # 2024-06-03T12:00:00Z


def respond_actions() -> list[dict[str, Any]]:
    return load('respond_actions.json')


MIRROR_TAG = 'darktrace comment'


def mirror_settings(**overrides: Any) -> MirrorSettings:
    values = {'direction': 'Both', 'instance': 'Darktrace_instance_1', 'close_incident': False, 'close_out': False,
              'comment_tag': MIRROR_TAG}
    values.update(overrides)
    return MirrorSettings(**values)


# --- client & signing ---------------------------------------------------------------------------------

@pytest.mark.parametrize('public, private, target, date, signature', [
    ('test_public_token', 'test_private_token', '/devices', '2025-01-15 12:30:00',
     'e3c82b28eb735735b9d288d6d2d63b14cba2e008'),
    ('test_public_token', 'test_private_token', '/devices?aparam=aval&mparam=mval&zparam=zval', '2025-06-01 00:00:00',
     '2f247e5248b933fccf527bebc479248613c320a4'),
    ('test_public_token', 'test_private_token',
     '/modelbreaches/101/comments?{"message":"Test Comment","priority":"high"}',
     '2023-12-25 23:59:59', 'b309669f63f10c0de47230144c623b6869ebfac3'),
    ('examplepub', 'examplepri', '/modelbreaches?minscore=0.5&starttime=1700000000000', '20240101T120000',
     '74a4453c4e16ce507d133b5ef9b86449cf6f4a38'),
])
def test_signature_known_answer_vectors(public: str, private: str, target: str, date: str, signature: str) -> None:
    """
    Given the known-answer vectors of the Darktrace API guide
    When the signature is computed
    Then it matches the published value.
    """
    assert dtapi_signature(private, public, target, date) == signature


def test_signed_headers_use_the_dtapi_date_format() -> None:
    """
    Given a client and a fixed moment
    When it signs a request target
    Then the date is 'YYYY-MM-DD HH:MM:SS' UTC and the signature matches the first known-answer vector.
    """
    signer = Client(BASE, 'test_public_token', 'test_private_token')
    headers = signer.signed_headers('/devices', now=datetime(2025, 1, 15, 12, 30, tzinfo=timezone.utc))
    assert headers == {'DTAPI-Token': 'test_public_token', 'DTAPI-Date': '2025-01-15 12:30:00',
                       'DTAPI-Signature': 'e3c82b28eb735735b9d288d6d2d63b14cba2e008'}


AWKWARD_VALUES = ['Active Threat', 'a&b=c', 'x+y/z', '100%', 'say "hi" \'there\'', 'café – 東京', '?#[]@!$,;',
                  '~._-']


@pytest.mark.parametrize('value', AWKWARD_VALUES)
def test_query_signature_covers_exactly_the_wire_target(client: Client, requests_mock: Any, value: str) -> None:
    """
    Given a tag name with spaces, reserved characters, quotes or non-ASCII text
    When the tagged devices are requested
    Then the signature covers the decoded values of the query that went on the wire, and the value arrives intact.
    """
    requests_mock.get(f'{BASE}/tags/entities', json={'entities': [], 'devices': []})
    client.get_tagged_devices(value)
    request = requests_mock.last_request
    assert_signed(request)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query) == {
        'tag': [value], 'fulldevicedetails': ['true']}


@pytest.mark.parametrize('value', AWKWARD_VALUES)
def test_form_body_signature_covers_exactly_the_body_sent(client: Client, requests_mock: Any, value: str) -> None:
    """
    Given a tag name with awkward characters
    When the tag is posted (a form body)
    Then the body is percent-encoded once, the signature covers path?<decoded body>, and the value decodes intact.
    """
    requests_mock.post(f'{BASE}/tags/entities', json={'tid': 1})
    client.add_tag_to_device(7, value, None)
    request = requests_mock.last_request
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    assert_signed(request, body)
    assert request.headers['Content-Type'] == 'application/x-www-form-urlencoded'
    assert urllib.parse.parse_qs(body.decode()) == {'did': ['7'], 'tag': [value]}


@pytest.mark.parametrize('value', AWKWARD_VALUES)
def test_json_body_signature_covers_exactly_the_body_sent(client: Client, requests_mock: Any, value: str) -> None:
    """
    Given a description with awkward characters
    When entries are posted to the watched list (a JSON body)
    Then the JSON is serialised once, sent and signed byte for byte, and decodes to the value.
    """
    requests_mock.post(f'{BASE}/intelfeed', json={'added': 1, 'updated': 0, 'response': 'SUCCESS'})
    client.add_to_watched_list({'addlist': 'evil.com', 'description': value})
    request = requests_mock.last_request
    assert_signed(request, request.body)
    assert json.loads(request.body) == {'addlist': 'evil.com', 'description': value}


def test_base_url_path_and_trailing_slash_do_not_change_the_signed_target(requests_mock: Any) -> None:
    """
    Given a server URL with a trailing path and slash
    When a request is sent
    Then it goes to the appliance root and the signature is over '/status'.
    """
    requests_mock.get(f'{BASE}/status', json=load('status.json'))
    Client(f'{BASE}/some/path/', PUBLIC, PRIVATE).get_status()
    assert requests_mock.last_request.path_url == '/status'
    assert_signed(requests_mock.last_request)


def test_encode_query_keeps_order_drops_none_and_lowercases_booleans() -> None:
    """
    Given parameters in a chosen order with None and boolean values
    When they are encoded
    Then order is kept, None is left out, booleans are lowercase and empty values stay.
    """
    assert encode_query({'z': 1, 'a': None, 'm': True, 'b': False, 'e': ''}) == 'z=1&m=true&b=false&e='


def test_known_answer_vectors_through_the_signed_targets() -> None:
    """
    Given the queries and the JSON body of the known-answer vectors, built as the client builds requests
    When their signed targets are computed in either form
    Then the signatures are the published ones (these values are the same decoded and encoded).
    """
    query_target = Darktrace.request_targets('/devices', {'aparam': 'aval', 'mparam': 'mval', 'zparam': 'zval'},
                                             None, None)
    json_text, _ = Darktrace.encode_body(None, {'message': 'Test Comment', 'priority': 'high'})
    json_target = Darktrace.request_targets('/modelbreaches/101/comments', None, None, json_text)
    for signing_form in Darktrace.SIGNING_FORMS:
        assert dtapi_signature('test_private_token', 'test_public_token', query_target[signing_form],
                               '2025-06-01 00:00:00') == '2f247e5248b933fccf527bebc479248613c320a4'
        assert dtapi_signature('test_private_token', 'test_public_token', json_target[signing_form],
                               '2023-12-25 23:59:59') == 'b309669f63f10c0de47230144c623b6869ebfac3'
    breaches = Darktrace.request_targets('/modelbreaches', {'minscore': '0.5', 'starttime': 1700000000000}, None, None)
    assert dtapi_signature('examplepri', 'examplepub', breaches['decoded'], '20240101T120000') == \
        '74a4453c4e16ce507d133b5ef9b86449cf6f4a38'


def test_signed_targets_decoded_and_encoded() -> None:
    """
    Given a query and a form body holding a space, and a JSON body
    When their signed targets are computed
    Then the decoded form holds the values as they are, the encoded form the bytes sent, and a JSON body
    is the same in both.
    """
    assert Darktrace.request_targets('/tags/entities', {'did': 1, 'tag': 'Active Threat'}, None, None) == {
        'decoded': '/tags/entities?did=1&tag=Active Threat', 'encoded': '/tags/entities?did=1&tag=Active%20Threat'}
    assert Darktrace.request_targets('/tags/entities', None, {'did': 1, 'tag': 'Active Threat'}, None) == {
        'decoded': '/tags/entities?did=1&tag=Active Threat', 'encoded': '/tags/entities?did=1&tag=Active%20Threat'}
    assert Darktrace.request_targets('/intelfeed', {'x': 'a b'}, None, '{"d":"a b"}') == {
        'decoded': '/intelfeed?{"d":"a b"}', 'encoded': '/intelfeed?{"d":"a b"}'}
    assert Darktrace.request_targets('/status', None, None, None) == {'decoded': '/status', 'encoded': '/status'}


def only_signed_in(accepted_form: str, segment: str, reply: Any, status: int = 400) -> Any:
    """A requests_mock callback playing an appliance that accepts signatures over one form only."""
    def answer(request: Any, context: Any) -> Any:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        try:
            assert_signed(request, body, accepted_form)
        except AssertionError:
            context.status_code = status
            return {segment: 'API SIGNATURE ERROR'}
        context.status_code = 200
        return reply
    return answer


SIGNING_CASES = [  # (HTTP method, path, client call, reply)
    ('GET', '/tags/entities', lambda c: c.get_tagged_devices('Active Threat'), {'entities': [], 'devices': []}),
    ('POST', '/tags/entities', lambda c: c.add_tag_to_device(1, 'Active Threat', None), {'tid': 5}),
    ('DELETE', '/tags/entities', lambda c: c.remove_tag_from_device(1, 'Active Threat'), {'response': 'SUCCESS'}),
    ('GET', '/devicesearch', lambda c: c.search_devices('hostname:"srv*"', None, None, 5, 0), {'devices': []}),
    ('GET', '/endpointdetails', lambda c: c.get_endpoint_details('ip', '2001:db8::1', False, False, False), {}),
]


@pytest.mark.parametrize('status', [400, 401])
@pytest.mark.parametrize('method, path, call, reply', SIGNING_CASES)
@pytest.mark.parametrize('preferred, accepted', [('decoded', 'decoded'), ('decoded', 'encoded'),
                                                 ('encoded', 'encoded'), ('encoded', 'decoded')])
def test_signature_error_is_retried_once_in_the_other_form(requests_mock: Any, method: str, path: str, call: Any,
                                                           reply: Any, preferred: str, accepted: str,
                                                           status: int) -> None:
    """
    Given an appliance that accepts signatures over one form only (answering 400 or 401 API SIGNATURE ERROR
    otherwise), and a client that prefers one form
    When a request whose decoded and encoded forms differ is sent (a GET, a form POST, a DELETE)
    Then it succeeds: in one request when the preferred form is accepted, else in two, the second signed in
    the other form; the client then reports and keeps the form that worked, and its next request needs one.
    """
    requests_mock.register_uri(method, f'{BASE}{path}', json=only_signed_in(accepted, path.split('/')[1], reply,
                                                                             status))
    reported: list[str] = []
    signer = Client(BASE, PUBLIC, PRIVATE, retry_budget_s=0, signing_form=preferred,
                    on_signing_form=reported.append)
    assert call(signer) == reply
    assert requests_mock.call_count == (1 if preferred == accepted else 2)
    assert signer.signing_form == accepted
    assert reported == ([] if preferred == accepted else [accepted])
    bodies = {request.body for request in requests_mock.request_history}
    assert len(bodies) == 1 and len({request.url for request in requests_mock.request_history}) == 1
    call(signer)
    assert requests_mock.call_count == (2 if preferred == accepted else 3)


@pytest.mark.parametrize('call, path, method', [
    (lambda c: c.get_tags(), '/tags', 'GET'),  # no query at all
    (lambda c: c.get_device_tags(1), '/tags/entities', 'GET'),  # the same in both forms
    (lambda c: c.add_to_watched_list({'addlist': 'a.example', 'description': 'two words'}), '/intelfeed', 'POST'),
    (lambda c: c.advanced_search_analyze('f', 'terms', 'eyJhIjoiYiBjIn0='), '/advancedsearch/api/analyze/f/terms/'
     'eyJhIjoiYiBjIn0=', 'GET'),
])
def test_signature_error_is_not_retried_when_both_forms_are_the_same(client: Client, requests_mock: Any, call: Any,
                                                                      path: str, method: str) -> None:
    """
    Given a request signed the same way in both forms (no query, plain values, a JSON body, a base64 path)
    When the appliance answers API SIGNATURE ERROR
    Then it is sent once, and the error says to check the tokens.
    """
    requests_mock.register_uri(method, f'{BASE}{path}', status_code=400, json={'x': 'API SIGNATURE ERROR'})
    with pytest.raises(DarktraceApiError, match='public and private API tokens') as raised:
        call(client)
    assert raised.value.kind == 'signature' and requests_mock.call_count == 1


def test_signature_error_in_both_forms_gives_the_token_message(requests_mock: Any) -> None:
    """
    Given wrong tokens (the appliance refuses every signature)
    When a request whose forms differ is sent
    Then it is sent twice (once in each form), the error says to check the tokens, and nothing is remembered.
    """
    requests_mock.post(f'{BASE}/tags/entities', status_code=400, json={'tags': 'API SIGNATURE ERROR'})
    reported: list[str] = []
    signer = Client(BASE, PUBLIC, PRIVATE, retry_budget_s=0, on_signing_form=reported.append)
    with pytest.raises(DarktraceApiError, match='public and private API tokens'):
        signer.add_tag_to_device(1, 'Active Threat', None)
    assert requests_mock.call_count == 2 and reported == [] and signer.signing_form == 'decoded'
    first, second = requests_mock.request_history
    assert first.headers['DTAPI-Signature'] != second.headers['DTAPI-Signature']


def test_other_failures_are_not_retried_in_the_other_form(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that rejects the parameters (400 INPUT ERROR)
    When a request whose forms differ is sent
    Then it is sent once.
    """
    requests_mock.get(f'{BASE}/tags/entities', status_code=400, json={'error': 'bad', 'response': 'INPUT ERROR'})
    with pytest.raises(DarktraceApiError, match='INPUT ERROR'):
        client.get_tagged_devices('Active Threat')
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('stored, expected', [({}, 'decoded'), ({'signingForm': 'encoded'}, 'encoded'),
                                              ({'signingForm': 'rot13'}, 'decoded'), ({'signingForm': 5}, 'decoded')])
def test_build_client_reads_the_remembered_signing_form(mocker: Any, stored: dict, expected: str) -> None:
    """
    Given a signing form stored in the integration context (or none, or a corrupted one)
    When the client is built
    Then it signs in that form first (decoded when nothing usable is stored).
    """
    mocker.patch.object(demisto, 'getIntegrationContextVersioned', return_value={'context': stored, 'version': 3})
    assert Darktrace.build_client(PARAMS).signing_form == expected


def test_main_remembers_the_form_that_worked_and_uses_it_next_time(mocker: Any, requests_mock: Any,
                                                                   stored_context: dict[str, Any]) -> None:
    """
    Given an appliance that accepts only encoded signatures, and an instance with other keys in its context
    When a command needs the fallback, and then another command runs
    Then the first takes two requests and stores 'encoded' beside the other keys; the second takes one.
    """
    requests_mock.get(f'{BASE}/tags/entities', json=only_signed_in('encoded', 'tags', {'entities': [], 'devices': []}))
    stored_context['other'] = 1
    stored = stored_context
    _, error = run_main(mocker, 'darktrace-get-tagged-devices', {'tagName': 'Active Threat'})
    error.assert_not_called()
    assert requests_mock.call_count == 2 and stored == {'other': 1, 'signingForm': 'encoded'}
    _, error = run_main(mocker, 'darktrace-get-tagged-devices', {'tagName': 'Active Threat'})
    error.assert_not_called()
    assert requests_mock.call_count == 3


def test_requests_stop_at_the_command_time_limit(client: Client, requests_mock: Any) -> None:
    """
    Given a command that has used all but 5 s of its time limit, then all of it
    When it sends a request
    Then the request's timeouts shrink to the 5 s left, and once none is left nothing is sent.
    """
    requests_mock.get(f'{BASE}/status', json={})
    client._started = Darktrace.time.monotonic() - Darktrace.COMMAND_TIME_LIMIT_S + 5
    client.get_status()
    connect_s, read_s = requests_mock.last_request.timeout
    assert 0 < connect_s <= 5 and 0 < read_s <= 5
    client._started -= 10
    with pytest.raises(DarktraceApiError, match='5 minutes') as raised:
        client.get_status()
    assert raised.value.kind == 'timeout' and requests_mock.call_count == 1
    assert Darktrace.COMMAND_TIME_LIMIT_S < 300


def test_each_request_is_logged_without_token_or_signature(requests_mock: Any) -> None:
    """
    Given a client with a request logger
    When a request succeeds and another fails without a reply
    Then each is logged with its method, target, outcome and redacted DTAPI headers.
    """
    logged: list[str] = []
    logging_client = Client(BASE, PUBLIC, PRIVATE, retry_budget_s=0, on_request=logged.append)
    requests_mock.get(f'{BASE}/devices', json={'did': 7})
    requests_mock.get(f'{BASE}/status', exc=requests.exceptions.ConnectTimeout('connect timed out'))
    logging_client.get_device(7)
    with pytest.raises(DarktraceApiError):
        logging_client.get_status()
    signature = requests_mock.request_history[0].headers['DTAPI-Signature']
    assert logged[0].startswith('Darktrace: GET /devices?did=7&includetags=true ') and '-> HTTP 200' in logged[0]
    assert logged[1].startswith('Darktrace: GET /status ') and 'no reply (ConnectTimeout)' in logged[1]
    for line in logged:
        assert "'DTAPI-Token': '<redacted>'" in line and "'DTAPI-Signature': '<redacted>'" in line
        assert PRIVATE not in line and PUBLIC not in line and signature not in line


# --- replies & errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize('reply, kind, fragment', [
    ({'status_code': 400, 'json': {'status': 'API SIGNATURE ERROR'}}, 'signature', 'public and private API tokens'),
    ({'status_code': 401, 'json': {'status': 'API SIGNATURE ERROR'}}, 'signature', 'same token pair'),
    ({'status_code': 400, 'json': {'status': 'API DATE ERROR'}}, 'date', 'more than 30 minutes'),
    ({'status_code': 302, 'headers': {'Location': '/login'}, 'text': 'Found. Redirecting to /login'},
     'login_redirect', 'login page'),
    ({'status_code': 302, 'headers': {'Location': '/403'}, 'text': 'Found. Redirecting to /403'},
     'permission', 'lacks the permission'),
    ({'status_code': 302, 'text': 'Found. Redirecting to /403'}, 'permission', 'redirect to /403'),
    ({'status_code': 302, 'headers': {'Location': '/elsewhere'}}, 'redirect', 'check the server URL'),
    ({'status_code': 403, 'json': {'error': '403 Forbidden'}}, 'permission', '403 Forbidden'),
    ({'status_code': 404, 'json': {'error': 'Device not found'}}, 'not_found', 'Device not found'),
    ({'status_code': 404, 'text': ''}, 'not_found', 'check the identifiers'),
    ({'status_code': 400, 'json': {'error': 'Invalid did', 'response': 'INPUT ERROR'}}, 'input', 'Invalid did'),
    ({'status_code': 200, 'json': {'error': 'no such tag'}}, 'api_error', 'no such tag'),
    ({'status_code': 200, 'text': '<html><head><title>Log In | Darktrace</title></head></html>',
      'headers': {'Content-Type': 'text/html'}}, 'login_page', 'login web page'),
    ({'status_code': 200, 'text': '<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>',
      'headers': {'Content-Type': 'text/html'}}, 'html_page', "web page titled 'Welcome to nginx!'"),
    ({'status_code': 401, 'text': '<html><head><title>401 Authorization Required</title></head><body>x</body></html>',
      'headers': {'Content-Type': 'text/html'}}, 'http', "HTTP 401: a web page titled '401 Authorization Required'"),
    ({'status_code': 200, 'json': []}, 'unexpected_reply', 'with an empty list where an object was expected'),
    ({'status_code': 200, 'json': 'up'}, 'unexpected_reply', 'with the text "up" where an object was expected'),
    ({'status_code': 200, 'text': '{"hostname": "cats.c'}, 'bad_json', 'not valid JSON'),
    ({'status_code': 503, 'text': 'Service Unavailable'}, 'unavailable', 'Try again'),
    ({'status_code': 429, 'headers': {'Retry-After': '1'}}, 'unavailable', 'HTTP 429'),
    ({'status_code': 500, 'json': {'error': 'boom'}}, 'unavailable', 'HTTP 500'),
    ({'status_code': 418, 'text': 'teapot'}, 'http', 'HTTP 418: teapot'),
])
def test_each_appliance_failure_gets_its_own_message(client: Client, requests_mock: Any, reply: dict, kind: str,
                                                     fragment: str) -> None:
    """
    Given the appliance answers with one of its failure shapes
    When a command's request is sent
    Then a DarktraceApiError of the matching kind says what to fix, without the private token.
    """
    requests_mock.get(f'{BASE}/status', **reply)
    with pytest.raises(DarktraceApiError) as raised:
        client.get_status()
    assert raised.value.kind == kind
    assert fragment in str(raised.value)
    assert PRIVATE not in str(raised.value)


def test_redirects_are_not_followed(client: Client, requests_mock: Any) -> None:
    """
    Given the appliance redirects to its login page, which would answer 200 HTML
    When a request is sent
    Then the redirect is reported and the login page is never requested.
    """
    requests_mock.get(f'{BASE}/status', status_code=302, headers={'Location': f'{BASE}/login'})
    requests_mock.get(f'{BASE}/login', text='<html>Log In | Darktrace</html>')
    with pytest.raises(DarktraceApiError, match='login page'):
        client.get_status()
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('error, kind, fragment', [
    (requests.exceptions.SSLError('[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'), 'tls',
     'Trust any certificate'),
    (requests.exceptions.ConnectionError("Failed to resolve 'dt.example' ([Errno -2] Name or service not known)"),
     'dns', 'could not be resolved'),
    (requests.exceptions.ConnectionError('[Errno 111] Connection refused'), 'connection', 'refused'),
    (requests.exceptions.ConnectionError(ConnectionResetError(104, 'Connection reset by peer')), 'connection',
     'closed before Darktrace answered'),
    (requests.exceptions.ConnectTimeout('connect timed out'), 'timeout', 'check the URL'),
    (requests.exceptions.ReadTimeout('Read timed out.'), 'timeout', 'did not answer'),
    (requests.exceptions.ProxyError('Unable to connect to proxy'), 'proxy', 'proxy'),
    (requests.exceptions.ConnectionError('something odd'), 'connection', 'check the server URL'),
])
def test_transport_failures_are_explained(client: Client, requests_mock: Any, error: Exception, kind: str,
                                          fragment: str) -> None:
    """
    Given the request fails before any HTTP reply (TLS, DNS, refused, reset, timeouts, proxy)
    When a command's request is sent
    Then a DarktraceApiError of the matching kind says what to check.
    """
    requests_mock.get(f'{BASE}/status', exc=error)
    with pytest.raises(DarktraceApiError) as raised:
        client.get_status()
    assert raised.value.kind == kind
    assert fragment in str(raised.value)


def test_tls_failure_with_verification_off_is_still_explained(requests_mock: Any) -> None:
    """
    Given TLS verification is off and the TLS handshake still fails (no shared protocol version or cipher)
    When a request is sent
    Then the failure is reported as a TLS handshake failure naming host, port and OpenSSL's reason, not a raw
    exception, and without advice about certificates (none was refused).
    """
    requests_mock.get(f'{BASE}/status', exc=requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='dt.example', port=443): Max retries exceeded (Caused by SSLError(SSLError(1, "
        "'[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:1000)')))"))
    with pytest.raises(DarktraceApiError) as raised:
        Client(BASE, PUBLIC, PRIVATE, verify=False).get_status()
    assert raised.value.kind == 'tls'
    assert 'TLS handshake with dt.example on port 443 failed (sslv3 alert handshake failure)' in str(raised.value)
    assert 'certificate' not in str(raised.value).lower()


@pytest.mark.parametrize('reason', ['[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)',
                                    '[SSL] record layer failure (_ssl.c:1000)',
                                    '[SSL: HTTP_REQUEST] http request (_ssl.c:1000)'])
@pytest.mark.parametrize('verify', [True, False])
def test_plain_http_behind_an_https_url_is_named(requests_mock: Any, reason: str, verify: bool) -> None:
    """
    Given an https URL whose port answers the TLS greeting in plain HTTP (each OpenSSL release words it its own way),
    with TLS verification on or off
    When a request is sent
    Then the error says the port speaks plain HTTP and gives both fixes, and says nothing of certificates.
    """
    requests_mock.get('https://dt.example:8080/status', exc=requests.exceptions.SSLError(reason))
    with pytest.raises(DarktraceApiError) as raised:
        Client('https://dt.example:8080', PUBLIC, PRIVATE, verify=verify).get_status()
    assert raised.value.kind == 'plain_http'
    assert str(raised.value).startswith('dt.example answered on port 8080 in plain HTTP, not HTTPS')
    assert 'Use http://dt.example:8080' in str(raised.value) and 'port where it serves HTTPS' in str(raised.value)
    assert 'certificate' not in str(raised.value).lower()


def test_retry_policy_retries_only_what_cannot_apply_twice(client: Client) -> None:
    """
    Given the client's retry policies
    When a GET and a POST policy are built
    Then the GET retries 429/502/503/504, resets and timeouts; the POST retries only failures to connect.
    """
    get_policy, post_policy = client._retry_policy('GET'), client._retry_policy('POST')
    assert set(get_policy.status_forcelist) == {429, 502, 503, 504} and get_policy.read > 0
    assert post_policy.read == 0 and post_policy.status == 0 and post_policy.connect > 0
    assert get_policy.respect_retry_after_header


def test_retry_budget_stops_retrying_once_spent() -> None:
    """
    Given a retry policy whose deadline has passed
    When a transient failure is counted
    Then no retry is scheduled.
    """
    from urllib3.exceptions import MaxRetryError, ProtocolError
    policy = Client(BASE, PUBLIC, PRIVATE, retry_budget_s=0)._retry_policy('GET')
    policy.deadline = 0
    with pytest.raises(MaxRetryError):
        policy.increment('GET', '/status', error=ProtocolError('reset'))


def test_retry_is_logged_without_secrets() -> None:
    """
    Given a retry policy with budget left and a logger
    When a transient failure is counted
    Then the retry is logged with the method and path only.
    """
    from urllib3.exceptions import ProtocolError
    logged: list[str] = []
    policy = Client(BASE, PUBLIC, PRIVATE, retry_budget_s=30, on_retry=logged.append)._retry_policy('GET')
    policy.increment('GET', f'{BASE}/status?x=1', error=ProtocolError('reset'))
    assert logged and 'GET /status' in logged[0] and PRIVATE not in logged[0]


@pytest.mark.parametrize('value, expected', [(0.5, 0.5), ('72.5', 72.5), ('98', 98), ('n/a', None), (True, None),
                                             ('inf', None), (None, None), ([], None)])
def test_reply_numbers_are_read_defensively(value: Any, expected: Any) -> None:
    """
    Given a reply value that should be a number (sometimes sent as text, sometimes absent or odd)
    When it is read
    Then numbers and numeric text become numbers, anything else None (never a string in context).
    """
    assert Darktrace._number(value) == expected


@pytest.mark.parametrize('value, expected', [(True, True), (None, None), ('False', False), ('true', True),
                                             ({'by': 'analyst1'}, True), (0, False)])
def test_reply_flags_are_read_defensively(value: Any, expected: Any) -> None:
    """
    Given an acknowledged flag as a boolean, text, an object or a number
    When it is read
    Then it becomes a boolean (None when absent).
    """
    assert Darktrace._flag(value) is expected


@pytest.mark.parametrize('value, expected', [(1674522265000, 1674522265000.0), ('2023-01-24 01:04:25', 1674522265000.0),
                                             ('yesterday', 0.0), (None, 0.0)])
def test_reply_times_sort_whatever_their_form(value: Any, expected: float) -> None:
    """
    Given a reply time as epoch ms, as the appliance's text form, or unreadable
    When it is turned into a sort key
    Then readable times give their epoch ms and the rest sort first as 0.
    """
    assert Darktrace._epoch_ms(value) == expected


@pytest.mark.parametrize('reply', [
    {'status_code': 429, 'headers': {'Retry-After': '1'}}, {'status_code': 502}, {'status_code': 503},
    {'status_code': 504}, {'status_code': 500, 'json': {'error': 'boom'}},
])
def test_failed_change_says_it_was_not_retried(client: Client, requests_mock: Any, reply: dict) -> None:
    """
    Given the appliance answers a POST with a transient or server error
    When a change is sent
    Then the error says it was not retried and asks to check whether the change took effect.
    """
    requests_mock.post(f'{BASE}/tags/entities', **reply)
    with pytest.raises(DarktraceApiError) as raised:
        client.add_tag_to_device(1, 'Active Threat', None)
    assert raised.value.kind == 'unavailable' and f'(HTTP {reply["status_code"]})' in str(raised.value)
    assert 'It was not retried' in str(raised.value) and 'even after' not in str(raised.value)
    assert requests_mock.call_count == 1


def test_server_error_on_a_read_is_not_called_retried(client: Client, requests_mock: Any) -> None:
    """
    Given the appliance answers a GET with 500 and an error text
    When the request is sent
    Then the message names the internal error and its text, and does not claim a retry.
    """
    requests_mock.get(f'{BASE}/status', status_code=500, json={'error': 'database locked'})
    with pytest.raises(DarktraceApiError, match=r'internal error \(HTTP 500: database locked\)') as raised:
        client.get_status()
    assert 'even after' not in str(raised.value)


def test_transient_reply_without_retries_says_the_budget_left_no_time(client: Client, requests_mock: Any) -> None:
    """
    Given a client with no retry budget and an appliance answering 429 with Retry-After 30
    When a GET is sent
    Then the message says the budget left no time to wait the 30 s asked for.
    """
    requests_mock.get(f'{BASE}/status', status_code=429, headers={'Retry-After': '30'})
    with pytest.raises(DarktraceApiError, match='no time to wait the 30 s it asked for and retry'):
        client.get_status()


@pytest.mark.parametrize('error, fragment', [
    (requests.exceptions.ConnectionError(ConnectionResetError(104, 'Connection reset by peer')),
     'closed before Darktrace answered'),
    (requests.exceptions.ReadTimeout('Read timed out.'), 'did not answer within'),
    (requests.exceptions.ChunkedEncodingError('Connection broken: IncompleteRead(3 bytes read, 9 more expected)'),
     'cut short'),
])
def test_change_without_a_complete_reply_says_it_was_not_retried(client: Client, requests_mock: Any,
                                                                 error: Exception, fragment: str) -> None:
    """
    Given a POST whose connection resets, times out or is cut mid-reply
    When the change is sent
    Then the error says what happened, that it was not retried, and to check before running again.
    """
    requests_mock.post(f'{BASE}/modelbreaches/1/acknowledge', exc=error)
    with pytest.raises(DarktraceApiError) as raised:
        client.acknowledge_model_breach(1)
    assert fragment in str(raised.value) and 'It was not retried' in str(raised.value)


def test_reply_cut_short_is_reported_as_such(client: Client, requests_mock: Any) -> None:
    """
    Given a GET whose reply body is cut before its declared length
    When it is sent
    Then the error says the reply was cut short, rather than that the appliance is unreachable.
    """
    requests_mock.get(f'{BASE}/status', exc=requests.exceptions.ChunkedEncodingError(
        'Connection broken: IncompleteRead(3 bytes read, 9 more expected)'))
    with pytest.raises(DarktraceApiError, match='cut short') as raised:
        client.get_status()
    assert raised.value.kind == 'bad_json'


# --- helpers & argument parsing -----------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (1600063200000, '2020-09-14T06:00:00.000Z'),
    ('1600063200123', '2020-09-14T06:00:00.123Z'),
    ('2020-09-14 06:00:00', '2020-09-14T06:00:00.000Z'),
    (0, 0), (57, 57), ('others', 'others'), (None, None), (True, True),
])
def test_ms_to_iso(value: Any, expected: Any) -> None:
    """
    Given epoch milliseconds, Darktrace's text dates, or values that are not times
    When they are converted
    Then times become ISO 8601 UTC and everything else is unchanged.
    """
    assert ms_to_iso(value) == expected


def test_iso_times_converts_only_time_keys_at_any_depth() -> None:
    """
    Given a nested reply with times and other numbers
    When times are converted
    Then only values under time keys change.
    """
    converted = iso_times({'did': 1600063200000, 'ips': [{'timems': 1600063200000, 'sid': 114}]})
    assert converted == {'did': 1600063200000, 'ips': [{'timems': '2020-09-14T06:00:00.000Z', 'sid': 114}]}


@pytest.mark.parametrize('text, expected_ms', [
    ('2023-01-24T01:04:25Z', 1674522265000),
    ('2023-01-24T03:04:25+02:00', 1674522265000),
    ('2023-01-24 01:04:25', 1674522265000),
    ('2023-01-24T01:04:25.500Z', 1674522265500),
    ('2023-01-24', 1674518400000),
    ('1674522265', 1674522265000),
    ('1674522265000', 1674522265000),
])
def test_parse_time_arg_absolute_forms(text: str, expected_ms: int) -> None:
    """
    Given a time argument as ISO 8601 (with Z, an offset, a space, a fraction or a date only) or an epoch value
    When it is parsed
    Then it is the epoch milliseconds of that UTC moment.
    """
    assert Darktrace.parse_time_arg({'start_time': text}, 'start_time') == expected_ms


@pytest.mark.parametrize('text, offset_ms', [('3 days', -3 * 24 * HOUR_MS), ('2 hours ago', -2 * HOUR_MS),
                                             ('in 30 days', 30 * 24 * HOUR_MS), ('now', 0)])
def test_parse_time_arg_relative_forms(text: str, offset_ms: int, pinned_clocks: int) -> None:
    """
    Given a relative time argument, and the integration's clock at a known moment
    When it is parsed
    Then it is that far from that moment, in the past unless it says "in".
    """
    assert Darktrace.parse_time_arg({'t': text}, 't') == pinned_clocks + offset_ms


@pytest.mark.parametrize('text', ['1.5', '-5', '2024-13-01', '2024-02-30T00:00:00Z', 'soonish', '3 fortnights',
                                  '17000', '99999 years'])
def test_parse_time_arg_refuses_what_is_not_a_time(text: str) -> None:
    """
    Given values the lenient date parser would misread (or cannot read)
    When they are parsed as a time argument
    Then a ValueError names the argument and the accepted forms.
    """
    with pytest.raises(ValueError, match=r'Invalid "end_time"=.*ISO 8601'):
        Darktrace.parse_time_arg({'end_time': text}, 'end_time')


def test_parse_time_range_closes_an_open_end_at_now(mocker: Any) -> None:
    """
    Given only a start time
    When the range is parsed
    Then the end is now, so the appliance gets a closed window.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=NOW_MS)
    assert Darktrace.parse_time_range({'start_time': '2023-01-24T00:00:00Z'}, 'start_time', 'end_time') == \
        (1674518400000, NOW_MS)
    assert Darktrace.parse_time_range({}, 'start_time', 'end_time') == (None, None)


def test_instance_parameters_are_named_by_label_through_the_argument_parsers() -> None:
    """
    Given instance parameters with values the parsers refuse
    When they are parsed with their display label
    Then the message names the label and the parameter, and says what is accepted, as for command arguments.
    """
    with pytest.raises(ValueError, match=r'^Invalid "Maximum Incidents per Fetch" \(max_alerts\)="many": expected a '
                                         r'whole number from 1 to 1000\.$'):
        Darktrace.parse_int({'max_alerts': 'many'}, 'max_alerts', 1, 1000, label='Maximum Incidents per Fetch')
    with pytest.raises(ValueError, match=r'^Invalid "Minimum Score" \(min_score\)="101": expected a number from 0 '
                                         r'to 100\.$'):
        FetchSettings.from_params({'min_score': '101'}, NOW_MS)
    with pytest.raises(ValueError, match=r'^Invalid "Incident Mirroring Direction" \(mirror_direction\)="Sideways": '
                                         r'expected one of None, Incoming, Outgoing, Incoming And Outgoing\.$'):
        MirrorSettings.from_params({'mirror_direction': 'Sideways'}, 'instance')
    with pytest.raises(ValueError, match=r'^Invalid "close" \(close_out\)="maybe": expected true or false\.$'):
        Darktrace.parse_bool({'close_out': 'maybe'}, 'close_out', label='close')


def test_one_clock_dates_signatures_and_relative_times(mocker: Any) -> None:
    """
    Given the integration's clock (now_ms) set to a fixed moment
    When a request is signed and relative and open-ended time arguments are read
    Then the signature date, "3 days", "in 2 hours" and the open end of a range all come from that moment.
    """
    moment_ms = int(datetime(2025, 1, 15, 12, 30, tzinfo=timezone.utc).timestamp() * 1000)
    mocker.patch.object(Darktrace, 'now_ms', return_value=moment_ms)
    headers = Client(BASE, 'test_public_token', 'test_private_token').signed_headers('/devices')
    assert headers['DTAPI-Date'] == '2025-01-15 12:30:00'
    assert headers['DTAPI-Signature'] == 'e3c82b28eb735735b9d288d6d2d63b14cba2e008'
    assert Darktrace.parse_time_arg({'start': '3 days'}, 'start') == moment_ms - 72 * HOUR_MS
    assert Darktrace.parse_time_arg({'end': 'in 2 hours'}, 'end') == moment_ms + 2 * HOUR_MS
    assert Darktrace.parse_time_range({'start': '2 hours ago'}, 'start', 'end') == (moment_ms - 2 * HOUR_MS, moment_ms)
    assert Darktrace.parse_first_fetch('1 day', moment_ms) == moment_ms - 24 * HOUR_MS


@pytest.mark.parametrize('kind, args, path', [
    (Darktrace.BREACH_KIND, {'pbid': '7'}, '/modelbreaches/7/unacknowledge'),
    (Darktrace.AI_EVENT_KIND, {'event_id': 'ad5d-1'}, '/aianalyst/unacknowledge'),
])
def test_record_kinds_refuse_an_unconfirmed_change_naming_their_request(kind: Any, args: dict, path: str,
                                                                        mocker: Any) -> None:
    """
    Given a model breach or an AI Analyst event, and an appliance that answers an unacknowledgement without confirming
    When it is unacknowledged through its record kind
    Then the error names that kind's request, so one command body serves both kinds faithfully.
    """
    client = mocker.Mock()
    client.unacknowledge_model_breach.return_value = client.unacknowledge_ai_analyst_event.return_value = {'x': 1}
    with pytest.raises(DarktraceApiError, match=f'POST {path}'):
        Darktrace.set_acknowledged(kind, client, args, acknowledged=False)


# --- model breaches and models ------------------------------------------------------------------------

def test_get_model_breach(client: Client, requests_mock: Any) -> None:
    """
    Given a model breach
    When darktrace-get-model-breach runs
    Then it reads /modelbreaches?pbid= (never the path route, which some appliances lack) asking for the
    acknowledged flag and link, and context has ISO times, numeric scores and the model flattened, keyed by
    pbid; the War Room shows model, score, device, time and link first.
    """
    requests_mock.get(f'{BASE}/modelbreaches?pbid={PBID}', json=load('model_breaches.json')[0])
    result = Darktrace.get_model_breach_command(client, {'pbid': str(PBID)})
    assert requests_mock.last_request.path == '/modelbreaches'
    assert query_of(requests_mock.last_request) == {'pbid': [str(PBID)], 'includeacknowledged': ['true'],
                                                    'includebreachurl': ['true'], 'deviceattop': ['true'],
                                                    'minimal': ['false']}
    assert_signed(requests_mock.last_request)
    assert context_key(result) == 'Darktrace.ModelBreach(val.pbid && val.pbid == obj.pbid)'
    outputs = result.outputs
    assert outputs['pbid'] == PBID and outputs['time'] == '2023-01-24T01:04:25.000Z'
    assert outputs['creationTime'] == '2023-01-24T01:04:31.000Z'
    assert outputs['score'] == 0.592 and outputs['percentscore'] == 59 and outputs['acknowledged'] is False
    assert outputs['model'] == {'name': 'Compromise::Watched Domain', 'uuid': MODEL_UUID, 'pid': 559, 'phid': 8928,
                                'category': 'Critical', 'priority': 5,
                                'description': 'Compromise::Watched Domain was triggered.', 'tags': ['AP: C2 Comms']}
    assert outputs['device']['did'] == 1417 and outputs['device']['hostname'] == 'ws1'
    assert outputs['triggeredComponents'][0]['time'] == '2023-01-24T01:04:24.000Z'
    assert outputs['mitreTechniques'] == [{'technique': 'Hardware Additions Mitigation', 'techniqueID': 'T1200'}]
    assert outputs['breachUrl'] == 'https://dt.example/#modelbreach/30960' and outputs['commentCount'] == 0
    readable = result.readable_output
    assert ('| Compromise::Watched Domain | Critical | 59 | ws1 | 2023-01-24T01:04:25.000Z | '
            '[Open in Darktrace](https://dt.example/#modelbreach/30960) | 30960 | false |') in readable
    assert '| 2997 | DNS Requests | 2023-01-24T01:04:24.000Z | DNS host lookup: cats.com |' in readable
    assert '| Hardware Additions Mitigation | T1200 |' in readable


def test_get_model_breach_normalises_text_scores_and_a_flat_model(client: Client, requests_mock: Any) -> None:
    """
    Given a one-element list reply whose scores are text, whose model is flat and which has no percentscore
    When darktrace-get-model-breach runs
    Then scores are numbers, percentscore is derived and the flat model is used.
    """
    breach = {'pbid': '7', 'time': '1674522265000', 'score': '0.915', 'acknowledged': 'true',
              'model': {'name': 'Device::New User Agent', 'priority': '2', 'uuid': MODEL_UUID}}
    requests_mock.get(f'{BASE}/modelbreaches?pbid=7', json=[breach])
    outputs = Darktrace.get_model_breach_command(client, {'pbid': '7'}).outputs
    assert outputs['pbid'] == 7 and outputs['score'] == 0.915 and outputs['percentscore'] == 92
    assert outputs['acknowledged'] is True and outputs['time'] == '2023-01-24T01:04:25.000Z'
    assert outputs['model']['name'] == 'Device::New User Agent' and outputs['model']['priority'] == 2
    assert outputs['device'] == {} and outputs['triggeredComponents'] == []


@pytest.mark.parametrize('reply', [{}, [], [{'pbid': 1, 'score': 0.2}, {'pbid': 2, 'score': 0.3}]])
def test_get_model_breach_not_found(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given an empty reply, or a list that does not hold the breach asked for
    When darktrace-get-model-breach runs
    Then a not-found error names the pbid (never someone else's breach).
    """
    requests_mock.get(f'{BASE}/modelbreaches?pbid={PBID}', json=reply)
    with pytest.raises(DarktraceApiError, match='no model breach with pbid 30960') as raised:
        Darktrace.get_model_breach_command(client, {'pbid': str(PBID)})
    assert raised.value.kind == 'not_found'


def test_list_model_breaches_sends_filters_in_the_appliance_units(client: Client, requests_mock: Any) -> None:
    """
    Given a time range, a minimum score of 50 (out of 100), a device and a model UUID
    When darktrace-list-model-breaches runs
    Then starttime/endtime are epoch ms, minscore is 0.5, and acknowledged breaches and links are asked for.
    """
    requests_mock.get(f'{BASE}/modelbreaches', json=[])
    result = Darktrace.list_model_breaches_command(client, {
        'start_time': '2023-01-24T00:00:00Z', 'end_time': '2023-01-25T00:00:00Z', 'min_score': '50',
        'did': '1417', 'uuid': MODEL_UUID})
    assert query_of(requests_mock.last_request) == {
        'starttime': ['1674518400000'], 'endtime': ['1674604800000'], 'minscore': ['0.5'], 'did': ['1417'],
        'uuid': [MODEL_UUID], 'includeacknowledged': ['true'], 'includebreachurl': ['true'], 'deviceattop': ['true'],
        'minimal': ['false']}  # guide ambiguities 1, 2: both defaults are contradictory, so both are sent
    assert result.outputs == [] and 'No model breaches on page 1 (0 in the time range)' in result.readable_output


def test_list_model_breaches_defaults_to_the_last_seven_days(client: Client, requests_mock: Any, mocker: Any) -> None:
    """
    Given no time range and no minimum score
    When darktrace-list-model-breaches runs
    Then it asks for the last 7 days up to now, and sends no minscore.
    """
    now = 1_781_094_000_000
    mocker.patch.object(Darktrace, 'now_ms', return_value=now)
    requests_mock.get(f'{BASE}/modelbreaches', json=[])
    Darktrace.list_model_breaches_command(client, {})
    query = query_of(requests_mock.last_request)
    assert 'minscore' not in query and query['endtime'] == [str(now)]
    assert int(query['starttime'][0]) == now - 7 * 24 * HOUR_MS


def test_list_model_breaches_sorts_newest_first_and_pages(client: Client, requests_mock: Any) -> None:
    """
    Given 7 breaches in no particular order (the appliance's order is not documented)
    When pages of 3 are requested
    Then page 1 holds the 3 newest, page 3 the oldest one, and the title says which slice it is.
    """
    breaches = [make_breach(100 + i, NOW_MS - i * HOUR_MS) for i in (3, 0, 6, 1, 5, 2, 4)]
    requests_mock.get(f'{BASE}/modelbreaches', json=breaches)
    args = {'start_time': '2023-01-01T00:00:00Z', 'limit': '3'}
    first = Darktrace.list_model_breaches_command(client, {**args, 'page': '1'})
    last = Darktrace.list_model_breaches_command(client, {**args, 'page': '3'})
    assert [b['pbid'] for b in first.outputs] == [100, 101, 102]
    assert [b['pbid'] for b in last.outputs] == [106]
    assert 'Model breaches 1 to 3 of 7 (page 1, newest first)' in first.readable_output
    assert 'Model breaches 7 to 7 of 7 (page 3, newest first)' in last.readable_output
    assert context_key(first) == 'Darktrace.ModelBreach(val.pbid && val.pbid == obj.pbid)'


@pytest.mark.parametrize('acknowledged, expected', [('true', [30961]), ('false', [30960, 30955]),
                                                    (None, [30960, 30961, 30955])])
def test_list_model_breaches_acknowledged_filter(client: Client, requests_mock: Any, acknowledged: str | None,
                                                 expected: list[int]) -> None:
    """
    Given acknowledged and unacknowledged breaches
    When darktrace-list-model-breaches runs with acknowledged true, false or not given
    Then only the matching breaches are listed (all when not given), newest first, ties by pbid.
    """
    requests_mock.get(f'{BASE}/modelbreaches', json=load('model_breaches.json'))
    args = {'start_time': '2023-01-01T00:00:00Z'}
    if acknowledged:
        args['acknowledged'] = acknowledged
    result = Darktrace.list_model_breaches_command(client, args)
    assert sorted(b['pbid'] for b in result.outputs) == sorted(expected)
    assert [b['pbid'] for b in result.outputs] == [p for p in [30961, 30960, 30955] if p in expected]


def test_list_model_breaches_enforces_the_minimum_score_itself(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that ignores minscore
    When darktrace-list-model-breaches runs with min_score 59.2
    Then breaches scoring below it are still left out (the boundary is kept).
    """
    requests_mock.get(f'{BASE}/modelbreaches', json=load('model_breaches.json'))
    result = Darktrace.list_model_breaches_command(client, {'start_time': '2023-01-01T00:00:00Z',
                                                            'min_score': '59.2'})
    assert query_of(requests_mock.last_request)['minscore'] == ['0.592']
    assert sorted(b['pbid'] for b in result.outputs) == [30960, 30961]


@pytest.mark.parametrize('command, path, field', [
    (Darktrace.acknowledge_model_breach_command, 'acknowledge', 'acknowledge'),
    (Darktrace.unacknowledge_model_breach_command, 'unacknowledge', 'unacknowledge'),
])
@pytest.mark.parametrize('reply', [{'response': 'SUCCESS'}, load('ack_reply_unified_view.json')])
def test_acknowledge_and_unacknowledge_model_breach(client: Client, requests_mock: Any, command: Any, path: str,
                                                    field: str, reply: Any) -> None:
    """
    Given the appliance confirms with {"response": "SUCCESS"} or a Unified View list of replicate: true
    When darktrace-(un)acknowledge-model-breach runs
    Then the signed form body says <action>=true and the breach's acknowledged flag is set in context.
    """
    requests_mock.post(f'{BASE}/modelbreaches/{PBID}/{path}', json=reply)
    result = command(client, {'pbid': str(PBID)})
    request = requests_mock.last_request
    assert form_fields(request) == {field: ['true']}
    assert_signed(request, request.body.encode() if isinstance(request.body, str) else request.body)
    assert result.outputs == {'pbid': PBID, 'acknowledged': path == 'acknowledge'}
    assert f'Model breach {PBID} {path}d' in result.readable_output


@pytest.mark.parametrize('reply', [{'response': 'FAILED'}, [{'replicate': False}], [], {'status': 'queued'},
                                   'SUCCESS'])
def test_acknowledge_model_breach_refuses_an_unconfirmed_reply(client: Client, requests_mock: Any,
                                                               reply: Any) -> None:
    """
    Given a reply that does not confirm the acknowledgement
    When darktrace-acknowledge-model-breach runs
    Then a clear error says so and suggests checking before retrying.
    """
    requests_mock.post(f'{BASE}/modelbreaches/{PBID}/acknowledge', json=reply)
    with pytest.raises(DarktraceApiError, match='without confirming the change') as raised:
        Darktrace.acknowledge_model_breach_command(client, {'pbid': str(PBID)})
    assert raised.value.kind == 'unexpected_reply'


def test_get_model_breach_comments(client: Client, requests_mock: Any) -> None:
    """
    Given two comments on a breach, newest first
    When darktrace-get-model-breach-comments runs
    Then they sit under the breach (keyed by pbid), oldest first, with ISO times; pipes do not break the table.
    """
    requests_mock.get(f'{BASE}/modelbreaches/{PBID}/comments', json=load('model_breach_comments.json'))
    result = Darktrace.get_model_breach_comments_command(client, {'pbid': str(PBID)})
    assert context_key(result) == 'Darktrace.ModelBreach(val.pbid && val.pbid == obj.pbid)'
    assert result.outputs['pbid'] == PBID
    assert [c['username'] for c in result.outputs['comments']] == ['analyst1', 'analyst2']
    assert result.outputs['comments'][0]['time'] == '2023-01-24T01:16:40.000Z'
    assert '| 2023-01-24T01:16:40.000Z | analyst1 | Looking into this \\| escalating |' in result.readable_output


def test_get_model_breach_comments_none(client: Client, requests_mock: Any) -> None:
    """
    Given a breach without comments
    When darktrace-get-model-breach-comments runs
    Then the War Room says there are none and context holds an empty list.
    """
    requests_mock.get(f'{BASE}/modelbreaches/{PBID}/comments', json=[])
    result = Darktrace.get_model_breach_comments_command(client, {'pbid': str(PBID)})
    assert result.outputs == {'pbid': PBID, 'comments': []} and 'No entries' in result.readable_output


@pytest.mark.parametrize('reply, posted', [
    ({'response': 'SUCCESS'}, {'message': 'Escalated to IR'}),
    (load('comment_post_list.json'),
     {'message': 'Escalated to IR', 'username': 'api-user', 'time': '2023-01-24T02:56:40.000Z', 'pid': 559}),
    ({'message': 'Escalated to IR', 'username': 'api-user', 'time': 1674529000000},
     {'message': 'Escalated to IR', 'username': 'api-user', 'time': '2023-01-24T02:56:40.000Z'}),
])
def test_post_comment_to_model_breach_reply_variants(client: Client, requests_mock: Any, reply: Any,
                                                     posted: dict) -> None:
    """
    Given the appliance answers {"response": "SUCCESS"}, a list holding the new comment, or the comment itself
    When darktrace-post-comment-to-model-breach runs
    Then the JSON body is signed byte for byte and the posted comment is in context under the breach.
    """
    requests_mock.post(f'{BASE}/modelbreaches/{PBID}/comments', json=reply)
    result = Darktrace.post_comment_to_model_breach_command(client, {'pbid': str(PBID), 'message': 'Escalated to IR'})
    request = requests_mock.last_request
    assert request.json() == {'message': 'Escalated to IR'}
    assert_signed(request, request.body)
    assert result.outputs == {'pbid': PBID, 'postedComment': posted}


def test_post_comment_to_model_breach_unconfirmed(client: Client, requests_mock: Any) -> None:
    """
    Given a reply that neither confirms nor holds a comment
    When darktrace-post-comment-to-model-breach runs
    Then it fails with a clear error.
    """
    requests_mock.post(f'{BASE}/modelbreaches/{PBID}/comments', json=[{'unexpected': True}])
    with pytest.raises(DarktraceApiError, match='without confirming'):
        Darktrace.post_comment_to_model_breach_command(client, {'pbid': str(PBID), 'message': 'x'})


def connection_at(timems: int, uid: str) -> dict[str, Any]:
    return {'timems': timems, 'time': Darktrace.ms_to_iso(timems), 'eventType': 'connection', 'action': 'connection',
            'uid': uid, 'source': 'ws1', 'destination': 'cats.com', 'port': 443, 'protocol': 'TCP', 'direction': 'out'}


def test_get_model_breach_connections_with_an_end_time_sends_a_time_pair(client: Client, requests_mock: Any) -> None:
    """
    Given /details?pbid= opening with the breach record, on an appliance that refuses unpaired times and
    count with times
    When darktrace-get-model-breach-connections runs with limit 1 and an end time only
    Then every request carries a starttime/endtime pair ending at the end time and no count; the breach
    record is dropped and the newest connection kept.
    """
    requests_mock.get(f'{BASE}/details', json=details_appliance(RECORDED_CONNECTIONS, BREACH_RECORD))
    result = Darktrace.get_model_breach_connections_command(client, {'pbid': str(PBID), 'limit': '1',
                                                                     'end_time': '2023-01-24T02:00:00Z'})
    first = query_of(requests_mock.request_history[0])
    assert first == {'pbid': [str(PBID)], 'starttime': ['1674522000001'], 'endtime': ['1674525600000']}
    assert all('count' not in query_of(request) for request in requests_mock.request_history)
    connections = result.outputs['connections']
    assert [c['uid'] for c in connections] == ['C7dQ1m2Wq9']
    assert connections[0]['time'] == '2023-01-24T01:04:24.000Z' and connections[0]['timems'] == connections[0]['time']
    assert '| 2023-01-24T01:04:24.000Z | connection | connection | ws1 | 192.168.16.2 | 53 | DNS | out |' \
        in result.readable_output
    assert context_key(result) == 'Darktrace.ModelBreach(val.pbid && val.pbid == obj.pbid)'


def test_get_model_breach_connections_default_limit(client: Client, requests_mock: Any) -> None:
    """
    Given no limit and no time range
    When darktrace-get-model-breach-connections runs
    Then one request asks for 51 events with count alone (no time), and every connection is kept newest first.
    """
    requests_mock.get(f'{BASE}/details', json=details_appliance(RECORDED_CONNECTIONS, BREACH_RECORD))
    result = Darktrace.get_model_breach_connections_command(client, {'pbid': str(PBID)})
    assert requests_mock.call_count == 1
    assert query_of(requests_mock.last_request) == {'pbid': [str(PBID)], 'count': ['51']}
    assert [c['uid'] for c in result.outputs['connections']] == ['C7dQ1m2Wq9', 'CSbLwb1XyYr2mA1kQ7']


DAY = 24 * HOUR_MS


@pytest.mark.parametrize('command, args, fixed', [
    (Darktrace.get_device_events_command, {'did': '1417'}, {'did': ['1417'], 'eventtype': ['connection']}),
    (Darktrace.get_model_breach_connections_command, {'pbid': str(PBID)}, {'pbid': [str(PBID)]}),
])
def test_details_pages_a_long_window_by_narrowing_it(client: Client, requests_mock: Any, command: Any, args: dict,
                                                     fixed: dict) -> None:
    """
    Given 30 days of which only the oldest 20 hold events (one an hour), and a limit of 5
    When the events of the whole 30 days are asked for
    Then slices are read newest first (an hour, then each four times longer, each ending just before the
    previous one began, never with count) until 5 events are found; the 5 newest events are returned.
    """
    end_ms = NOW_MS
    events = [connection_at(end_ms - 10 * DAY - hour * HOUR_MS, f'C{hour}') for hour in range(20 * 24)]
    record = BREACH_RECORD if 'pbid' in args else None
    requests_mock.get(f'{BASE}/details', json=details_appliance(events, record))
    result = command(client, {**args, 'start_time': str(end_ms - 30 * DAY), 'end_time': str(end_ms), 'limit': '5'})
    windows = details_windows(requests_mock)
    assert windows[0] == (end_ms - HOUR_MS + 1, end_ms)
    for (newer_start, _), (older_start, older_end) in zip(windows, windows[1:]):
        assert older_end == newer_start - 1
    assert [end - start + 1 for start, end in windows] == [HOUR_MS * 4 ** i for i in range(len(windows))]
    assert len(windows) == 5 and windows[-1][0] <= end_ms - 10 * DAY
    assert all({key: query_of(r)[key] for key in fixed} == fixed and 'count' not in query_of(r)
               for r in requests_mock.request_history)
    listed = result.outputs['events' if 'did' in args else 'connections']
    assert [event['uid'] for event in listed] == ['C0', 'C1', 'C2', 'C3', 'C4']
    assert 'Read back to' not in result.readable_output


def test_details_paging_stops_after_a_bounded_number_of_requests_and_says_so(client: Client,
                                                                             requests_mock: Any) -> None:
    """
    Given a ten-year range holding one event, at its very start
    When the device events of the range are asked for
    Then at most 8 requests are sent, the newest slices first, and the War Room says how far back they read.
    """
    start_ms = NOW_MS - 3650 * DAY
    requests_mock.get(f'{BASE}/details', json=details_appliance([connection_at(start_ms, 'old')]))
    result = Darktrace.get_device_events_command(client, {'did': '1417', 'start_time': str(start_ms),
                                                          'end_time': str(NOW_MS)})
    windows = details_windows(requests_mock)
    assert len(windows) == Darktrace.MAX_DETAILS_REQUESTS and windows[-1][0] > start_ms
    assert result.outputs['events'] == []
    assert f'Read back to {Darktrace.ms_to_iso(windows[-1][0])} in 8 requests' in result.readable_output


@pytest.mark.parametrize('reply', [load('model.json'), load('model.json')[0]])
def test_get_model(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given /models?uuid= answering a one-element list or an object (both seen)
    When darktrace-get-model runs
    Then the model is in context keyed by uuid, and the War Room shows name, category, priority and components.
    """
    requests_mock.get(f'{BASE}/models', json=reply)
    result = Darktrace.get_model_command(client, {'uuid': MODEL_UUID})
    assert query_of(requests_mock.last_request) == {'uuid': [MODEL_UUID]}
    assert context_key(result) == 'Darktrace.Model(val.uuid && val.uuid == obj.uuid)'
    assert result.outputs['pid'] == 559 and result.outputs['priority'] == 5
    assert ('| Compromise::Watched Domain | 80010119-6d7f-0000-0305-5e0000000256 | 559 | Critical | 5 | true | '
            'AP: C2 Comms | 2997 |') in result.readable_output


def test_get_model_not_found(client: Client, requests_mock: Any) -> None:
    """
    Given an empty reply
    When darktrace-get-model runs
    Then a not-found error names the uuid.
    """
    requests_mock.get(f'{BASE}/models', json=[])
    with pytest.raises(DarktraceApiError, match=f'no model with uuid {MODEL_UUID}'):
        Darktrace.get_model_command(client, {'uuid': MODEL_UUID})


def test_get_model_component(client: Client, requests_mock: Any) -> None:
    """
    Given a model component
    When darktrace-get-model-component runs
    Then it is requested by path, keyed by cid in context, and its filters are a table.
    """
    requests_mock.get(f'{BASE}/components/2997', json=load('model_component.json'))
    result = Darktrace.get_model_component_command(client, {'cid': '2997'})
    assert requests_mock.last_request.path_url == '/components/2997'
    assert context_key(result) == 'Darktrace.ModelComponent(val.cid && val.cid == obj.cid)'
    assert result.outputs['filters'][0]['filtertype'] == 'DNS host lookup'
    assert '| 2997 | 4 | 1 | 3600 | true |' in result.readable_output
    assert '| A | DNS host lookup | matches | watched |' in result.readable_output


def test_a_record_without_its_key_is_taken_when_it_is_the_only_one(client: Client, requests_mock: Any) -> None:
    """
    Given a component reply without a cid field, with odd logic and a stray entry among its triggered components
    When darktrace-get-model-component and darktrace-get-model-breach run
    Then the single record is taken as the one asked for, and odd entries are skipped.
    """
    requests_mock.get(f'{BASE}/components/5', json={'threshold': 3, 'filters': []})
    assert Darktrace.get_model_component_command(client, {'cid': '5'}).outputs == {'threshold': 3, 'filters': []}
    requests_mock.get(f'{BASE}/models', json={'uuid': MODEL_UUID, 'logic': {'data': {'left': 'A'}}})
    readable = Darktrace.get_model_command(client, {'uuid': MODEL_UUID}).readable_output
    assert f'|  | {MODEL_UUID} |  |  |  |  |  |  |  |' in readable
    requests_mock.get(f'{BASE}/modelbreaches?pbid=9', json={'pbid': 9, 'triggeredComponents': ['odd', {'cid': 1}]})
    result = Darktrace.get_model_breach_command(client, {'pbid': '9'})
    assert '| 1 |  |  |  |' in result.readable_output


BREACH_BAD_ARGUMENTS = [
    (Darktrace.get_model_breach_command, {}, 'Missing required argument "pbid"'),
    (Darktrace.get_model_breach_command, {'pbid': '1/../../status'}, '"pbid"'),
    (Darktrace.get_model_breach_command, {'pbid': '0'}, '"pbid"'),
    (Darktrace.list_model_breaches_command, {'start_time': 'yesterdayish'}, '"start_time"'),
    (Darktrace.list_model_breaches_command, {'end_time': '2024-13-01'}, '"end_time"'),
    (Darktrace.list_model_breaches_command, {'start_time': '2024-02-01T00:00:00Z', 'end_time': '2024-01-01T00:00:00Z'},
     '"end_time" (2024-01-01T00:00:00.000Z) is before "start_time"'),
    (Darktrace.list_model_breaches_command, {'min_score': '101'}, 'from 0 to 100'),
    (Darktrace.list_model_breaches_command, {'min_score': '0.5&did=1'}, '"min_score"'),
    (Darktrace.list_model_breaches_command, {'min_score': 'nan'}, '"min_score"'),
    (Darktrace.list_model_breaches_command, {'did': '-3'}, '"did"'),
    (Darktrace.list_model_breaches_command, {'uuid': 'not-a-uuid'}, 'model UUID'),
    (Darktrace.list_model_breaches_command, {'acknowledged': 'maybe'}, '"acknowledged"'),
    (Darktrace.list_model_breaches_command, {'limit': '0'}, 'from 1 to 1000'),
    (Darktrace.list_model_breaches_command, {'limit': '1001'}, 'from 1 to 1000'),
    (Darktrace.list_model_breaches_command, {'page': '0'}, '"page"'),
    (Darktrace.acknowledge_model_breach_command, {'pbid': 'abc'}, '"pbid"'),
    (Darktrace.unacknowledge_model_breach_command, {'pbid': '1.5'}, '"pbid"'),
    (Darktrace.get_model_breach_comments_command, {'pbid': ''}, '"pbid"'),
    (Darktrace.post_comment_to_model_breach_command, {'pbid': '1'}, 'Missing required argument "message"'),
    (Darktrace.post_comment_to_model_breach_command, {'pbid': '1', 'message': 'x' * 4097}, 'at most 4096'),
    (Darktrace.get_model_breach_connections_command, {'pbid': '1', 'limit': '5000'}, 'from 1 to 1000'),
    (Darktrace.get_model_breach_connections_command, {'pbid': '1', 'end_time': 'later'}, '"end_time"'),
    (Darktrace.get_model_command, {}, 'Missing required argument "uuid"'),
    (Darktrace.get_model_command, {'uuid': '80010119-6d7f-0000-0305-5e0000000256&pid=1'}, 'model UUID'),
    (Darktrace.get_model_component_command, {'cid': '../models'}, '"cid"'),
    (Darktrace.get_model_component_command, {}, '"cid"'),
]
# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
BREACH_TABLE_RUNS = [
    ('darktrace-get-model-breach', {'pbid': str(PBID)}),
    ('darktrace-list-model-breaches', {'start_time': '2023-01-01T00:00:00Z', 'end_time': '2023-02-01T00:00:00Z'}),
    ('darktrace-acknowledge-model-breach', {'pbid': str(PBID)}),
    ('darktrace-unacknowledge-model-breach', {'pbid': str(PBID)}),
    ('darktrace-get-model-breach-comments', {'pbid': str(PBID)}),
    ('darktrace-post-comment-to-model-breach', {'pbid': str(PBID), 'message': 'Investigating'}),
    ('darktrace-get-model-breach-connections', {'pbid': str(PBID)}),
    ('darktrace-get-model', {'uuid': MODEL_UUID}),
    ('darktrace-get-model-component', {'cid': '2997'}),
]


# --- devices ------------------------------------------------------------------------------------------

def test_get_similar_devices(client: Client, requests_mock: Any) -> None:
    """
    Given a device with two similar devices
    When darktrace-get-similar-devices runs
    Then the request asks for the did and count, context keys on deviceId and times are ISO.
    """
    requests_mock.get(f'{BASE}/similardevices', json=load('similar_devices.json'))
    result = Darktrace.get_similar_devices_command(client, {'did': '1', 'max_results': '2'})
    assert query_of(requests_mock.last_request) == {'did': ['1'], 'count': ['2']}
    assert context_key(result) == 'Darktrace.SimilarDevices(val.deviceId && val.deviceId == obj.deviceId)'
    assert result.outputs['deviceId'] == 1
    assert [d['did'] for d in result.outputs['devices']] == [823, 3]
    assert result.outputs['devices'][0]['firstSeen'] == '2020-08-07T00:06:40.000Z'
    assert '| 823 | ip-172-31-32-146 | 172.31.32.146 | 99 | Server | 2020-09-14T06:23:38.000Z |' \
        in result.readable_output


def test_get_similar_devices_accepts_a_single_object(client: Client, requests_mock: Any) -> None:
    """
    Given the appliance answers with one device object instead of a list
    When darktrace-get-similar-devices runs
    Then it is handled as a one-device list.
    """
    requests_mock.get(f'{BASE}/similardevices', json=load('similar_devices.json')[0])
    result = Darktrace.get_similar_devices_command(client, {'did': '1', 'max_results': '1'})
    assert [d['did'] for d in result.outputs['devices']] == [823]


def test_get_device_connection_info_summarises_for_an_analyst(client: Client, requests_mock: Any) -> None:
    """
    Given four weeks of connection data
    When darktrace-get-device-connection-info runs with only some options
    Then only the options given are sent (odid, not oid), and the War Room shows totals, peak hour, top ports and
    top peers instead of a dumped dict.
    """
    requests_mock.get(f'{BASE}/deviceinfo', json=load('device_info.json'))
    result = Darktrace.get_device_connection_info_command(client, {'did': '1', 'data_type': 'co',
                                                                   'destination_did': '0'})
    assert query_of(requests_mock.last_request) == {'did': ['1'], 'datatype': ['co'], 'odid': ['0']}
    readable = result.readable_output
    assert '| 1 | 100 | 1589 | 0 | 1589 | 2020-08-25T00:00:00.000Z | 624 |' in readable
    assert '| 53 | out | 44 | 2020-06-09T19:02:40.000Z |' in readable
    assert '| 0 | out | 37 |' in readable
    assert "{'" not in readable
    assert result.outputs['deviceInfo'][0]['graphData'][0]['time'] == '2020-08-24T21:00:00.000Z'
    assert context_key(result) == ('Darktrace.DeviceConnectionInfo(val.did && val.did == obj.did && '
                                   'val.dataType && val.dataType == obj.dataType)')


def test_get_device_connection_info_sends_every_option_given(client: Client, requests_mock: Any) -> None:
    """
    Given every optional argument
    When darktrace-get-device-connection-info runs
    Then each is sent under the appliance's own parameter name.
    """
    requests_mock.get(f'{BASE}/deviceinfo', json={'deviceInfo': []})
    result = Darktrace.get_device_connection_info_command(client, {
        'did': '5', 'data_type': 'SIZEOUT', 'external_domain': 'cats.com', 'destination_did': '7',
        'show_all_graph_data': 'false', 'num_similar_devices': '3', 'full_device_details': 'true'})
    assert query_of(requests_mock.last_request) == {
        'did': ['5'], 'datatype': ['sizeout'], 'externaldomain': ['cats.com'], 'odid': ['7'],
        'showallgraphdata': ['false'], 'similardevices': ['3'], 'fulldevicedetails': ['true']}
    assert 'No connection data' in result.readable_output


def test_search_devices_one_request(client: Client, requests_mock: Any) -> None:
    """
    Given a query, an order and a limit within one page
    When darktrace-search-devices runs
    Then one request carries them, and each device is in context under Darktrace.Device keyed by deviceId.
    """
    requests_mock.get(f'{BASE}/devicesearch', json=load('device_search.json'))
    result = Darktrace.search_devices_command(client, {'query': 'hostname:"ws*"', 'order_by': 'lastseen',
                                                       'order': 'DESC', 'limit': '10'})
    assert requests_mock.call_count == 1
    assert query_of(requests_mock.last_request) == {'query': ['hostname:"ws*"'], 'orderBy': ['lastSeen'],
                                                    'order': ['desc'], 'count': ['10'], 'offset': ['0']}
    assert_signed(requests_mock.last_request)
    assert context_key(result) == 'Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId)'
    assert [d['deviceId'] for d in result.outputs] == [1417, 823] and 'did' not in result.outputs[0]
    assert result.outputs[0]['lastSeen'] == '2023-01-24T01:04:25.000Z'
    assert 'Devices matching "hostname:"ws*"" (2 of 2)' in result.readable_output
    assert ('| 1417 | ws1 | 192.168.16.100 | 0a:df:4b:52:64:7a | Desktop | Dell Inc. | Windows 11 | Finance laptop | '
            '2023-01-24T01:04:25.000Z |') in result.readable_output


def _device_pages(total: int) -> Any:
    """A /devicesearch callback that honours count and offset over `total` devices."""
    def reply(request: Any, context: Any) -> dict[str, Any]:
        count, offset = int(request.qs['count'][0]), int(request.qs['offset'][0])
        dids = range(offset + 1, min(total, offset + count) + 1)
        return {'totalCount': total, 'devices': [{'did': did, 'hostname': f'host-{did}'} for did in dids]}
    return reply


def test_search_devices_pages_past_the_appliance_maximum(client: Client, requests_mock: Any) -> None:
    """
    Given 2,000 matching devices and a limit of 650
    When darktrace-search-devices runs
    Then it sends three requests of at most 300 with increasing offsets, and returns 650 distinct devices.
    """
    requests_mock.get(f'{BASE}/devicesearch', json=_device_pages(2000))
    result = Darktrace.search_devices_command(client, {'limit': '650'})
    pages = [(query_of(r)['count'][0], query_of(r)['offset'][0]) for r in requests_mock.request_history]
    assert pages == [('300', '0'), ('300', '300'), ('50', '600')]
    assert [d['deviceId'] for d in result.outputs] == list(range(1, 651))
    assert 'Devices (650 of 2000)' in result.readable_output
    assert 'Showing the first 50 of 650 rows' in result.readable_output


def test_search_devices_stops_at_the_total(client: Client, requests_mock: Any) -> None:
    """
    Given 310 matching devices and a limit of 1000
    When darktrace-search-devices runs
    Then it stops after the request that reaches the total.
    """
    requests_mock.get(f'{BASE}/devicesearch', json=_device_pages(310))
    result = Darktrace.search_devices_command(client, {'limit': '1000'})
    assert requests_mock.call_count == 2 and len(result.outputs) == 310


def test_search_devices_stops_when_the_appliance_ignores_offset(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that answers every page with the same devices and no total
    When darktrace-search-devices runs with a limit above one page
    Then it stops at the first repeated page instead of looping, and lists each device once.
    """
    devices = [{'did': did} for did in range(1, 301)]
    requests_mock.get(f'{BASE}/devicesearch', json=devices)
    result = Darktrace.search_devices_command(client, {'limit': '900'})
    assert requests_mock.call_count == 2 and len(result.outputs) == 300
    assert 'Devices (300)' in result.readable_output


def test_get_device_reads_the_devices_endpoint_time_keys(client: Client, requests_mock: Any) -> None:
    """
    Given a /devices reply that names first and last seen `time` and `endtime`, as guide 2.20 documents
    When darktrace-get-device runs
    Then context also has them as firstSeen and lastSeen (ISO), and the table shows both.
    """
    device = load('device.json')
    device['time'], device['endtime'] = device.pop('firstSeen'), device.pop('lastSeen')
    requests_mock.get(f'{BASE}/devices', json=device)
    result = Darktrace.get_device_command(client, {'did': '1417'})
    assert result.outputs['firstSeen'] == '2020-08-07T00:06:40.000Z'
    assert result.outputs['lastSeen'] == '2023-01-24T01:04:25.000Z'
    assert '2023-01-24T01:04:25.000Z | 2020-08-07T00:06:40.000Z |' in result.readable_output


def test_get_device(client: Client, requests_mock: Any) -> None:
    """
    Given a device with two IP addresses and a tag
    When darktrace-get-device runs
    Then tags are asked for, context is keyed by deviceId with ISO times, and the War Room lists tags and IPs.
    """
    requests_mock.get(f'{BASE}/devices', json=load('device.json'))
    result = Darktrace.get_device_command(client, {'did': '1417'})
    assert query_of(requests_mock.last_request) == {'did': ['1417'], 'includetags': ['true']}
    assert result.outputs['deviceId'] == 1417 and result.outputs['firstSeen'] == '2020-08-07T00:06:40.000Z'
    assert context_key(result) == 'Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId)'
    assert '| 2023-01-24T01:04:25.000Z | 2020-08-07T00:06:40.000Z | Active Threat |' in result.readable_output
    assert '| 192.168.16.90 | 148 | 2023-01-18T00:00:00.000Z |' in result.readable_output


def test_get_device_not_found(client: Client, requests_mock: Any) -> None:
    """
    Given an empty reply
    When darktrace-get-device runs
    Then a not-found error names the did.
    """
    requests_mock.get(f'{BASE}/devices', json={})
    with pytest.raises(DarktraceApiError, match='no device with did 5'):
        Darktrace.get_device_command(client, {'did': '5'})


def test_get_device_events_connections(client: Client, requests_mock: Any) -> None:
    """
    Given connection events of a device, on an appliance that refuses count with a time range
    When darktrace-get-device-events runs with a time range and a limit
    Then it sends did, eventtype and time pairs in ms without count, newest slice first, until the start of
    the range, and lists the events newest first.
    """
    requests_mock.get(f'{BASE}/details', json=details_appliance(RECORDED_CONNECTIONS))
    result = Darktrace.get_device_events_command(client, {
        'did': '1417', 'start_time': '2023-01-24T00:00:00Z', 'end_time': '2023-01-25T00:00:00Z', 'limit': '5'})
    assert query_of(requests_mock.request_history[0]) == {'did': ['1417'], 'eventtype': ['connection'],
                                                          'starttime': ['1674601200001'],
                                                          'endtime': ['1674604800000']}
    assert details_windows(requests_mock)[-1][0] == 1674518400000
    assert context_key(result) == ('Darktrace.DeviceEvents(val.did && val.did == obj.did && '
                                   'val.eventType && val.eventType == obj.eventType)')
    outputs = result.outputs
    assert outputs['did'] == 1417 and outputs['eventType'] == 'connection'
    assert outputs['startTime'] == '2023-01-24T00:00:00.000Z' and outputs['endTime'] == '2023-01-25T00:00:00.000Z'
    assert [e['uid'] for e in outputs['events']] == ['C7dQ1m2Wq9', 'CSbLwb1XyYr2mA1kQ7']
    assert '| 2023-01-24T01:04:20.000Z | connection | connection | ws1 | cats.com | 443 | HTTPS | out |  |' \
        in result.readable_output


def test_get_device_events_notices_and_history(client: Client, requests_mock: Any) -> None:
    """
    Given notice and device history events
    When darktrace-get-device-events runs for notices
    Then each row says what happened in the Details column.
    """
    requests_mock.get(f'{BASE}/details', json=load('device_events_notice.json'))
    result = Darktrace.get_device_events_command(client, {'did': '1417', 'event_type': 'Notice'})
    assert query_of(requests_mock.last_request) == {'did': ['1417'], 'eventtype': ['notice'], 'count': ['50']}
    readable = result.readable_output
    assert '| notice | notice | ws1 |  |  |  | out | Possible DGA domain qzx.example |' in readable
    assert '| devicehistory |  |  |  |  |  |  | ip: 192.168.16.101 |' in readable


def test_events_without_timems_sort_on_their_text_time(client: Client, requests_mock: Any) -> None:
    """
    Given device events that carry only the text time
    When darktrace-get-device-events runs
    Then they are still listed newest first.
    """
    requests_mock.get(f'{BASE}/details', json=[{'time': '2023-01-24 01:00:00', 'eventType': 'notice', 'uid': 'old'},
                                               {'time': '2023-01-24 02:00:00', 'eventType': 'notice', 'uid': 'new'}])
    result = Darktrace.get_device_events_command(client, {'did': '1', 'event_type': 'notice'})
    assert [e['uid'] for e in result.outputs['events']] == ['new', 'old']


def test_connection_info_of_many_devices_is_capped_in_the_war_room(client: Client, requests_mock: Any) -> None:
    """
    Given a /deviceinfo reply for a device and 30 similar devices
    When darktrace-get-device-connection-info runs
    Then the War Room shows the first MAX_DEVICE_SUMMARIES devices with a note, and context keeps all 31.
    """
    entries = [{'did': did, 'similarityScore': 100 - did, 'graphData': [], 'info': {}} for did in range(1, 32)]
    requests_mock.get(f'{BASE}/deviceinfo', json={'deviceInfo': entries})
    result = Darktrace.get_device_connection_info_command(client, {'did': '1', 'data_type': 'co',
                                                                   'num_similar_devices': '30'})
    shown = Darktrace.MAX_DEVICE_SUMMARIES
    assert result.readable_output.count('### Connections of device') == shown
    assert f'Showing the connections of the first {shown} of 31 devices' in result.readable_output
    assert len(result.outputs['deviceInfo']) == 31


DEVICE_BAD_ARGUMENTS = [
    (Darktrace.get_similar_devices_command, {'did': '0', 'max_results': '2'}, '"did"'),
    (Darktrace.get_similar_devices_command, {'did': 'abc', 'max_results': '2'}, '"did"'),
    (Darktrace.get_similar_devices_command, {'did': '1&count=5', 'max_results': '2'}, '"did"'),
    (Darktrace.get_similar_devices_command, {'max_results': '2'}, 'Missing required argument "did"'),
    (Darktrace.get_similar_devices_command, {'did': '1', 'max_results': '301'}, 'from 1 to 300'),
    (Darktrace.get_similar_devices_command, {'did': '1', 'max_results': '0'}, 'from 1 to 300'),
    (Darktrace.get_device_connection_info_command, {'did': '-1', 'data_type': 'co'}, '"did"'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'bytes'}, 'co, sizeout, sizein'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'co', 'external_domain': 'a/b'},
     '"external_domain"'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'co', 'destination_did': 'x'},
     '"destination_did"'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'co', 'num_similar_devices': '-2'},
     '"num_similar_devices"'),
    (Darktrace.search_devices_command, {'order_by': 'score'}, 'priority, hostname'),
    (Darktrace.search_devices_command, {'order': 'up'}, 'asc, desc'),
    (Darktrace.search_devices_command, {'limit': '1001'}, 'from 1 to 1000'),
    (Darktrace.search_devices_command, {'query': 'q' * 1025}, 'at most 1024'),
    (Darktrace.get_device_command, {'did': 'ws1'}, '"did"'),
    (Darktrace.get_device_events_command, {'did': '1', 'event_type': 'everything'}, 'connection, unusualconnection'),
    (Darktrace.get_device_events_command, {'did': '1', 'start_time': 'then'}, '"start_time"'),
    (Darktrace.get_device_events_command, {'did': '1', 'start_time': '2024-02-01', 'end_time': '2024-01-01'},
     'is before'),
    (Darktrace.get_device_events_command, {'event_type': 'notice'}, 'Missing required argument "did"'),
    (Darktrace.get_device_command, {'did': '9' * 19}, '"did"'),
    (Darktrace.get_device_command, {'did': '9' * 5000}, '"did"'),
    (Darktrace.get_device_command, {'did': '١٢'}, '"did"'),
]
# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
DEVICE_TABLE_RUNS = [
    ('darktrace-search-devices', {'query': 'type:"server"'}),
    ('darktrace-get-device', {'did': '1417'}),
    ('darktrace-get-device-events', {'did': '1417'}),
    ('darktrace-get-similar-devices', {'did': '1417', 'max_results': '5'}),
    ('darktrace-get-device-connection-info', {'did': '1', 'data_type': 'co'}),
]


# --- endpoints & Advanced Search ----------------------------------------------------------------------

@pytest.mark.parametrize('fixture, endpoint_type, value, query, shown', [
    ('endpoint_details_hostname.json', 'hostname', 'cats.com',
     {'hostname': ['cats.com'], 'additionalinfo': ['true'], 'devices': ['true'], 'score': ['false']},
     '| cats.com | 2020-08-07T04:47:23.000Z | 12 | 0 | 1 | 104.21.2.3 |'),
    ('endpoint_details_external_ip.json', 'ip', '8.8.8.8',
     {'ip': ['8.8.8.8'], 'additionalinfo': ['true'], 'devices': ['true'], 'score': ['false']},
     '| 8.8.8.8 | 2018-06-12T14:00:00.000Z | United States | AS15169 Google LLC |'),
    ('endpoint_details_internal_ip.json', 'IP', '192.168.16.5',
     {'ip': ['192.168.16.5'], 'additionalinfo': ['true'], 'devices': ['true'], 'score': ['false']},
     '| 192.168.16.5 | Office LAN |'),
])
def test_get_external_endpoint_details(client: Client, requests_mock: Any, fixture: str, endpoint_type: str,
                                       value: str, query: dict, shown: str) -> None:
    """
    Given each reply shape (host name, external IP, internal IP)
    When darktrace-get-external-endpoint-details runs
    Then lowercase keys are sent, context keys on the looked-up endpoint and the summary shows what matters.
    """
    requests_mock.get(f'{BASE}/endpointdetails', json=load(fixture))
    result = Darktrace.get_external_endpoint_details_command(client, {
        'endpoint_type': endpoint_type, 'endpoint_value': value, 'additional_info': 'true', 'devices': 'true'})
    assert query_of(requests_mock.last_request) == query
    assert result.outputs['endpoint'] == value
    assert context_key(result) == 'Darktrace.ExternalEndpointDetails(val.endpoint && val.endpoint == obj.endpoint)'
    assert shown in result.readable_output


@pytest.mark.parametrize('typed, sent', [
    ('bücher.example', 'xn--bcher-kva.example'),
    ('Bücher.Example', 'xn--bcher-kva.example'),
    ('пример.рф', 'xn--e1afmkfd.xn--p1ai'),
    ('例え.テスト', 'xn--r8jz45g.xn--zckzah'),
    ('münchen.de.', 'xn--mnchen-3ya.de.'),
])
def test_get_external_endpoint_details_of_an_internationalised_host_name(client: Client, requests_mock: Any,
                                                                          typed: str, sent: str) -> None:
    """
    Given a host name in a non-Latin or accented script
    When darktrace-get-external-endpoint-details looks it up
    Then it is sent in its IDNA (ASCII) form, and shown and kept in context as the user typed it.
    """
    requests_mock.get(f'{BASE}/endpointdetails', json={'hostname': sent.lower(), 'firsttime': 1596775643000})
    result = Darktrace.get_external_endpoint_details_command(client, {'endpoint_type': 'hostname',
                                                                      'endpoint_value': typed})
    assert query_of(requests_mock.last_request)['hostname'] == [sent]
    assert_signed(requests_mock.last_request)
    assert result.outputs['endpoint'] == typed and f'What Darktrace knows of {typed}' in result.readable_output
    assert f'| {typed} |' in result.readable_output


@pytest.mark.parametrize('value', ['bü cher.example', '-bücher.example', 'bücher..example', 'bücher/x'])
def test_get_external_endpoint_details_refuses_what_is_not_a_host_name(client: Client, requests_mock: Any,
                                                                        value: str) -> None:
    """
    Given a value that is no host name in any script
    When darktrace-get-external-endpoint-details runs for a host name
    Then it is refused before any request, naming the argument.
    """
    with pytest.raises(ValueError, match='Invalid "endpoint_value"'):
        Darktrace.get_external_endpoint_details_command(client, {'endpoint_type': 'hostname',
                                                                 'endpoint_value': value})
    assert requests_mock.call_count == 0


@pytest.mark.parametrize('typed, mapped, shown', [
    ('C\ufeffATS.COM', 'cats.com', 'C\\ufeffATS.COM'),  # a zero-width no-break space, which IDNA drops
    ('ｃａｔｓ.com', 'cats.com', 'ｃａｔｓ.com'),  # full-width letters, which IDNA folds to ASCII
    ('bü\u00ADcher.example', 'bücher.example', 'bü\\u00adcher.example'),  # a soft hyphen, dropped
])
def test_get_external_endpoint_details_refuses_a_host_name_idna_changes(client: Client, requests_mock: Any,
                                                                         typed: str, mapped: str, shown: str) -> None:
    """
    Given a host name holding characters that IDNA's mapping drops or folds, so that it would become another name
    When darktrace-get-external-endpoint-details runs for a host name
    Then it is refused before any request, showing the invisible characters and the name it would have become.
    """
    with pytest.raises(ValueError) as refused:
        Darktrace.get_external_endpoint_details_command(client, {'endpoint_type': 'hostname',
                                                                 'endpoint_value': typed})
    assert str(refused.value) == (
        f'Invalid "endpoint_value"="{shown}": IDNA would send it as another host name, "{mapped}" (it holds invisible '
        f'or full-width characters that IDNA drops or changes). Give "{mapped}" if that is the host meant.')
    assert requests_mock.call_count == 0


def test_get_external_endpoint_details_lists_contacting_devices(client: Client, requests_mock: Any) -> None:
    """
    Given a host name that devices contacted
    When darktrace-get-external-endpoint-details runs
    Then the devices are listed in their own table with ISO times.
    """
    requests_mock.get(f'{BASE}/endpointdetails', json=load('endpoint_details_hostname.json'))
    result = Darktrace.get_external_endpoint_details_command(client, {'endpoint_type': 'HOSTNAME',
                                                                      'endpoint_value': 'cats.com'})
    assert '| 1417 | ws1 | 192.168.16.100 | 2020-09-14T06:00:00.000Z |' in result.readable_output


@pytest.mark.parametrize('operation, fixture, row', [
    ('score', 'advanced_search_score.json', '| 192.168.0.88 | 6314 |'),
    ('trend', 'advanced_search_trend.json', '| 192.168.0.88 | 6314 | 41.61 |\n| SearchAlert | 3 | 0 |'),
    ('terms', 'advanced_search_terms.json', '| 443 | 5000 |'),
    ('mean', 'advanced_search_mean.json', '|Count|Min|Max|Average|Sum|\n|---|---|---|---|---|\n'
                                          '| 25 | 97 | 308 | 195.36 | 4884 |'),
])
def test_run_advanced_search_analysis(client: Client, requests_mock: Any, operation: str, fixture: str,
                                      row: str) -> None:
    """
    Given an analysis of each kind
    When darktrace-run-advanced-search-analysis runs
    Then the base64 query in the path holds the search and range, and the hits are a table.
    """
    requests_mock.get(requests_mock_any_path(f'{BASE}/advancedsearch/api/analyze/'), json=load(fixture))
    args = {'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
            'query': '@type:conn AND @fields.dest_port:"443"', 'operation': operation,
            'metric': '@fields.source_ip', 'offset': '10000'}
    result = Darktrace.run_advanced_search_analysis_command(client, args)
    path = requests_mock.last_request.path_url
    prefix = f'/advancedsearch/api/analyze/@fields.source_ip/{operation}/'
    assert path.startswith(prefix)
    import base64
    search = json.loads(base64.b64decode(path[len(prefix):]))
    assert search['search'] == args['query'] and search['offset'] == 10000 and search['size'] == 10000
    assert search['time'] == {'from': '2022-12-10T09:00:00Z', 'to': '2022-12-10T10:00:00Z', 'user_interval': '0'}
    assert_signed(requests_mock.last_request)
    assert row in result.readable_output
    assert 'kibana' not in result.outputs and result.outputs['searchId']


@pytest.mark.parametrize('operation, reply, row', [
    ('mean', {'aggregations': {'mean': {'value': 1234.5}}}, '|  |  |  | 1234.5 |  |'),
    ('mean', {'hits': {'total': 0, 'hits': []}}, '|  |  |  |  |  |'),
    ('terms', {'aggregations': {'terms': {'buckets': [{'key': 80, 'doc_count': 2}, 'junk']}}}, '| 80 | 2 |'),
    ('score', {'hits': {'hits': [{'id': 'Saas::Login', 'count': 3}], 'count': 9, 'total': 9}}, '| Saas::Login | 3 |'),
])
def test_advanced_search_rows_tolerate_other_shapes(operation: str, reply: dict[str, Any], row: str) -> None:
    """
    Given an analysis reply in an older single-value mean shape, an empty one, or with a stray bucket
    When its table rows are made
    Then the values are shown where they are, and nothing breaks.
    """
    rows, headers = Darktrace.advanced_search_rows(reply, operation)
    assert row in Darktrace.markdown_table('t', rows, headers)


def test_advanced_search_context_keeps_the_guide_keys(client: Client, requests_mock: Any) -> None:
    """
    Given the guide's mean and trend replies
    When darktrace-run-advanced-search-analysis runs
    Then context keeps aggregations.stats and hits.count, and trend's `start` (a system field, not a time) as is.
    """
    args = {'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
            'query': '@type:conn', 'metric': '@fields.orig_bytes'}
    requests_mock.get(requests_mock_any_path(f'{BASE}/advancedsearch/api/analyze/'),
                      json=load('advanced_search_mean.json'))
    mean = Darktrace.run_advanced_search_analysis_command(client, {**args, 'operation': 'mean'}).outputs
    assert mean['aggregations']['stats'] == {'count': 25, 'min': 97, 'max': 308, 'avg': 195.36, 'sum': 4884}
    requests_mock.get(requests_mock_any_path(f'{BASE}/advancedsearch/api/analyze/'),
                      json=load('advanced_search_trend.json'))
    trend = Darktrace.run_advanced_search_analysis_command(client, {**args, 'operation': 'trend'}).outputs
    assert trend['hits']['count'] == 8001 and trend['hits']['hits'][0]['start'] == 2707


def requests_mock_any_path(prefix: str) -> Any:
    import re
    return re.compile(re.escape(prefix) + '.*')


def test_advanced_search_caps_the_table_and_keeps_everything_in_context(client: Client, requests_mock: Any) -> None:
    """
    Given 10,000 hits
    When darktrace-run-advanced-search-analysis runs
    Then the War Room shows a bounded table with a note, and context holds all hits.
    """
    hits = [{'id': f'10.0.{i // 256}.{i % 256}', 'count': i} for i in range(10000)]
    requests_mock.get(requests_mock_any_path(f'{BASE}/advancedsearch/'), json={'hits': {'total': 10000, 'hits': hits}})
    result = Darktrace.run_advanced_search_analysis_command(client, {
        'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-11', 'endTime': '09:00:00',
        'query': '@type:conn', 'operation': 'score', 'metric': 'ip'})
    assert result.readable_output.count('\n| ') == Darktrace.MAX_TABLE_ROWS
    assert 'Showing the first 50 of 10000 rows' in result.readable_output
    assert len(result.outputs['hits']['hits']) == 10000


def test_endpoint_ips_cell_is_capped(client: Client, requests_mock: Any) -> None:
    """
    Given a host name seen at 500 IP addresses
    When darktrace-get-external-endpoint-details runs
    Then the IPs cell lists the first 20 and says how many more there are; context keeps all 500.
    """
    ips = [{'ip': f'198.18.0.{n % 256}', 'timems': 1600063200000} for n in range(500)]
    requests_mock.get(f'{BASE}/endpointdetails', json={'hostname': 'cdn.example.com', 'ips': ips})
    result = Darktrace.get_external_endpoint_details_command(client, {'endpoint_type': 'hostname',
                                                                      'endpoint_value': 'cdn.example.com'})
    assert 'and 480 more' in result.readable_output and len(result.outputs['ips']) == 500


def test_field_names_that_look_like_dots_inside_are_accepted(client: Client, requests_mock: Any) -> None:
    """
    Given Advanced Search field names with dots, @ and hyphens inside
    When the command runs
    Then each is sent as one path segment.
    """
    import re  # only this test matches URLs by pattern
    requests_mock.get(re.compile(f'{BASE}/advancedsearch/api/analyze/.*'), json=load('advanced_search_score.json'))
    for metric in ('@fields.source_ip', 'source_ip', '-x.y', 'a..b'):
        Darktrace.run_advanced_search_analysis_command(client, {
            'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
            'query': 'q', 'operation': 'score', 'metric': metric})
        assert requests_mock.last_request.path_url.split('/')[4] == metric


# A valid Advanced Search window; each row of the table below spoils one argument.
SEARCH_WINDOW_ARGS = {'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10',
                      'endTime': '10:00:00', 'query': 'q', 'operation': 'score', 'metric': 'm'}
SEARCH_DAY = {'initialDate': '2023-01-24', 'initialTime': '00:00:00', 'endDate': '2023-01-24', 'endTime': '12:00:00',
              'query': '@type:conn', 'metric': 'm'}
ENDPOINT_BAD_ARGUMENTS = [
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'url', 'endpoint_value': 'x.com'},
     'IP, hostname'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'IP', 'endpoint_value': 'cats.com'},
     'expected an IP address'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'hostname', 'endpoint_value': 'a b'},
     'host name'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'ip', 'endpoint_value': '1.2.3.4',
                                                       'devices': 'maybe'}, '"devices"'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'initialDate': '2022/12/10'}, 'YYYY-MM-DD'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'initialTime': '9am'}, 'HH:MM:SS'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'initialDate': '2022-02-30'},
     'not a real date'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'initialDate': '2022-12-11'},
     'before the start'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'operation': 'max'},
     'mean, terms, trend, score'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'metric': '../status'}, '"metric"'),
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'query': ''}, '"query"'),
    *[(Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'metric': metric}, '"metric"')
      for metric in ('.', '..', '.hidden')],
    (Darktrace.run_advanced_search_analysis_command, {**SEARCH_WINDOW_ARGS, 'initialDate': '2022-12-11'},
     '"endDate"/"endTime"'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'IP', 'endpoint_value': 'fe80::1%x&did=5'},
     '"endpoint_value"'),
]
# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
ENDPOINT_TABLE_RUNS = [
    ('darktrace-get-external-endpoint-details', {'endpoint_type': 'hostname', 'endpoint_value': 'bücher.example',
                                                 'devices': 'true'}),
    ('darktrace-get-external-endpoint-details', {'endpoint_type': 'IP', 'endpoint_value': '2001:db8::7'}),
    *[('darktrace-run-advanced-search-analysis', {**SEARCH_DAY, 'operation': operation})
      for operation in Darktrace.ADVANCED_SEARCH_OPERATIONS],
]


# --- tags ---------------------------------------------------------------------------------------------

def test_get_tagged_devices_full_details(client: Client, requests_mock: Any) -> None:
    """
    Given a tag on a device that has other tags and credentials seen on it ({credential, lastSeen} objects)
    When darktrace-get-tagged-devices runs
    Then context has the device with its other tags (not the queried one) and its credentials with lastSeen
    in ISO 8601; the table names each credential and when it was last seen.
    """
    requests_mock.get(f'{BASE}/tags/entities', json=load('tagged_devices_full.json'))
    result = Darktrace.get_tagged_devices_command(client, {'tagName': 'Active Threat'})
    assert query_of(requests_mock.last_request) == {'tag': ['Active Threat'], 'fulldevicedetails': ['true']}
    assert result.outputs == [{'deviceId': 1417, 'hostname': 'ws1', 'label': 'Finance laptop',
                               'credentials': [{'credential': 'alice@example.com',
                                                'lastSeen': '2023-01-24T01:04:25.000Z'},
                                               {'credential': 'svc-backup', 'lastSeen': '2023-01-23T01:04:25.000Z'}],
                               'otherTags': ['Admin']}]
    assert ('| 1417 | ws1 | Finance laptop | alice@example.com (last seen 2023-01-24T01:04:25.000Z), svc-backup '
            '(last seen 2023-01-23T01:04:25.000Z) | Admin |') in result.readable_output


def test_get_tagged_devices_older_credential_names(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that lists credentials as plain names
    When darktrace-get-tagged-devices runs
    Then context and table hold the names.
    """
    requests_mock.get(f'{BASE}/tags/entities', json={'devices': [{'did': 2, 'credentials': ['bob']}]})
    result = Darktrace.get_tagged_devices_command(client, {'tagName': 'Admin'})
    assert result.outputs[0]['credentials'] == ['bob'] and '| 2 |  |  | bob |  |' in result.readable_output


def test_get_tagged_devices_link_variant(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that answers with bare tag-entity links
    When darktrace-get-tagged-devices runs
    Then the tagged devices are still listed by id, credentials links left out.
    """
    requests_mock.get(f'{BASE}/tags/entities', json=load('tagged_devices_links.json'))
    result = Darktrace.get_tagged_devices_command(client, {'tagName': 'Active Threat'})
    assert [device['deviceId'] for device in result.outputs] == [1417]


def test_get_tags_for_device(client: Client, requests_mock: Any) -> None:
    """
    Given a device with two tags, one expiring
    When darktrace-get-tags-for-device runs
    Then each tag is in context keyed by device and tag, with an ISO expiry.
    """
    requests_mock.get(f'{BASE}/tags/entities', json=load('device_tags.json'))
    result = Darktrace.get_tags_for_device_command(client, {'deviceId': '1417'})
    assert query_of(requests_mock.last_request) == {'did': ['1417']}
    assert result.outputs[0] == {'deviceId': 1417, 'tagId': 5, 'tagName': 'Active Threat',
                                 'tagDescription': 'Device is actively compromised', 'expiry': None}
    assert result.outputs[1]['expiry'] == '2024-06-01T12:00:00.000Z'
    assert context_key(result) == ('Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId && '
                                   'val.tagName && val.tagName == obj.tagName)')


@pytest.mark.parametrize('fixture, tag_id', [('tag_post_tid.json', 57), ('tag_post_success.json', None)])
def test_post_tag_to_device_reply_variants(client: Client, requests_mock: Any, fixture: str,
                                           tag_id: int | None) -> None:
    """
    Given the appliance answers {"tid": N} or {"response": "SUCCESS"}
    When darktrace-post-tag-to-device runs
    Then both are a success, with the tag id when the appliance gives one.
    """
    requests_mock.post(f'{BASE}/tags/entities', json=load(fixture))
    result = Darktrace.post_tag_to_device_command(client, {'deviceId': '1417', 'tagName': 'Active Threat',
                                                           'duration': '3600'})
    assert urllib.parse.parse_qs(requests_mock.last_request.text) == {
        'did': ['1417'], 'tag': ['Active Threat'], 'duration': ['3600']}
    assert result.outputs == {'deviceId': 1417, 'tagId': tag_id, 'tagName': 'Active Threat', 'response': 'SUCCESS'}


def test_list_tags(client: Client, requests_mock: Any) -> None:
    """
    Given two tags, one expiring
    When darktrace-list-tags runs
    Then each is in context keyed by tid with its description, color and an ISO expiry.
    """
    requests_mock.get(f'{BASE}/tags', json=load('tags.json'))
    result = Darktrace.list_tags_command(client, {})
    assert requests_mock.last_request.path_url == '/tags'
    assert context_key(result) == 'Darktrace.Tag(val.tid && val.tid == obj.tid)'
    assert result.outputs[0] == {'tid': 5, 'name': 'Active Threat', 'description': 'Device is actively compromised',
                                 'color': 200, 'visibility': 'Public', 'auto': False, 'restricted': False,
                                 'isReferenced': True, 'expiry': None}
    assert result.outputs[1]['expiry'] == '2024-06-01T12:00:00.000Z'
    assert '| 5 | Active Threat | Device is actively compromised | false | true |' in result.readable_output


def test_list_tags_limit(client: Client, requests_mock: Any) -> None:
    """
    Given two tags and limit 1
    When darktrace-list-tags runs
    Then one is listed and the title says how many there are.
    """
    requests_mock.get(f'{BASE}/tags', json=load('tags.json'))
    result = Darktrace.list_tags_command(client, {'limit': '1'})
    assert [o['tid'] for o in result.outputs] == [5] and 'Tags (1 of 2)' in result.readable_output


@pytest.mark.parametrize('reply', [{'response': 'SUCCESS'}, {}, [{'replicate': True}]])
def test_remove_tag_from_device(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given the appliance answers SUCCESS, an empty body or a Unified View list
    When darktrace-remove-tag-from-device runs
    Then a signed DELETE carries did and tag in the query, and the removal is recorded under the device and tag.
    """
    requests_mock.delete(f'{BASE}/tags/entities', json=reply)
    result = Darktrace.remove_tag_from_device_command(client, {'deviceId': '1417', 'tagName': 'Active Threat'})
    request = requests_mock.last_request
    assert request.method == 'DELETE' and query_of(request) == {'did': ['1417'], 'tag': ['Active Threat']}
    assert_signed(request)
    assert result.outputs == {'deviceId': 1417, 'tagName': 'Active Threat', 'removed': True}
    assert context_key(result) == ('Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId && '
                                   'val.tagName && val.tagName == obj.tagName)')


def test_remove_tag_from_device_unconfirmed(client: Client, requests_mock: Any) -> None:
    """
    Given a reply that does not confirm the removal
    When darktrace-remove-tag-from-device runs
    Then it fails with a clear error.
    """
    requests_mock.delete(f'{BASE}/tags/entities', json={'response': 'NO SUCH TAG'})
    with pytest.raises(DarktraceApiError, match='DELETE /tags/entities without confirming'):
        Darktrace.remove_tag_from_device_command(client, {'deviceId': '1417', 'tagName': 'Nope'})


TAG_BAD_ARGUMENTS = [
    (Darktrace.get_tagged_devices_command, {'tagName': ''}, '"tagName"'),
    (Darktrace.get_tags_for_device_command, {'deviceId': '1.5'}, '"deviceId"'),
    (Darktrace.post_tag_to_device_command, {'deviceId': '3', 'tagName': ''}, '"tagName"'),
    (Darktrace.post_tag_to_device_command, {'deviceId': '3', 'tagName': 't', 'duration': '0'}, '"duration"'),
    (Darktrace.list_tags_command, {'limit': '1000000'}, 'from 1 to 1000'),
    (Darktrace.remove_tag_from_device_command, {'deviceId': '0', 'tagName': 't'}, '"deviceId"'),
    (Darktrace.remove_tag_from_device_command, {'deviceId': '1', 'tagName': 't' * 129}, 'at most 128'),
    (Darktrace.remove_tag_from_device_command, {'deviceId': '1'}, '"tagName"'),
]
# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
TAG_TABLE_RUNS = [
    ('darktrace-get-tagged-devices', {'tagName': 'Active Threat'}),
    ('darktrace-get-tags-for-device', {'deviceId': '1417'}),
    ('darktrace-post-tag-to-device', {'deviceId': '1417', 'tagName': 'Active Threat'}),
    ('darktrace-list-tags', {}),
    ('darktrace-remove-tag-from-device', {'deviceId': '1417', 'tagName': 'Active Threat'}),
]


# --- watch list ---------------------------------------------------------------------------------------

def test_post_to_watched_list(client: Client, requests_mock: Any) -> None:
    """
    Given two endpoints and a description
    When darktrace-post-to-watched-list runs
    Then one JSON body with addlist and description is sent, and each endpoint is marked watched.
    """
    requests_mock.post(f'{BASE}/intelfeed', json=load('intelfeed_post.json'))
    result = Darktrace.post_to_watched_list_command(client, {'endpointsToWatch': 'evil.com, 1.2.3.4',
                                                             'description': 'C2 seen in incident 42'})
    assert requests_mock.last_request.json() == {'addlist': 'evil.com,1.2.3.4', 'description': 'C2 seen in incident 42'}
    assert result.outputs == [{'endpoint': 'evil.com', 'Watched': True, 'description': 'C2 seen in incident 42'},
                              {'endpoint': '1.2.3.4', 'Watched': True, 'description': 'C2 seen in incident 42'}]
    assert '2 added, 0 updated' in result.readable_output


def test_post_to_watched_list_sends_no_description_when_none_given(client: Client, requests_mock: Any) -> None:
    """
    Given no description
    When darktrace-post-to-watched-list runs
    Then the body has no description at all (never the text "None").
    """
    requests_mock.post(f'{BASE}/intelfeed', json=load('intelfeed_post.json'))
    Darktrace.post_to_watched_list_command(client, {'endpointsToWatch': 'evil.com'})
    assert requests_mock.last_request.json() == {'addlist': 'evil.com'}


def intelfeed_by_source(sources: dict[str, list[Any]]) -> Any:
    """A GET /intelfeed reply as guide 2.26 gives it: the source names for sources=true, else one source's entries
    (`default` without source)."""
    def reply(request: Any, context: Any) -> Any:
        query = query_of(request)
        if query.get('sources') == ['true']:
            return list(sources)
        return sources.get(query.get('source', ['default'])[0], [])
    return reply


def test_list_watched_endpoints(client: Client, requests_mock: Any) -> None:
    """
    Given the watched list with full details, in two sources, one entry in both
    When darktrace-list-watched-endpoints runs with limit 2
    Then the sources are listed, then each source's entries with full details; entries share Darktrace.Endpoint with
    post-to-watched-list, each with the sources holding it, and the cut is said.
    """
    evil, other = load('watched_endpoints.json')
    requests_mock.get(f'{BASE}/intelfeed', json=intelfeed_by_source({'XSOAR': [evil], 'default': [evil, other],
                                                                      'CTI': [{**other, 'name': 'c2.example'}]}))
    result = Darktrace.list_watched_endpoints_command(client, {'limit': '2'})
    assert [query_of(r) for r in requests_mock.request_history] == [
        {'sources': ['true']}, {'fulldetails': ['true'], 'source': ['XSOAR']},
        {'fulldetails': ['true'], 'source': ['default']}, {'fulldetails': ['true'], 'source': ['CTI']}]
    assert context_key(result) == 'Darktrace.Endpoint(val.endpoint && val.endpoint == obj.endpoint)'
    assert result.outputs == [
        {'endpoint': 'evil.com', 'Watched': True, 'description': 'C2 seen in incident 42',
         'expiry': '2030-01-31T00:00:00Z', 'strength': 100, 'iagn': False, 'sources': ['XSOAR', 'default'],
         'source': None},
        {'endpoint': '203.0.113.7', 'Watched': True, 'description': '', 'expiry': None, 'strength': 50, 'iagn': True,
         'sources': ['default'], 'source': 'default'}]
    assert 'Watched endpoints (2 of 3)' in result.readable_output
    assert '| evil.com | XSOAR, default | C2 seen in incident 42 | 2030-01-31T00:00:00Z | 100 |' \
        in result.readable_output


def test_list_watched_endpoints_of_one_source(client: Client, requests_mock: Any) -> None:
    """
    Given a source name
    When darktrace-list-watched-endpoints runs with it
    Then only that source is read (GET ?fulldetails=true&source=...), and the title names it.
    """
    requests_mock.get(f'{BASE}/intelfeed', json=intelfeed_by_source({'CTI Feed': load('watched_endpoints.json')}))
    result = Darktrace.list_watched_endpoints_command(client, {'source': 'CTI Feed'})
    assert [query_of(r) for r in requests_mock.request_history] == [{'fulldetails': ['true'], 'source': ['CTI Feed']}]
    assert [(o['endpoint'], o['sources']) for o in result.outputs] == [('evil.com', ['CTI Feed']),
                                                                       ('203.0.113.7', ['CTI Feed'])]
    assert 'Watched endpoints of source CTI Feed (2 of 2)' in result.readable_output


def test_list_watched_endpoints_bare_names(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that ignores fulldetails and answers with names only, and lists no sources
    When darktrace-list-watched-endpoints runs
    Then each name is still listed, from a plain GET.
    """
    requests_mock.get(f'{BASE}/intelfeed', json=['evil.com', '203.0.113.7'])
    result = Darktrace.list_watched_endpoints_command(client, {})
    assert [o['endpoint'] for o in result.outputs][-2:] == ['evil.com', '203.0.113.7']
    assert result.outputs[-1]['description'] is None


def test_list_watched_sources(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance with three sources
    When darktrace-list-watched-sources runs
    Then GET /intelfeed?sources=true is sent and each source is listed, in context and the War Room.
    """
    requests_mock.get(f'{BASE}/intelfeed', json=['Default', 'Test', 'ThreatIntel'])  # the guide's example (2.26)
    result = Darktrace.list_watched_sources_command(client, {})
    assert query_of(requests_mock.last_request) == {'sources': ['true']}
    assert result.outputs == [{'name': 'Default'}, {'name': 'Test'}, {'name': 'ThreatIntel'}]
    assert context_key(result) == 'Darktrace.WatchedSource(val.name && val.name == obj.name)'
    assert '| ThreatIntel |' in result.readable_output and 'Watched list sources (3)' in result.readable_output


def test_remove_from_watched_list(client: Client, requests_mock: Any) -> None:
    """
    Given two entries to remove, each in one source
    When darktrace-remove-from-watched-list runs without a source
    Then the sources holding them are read, and one signed JSON removeentry request naming the entry's source is
    sent per entry; each is marked not watched.
    """
    evil, other = load('watched_endpoints.json')
    requests_mock.get(f'{BASE}/intelfeed', json=intelfeed_by_source({'XSOAR': [evil], 'default': [other]}))
    post = requests_mock.post(f'{BASE}/intelfeed', json={'response': 'SUCCESS'})
    result = Darktrace.remove_from_watched_list_command(client, {'endpointsToRemove': 'evil.com, 203.0.113.7'})
    assert [r.json() for r in post.request_history] == [{'removeentry': 'evil.com', 'source': 'XSOAR'},
                                                        {'removeentry': '203.0.113.7', 'source': 'default'}]
    assert_signed(post.last_request, post.last_request.body)
    assert result.outputs == [{'endpoint': 'evil.com', 'Watched': False, 'source': 'XSOAR'},
                              {'endpoint': '203.0.113.7', 'Watched': False, 'source': 'default'}]


def test_remove_from_watched_list_of_a_given_source(client: Client, requests_mock: Any) -> None:
    """
    Given a source
    When darktrace-remove-from-watched-list runs with it
    Then nothing is read first, and the removal names that source.
    """
    post = requests_mock.post(f'{BASE}/intelfeed', json={'response': 'SUCCESS'})
    Darktrace.remove_from_watched_list_command(client, {'endpointsToRemove': 'evil.com', 'source': 'ThreatIntel'})
    assert [r.json() for r in requests_mock.request_history] == [{'removeentry': 'evil.com', 'source': 'ThreatIntel'}]
    assert post.call_count == 1


def test_remove_from_watched_list_in_several_sources_says_which_to_choose(client: Client,
                                                                          requests_mock: Any) -> None:
    """
    Given an entry held by two sources
    When darktrace-remove-from-watched-list runs without a source
    Then nothing is removed, and the error names both sources and says to give source=.
    """
    evil, other = load('watched_endpoints.json')
    requests_mock.get(f'{BASE}/intelfeed', json=intelfeed_by_source({'XSOAR': [evil], 'default': [evil, other]}))
    post = requests_mock.post(f'{BASE}/intelfeed', json={'response': 'SUCCESS'})
    with pytest.raises(DarktraceApiError, match='Nothing was removed: evil.com is in XSOAR, default. Give source= '
                                                'one of them'):
        Darktrace.remove_from_watched_list_command(client, {'endpointsToRemove': '203.0.113.7,evil.com'})
    assert not post.called


def test_remove_from_watched_list_reports_what_was_removed_before_a_failure(client: Client,
                                                                            requests_mock: Any) -> None:
    """
    Given the appliance removes the first entry, then refuses the second
    When darktrace-remove-from-watched-list runs
    Then the error says which entries were removed before the failure.
    """
    requests_mock.post(f'{BASE}/intelfeed', [{'json': {'response': 'SUCCESS'}},
                                             {'status_code': 400, 'json': {'error': 'bad entry'}}])
    with pytest.raises(DarktraceApiError, match='Removed evil.com from the watched list, then failed on bad.com') \
            as raised:
        Darktrace.remove_from_watched_list_command(client, {'endpointsToRemove': 'evil.com,bad.com', 'source': 'X'})
    assert raised.value.kind == 'input' and 'bad entry' in str(raised.value)


def test_remove_from_watched_list_unconfirmed(client: Client, requests_mock: Any) -> None:
    """
    Given a reply that does not confirm the first removal
    When darktrace-remove-from-watched-list runs
    Then it fails with a clear error and sends nothing more.
    """
    requests_mock.post(f'{BASE}/intelfeed', json={'response': 'NOT FOUND'})
    with pytest.raises(DarktraceApiError, match='without confirming'):
        Darktrace.remove_from_watched_list_command(client, {'endpointsToRemove': 'evil.com,bad.com', 'source': 'X'})
    assert requests_mock.call_count == 1


def test_post_to_watched_list_sends_the_new_options(client: Client, requests_mock: Any) -> None:
    """
    Given an expiry, a source and hostname=true
    When darktrace-post-to-watched-list runs
    Then the body carries expiry as ISO UTC, source and hostname as a JSON boolean, and context records them.
    """
    requests_mock.post(f'{BASE}/intelfeed', json=load('intelfeed_post.json'))
    result = Darktrace.post_to_watched_list_command(client, {
        'endpointsToWatch': 'evil.com', 'expiry': '2030-01-31T12:00:00+01:00', 'source': 'XSOAR', 'hostname': 'true'})
    assert requests_mock.last_request.json() == {'addlist': 'evil.com', 'expiry': '2030-01-31T11:00:00Z',
                                                 'source': 'XSOAR', 'hostname': True}
    assert result.outputs == [{'endpoint': 'evil.com', 'Watched': True, 'description': None,
                               'expiry': '2030-01-31T11:00:00Z', 'source': 'XSOAR'}]


def test_post_to_watched_list_relative_expiry(client: Client, requests_mock: Any, pinned_clocks: int) -> None:
    """
    Given a relative expiry "in 30 days" and hostname=false
    When darktrace-post-to-watched-list runs
    Then the expiry is about 30 days ahead and hostname false is sent.
    """
    requests_mock.post(f'{BASE}/intelfeed', json=load('intelfeed_post.json'))
    Darktrace.post_to_watched_list_command(client, {'endpointsToWatch': 'evil.com', 'expiry': 'in 30 days',
                                                    'hostname': 'false'})
    body = requests_mock.last_request.json()
    expiry = datetime.strptime(body['expiry'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=timezone.utc)
    assert expiry == datetime.fromtimestamp(pinned_clocks / 1000, timezone.utc) + timedelta(days=30)
    assert body['hostname'] is False


WATCH_BAD_ARGUMENTS = [
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': ' , '}, '"endpointsToWatch"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com,not a host'}, '"not a host"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'description': 'x' * 256},
     'at most 255'),
    (Darktrace.list_watched_endpoints_command, {'limit': '-1'}, 'from 1 to 1000'),
    (Darktrace.remove_from_watched_list_command, {}, 'Missing required argument "endpointsToRemove"'),
    (Darktrace.remove_from_watched_list_command, {'endpointsToRemove': 'evil.com,a b'}, '"a b"'),
    (Darktrace.remove_from_watched_list_command, {'endpointsToRemove': ','.join(f'h{i}.com' for i in range(101))},
     'at most 100'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'expiry': '2020-01-01T00:00:00Z'},
     'the time has passed'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'expiry': '3 days'},
     'the time has passed'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'expiry': 'never'}, '"expiry"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'source': 's' * 64}, 'at most 63'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'hostname': 'sometimes'},
     '"hostname"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'fe80::1%eth0'}, '"endpointsToWatch"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': '[1, null]'}, '"endpointsToWatch"'),
    (Darktrace.remove_from_watched_list_command, {'endpointsToRemove': '[{"a": 1}]'}, '"endpointsToRemove"'),
    (Darktrace.post_to_watched_list_command,
     {'endpointsToWatch': ','.join(f'host{n}.example.com' for n in range(Darktrace.MAX_ENDPOINTS_PER_WATCH + 1))},
     f'at most {Darktrace.MAX_ENDPOINTS_PER_WATCH}'),
]
# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
WATCH_TABLE_RUNS = [
    ('darktrace-post-to-watched-list', {'endpointsToWatch': 'evil.com', 'description': 'seen in incident 42'}),
    ('darktrace-list-watched-endpoints', {}),
    ('darktrace-list-watched-sources', {}),
    ('darktrace-remove-from-watched-list', {'endpointsToRemove': 'evil.com'}),
]


# --- AI Analyst ---------------------------------------------------------------------------------------

def test_get_ai_analyst_incident_event(client: Client, requests_mock: Any) -> None:
    """
    Given an incident event whose group score is text
    When darktrace-get-ai-analyst-incident-event runs
    Then it is fetched by uuid (acknowledged included), scores are numbers, times ISO, and the War Room shows the
    summary and related breaches.
    """
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=load('ai_analyst_events.json')[:1])
    result = Darktrace.get_ai_analyst_incident_event_command(client, {'event_id': EVENT_ID})
    assert query_of(requests_mock.last_request) == {'uuid': [EVENT_ID], 'includeacknowledged': ['true']}
    assert context_key(result) == 'Darktrace.AIAnalystEvent(val.id && val.id == obj.id)'
    outputs = result.outputs
    assert outputs['groupScore'] == 72.5 and outputs['aiaScore'] == 98 and outputs['acknowledged'] is False
    assert outputs['createdAt'] == '2023-01-24T03:00:00.000Z'
    assert outputs['periods'] == [{'start': '2023-01-24T00:26:40.000Z', 'end': '2023-01-24T03:00:00.000Z'}]
    readable = result.readable_output
    assert (f'| {EVENT_ID} | Unusual Repeated Connections | critical | 98 | 72.5 | ws1 | 2023-01-24T03:00:00.000Z | '
            'false |') in readable
    assert 'repeated connections to a rare external host' in readable
    assert '| 30960 | Compromise::Watched Domain | 59.2 | 2023-01-24T01:04:25.000Z |' in readable


def test_get_ai_analyst_incident_event_with_a_summary_object(client: Client, requests_mock: Any) -> None:
    """
    Given an incident event whose summary is an object (some versions), not text
    When darktrace-get-ai-analyst-incident-event runs
    Then context keeps the object (times in ISO 8601) and the War Room shows it as readable text.
    """
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=load('ai_analyst_event_summary_object.json'))
    result = Darktrace.get_ai_analyst_incident_event_command(client, {'event_id': EVENT_ID})
    assert result.outputs['summary'] == {
        'text': 'The device ws1 made repeated connections to a rare external host.',
        'details': ['Destination: rare.example', 'Port: 443'], 'generatedAt': 1674529200000}
    assert ('text: The device ws1 made repeated connections to a rare external host.; '
            'details: Destination: rare.example, Port: 443; generatedAt: 1674529200000') in result.readable_output
    assert "{'" not in result.readable_output and '{"' not in result.readable_output


def test_get_ai_analyst_incident_event_not_found(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that ignores the uuid and answers with other events
    When darktrace-get-ai-analyst-incident-event runs
    Then a not-found error is raised rather than another event shown.
    """
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=load('ai_analyst_events.json')[1:])
    with pytest.raises(DarktraceApiError, match='no AI Analyst incident event with id'):
        Darktrace.get_ai_analyst_incident_event_command(client, {'event_id': EVENT_ID})


@pytest.mark.parametrize('args, expected', [
    ({}, ['55b1a1c2-0000-4000-8000-000000000002', EVENT_ID]),
    ({'acknowledged': 'false'}, [EVENT_ID]),
    ({'acknowledged': 'true'}, ['55b1a1c2-0000-4000-8000-000000000002']),
    ({'min_group_score': '50'}, [EVENT_ID]),
    ({'limit': '1'}, ['55b1a1c2-0000-4000-8000-000000000002']),
])
def test_list_ai_analyst_incident_events(client: Client, requests_mock: Any, args: dict, expected: list[str]) -> None:
    """
    Given two incident events, one acknowledged
    When darktrace-list-ai-analyst-incident-events runs with each filter
    Then the matching events are listed newest first, up to the limit.
    """
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=load('ai_analyst_events.json'))
    result = Darktrace.list_ai_analyst_incident_events_command(client, args)
    assert [e['id'] for e in result.outputs] == expected


def test_list_ai_analyst_incident_events_sends_the_filters(client: Client, requests_mock: Any) -> None:
    """
    Given a time range and a minimum group score
    When darktrace-list-ai-analyst-incident-events runs
    Then times are epoch ms and mingroupscore stays on the 0..100 scale.
    """
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=[])
    result = Darktrace.list_ai_analyst_incident_events_command(client, {
        'start_time': '2023-01-24T00:00:00Z', 'end_time': '2023-01-25T00:00:00Z', 'min_group_score': '50'})
    assert query_of(requests_mock.last_request) == {'starttime': ['1674518400000'], 'endtime': ['1674604800000'],
                                                    'includeacknowledged': ['true'], 'mingroupscore': ['50'],
                                                    'includeallpinned': ['false']}
    assert result.outputs == [] and '(0 of 0, newest first)' in result.readable_output


@pytest.mark.parametrize('args, sent', [
    ({}, {'includeallpinned': ['false']}),
    ({'start_time': '2023-01-24T00:00:00Z', 'end_time': '2023-01-25T00:00:00Z'}, {'includeallpinned': ['false']}),
    ({'start_time': '2023-01-24T00:00:00Z', 'end_time': '2023-01-25T00:00:00Z', 'pinned': 'all'},
     {'includeallpinned': ['true']}),
    ({'pinned': 'Only'}, {'includeallpinned': ['true'], 'includeonlypinned': ['true']}),
])
def test_list_ai_analyst_incident_events_pinned_option(client: Client, requests_mock: Any, args: dict[str, str],
                                                       sent: dict[str, list[str]]) -> None:
    """
    Given the pinned option left out (pinned events only within the range), set to all (pinned events from outside
    the range too), or only
    When darktrace-list-ai-analyst-incident-events runs
    Then includeallpinned is always sent (the appliance's default, true, adds pinned events from any time, guide
    2.5), and includeonlypinned only for `only`.
    """
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=[])
    Darktrace.list_ai_analyst_incident_events_command(client, args)
    query = query_of(requests_mock.last_request)
    assert {key: query[key] for key in query if 'pinned' in key} == sent


def test_list_ai_analyst_incident_events_refuses_an_unknown_pinned_choice(client: Client,
                                                                          requests_mock: Any) -> None:
    """
    Given pinned=yes
    When darktrace-list-ai-analyst-incident-events runs
    Then it is refused naming the choices, and nothing is sent.
    """
    with pytest.raises(ValueError, match='"pinned"="yes": expected one of in_range, all, only'):
        Darktrace.list_ai_analyst_incident_events_command(client, {'pinned': 'yes'})
    assert not requests_mock.called


@pytest.mark.parametrize('params, expected', [
    ({'starttime': 1, 'endtime': 2}, {'starttime': 1, 'endtime': 2, 'includeallpinned': False}),
    ({'starttime': 1, 'endtime': 2, 'includeallpinned': True}, {'starttime': 1, 'endtime': 2,
                                                                'includeallpinned': True}),
    ({'uuid': 'x'}, {'uuid': 'x'}),
])
def test_ai_analyst_time_ranges_leave_out_pinned_events_from_elsewhere(params: dict[str, Any],
                                                                       expected: dict[str, Any]) -> None:
    """
    Given AI Analyst query parameters with or without a time range (as fetch and the list command send them)
    When the Client prepares /aianalyst/incidentevents or /aianalyst/groups
    Then a time range gets includeallpinned=false unless the caller chose, so pinned events from outside it stay
    out (guide 2.5, 2.6).
    """
    assert Darktrace.without_pinned_outside(params) == expected


@pytest.mark.parametrize('command, path', [
    (Darktrace.acknowledge_ai_analyst_incident_event_command, 'acknowledge'),
    (Darktrace.unacknowledge_ai_analyst_incident_event_command, 'unacknowledge'),
])
def test_acknowledge_and_unacknowledge_ai_analyst_incident_event(client: Client, requests_mock: Any, command: Any,
                                                                 path: str) -> None:
    """
    Given the appliance answers {"aianalyst": "SUCCESS"}
    When darktrace-(un)acknowledge-ai-analyst-incident-event runs
    Then the form body is uuid=<id> and the event's flag is set in context.
    """
    requests_mock.post(f'{BASE}/aianalyst/{path}', json={'aianalyst': 'SUCCESS'})
    result = command(client, {'event_id': EVENT_ID})
    assert form_fields(requests_mock.last_request) == {'uuid': [EVENT_ID]}
    assert result.outputs == {'id': EVENT_ID, 'acknowledged': path == 'acknowledge'}
    assert f'{EVENT_ID} {path}d' in result.readable_output


def test_acknowledge_ai_analyst_incident_event_unconfirmed(client: Client, requests_mock: Any) -> None:
    """
    Given a reply that does not confirm
    When darktrace-acknowledge-ai-analyst-incident-event runs
    Then it fails with a clear error.
    """
    requests_mock.post(f'{BASE}/aianalyst/acknowledge', json={'aianalyst': 'FAILED'})
    with pytest.raises(DarktraceApiError, match='POST /aianalyst/acknowledge without confirming'):
        Darktrace.acknowledge_ai_analyst_incident_event_command(client, {'event_id': EVENT_ID})


@pytest.mark.parametrize('reply', [load('ai_analyst_comments.json'), load('ai_analyst_comments.json')['comments']])
def test_get_ai_analyst_comments(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given comments as {"comments": [...]} or a bare list
    When darktrace-get-ai-analyst-comments runs
    Then they sit under the event (keyed by id) with ISO times.
    """
    requests_mock.get(f'{BASE}/aianalyst/incident/comments', json=reply)
    result = Darktrace.get_ai_analyst_comments_command(client, {'event_id': EVENT_ID})
    assert query_of(requests_mock.last_request) == {'incident_id': [EVENT_ID]}
    assert result.outputs == {'id': EVENT_ID, 'comments': [
        {'message': 'Confirmed with the owner.', 'username': 'analyst1', 'time': '2023-01-24T03:13:20.000Z'}]}
    assert '| 2023-01-24T03:13:20.000Z | analyst1 | Confirmed with the owner. |' in result.readable_output


@pytest.mark.parametrize('reply', [{'response': 'SUCCESS'}, {'aianalyst': 'SUCCESS'}])
def test_post_comment_to_ai_analyst_incident_event(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given the appliance confirms the comment
    When darktrace-post-comment-to-ai-analyst-incident-event runs
    Then the JSON body carries incident_id and message, and the comment is in context under the event.
    """
    requests_mock.post(f'{BASE}/aianalyst/incident/comments', json=reply)
    result = Darktrace.post_comment_to_ai_analyst_incident_event_command(
        client, {'event_id': EVENT_ID, 'message': 'Contained; see ticket 12'})
    request = requests_mock.last_request
    assert request.json() == {'incident_id': EVENT_ID, 'message': 'Contained; see ticket 12'}
    assert_signed(request, request.body)
    assert result.outputs == {'id': EVENT_ID, 'postedComment': {'message': 'Contained; see ticket 12'}}


def groups_appliance(groups: list[dict[str, Any]], group_lookup: str) -> Any:
    """A requests_mock callback playing /aianalyst/groups: groupid= selects by group id and uuid= the group holding
    that incident event ('strict', as Darktrace's clients read it), or either takes either id ('lenient')."""
    def answer(request: Any, context: Any) -> Any:
        query = {key: values[0] for key, values in query_of(request).items()}
        wanted = query.get('groupid') or query.get('uuid')
        by_group = 'groupid' in query or group_lookup == 'lenient'
        by_event = 'uuid' in query or group_lookup == 'lenient'
        return [g for g in groups if (by_group and g['id'] == wanted)
                or (by_event and wanted in Darktrace._group_event_ids(g))]
    return answer


@pytest.mark.parametrize('group_lookup', ['strict', 'lenient'])
def test_get_ai_analyst_incident_group_by_id(client: Client, requests_mock: Any, group_lookup: str) -> None:
    """
    Given an AI Analyst incident (group) asked for by its id, whichever way the appliance reads uuid=
    When darktrace-get-ai-analyst-incident-group runs
    Then one request with groupid= fetches it, it is in context keyed by id with ISO times, and the War Room
    lists its events.
    """
    requests_mock.get(f'{BASE}/aianalyst/groups', json=groups_appliance(load('ai_analyst_groups.json'), group_lookup))
    result = Darktrace.get_ai_analyst_incident_group_command(client, {'group_id': GROUP_ID})
    assert requests_mock.call_count == 1
    assert query_of(requests_mock.last_request) == {'groupid': [GROUP_ID], 'includeacknowledged': ['true']}
    assert context_key(result) == 'Darktrace.AIAnalystGroup(val.id && val.id == obj.id)'
    assert result.outputs['id'] == GROUP_ID and result.outputs['start'] == '2023-01-24T00:26:40.000Z'
    readable = result.readable_output
    assert (f'| {GROUP_ID} | critical | 72.5 | 2023-01-24T00:26:40.000Z | 2023-01-24T03:00:00.000Z | false | true | '
            '1 | 1417 |') in readable
    assert f'| {EVENT_ID} | Unusual Repeated Connections | 2023-01-24T00:26:40.000Z |' in readable


@pytest.mark.parametrize('group_lookup', ['strict', 'lenient'])
def test_get_ai_analyst_incident_group_through_an_event(client: Client, requests_mock: Any, group_lookup: str) -> None:
    """
    Given the id of an incident event
    When darktrace-get-ai-analyst-incident-group runs
    Then one request, /aianalyst/groups?uuid=<event id>, answers the group holding the event.
    """
    requests_mock.get(f'{BASE}/aianalyst/groups', json=groups_appliance(load('ai_analyst_groups.json'), group_lookup))
    result = Darktrace.get_ai_analyst_incident_group_command(client, {'event_id': EVENT_ID})
    assert requests_mock.call_count == 1
    assert query_of(requests_mock.last_request) == {'uuid': [EVENT_ID], 'includeacknowledged': ['true']}
    assert result.outputs['id'] == GROUP_ID


def test_get_ai_analyst_incident_group_plain_event_ids_and_gaps(client: Client, requests_mock: Any) -> None:
    """
    Given a group whose incidentEvents are plain ids and whose score is text
    When the group is asked for by id, by one of its events, then by an event it does not hold
    Then the first two work (numeric score, events counted) and the third says no incident holds the event.
    """
    group = {'id': 'g2', 'incidentEvents': ['e2', 'e3'], 'groupScore': '20', 'devices': [{'did': 4}]}
    requests_mock.get(f'{BASE}/aianalyst/groups', json=groups_appliance([group], 'strict'))
    result = Darktrace.get_ai_analyst_incident_group_command(client, {'group_id': 'g2'})
    assert result.outputs['groupScore'] == 20 and '| g2 |  | 20 |  |  |  |  | 2 | 4 |' in result.readable_output
    assert Darktrace.get_ai_analyst_incident_group_command(client, {'event_id': 'e3'}).outputs['id'] == 'g2'
    with pytest.raises(DarktraceApiError, match='no AI Analyst incident holding the incident event e9'):
        Darktrace.get_ai_analyst_incident_group_command(client, {'event_id': 'e9'})


AI_ANALYST_BAD_ARGUMENTS = [
    (Darktrace.get_ai_analyst_incident_event_command, {}, 'Missing required argument "event_id"'),
    (Darktrace.get_ai_analyst_incident_event_command, {'event_id': 'abc&uuid=def'}, '"event_id"'),
    (Darktrace.list_ai_analyst_incident_events_command, {'min_group_score': '-1'}, 'from 0 to 100'),
    (Darktrace.list_ai_analyst_incident_events_command, {'acknowledged': 'yes please'}, '"acknowledged"'),
    (Darktrace.list_ai_analyst_incident_events_command, {'limit': 'all'}, '"limit"'),
    (Darktrace.list_ai_analyst_incident_events_command, {'end_time': 'someday'}, '"end_time"'),
    (Darktrace.acknowledge_ai_analyst_incident_event_command, {'event_id': 'a b'}, '"event_id"'),
    (Darktrace.unacknowledge_ai_analyst_incident_event_command, {}, '"event_id"'),
    (Darktrace.get_ai_analyst_comments_command, {'event_id': '../x'}, '"event_id"'),
    (Darktrace.post_comment_to_ai_analyst_incident_event_command, {'event_id': EVENT_ID, 'message': ' '},
     'Missing required argument "message"'),
    (Darktrace.get_ai_analyst_incident_group_command, {}, 'exactly one of "group_id"'),
    (Darktrace.get_ai_analyst_incident_group_command, {'group_id': GROUP_ID, 'event_id': EVENT_ID},
     'exactly one of "group_id"'),
    (Darktrace.get_ai_analyst_incident_group_command, {'group_id': 'g/1'}, '"group_id"'),
]
# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
AI_ANALYST_TABLE_RUNS = [
    ('darktrace-get-ai-analyst-incident-event', {'event_id': EVENT_ID}),
    ('darktrace-list-ai-analyst-incident-events', {}),
    ('darktrace-acknowledge-ai-analyst-incident-event', {'event_id': EVENT_ID}),
    ('darktrace-unacknowledge-ai-analyst-incident-event', {'event_id': EVENT_ID}),
    ('darktrace-get-ai-analyst-comments', {'event_id': EVENT_ID}),
    ('darktrace-post-comment-to-ai-analyst-incident-event', {'event_id': EVENT_ID, 'message': 'Escalated'}),
    ('darktrace-get-ai-analyst-incident-group', {'group_id': GROUP_ID}),
]


# --- RESPOND ------------------------------------------------------------------------------------------

def json_body(request: Any) -> Any:
    return json.loads(request.body)


@pytest.mark.parametrize('action, expected', [
    ({'active': False, 'cleared': False, 'expires': RESPOND_NOW_MS + 1}, 'pending'),
    ({'active': True, 'cleared': False, 'expires': RESPOND_NOW_MS + 1}, 'active'),
    ({'active': 'true', 'cleared': 'false', 'expires': str(RESPOND_NOW_MS + 1)}, 'active'),
    ({'active': True, 'cleared': False, 'expires': RESPOND_NOW_MS}, 'expired'),
    ({'active': False, 'cleared': False, 'expires': RESPOND_NOW_MS - 1}, 'expired'),
    ({'active': True, 'cleared': True, 'expires': RESPOND_NOW_MS + 1}, 'cleared'),
    ({'active': False, 'cleared': True, 'expires': RESPOND_NOW_MS - 1}, 'cleared'),
    ({'active': True}, 'active'),  # no expiry known: the flags decide
])
def test_respond_action_state(action: dict[str, Any], expected: str) -> None:
    """
    Given an action's active and cleared flags (booleans or text) and its expiry
    When its state is derived at a fixed moment
    Then cleared wins, a passed expiry means expired, and otherwise active or pending follows the flag.
    """
    assert Darktrace.respond_action_state(action, RESPOND_NOW_MS) == expected


@pytest.mark.parametrize('text, seconds', [
    ('60', 60), ('3600', 3600), ('30 minutes', 1800), ('1 minute', 60), ('2 hours', 7200), ('2h', 7200),
    ('90 mins', 5400), ('1 day', 86400), ('7 days', 604800), ('1 week', 604800), ('45 Minutes', 2700),
    (' 120 seconds ', 120), ('3 hrs', 10800),
])
def test_parse_duration_accepts_words_and_seconds(text: str, seconds: int) -> None:
    """
    Given a duration in words ("30 minutes", "2 hours") or in seconds
    When it is parsed
    Then it is the number of seconds.
    """
    assert Darktrace.parse_duration({'duration': text}, 'duration') == seconds


@pytest.mark.parametrize('text, fragment', [
    ('59', 'from 1 minute to 7 days'), ('0', 'from 1 minute to 7 days'), ('8 days', 'from 1 minute to 7 days'),
    ('604801', 'from 1 minute to 7 days'), ('5000ms', 'expected a duration'), ('1.5 hours', 'expected a duration'),
    ('-60', 'expected a duration'), ('two hours', 'expected a duration'), ('2 fortnights', 'expected a duration'),
    ('1e3', 'expected a duration'), ('١٢٠', 'expected a duration'),
])
def test_parse_duration_refuses_bad_or_out_of_bounds_values(text: str, fragment: str) -> None:
    """
    Given a duration that is not a number of seconds or words, or is outside 1 minute .. 7 days
    When it is parsed
    Then the error names the argument and says what is accepted.
    """
    with pytest.raises(ValueError, match=f'"duration".*{fragment}'):
        Darktrace.parse_duration({'duration': text}, 'duration')


@pytest.mark.parametrize('text, expected', [
    ('10.0.1.5>203.0.113.7:443', [{'src': '10.0.1.5', 'dst': '203.0.113.7', 'port': 443}]),
    ('10.0.1.5>203.0.113.7', [{'src': '10.0.1.5', 'dst': '203.0.113.7'}]),
    ('10.0.1.5 > bad.example.com:8080, 10.0.1.5>2001:db8::7',
     [{'src': '10.0.1.5', 'dst': 'bad.example.com', 'port': 8080}, {'src': '10.0.1.5', 'dst': '2001:db8::7'}]),
    ('fd00::5>[2001:db8::7]:53', [{'src': 'fd00::5', 'dst': '2001:db8::7', 'port': 53}]),
    ('', []),
])
def test_parse_connections(text: str, expected: list[dict[str, Any]]) -> None:
    """
    Given connections as source>destination[:port] items
    When they are parsed
    Then each is a {src, dst, port} object, the port only when given.
    """
    assert Darktrace.parse_connections({'connections': text}, 'connections') == expected


@pytest.mark.parametrize('text', [
    '10.0.1.5', '10.0.1.5>', '>203.0.113.7', '10.0.1.5>203.0.113.7:0', '10.0.1.5>203.0.113.7:65536',
    '10.0.1.5>203.0.113.7:https', '10.0.1.5>[2001:db8::7]x', 'a b>c', '10.0.1.5>203.0.113.7:443:1',
    '10.0.1.5:80>203.0.113.7', '10.0.1.5>>203.0.113.7',
])
def test_parse_connections_refuses_malformed_items(text: str) -> None:
    """
    Given a connection item that is not source>destination[:port] with IP addresses or host names
    When it is parsed
    Then the error quotes the item and shows the expected form.
    """
    with pytest.raises(ValueError, match='"connections": expected source>destination'):
        Darktrace.parse_connections({'connections': text}, 'connections')


def test_parse_connections_bounds_the_number_of_items() -> None:
    """
    Given 101 connection items
    When they are parsed
    Then they are refused: at most 100 are accepted.
    """
    with pytest.raises(ValueError, match='101 entries, at most 100'):
        Darktrace.parse_connections({'connections': ','.join(['10.0.0.1>10.0.0.2'] * 101)}, 'connections')


def test_list_respond_actions(client: Client, requests_mock: Any, mocker: Any) -> None:
    """
    Given the appliance's actions (recorded shape) and a moment at which they are pending, active, cleared, expired
    When darktrace-list-respond-actions runs with include_cleared
    Then the actions are newest first, each with its derived state, ISO times, keyed by codeid in context, and the
    table shows device, action, state, who triggered it and the expiry.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    result = Darktrace.list_respond_actions_command(client, {'include_cleared': 'true'})
    assert query_of(requests_mock.last_request) == {'includecleared': ['true']}
    assert context_key(result) == 'Darktrace.RespondAction(val.codeid && val.codeid == obj.codeid)'
    states = {action['codeid']: action['state'] for action in result.outputs}
    assert states == {5001: 'pending', 5002: 'active', 5003: 'active', 5004: 'cleared', 5005: 'expired'}
    assert [a['codeid'] for a in result.outputs] == [5001, 5002, 5003, 5004, 5005]  # newest start first
    pending = result.outputs[0]
    assert pending['start'] == '2024-06-03T11:50:00.000Z' and pending['expires'] == '2024-06-03T14:00:00.000Z'
    assert pending['history'][0]['time'] == '2024-06-03T11:50:00.000Z'
    readable = result.readable_output
    assert ('| 5001 | 34 (10.0.1.30) | Block all outgoing traffic | pending | '
            'Model: Device::Unusual LDAP Bind and Search Activity | 2024-06-03T11:50:00.000Z | '
            '2024-06-03T14:00:00.000Z | 10181 |') in readable
    assert '| 5003 | 21 (192.168.16.23) | Quarantine device | active | r.okafor (manual) |' in readable


def test_list_respond_actions_sends_every_filter(client: Client, requests_mock: Any) -> None:
    """
    Given every filter of darktrace-list-respond-actions
    When it runs
    Then each is sent under the API's name (times in epoch ms), and the limit cuts the reply.
    """
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    result = Darktrace.list_respond_actions_command(client, {
        'pbid': '10181', 'include_cleared': 'true', 'need_confirming': 'false', 'include_history': 'true',
        'include_connections': 'true', 'full_device_details': 'true', 'start_time': '2024-06-01T00:00:00Z',
        'end_time': '2024-06-03T12:00:00Z', 'limit': '2'})
    assert query_of(requests_mock.last_request) == {
        'pbid': ['10181'], 'includecleared': ['true'], 'includehistory': ['true'], 'includeconnections': ['true'],
        'fulldevicedetails': ['true'], 'starttime': ['1717200000000'], 'endtime': ['1717416000000']}
    assert len(result.outputs) == 2 and 'RESPOND actions (2 of ' in result.readable_output


def test_list_respond_actions_filters_on_the_device_itself(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that ignores `did` on /antigena (the guide's parameter table has no `did`, guide 2.13)
    When darktrace-list-respond-actions runs with did=34
    Then did is sent, and only that device's actions are listed.
    """
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    result = Darktrace.list_respond_actions_command(client, {'did': '34', 'include_cleared': 'true'})
    assert query_of(requests_mock.last_request) == {'did': ['34'], 'includecleared': ['true']}
    assert {action['did'] for action in result.outputs} == {34}


BLOCKED = [{'action': 'connection', 'label': 'Block matching connections', 'did': 6, 'direction': 'outgoing',
            'ip': '198.51.100.102', 'port': 443, 'timems': 1717414200000, 'time': '2024-06-03 11:30:00'}]
DEVICES = [{'did': 6, 'ip': '172.16.5.11', 'hostname': 'ws-finance-07', 'firstseen': 1717000000000}]


@pytest.mark.parametrize('reply, connections, devices', [
    ({'actions': 'ACTIONS', 'connections': BLOCKED}, True, False),
    ({'actions': 'ACTIONS', 'devices': DEVICES}, False, True),
    ({'actions': 'ACTIONS', 'connections': BLOCKED, 'devices': DEVICES}, True, True),
    ('ACTIONS', False, False),
])
def test_list_respond_actions_reads_every_reply_shape(client: Client, requests_mock: Any, mocker: Any, reply: Any,
                                                      connections: bool, devices: bool) -> None:
    """
    Given the guide's reply shapes of /antigena: an array, {actions, connections}, {actions, devices} or all three
    When darktrace-list-respond-actions runs with include_connections and full_device_details as asked
    Then every action is listed; the blocked connections of a device go with its actions (context and a War Room
    table, ISO times) and its details under `device`.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    actions = respond_actions()
    body = actions if reply == 'ACTIONS' else {**reply, 'actions': actions}
    requests_mock.get(f'{BASE}/antigena', json=body)
    result = Darktrace.list_respond_actions_command(client, {
        'include_cleared': 'true', 'include_connections': str(connections).lower(),
        'full_device_details': str(devices).lower()})
    by_codeid = {action['codeid']: action for action in result.outputs}
    assert sorted(by_codeid) == [5001, 5002, 5003, 5004, 5005]
    if connections:
        assert by_codeid[5002]['blockedConnections'] == [{**BLOCKED[0], 'timems': '2024-06-03T11:30:00.000Z',
                                                          'time': '2024-06-03T11:30:00.000Z'}]
        assert by_codeid[5001]['blockedConnections'] == []
        assert '### Connections RESPOND blocked (1)' in result.readable_output
        assert '| 6 | Block matching connections | outgoing | 198.51.100.102 | 443 | 2024-06-03T11:30:00.000Z |' \
            in result.readable_output
    else:
        assert 'blockedConnections' not in by_codeid[5002] and 'blocked (' not in result.readable_output
    if devices:
        assert by_codeid[5002]['device']['hostname'] == 'ws-finance-07'
        assert by_codeid[5002]['device']['firstseen'] == '2024-05-29T16:26:40.000Z'
    assert ('device' in by_codeid[5002]) is devices and 'device' not in by_codeid[5001]


def test_list_respond_actions_filters_again_when_the_appliance_ignores_a_filter(client: Client, requests_mock: Any,
                                                                                 mocker: Any) -> None:
    """
    Given an appliance that answers need_confirming and the default (no cleared actions) with every action
    When darktrace-list-respond-actions runs with need_confirming=true
    Then only the pending action is listed.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    result = Darktrace.list_respond_actions_command(client, {'need_confirming': 'true'})
    assert query_of(requests_mock.last_request) == {'needconfirming': ['true']}
    assert [(a['codeid'], a['state']) for a in result.outputs] == [(5001, 'pending')]


def _after_change(actions: list[dict[str, Any]], codeid: int, **changes: Any) -> list[dict[str, Any]]:
    return [{**action, **changes} if action['codeid'] == codeid else action for action in actions]


@pytest.mark.parametrize('command, args, body, expected_state, title', [
    (Darktrace.activate_respond_action_command, {'codeid': '5001', 'reason': 'Confirmed by the SOC'},
     {'codeid': 5001, 'activate': True, 'reason': '[Cortex XSOAR] Confirmed by the SOC'},
     {'active': True}, 'RESPOND action 5001 activated'),
    (Darktrace.clear_respond_action_command, {'codeid': '5001', 'reason': 'False positive'},
     {'codeid': 5001, 'clear': True, 'reason': '[Cortex XSOAR] False positive'},
     {'cleared': True, 'active': False}, 'RESPOND action 5001 cleared'),
    (Darktrace.reactivate_respond_action_command, {'codeid': '5001', 'duration': '2 hours', 'reason': 'Again'},
     {'codeid': 5001, 'activate': True, 'duration': 7200, 'reason': '[Cortex XSOAR] Again'},
     {'active': True}, 'RESPOND action 5001 reactivated for 2 hours'),
])
def test_respond_change_is_sent_once_then_read_back(client: Client, requests_mock: Any, mocker: Any, command: Any,
                                                    args: dict[str, str], body: dict[str, Any],
                                                    expected_state: dict[str, Any], title: str) -> None:
    """
    Given an action and an appliance that confirms the change
    When activate, clear or reactivate runs
    Then one signed POST /antigena carries the codeid, the change and the reason prefixed with "[Cortex XSOAR] ",
    then the action is read back (cleared ones included) and its real state is reported.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    post = requests_mock.post(f'{BASE}/antigena', json={'response': 'SUCCESS'})
    requests_mock.get(f'{BASE}/antigena', json=_after_change(respond_actions(), 5001, **expected_state))
    result = command(client, args)
    assert post.call_count == 1 and json_body(post.last_request) == body
    assert_signed(post.last_request, post.last_request.body)
    assert [r.method for r in requests_mock.request_history] == ['POST', 'GET']
    assert query_of(requests_mock.last_request) == {'includecleared': ['true']}
    state = 'cleared' if expected_state.get('cleared') else 'active'
    assert result.outputs['codeid'] == 5001 and result.outputs['state'] == state
    assert result.readable_output.startswith(f'### {title}') and f'| {state} |' in result.readable_output
    assert 'expected' not in result.readable_output


def test_respond_change_reports_a_state_other_than_the_one_asked_for(client: Client, requests_mock: Any,
                                                                     mocker: Any) -> None:
    """
    Given an appliance that confirms an activation but still lists the action as pending
    When darktrace-activate-respond-action runs
    Then the War Room shows the state Darktrace reports, and says it is not the one expected.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    requests_mock.post(f'{BASE}/antigena', json={'response': 'SUCCESS'})
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    result = Darktrace.activate_respond_action_command(client, {'codeid': '5001', 'reason': 'go'})
    assert result.outputs['state'] == 'pending'
    assert 'now reports the action as pending (expected active)' in result.readable_output


@pytest.mark.parametrize('read_back', [
    {'status_code': 503, 'json': {'error': 'Service Unavailable'}},
    {'json': []},
])
def test_respond_change_survives_a_failed_read_back(client: Client, requests_mock: Any,
                                                    read_back: dict[str, Any]) -> None:
    """
    Given an appliance that confirms a clear, then fails the read-back or no longer lists the action
    When darktrace-clear-respond-action runs
    Then it does not fail (the change was made; an error could lead someone to repeat it): the state is unknown
    and the War Room says to check before running the change again. The POST was sent once.
    """
    post = requests_mock.post(f'{BASE}/antigena', json={'response': 'SUCCESS'})
    requests_mock.get(f'{BASE}/antigena', **read_back)
    result = Darktrace.clear_respond_action_command(client, {'codeid': '5004', 'reason': 'done'})
    assert post.call_count == 1
    assert result.outputs == {'codeid': 5004, 'did': None, 'state': 'unknown'}
    assert 'Darktrace confirmed the change, but' in result.readable_output
    assert 'before running the change again' in result.readable_output


def test_respond_change_unconfirmed_is_an_error(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that answers a change without confirming it
    When darktrace-activate-respond-action runs
    Then it fails saying the change was not confirmed, and nothing is read back or sent again.
    """
    requests_mock.post(f'{BASE}/antigena', json={'response': 'FAILED'})
    with pytest.raises(DarktraceApiError, match='without confirming the change'):
        Darktrace.activate_respond_action_command(client, {'codeid': '5001', 'reason': 'go'})
    assert requests_mock.call_count == 1


def test_extend_respond_action_adds_to_the_time_left(client: Client, requests_mock: Any, mocker: Any) -> None:
    """
    Given an active action with 1.5 hours left (it ends at 13:30)
    When darktrace-extend-respond-action runs with duration "2 hours"
    Then the action is read first, the POST carries the time left plus 2 hours (guide 2.13: the duration runs from
    now), the read-back is by its device, and the War Room shows the new expiry, 2 hours after the old one.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    actions = respond_actions()
    extended = _after_change(actions, 5002, expires=actions[1]['expires'] + 2 * 3600 * 1000)
    requests_mock.get(f'{BASE}/antigena', [{'json': actions}, {'json': extended}, {'json': extended}])
    post = requests_mock.post(f'{BASE}/antigena', json={'response': 'SUCCESS'})
    result = Darktrace.extend_respond_action_command(client, {'codeid': '5002', 'duration': '2 hours',
                                                              'reason': 'Still investigating'})
    assert post.call_count == 1
    assert query_of(requests_mock.request_history[0]) == {'includecleared': ['true']}
    assert json_body(post.last_request) == {'codeid': 5002, 'duration': 5400 + 7200,
                                            'reason': '[Cortex XSOAR] Still investigating'}
    assert query_of(requests_mock.last_request) == {'did': ['6'], 'includecleared': ['true']}
    assert result.outputs['expires'] == '2024-06-03T15:30:00.000Z' and result.outputs['state'] == 'active'
    assert 'extended by 2 hours' in result.readable_output
    assert '2 hours more than the 90 minutes it had left, so until about 2024-06-03T15:30:00.000Z' \
        in result.readable_output


def test_extend_respond_action_corrects_an_appliance_counting_from_the_start(client: Client, requests_mock: Any,
                                                                             mocker: Any) -> None:
    """
    Given an appliance that counts an extension's duration from the action's start (the other reading of the
    guide's text), so the first POST ends the action too early
    When darktrace-extend-respond-action runs with "2 hours" on an action that started at 11:30 and ends at 13:30
    Then one more POST sets the total from the start to end at 15:30, and the War Room says why.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    actions = respond_actions()
    start = actions[1]['start']
    too_early = _after_change(actions, 5002, expires=start + (5400 + 7200) * 1000)
    right = _after_change(actions, 5002, expires=actions[1]['expires'] + 7200 * 1000)
    requests_mock.get(f'{BASE}/antigena', [{'json': actions}, {'json': too_early}, {'json': right}])
    post = requests_mock.post(f'{BASE}/antigena', json={'response': 'SUCCESS'})
    result = Darktrace.extend_respond_action_command(client, {'codeid': '5002', 'duration': '2 hours', 'reason': 'x'})
    assert [json_body(r)['duration'] for r in post.request_history] == [12600, 4 * 3600]
    assert result.outputs['expires'] == '2024-06-03T15:30:00.000Z'
    assert 'counted the duration from the action\'s start' in result.readable_output


def test_extend_respond_action_that_expired_meanwhile(client: Client, requests_mock: Any, mocker: Any) -> None:
    """
    Given an action that is active when read, but expired when the extension reaches Darktrace, which refuses it
    When darktrace-extend-respond-action runs
    Then the error says it expired before the extension arrived, that nothing changed, and to reactivate it.
    """
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    post = requests_mock.post(f'{BASE}/antigena', status_code=400,
                              json={'error': 'Action 5002 is expired', 'response': 'INPUT ERROR'})
    mocker.patch.object(Darktrace, 'now_ms', side_effect=lambda: RESPOND_NOW_MS + (3 * 3600 * 1000 if post.called
                                                                                     else 0))
    with pytest.raises(DarktraceApiError, match='RESPOND action 5002 expired before the extension reached Darktrace, '
                                                'which refused it: nothing was changed. Use '
                                                '!darktrace-reactivate-respond-action'):
        Darktrace.extend_respond_action_command(client, {'codeid': '5002', 'duration': '1 hour', 'reason': 'x'})
    assert post.call_count == 1


@pytest.mark.parametrize('codeid, duration, fragment', [
    ('5004', '4 hours', 'is cleared, so it cannot be extended: use !darktrace-reactivate-respond-action'),
    ('5005', '4 hours', 'is expired, so it cannot be extended'),
    ('9999', '4 hours', 'no RESPOND action with code ID 9999'),
])
def test_extend_respond_action_refuses_before_any_change(client: Client, requests_mock: Any, mocker: Any,
                                                         codeid: str, duration: str, fragment: str) -> None:
    """
    Given a cleared or expired action, or an unknown codeid
    When darktrace-extend-respond-action runs
    Then it explains why and sends no change.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    requests_mock.get(f'{BASE}/antigena', json=respond_actions())
    post = requests_mock.post(f'{BASE}/antigena', json={'response': 'SUCCESS'})
    with pytest.raises(DarktraceApiError, match=re.escape(fragment)):
        Darktrace.extend_respond_action_command(client, {'codeid': codeid, 'duration': duration, 'reason': 'x'})
    assert not post.called


def test_create_respond_action(client: Client, requests_mock: Any, mocker: Any) -> None:
    """
    Given an appliance that creates the manual action as code 5006 and answers {"code": 5006} (guide 2.14)
    When darktrace-create-respond-action runs for a quarantine
    Then one POST /antigena/manual carries did, action, duration in seconds and the prefixed reason (no connections),
    and the action is read back by its device and reported with its code ID and state.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    post = requests_mock.post(f'{BASE}/antigena/manual', json={'code': 5006})  # the guide's reply (2.14)
    created = {**respond_actions()[2], 'codeid': 5006, 'did': 34, 'ip': '10.0.1.30', 'start': RESPOND_NOW_MS,
               'expires': RESPOND_NOW_MS + 7200000}
    requests_mock.get(f'{BASE}/antigena', json=[created])
    result = Darktrace.create_respond_action_command(client, {'did': '34', 'action': 'Quarantine',
                                                              'duration': '2 hours', 'reason': 'INC-1042'})
    assert post.call_count == 1
    assert json_body(post.last_request) == {'did': 34, 'action': 'quarantine', 'duration': 7200,
                                            'reason': '[Cortex XSOAR] INC-1042'}
    assert_signed(post.last_request, post.last_request.body)
    assert query_of(requests_mock.last_request) == {'did': ['34'], 'includecleared': ['true']}
    assert result.outputs['codeid'] == 5006 and result.outputs['state'] == 'active'
    assert 'RESPOND action 5006 created: quarantine on device 34 for 2 hours' in result.readable_output
    assert result.raw_response == {'code': 5006, 'codeid': 5006}  # playbooks read codeid from the raw reply


def test_create_respond_action_blocks_connections(client: Client, requests_mock: Any) -> None:
    """
    Given action=connection and two connections
    When darktrace-create-respond-action runs
    Then the body carries them as [{src, dst, port}].
    """
    post = requests_mock.post(f'{BASE}/antigena/manual', json={'codeid': '5007'})
    requests_mock.get(f'{BASE}/antigena', json=[])
    result = Darktrace.create_respond_action_command(client, {
        'did': '6', 'action': 'connection', 'duration': '3600', 'reason': 'C2',
        'connections': '172.16.5.11>198.51.100.102:443,172.16.5.11>c2.example.net'})
    assert json_body(post.last_request)['connections'] == [
        {'src': '172.16.5.11', 'dst': '198.51.100.102', 'port': 443}, {'src': '172.16.5.11', 'dst': 'c2.example.net'}]
    assert result.outputs['codeid'] == 5007


@pytest.mark.parametrize('reply', [{'response': 'SUCCESS'}, {'codeid': 0}, {'codeid': 'x'}, [], {'codeid': True},
                                   {'code': None}, {'code': -1}])
def test_create_respond_action_without_a_codeid_is_an_error(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given an appliance whose reply to a manual action carries no usable codeid
    When darktrace-create-respond-action runs
    Then it fails saying the change was not confirmed (check before retrying), and sends nothing more.
    """
    requests_mock.post(f'{BASE}/antigena/manual', json=reply)
    with pytest.raises(DarktraceApiError, match='without confirming the change.*before retrying'):
        Darktrace.create_respond_action_command(client, {'did': '34', 'action': 'pol', 'duration': '1 hour',
                                                         'reason': 'x'})
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('command, args, fragment', [
    ('darktrace-create-respond-action', {'did': '34', 'action': 'connection', 'duration': '1 hour', 'reason': 'x'},
     'Missing required argument "connections"'),
    ('darktrace-create-respond-action', {'did': '34', 'action': 'quarantine', 'duration': '1 hour', 'reason': 'x',
                                         'connections': '10.0.0.1>10.0.0.2'}, 'only the connection action'),
    ('darktrace-create-respond-action', {'did': '34', 'action': 'isolate', 'duration': '1 hour', 'reason': 'x'},
     'expected one of quarantine, quarantineOutgoing'),
    ('darktrace-create-respond-action', {'did': '0', 'action': 'pol', 'duration': '1 hour', 'reason': 'x'}, '"did"'),
    ('darktrace-create-respond-action', {'did': '34', 'action': 'pol', 'duration': '8 days', 'reason': 'x'},
     'from 1 minute to 7 days'),
    ('darktrace-create-respond-action', {'did': '34', 'action': 'pol', 'reason': 'x'},
     'Missing required argument "duration"'),
    ('darktrace-activate-respond-action', {'codeid': 'abc', 'reason': 'x'}, '"codeid"'),
    ('darktrace-clear-respond-action', {'codeid': '5001', 'reason': 'x' * 4097}, 'at most 4096'),
    ('darktrace-extend-respond-action', {'codeid': '5001', 'duration': '30', 'reason': 'x'}, 'from 1 minute'),
    ('darktrace-reactivate-respond-action', {'codeid': '5001', 'reason': 'x'}, 'Missing required argument "duration"'),
    ('darktrace-list-respond-actions', {'need_confirming': 'maybe'}, '"need_confirming"'),
    ('darktrace-list-respond-actions', {'start_time': 'yesterday-ish'}, '"start_time"'),
    ('darktrace-list-respond-actions', {'limit': '0'}, '"limit"'),
])
def test_respond_arguments_are_checked_before_anything_is_sent(client: Client, requests_mock: Any, command: str,
                                                               args: dict[str, str], fragment: str) -> None:
    """
    Given a RESPOND command with one bad or missing argument
    When it runs
    Then it is refused with a message naming the argument, and no request reaches the appliance.
    """
    with pytest.raises(ValueError, match=re.escape(fragment)):
        Darktrace.COMMANDS[command](client, args)
    assert not requests_mock.called


@pytest.mark.parametrize('reply, kind, fragment', [
    ({'status_code': 302, 'headers': {'Location': '/403'}, 'text': 'Found. Redirecting to /403'}, 'permission',
     'Darktrace refused the RESPOND request (a redirect to /403): the API token\'s user lacks the RESPOND (Antigena) '
     'permission to view RESPOND actions'),
    ({'status_code': 403, 'json': {'error': '403 Forbidden'}}, 'permission',
     'Darktrace refused the RESPOND request (403 Forbidden): the API token\'s user lacks the RESPOND (Antigena) '
     'permission to view RESPOND actions'),
    ({'status_code': 302, 'headers': {'Location': '/login'}, 'text': 'Found. Redirecting to /login'},
     'respond_unavailable', 'this appliance does not offer Darktrace RESPOND (Autonomous Response)'),
])
def test_respond_list_refusals_name_respond(client: Client, requests_mock: Any, reply: dict[str, Any], kind: str,
                                            fragment: str) -> None:
    """
    Given an appliance that refuses GET /antigena for lack of permission (302 to /403 or 403 JSON), or that has no
    RESPOND at all (302 to /login)
    When darktrace-list-respond-actions runs
    Then the error says exactly that: the RESPOND permission is missing, or RESPOND is absent.
    """
    requests_mock.get(f'{BASE}/antigena', **reply)
    with pytest.raises(DarktraceApiError, match=re.escape(fragment)) as raised:
        Darktrace.list_respond_actions_command(client, {})
    assert raised.value.kind == kind


@pytest.mark.parametrize('command, path, args', [
    (Darktrace.create_respond_action_command, '/antigena/manual',
     {'did': '34', 'action': 'quarantine', 'duration': '1 hour', 'reason': 'x'}),
    (Darktrace.clear_respond_action_command, '/antigena', {'codeid': '5001', 'reason': 'x'}),
])
@pytest.mark.parametrize('reply, fragment', [
    ({'status_code': 403, 'json': {'error': '403 Forbidden'}}, 'lacks the RESPOND (Antigena) permission to act on '
                                                               'RESPOND actions'),
    ({'status_code': 302, 'headers': {'Location': '/403'}}, 'lacks the RESPOND (Antigena) permission to act on'),
    ({'status_code': 302, 'headers': {'Location': '/login'}}, 'does not offer Darktrace RESPOND'),
])
def test_respond_change_refusals_name_respond(client: Client, requests_mock: Any, command: Any, path: str,
                                              args: dict[str, str], reply: dict[str, Any], fragment: str) -> None:
    """
    Given an appliance that refuses a RESPOND change for lack of permission, or has no RESPOND
    When the change command runs
    Then the error names the RESPOND permission to act, or RESPOND's absence, and the POST was sent once.
    """
    post = requests_mock.post(f'{BASE}{path}', **reply)
    with pytest.raises(DarktraceApiError, match=re.escape(fragment)):
        command(client, args)
    assert post.call_count == 1 and requests_mock.call_count == 1


@pytest.mark.parametrize('command, path, args, reply', [
    (Darktrace.create_respond_action_command, '/antigena/manual', {'did': '34', 'action': 'pol', 'duration': '1 hour'},
     {'code': 5006}),
    (Darktrace.clear_respond_action_command, '/antigena', {'codeid': '5001', 'reason': '  '}, {'response': 'SUCCESS'}),
])
def test_respond_reason_is_optional_and_never_sent_empty(client: Client, requests_mock: Any, command: Any, path: str,
                                                         args: dict[str, str], reply: Any) -> None:
    """
    Given a RESPOND change without a reason (the guide recommends one; only audited appliances require it)
    When it runs
    Then the body has no reason.
    """
    post = requests_mock.post(f'{BASE}{path}', json=reply)
    requests_mock.get(f'{BASE}/antigena', json=[])
    command(client, args)
    assert 'reason' not in json_body(post.last_request)


@pytest.mark.parametrize('command, path, args', [
    (Darktrace.create_respond_action_command, '/antigena/manual', {'did': '34', 'action': 'pol', 'duration': '1 hour'}),
    (Darktrace.activate_respond_action_command, '/antigena', {'codeid': '5001'}),
])
def test_respond_change_without_reason_refused_by_an_audited_appliance(client: Client, requests_mock: Any,
                                                                       command: Any, path: str,
                                                                       args: dict[str, str]) -> None:
    """
    Given an appliance with "Audit Antigena" on, which refuses (400) a RESPOND change without a reason
    When the change runs without a reason
    Then the error says the appliance audits RESPOND, nothing changed, and to give reason=; the POST was sent once.
    """
    post = requests_mock.post(f'{BASE}{path}', status_code=400, json={'error': 'Reason required',
                                                                      'response': 'INPUT ERROR'})
    with pytest.raises(DarktraceApiError, match='Reason required.*"Audit Antigena" in System Config.*nothing was '
                                                'changed, so run the command again with reason=') as raised:
        command(client, args)
    assert raised.value.kind == 'reason_required' and post.call_count == 1


def test_respond_change_accepted_with_an_undocumented_reply(client: Client, requests_mock: Any, mocker: Any) -> None:
    """
    Given an appliance answering POST /antigena with an empty object (the guide documents no reply, 2.13)
    When darktrace-activate-respond-action runs
    Then the read-back decides: the action is reported active.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    requests_mock.post(f'{BASE}/antigena', json={})
    requests_mock.get(f'{BASE}/antigena', json=_after_change(respond_actions(), 5001, active=True))
    result = Darktrace.activate_respond_action_command(client, {'codeid': '5001', 'reason': 'go'})
    assert result.outputs['state'] == 'active'


def test_respond_other_errors_pass_through(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that answers 404 for an unknown action
    When darktrace-activate-respond-action runs
    Then the usual not-found error comes back unchanged.
    """
    requests_mock.post(f'{BASE}/antigena', status_code=404, json={'error': 'Action 1 not found'})
    with pytest.raises(DarktraceApiError, match='found nothing for POST /antigena') as raised:
        Darktrace.activate_respond_action_command(client, {'codeid': '1', 'reason': 'x'})
    assert raised.value.kind == 'not_found'


# Its commands run on recorded-shape replies (RECORDED_GET_REPLIES) by the table sweep below.
RESPOND_TABLE_RUNS = [
    ('darktrace-list-respond-actions', {'include_cleared': 'true'}),
    ('darktrace-activate-respond-action', {'codeid': '5001', 'reason': 'Confirmed by the analyst'}),
    ('darktrace-extend-respond-action', {'codeid': '5003', 'duration': '7 days', 'reason': 'Still compromised'}),
    ('darktrace-clear-respond-action', {'codeid': '5002', 'reason': 'False positive'}),
    ('darktrace-reactivate-respond-action', {'codeid': '5004', 'duration': '2 hours', 'reason': 'Seen again'}),
    ('darktrace-create-respond-action', {'did': '34', 'action': 'connection', 'duration': '1 hour',
                                         'reason': 'Beaconing', 'connections': '10.0.0.5>203.0.113.9:443'}),
]


# --- fetch --------------------------------------------------------------------------------------------

def drain(appliance: FakeAppliance, fetch_settings: FetchSettings, now: int = NOW_MS,
          runs: int = 500) -> list[dict[str, Any]]:
    last_run: dict[str, Any] = {}
    incidents: list[dict[str, Any]] = []
    for _ in range(runs):
        last_run, new = fetch_incidents(appliance, last_run, fetch_settings, now)
        json.dumps(last_run)
        incidents.extend(new)
        if not new and last_run['start_ms'] >= now - Darktrace.SETTLE_MS:
            return incidents
    raise AssertionError(f'fetch did not catch up within {runs} runs')


@pytest.mark.parametrize('order', ['asc', 'desc'])
@pytest.mark.parametrize('inclusive', [True, False])
def test_fetch_delivers_ties_across_runs_exactly_once(order: str, inclusive: bool) -> None:
    """
    Given 120 breaches sharing three milliseconds and max_alerts 50, in either reply order and bound semantics
    When fetch runs until drained
    Then every breach is delivered exactly once, oldest first.
    """
    base = NOW_MS - 10 * HOUR_MS
    breaches = [make_breach(1000 + i, base + (i % 3)) for i in range(120)]
    incidents = drain(FakeAppliance(breaches, order=order, inclusive=inclusive), settings())
    pbids = [int(i['dbotMirrorId']) for i in incidents]
    assert sorted(pbids) == sorted(b['pbid'] for b in breaches)
    assert len(pbids) == len(set(pbids))


def test_fetch_sends_milliseconds_and_a_bounded_window_from_the_first_fetch() -> None:
    """
    Given a first fetch 24 hours ago
    When the first fetch runs
    Then starttime/endtime are epoch milliseconds, the window is bounded, and creationTime is the filter.
    """
    appliance = FakeAppliance([])
    fetch_incidents(appliance, {}, settings(min_score=50, include_acknowledged=False), NOW_MS)
    first = appliance.requests[0]
    assert first['starttime'] == NOW_MS - 24 * HOUR_MS - 1
    assert first['endtime'] == NOW_MS - 23 * HOUR_MS
    assert first['creationtime'] is True and first['includebreachurl'] is True
    assert first['minscore'] == '0.5' and first['includeacknowledged'] is False
    assert 'count' not in first


def test_fetch_makes_at_most_three_requests_and_widens_empty_windows() -> None:
    """
    Given an empty appliance and a first fetch a week ago
    When one fetch runs
    Then it makes at most three requests, each window twice the last.
    """
    appliance = FakeAppliance([])
    next_run, incidents = fetch_incidents(appliance, {}, settings(first_fetch_ms=NOW_MS - 7 * 24 * HOUR_MS), NOW_MS)
    widths = [r['endtime'] - r['starttime'] - 1 for r in appliance.requests]
    assert incidents == [] and len(appliance.requests) == 3
    assert widths == [HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS]
    assert next_run['start_ms'] == NOW_MS - 7 * 24 * HOUR_MS + 7 * HOUR_MS


def test_fetch_narrows_a_window_holding_far_more_than_max_alerts() -> None:
    """
    Given 1,000 breaches within one hour and max_alerts 10
    When one fetch runs
    Then 10 incidents come out and the next window is narrowed in proportion.
    """
    base = NOW_MS - 20 * HOUR_MS
    breaches = [make_breach(i, base + i * 3000) for i in range(1000)]
    next_run, incidents = fetch_incidents(FakeAppliance(breaches), {'start_ms': base, 'window_ms': HOUR_MS},
                                          settings(max_alerts=10), NOW_MS)
    assert len(incidents) == 10
    assert next_run['window_ms'] < HOUR_MS // 10


def test_fetch_delivers_a_breach_created_hours_after_its_activity() -> None:
    """
    Given a breach whose activity time was long before the cursor but which was created after it
    When fetch runs
    Then it is delivered once, with occurred taken from its activity time.
    """
    late = make_breach(77, creation_ms=NOW_MS - 2 * HOUR_MS, time_ms=NOW_MS - 9 * HOUR_MS)
    appliance = FakeAppliance([late])
    incidents = drain(appliance, settings(first_fetch_ms=NOW_MS - 3 * HOUR_MS))
    assert [i['dbotMirrorId'] for i in incidents] == ['77']
    assert incidents[0]['occurred'] == ms_to_iso(NOW_MS - 9 * HOUR_MS)


def test_fetch_near_now_advances_only_past_what_it_saw() -> None:
    """
    Given a breach created a minute ago and another that the appliance records later in the same unsettled window
    When fetch runs, then runs again after the second appears
    Then both are delivered, once each.
    """
    first = make_breach(1, NOW_MS - 60_000)
    appliance = FakeAppliance([first])
    next_run, incidents = fetch_incidents(appliance, {'start_ms': NOW_MS - 10 * 60_000}, settings(), NOW_MS)
    assert [i['dbotMirrorId'] for i in incidents] == ['1']
    assert next_run['start_ms'] == first['creationTime']
    appliance.breaches.append(make_breach(2, NOW_MS - 30_000))
    next_run, incidents = fetch_incidents(appliance, next_run, settings(), NOW_MS + 60_000)
    assert [i['dbotMirrorId'] for i in incidents] == ['2']


def test_fetch_failure_raises_and_keeps_nothing_half_done() -> None:
    """
    Given the appliance fails on the second request of a run
    When fetch runs
    Then the run raises after that request, so the platform keeps the previous lastRun and nothing is lost.
    """
    appliance = FakeAppliance([])
    appliance.fail_on_request = 2
    with pytest.raises(DarktraceApiError):
        fetch_incidents(appliance, {}, settings(first_fetch_ms=NOW_MS - 7 * 24 * HOUR_MS), NOW_MS)
    assert len(appliance.requests) == 2


def test_fetch_reads_every_documented_time_form_text_pbids_and_odd_fields() -> None:
    """
    Given breaches whose creationTime is epoch ms, a digit string or 'YYYY-MM-DD HH:MM:SS' UTC text, one pbid sent as
    text among numbers, and one breach whose model and device are plain text and whose score is text
    When fetch runs until drained, three breaches per run
    Then every breach becomes exactly one incident, the cursor stores pbids as numbers, and no run fails.
    """
    base = NOW_MS - 10 * HOUR_MS
    breaches = [make_breach(1001, base), make_breach(1002, base + 1000), make_breach(1003, base + 2000),
                make_breach(1004, base + 3000), make_breach(1005, base + 3000)]
    breaches[1]['creationTime'] = str(base + 1000)
    breaches[2]['creationTime'] = breaches[2]['time'] = datetime.fromtimestamp(
        (base + 2000) / 1000, tz=timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
    breaches[3]['pbid'] = '1004'
    breaches[4].update(model='Anomalous Connection::Data Sent', device='ws-17', score='0.95')
    last_run: dict[str, Any] = {}
    delivered: list[str] = []
    for _ in range(5):
        last_run, incidents = fetch_incidents(FakeAppliance(breaches), last_run, settings(max_alerts=3), NOW_MS)
        assert all(isinstance(pbid, int) for pbid in last_run['seen_pbids'])
        delivered += [incident['dbotMirrorId'] for incident in incidents]
    assert sorted(delivered) == ['1001', '1002', '1003', '1004', '1005']
    odd = Darktrace.breach_to_incident(breaches[4])
    assert odd['severity'] == IncidentSeverity.MEDIUM and odd['name'].startswith('Darktrace Model Breach 1005')


def test_fetch_delivers_a_breach_without_times_once_and_never_blocks_the_others() -> None:
    """
    Given a window whose reply holds a breach with no readable time before breaches that have one
    When fetch runs, then runs again over the same reply (the window is read again)
    Then the first run delivers it with the others, and the second does not deliver it again.
    """
    timeless = make_breach(500, NOW_MS - 5 * HOUR_MS)
    timeless['creationTime'], timeless['time'] = None, 'not a time'
    appliance = FakeAppliance([])
    appliance.reply = [timeless] + [make_breach(600 + i, NOW_MS - 5 * HOUR_MS + i) for i in range(3)]
    state = {'start_ms': NOW_MS - 6 * HOUR_MS, 'window_ms': 2 * HOUR_MS}
    next_run, incidents = fetch_incidents(appliance, state, settings(max_alerts=10), NOW_MS)
    assert [i['dbotMirrorId'] for i in incidents] == ['500', '600', '601', '602']
    assert next_run['unplaced_pbids'] == [500]
    _, again = fetch_incidents(appliance, {**state, 'unplaced_pbids': next_run['unplaced_pbids']},
                               settings(max_alerts=10), NOW_MS)
    assert '500' not in [i['dbotMirrorId'] for i in again]


def test_fetch_logs_a_breach_without_pbid_instead_of_making_an_incident(mocker: Any) -> None:
    """
    Given a reply holding a breach without a pbid, and an entry that is not an object
    When fetch runs
    Then neither becomes an incident, and each is logged once with what finds it in Darktrace.
    """
    nameless = make_breach(1, NOW_MS - 5 * HOUR_MS)
    del nameless['pbid']
    appliance = FakeAppliance([])
    appliance.reply = [nameless, 42, make_breach(2, NOW_MS - 5 * HOUR_MS + 1)]
    logged = mocker.patch.object(demisto, 'error')
    _, incidents = fetch_incidents(appliance, {'start_ms': NOW_MS - 6 * HOUR_MS, 'window_ms': 2 * HOUR_MS},
                                   settings(), NOW_MS)
    assert [i['dbotMirrorId'] for i in incidents] == ['2']
    assert all('None' not in i['name'] for i in incidents)
    messages = [call.args[0] for call in logged.call_args_list]
    assert len(messages) == 2
    assert 'without a usable pbid' in messages[0] and 'Compromise::Watched Domain' in messages[0] \
        and 'ws1' in messages[0] and 'did 1417' in messages[0]
    assert 'not an object' in messages[1] and 'the number 42' in messages[1]


@pytest.mark.parametrize('reply, described', [({}, 'an empty object'), (42, 'the number 42'),
                                              ({'error': None, 'a': 1}, 'an object'), ('[]', 'the text "[]"')])
def test_fetch_fails_on_a_reply_that_is_not_a_list(client: Client, requests_mock: Any, reply: Any,
                                                   described: str) -> None:
    """
    Given /modelbreaches answering something other than a list
    When fetch runs
    Then the run fails naming the endpoint and what came back, so the platform keeps the previous lastRun.
    """
    requests_mock.get(f'{BASE}/modelbreaches', json=reply)
    with pytest.raises(DarktraceApiError) as raised:
        fetch_incidents(client, {'start_ms': NOW_MS - 6 * HOUR_MS}, settings(), NOW_MS)
    assert str(raised.value).startswith(f'Darktrace answered GET /modelbreaches with {described} where a list was '
                                        'expected')


def test_fetch_narrows_and_asks_again_when_a_reply_is_over_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given a window whose breaches are more bytes than a fetch reply may hold
    When one fetch runs
    Then it asks again within the run for a window NARROWING_FACTOR times narrower, and delivers from it.
    """
    base = NOW_MS - 20 * HOUR_MS
    appliance = FakeAppliance([make_breach(i, base + i * 60_000) for i in range(1, 500)])
    monkeypatch.setattr(Darktrace, 'FETCH_MAX_REPLY_BYTES', 60_000)
    next_run, incidents = fetch_incidents(appliance, {'start_ms': base, 'window_ms': 8 * HOUR_MS},
                                          settings(max_alerts=10), NOW_MS)
    widths = [r['endtime'] - r['starttime'] - 1 for r in appliance.requests]
    assert widths[:2] == [8 * HOUR_MS, HOUR_MS] and len(appliance.requests) == Darktrace.MAX_REQUESTS_PER_RUN
    assert incidents and next_run['start_ms'] > base and max(appliance.reply_sizes) <= 60_001


def drain_runs(appliance: FakeAppliance, fetch_settings: FetchSettings, runs: int,
               now_ms: int = NOW_MS) -> tuple[dict[str, Any], list[list[str]], list[int]]:
    """Fetch `runs` times (each must succeed and accept the lastRun the previous one wrote): the last lastRun, the
    ids each run delivered, and the bytes each run read (as far as the client read each reply, records read one by
    one included)."""
    last_run: dict[str, Any] = {}
    delivered, read = [], []
    for _ in range(runs):
        read_before = appliance.read_bytes
        last_run, incidents = fetch_incidents(appliance, last_run, fetch_settings, now_ms)
        json.dumps(last_run)
        delivered.append(ids_of(incidents))
        read.append(appliance.read_bytes - read_before)
    return last_run, delivered, read


@pytest.mark.parametrize('spread_ms', [1, 1000])
def test_fetch_delivers_a_burst_of_breaches_in_one_millisecond_or_second_exactly_once(spread_ms: int) -> None:
    """
    Given 5,000 breaches created in one millisecond (or spread over one second), several times more bytes than a
    fetch reply may hold even at the narrowest window
    When fetch runs with max_alerts 50
    Then no run fails or stalls: once the window has narrowed to a second, the dense second is listed by pbid and
    creation time and read 50 at a time, so every breach is delivered exactly once, in runs of 50, the later breach
    after it, and no run reads more than 2,000,000 bytes.
    """
    burst_ms = NOW_MS - 20 * HOUR_MS
    breaches = [make_breach(pbid, burst_ms + pbid % spread_ms) for pbid in range(1, 5001)]
    breaches.append(make_breach(5001, burst_ms + 5 * 60_000))
    appliance = FakeAppliance(breaches)
    _, delivered, read = drain_runs(appliance, settings(max_alerts=50), 120)
    every = [pbid for run in delivered for pbid in run]
    assert sorted(every, key=int) == [str(pbid) for pbid in range(1, 5002)] and every[-1] == '5001'
    assert [len(run) for run in delivered if run] == [50] * 100 + [1]  # the first runs narrow the window
    assert max(read) <= Darktrace.FETCH_MAX_RUN_BYTES == 2_000_000 and appliance.record_reads == 5000
    assert any(request.get('responsedata') == 'pbid,creationTime' for request in appliance.requests)


def test_fetch_reads_a_dense_second_at_most_once_a_run_and_in_batches() -> None:
    """
    Given 1,200 breaches created in one millisecond and max_alerts 1000
    When fetch runs
    Then each run lists the dense millisecond once and reads at most DENSE_BATCH_LIMIT breaches one by one, at most
    2,000,000 bytes in all, until all are delivered once.
    """
    burst_ms = NOW_MS - 20 * HOUR_MS
    appliance = FakeAppliance([make_breach(pbid, burst_ms) for pbid in range(1, 1201)])
    _, delivered, read = drain_runs(appliance, settings(max_alerts=1000), 16)
    assert [len(run) for run in delivered if run] == [Darktrace.DENSE_BATCH_LIMIT] * 6
    assert len({pbid for run in delivered for pbid in run}) == 1200 and max(read) <= Darktrace.FETCH_MAX_RUN_BYTES
    listings = [request for request in appliance.requests if request.get('responsedata')]
    assert len(listings) == 6


@pytest.mark.parametrize('breaches, events', [(True, False), (False, True), (True, True)],
                         ids=['breaches', 'ai-analyst', 'both'])
def test_no_fetch_run_reads_more_than_its_budget_while_narrowing_onto_a_dense_second(breaches: bool,
                                                                                      events: bool) -> None:
    """
    Given 700 breaches and 700 AI Analyst events created in one millisecond (each more bytes than a fetch reply may
    hold) and a cursor whose window starts 64 seconds wide
    When fetch drains them with max_alerts 50
    Then every record is delivered once and no run reads more than FETCH_MAX_RUN_BYTES: a run stops narrowing when
    another reply over the cap could pass it, and the next run goes on from the narrower window.
    """
    sources = tuple(source for source, chosen in ((Darktrace.FETCH_SOURCE_BREACHES, breaches),
                                                  (Darktrace.FETCH_SOURCE_AI_ANALYST, events)) if chosen)
    burst_ms = NOW_MS - 20 * HOUR_MS
    appliance = FakeAppliance([make_breach(pbid, burst_ms) for pbid in range(1, 701)],
                              [make_event(number, burst_ms) for number in range(700)])
    last_run: dict[str, Any] = {'start_ms': burst_ms - 1, 'window_ms': 64_000,
                                'ai_analyst': {'start_ms': burst_ms - 1, 'window_ms': 64_000}}
    delivered, read = [], []
    for _ in range(40):
        read_before = appliance.read_bytes
        last_run, incidents = fetch_incidents(appliance, last_run, settings(max_alerts=50, sources=sources), NOW_MS)
        delivered += ids_of(incidents)
        read.append(appliance.read_bytes - read_before)
    expected = 700 * (breaches + events)
    assert len(delivered) == len(set(delivered)) == expected
    assert max(read) <= Darktrace.FETCH_MAX_RUN_BYTES


def test_ai_fetch_delivers_a_tie_larger_than_every_cap_exactly_once() -> None:
    """
    Given 3,000 AI Analyst events created in one millisecond (more than the ids the cursor remembers, and more
    bytes than a fetch reply may hold), and an event a minute later
    When fetch runs with max_alerts 50
    Then every run accepts the lastRun the previous one wrote, the tie is listed by id and read 50 at a time, every
    event is delivered exactly once in runs of 50 and no run reads 2,000,000 bytes.
    """
    tie_ms = NOW_MS - 20 * HOUR_MS
    events = [make_event(number, tie_ms) for number in range(3000)] + [make_event(3000, tie_ms + 60_000)]
    appliance = FakeAppliance([], events)
    last_run, delivered, read = drain_runs(appliance, settings(max_alerts=50, sources=AI_ONLY), 70)
    every = [event_id for run in delivered for event_id in run]
    assert sorted(every) == sorted(e['id'] for e in events) and every[-1] == 'ev-03000'
    assert [len(run) for run in delivered if run] == [50] * 60 + [1] and max(read) <= Darktrace.FETCH_MAX_RUN_BYTES
    assert len(last_run['ai_analyst']['seen_ids']) <= Darktrace.MAX_AI_ANALYST_SEEN_IDS


def test_ai_fetch_narrows_a_window_over_its_cap() -> None:
    """
    Given AI Analyst events one every 10 seconds, more bytes in an 8-hour window than a fetch reply may hold
    When one fetch runs from a window of 8 hours
    Then it asks again within the run for a window NARROWING_FACTOR times narrower, and delivers from it.
    """
    base = NOW_MS - 20 * HOUR_MS
    appliance = FakeAppliance([], [make_event(i, base + i * 10_000) for i in range(3000)])
    last_run = {'ai_analyst': {'start_ms': base, 'window_ms': 8 * HOUR_MS}}
    next_run, incidents = fetch_incidents(appliance, last_run, settings(max_alerts=10, sources=AI_ONLY), NOW_MS)
    widths = [r['endtime'] - r['starttime'] - 1 for r in appliance.event_requests]
    assert widths[:2] == [8 * HOUR_MS, HOUR_MS] and len(incidents) == 10
    assert max(appliance.event_reply_sizes) <= Darktrace.FETCH_MAX_REPLY_BYTES + 1


@pytest.mark.parametrize('state, field', [
    ({'start_ms': 'abc'}, 'start_ms'), ({'start_ms': float('nan')}, 'start_ms'), ({'start_ms': -5}, 'start_ms'),
    ({'start_ms': True}, 'start_ms'), ({'start_ms': None}, 'start_ms'), ({'window_ms': 'wide'}, 'window_ms'),
    ({'window_ms': -1}, 'window_ms'), ({'seen_pbids': 5}, 'seen_pbids'), ({'seen_pbids': ['x']}, 'seen_pbids'),
    ({'unplaced_pbids': {}}, 'unplaced_pbids'), ({'first_fetch_ms': 'soon'}, 'first_fetch_ms'),
])
def test_fetch_refuses_damaged_state_naming_the_field(state: dict, field: str) -> None:
    """
    Given a lastRun with a value that cannot be repaired without losing or duplicating breaches
    When fetch runs
    Then it fails before any request, naming the field and saying how to reset the instance's last run.
    """
    appliance = FakeAppliance([])
    with pytest.raises(ValueError) as raised:
        fetch_incidents(appliance, {'start_ms': NOW_MS - HOUR_MS, **state}, settings(), NOW_MS)
    assert f'{field} is ' in str(raised.value) and 'Reset the \'last run\' timestamp' in str(raised.value)
    assert appliance.requests == []


@pytest.mark.parametrize('state, field', [
    ({'start_ms': NOW_MS + 31 * 60_000}, 'start_ms'),
    ({'start_ms': NOW_MS - HOUR_MS, 'first_fetch_ms': NOW_MS + 2 * HOUR_MS}, 'first_fetch_ms'),
])
def test_fetch_refuses_a_stored_start_in_the_future(state: dict, field: str) -> None:
    """
    Given a lastRun dated more than the allowed 30-minute clock skew after this machine's clock
    When fetch runs
    Then it fails before any request, naming the field and the reset, instead of silently skipping ahead.
    """
    appliance = FakeAppliance([])
    with pytest.raises(ValueError) as raised:
        fetch_incidents(appliance, state, settings(), NOW_MS)
    assert f'({field})' in str(raised.value) and 'clock moved back' in str(raised.value)
    assert 'Reset the \'last run\' timestamp' in str(raised.value) and appliance.requests == []


def test_fetch_repairs_what_loses_nothing(mocker: Any) -> None:
    """
    Given a lastRun whose window is 0 and, separately, one whose start is 0 (an edited instance)
    When fetch runs
    Then the window is raised to its bound and the start moved up to the first fetch time, each repair logged,
    and breaches waiting there are delivered.
    """
    first_fetch = NOW_MS - 10 * HOUR_MS - HOUR_MS // 2
    appliance = FakeAppliance([make_breach(7, NOW_MS - 10 * HOUR_MS)])
    info = mocker.patch.object(demisto, 'info')
    next_run, incidents = fetch_incidents(appliance, {'start_ms': NOW_MS - 10 * HOUR_MS - 500, 'window_ms': 0},
                                          settings(first_fetch_ms=first_fetch), NOW_MS)
    assert [i['dbotMirrorId'] for i in incidents] == ['7'] and next_run['window_ms'] >= Darktrace.MIN_WINDOW_MS
    appliance.requests.clear()
    _, incidents = fetch_incidents(appliance, {'start_ms': 0}, settings(first_fetch_ms=first_fetch), NOW_MS)
    assert appliance.requests[0]['starttime'] == first_fetch - 1 and [i['dbotMirrorId'] for i in incidents] == ['7']
    assert len(info.call_args_list) == 2


def test_fetch_keeps_a_legacy_start_that_fell_behind_the_first_fetch_time() -> None:
    """
    Given a lastRun stored without its first fetch time, whose start is older than today's relative first fetch time
    (fetching was down for days)
    When fetch runs
    Then it continues from that start, so nothing created while it was down is skipped.
    """
    appliance = FakeAppliance([make_breach(8, NOW_MS - 100 * HOUR_MS)])
    next_run, incidents = fetch_incidents(appliance, {'start_ms': NOW_MS - 101 * HOUR_MS},
                                          settings(first_fetch_ms=NOW_MS - 72 * HOUR_MS), NOW_MS)
    assert [i['dbotMirrorId'] for i in incidents] == ['8']
    assert next_run['first_fetch_ms'] == NOW_MS - 101 * HOUR_MS


def test_incident_shape() -> None:
    """
    Given a critical breach
    When it becomes an incident
    Then name, occurred (from time), severity, details, rawJSON and dbotMirrorId follow the documented rules,
    and rawJSON is the breach as the API returned it plus the record kind the pack's classifier reads.
    """
    breach = load('model_breaches.json')[0]
    incident = Darktrace.breach_to_incident(breach)
    assert incident['name'] == 'Darktrace Model Breach 30960: Compromise::Watched Domain'
    assert incident['occurred'] == '2023-01-24T01:04:25.000Z'
    assert incident['severity'] == IncidentSeverity.HIGH
    assert 'Compromise::Watched Domain was triggered.' in incident['details'] and 'ws1' in incident['details']
    assert json.loads(incident['rawJSON']) == {**breach, 'darktraceRecordKind': 'Model Breach'}
    assert 'darktraceRecordKind' not in breach, 'the fetched record itself must stay unchanged'
    assert incident['dbotMirrorId'] == '30960'


@pytest.mark.parametrize('category, priority, score, severity', [
    ('Critical', 5, 0.9, IncidentSeverity.CRITICAL), ('Critical', 5, 0.5, IncidentSeverity.HIGH),
    ('Suspicious', 4, 0.8, IncidentSeverity.HIGH), ('Suspicious', 4, 0.1, IncidentSeverity.MEDIUM),
    ('Compliance', 2, 0.95, IncidentSeverity.MEDIUM), ('Compliance', 1, 0.3, IncidentSeverity.LOW),
    ('Informational', 0, 0.2, IncidentSeverity.LOW), ('', 5, 0.2, IncidentSeverity.HIGH),
])
def test_breach_severity_mapping(category: str, priority: int, score: float, severity: float) -> None:
    """
    Given a breach's model category, priority and score
    When its severity is computed
    Then it follows the documented table.
    """
    breach = {'score': score, 'model': {'then': {'category': category, 'priority': priority}}}
    assert Darktrace.breach_severity(breach) == severity


@pytest.mark.parametrize('params, fragment', [
    ({'min_score': '101'}, 'from 0 to 100'),
    ({'min_score': 'high'}, 'from 0 to 100'),
    ({'max_alerts': '0'}, 'from 1 to 1000'),
    ({'max_alerts': '1001'}, 'from 1 to 1000'),
    ({'first_fetch': 'soonish'}, '"3 days"'),
    ({'include_acknowledged': 'perhaps'}, 'true or false'),
])
def test_fetch_settings_refuse_bad_parameters(params: dict, fragment: str) -> None:
    """
    Given a fetch parameter outside what is accepted
    When the fetch settings are read
    Then a clear error names the parameter, never a silent cap.
    """
    with pytest.raises(ValueError, match=fragment.replace('(', r'\(').replace(')', r'\)')):
        FetchSettings.from_params(params, NOW_MS)


@pytest.mark.parametrize('first_fetch, expected_ms', [
    ('1600063200', 1600063200000),
    ('1600063200000', 1600063200000),
    ('2020-09-14T06:00:00Z', 1600063200000),
    ('2020-09-14', 1600041600000),
])
def test_first_fetch_absolute_forms(first_fetch: str, expected_ms: int) -> None:
    """
    Given first_fetch as epoch seconds, epoch milliseconds, an ISO date-time or an ISO date
    When the fetch settings are read
    Then the start is that moment in epoch milliseconds.
    """
    assert FetchSettings.from_params({'first_fetch': first_fetch}, NOW_MS).first_fetch_ms == expected_ms


def test_first_fetch_relative_form_counts_back_from_the_clock() -> None:
    """
    Given first_fetch "3 days"
    When the fetch settings are read with a clock a year ahead of the real one
    Then the start is three days before that clock (the one clock given), in epoch milliseconds.
    """
    now = Darktrace.now_ms() + 365 * 24 * HOUR_MS
    result = FetchSettings.from_params({'first_fetch': '3 days'}, now)
    assert abs(result.first_fetch_ms - (now - 3 * 24 * HOUR_MS)) <= 1


def test_first_fetch_in_the_future_is_refused() -> None:
    """
    Given a first fetch time later than now, as an ISO time or as epoch seconds or milliseconds
    When the fetch settings are read
    Then it is refused, naming the parameter, instead of silently skipping every breach until then.
    """
    for first_fetch in ('2999-01-01T00:00:00Z', str(NOW_MS // 1000 + 3600), str(NOW_MS + 3_600_000)):
        with pytest.raises(ValueError, match=r'"First fetch time" \(first_fetch\).*is in the future'):
            FetchSettings.from_params({'first_fetch': first_fetch}, NOW_MS)


def test_fetch_settings_defaults() -> None:
    """
    Given no fetch parameters
    When the fetch settings are read
    Then max_alerts is 50, acknowledged breaches are included, and the first fetch is in the past.
    """
    result = FetchSettings.from_params({}, NOW_MS)
    assert result.max_alerts == 50 and result.include_acknowledged is True and result.min_score == 0
    assert result.first_fetch_ms <= NOW_MS


LOOKBACK_MS = Darktrace.AI_ANALYST_LOOKBACK_MS
SWEEP_STEP_MS = Darktrace.AI_ANALYST_SWEEP_STEP_MS


BOTH_SOURCES = (Darktrace.FETCH_SOURCE_BREACHES, Darktrace.FETCH_SOURCE_AI_ANALYST)


AI_ONLY = (Darktrace.FETCH_SOURCE_AI_ANALYST,)


def make_event(number: int, created_ms: int, activity_end_ms: int | None = None, score: float = 50.0,
               **fields: Any) -> dict[str, Any]:
    template = load('ai_analyst_events.json')[0]
    end = created_ms if activity_end_ms is None else activity_end_ms
    return {**template, 'id': f'ev-{number:05d}', 'createdAt': created_ms, 'aiaScore': score,
            'periods': [{'start': end - HOUR_MS, 'end': end}], **fields}


def drain_both(appliance: FakeAppliance, fetch_settings: FetchSettings, last_run: dict[str, Any] | None = None,
               runs: int = 500, now_ms: int = NOW_MS) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    last_run = dict(last_run or {})
    incidents: list[dict[str, Any]] = []
    quiet = 0
    for _ in range(runs):
        last_run, new = fetch_incidents(appliance, last_run, fetch_settings, now_ms)
        json.dumps(last_run)
        incidents.extend(new)
        quiet = 0 if new else quiet + 1  # twice: a sweep falls due on the run after the cursor reaches now
        if quiet >= 2 and last_run.get('ai_analyst', {}).get('start_ms', now_ms) >= now_ms \
                and last_run.get('start_ms', now_ms) >= now_ms - Darktrace.SETTLE_MS:
            return last_run, incidents
    raise AssertionError(f'fetch did not catch up within {runs} runs')


def ids_of(incidents: list[dict[str, Any]]) -> list[str]:
    return [incident['dbotMirrorId'] for incident in incidents]


@pytest.mark.parametrize('time_filter', ['created', 'periods'])
@pytest.mark.parametrize('inclusive', [True, False])
def test_ai_fetch_delivers_ties_and_late_events_exactly_once(time_filter: str, inclusive: bool) -> None:
    """
    Given 90 AI Analyst events sharing three milliseconds, one whose activity ended 8 hours before it was created,
    an appliance filtering on createdAt or on activity periods, with inclusive or exclusive bounds, max_alerts 20
    When fetch runs until drained, an hour later (the sweep's step), and two hours later again after an event created
    earlier than the cursor appears late
    Then every event is delivered exactly once, the late one too.
    """
    base = NOW_MS - 10 * HOUR_MS
    events = [make_event(i, base + i % 3) for i in range(90)]
    events.append(make_event(90, NOW_MS - 3 * HOUR_MS, activity_end_ms=NOW_MS - 11 * HOUR_MS))
    appliance = FakeAppliance([], events, time_filter=time_filter, inclusive=inclusive)
    fetch_settings = settings(max_alerts=20, sources=AI_ONLY)
    last_run, incidents = drain_both(appliance, fetch_settings)
    last_run, swept = drain_both(appliance, fetch_settings, last_run, now_ms=NOW_MS + SWEEP_STEP_MS)
    assert sorted(ids_of(incidents + swept)) == sorted(e['id'] for e in events)
    appliance.events.append(make_event(91, NOW_MS - 2 * HOUR_MS))  # created two hours ago, visible only now
    _, late = drain_both(appliance, fetch_settings, last_run, now_ms=NOW_MS + 3 * SWEEP_STEP_MS)
    assert ids_of(late) == ['ev-00091']


def test_ai_fetch_request_sends_its_window_and_the_ai_score_scale() -> None:
    """
    Given a first AI Analyst fetch 24 hours ago with a minimum AI Analyst score of 40, acknowledged events left out
    When the first fetch runs
    Then the window starts at the first fetch time (the look-back is left to the sweep), in epoch ms, and minscore
    is sent as 40 (AI Analyst scores are 0..100), with the event link asked for.
    """
    appliance = FakeAppliance([], [])
    fetch_incidents(appliance, {}, settings(sources=AI_ONLY, ai_analyst_min_score=40, include_acknowledged=False),
                    NOW_MS)
    first = appliance.event_requests[0]
    assert first == {'starttime': NOW_MS - 24 * HOUR_MS - 1, 'endtime': NOW_MS - 23 * HOUR_MS,
                     'minscore': '40', 'includeacknowledged': False, 'includeincidenteventurl': True}
    assert appliance.requests == [] and len(appliance.event_requests) == 3


def test_ai_fetch_leaves_out_events_created_before_the_first_fetch() -> None:
    """
    Given an event created an hour before the first fetch time, found by the look-back
    When fetch drains the appliance
    Then only the event created after the first fetch time is delivered.
    """
    events = [make_event(1, NOW_MS - 25 * HOUR_MS), make_event(2, NOW_MS - 23 * HOUR_MS)]
    _, incidents = drain_both(FakeAppliance([], events), settings(sources=AI_ONLY))
    assert ids_of(incidents) == ['ev-00002']


def test_ai_fetch_places_an_event_without_created_at_by_its_activity(mocker: Any) -> None:
    """
    Given an event without createdAt (fields are often missing) whose activity ended two hours ago, one with
    neither createdAt nor periods, and items that are not events (no id, not an object)
    When fetch drains the appliance
    Then the first is delivered once, placed by the end of its activity, the second is logged as not fetchable,
    and the rest are ignored.
    """
    dated = {**make_event(1, NOW_MS - 2 * HOUR_MS), 'createdAt': None}
    undated = {'id': 'ev-undated', 'title': 'No times'}
    appliance = FakeAppliance([], [])
    # Whatever the window; the reply also holds what is not an event at all.
    appliance.get_ai_analyst_incident_events = lambda params, **_: [dated, undated, 'junk', {'title': 'no id'}]
    debug = mocker.patch.object(demisto, 'debug')
    _, incidents = drain_both(appliance, settings(sources=AI_ONLY))
    assert ids_of(incidents) == ['ev-00001']
    assert any('ev-undated' in str(call.args[0]) for call in debug.call_args_list)


def test_fetch_with_both_sources_shares_max_alerts() -> None:
    """
    Given 100 breaches and 100 AI Analyst events waiting, and max_alerts 10
    When one fetch runs with both sources, and later runs once the breaches are drained
    Then the first run delivers 5 of each, and once one source has nothing left the other gets all 10.
    """
    base = NOW_MS - 20 * HOUR_MS
    breaches = [make_breach(i, base + i * 60_000) for i in range(1, 101)]
    events = [make_event(i, base + i * 60_000) for i in range(1, 101)]
    appliance = FakeAppliance(breaches, events)
    fetch_settings = settings(max_alerts=10, sources=BOTH_SOURCES)
    last_run, incidents = fetch_incidents(appliance, {}, fetch_settings, NOW_MS)
    assert sorted(ids_of(incidents)) == sorted([str(i) for i in range(1, 6)] + [f'ev-{i:05d}' for i in range(1, 6)])
    appliance.breaches.clear()
    counts = []
    for _ in range(5):
        last_run, incidents = fetch_incidents(appliance, last_run, fetch_settings, NOW_MS)
        counts.append(len(incidents))
    assert counts[-3:] == [10, 10, 10]


@pytest.mark.parametrize('max_alerts', [1, 2, 3])
def test_fetch_with_both_sources_never_lets_one_wait_behind_the_other(max_alerts: int) -> None:
    """
    Given backlogs of breaches and AI Analyst events, the events' cursor nearer now
    When fetch runs 20 times with max_alerts 1, 2 or 3
    Then neither source waits more than 2 runs for its next incident (with max_alerts 1 they take turns).
    """
    base = NOW_MS - 20 * HOUR_MS
    appliance = FakeAppliance([make_breach(i, base + i * 60_000) for i in range(1, 101)],
                              [make_event(i, base + HOUR_MS + i * 60_000) for i in range(1, 101)])
    _, delivered, _ = drain_runs(appliance, settings(max_alerts=max_alerts, sources=BOTH_SOURCES), 20)
    for is_event in (False, True):
        served = [run for run, ids in enumerate(delivered) if any(i.startswith('ev-') == is_event for i in ids)]
        assert served[0] <= 1 and max(b - a for a, b in zip(served, served[1:])) <= 2


def test_switching_ai_analyst_on_keeps_the_breach_cursor() -> None:
    """
    Given an instance whose lastRun holds a model-breach cursor from before AI Analyst incidents existed
    When AI Analyst incidents are switched on beside model breaches, and when breaches are switched off
    Then the breach fetch continues from its cursor, the AI Analyst cursor is added beside it under "ai_analyst",
    and a source switched off keeps its cursor as it was.
    """
    old_cursor = {'start_ms': NOW_MS - 5 * HOUR_MS, 'seen_pbids': [7], 'window_ms': 2 * HOUR_MS}
    appliance = FakeAppliance([make_breach(8, NOW_MS - 4 * HOUR_MS)], [make_event(1, NOW_MS - 23 * HOUR_MS)])
    next_run, incidents = fetch_incidents(appliance, dict(old_cursor), settings(sources=BOTH_SOURCES), NOW_MS)
    assert appliance.requests[0]['starttime'] == old_cursor['start_ms'] - 1
    assert sorted(ids_of(incidents)) == ['8', 'ev-00001']
    assert set(next_run) == {'start_ms', 'seen_pbids', 'window_ms', 'first_fetch_ms', 'ai_analyst'}
    only_ai_run, _ = fetch_incidents(appliance, dict(old_cursor), settings(sources=AI_ONLY), NOW_MS)
    assert {key: only_ai_run[key] for key in old_cursor} == old_cursor
    only_breach_run, _ = fetch_incidents(appliance, next_run, settings(), NOW_MS)
    assert only_breach_run['ai_analyst'] == next_run['ai_analyst']


def test_ai_fetch_failure_raises_after_at_most_three_requests() -> None:
    """
    Given the appliance fails on the third AI Analyst request of a run
    When fetch runs
    Then the run raises there, so the platform keeps the previous lastRun.
    """
    appliance = FakeAppliance([], [])
    appliance.fail_on_request = 3
    with pytest.raises(DarktraceApiError):
        fetch_incidents(appliance, {}, settings(sources=AI_ONLY, first_fetch_ms=NOW_MS - 7 * 24 * HOUR_MS), NOW_MS)
    assert len(appliance.event_requests) == 3


def test_ai_fetch_bounds_the_remembered_ids() -> None:
    """
    Given more events within the look-back than the cursor may remember
    When fetch drains them, then runs again
    Then lastRun keeps at most MAX_AI_ANALYST_SEEN_IDS ids, its horizon moves past the ones forgotten, and no event
    is delivered twice.
    """
    count = Darktrace.MAX_AI_ANALYST_SEEN_IDS + 300
    events = [make_event(i, NOW_MS - 3 * HOUR_MS + i * 1000) for i in range(count)]
    last_run, incidents = drain_both(FakeAppliance([], events), settings(sources=AI_ONLY, max_alerts=1000))
    cursor = last_run['ai_analyst']
    assert len(cursor['seen_ids']) <= Darktrace.MAX_AI_ANALYST_SEEN_IDS
    assert (cursor['horizon_ms'], cursor['horizon_id']) < min((created, event_id)
                                                              for event_id, created in cursor['seen_ids'].items())
    assert len(ids_of(incidents)) == len(set(ids_of(incidents))) == count


@pytest.mark.parametrize('cursor, field', [
    ('not a cursor', 'ai_analyst'),
    ({'start_ms': 'soon'}, 'ai_analyst.start_ms'),
    ({'start_ms': NOW_MS - HOUR_MS, 'seen_ids': ['a'], 'horizon_ms': NOW_MS - 2 * HOUR_MS}, 'ai_analyst.seen_ids'),
    ({'start_ms': NOW_MS - HOUR_MS, 'seen_ids': {'a': 'x'}, 'horizon_ms': NOW_MS - 2 * HOUR_MS},
     'ai_analyst.seen_ids.a'),
    ({'start_ms': NOW_MS - HOUR_MS, 'seen_ids': {}, 'horizon_ms': NOW_MS}, 'ai_analyst.horizon_ms'),
])
def test_ai_cursor_damaged_parts_never_deliver_twice(cursor: Any, field: str) -> None:
    """
    Given an AI Analyst cursor damaged in lastRun (not an object, no usable start, unusable seen ids or horizon)
    When the cursor is read
    Then it is refused, naming the field and how to reset the last run, as the model-breach cursor is: restarting
    from the first fetch time would deliver incidents again, and dropping the seen ids could skip or repeat some.
    """
    with pytest.raises(ValueError) as raised:
        Darktrace.ai_analyst_cursor(cursor, NOW_MS - 24 * HOUR_MS, NOW_MS)
    assert f'{field} is ' in str(raised.value) and 'Reset the \'last run\' timestamp' in str(raised.value)


def test_ai_incident_shape() -> None:
    """
    Given an AI Analyst event from the appliance without its link
    When it becomes an incident
    Then name (title and device), occurred (earliest activity), severity, details (summary, devices, breaches),
    rawJSON (the event, its built link and the record kind) and dbotMirrorId (the event id) follow the rules.
    """
    event = load('ai_analyst_events.json')[0]
    incident = Darktrace.ai_event_to_incident(event, BASE, mirror_settings(direction='Both'))
    assert incident['name'] == 'Darktrace AI Analyst Incident: Unusual Repeated Connections (ws1)'
    assert incident['occurred'] == ms_to_iso(1674520000000)
    assert incident['severity'] == IncidentSeverity.CRITICAL
    assert incident['details'] == ('The device ws1 made repeated connections to a rare external host.\n\n'
                                   'Devices: ws1 (did 1417, IP 192.168.16.100)\n\n'
                                   'Related model breaches: 30960 (Compromise::Watched Domain)')
    assert json.loads(incident['rawJSON']) == {
        **event, 'incidentEventUrl': f'{BASE}/#aiaincidentevent/{EVENT_ID}',
        'darktraceRecordKind': 'AI Analyst Incident'}
    assert incident['dbotMirrorId'] == EVENT_ID
    assert (incident['dbotMirrorDirection'], incident['dbotMirrorTags']) == ('Both', [MIRROR_TAG])


def test_ai_incident_keeps_the_appliance_link_and_reads_a_structured_summary() -> None:
    """
    Given an event with its link, no periods, and a summary given as an object
    When it becomes an incident
    Then the link is kept, occurred falls back to createdAt, and details render the summary as readable lines.
    """
    event = {'id': 'e1', 'createdAt': 1674600000000, 'title': 'Possible SSL Command and Control',
             'incidentEventUrl': 'https://dt.example/#aiaincidentevent/e1',
             'summary': {'text': 'Beaconing to a rare host.', 'steps': ['Connected', {'port': 443}], 'empty': None}}
    incident = Darktrace.ai_event_to_incident(event, 'https://other.example')
    assert json.loads(incident['rawJSON'])['incidentEventUrl'] == 'https://dt.example/#aiaincidentevent/e1'
    assert incident['occurred'] == ms_to_iso(1674600000000)
    assert incident['details'] == 'text: Beaconing to a rare host.\nsteps:\n  - Connected\n  -\n    port: 443'
    assert incident['name'] == 'Darktrace AI Analyst Incident: Possible SSL Command and Control'
    assert 'dbotMirrorDirection' not in incident


@pytest.mark.parametrize('event, severity', [
    ({'category': 'critical', 'aiaScore': 80}, IncidentSeverity.CRITICAL),
    ({'category': 'critical', 'aiaScore': 79.9}, IncidentSeverity.HIGH),
    ({'category': 'Suspicious', 'aiaScore': '95'}, IncidentSeverity.HIGH),
    ({'category': 'suspicious', 'aiaScore': 10}, IncidentSeverity.MEDIUM),
    ({'category': 'compliance', 'aiaScore': 99}, IncidentSeverity.MEDIUM),
    ({'category': 'informational', 'aiaScore': 20}, IncidentSeverity.LOW),
    ({'groupCategory': 'critical', 'groupScore': 90}, IncidentSeverity.CRITICAL),
    ({}, IncidentSeverity.LOW),
])
def test_ai_event_severity_mapping(event: dict, severity: float) -> None:
    """
    Given an AI Analyst event's category and score (or its incident's, when the event has none)
    When its severity is computed
    Then it follows the documented table.
    """
    assert Darktrace.ai_event_severity(event) == severity


@pytest.mark.parametrize('value, expected', [
    (None, (Darktrace.FETCH_SOURCE_BREACHES,)),
    ('', (Darktrace.FETCH_SOURCE_BREACHES,)),
    (['AI Analyst Incidents'], AI_ONLY),
    ('ai analyst incidents,Model Breaches', BOTH_SOURCES),
    (['Model Breaches', 'AI Analyst Incidents'], BOTH_SOURCES),
])
def test_fetch_sources_parameter(value: Any, expected: tuple) -> None:
    """
    Given the "Fetch" multi-select as a list, as comma-separated text, or not set (an instance from before it)
    When the fetch settings are read
    Then the chosen sources come out in their canonical order, model breaches when none is chosen.
    """
    assert FetchSettings.from_params({'fetch_sources': value}, NOW_MS).sources == expected


@pytest.mark.parametrize('params, fragment', [
    ({'fetch_sources': ['Model Breaches', 'Devices']}, 'Invalid "Fetch" (fetch_sources)="Devices"'),
    ({'ai_analyst_min_score': '0.5x'}, 'Invalid "Minimum AI Analyst Score" (ai_analyst_min_score)="0.5x"'),
    ({'ai_analyst_min_score': '150'}, 'from 0 to 100'),
])
def test_fetch_settings_refuse_bad_ai_analyst_parameters(params: dict, fragment: str) -> None:
    """
    Given an unknown fetch source or an AI Analyst score outside 0 to 100
    When the fetch settings are read
    Then a clear error names the parameter.
    """
    with pytest.raises(ValueError) as raised:
        FetchSettings.from_params(params, NOW_MS)
    assert fragment in str(raised.value)


@pytest.mark.parametrize('last_run, field', [
    ({'start_ms': NOW_MS - HOUR_MS, 'ai_analyst': {'start_ms': 'soon'}}, 'ai_analyst.start_ms'),
    ({'start_ms': NOW_MS - HOUR_MS, 'ai_analyst': {'start_ms': NOW_MS - HOUR_MS, 'seen_ids': {'a': -1}}},
     'ai_analyst.seen_ids.a'),
    ({'start_ms': NOW_MS - HOUR_MS, 'ai_analyst': [NOW_MS]}, 'ai_analyst'),
])
def test_fetch_refuses_a_damaged_ai_cursor_before_any_request(last_run: dict, field: str) -> None:
    """
    Given both sources chosen and a lastRun whose AI Analyst cursor is damaged (its model-breach cursor is fine)
    When fetch runs
    Then it fails before either source sends a request, naming the field and how to reset the last run, so no
    incident is delivered twice or skipped.
    """
    appliance = FakeAppliance([make_breach(1, NOW_MS - HOUR_MS // 2)], [make_event(1, NOW_MS - HOUR_MS // 2)])
    with pytest.raises(ValueError) as raised:
        fetch_incidents(appliance, last_run, settings(sources=BOTH_SOURCES), NOW_MS)
    assert f'{field} is ' in str(raised.value) and 'no AI Analyst incident is skipped' in str(raised.value)
    assert 'Reset the \'last run\' timestamp' in str(raised.value)
    assert appliance.requests == [] and appliance.event_requests == []


def test_fetch_refuses_an_ai_cursor_ahead_of_the_clock() -> None:
    """
    Given an AI Analyst cursor that starts more than the allowed clock skew after this machine's clock
    When fetch runs
    Then it fails naming ai_analyst.start_ms, as the model-breach cursor does, instead of skipping ahead.
    """
    appliance = FakeAppliance([], [])
    with pytest.raises(ValueError, match=r'\(ai_analyst\.start_ms\), more than 30 minutes after'):
        fetch_incidents(appliance, {'ai_analyst': {'start_ms': NOW_MS + 31 * 60_000}}, settings(sources=AI_ONLY),
                        NOW_MS)
    assert appliance.event_requests == []


@pytest.mark.parametrize('cursor, expected', [
    (None, (NOW_MS - 24 * HOUR_MS, Darktrace.INITIAL_WINDOW_MS, NOW_MS - 24 * HOUR_MS, {})),
    ({'start_ms': NOW_MS - HOUR_MS}, (NOW_MS - HOUR_MS, Darktrace.INITIAL_WINDOW_MS, NOW_MS - HOUR_MS, {})),
    ({'start_ms': NOW_MS - HOUR_MS, 'window_ms': 1, 'horizon_ms': NOW_MS - 2 * HOUR_MS, 'seen_ids': {'a': 5.0}},
     (NOW_MS - HOUR_MS, Darktrace.MIN_WINDOW_MS, NOW_MS - 2 * HOUR_MS, {'a': 5})),
    ({'start_ms': float(NOW_MS - HOUR_MS), 'window_ms': 10 ** 12},
     (NOW_MS - HOUR_MS, Darktrace.MAX_WINDOW_MS, NOW_MS - HOUR_MS, {})),
])
def test_ai_cursor_repairs_only_what_loses_nothing(cursor: Any, expected: tuple) -> None:
    """
    Given an AI Analyst cursor that is missing, lacks pieces, has a window out of bounds or whole numbers stored as
    floats
    When the cursor is read
    Then the missing pieces take a new cursor's values and the window its nearest bound, keeping every event
    delivered (start, horizon and seen ids) as stored.
    """
    read = Darktrace.ai_analyst_cursor(cursor, NOW_MS - 24 * HOUR_MS, NOW_MS)
    assert (read['start'][0], read['window_ms'], read['horizon'][0], read['seen']) == expected


# --- mirroring ----------------------------------------------------------------------------------------

COMMENTS_URL = f'{BASE}/modelbreaches/{PBID}/comments'


BREACH_URL = f'{BASE}/modelbreaches?pbid={PBID}'


ACK_URL = f'{BASE}/modelbreaches/{PBID}/acknowledge'


# Between the two comments of model_breach_comments.json (01:16:40 and 01:50:00 on 2023-01-24).
BETWEEN_COMMENTS_ISO = '2023-01-24T01:30:00Z'


CLOSE_ENTRY = {'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON,
               'Contents': {'dbotIncidentClose': True, 'closeReason': 'Acknowledged in Darktrace'}}


def mock_breach(requests_mock: Any, acknowledged: Any = False, comments: Any = None) -> None:
    breach = {**load('model_breaches.json')[0], 'acknowledged': acknowledged}
    requests_mock.get(BREACH_URL, json=breach)
    requests_mock.get(COMMENTS_URL, json=load('model_breach_comments.json') if comments is None else comments)


def posted_messages(requests_mock: Any) -> list[str]:
    return [json.loads(request.body)['message'] for request in requests_mock.request_history
            if request.method == 'POST' and request.path.endswith('/comments')]


@pytest.mark.parametrize('params, direction', [
    ({}, None), ({'mirror_direction': 'None'}, None), ({'mirror_direction': 'Incoming'}, 'In'),
    ({'mirror_direction': 'Outgoing'}, 'Out'), ({'mirror_direction': 'Incoming And Outgoing'}, 'Both'),
    ({'mirror_direction': 'incoming and outgoing'}, 'Both'),
])
def test_mirror_settings_directions(params: dict, direction: str | None) -> None:
    """
    Given each option of the Incident Mirroring Direction parameter (or none)
    When the mirroring settings are read
    Then the direction is the platform's In, Out or Both (None when not mirroring), and the defaults apply.
    """
    settings_read = MirrorSettings.from_params(params, 'Darktrace_instance_7')
    assert settings_read == MirrorSettings(direction=direction, instance='Darktrace_instance_7', close_incident=False,
                                           close_out=False, comment_tag=MIRROR_TAG)


def test_mirror_settings_read_checkboxes_and_tag() -> None:
    """
    Given both checkboxes ticked (as booleans, as the platform hands them over) and a custom tag
    When the mirroring settings are read
    Then both are on and the tag is kept without surrounding spaces.
    """
    settings_read = MirrorSettings.from_params({'mirror_direction': 'Outgoing', 'close_incident': True,
                                                'close_out': 'true', 'comment_tag': ' to darktrace '}, 'i')
    assert settings_read.close_incident and settings_read.close_out and settings_read.comment_tag == 'to darktrace'


@pytest.mark.parametrize('params, fragment', [
    ({'mirror_direction': 'Sideways'}, '"Incident Mirroring Direction" (mirror_direction)="Sideways"'),
    ({'close_incident': 'maybe'}, '"close_incident"="maybe"'),
    ({'close_out': 'perhaps'}, '"close_out"="perhaps"'),
])
def test_mirror_settings_refuse_bad_parameters(params: dict, fragment: str) -> None:
    """
    Given an unknown mirroring direction or a checkbox value that is not a boolean
    When the mirroring settings are read
    Then the error names the parameter and the value.
    """
    with pytest.raises(ValueError) as raised:
        MirrorSettings.from_params(params, 'i')
    assert fragment in str(raised.value)


@pytest.mark.parametrize('direction, tagged', [('In', False), ('Out', True), ('Both', True)])
def test_mirrored_incident_carries_the_mirror_fields(direction: str, tagged: bool) -> None:
    """
    Given mirroring in, out or both ways
    When a breach becomes an incident
    Then it carries the direction and the instance (and, when mirroring out, the comment tag XSOAR filters on),
    beside the pbid as mirror ID.
    """
    incident = Darktrace.breach_to_incident(load('model_breaches.json')[0], mirror_settings(direction=direction))
    assert incident['dbotMirrorId'] == '30960' and incident['dbotMirrorDirection'] == direction
    assert incident['dbotMirrorInstance'] == 'Darktrace_instance_1'
    assert incident.get('dbotMirrorTags') == ([MIRROR_TAG] if tagged else None)


def test_unmirrored_incident_has_no_mirror_fields() -> None:
    """
    Given mirroring off
    When fetch turns breaches into incidents
    Then only dbotMirrorId is set, as before mirroring existed.
    """
    appliance = FakeAppliance([make_breach(1, NOW_MS - 23 * HOUR_MS)])
    _, incidents = fetch_incidents(appliance, {}, settings(), NOW_MS, mirror_settings(direction=None))
    assert incidents and all(not {'dbotMirrorDirection', 'dbotMirrorInstance', 'dbotMirrorTags'} & set(incident)
                             for incident in incidents)


def test_main_fetch_marks_incidents_for_mirroring(mocker: Any, requests_mock: Any) -> None:
    """
    Given an instance mirroring both ways
    When fetch-incidents runs through main
    Then every incident says Both and names the running instance.
    """
    requests_mock.get(f'{BASE}/modelbreaches', json=load('model_breaches.json'))
    mocker.patch.object(Darktrace, 'now_ms', return_value=1674522280000 + 2 * Darktrace.SETTLE_MS)
    mocker.patch.object(demisto, 'getLastRun', return_value={'start_ms': 1674522200000})
    mocker.patch.object(demisto, 'setLastRun')
    mocker.patch.object(demisto, 'integrationInstance', return_value='Darktrace_soc')
    incidents = mocker.patch.object(demisto, 'incidents')
    _, error = run_main(mocker, 'fetch-incidents', params={**PARAMS, 'mirror_direction': 'Incoming And Outgoing'})
    error.assert_not_called()
    delivered = incidents.call_args[0][0]
    assert delivered and {(i['dbotMirrorDirection'], i['dbotMirrorInstance']) for i in delivered} == \
        {('Both', 'Darktrace_soc')}


def test_get_remote_data_returns_the_breach_and_new_comments(client: Client, requests_mock: Any) -> None:
    """
    Given an unacknowledged breach with two comments, one before and one after the last update
    When get-remote-data runs
    Then the breach is read with acknowledged breaches included, the mirrored object is the raw breach with the
    mapped fields, and only the newer comment becomes a markdown note saying who and when.
    """
    mock_breach(requests_mock)
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': BETWEEN_COMMENTS_ISO},
                                                 mirror_settings(close_incident=True))
    assert isinstance(response, GetRemoteDataResponse)
    breach_request = requests_mock.request_history[0]
    assert breach_request.path_url == f'/modelbreaches?pbid={PBID}&includeacknowledged=true&includebreachurl=true' \
                                      '&deviceattop=true&minimal=false'
    mirrored = response.mirrored_object
    assert mirrored['pbid'] == PBID and mirrored['breachUrl'] == 'https://dt.example/#modelbreach/30960'
    assert {key: mirrored[key] for key in ('acknowledged', 'commentCount', 'modelName', 'deviceHostname')} == {
        'acknowledged': False, 'commentCount': 2, 'modelName': 'Compromise::Watched Domain', 'deviceHostname': 'ws1'}
    assert set(Darktrace.MIRRORED_FIELDS) <= set(mirrored)
    assert response.entries == [{
        'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.MARKDOWN, 'Note': True,
        'Contents': '**Darktrace comment** by analyst2 at 2023-01-24T01:50:00.000Z\n\nChecked with the user: '
                    'not expected.'}]


@pytest.mark.parametrize('acknowledged', [True, 'true', [{'by': 'analyst1'}]])
def test_get_remote_data_closes_the_incident_once_acknowledged(client: Client, requests_mock: Any,
                                                               acknowledged: Any) -> None:
    """
    Given a breach acknowledged in Darktrace (flag as a boolean, as text, or as an object) and close_incident on
    When get-remote-data runs
    Then after the new comments comes the entry that closes the XSOAR incident, and the object says acknowledged.
    """
    mock_breach(requests_mock, acknowledged=acknowledged)
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': BETWEEN_COMMENTS_ISO},
                                                 mirror_settings(close_incident=True))
    assert response.mirrored_object['acknowledged'] is True
    assert len(response.entries) == 2 and response.entries[-1] == CLOSE_ENTRY


def mirror_cycle(client: Client, requests_mock: Any, acknowledged: bool, **settings: Any) -> list[Any]:
    """One get-remote-data cycle on the breach in the given state: the close entries it returned."""
    mock_breach(requests_mock, acknowledged=acknowledged, comments=[])
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': '2023-01-24T00:00:00Z'},
                                                 mirror_settings(close_incident=True, **settings))
    return [entry for entry in response.entries if entry == CLOSE_ENTRY]


def test_get_remote_data_closes_once_per_acknowledgement(client: Client, requests_mock: Any,
                                                         stored_context: dict[str, Any]) -> None:
    """
    Given a mirrored breach acknowledged in Darktrace
    When get-remote-data runs again after the incident was closed and an analyst reopened it, then the breach is
    unacknowledged and acknowledged again in Darktrace
    Then the incident is closed on the first cycle only, left open on the later ones, and closed again after the
    new acknowledgement; the instance remembers only the pbids it closed for a standing acknowledgement.
    """
    assert mirror_cycle(client, requests_mock, acknowledged=True) == [CLOSE_ENTRY]
    assert stored_context['mirrorClosedIds'] == [PBID]
    assert mirror_cycle(client, requests_mock, acknowledged=True) == []  # reopened by an analyst: stays open
    assert mirror_cycle(client, requests_mock, acknowledged=True) == []
    assert mirror_cycle(client, requests_mock, acknowledged=False) == []  # unacknowledged in Darktrace
    assert stored_context['mirrorClosedIds'] == []
    assert mirror_cycle(client, requests_mock, acknowledged=True) == [CLOSE_ENTRY]  # acknowledged again
    assert mirror_cycle(client, requests_mock, acknowledged=True) == []


def test_get_remote_data_does_not_close_what_xsoar_closed(client: Client, requests_mock: Any) -> None:
    """
    Given an incident closed in XSOAR, whose close update-remote-system mirrored out as an acknowledgement
    When get-remote-data then sees the breach acknowledged
    Then it sends no close entry (so an analyst who reopens the incident keeps it open).
    """
    requests_mock.post(ACK_URL, json={'response': 'SUCCESS'})
    Darktrace.update_remote_system_command(client, update_args(), mirror_settings(close_out=True))
    assert mirror_cycle(client, requests_mock, acknowledged=True) == []


def test_remembered_closes_are_bounded_and_survive_corruption(client: Client, requests_mock: Any,
                                                              stored_context: dict[str, Any], mocker: Any) -> None:
    """
    Given a context holding the most pbids it keeps, or a corrupted value, beside other keys
    When a new breach is closed
    Then the oldest pbid is dropped (the list stays bounded), a corrupted value counts as none, and other keys stay.
    """
    mocker.patch.object(Darktrace, 'MAX_REMEMBERED_CLOSES', 3)
    stored_context.update({'mirrorClosedIds': [1, 2, 3], 'signingForm': 'encoded'})
    assert mirror_cycle(client, requests_mock, acknowledged=True) == [CLOSE_ENTRY]
    assert stored_context['mirrorClosedIds'] == [2, 3, PBID] and stored_context['signingForm'] == 'encoded'
    stored_context['mirrorClosedIds'] = {'not': 'a list'}
    assert mirror_cycle(client, requests_mock, acknowledged=True) == [CLOSE_ENTRY]
    assert stored_context['mirrorClosedIds'] == [PBID]


def test_get_remote_data_remembers_nothing_when_close_incident_is_off(client: Client, requests_mock: Any,
                                                                      stored_context: dict[str, Any]) -> None:
    """
    Given close_incident off
    When get-remote-data sees an acknowledged breach
    Then there is no close entry and no close is remembered.
    """
    mock_breach(requests_mock, acknowledged=True, comments=[])
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings(close_incident=False))
    assert CLOSE_ENTRY not in response.entries and 'mirrorClosedIds' not in stored_context


def test_get_remote_data_leaves_the_incident_open_when_close_incident_is_off(client: Client,
                                                                             requests_mock: Any) -> None:
    """
    Given an acknowledged breach and close_incident off
    When get-remote-data runs
    Then no close entry is returned; the acknowledgement is still in the mirrored object for the mapper.
    """
    mock_breach(requests_mock, acknowledged=True, comments=[])
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': BETWEEN_COMMENTS_ISO},
                                                 mirror_settings(close_incident=False))
    assert response.entries == [] and response.mirrored_object['acknowledged'] is True


def test_get_remote_data_skips_comments_posted_from_xsoar(client: Client, requests_mock: Any) -> None:
    """
    Given a breach whose newest comment was posted by update-remote-system (it carries the XSOAR prefix)
    When get-remote-data runs
    Then that comment is not mirrored back in, while the analyst's comment is; commentCount counts both.
    """
    message = Darktrace.outgoing_comment({'type': 1, 'contents': 'Closing as benign', 'tags': [MIRROR_TAG]},
                                         MIRROR_TAG)
    assert message == '[Cortex XSOAR] Closing as benign'
    comments = [{'message': message, 'username': 'api-user', 'time': 1674526000000},
                {'message': 'Seen it too', 'username': 'analyst3', 'time': 1674526000001}]
    mock_breach(requests_mock, comments=comments)
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': BETWEEN_COMMENTS_ISO},
                                                 mirror_settings())
    assert [entry['Contents'].split('\n')[0] for entry in response.entries] == \
        ['**Darktrace comment** by analyst3 at 2023-01-24T02:06:40.001Z']
    assert response.mirrored_object['commentCount'] == 2


@pytest.mark.parametrize('last_update, new_comments', [
    ('2023-01-24T01:30:00Z', 1),
    ('2023-01-24T01:30:00.123456789Z', 1),  # nine fractional digits
    ('2023-01-24T03:30:00+02:00', 1),
    ('1674523800', 1),  # epoch seconds
    ('1674523800000', 1),  # epoch milliseconds
    ('2023-01-24T01:50:00Z', 0),  # exactly the newest comment's time: already mirrored
    ('2023-01-24T00:00:00Z', 2),
    ('', 2),  # never mirrored
])
def test_get_remote_data_reads_every_last_update_form(client: Client, requests_mock: Any, last_update: str,
                                                      new_comments: int) -> None:
    """
    Given lastUpdate as ISO 8601 (Z, nanoseconds, an offset), epoch seconds or milliseconds, or nothing
    When get-remote-data runs
    Then exactly the comments made after that moment are returned, oldest first.
    """
    mock_breach(requests_mock)
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': last_update},
                                                 mirror_settings())
    assert len(response.entries) == new_comments
    authors = [entry['Contents'].split(' by ')[1].split(' ')[0] for entry in response.entries]
    assert authors == ['analyst1', 'analyst2'][2 - new_comments:]


def test_get_remote_data_accepts_reply_variants(client: Client, requests_mock: Any) -> None:
    """
    Given the breach answered as a one-element list and the comments as a single object with a text time
    When get-remote-data runs
    Then the breach is found and the comment becomes a note.
    """
    requests_mock.get(BREACH_URL, json=[load('model_breaches.json')[0]])
    requests_mock.get(COMMENTS_URL, json={'message': 'Only one', 'username': 'analyst1', 'time': '1674526000000'})
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': BETWEEN_COMMENTS_ISO},
                                                 mirror_settings())
    assert response.mirrored_object['pbid'] == PBID and response.mirrored_object['commentCount'] == 1
    assert [entry['Contents'].endswith('Only one') for entry in response.entries] == [True]


DELETED_CLOSE_ENTRY = {'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON,
                       'Contents': {'dbotIncidentClose': True, 'closeReason': 'Deleted on the Darktrace appliance'}}


@pytest.mark.parametrize('close_incident', [True, False])
def test_get_remote_data_notes_a_deleted_breach_once(client: Client, requests_mock: Any, close_incident: bool) -> None:
    """
    Given an appliance that no longer has the breach of a mirrored incident (404)
    When get-remote-data runs, then runs again
    Then the first run returns one note saying the breach no longer exists (and, with close_incident on, a close
    with that reason) instead of failing; the second sends no request and returns no entry.
    """
    requests_mock.get(BREACH_URL, status_code=404, json={'error': 'Model breach not found'})
    first = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': ''},
                                              mirror_settings(close_incident=close_incident))
    assert first.mirrored_object == {'pbid': PBID}
    assert 'model breach 30960 no longer exists on the Darktrace appliance' in first.entries[0]['Contents']
    assert first.entries[1:] == ([DELETED_CLOSE_ENTRY] if close_incident else [])
    sent = requests_mock.call_count
    again = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': ''},
                                              mirror_settings(close_incident=close_incident))
    assert again.entries == [] and requests_mock.call_count == sent


def test_update_remote_system_skips_a_deleted_breach_with_one_log_line(client: Client, requests_mock: Any,
                                                                       mocker: Any) -> None:
    """
    Given a closed incident with a tagged note whose breach the appliance no longer has (404 on acknowledge)
    When update-remote-system runs, get-remote-data notes the deletion, and update-remote-system runs again
    Then neither update fails: each logs one line saying the changes were skipped; the second sends no request.
    """
    info = mocker.patch.object(demisto, 'info')
    requests_mock.post(ACK_URL, status_code=404, json={'error': 'Model breach not found'})
    requests_mock.get(BREACH_URL, status_code=404, json={'error': 'Model breach not found'})
    args = {'remoteId': str(PBID), 'delta': {'closeReason': 'Resolved'}, 'incidentChanged': True,
            'entries': [{'type': 1, 'contents': 'done', 'tags': ['darktrace comment']}]}
    assert Darktrace.update_remote_system_command(client, args, mirror_settings(close_out=True)) == str(PBID)
    Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings())
    sent = requests_mock.call_count
    assert Darktrace.update_remote_system_command(client, args, mirror_settings(close_out=True)) == str(PBID)
    assert requests_mock.call_count == sent
    skipped = [call.args[0] for call in info.call_args_list if 'no longer exists' in call.args[0]]
    assert len(skipped) == 2 and 'were not sent (acknowledgement: True, 1 comments)' in skipped[0]


@pytest.mark.parametrize('args, fragment', [
    ({'lastUpdate': BETWEEN_COMMENTS_ISO}, 'Missing required argument "id"'),
    ({'id': 'ab c', 'lastUpdate': BETWEEN_COMMENTS_ISO}, 'Invalid "id"="ab c"'),
    ({'id': '0', 'lastUpdate': BETWEEN_COMMENTS_ISO}, 'Invalid "id"=0'),
    ({'id': '1/../status', 'lastUpdate': BETWEEN_COMMENTS_ISO}, 'Invalid "id"'),
    ({'id': str(PBID), 'lastUpdate': 'last tuesday-ish'}, 'Invalid "lastUpdate"="last tuesday-ish"'),
])
def test_get_remote_data_refuses_bad_arguments_before_any_request(client: Client, requests_mock: Any, args: dict,
                                                                  fragment: str) -> None:
    """
    Given a missing or malformed breach id, or a lastUpdate that is not a time
    When get-remote-data runs
    Then it is refused with a message naming the argument, and nothing is sent.
    """
    with pytest.raises(ValueError) as raised:
        Darktrace.get_remote_data_command(client, args, mirror_settings())
    assert fragment in str(raised.value)
    assert requests_mock.call_count == 0


def update_args(**overrides: Any) -> dict[str, Any]:
    """update-remote-system's arguments as the platform passes them when an incident is closed."""
    args: dict[str, Any] = {'remoteId': str(PBID), 'status': IncidentStatus.DONE, 'incidentChanged': True,
                            'delta': {'closeReason': 'Resolved'}, 'data': {'id': '1'}, 'entries': []}
    args.update(overrides)
    return args


@pytest.mark.parametrize('reply', [{'response': 'SUCCESS'}, load('ack_reply_unified_view.json')])
def test_update_remote_system_acknowledges_a_closed_incident(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given close_out on, an incident just closed, and the appliance confirming as an appliance or a Unified View
    When update-remote-system runs
    Then the breach is acknowledged with a signed form body, and the remote id is returned as a string.
    """
    requests_mock.post(ACK_URL, json=reply)
    assert Darktrace.update_remote_system_command(client, update_args(), mirror_settings(close_out=True)) == '30960'
    request = requests_mock.last_request
    assert form_fields(request) == {'acknowledge': ['true']}
    assert_signed(request, request.body.encode() if isinstance(request.body, str) else request.body)


@pytest.mark.parametrize('overrides', [
    {'status': IncidentStatus.DONE, 'incidentChanged': True, 'delta': {}},  # closed, delta without the reason
    {'status': '2', 'incidentChanged': 'true', 'delta': None},  # the same as War Room text
    {'status': IncidentStatus.ACTIVE, 'incidentChanged': None, 'delta': {'closeReason': 'Duplicate'}},
])
def test_update_remote_system_recognises_a_closed_incident(client: Client, requests_mock: Any,
                                                           overrides: dict) -> None:
    """
    Given an incident closed according to its changed status, or to a closeReason in the delta
    When update-remote-system runs with close_out on
    Then the breach is acknowledged.
    """
    requests_mock.post(ACK_URL, json={'response': 'SUCCESS'})
    Darktrace.update_remote_system_command(client, update_args(**overrides), mirror_settings(close_out=True))
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.method == 'POST'
    assert requests_mock.last_request.path_url == f'/modelbreaches/{PBID}/acknowledge'


@pytest.mark.parametrize('overrides, close_out', [
    ({}, False),  # closed, but close_out is off
    ({'status': IncidentStatus.DONE, 'incidentChanged': False, 'delta': {}}, True),  # a note on a closed incident
    ({'status': IncidentStatus.ACTIVE, 'delta': {'severity': 3}}, True),  # changed, not closed
])
def test_update_remote_system_acknowledges_only_on_closing(client: Client, requests_mock: Any, overrides: dict,
                                                           close_out: bool) -> None:
    """
    Given close_out off, or an update that does not close the incident
    When update-remote-system runs
    Then nothing is sent, and the remote id is still returned.
    """
    result = Darktrace.update_remote_system_command(client, update_args(**overrides),
                                                    mirror_settings(close_out=close_out))
    assert result == '30960' and requests_mock.call_count == 0


@pytest.mark.parametrize('reply', [{'response': 'FAILED'}, [{'replicate': False}], {'status': 'queued'}])
def test_update_remote_system_refuses_an_unconfirmed_acknowledgement(client: Client, requests_mock: Any,
                                                                     reply: Any) -> None:
    """
    Given an acknowledgement reply that does not confirm it, and a tagged note to post
    When update-remote-system runs
    Then it fails saying so, before posting the note.
    """
    requests_mock.post(ACK_URL, json=reply)
    requests_mock.post(COMMENTS_URL, json={'response': 'SUCCESS'})
    entries = [{'type': 1, 'contents': 'Closing', 'tags': [MIRROR_TAG]}]
    with pytest.raises(DarktraceApiError, match='without confirming the change'):
        Darktrace.update_remote_system_command(client, update_args(entries=entries), mirror_settings(close_out=True))
    assert posted_messages(requests_mock) == []


def test_update_remote_system_posts_tagged_notes_marked_as_from_xsoar(client: Client, requests_mock: Any) -> None:
    """
    Given outgoing entries: tagged notes (any case of the tag, with or without a user), a note without tags
    (the platform already filtered it), an untagged note, a file, an empty note, a note mirrored in from
    Darktrace, and something that is not an entry
    When update-remote-system runs with close_out on for a closed incident
    Then the breach is acknowledged first, then each note to post becomes one signed comment, in order, starting
    with the XSOAR prefix and the author.
    """
    requests_mock.post(ACK_URL, json={'response': 'SUCCESS'})
    requests_mock.post(COMMENTS_URL, json={'response': 'SUCCESS'})
    entries = [
        {'type': 1, 'contents': ' Contained the host. ', 'tags': [MIRROR_TAG], 'user': 'alice'},
        {'Type': 1, 'Contents': 'Upper-case keys', 'Tags': ['Darktrace Comment', 'other']},
        {'type': 1, 'contents': 'Platform filtered this one'},
        {'type': 1, 'contents': 'Private note', 'tags': ['internal']},
        {'type': 3, 'contents': 'capture.pcap', 'tags': [MIRROR_TAG]},
        {'type': 1, 'contents': '   ', 'tags': [MIRROR_TAG]},
        {'type': 1, 'contents': '**Darktrace comment** by bob at 2023-01-24T01:50:00.000Z\n\nHi', 'tags': [MIRROR_TAG]},
        'not an entry',
    ]
    Darktrace.update_remote_system_command(client, update_args(entries=entries), mirror_settings(close_out=True))
    assert [request.path for request in requests_mock.request_history] == \
        [f'/modelbreaches/{PBID}/acknowledge'] + [f'/modelbreaches/{PBID}/comments'] * 3
    assert posted_messages(requests_mock) == ['[Cortex XSOAR] alice: Contained the host.',
                                              '[Cortex XSOAR] Upper-case keys',
                                              '[Cortex XSOAR] Platform filtered this one']
    for request in requests_mock.request_history[1:]:
        assert_signed(request, request.body.encode() if isinstance(request.body, str) else request.body)


def test_update_remote_system_cuts_a_long_note_to_the_comment_limit() -> None:
    """
    Given a tagged note longer than a comment may be
    When it is turned into a breach comment
    Then the comment is exactly MAX_COMMENT_LENGTH characters and ends with an ellipsis.
    """
    message = Darktrace.outgoing_comment({'type': 1, 'contents': 'x' * 10_000, 'tags': [MIRROR_TAG]}, MIRROR_TAG)
    assert message is not None and len(message) == Darktrace.MAX_COMMENT_LENGTH and message.endswith('…')


@pytest.mark.parametrize('reply', [{'response': 'SUCCESS'}, load('comment_post_list.json')])
def test_update_remote_system_accepts_comment_reply_variants(client: Client, requests_mock: Any, reply: Any) -> None:
    """
    Given the appliance answering a comment POST with SUCCESS or with a list holding comments
    When update-remote-system posts a note given as War Room JSON text (as from command_examples)
    Then the comment is posted and the remote id returned.
    """
    requests_mock.post(COMMENTS_URL, json=reply)
    entries = json.dumps([{'type': 1, 'contents': 'Escalated to IR', 'tags': [MIRROR_TAG]}])
    args = update_args(entries=entries, delta='{"closeReason": "Resolved"}', incidentChanged='true', status='2')
    assert Darktrace.update_remote_system_command(client, args, mirror_settings()) == '30960'
    assert posted_messages(requests_mock) == ['[Cortex XSOAR] Escalated to IR']


def test_update_remote_system_refuses_an_unconfirmed_comment(client: Client, requests_mock: Any) -> None:
    """
    Given a comment POST answered with neither SUCCESS nor a comment
    When update-remote-system posts a tagged note
    Then it fails saying the change was not confirmed.
    """
    requests_mock.post(COMMENTS_URL, json={'status': 'queued'})
    with pytest.raises(DarktraceApiError, match='without confirming the change'):
        Darktrace.update_remote_system_command(
            client, update_args(entries=[{'type': 1, 'contents': 'x', 'tags': [MIRROR_TAG]}]), mirror_settings())


@pytest.mark.parametrize('overrides, fragment', [
    ({'remoteId': None}, 'Missing required argument "remoteId"'),
    ({'remoteId': '-5'}, 'Invalid "remoteId"=-5'),
    ({'remoteId': '30960?x=1'}, 'Invalid "remoteId"'),
    ({'entries': '[{"type": 1,'}, 'Invalid "entries": expected a JSON list'),
    ({'entries': '{"type": 1}'}, 'Invalid "entries": expected a JSON list, not dict'),
    ({'delta': '[1]'}, 'Invalid "delta": expected a JSON object, not list'),
    ({'incidentChanged': 'perhaps'}, 'Invalid "incidentChanged"="perhaps"'),
])
def test_update_remote_system_refuses_bad_arguments_before_any_request(client: Client, requests_mock: Any,
                                                                       overrides: dict, fragment: str) -> None:
    """
    Given a missing or malformed remote id, entries or delta that are not JSON of the right shape, or a
    non-boolean incidentChanged
    When update-remote-system runs with close_out on
    Then it is refused with a message naming the argument, and nothing is sent.
    """
    with pytest.raises(ValueError) as raised:
        Darktrace.update_remote_system_command(client, update_args(**overrides), mirror_settings(close_out=True))
    assert fragment in str(raised.value)
    assert requests_mock.call_count == 0


def test_get_mapping_fields(client: Client, requests_mock: Any) -> None:
    """
    Given nothing but the integration
    When get-mapping-fields runs
    Then it describes the mirrored breach type and its fields, each with a description, without a request.
    """
    response = Darktrace.get_mapping_fields_command(client, {}, mirror_settings())
    assert isinstance(response, GetMappingFieldsResponse)
    mapping = response.extract_mapping()
    assert set(mapping) == {'Darktrace NDR Model Breach', 'Darktrace NDR AI Analyst Incident', 'Darktrace NDR Email'}
    fields = mapping['Darktrace NDR Model Breach']
    assert {'acknowledged', 'score', 'percentscore', 'modelName', 'deviceHostname', 'breachUrl',
            'commentCount'} <= set(fields)
    assert all(description.endswith('.') for description in fields.values())
    assert requests_mock.call_count == 0


AI_EVENTS_URL = f'{BASE}/aianalyst/incidentevents'


AI_COMMENTS_URL = f'{BASE}/aianalyst/incident/comments'


def test_get_remote_data_reads_an_ai_analyst_event_by_its_mirror_id(client: Client, requests_mock: Any) -> None:
    """
    Given an incident mirrored from an acknowledged AI Analyst event (its mirror id is the event id) with a comment
    from before the last update, one after it, and one posted from XSOAR, and close_incident on
    When get-remote-data runs
    Then the event is read by its id with acknowledged events and the link included, the mirrored object is the
    raw event with the mapped fields (the link built as the appliance left it out), only the newer Darktrace
    comment becomes a note, and the close entry follows.
    """
    event = {**load('ai_analyst_events.json')[0], 'acknowledged': True}
    comments = {'comments': [
        {'message': 'Seen before the last mirror', 'username': 'analyst1', 'time': 1674530000000},
        {'message': 'Escalated to IR.', 'username': 'analyst2', 'time': 1674540000000},
        {'message': '[Cortex XSOAR] alice: isolated', 'username': 'api', 'time': 1674540001000}]}
    requests_mock.get(AI_EVENTS_URL, json=[event])
    requests_mock.get(AI_COMMENTS_URL, json=comments)
    response = Darktrace.get_remote_data_command(client, {'id': EVENT_ID, 'lastUpdate': '1674535000000'},
                                                 mirror_settings(close_incident=True))
    event_request, comments_request = requests_mock.request_history
    assert event_request.path_url == (f'/aianalyst/incidentevents?uuid={EVENT_ID}&includeacknowledged=true'
                                      '&includeincidenteventurl=true')
    assert comments_request.path_url == f'/aianalyst/incident/comments?incident_id={EVENT_ID}'
    mirrored = response.mirrored_object
    assert set(Darktrace.MIRRORED_AI_ANALYST_FIELDS) <= set(mirrored)
    assert {key: mirrored[key] for key in ('id', 'acknowledged', 'commentCount', 'deviceHostname',
                                           'incidentEventUrl')} == {
        'id': EVENT_ID, 'acknowledged': True, 'commentCount': 3, 'deviceHostname': 'ws1',
        'incidentEventUrl': f'{BASE}/#aiaincidentevent/{EVENT_ID}'}
    assert response.entries == [
        {'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.MARKDOWN, 'Note': True,
         'Contents': '**Darktrace comment** by analyst2 at 2023-01-24T06:00:00.000Z\n\nEscalated to IR.'},
        CLOSE_ENTRY]


def test_get_remote_data_notes_a_deleted_ai_analyst_event_once(client: Client, requests_mock: Any) -> None:
    """
    Given an appliance that no longer has the AI Analyst event of a mirrored incident (an empty reply)
    When get-remote-data runs twice with close_incident on
    Then the first run notes the event no longer exists and closes the incident; the second is quiet.
    """
    requests_mock.get(AI_EVENTS_URL, json=[])
    first = Darktrace.get_remote_data_command(client, {'id': EVENT_ID}, mirror_settings(close_incident=True))
    assert f'AI Analyst incident event {EVENT_ID} no longer exists' in first.entries[0]['Contents']
    assert first.entries[1:] == [DELETED_CLOSE_ENTRY]
    again = Darktrace.get_remote_data_command(client, {'id': EVENT_ID}, mirror_settings(close_incident=True))
    assert again.entries == [] and requests_mock.call_count == 1


def test_update_remote_system_acknowledges_and_comments_on_an_ai_analyst_event(client: Client,
                                                                               requests_mock: Any) -> None:
    """
    Given a closed incident mirrored from an AI Analyst event, a tagged note and a note that came from Darktrace,
    and close_out on
    When update-remote-system runs
    Then the event is acknowledged through /aianalyst/acknowledge (form uuid=), the tagged note is posted through
    /aianalyst/incident/comments marked as from XSOAR, the Darktrace note is not sent back, and the event id returns.
    """
    requests_mock.post(f'{BASE}/aianalyst/acknowledge', json={'aianalyst': 'SUCCESS'})
    requests_mock.post(AI_COMMENTS_URL, json={'response': 'SUCCESS'})
    entries = [{'type': 1, 'contents': 'Host isolated', 'tags': [MIRROR_TAG], 'user': 'alice'},
               {'type': 1, 'contents': '**Darktrace comment** by bob at 2023-01-24T06:00:00.000Z\n\nhi',
                'tags': [MIRROR_TAG]}]
    result = Darktrace.update_remote_system_command(client, update_args(remoteId=EVENT_ID, entries=entries),
                                                    mirror_settings(close_out=True))
    assert result == EVENT_ID
    acknowledge, comment = requests_mock.request_history
    assert acknowledge.path_url == '/aianalyst/acknowledge' and form_fields(acknowledge) == {'uuid': [EVENT_ID]}
    assert comment.path_url == '/aianalyst/incident/comments'
    assert comment.json() == {'incident_id': EVENT_ID, 'message': '[Cortex XSOAR] alice: Host isolated'}


def test_update_remote_system_refuses_an_unconfirmed_ai_analyst_acknowledgement(client: Client,
                                                                                requests_mock: Any) -> None:
    """
    Given an appliance answering the acknowledgement of an AI Analyst event without confirming it
    When update-remote-system runs with close_out on
    Then it fails naming the AI Analyst endpoint, so XSOAR tries again.
    """
    requests_mock.post(f'{BASE}/aianalyst/acknowledge', json={'aianalyst': 'FAILED'})
    with pytest.raises(DarktraceApiError, match='POST /aianalyst/acknowledge'):
        Darktrace.update_remote_system_command(client, update_args(remoteId=EVENT_ID), mirror_settings(close_out=True))


def test_get_mapping_fields_describes_the_ai_analyst_incident(client: Client) -> None:
    """
    Given nothing but the integration
    When get-mapping-fields runs
    Then the "Darktrace NDR AI Analyst Incident" scheme lists the fields get-remote-data adds, each described.
    """
    mapping = Darktrace.get_mapping_fields_command(client, {}, mirror_settings()).extract_mapping()
    fields = mapping['Darktrace NDR AI Analyst Incident']
    assert {'id', 'acknowledged', 'aiaScore', 'title', 'incidentEventUrl', 'commentCount'} <= set(fields)
    assert all(description.endswith('.') for description in fields.values())


def test_main_dispatches_mirroring_commands_with_the_settings(mocker: Any, requests_mock: Any) -> None:
    """
    Given an instance mirroring both ways with close_incident on, and an acknowledged breach
    When XSOAR runs get-remote-data, then get-mapping-fields, through main
    Then each returns the platform's response object, built with the instance's mirroring settings.
    """
    mock_breach(requests_mock, acknowledged=True, comments=[])
    params = {**PARAMS, 'mirror_direction': 'Incoming And Outgoing', 'close_incident': True}
    results, error = run_main(mocker, 'get-remote-data', {'id': str(PBID), 'lastUpdate': BETWEEN_COMMENTS_ISO}, params)
    error.assert_not_called()
    response = results.call_args[0][0]
    assert isinstance(response, GetRemoteDataResponse) and response.entries == [CLOSE_ENTRY]
    results, error = run_main(mocker, 'get-mapping-fields', params=params)
    error.assert_not_called()
    assert isinstance(results.call_args[0][0], GetMappingFieldsResponse)


def test_main_update_remote_system_returns_the_remote_id(mocker: Any, requests_mock: Any) -> None:
    """
    Given an instance with close_out on
    When XSOAR runs update-remote-system for a closed incident through main
    Then the breach is acknowledged and the pbid is returned.
    """
    requests_mock.post(ACK_URL, json={'response': 'SUCCESS'})
    results, error = run_main(mocker, 'update-remote-system', update_args(),
                              {**PARAMS, 'mirror_direction': 'Outgoing', 'close_out': True})
    error.assert_not_called()
    results.assert_called_once_with('30960')
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('command', ['test-module', 'fetch-incidents', 'get-remote-data'])
def test_main_refuses_a_bad_mirroring_direction_before_any_request(mocker: Any, requests_mock: Any,
                                                                   command: str) -> None:
    """
    Given an unknown mirroring direction
    When test-module, fetch-incidents or a mirroring command runs
    Then the error names the parameter and nothing is sent.
    """
    _, error = run_main(mocker, command, {'id': str(PBID)}, {**PARAMS, 'mirror_direction': 'Sideways'})
    assert '(mirror_direction)="Sideways"' in error.call_args[0][0]
    assert requests_mock.call_count == 0


# get-modified-remote-data, comment identity, concurrent context writes

CYCLE_NOW = 1_700_000_000_000  # XSOAR's clock during these cycles
MINUTE = 60_000


def mirrored(stored_context: dict[str, Any], breaches: dict[int, str], events: dict[str, str] | None = None) -> None:
    """A context remembering these breaches and events as delivered in the given state, with no comments."""
    stored_context['mirror'] = {
        'breaches': {str(pbid): {'t': CYCLE_NOW - 3 * 86_400_000, 's': state, 'c': []}
                     for pbid, state in breaches.items()},
        'events': {event_id: {'t': CYCLE_NOW - 86_400_000, 's': state, 'c': []}
                   for event_id, state in (events or {}).items()}}


def mock_appliance_lists(requests_mock: Any, breaches: dict[int, tuple[bool, float]],
                         events: list[dict] | None = None, feed: list[dict] | None = None,
                         event_comments: list[dict] | None = None) -> None:
    """The lists get-modified-remote-data reads: breaches (acknowledgement filter honoured), the comment feed, AI
    Analyst events and one event's comments."""
    def breach_list(request: Any, context: Any) -> list[dict[str, Any]]:
        include_acknowledged = query_of(request)['includeacknowledged'] == ['true']
        return [{'pbid': pbid, 'score': score} for pbid, (acknowledged, score) in breaches.items()
                if include_acknowledged or not acknowledged]
    requests_mock.get(f'{BASE}/modelbreaches', json=breach_list)
    requests_mock.get(f'{BASE}/mbcomments', json=feed or [])
    requests_mock.get(f'{BASE}/aianalyst/incidentevents', json=events or [])
    requests_mock.get(f'{BASE}/aianalyst/incident/comments', json={'comments': event_comments or []})


def modified_ids(client: Client, mocker: Any, now: int = CYCLE_NOW) -> list[str]:
    mocker.patch.object(Darktrace, 'now_ms', return_value=now)
    response = Darktrace.get_modified_remote_data_command(client, {'lastUpdate': '2023-11-14T22:00:00Z'},
                                                          mirror_settings())
    assert isinstance(response, GetModifiedRemoteDataResponse)
    return response.modified_incident_ids


AI_EVENT = {'id': EVENT_ID, 'acknowledged': False, 'aiaScore': 98, 'groupScore': 72.9, 'currentGroup': 'g1',
            'title': 'Unusual admin connection', 'category': 'critical'}


@pytest.mark.parametrize('count', [1, 300, 5000])
def test_get_modified_remote_data_costs_five_requests_when_nothing_changed(
        client: Client, requests_mock: Any, mocker: Any, stored_context: dict, count: int) -> None:
    """
    Given N mirrored breaches (1, 300, 5,000) and one AI Analyst event, all as last delivered
    When get-modified-remote-data runs
    Then it names none and sends five requests whatever N: the comment feed, the two id-only breach lists (every
    breach with its score, the unacknowledged ones), the id-only event list and one event's comments.
    """
    breaches = {100 + index: (False, 0.5) for index in range(count)}
    mirrored(stored_context, {pbid: 'u|0.5' for pbid in breaches}, {EVENT_ID: Darktrace.event_state(AI_EVENT)})
    mock_appliance_lists(requests_mock, breaches, [AI_EVENT])
    assert modified_ids(client, mocker) == []
    paths = [request.path for request in requests_mock.request_history]
    assert sorted(paths) == ['/aianalyst/incident/comments', '/aianalyst/incidentevents', '/mbcomments',
                             '/modelbreaches', '/modelbreaches']
    lists = [query_of(request) for request in requests_mock.request_history if request.path == '/modelbreaches']
    assert [q['responsedata'] for q in lists] == [['pbid,score'], ['pbid']]
    assert all(q['minimal'] == ['true'] and q['includesuppressed'] == ['true'] for q in lists)
    events = query_of(next(r for r in requests_mock.request_history if r.path == '/aianalyst/incidentevents'))
    assert events['responsedata'] == ['id,acknowledged,aiaScore,groupScore,currentGroup,title,category']


def test_get_modified_remote_data_names_the_changed_records_only(client: Client, requests_mock: Any, mocker: Any,
                                                                 stored_context: dict) -> None:
    """
    Given ten mirrored breaches and two events as last delivered
    When in Darktrace one breach is acknowledged, one unacknowledged, one rescored, one commented, an XSOAR comment
    is posted on another, and one event's incident score rises
    Then exactly those four breaches and that event are named (the XSOAR comment is not a change).
    """
    other_event = {**AI_EVENT, 'id': 'other-event'}
    mirrored(stored_context, {100 + index: ('a|0.5' if index == 1 else 'u|0.5') for index in range(10)},
             {EVENT_ID: Darktrace.event_state(AI_EVENT), 'other-event': Darktrace.event_state(other_event)})
    breaches = {100 + index: (False, 0.5) for index in range(10)}
    breaches.update({100: (True, 0.5), 101: (False, 0.5), 102: (False, 0.9)})
    feed = [{'pbid': 103, 'time': CYCLE_NOW - MINUTE, 'username': 'analyst1', 'message': 'Looked at it'},
            {'pbid': 104, 'time': CYCLE_NOW - MINUTE, 'username': 'api', 'message': '[Cortex XSOAR] bob: noted'}]
    mock_appliance_lists(requests_mock, breaches, [{**AI_EVENT, 'groupScore': 91.2}, other_event], feed)
    assert sorted(modified_ids(client, mocker)) == sorted(['103', '100', '101', '102', EVENT_ID])


def test_get_modified_remote_data_names_records_never_mirrored_in(client: Client, requests_mock: Any, mocker: Any,
                                                                  stored_context: dict) -> None:
    """
    Given a fetch run that handed over a mirrored breach incident and an AI Analyst incident
    When get-modified-remote-data runs
    Then both are named, so get-remote-data delivers them (and their comments) a first time.
    """
    incidents = [Darktrace.breach_to_incident({**load('model_breaches.json')[0]}, mirror_settings()),
                 Darktrace.ai_event_to_incident({**AI_EVENT, 'createdAt': CYCLE_NOW - MINUTE}, BASE,
                                                mirror_settings())]
    Darktrace.remember_fetched(incidents, mirror_settings(direction='In'))
    mock_appliance_lists(requests_mock, {PBID: (False, 0.592)}, [AI_EVENT])
    assert sorted(modified_ids(client, mocker)) == sorted([str(PBID), EVENT_ID])


def test_get_modified_remote_data_names_a_vanished_record_once(client: Client, requests_mock: Any, mocker: Any,
                                                               stored_context: dict) -> None:
    """
    Given a mirrored breach and event that the lists no longer hold
    When get-modified-remote-data runs twice, get-remote-data confirming the deletion in between for the breach
    Then the first cycle names both; later cycles name neither (a deleted breach is not looked for again).
    """
    mirrored(stored_context, {PBID: 'u|0.5'}, {EVENT_ID: Darktrace.event_state(AI_EVENT)})
    mock_appliance_lists(requests_mock, {})
    assert sorted(modified_ids(client, mocker)) == sorted([str(PBID), EVENT_ID])
    requests_mock.get(BREACH_URL, status_code=404, json={'error': 'Model breach not found'})
    Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings())
    assert modified_ids(client, mocker, CYCLE_NOW + MINUTE) == []
    assert modified_ids(client, mocker, CYCLE_NOW + 2 * MINUTE) == []
    assert stored_context['mirror']['breaches'][str(PBID)]['s'] == 'deleted'


def test_get_modified_remote_data_reads_one_ai_analyst_event_comments_per_cycle(
        client: Client, requests_mock: Any, mocker: Any, stored_context: dict) -> None:
    """
    Given three mirrored AI Analyst events, unchanged in the list, the second with a new comment in Darktrace
    When get-modified-remote-data runs three cycles
    Then each cycle reads the comments of the next event in id order, and names the commented one when it reads it.
    """
    events = [{**AI_EVENT, 'id': event_id} for event_id in ('ev-a', 'ev-b', 'ev-c')]
    mirrored(stored_context, {}, {event['id']: Darktrace.event_state(event) for event in events})
    mock_appliance_lists(requests_mock, {}, events)
    comment = {'username': 'analyst1', 'time': CYCLE_NOW, 'message': 'Isolated the host'}
    requests_mock.get(f'{AI_COMMENTS_URL}?incident_id=ev-b', json={'comments': [comment]})
    cycles = [modified_ids(client, mocker, CYCLE_NOW + index * MINUTE) for index in range(3)]
    read = [query_of(r)['incident_id'][0] for r in requests_mock.request_history
            if r.path == '/aianalyst/incident/comments']
    assert read == ['ev-a', 'ev-b', 'ev-c'] and cycles == [[], ['ev-b'], []]


@pytest.mark.parametrize('skew_minutes', [-30, -10, 10, 30])
def test_a_comment_is_mirrored_exactly_once_whatever_the_clock_skew(client: Client, requests_mock: Any,
                                                                    mocker: Any, stored_context: dict,
                                                                    skew_minutes: int) -> None:
    """
    Given a mirrored breach, and an appliance clock 10 or 30 minutes behind or ahead of XSOAR's
    When a comment is made in Darktrace right after a mirroring cycle, and cycles run every minute after
    Then the next cycle names the breach, get-remote-data delivers the comment once (though its time is on the
    other side of lastUpdate), and neither later cycles nor another get-remote-data bring it again.
    """
    mirrored(stored_context, {PBID: 'u|0.592'})
    mock_appliance_lists(requests_mock, {PBID: (False, 0.592)})
    assert modified_ids(client, mocker) == []
    comment = {'pbid': PBID, 'time': CYCLE_NOW + MINUTE // 2 + skew_minutes * MINUTE, 'username': 'analyst1',
               'message': 'Escalated'}
    mock_appliance_lists(requests_mock, {PBID: (False, 0.592)}, feed=[comment])
    mock_breach(requests_mock, comments=[comment])
    assert modified_ids(client, mocker, CYCLE_NOW + MINUTE) == [str(PBID)]
    last_update = Darktrace.ms_to_iso(CYCLE_NOW)  # XSOAR's clock: before the comment, whatever the appliance says
    first = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': last_update}, mirror_settings())
    assert [entry['Contents'].endswith('Escalated') for entry in first.entries] == [True]
    assert modified_ids(client, mocker, CYCLE_NOW + 2 * MINUTE) == []
    again = Darktrace.get_remote_data_command(client, {'id': str(PBID), 'lastUpdate': Darktrace.ms_to_iso(
        CYCLE_NOW + 2 * MINUTE)}, mirror_settings())
    assert again.entries == []
    feed_reads = [query_of(r) for r in requests_mock.request_history if r.path == '/mbcomments']
    assert all(int(q['starttime'][0]) <= comment['time'] <= int(q['endtime'][0]) for q in feed_reads[1:])


def test_seen_comments_stay_bounded_without_bringing_old_ones_back(client: Client, requests_mock: Any,
                                                                   stored_context: dict, mocker: Any) -> None:
    """
    Given a breach with more comments than the instance remembers identities for
    When get-remote-data runs twice
    Then the first run delivers them all, the memory keeps only the newest identities, and the second run delivers
    nothing (older comments are known by the newest forgotten one's time).
    """
    mocker.patch.object(Darktrace, 'MAX_SEEN_COMMENTS', 3)
    mirrored(stored_context, {})
    stored_context['mirror']['breaches'][str(PBID)] = {'t': 0}
    comments = [{'time': CYCLE_NOW + index, 'username': 'u', 'message': f'm{index}'} for index in range(5)]
    mock_breach(requests_mock, comments=comments)
    assert len(Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings()).entries) == 5
    remembered = stored_context['mirror']['breaches'][str(PBID)]
    assert len(remembered['c']) == 3 and remembered['f'] == CYCLE_NOW + 1
    assert Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings()).entries == []


def test_concurrent_runs_keep_each_others_context_writes(client: Client, requests_mock: Any, mocker: Any,
                                                         stored_context: dict) -> None:
    """
    Given get-remote-data, a fetch run and a command that remembers the signing form, running at the same time
    When each one's write lands between another's read and write (the platform then refuses the stale write)
    Then every write is repeated on the newer state: the breach's mirror memory, the fetched incident's record,
    the close and the signing form are all kept.
    """
    set_versioned = demisto.setIntegrationContextVersioned
    others = [lambda: Darktrace.remember_fetched(
                  [Darktrace.ai_event_to_incident({**AI_EVENT, 'createdAt': CYCLE_NOW}, BASE, mirror_settings())],
                  mirror_settings(direction='Both')),
              lambda: Darktrace.remember_signing_form('encoded')]
    conflicts = []

    def interleaved(context: dict, version: int = -1, sync: bool = False) -> None:
        if others:
            other = others.pop(0)
            other()  # another run's whole update lands first
        try:
            set_versioned(context, version, sync)
        except ValueError:
            conflicts.append(version)
            raise
    mocker.patch.object(demisto, 'setIntegrationContextVersioned', side_effect=interleaved)
    mock_breach(requests_mock, acknowledged=True, comments=[])
    response = Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings(close_incident=True))
    assert CLOSE_ENTRY in response.entries and len(conflicts) == 2
    assert stored_context['signingForm'] == 'encoded' and stored_context['mirrorClosedIds'] == [PBID]
    assert set(stored_context['mirror']['breaches']) == {str(PBID)}
    assert set(stored_context['mirror']['events']) == {EVENT_ID}


def test_a_context_write_gives_up_after_repeated_conflicts(mocker: Any) -> None:
    """
    Given a platform that refuses every write as stale
    When the integration stores a change
    Then it tries MAX_CONTEXT_WRITE_ATTEMPTS times, then fails with a message saying to run the command again.
    """
    refuse = mocker.patch.object(demisto, 'setIntegrationContextVersioned', side_effect=ValueError('stale'))
    with pytest.raises(DemistoException, match='Run the command again'):
        Darktrace.update_integration_context(signingForm='encoded')
    assert refuse.call_count == Darktrace.MAX_CONTEXT_WRITE_ATTEMPTS


def test_id_only_lists_reach_back_at_most_a_year(client: Client, requests_mock: Any, mocker: Any,
                                                 stored_context: dict) -> None:
    """
    Given a remembered breach and event without a usable time (0)
    When get-modified-remote-data runs
    Then the breach list starts a year back (one reply covers a year at most), not in 1970, and so does the event
    list.
    """
    stored_context['mirror'] = {'breaches': {str(PBID): {'t': 0, 's': 'u|0.5', 'c': []}},
                                'events': {EVENT_ID: {'t': 0, 's': 'x', 'c': []}}}
    mock_appliance_lists(requests_mock, {PBID: (False, 0.5)}, [AI_EVENT])
    modified_ids(client, mocker)
    starts = {r.path: int(query_of(r)['starttime'][0]) for r in requests_mock.request_history
              if r.path in ('/modelbreaches', '/aianalyst/incidentevents')}
    assert starts == {'/modelbreaches': CYCLE_NOW - Darktrace.MIRROR_MAX_LOOKBACK_MS,
                      '/aianalyst/incidentevents': CYCLE_NOW - Darktrace.MIRROR_MAX_LOOKBACK_MS}


def test_fetch_registers_only_the_newest_records_and_skips_unreadable_ones(mocker: Any, stored_context: dict) -> None:
    """
    Given a memory for two breaches per kind, and fetched incidents: three breaches and one with broken rawJSON
    When fetch registers them for incoming mirroring
    Then the two newest breaches are remembered, the broken one is left out, and nothing is registered for an
    instance that mirrors out only.
    """
    mocker.patch.object(Darktrace, 'MAX_MIRRORED_RECORDS', 2)
    breach = load('model_breaches.json')[0]
    incidents = [Darktrace.breach_to_incident({**breach, 'pbid': pbid, 'time': pbid}, mirror_settings())
                 for pbid in (11, 12, 13)] + [{'dbotMirrorId': '14', 'rawJSON': '{broken'}]
    Darktrace.remember_fetched(incidents, mirror_settings(direction='Out'))
    assert 'mirror' not in stored_context
    Darktrace.remember_fetched(incidents, mirror_settings(direction='In'))
    assert stored_context['mirror']['breaches'] == {'12': {'t': 12}, '13': {'t': 13}}


def test_get_modified_remote_data_names_an_event_whose_comments_are_gone(client: Client, requests_mock: Any,
                                                                         mocker: Any, stored_context: dict) -> None:
    """
    Given a mirrored AI Analyst event still listed, whose comments now answer 404, and a full comment feed
    When get-modified-remote-data runs
    Then the event is named (get-remote-data finds out whether it is gone) and the full feed is logged.
    """
    info = mocker.patch.object(demisto, 'info')
    mocker.patch.object(Darktrace, 'MIRROR_FEED_COUNT', 1)
    mirrored(stored_context, {}, {EVENT_ID: Darktrace.event_state(AI_EVENT)})
    mock_appliance_lists(requests_mock, {}, [AI_EVENT],
                         feed=[{'pbid': 5, 'time': CYCLE_NOW, 'username': 'a', 'message': 'm'}])
    requests_mock.get(AI_COMMENTS_URL, status_code=404, json={'error': 'Incident event not found'})
    assert modified_ids(client, mocker) == ['5', EVENT_ID]
    assert 'the most one request reads' in info.call_args_list[0].args[0]


def test_get_remote_data_fails_on_other_errors_and_remembers_nothing(client: Client, requests_mock: Any,
                                                                     stored_context: dict) -> None:
    """
    Given an appliance answering 503 for the breach of a mirrored incident
    When get-remote-data runs
    Then it fails (XSOAR tries again next cycle) and the breach is not taken for deleted.
    """
    requests_mock.get(BREACH_URL, status_code=503, text='Service Unavailable')
    with pytest.raises(DarktraceApiError) as raised:
        Darktrace.get_remote_data_command(client, {'id': str(PBID)}, mirror_settings(close_incident=True))
    assert raised.value.kind != 'not_found' and 'mirror' not in stored_context


def test_an_acknowledgement_sent_from_xsoar_is_not_named_as_a_change(client: Client, requests_mock: Any,
                                                                     mocker: Any, stored_context: dict) -> None:
    """
    Given a mirrored breach and event remembered unacknowledged, and close_out on
    When their incidents are closed in XSOAR (update-remote-system acknowledges them) and a cycle runs
    Then the cycle names neither: the remembered state follows the acknowledgement XSOAR made.
    """
    mirrored(stored_context, {PBID: 'u|0.5'}, {EVENT_ID: Darktrace.event_state(AI_EVENT)})
    requests_mock.post(ACK_URL, json={'response': 'SUCCESS'})
    requests_mock.post(f'{BASE}/aianalyst/acknowledge', json={'aianalyst': 'SUCCESS'})
    for remote_id in (str(PBID), EVENT_ID):
        Darktrace.update_remote_system_command(client, {'remoteId': remote_id, 'delta': {'closeReason': 'Resolved'}},
                                               mirror_settings(close_out=True))
    mock_appliance_lists(requests_mock, {PBID: (True, 0.5)}, [{**AI_EVENT, 'acknowledged': True}])
    assert modified_ids(client, mocker) == []
    assert stored_context['mirrorClosedIds'] == [PBID, EVENT_ID]


# --- Darktrace/Email: connection, arguments, commands, fetch, mirroring -------------------------------------------

# Darktrace/Email replies for the table runs, and a run of each command but the download (a file entry, no table)
EMAIL_UUID = 'BA13B274-03F3-46D6-8698-244DFF1037A0.1'
EMAIL_RECORDED_GET_REPLIES = [('/agemail/api/ep/api/v1.0/resources/tags', '', 'email_tags.json'),
                              ('/agemail/api/ep/api/v1.0/resources/actions', '', 'email_actions.json'),
                              ('/agemail/api/ep/api/v1.0/resources/filters', '', 'email_filters.json'),
                              ('/agemail/api/ep/api/v1.0/emails/', '', 'email.json')]
EMAIL_CHANGE_REPLIES = {'/emails/search': 'email_search.json'}
EMAIL_TABLE_RUNS = [
    ('darktrace-email-email-search', {'start_time': '2025-04-09T00:00:00Z', 'end_time': '2025-04-11T00:00:00Z'}),
    ('darktrace-email-email-get', {'uuid': EMAIL_UUID}),
    ('darktrace-email-email-hold', {'uuid': EMAIL_UUID}),
    ('darktrace-email-email-release', {'uuid': EMAIL_UUID}),
    ('darktrace-email-email-action', {'uuid': EMAIL_UUID, 'action': 'moveToJunk'}),
    ('darktrace-email-action-list', {}),
    ('darktrace-email-tag-list', {}),
    ('darktrace-email-filter-list', {}),
]
NO_TABLE_COMMANDS = {'darktrace-email-email-download'}

EMAIL_EP = f'{BASE}{Darktrace.EMAIL_PATH_EP}'
EMAIL_DIRECT = f'{BASE}{Darktrace.EMAIL_PATH_DIRECT}'
MISSING_ROUTE_PAGE = '<!DOCTYPE html><html><head><title>Error</title></head><body><pre>Cannot GET</pre></body></html>'


def email_client(path: str | None = None, pinned: bool = False) -> tuple[Client, list[str]]:
    """A client as build_client makes it, and the prefixes it reports as remembered."""
    client = Client(f'{BASE}/', PUBLIC, PRIVATE, retry_budget_s=0)
    remembered: list[str] = []
    client.email_path, client.email_path_pinned, client.on_email_path = path, pinned, remembered.append
    return client, remembered


def test_a_downloaded_email_is_a_file_in_the_working_folder_not_the_checkout(requests_mock: Any,
                                                                            engine_folder: Path) -> None:
    """
    Given an appliance serving an email's raw message (email-facts 3.6)
    When darktrace-email-email-download's function is called directly, as the argument fuzzing calls it
    Then it returns a War Room file entry named after the uuid whose file, written where fileResult writes (the
         working folder), holds the message byte for byte, and nothing is written into the checkout.
    """
    message = b'From: "Accounts Team" <accounts@supplier-invoices.example>\r\nSubject: Invoice\r\n\r\nBody\r\n'
    requests_mock.get(f'{EMAIL_EP}/emails/{urllib.parse.quote(EMAIL_UUID, safe="")}/download', content=message,
                      headers={'Content-Type': 'message/rfc822'})
    entry = Darktrace.COMMANDS['darktrace-email-email-download'](email_client()[0], {'uuid': EMAIL_UUID})
    assert entry['Type'] == EntryType.FILE and entry['File'] == f'{EMAIL_UUID}.eml'
    written = Path.cwd() / f'{demisto.investigation()["id"]}_{entry["FileID"]}'
    assert Path.cwd() == engine_folder and written.read_bytes() == message
    assert not list(REPO_ROOT.glob(f'*{entry["FileID"]}*'))


def test_email_path_falls_back_once_on_a_missing_route_and_is_remembered(requests_mock: Any) -> None:
    """
    Given an appliance whose guide prefix answers 404 with a web page, and whose other prefix serves the Email API
    When an Email request runs without a remembered prefix, then again on the same client
    Then the first tries the guide's prefix once then the other, which is reported for remembering; the second
         goes straight to it.
    """
    missing = requests_mock.get(f'{EMAIL_EP}/resources/filters', status_code=404, text=MISSING_ROUTE_PAGE,
                                headers={'Content-Type': 'text/html'})
    served = requests_mock.get(f'{EMAIL_DIRECT}/resources/filters', json=load('email_filters.json'))
    client, remembered = email_client()
    assert client.get_email_filters() == load('email_filters.json')
    client.get_email_filters()
    assert (missing.call_count, served.call_count, remembered) == (1, 2, [Darktrace.EMAIL_PATH_DIRECT])


@pytest.mark.parametrize('status, reply', [(404, {'error': 'Email not found'}), (400, {'error': 'bad criteria'})])
def test_email_path_is_not_switched_on_an_answer_of_the_email_api(requests_mock: Any, status: int,
                                                                  reply: dict) -> None:
    """
    Given the guide's prefix answering as the Email API does (404 "Email not found", 400)
    When an Email request runs
    Then the error is reported and the other prefix is never tried.
    """
    requests_mock.get(f'{EMAIL_EP}/emails/{EMAIL_UUID}', status_code=status, json=reply)
    other = requests_mock.get(f'{EMAIL_DIRECT}/emails/{EMAIL_UUID}', json=load('email.json'))
    with pytest.raises(DarktraceApiError, match=reply['error']):
        email_client()[0].get_email(EMAIL_UUID)
    assert other.call_count == 0


def test_email_403_names_the_email_permission_and_licence_without_trying_the_other_path(requests_mock: Any) -> None:
    """
    Given the Email API answering 403 {"error": "403 Forbidden"} on every path (email-facts 5)
    When an Email request runs
    Then the error names the "Email logs" permission and the licence, and the other prefix is never tried.
    """
    requests_mock.get(f'{EMAIL_EP}/resources/tags', status_code=403, json={'error': '403 Forbidden'})
    other = requests_mock.get(f'{EMAIL_DIRECT}/resources/tags', json=[])
    with pytest.raises(DarktraceApiError) as raised:
        email_client()[0].get_email_tags()
    assert raised.value.kind == 'permission' and '"Email logs"' in str(raised.value)
    assert 'not licensed' in str(raised.value) and other.call_count == 0


def test_a_pinned_email_path_is_used_alone(requests_mock: Any) -> None:
    """
    Given the instance pinning /agemail/api/v1.0, which has no route here
    When an Email request runs
    Then only the pinned prefix is tried, nothing is remembered, and the error says the route is missing.
    """
    requests_mock.get(f'{EMAIL_DIRECT}/resources/actions', status_code=302, headers={'Location': '/login'})
    guide = requests_mock.get(f'{EMAIL_EP}/resources/actions', json=[])
    client, remembered = email_client(Darktrace.EMAIL_PATH_DIRECT, pinned=True)
    with pytest.raises(DarktraceApiError, match='login page'):
        client.get_email_actions()
    assert guide.call_count == 0 and remembered == []


def test_email_search_body_is_serialised_once_and_signed_as_sent(requests_mock: Any) -> None:
    """
    Given a search with criteria holding quotes and non-ASCII text
    When the body is sent
    Then the bytes sent are compact JSON, and the signature covers the full path and exactly those bytes.
    """
    requests_mock.post(f'{EMAIL_EP}/emails/search', json=[])
    body = Darktrace.email_search_body(1_744_200_000_000, 1_744_286_400_999,
                                       [Darktrace.criterion('Header.Subject.Subject Value', '~*', 'Zoë "x"')], 0, 20,
                                       'seconds')
    email_client()[0].search_emails(body)
    sent = requests_mock.last_request
    text = sent.body.decode() if isinstance(sent.body, bytes) else sent.body
    assert text == json.dumps(body, separators=(',', ':'))
    assert json.loads(text)['timeFrom'] == 1_744_200_000 and json.loads(text)['timeTo'] == 1_744_286_400
    target = f'{Darktrace.EMAIL_PATH_EP}/emails/search?{text}'
    assert sent.headers['DTAPI-Signature'] == dtapi_signature(PRIVATE, PUBLIC, target, sent.headers['DTAPI-Date'])


def test_email_search_window_in_milliseconds_when_configured() -> None:
    """
    Given the instance's Email time unit set to milliseconds
    When a search body is built
    Then both ends are sent in milliseconds.
    """
    body = Darktrace.email_search_body(1_744_200_000_123, 1_744_286_400_999, [], 2, 50, 'milliseconds')
    assert (body['timeFrom'], body['timeTo'], body['page'], body['itemsPerPage']) == (1_744_200_000_123,
                                                                                      1_744_286_400_999, 2, 50)


@pytest.mark.parametrize('command, args, expected', [
    (Darktrace.get_email_command, {'uuid': 'not-a-uuid'}, 'email UUID'),
    (Darktrace.get_email_command, {}, 'Missing required argument "uuid"'),
    (Darktrace.hold_email_command, {'uuid': EMAIL_UUID, 'recipients': 'alice@,bob'}, '"recipients"'),
    (Darktrace.search_emails_command, {'direction': 'sideways'}, 'inbound, outbound, internal'),
    (Darktrace.search_emails_command, {'min_score': '101'}, '"min_score"'),
    (Darktrace.search_emails_command, {'tag_severity': 'severe'}, 'critical, warn, info'),
    (Darktrace.search_emails_command, {'raw_criteria': '{"apiFilter": "x"}'}, 'JSON list'),
    (Darktrace.search_emails_command, {'raw_criteria': '[{"apiFilter": "x"}]'}, 'criterion 1'),
    (Darktrace.search_emails_command, {'page_size': '101'}, '"page_size"'),
    (Darktrace.search_emails_command, {'start_time': 'yesterday-ish'}, '"start_time"'),
    (Darktrace.email_action_command, {'uuid': EMAIL_UUID, 'action': 'hold; rm'}, '"action"'),
    (Darktrace.list_email_tags_command, {'severity': 'loud'}, '"severity"'),
])
def test_email_arguments_are_refused_before_any_request(client: Client, requests_mock: Any, command: Any,
                                                        args: dict, expected: str) -> None:
    """
    Given an Email command with one argument spoilt
    When it runs
    Then it fails naming the argument and what it takes, and nothing is sent.
    """
    with pytest.raises(ValueError, match=re.escape(expected)):
        command(client, args)
    assert requests_mock.call_count == 0


def test_email_search_pages_until_a_short_page_and_keeps_each_email_once(client: Client, requests_mock: Any) -> None:
    """
    Given a search whose pages repeat an email (the reply order is not documented) and end with a short page
    When darktrace-email-email-search runs with page_size 2 and actioned_only
    Then pages are read until the short one, each email is kept once, and only actioned ones are in context.
    """
    hits = load('email_search.json')
    pages = [[hits[0], hits[1]], [hits[1], hits[2]], [hits[2]]]
    search = requests_mock.post(f'{EMAIL_EP}/emails/search', [{'json': page} for page in pages])
    requests_mock.get(f'{EMAIL_EP}/resources/tags', json=load('email_tags.json'))
    result = Darktrace.search_emails_command(client, {'page_size': '2', 'actioned_only': 'true', 'limit': '10'})
    expected = [hit['uuid'] for hit in sorted(hits, key=lambda hit: -hit['dtime_unix']) if Darktrace.is_actioned(hit)]
    assert [email['uuid'] for email in result.outputs] == expected
    assert [json.loads(request.body)['page'] for request in search.request_history] == [0, 1, 2]


def test_hold_sends_only_recipients_not_already_held_and_reports_the_others(
        client: Client, requests_mock: Any) -> None:
    """
    Given an email held for two recipients and delivered to a third
    When darktrace-email-email-hold runs without recipients
    Then the hold is sent for the third only, and the table shows the two others as already done.
    """
    requests_mock.get(f'{EMAIL_EP}/emails/{EMAIL_UUID}', json=load('email.json'))
    action = requests_mock.post(f'{EMAIL_EP}/emails/{EMAIL_UUID}/action', json={'code': 0, 'resp': 'Held Email'})
    result = Darktrace.hold_email_command(client, {'uuid': EMAIL_UUID})
    assert action.last_request.json() == {'action': 'hold', 'recipients': ['finance@example.com']}
    assert result.outputs['status'] == 'success' and result.outputs['previous_status']['alice@example.com'] == 'held'
    assert result.readable_output.count('already done') == 2


def test_email_severity_from_tags_and_score() -> None:
    """
    Given emails with no tags, warn tags or critical tags, each with a low and a high score
    When their XSOAR severity is computed
    Then it is Low, Medium, High by the worst tag, one step higher from a score of 80, and never above Critical.
    """
    def severity(worst: str | None, score: int) -> float:
        grouped = {name: ([name] if name == worst else []) for name in Darktrace.EMAIL_SEVERITIES}
        return Darktrace.email_severity({'tags_by_severity': grouped, 'model_score': score})
    assert [severity(None, 10), severity('warn', 10), severity('critical', 10)] == [1, 2, 3]
    assert [severity(None, 80), severity('warn', 95), severity('critical', 100)] == [2, 3, 4]


def test_an_email_becomes_one_incident_with_every_recipient() -> None:
    """
    Given an email context with three recipients and tags of two severities
    When it becomes an incident
    Then the name gives subject, sender, the number of recipients and the score; the occurred time keeps the
         milliseconds; the mirror id is the uuid; rawJSON says it is an Email record.
    """
    email = load('email.json')
    context = Darktrace.email_context(email, Darktrace.tag_severities(load('email_tags.json')), BASE)
    incident = Darktrace.email_to_incident(context, BASE)
    assert incident['name'] == ('Darktrace/Email: Invoice overdue from accounts@supplier-invoices.example '
                                '(3 recipients, score 92)')
    assert incident['occurred'] == '2025-04-10T13:55:27.341Z' and incident['dbotMirrorId'] == EMAIL_UUID
    raw = json.loads(incident['rawJSON'])
    assert raw[Darktrace.RECORD_KIND_KEY] == Darktrace.EMAIL_RECORD_KIND and len(raw['recipients']) == 3
    assert raw['tags_by_severity']['critical'] == ['Forged Address'] and incident['severity'] == 4


def test_email_fetch_defers_an_email_still_being_analysed() -> None:
    """
    Given a window holding an analysed email and a newer one still in progress
    When the window's emails are delivered
    Then only the analysed one is delivered and the cursor stops at the second of the one in progress.
    """
    now = 1_744_300_000_000
    hits = [{'uuid': 'a', 'dtime_unix': now - 300_500, 'in_progress': False},
            {'uuid': 'b', 'dtime_unix': now - 200_500, 'in_progress': True}]
    run = {'hw_ms': now - 400_000, 'seen': {}}
    taken = Darktrace._deliver_emails(run, hits, 10, now - 60_000, now)
    assert [hit['uuid'] for hit in taken] == ['a'] and run['hw_ms'] == (now - 200_500) // 1000 * 1000


def test_a_damaged_email_cursor_fetches_nothing_and_says_how_to_reset() -> None:
    """
    Given a lastRun whose Email part has a negative high-water mark
    When fetch runs with Darktrace/Email chosen
    Then it fails before any request, naming the field and the way to reset the state.
    """
    settings = FetchSettings(0.0, 10, 0, True, (Darktrace.FETCH_SOURCE_EMAIL,))
    appliance = FakeAppliance([])  # it has no Email API: a request would fail otherwise
    with pytest.raises(ValueError, match=r'email\.hw_ms.*Reset'):
        fetch_incidents(appliance, {'email': {'hw_ms': -5}}, settings, 1_744_300_000_000)  # type: ignore[arg-type]
    assert appliance.read_bytes == 0


def test_three_sources_share_a_fetch_fairly() -> None:
    """
    Given model breaches, AI Analyst incidents and Darktrace/Email all with a backlog, and 30 incidents per fetch
    When one fetch runs, each source reading all the bytes it may
    Then each source gets a third of the incidents and of the bytes a run may read.
    """
    settings = FetchSettings(0.0, 30, 0, True, Darktrace.FETCH_SOURCES)
    asked: dict[str, tuple[int, int]] = {}

    def source(name: str) -> Any:
        def fetch(client: Any, cursor: Any, settings: Any, now: int, limit: int, read_budget: int) -> tuple[dict, list]:
            asked[name] = (limit, read_budget)
            client.read_bytes += read_budget
            return {}, [{} for _ in range(limit)]
        return fetch
    table = tuple(Darktrace.FetchSource(item.name, item.cursor_key, lambda cursor, settings, now: 0, source(item.name),
                                        lambda record, url, mirror: record) for item in Darktrace.FETCH_SOURCE_TABLE)
    with pytest.MonkeyPatch.context() as patches:
        patches.setattr(Darktrace, 'FETCH_SOURCE_TABLE', table)
        _, incidents = fetch_incidents(Client(BASE, PUBLIC, PRIVATE), {}, settings, 1_744_300_000_000)
    assert {name: limit for name, (limit, _) in asked.items()} == dict.fromkeys(Darktrace.FETCH_SOURCES, 10)
    budgets = [budget for _, budget in asked.values()]
    assert all(abs(budget - Darktrace.FETCH_MAX_RUN_BYTES / 3) < 1 for budget in budgets)
    assert sum(budgets) == Darktrace.FETCH_MAX_RUN_BYTES and len(incidents) == 30


def test_email_fetch_settings_are_checked_with_the_instance(mocker: Any) -> None:
    """
    Given Darktrace/Email chosen for fetching, with a minimum Email score above 100
    When the fetch settings are read
    Then they are refused naming the parameter.
    """
    with pytest.raises(ValueError, match='email_min_score'):
        FetchSettings.from_params({'fetch_sources': 'Darktrace/Email', 'email_min_score': '120'}, 1_744_300_000_000)


def test_get_remote_data_of_an_email_shows_its_current_status(client: Client, requests_mock: Any,
                                                              stored_context: dict) -> None:
    """
    Given an email incident fetched while the email was held, and the email now released to one recipient
    When get-remote-data runs for it
    Then the mirrored email shows the recipient released, and its state is remembered for the next cycle.
    """
    email = load('email.json')
    email['rcpts'][0]['rcpt_status'] = 'released'
    requests_mock.get(f'{EMAIL_EP}/emails/{EMAIL_UUID}', json=email)
    requests_mock.get(f'{EMAIL_EP}/resources/tags', json=load('email_tags.json'))
    response = Darktrace.get_remote_data_command(client, {'id': EMAIL_UUID, 'lastUpdate': '2025-04-10T00:00:00Z'},
                                                 mirror_settings())
    assert response.mirrored_object['held_recipients'] == ['bob@example.com']
    remembered = stored_context[Darktrace.MIRROR_STATE_KEY][Darktrace.MIRROR_EMAILS][EMAIL_UUID]
    assert remembered['s'] == Darktrace.email_state(email)


# --- main & test-module -------------------------------------------------------------------------------

def test_main_test_module_ok(mocker: Any, requests_mock: Any) -> None:
    """
    Given valid parameters
    When test-module runs
    Then it calls /status with fast=true and returns ok.
    """
    requests_mock.get(f'{BASE}/status', json=load('status.json'))
    results, error = run_main(mocker, 'test-module')
    results.assert_called_once_with('ok')
    error.assert_not_called()
    assert requests_mock.last_request.path_url == '/status?fast=true'  # guide 2.38: the quick health check


def test_main_test_module_checks_fetch_parameters_first(mocker: Any, requests_mock: Any) -> None:
    """
    Given fetching is on with max_alerts out of range
    When test-module runs
    Then it fails on that parameter before any request.
    """
    run_params = {**PARAMS, 'isFetch': True, 'max_alerts': '5000'}
    _, error = run_main(mocker, 'test-module', params=run_params)
    assert 'from 1 to 1000' in error.call_args[0][0]
    assert requests_mock.call_count == 0


def test_main_test_module_signature_error(mocker: Any, requests_mock: Any) -> None:
    """
    Given tokens the appliance rejects
    When test-module runs
    Then return_error says to check the tokens, and does not reveal the private token.
    """
    requests_mock.get(f'{BASE}/status', status_code=400, json={'status': 'API SIGNATURE ERROR'})
    _, error = run_main(mocker, 'test-module')
    message = error.call_args[0][0]
    assert message.startswith('Failed to execute test-module command.\nError:\n')
    assert 'public and private API tokens' in message and PRIVATE not in message


def test_main_dispatches_commands(mocker: Any, requests_mock: Any) -> None:
    """
    Given a command name from the table
    When main runs
    Then the matching command function's CommandResults is returned.
    """
    requests_mock.get(f'{BASE}/tags/entities', json=load('device_tags.json'))
    results, error = run_main(mocker, 'darktrace-get-tags-for-device', {'deviceId': '1417'})
    error.assert_not_called()
    returned = results.call_args[0][0]
    assert isinstance(returned, CommandResults) and returned.outputs[0]['tagName'] == 'Active Threat'


def test_main_unknown_command(mocker: Any) -> None:
    """
    Given a command the integration does not have
    When main runs
    Then NotImplementedError is raised inside and reported through return_error.
    """
    _, error = run_main(mocker, 'darktrace-make-coffee')
    assert 'Failed to execute darktrace-make-coffee command.\nError:\n' in error.call_args[0][0]
    assert 'not implemented' in error.call_args[0][0]


def test_main_refuses_a_bad_url_before_any_request(mocker: Any, requests_mock: Any) -> None:
    """
    Given a server URL without a scheme
    When any command runs
    Then the error names the url parameter and nothing is sent.
    """
    _, error = run_main(mocker, 'test-module', params={**PARAMS, 'url': 'dt.example'})
    assert '"Server URL" (url)' in error.call_args[0][0]
    assert requests_mock.call_count == 0


def test_main_refuses_a_url_with_credentials_without_echoing_them(mocker: Any, requests_mock: Any) -> None:
    """
    Given a server URL carrying a user name and password
    When any command runs
    Then it is refused before any request, and the message holds neither the user name nor the password.
    """
    _, error = run_main(mocker, 'test-module', params={**PARAMS, 'url': 'https://soc-admin:Hunter2-pass@dt.example'})
    message = error.call_args[0][0]
    assert '"Server URL" (url)' in message and 'user name or password' in message
    assert 'Hunter2' not in message and 'soc-admin' not in message and requests_mock.call_count == 0


@pytest.mark.parametrize('status', [{'a': 1}, {}, {'hostname': 'proxy'}])
def test_main_test_module_refuses_a_status_that_is_not_the_appliance_s(mocker: Any, requests_mock: Any,
                                                                      status: dict) -> None:
    """
    Given /status answering an object without version or time
    When test-module runs
    Then it fails saying the URL may not point at an appliance, instead of answering ok.
    """
    requests_mock.get(f'{BASE}/status', json=status)
    results, error = run_main(mocker, 'test-module')
    results.assert_not_called()
    assert 'neither "version" nor "time"' in error.call_args[0][0]


def test_main_test_module_refuses_a_future_epoch_first_fetch(mocker: Any, requests_mock: Any) -> None:
    """
    Given fetching on and a first fetch time that is an epoch value in the future
    When test-module runs
    Then it fails naming the parameter, before any request.
    """
    future_s = str(Darktrace.now_ms() // 1000 + 7 * 24 * 3600)
    _, error = run_main(mocker, 'test-module', params={**PARAMS, 'isFetch': True, 'first_fetch': future_s})
    assert '"First fetch time" (first_fetch)' in error.call_args[0][0] and 'in the future' in error.call_args[0][0]
    assert requests_mock.call_count == 0


def test_messages_taken_from_a_reply_hold_no_token_or_signature(client: Client, requests_mock: Any) -> None:
    """
    Given replies that echo both tokens and the request signature (an error field, a non-JSON body, a web page)
    When a command's request is answered with each
    Then the error message has every one of them replaced by <redacted>.
    """
    def echo(request: Any, context: Any) -> str:
        return f'{PUBLIC} {PRIVATE} {request.headers["DTAPI-Signature"]}'

    for reply in ({'status_code': 500, 'text': lambda r, c: json.dumps({'error': echo(r, c)})},
                  {'status_code': 200, 'text': echo},
                  {'status_code': 404, 'text': lambda r, c: f'<html><title>{echo(r, c)}</title></html>'}):
        requests_mock.get(f'{BASE}/status', **reply)
        with pytest.raises(DarktraceApiError) as raised:
            client.get_status()
        signature = requests_mock.last_request.headers['DTAPI-Signature']
        message = str(raised.value)
        assert '<redacted>' in message
        assert PUBLIC not in message and PRIVATE not in message and signature not in message


def test_main_requires_both_tokens(mocker: Any) -> None:
    """
    Given no private token
    When any command runs
    Then the error asks for both tokens.
    """
    _, error = run_main(mocker, 'test-module', params={**PARAMS, 'private_api_token': ''})
    assert 'public and the private API token' in error.call_args[0][0]


def test_main_fetch_sets_last_run_then_incidents(mocker: Any, requests_mock: Any) -> None:
    """
    Given breaches on the appliance
    When fetch-incidents runs through main
    Then lastRun is stored and the incidents are handed over, ordered by creation time.
    """
    breaches = load('model_breaches.json')
    requests_mock.get(f'{BASE}/modelbreaches', json=breaches)
    mocker.patch.object(Darktrace, 'now_ms', return_value=1674522280000 + 2 * Darktrace.SETTLE_MS)
    mocker.patch.object(demisto, 'getLastRun', return_value={'start_ms': 1674522200000})
    set_last_run = mocker.patch.object(demisto, 'setLastRun')
    incidents = mocker.patch.object(demisto, 'incidents')
    _, error = run_main(mocker, 'fetch-incidents')
    error.assert_not_called()
    assert [i['dbotMirrorId'] for i in incidents.call_args[0][0]] == ['30960', '30961', '30955']
    assert set_last_run.call_args[0][0]['start_ms'] > 1674522200000


def test_main_fetch_failure_does_not_store_last_run(mocker: Any, requests_mock: Any) -> None:
    """
    Given the appliance fails during fetch
    When fetch-incidents runs through main
    Then neither lastRun nor incidents are stored, and the error is reported.
    """
    requests_mock.get(f'{BASE}/modelbreaches', status_code=503)
    set_last_run = mocker.patch.object(demisto, 'setLastRun')
    incidents = mocker.patch.object(demisto, 'incidents')
    _, error = run_main(mocker, 'fetch-incidents')
    set_last_run.assert_not_called()
    incidents.assert_not_called()
    assert 'HTTP 503' in error.call_args[0][0]


def test_demisto_exception_base_is_kept() -> None:
    """
    Given a DarktraceApiError
    When it is checked against the platform's exception
    Then it is a DemistoException, so platform code handles it.
    """
    assert issubclass(DarktraceApiError, DemistoException)


def test_main_dispatches_a_triage_command(mocker: Any, requests_mock: Any) -> None:
    """
    Given darktrace-list-tags and a limit
    When main runs it
    Then the matching function runs and its result is returned.
    """
    requests_mock.get(f'{BASE}/tags', json=load('tags.json'))
    results, error = run_main(mocker, 'darktrace-list-tags', {'limit': '2'})
    error.assert_not_called()
    assert [tag['tid'] for tag in results.call_args[0][0].outputs] == [5, 9]


# --- every command: argument checks, the dispatch table, readable War Room tables ---------------------

# Each domain section above lists its commands' bad arguments (<DOMAIN>_BAD_ARGUMENTS) and the runs of its
# commands on recorded-shape replies (<DOMAIN>_TABLE_RUNS); the tests here run them all.
BAD_ARGUMENTS = (BREACH_BAD_ARGUMENTS + DEVICE_BAD_ARGUMENTS + ENDPOINT_BAD_ARGUMENTS + TAG_BAD_ARGUMENTS
                 + WATCH_BAD_ARGUMENTS + AI_ANALYST_BAD_ARGUMENTS)


@pytest.mark.parametrize('command, args, fragment', BAD_ARGUMENTS)
def test_bad_arguments_are_refused_before_any_request(client: Client, requests_mock: Any, command: Any, args: dict,
                                                      fragment: str) -> None:
    """
    Given an argument outside what the command accepts (including attempts to inject parameters or paths)
    When the command runs
    Then it raises a message naming the argument and the accepted form, and sends no request.
    """
    with pytest.raises(ValueError) as raised:
        command(client, args)
    assert fragment in str(raised.value)
    assert requests_mock.call_count == 0


def test_commands_table_matches_the_yaml() -> None:
    """
    Given the commands Darktrace.yml declares
    When they are compared with the table main() dispatches through
    Then every darktrace-* command of the YAML has a function, and there is no function the YAML lacks.
    """
    import yaml
    declared = {command['name'] for command in yaml.safe_load((Path(__file__).parent / 'Darktrace.yml').read_text())
                ['script']['commands'] if command['name'].startswith('darktrace-')}
    assert set(Darktrace.COMMANDS) == declared


RECORDED_GET_REPLIES = EMAIL_RECORDED_GET_REPLIES + [  # (path prefix, query fragment or '', fixture); the first match wins
    ('/modelbreaches/', '', 'model_breach_comments.json'), ('/modelbreaches', 'pbid=', 'model_breaches.json'),
    ('/modelbreaches', '', 'model_breaches.json'), ('/details', '', 'breach_connections.json'),
    ('/models', '', 'model.json'), ('/components/', '', 'model_component.json'),
    ('/devicesearch', '', 'device_search.json'), ('/devices', '', 'device.json'),
    ('/similardevices', '', 'similar_devices.json'), ('/deviceinfo', '', 'device_info.json'),
    ('/endpointdetails', 'ip=', 'endpoint_details_external_ip.json'),
    ('/endpointdetails', '', 'endpoint_details_hostname.json'),
    ('/advancedsearch/api/analyze/m/terms/', '', 'advanced_search_terms.json'),
    ('/advancedsearch/api/analyze/m/mean/', '', 'advanced_search_mean.json'),
    ('/advancedsearch/api/analyze/m/trend/', '', 'advanced_search_trend.json'),
    ('/advancedsearch/', '', 'advanced_search_score.json'),
    ('/aianalyst/incidentevents', '', 'ai_analyst_event_summary_object.json'),
    ('/aianalyst/groups', '', 'ai_analyst_groups.json'), ('/aianalyst/incident/comments', '', 'ai_analyst_comments.json'),
    ('/intelfeed', '', 'watched_endpoints.json'), ('/tags/entities', 'did=', 'device_tags.json'),
    ('/tags/entities', '', 'tagged_devices_full.json'), ('/tags', '', 'tags.json'),
    ('/antigena', '', 'respond_actions.json'),
]


CHANGE_REPLIES = {'/antigena/manual': 'respond_manual_reply.json', '/tags/entities': 'tag_post_tid.json',
                  '/intelfeed': 'intelfeed_post.json', '/comments': 'comment_post_list.json',
                  '/acknowledge': 'ack_reply_unified_view.json', **EMAIL_CHANGE_REPLIES}


TABLE_RUNS = (BREACH_TABLE_RUNS + DEVICE_TABLE_RUNS + ENDPOINT_TABLE_RUNS + TAG_TABLE_RUNS + WATCH_TABLE_RUNS
              + AI_ANALYST_TABLE_RUNS + RESPOND_TABLE_RUNS + EMAIL_TABLE_RUNS)


# A Python repr or JSON in a cell: an opening bracket or brace (other than a markdown link), a quoted key or item,
# or a bare None/True/False.
REPR_CELL = re.compile(r'^[{\[(](?!.*\]\()|[{\[(,]\s*[\'"]|[\'"]\s*[:\]}]|(^|[\s,(])(None|True|False)($|[\s,)])')


def recorded_reply(request: Any, context: Any) -> Any:
    path, query = request.path, urllib.parse.urlsplit(request.url).query
    if request.method == 'POST':
        name = next((fixture for suffix, fixture in CHANGE_REPLIES.items() if path.endswith(suffix)), None)
        return load(name) if name else {'response': 'SUCCESS', 'aianalyst': 'SUCCESS'}
    if request.method == 'DELETE':
        return {'response': 'SUCCESS'}
    return load(next(fixture for prefix, fragment, fixture in RECORDED_GET_REPLIES
                     if path.startswith(prefix) and fragment in query))


def table_cells(markdown: str) -> list[str]:
    """Every data cell of every markdown table in a War Room text."""
    cells = []
    for line in markdown.splitlines():
        if line.startswith('|') and not re.fullmatch(r'\|(-+\|)+', line):
            cells += [cell.strip() for cell in re.split(r'(?<!\\)\|', line)[1:-1]]
    return cells


def test_table_runs_cover_every_command() -> None:
    """
    Given the table of commands run on recorded-shape replies
    When it is compared with the integration's commands
    Then every command is in it.
    """
    assert {command for command, _ in TABLE_RUNS} == set(Darktrace.COMMANDS) - NO_TABLE_COMMANDS


@pytest.mark.parametrize('value, looks_like_repr', [
    ("{'a': 1}", True), ('{"a": 1}', True), ("['x']", True), ('["x"]', True), ('None', True), ('True', True),
    ("x, 'y']", True), ('[Open in Darktrace](https://dt.example/#modelbreach/1)', False), ('alice (last seen x)', False),
    ('Nonesuch', False), ('true', False), ('Destination: rare.example, Port: 443', False),
])
def test_repr_cell_pattern(value: str, looks_like_repr: bool) -> None:
    """
    Given table cells that are and are not reprs or JSON
    When the pattern checks them
    Then it tells them apart (so the sweep below can fail).
    """
    assert bool(REPR_CELL.search(value)) is looks_like_repr


@pytest.mark.parametrize('command, args', TABLE_RUNS, ids=[f'{command}-{index}' for index, (command, _)
                                                           in enumerate(TABLE_RUNS)])
def test_no_table_cell_is_a_repr_or_json(client: Client, requests_mock: Any, mocker: Any, command: str,
                                         args: dict) -> None:
    """
    Given recorded-shape replies (with the shapes of current versions: summary objects, credential objects)
    When a command runs (at the time the recorded RESPOND actions were live)
    Then its War Room text has no cell that looks like a Python repr or JSON.
    """
    mocker.patch.object(Darktrace, 'now_ms', return_value=RESPOND_NOW_MS)
    requests_mock.register_uri(requests_mocking.ANY, re.compile(f'^{re.escape(BASE)}/'), json=recorded_reply)
    result = Darktrace.COMMANDS[command](client, args)
    cells = table_cells(result.readable_output)
    assert [cell for cell in cells if REPR_CELL.search(cell)] == []
    lines = [line for line in result.readable_output.splitlines() if not line.startswith('|')]
    assert [line for line in lines if REPR_CELL.search(line) and not line.startswith('#')] == []


@pytest.mark.parametrize('command, args, path, reply', [
    ('darktrace-get-model-breach', {'pbid': '7'}, '/modelbreaches', {'pbid': 7, 'triggeredComponents': [
        {'cid': 1, 'triggeredFilters': [{'filterType': 'Hostname', 'trigger': {}}, {'trigger': {'value': ['a', 'b']}}]}
    ]}),
    ('darktrace-get-model', {'uuid': MODEL_UUID}, '/models', {'uuid': MODEL_UUID, 'tags': [{'name': 'AP: C2'}, None],
                                                              'logic': {'data': [{'weight': 1}, 5]}}),
    ('darktrace-get-device', {'did': '3'}, '/devices', {'did': 3, 'tags': [{'tid': 1}, 'Admin', {'name': None}]}),
])
def test_sparse_or_odd_reply_values_stay_readable(client: Client, requests_mock: Any, command: str, args: dict,
                                                  path: str, reply: dict) -> None:
    """
    Given replies with missing names, objects where text was expected and lists where a value was expected
    When the command runs
    Then no table cell shows None or a repr.
    """
    requests_mock.get(f'{BASE}{path}', json=reply)
    cells = table_cells(Darktrace.COMMANDS[command](client, args).readable_output)
    assert cells and [cell for cell in cells if REPR_CELL.search(cell)] == []
