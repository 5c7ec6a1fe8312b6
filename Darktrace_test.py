"""Unit tests of the Darktrace integration: signing, error mapping, every command, fetch and main().

Replies come from recorded-shape fixtures in test_data/; HTTP is intercepted with requests_mock.
Only the platform's public names are used, so these tests also pass with the real platform modules.
"""
import json
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

import demistomock as demisto
from CommonServerPython import CommandResults, DemistoException, IncidentSeverity

import Darktrace
from Darktrace import (Client, DarktraceApiError, FetchSettings, dtapi_signature, encode_query, fetch_incidents,
                       iso_times, ms_to_iso)

BASE = 'https://dt.example'
PUBLIC = 'unit-public'
PRIVATE = 'unit-private-SECRET-7f3a'
TEST_DATA = Path(__file__).parent / 'test_data'


def load(name: str) -> Any:
    return json.loads((TEST_DATA / name).read_text())


@pytest.fixture
def client() -> Client:
    return Client(f'{BASE}/', PUBLIC, PRIVATE, retry_budget_s=0)


def context_key(result: CommandResults) -> str:
    """The one EntryContext key of a result, e.g. 'Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId)'."""
    (key,) = result.to_context()['EntryContext']
    return key


def assert_signed(request: Any, body: bytes | None = None) -> None:
    """The request carries a valid DTAPI signature over exactly its wire target (and body for a POST)."""
    target = request.path_url
    if body is not None:
        assert request.body == body
        target = f'{urllib.parse.urlsplit(request.url).path}?{body.decode()}'
    expected = dtapi_signature(PRIVATE, PUBLIC, target, request.headers['DTAPI-Date'])
    assert request.headers['DTAPI-Token'] == PUBLIC
    assert request.headers['DTAPI-Signature'] == expected


# --- signing -------------------------------------------------------------------------------------

@pytest.mark.parametrize('public, private, target, date, signature', [
    ('test_public_token', 'test_private_token', '/devices', '2025-01-15 12:30:00',
     'e3c82b28eb735735b9d288d6d2d63b14cba2e008'),
    ('test_public_token', 'test_private_token', '/devices?aparam=aval&mparam=mval&zparam=zval', '2025-06-01 00:00:00',
     '2f247e5248b933fccf527bebc479248613c320a4'),
    ('test_public_token', 'test_private_token', '/modelbreaches/101/comments?{"message":"Test Comment","priority":"high"}',
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


AWKWARD_VALUES = ['Active Threat', 'a&b=c', 'x+y/z', '100%', 'say "hi" \'there\'', 'café – 東京', '?#[]@!$,;', '~._-']


@pytest.mark.parametrize('value', AWKWARD_VALUES)
def test_query_signature_covers_exactly_the_wire_target(client: Client, requests_mock: Any, value: str) -> None:
    """
    Given a tag name with spaces, reserved characters, quotes or non-ASCII text
    When the tagged devices are requested
    Then the signature covers exactly the path and query that went on the wire, and the value arrives intact.
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
    Then the body is percent-encoded once, the signature covers path?body, and the value decodes intact.
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


# --- error mapping ---------------------------------------------------------------------------------

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
    Given TLS verification is off and the TLS handshake still fails
    When a request is sent
    Then the failure is reported as a TLS failure, not a raw exception.
    """
    requests_mock.get(f'{BASE}/status', exc=requests.exceptions.SSLError('wrong version number'))
    with pytest.raises(DarktraceApiError) as raised:
        Client(BASE, PUBLIC, PRIVATE, verify=False).get_status()
    assert raised.value.kind == 'tls'


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


# --- helpers ---------------------------------------------------------------------------------------

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


# --- commands --------------------------------------------------------------------------------------

def test_get_similar_devices(client: Client, requests_mock: Any) -> None:
    """
    Given a device with two similar devices
    When darktrace-get-similar-devices runs
    Then the request asks for the did and count, context keys on deviceId and times are ISO.
    """
    requests_mock.get(f'{BASE}/similardevices', json=load('similar_devices.json'))
    result = Darktrace.get_similar_devices_command(client, {'did': '1', 'max_results': '2'})
    assert requests_mock.last_request.qs == {'did': ['1'], 'count': ['2']}
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
    assert requests_mock.last_request.qs == query
    assert result.outputs['endpoint'] == value
    assert context_key(result) == 'Darktrace.ExternalEndpointDetails(val.endpoint && val.endpoint == obj.endpoint)'
    assert shown in result.readable_output


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
    assert requests_mock.last_request.qs == {'did': ['1'], 'datatype': ['co'], 'odid': ['0']}
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
    assert requests_mock.last_request.qs == {
        'did': ['5'], 'datatype': ['sizeout'], 'externaldomain': ['cats.com'], 'odid': ['7'],
        'showallgraphdata': ['false'], 'similardevices': ['3'], 'fulldevicedetails': ['true']}
    assert 'No connection data' in result.readable_output


@pytest.mark.parametrize('operation, fixture, row', [
    ('score', 'advanced_search_score.json', '| 192.168.0.88 | 6314 |'),
    ('trend', 'advanced_search_trend.json', '| 192.168.0.88 | 6314 | 2.5 | 2022-12-10T09:00:00.000Z |'),
    ('terms', 'advanced_search_terms.json', '| 443 | 5000 |'),
    ('mean', 'advanced_search_mean.json', '| mean | 1234.5 |'),
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


def test_get_tagged_devices_full_details(client: Client, requests_mock: Any) -> None:
    """
    Given a tag on a device that has other tags
    When darktrace-get-tagged-devices runs
    Then context has the device with its other tags (not the queried one).
    """
    requests_mock.get(f'{BASE}/tags/entities', json=load('tagged_devices_full.json'))
    result = Darktrace.get_tagged_devices_command(client, {'tagName': 'Active Threat'})
    assert requests_mock.last_request.qs == {'tag': ['active threat'], 'fulldevicedetails': ['true']} \
        or requests_mock.last_request.qs == {'tag': ['Active Threat'], 'fulldevicedetails': ['true']}
    assert result.outputs == [{'deviceId': 1417, 'hostname': 'ws1', 'label': 'Finance laptop',
                               'credentials': ['alice@example.com'], 'otherTags': ['Admin']}]
    assert '| 1417 | ws1 | Finance laptop | alice@example.com | Admin |' in result.readable_output


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
    assert requests_mock.last_request.qs == {'did': ['1417']}
    assert result.outputs[0] == {'deviceId': 1417, 'tagId': 5, 'tagName': 'Active Threat',
                                 'tagDescription': 'Device is actively compromised', 'expiry': None}
    assert result.outputs[1]['expiry'] == '2024-06-01T12:00:00.000Z'
    assert context_key(result) == ('Darktrace.Device(val.deviceId && val.deviceId == obj.deviceId && '
                                   'val.tagName && val.tagName == obj.tagName)')


@pytest.mark.parametrize('fixture, tag_id', [('tag_post_tid.json', 57), ('tag_post_success.json', None)])
def test_post_tag_to_device_reply_variants(client: Client, requests_mock: Any, fixture: str, tag_id: int | None) -> None:
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


BAD_ARGUMENTS = [
    (Darktrace.get_similar_devices_command, {'did': '0', 'max_results': '2'}, '"did"'),
    (Darktrace.get_similar_devices_command, {'did': 'abc', 'max_results': '2'}, '"did"'),
    (Darktrace.get_similar_devices_command, {'did': '1&count=5', 'max_results': '2'}, '"did"'),
    (Darktrace.get_similar_devices_command, {'max_results': '2'}, 'Missing required argument "did"'),
    (Darktrace.get_similar_devices_command, {'did': '1', 'max_results': '301'}, 'from 1 to 300'),
    (Darktrace.get_similar_devices_command, {'did': '1', 'max_results': '0'}, 'from 1 to 300'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'url', 'endpoint_value': 'x.com'},
     'IP, hostname'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'IP', 'endpoint_value': 'cats.com'},
     'expected an IP address'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'hostname', 'endpoint_value': 'a b'},
     'host name'),
    (Darktrace.get_external_endpoint_details_command, {'endpoint_type': 'ip', 'endpoint_value': '1.2.3.4',
                                                       'devices': 'maybe'}, '"devices"'),
    (Darktrace.get_device_connection_info_command, {'did': '-1', 'data_type': 'co'}, '"did"'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'bytes'}, 'co, sizeout, sizein'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'co', 'external_domain': 'a/b'},
     '"external_domain"'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'co', 'destination_did': 'x'},
     '"destination_did"'),
    (Darktrace.get_device_connection_info_command, {'did': '1', 'data_type': 'co', 'num_similar_devices': '-2'},
     '"num_similar_devices"'),
    (Darktrace.run_advanced_search_analysis_command, {**{
        'initialDate': '2022/12/10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': 'q', 'operation': 'score', 'metric': 'm'}}, 'YYYY-MM-DD'),
    (Darktrace.run_advanced_search_analysis_command, {
        'initialDate': '2022-12-10', 'initialTime': '9am', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': 'q', 'operation': 'score', 'metric': 'm'}, 'HH:MM:SS'),
    (Darktrace.run_advanced_search_analysis_command, {
        'initialDate': '2022-02-30', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': 'q', 'operation': 'score', 'metric': 'm'}, 'not a real date'),
    (Darktrace.run_advanced_search_analysis_command, {
        'initialDate': '2022-12-11', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': 'q', 'operation': 'score', 'metric': 'm'}, 'before the start'),
    (Darktrace.run_advanced_search_analysis_command, {
        'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': 'q', 'operation': 'max', 'metric': 'm'}, 'mean, terms, trend, score'),
    (Darktrace.run_advanced_search_analysis_command, {
        'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': 'q', 'operation': 'score', 'metric': '../status'}, '"metric"'),
    (Darktrace.run_advanced_search_analysis_command, {
        'initialDate': '2022-12-10', 'initialTime': '09:00:00', 'endDate': '2022-12-10', 'endTime': '10:00:00',
        'query': '', 'operation': 'score', 'metric': 'm'}, '"query"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': ' , '}, '"endpointsToWatch"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com,not a host'}, '"not a host"'),
    (Darktrace.post_to_watched_list_command, {'endpointsToWatch': 'evil.com', 'description': 'x' * 256},
     'at most 255'),
    (Darktrace.get_tagged_devices_command, {'tagName': ''}, '"tagName"'),
    (Darktrace.get_tags_for_device_command, {'deviceId': '1.5'}, '"deviceId"'),
    (Darktrace.post_tag_to_device_command, {'deviceId': '3', 'tagName': ''}, '"tagName"'),
    (Darktrace.post_tag_to_device_command, {'deviceId': '3', 'tagName': 't', 'duration': '0'}, '"duration"'),
]


@pytest.mark.parametrize('command, args, fragment', BAD_ARGUMENTS)
def test_bad_arguments_are_refused_before_any_request(client: Client, requests_mock: Any, command: Any, args: dict,
                                                      fragment: str) -> None:
    """
    Given an argument outside what the command accepts
    When the command runs
    Then it raises a message naming the argument and the accepted form, and sends no request.
    """
    with pytest.raises(ValueError) as raised:
        command(client, args)
    assert fragment in str(raised.value)
    assert requests_mock.call_count == 0


# --- fetch -----------------------------------------------------------------------------------------

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


class FakeAppliance:
    """An in-memory /modelbreaches with the appliance's filters, for fetch unit tests."""

    def __init__(self, breaches: list[dict[str, Any]], order: str = 'desc', inclusive: bool = True) -> None:
        self.breaches = breaches
        self.order = order
        self.inclusive = inclusive
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0

    def get_model_breaches(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.requests.append(params)
        if self.fail_next:
            self.fail_next -= 1
            raise DarktraceApiError('unavailable', 'appliance down')
        start, end = params['starttime'], params['endtime']
        field = 'creationTime' if params.get('creationtime') else 'time'
        within = (lambda t: start <= t <= end) if self.inclusive else (lambda t: start < t < end)
        minimum = float(params.get('minscore') or 0)
        found = [b for b in self.breaches if within(b[field]) and b['score'] >= minimum]
        found.sort(key=lambda b: b[field], reverse=self.order == 'desc')
        return found


def drain(appliance: FakeAppliance, fetch_settings: FetchSettings, now: int = NOW_MS,
          runs: int = 500) -> list[dict[str, Any]]:
    last_run: dict[str, Any] = {}
    incidents: list[dict[str, Any]] = []
    for _ in range(runs):
        last_run, new = fetch_incidents(appliance, last_run, fetch_settings, now)
        json.dumps(last_run)
        incidents.extend(new)
        if not new and last_run['start_ms'] >= now - Darktrace.SETTLE_MS:
            break
    return incidents


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
    incidents = drain(FakeAppliance(breaches, order, inclusive), settings())
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
    Then the run raises, so the platform keeps the previous lastRun and nothing is lost.
    """
    appliance = FakeAppliance([])
    appliance.fail_next = 0
    original = appliance.get_model_breaches
    calls = {'n': 0}

    def flaky(params: dict[str, Any]) -> list[dict[str, Any]]:
        calls['n'] += 1
        if calls['n'] == 2:
            raise DarktraceApiError('unavailable', 'appliance down')
        return original(params)

    appliance.get_model_breaches = flaky  # type: ignore[method-assign]
    with pytest.raises(DarktraceApiError):
        fetch_incidents(appliance, {}, settings(first_fetch_ms=NOW_MS - 7 * 24 * HOUR_MS), NOW_MS)


def test_incident_shape() -> None:
    """
    Given a critical breach
    When it becomes an incident
    Then name, occurred (from time), severity, details, rawJSON and dbotMirrorId follow the documented rules.
    """
    breach = load('model_breaches.json')[0]
    incident = Darktrace.breach_to_incident(breach)
    assert incident['name'] == 'Darktrace Model Breach 30960: Compromise::Watched Domain'
    assert incident['occurred'] == '2023-01-24T01:04:25.000Z'
    assert incident['severity'] == IncidentSeverity.HIGH
    assert 'Compromise::Watched Domain was triggered.' in incident['details'] and 'ws1' in incident['details']
    assert json.loads(incident['rawJSON']) == breach
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
    ('3 days', NOW_MS - 3 * 24 * HOUR_MS),
])
def test_first_fetch_forms(first_fetch: str, expected_ms: int, mocker: Any) -> None:
    """
    Given first_fetch as epoch seconds, epoch milliseconds, an ISO date or a relative time
    When the fetch settings are read
    Then the start is in epoch milliseconds.
    """
    result = FetchSettings.from_params({'first_fetch': first_fetch}, NOW_MS + 10 ** 12)
    if first_fetch == '3 days':
        result = FetchSettings.from_params({'first_fetch': first_fetch}, NOW_MS)
        assert abs(result.first_fetch_ms - expected_ms) < 24 * HOUR_MS * 400  # relative to the real clock
        return
    assert result.first_fetch_ms == expected_ms


def test_fetch_settings_defaults() -> None:
    """
    Given no fetch parameters
    When the fetch settings are read
    Then max_alerts is 50, acknowledged breaches are included, and the first fetch is in the past.
    """
    result = FetchSettings.from_params({}, NOW_MS)
    assert result.max_alerts == 50 and result.include_acknowledged is True and result.min_score == 0
    assert result.first_fetch_ms <= NOW_MS


# --- main ------------------------------------------------------------------------------------------

PARAMS = {'url': BASE, 'public_api_token': PUBLIC, 'private_api_token': {'password': PRIVATE}, 'min_score': '0'}


def run_main(mocker: Any, command: str, args: dict | None = None, params: dict | None = None) -> Any:
    mocker.patch.object(demisto, 'command', return_value=command)
    mocker.patch.object(demisto, 'params', return_value=params or PARAMS)
    mocker.patch.object(demisto, 'args', return_value=args or {})
    results = mocker.patch.object(Darktrace, 'return_results')
    error = mocker.patch.object(Darktrace, 'return_error')
    Darktrace.main()
    return results, error


def test_main_test_module_ok(mocker: Any, requests_mock: Any) -> None:
    """
    Given valid parameters
    When test-module runs
    Then it calls /status and returns ok.
    """
    requests_mock.get(f'{BASE}/status', json=load('status.json'))
    results, error = run_main(mocker, 'test-module')
    results.assert_called_once_with('ok')
    error.assert_not_called()
    assert requests_mock.last_request.path_url == '/status'


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
