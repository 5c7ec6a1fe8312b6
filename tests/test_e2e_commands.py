"""End-to-end tests of test-module and the eight core commands, over real HTTP against the emulator.

Each command runs through `Darktrace.main()` with the XSOAR stand-ins, exactly as the platform
runs it; the emulator verifies every DTAPI signature the way an appliance does, and its request
log shows what reached the wire. Every run is also checked for the private token: it must never
appear in a War Room entry or a log line.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest

import Darktrace
import xsoar_platform
from emulator import Emulator

ERROR_ENTRY_TYPE = 4
PUBLIC_TOKEN = 'e2e-public-token'
PRIVATE_TOKEN = 'e2e-private-9c41f7d2b8a6'
WRONG_PRIVATE_TOKEN = 'e2e-wrong-private-5d0e3a91c2'
LIMITED_PUBLIC_TOKEN = 'e2e-limited-public'
LIMITED_PRIVATE_TOKEN = 'e2e-limited-private-7b2e90'
SECRETS = (PRIVATE_TOKEN, WRONG_PRIVATE_TOKEN, LIMITED_PRIVATE_TOKEN)

# Characters that break naive encoding or signing: spaces, the query delimiters & = + / %, both
# quotes, Latin accents, a symbol outside Latin-1 and CJK (multi-byte UTF-8).
AWKWARD = 'Zoë & "Team" = a+b/c 100% \'q\' ✓ 東京'
AWKWARD_SOURCE = 'src & =+/% "é"'  # the appliance takes source names shorter than 64 characters
CRITICAL_ASSET_TID = 54


@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(breaches=300, span_days=7, seed=3) as emulator:
        emulator.add_token_pair(PUBLIC_TOKEN, PRIVATE_TOKEN)
        emulator.add_token_pair(LIMITED_PUBLIC_TOKEN, LIMITED_PRIVATE_TOKEN, {'tags'})
        yield emulator


@pytest.fixture(scope='module')
def tls_emu() -> Iterator[Emulator]:
    with Emulator(breaches=20, span_days=1, seed=3, tls=True) as emulator:
        emulator.add_token_pair(PUBLIC_TOKEN, PRIVATE_TOKEN)
        yield emulator


@pytest.fixture(autouse=True)
def fresh_log(emu: Emulator) -> None:
    emu.clear_log()


def params_for(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {'url': emu.url, 'public_api_token': PUBLIC_TOKEN, 'private_api_token': PRIVATE_TOKEN,
                              'insecure': False, 'proxy': False, 'retry_budget_seconds': '5'}
    params.update(overrides)
    return params


def run(command: str, params: dict[str, Any], **args: str) -> Any:
    """Run one command through main() and return its one War Room entry, after checking no secret leaked."""
    platform_run = xsoar_platform.start_run(command=command, params=params, args=args)
    try:
        Darktrace.main()
    except SystemExit as exited:  # return_error ends a failed command with exit code 0, as on the platform
        assert exited.code in (0, None), f'{command} exited with {exited.code!r}'
    assert_no_secret(platform_run.results, platform_run.logs)
    (entry,) = platform_run.results
    return entry


def assert_no_secret(*values: Any) -> None:
    text = json.dumps(values, default=str)
    for secret in SECRETS:
        assert secret not in text


def outputs(entry: Any) -> Any:
    """The command's context outputs (its one EntryContext value); fails on an error entry."""
    assert isinstance(entry, dict) and entry['Type'] != ERROR_ENTRY_TYPE, entry
    (value,) = entry['EntryContext'].values()
    return value


def error_text(entry: Any) -> str:
    assert isinstance(entry, dict) and entry['Type'] == ERROR_ENTRY_TYPE, entry
    return entry['Contents']


def only_request(emu: Emulator, path_prefix: str) -> dict[str, Any]:
    requests = [entry for entry in emu.request_log() if entry['path'].startswith(path_prefix)]
    assert len(requests) == 1, requests
    return requests[0]


# --- test-module and the eight commands ---------------------------------------------------------------

def test_test_module_succeeds_with_a_signed_status_request(emu: Emulator) -> None:
    """
    Given the emulated appliance and a valid token pair
    When test-module runs
    Then the War Room shows "ok" after one signed GET /status that the appliance accepted.
    """
    assert run('test-module', params_for(emu)) == 'ok'
    request = only_request(emu, '/status')
    assert request['status'] == 200 and request['headers']['DTAPI-Token'] == PUBLIC_TOKEN


def test_get_similar_devices(emu: Emulator) -> None:
    """
    Given a device with a similarity ranking on the appliance
    When darktrace-get-similar-devices asks for three
    Then context holds the three most similar devices, in the appliance's order, with ISO times.
    """
    result = outputs(run('darktrace-get-similar-devices', params_for(emu), did='1', max_results='3'))
    expected = [did for did, _ in emu.dataset.similar[1][:3]]
    assert result['deviceId'] == 1
    assert [device['did'] for device in result['devices']] == expected
    assert all(device['lastSeen'].endswith('Z') for device in result['devices'])
    assert parse_qs(only_request(emu, '/similardevices')['query']) == {'did': ['1'], 'count': ['3']}


def test_get_external_endpoint_details_by_hostname(emu: Emulator) -> None:
    """
    Given an external host name the appliance knows, contacted by some devices
    When darktrace-get-external-endpoint-details runs with devices, additional info and score
    Then context has the first-seen time in ISO, the devices that contacted it and its popularity.
    """
    endpoint = emu.dataset.endpoints['cats.com']
    result = outputs(run('darktrace-get-external-endpoint-details', params_for(emu), endpoint_type='hostname',
                         endpoint_value='cats.com', devices='true', additional_info='true', score='true'))
    assert result['endpoint'] == 'cats.com' and result['firsttime'].endswith('Z')
    assert [device['did'] for device in result['devices']] == endpoint['devices']
    assert result['popularity'] == 100 - endpoint['rarity']
    assert result['ips'][0]['ip'] == endpoint['ip']


def test_get_external_endpoint_details_by_ip(emu: Emulator) -> None:
    """
    Given an external IP address the appliance knows
    When darktrace-get-external-endpoint-details runs for it
    Then context has its location and autonomous system.
    """
    result = outputs(run('darktrace-get-external-endpoint-details', params_for(emu), endpoint_type='IP',
                         endpoint_value='203.0.113.10'))
    assert result['ip'] == '203.0.113.10' and result['country'] == 'United States'
    assert result['asn'].startswith('AS14618')


def test_get_device_connection_info(emu: Emulator) -> None:
    """
    Given a server on the appliance
    When darktrace-get-device-connection-info runs for connections with one similar device
    Then context holds an entry for the device and one for its most similar device, with ISO graph times.
    """
    result = outputs(run('darktrace-get-device-connection-info', params_for(emu), did='3', data_type='co',
                         num_similar_devices='1'))
    assert result['did'] == 3 and result['dataType'] == 'co'
    assert [entry['did'] for entry in result['deviceInfo']] == [3, emu.dataset.similar[3][0][0]]
    assert result['deviceInfo'][0]['graphData'] and all(
        point['time'].endswith('Z') for point in result['deviceInfo'][0]['graphData'])


def test_run_advanced_search_analysis(emu: Emulator) -> None:
    """
    Given the appliance's Advanced Search logs for a morning
    When darktrace-run-advanced-search-analysis counts SSL server names (terms)
    Then context holds buckets whose values are external host names, and the window asked for.
    """
    result = outputs(run('darktrace-run-advanced-search-analysis', params_for(emu), initialDate='2024-06-03',
                         initialTime='08:00:00', endDate='2024-06-03', endTime='12:00:00', query='@type:ssl',
                         operation='terms', metric='@fields.server_name'))
    buckets = result['aggregations']['terms']['buckets']
    assert buckets and all(bucket['key'] in emu.dataset.endpoints for bucket in buckets)
    assert result['from'] == '2024-06-03T08:00:00Z' and result['to'] == '2024-06-03T12:00:00Z'


def test_post_to_watched_list(emu: Emulator) -> None:
    """
    Given an endpoint that is not watched
    When darktrace-post-to-watched-list adds it with a description, a source and an expiry
    Then context says it is watched and the appliance holds it with those details.
    """
    result = outputs(run('darktrace-post-to-watched-list', params_for(emu), endpointsToWatch='watch-me.example.com',
                         description='Seen in a phishing campaign', source='XSOAR', expiry='in 30 days'))
    (watched,) = result
    expiry = datetime.fromisoformat(watched.pop('expiry').replace('Z', '+00:00'))
    assert watched == {'endpoint': 'watch-me.example.com', 'Watched': True,
                       'description': 'Seen in a phishing campaign', 'source': 'XSOAR'}
    assert abs(expiry - (datetime.now(timezone.utc) + timedelta(days=30))) < timedelta(hours=1)
    entry = emu.dataset.watched['watch-me.example.com']
    assert entry.description == 'Seen in a phishing campaign' and entry.source == 'XSOAR'
    assert entry.expiry == expiry.strftime('%Y-%m-%dT%H:%M:%SZ')


def test_get_tagged_devices(emu: Emulator) -> None:
    """
    Given a tag linked to several servers
    When darktrace-get-tagged-devices runs for it
    Then context lists exactly the linked devices, with their other tags apart from this one.
    """
    expected = [link.did for link in emu.dataset.tag_links_for(CRITICAL_ASSET_TID, emu.now_ms())]
    result = outputs(run('darktrace-get-tagged-devices', params_for(emu), tagName='Critical Asset'))
    assert [device['deviceId'] for device in result] == expected
    assert all('Critical Asset' not in device['otherTags'] for device in result)


def test_get_tags_for_device(emu: Emulator) -> None:
    """
    Given a device with tags
    When darktrace-get-tags-for-device runs for it
    Then context lists its tags by id and name.
    """
    did = next(link.did for link in emu.dataset.tag_links_for(CRITICAL_ASSET_TID, emu.now_ms()))
    expected = [(tag['tid'], tag['name']) for tag in emu.dataset.device_tags(did, emu.now_ms())]
    result = outputs(run('darktrace-get-tags-for-device', params_for(emu), deviceId=str(did)))
    assert [(tag['tagId'], tag['tagName']) for tag in result] == expected
    assert all(tag['deviceId'] == did for tag in result)


def test_post_tag_to_device_then_read_it_back(emu: Emulator) -> None:
    """
    Given a device without the "Admin" tag
    When darktrace-post-tag-to-device adds it for an hour, and darktrace-get-tags-for-device runs
    Then the appliance links the tag to the device for that hour, and the device's tags include it.
    """
    did = 6
    admin = emu.dataset.tag_by_name('Admin')
    assert admin is not None
    emu.dataset.unlink_tag(admin['tid'], did)
    before_ms = emu.now_ms()
    result = outputs(run('darktrace-post-tag-to-device', params_for(emu), deviceId=str(did), tagName='Admin',
                         duration='3600'))
    assert result == {'deviceId': did, 'tagId': admin['tid'], 'tagName': 'Admin', 'response': 'SUCCESS'}
    assert parse_qs(only_request(emu, '/tags/entities')['body'])['duration'] == ['3600']
    (link,) = [link for link in emu.dataset.tag_links_for(admin['tid'], emu.now_ms()) if link.did == did]
    assert before_ms + 3_600_000 <= link.expiry <= emu.now_ms() + 3_600_000
    tags = outputs(run('darktrace-get-tags-for-device', params_for(emu), deviceId=str(did)))
    assert 'Admin' in [tag['tagName'] for tag in tags]


# --- awkward values reach the appliance intact, and signed ----------------------------------------------

def _form_value(name: str) -> Any:
    return lambda request: parse_qs(request['body'])[name][0]


def _query_value(name: str) -> Any:
    return lambda request: parse_qs(request['query'])[name][0]


def _json_value(name: str) -> Any:
    return lambda request: json.loads(request['body'])[name]


def _search_text(request: dict[str, Any]) -> str:
    # /advancedsearch/api/analyze/<metric>/<operation>/<base64>, and base64 may itself hold "/".
    encoded = request['path'].split('/', 6)[6]
    return json.loads(base64.b64decode(encoded))['search']


SEARCH_WINDOW = {'initialDate': '2024-06-03', 'initialTime': '08:00:00', 'endDate': '2024-06-03',
                 'endTime': '09:00:00', 'operation': 'terms', 'metric': '@fields.server_name'}
AWKWARD_CASES = [
    pytest.param('darktrace-post-tag-to-device', {'deviceId': '2', 'tagName': AWKWARD}, '/tags/entities',
                 _form_value('tag'), AWKWARD, id='post-tag tagName (form body)'),
    pytest.param('darktrace-get-tagged-devices', {'tagName': AWKWARD}, '/tags/entities',
                 _query_value('tag'), AWKWARD, id='get-tagged tagName (query)'),
    pytest.param('darktrace-post-to-watched-list', {'endpointsToWatch': 'awkward.example.com', 'description': AWKWARD},
                 '/intelfeed', _json_value('description'), AWKWARD, id='watched-list description (JSON body)'),
    pytest.param('darktrace-post-to-watched-list', {'endpointsToWatch': 'awkward.example.com',
                                                    'source': AWKWARD_SOURCE},
                 '/intelfeed', _json_value('source'), AWKWARD_SOURCE, id='watched-list source (JSON body)'),
    pytest.param('darktrace-run-advanced-search-analysis', {**SEARCH_WINDOW, 'query': f'@fields.uri:"{AWKWARD}"'},
                 '/advancedsearch/', _search_text, f'@fields.uri:"{AWKWARD}"', id='advanced search query (path)'),
    # Host names are validated before sending, so these carry the most awkward characters a host name may hold.
    pytest.param('darktrace-get-device-connection-info', {'did': '3', 'data_type': 'co',
                                                          'external_domain': 'xn--caf-dma_x-1.example.com'},
                 '/deviceinfo', _query_value('externaldomain'), 'xn--caf-dma_x-1.example.com',
                 id='connection-info external_domain (query)'),
    pytest.param('darktrace-get-external-endpoint-details', {'endpoint_type': 'hostname',
                                                             'endpoint_value': 'Under_Score-1.example.com.'},
                 '/endpointdetails', _query_value('hostname'), 'Under_Score-1.example.com.',
                 id='endpoint-details hostname (query)'),
]


@pytest.mark.parametrize(('command', 'args', 'path', 'wire_value', 'expected'), AWKWARD_CASES)
def test_awkward_values_are_signed_and_arrive_intact(emu: Emulator, command: str, args: dict[str, str], path: str,
                                                     wire_value: Any, expected: str) -> None:
    """
    Given an argument value full of characters that break encoding or signing
    When the command runs against the appliance, which verifies the signature over the received bytes
    Then the appliance accepts the request and decodes exactly the value that was given.
    """
    entry = run(command, params_for(emu), **args)
    assert isinstance(entry, dict) and entry['Type'] != ERROR_ENTRY_TYPE, entry  # the signature held
    request = only_request(emu, path)
    assert request['status'] == 200
    assert wire_value(request) == expected


def test_awkward_tag_name_is_created_verbatim_on_the_appliance(emu: Emulator) -> None:
    """
    Given a tag name full of awkward characters
    When darktrace-post-tag-to-device applies it and darktrace-get-tagged-devices reads it back
    Then the appliance holds a tag with exactly that name on the device, and it is found by that name.
    """
    did = 9
    # A name no other test uses, so the tag is created here whatever order the tests run in.
    name = f'{AWKWARD} #verbatim'
    assert emu.dataset.tag_by_name(name) is None
    outputs(run('darktrace-post-tag-to-device', params_for(emu), deviceId=str(did), tagName=name))
    tag = emu.dataset.tag_by_name(name)
    assert tag is not None and tag['name'] == name
    assert did in [link.did for link in emu.dataset.tag_links_for(tag['tid'], emu.now_ms())]
    result = outputs(run('darktrace-get-tagged-devices', params_for(emu), tagName=name))
    assert did in [device['deviceId'] for device in result]


@pytest.mark.parametrize(('command', 'args', 'fragment'), [
    ('darktrace-get-device-connection-info', {'did': '3', 'data_type': 'co', 'external_domain': 'a&b=c.example.com'},
     'Invalid "external_domain"'),
    ('darktrace-get-external-endpoint-details', {'endpoint_type': 'hostname', 'endpoint_value': 'x/y%z.example.com'},
     'Invalid "endpoint_value"'),
])
def test_host_name_arguments_with_delimiters_are_refused_before_sending(emu: Emulator, command: str,
                                                                        args: dict[str, str], fragment: str) -> None:
    """
    Given a host name argument holding URL delimiters
    When the command runs
    Then the War Room shows which argument is invalid, and nothing is sent to the appliance.
    """
    assert fragment in error_text(run(command, params_for(emu), **args))
    assert emu.request_log() == []


# --- authentication failures, through test-module --------------------------------------------------------

def test_wrong_private_token_gives_the_signature_message(emu: Emulator) -> None:
    """
    Given a known public token with the wrong private token
    When test-module runs
    Then the War Room says the signature was rejected and to check the token pair.
    """
    text = error_text(run('test-module', params_for(emu, private_api_token=WRONG_PRIVATE_TOKEN)))
    assert 'API SIGNATURE ERROR' in text and 'public and private API tokens' in text
    assert only_request(emu, '/status')['status'] == 400


@pytest.mark.parametrize('minutes', [31, -31])
def test_clock_difference_beyond_30_minutes_gives_the_date_message(emu: Emulator, minutes: int) -> None:
    """
    Given the appliance's clock more than 30 minutes ahead of, or behind, this machine's
    When test-module runs
    Then the War Room says the request date was rejected and to synchronise the clocks.
    """
    emu.shift_clock(minutes * 60)
    try:
        text = error_text(run('test-module', params_for(emu)))
    finally:
        emu.shift_clock(-minutes * 60)
    assert 'API DATE ERROR' in text and 'more than 30 minutes' in text


def test_clock_difference_within_30_minutes_is_accepted(emu: Emulator) -> None:
    """
    Given the appliance's clock 29 minutes ahead of this machine's
    When test-module runs
    Then it succeeds.
    """
    emu.shift_clock(29 * 60)
    try:
        assert run('test-module', params_for(emu)) == 'ok'
    finally:
        emu.shift_clock(-29 * 60)


def test_token_pair_without_permission_gives_the_permission_message(emu: Emulator) -> None:
    """
    Given a token pair whose user may read tags only
    When test-module runs (GET /status, answered with a redirect to /403)
    Then the War Room says the token's user lacks a permission and to grant it.
    """
    params = params_for(emu, public_api_token=LIMITED_PUBLIC_TOKEN, private_api_token=LIMITED_PRIVATE_TOKEN)
    text = error_text(run('test-module', params))
    assert 'redirect to /403' in text and 'lacks the permission' in text
    assert only_request(emu, '/status')['status'] == 302


def test_unknown_endpoint_gives_the_login_redirect_message(emu: Emulator) -> None:
    """
    Given a correctly signed request for an endpoint the appliance does not have (test-module only
    calls /status, which every appliance has, so this is sent by the integration's Client directly)
    When the appliance answers with a redirect to /login
    Then the error says the appliance does not know the endpoint and to check URL and version.
    """
    client = Darktrace.Client(emu.url, PUBLIC_TOKEN, PRIVATE_TOKEN, retry_budget_s=5)
    with pytest.raises(Darktrace.DarktraceApiError) as raised:
        client.request('GET', '/no-such-endpoint', {'x': 'y'})
    assert raised.value.kind == 'login_redirect' and 'login page' in str(raised.value)
    assert only_request(emu, '/no-such-endpoint')['status'] == 302
    assert_no_secret(str(raised.value))


# --- TLS ---------------------------------------------------------------------------------------------------

def test_tls_with_insecure_trusts_the_self_signed_certificate(tls_emu: Emulator) -> None:
    """
    Given the appliance served over HTTPS with a self-signed certificate
    When test-module runs with "Trust any certificate"
    Then it succeeds over TLS.
    """
    assert tls_emu.url.startswith('https://')
    assert run('test-module', params_for(tls_emu, insecure=True)) == 'ok'


def test_tls_without_insecure_gives_the_tls_message(tls_emu: Emulator) -> None:
    """
    Given the appliance served over HTTPS with a certificate this machine does not trust
    When test-module runs with certificate verification on
    Then the War Room says TLS verification failed and how to fix it, and no request reached the appliance.
    """
    tls_emu.clear_log()
    text = error_text(run('test-module', params_for(tls_emu, insecure=False)))
    assert 'TLS verification' in text and 'Trust any certificate' in text
    assert tls_emu.request_log() == []


# --- the private token never shows -----------------------------------------------------------------------

def test_private_tokens_appear_in_no_entry_or_log_line(emu: Emulator) -> None:
    """
    Given every core command, test-module, and every authentication failure
    When they run, successfully or not
    Then no War Room entry, log line or error text contains any private token.
    """
    ok, wrong = params_for(emu), params_for(emu, private_api_token=WRONG_PRIVATE_TOKEN)
    limited = params_for(emu, public_api_token=LIMITED_PUBLIC_TOKEN, private_api_token=LIMITED_PRIVATE_TOKEN)
    runs = [('test-module', ok, {}), ('test-module', wrong, {}), ('test-module', limited, {}),
            ('darktrace-get-similar-devices', ok, {'did': '2', 'max_results': '2'}),
            ('darktrace-get-similar-devices', wrong, {'did': '2', 'max_results': '2'}),
            ('darktrace-get-external-endpoint-details', ok, {'endpoint_type': 'IP', 'endpoint_value': '192.0.2.15'}),
            ('darktrace-get-device-connection-info', ok, {'did': '4', 'data_type': 'sizeout'}),
            ('darktrace-run-advanced-search-analysis', ok, {**SEARCH_WINDOW, 'query': '@type:dns'}),
            ('darktrace-post-to-watched-list', limited, {'endpointsToWatch': 'no-permission.example.com'}),
            ('darktrace-get-tagged-devices', ok, {'tagName': 'Guest'}),
            ('darktrace-get-tags-for-device', ok, {'deviceId': '5'}),
            ('darktrace-post-tag-to-device', wrong, {'deviceId': '5', 'tagName': 'Guest'})]
    for command, params, args in runs:
        run(command, params, **args)  # checks every entry and log line for the private tokens
    fetch_params = {**ok, 'isFetch': True, 'max_alerts': '5', 'first_fetch': '1 day', 'min_score': '0'}
    failures: list[str] = []
    for params in (fetch_params, {**fetch_params, 'private_api_token': WRONG_PRIVATE_TOKEN}):
        platform_run = xsoar_platform.start_run(command='fetch-incidents', params=params)
        try:
            Darktrace.main()
        except Exception as error:  # a failed fetch raises, as on the platform
            failures.append(str(error))
        assert_no_secret(platform_run.incidents, platform_run.last_run, platform_run.logs)
    # The good pair fetched without error and the wrong one failed: both paths were really scanned.
    assert len(failures) == 1 and 'API SIGNATURE ERROR' in failures[0], failures
    assert_no_secret(failures)
