"""End-to-end tests of the instance: test-module, authentication failures, TLS, signing and argument checks across
commands, and the private token never showing.

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

import base64
import gc
import json
import weakref
from typing import Any
from urllib.parse import parse_qs

import pytest

import Darktrace
import xsoar_platform
from e2e_support import (AWKWARD, AWKWARD_SOURCE, ERROR_ENTRY_TYPE, LIMITED_PRIVATE_TOKEN, LIMITED_PUBLIC_TOKEN,
                         PRIVATE_TOKEN, PUBLIC_TOKEN, SIGNATURE_FORMS, WRONG_PRIVATE_TOKEN, assert_no_secret,
                         error_text, latest_run, only_request, outputs, params_for, run, run_params, statuses)
from emulator import Emulator


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


def test_test_module_succeeds_with_a_signed_status_request(emu: Emulator) -> None:
    """
    Given the emulated appliance and a valid token pair
    When test-module runs
    Then the War Room shows "ok" after one signed GET /status?fast=true that the appliance accepted.
    """
    assert run_params('test-module', params_for(emu)) == 'ok'
    request = only_request(emu, '/status')
    assert request['status'] == 200 and request['headers']['DTAPI-Token'] == PUBLIC_TOKEN
    assert request['query'] == 'fast=true'  # guide 2.38: the quick health check


@pytest.mark.parametrize(('command', 'args', 'path', 'wire_value', 'expected'), AWKWARD_CASES)
def test_awkward_values_are_signed_and_arrive_intact(emu: Emulator, command: str, args: dict[str, str], path: str,
                                                     wire_value: Any, expected: str) -> None:
    """
    Given an argument value full of characters that break encoding or signing
    When the command runs against the appliance, which verifies the signature over the received bytes
    Then the appliance accepts the request and decodes exactly the value that was given.
    """
    entry = run_params(command, params_for(emu), **args)
    assert isinstance(entry, dict) and entry['Type'] != ERROR_ENTRY_TYPE, entry  # the signature held
    request = only_request(emu, path)
    assert request['status'] == 200
    assert wire_value(request) == expected


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
    assert fragment in error_text(run_params(command, params_for(emu), **args))
    assert emu.request_log() == []


def test_wrong_private_token_gives_the_signature_message(emu: Emulator) -> None:
    """
    Given a known public token with the wrong private token
    When test-module runs
    Then the War Room says the signature was rejected and to check the token pair.
    """
    text = error_text(run_params('test-module', params_for(emu, private_api_token=WRONG_PRIVATE_TOKEN)))
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
        text = error_text(run_params('test-module', params_for(emu)))
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
        assert run_params('test-module', params_for(emu)) == 'ok'
    finally:
        emu.shift_clock(-29 * 60)


def test_token_pair_without_permission_gives_the_permission_message(emu: Emulator) -> None:
    """
    Given a token pair whose user may read tags only
    When test-module runs (GET /status, answered with a redirect to /403)
    Then the War Room says the token's user lacks a permission and to grant it.
    """
    params = params_for(emu, public_api_token=LIMITED_PUBLIC_TOKEN, private_api_token=LIMITED_PRIVATE_TOKEN)
    text = error_text(run_params('test-module', params))
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


def test_tls_with_insecure_trusts_the_self_signed_certificate(tls_emu: Emulator) -> None:
    """
    Given the appliance served over HTTPS with a self-signed certificate
    When test-module runs with "Trust any certificate"
    Then it succeeds over TLS.
    """
    assert tls_emu.url.startswith('https://')
    assert run_params('test-module', params_for(tls_emu, insecure=True)) == 'ok'


def test_tls_without_insecure_gives_the_tls_message(tls_emu: Emulator) -> None:
    """
    Given the appliance served over HTTPS with a certificate this machine does not trust
    When test-module runs with certificate verification on
    Then the War Room says TLS verification failed and how to fix it, and no request reached the appliance.
    """
    tls_emu.clear_log()
    text = error_text(run_params('test-module', params_for(tls_emu, insecure=False)))
    assert 'TLS verification' in text and 'Trust any certificate' in text
    assert tls_emu.request_log() == []


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
        run_params(command, params, **args)  # checks every entry and log line for the private tokens
    fetch_params = {**ok, 'isFetch': True, 'max_alerts': '5', 'first_fetch': '1 day', 'min_score': '0'}
    failures: list[str] = []
    for params in (fetch_params, {**fetch_params, 'private_api_token': WRONG_PRIVATE_TOKEN}):
        result = xsoar_platform.run_fetch_cycle(params)
        if result.error is not None:  # a failed fetch raises, as on the platform
            failures.append(result.error)
        assert_no_secret(result.incidents, result.record.last_run, result.logs)
    # The good pair fetched without error and the wrong one failed: both paths were really scanned.
    assert len(failures) == 1 and 'API SIGNATURE ERROR' in failures[0], failures
    assert_no_secret(failures)


@pytest.mark.parametrize('command, args, fragment', [
    ('darktrace-get-model-breach', {'pbid': '1/../../status'}, '"pbid"'),
    ('darktrace-list-model-breaches', {'min_score': '150'}, 'from 0 to 100'),
    ('darktrace-list-model-breaches', {'start_time': '2024-02-01', 'end_time': '2024-01-01'}, 'is before'),
    ('darktrace-get-model', {'uuid': 'x&pid=1'}, 'model UUID'),
    ('darktrace-search-devices', {'limit': '5000'}, 'from 1 to 1000'),
    ('darktrace-get-ai-analyst-incident-group', {}, 'exactly one of'),
    ('darktrace-remove-from-watched-list', {'endpointsToRemove': 'not a host'}, '"not a host"'),
])
def test_bad_arguments_send_nothing(emu: Emulator, command: str, args: dict[str, str], fragment: str) -> None:
    """
    Given an argument the command refuses
    When the command runs through main()
    Then an error entry names the argument and the appliance receives no request.
    """
    entry = run(emu, command, **args)
    assert entry['Type'] == ERROR_ENTRY_TYPE and fragment in entry['Contents']
    assert emu.request_log() == []


@pytest.mark.parametrize('signature_form', SIGNATURE_FORMS)
def test_advanced_search_and_a_watch_list_description_with_spaces(emu: Emulator, signature_form: str) -> None:
    """
    Given any signature form
    When an Advanced Search runs (base64 in the path) and an entry with a description with spaces is watched
    (a JSON body)
    Then each is signed exactly as sent and accepted in one request.
    """
    emu.set_settings(signature_form=signature_form)
    result = outputs(run(emu, 'darktrace-run-advanced-search-analysis', initialDate='2020-01-01',
                         initialTime='00:00:00', endDate='2030-01-01', endTime='00:00:00', query='@type:ssl AND x y',
                         operation='terms', metric='@fields.server_name'))
    assert result['query'] == '@type:ssl AND x y'
    (search,) = emu.request_log()
    assert search['status'] == 200
    assert json.loads(base64.b64decode(search['path'].rsplit('/', 1)[1]))['search'] == '@type:ssl AND x y'
    emu.clear_log()
    outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='phish.example.com',
                description='Phishing campaign, seen by two analysts'))
    assert statuses(emu, '/intelfeed') == [200]
    assert emu.dataset.watched['phish.example.com'].description == 'Phishing campaign, seen by two analysts'


def test_the_remembered_signing_form_is_used_next_time(emu: Emulator) -> None:
    """
    Given an appliance that takes only encoded signatures and an instance that has never talked to it
    When a command needs the fallback, and then other commands run with the integration context it left
    Then the first takes two requests and stores 'encoded'; the later ones take one request each.
    """
    emu.set_settings(signature_form='encoded')
    outputs(run(emu, 'darktrace-get-tagged-devices', tagName='Active Threat'))
    assert statuses(emu, '/tags/entities') == [400, 200]
    context = latest_run().integration_context
    assert context == {'signingForm': 'encoded'}
    emu.clear_log()
    outputs(run(emu, 'darktrace-get-tagged-devices', context=context, tagName='Active Threat'))
    outputs(run(emu, 'darktrace-search-devices', context=context, query='hostname:"srv*"', limit='1'))
    assert [entry['status'] for entry in emu.request_log()] == [200, 200]


def test_a_finished_client_is_freed_with_what_it_refers_to() -> None:
    """
    Given a client that has sent a request over a real socket (its connections bound to its deadline)
    When the command is over and nothing refers to the client any more
    Then the client is freed: the connection classes bound to its deadline do not keep it, its session and the
    platform's log functions alive (a fetch benchmark kept every run's client and log, hundreds of MiB).
    """
    with Emulator(breaches=5, span_days=1, seed=3) as emulator:
        finished = Darktrace.Client(emulator.url, emulator.public_token, emulator.private_token, retry_budget_s=0)
        finished.get_status()
        freed = weakref.ref(finished)
        del finished
        gc.collect()
        assert freed() is None
