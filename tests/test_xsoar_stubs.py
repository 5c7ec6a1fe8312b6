"""The XSOAR stand-ins in ``xsoar_stubs/`` held to the platform's recorded behaviour.

``test_data/vectors.json`` is a copy of the platform's recorded inputs and outputs; every vector in
it is a test case here. The remaining tests cover the behaviour the platform README documents but
the vectors do not record (HTTP plumbing, return_results forms, the demistomock harness).
"""
from __future__ import annotations

import builtins
import json
import os
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock
import urllib3
from requests.adapters import HTTPAdapter

import CommonServerPython as csp
import demistomock as demisto
from CommonServerPython import (BaseClient, CommandResults, DemistoException, GetMappingFieldsResponse,
                                GetModifiedRemoteDataArgs, GetModifiedRemoteDataResponse,
                                GetRemoteDataArgs, GetRemoteDataResponse, IncidentSeverity,
                                IncidentStatus, SchemeTypeMapping, UpdateRemoteSystemArgs,
                                arg_to_datetime, argToList, handle_proxy, return_error,
                                return_results, tableToMarkdown, timestamp_to_datestring, urljoin)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / 'test_data' / 'vectors.json').read_text(encoding='utf-8'))

BASE_URL = 'https://127.0.0.1:8443'

# The text each simulated transport failure carries; the vectors fix the ones they show.
TRANSPORT_FAILURE_TEXT = {
    'ConnectionError': 'refused',
    'ReadTimeout': 'slow read',
    'ConnectTimeout': 'connect timed out',
}


@pytest.fixture(autouse=True)
def fresh_harness() -> Iterator[None]:
    """Every test starts from a brand-new instance with no command running."""
    demisto.harness_reset()
    yield
    demisto.harness_reset()


@pytest.fixture
def tokyo_local_time() -> Iterator[None]:
    """Run with the machine's local time zone set to Asia/Tokyo (UTC+9, no daylight saving)."""
    saved = os.environ.get('TZ')
    os.environ['TZ'] = 'Asia/Tokyo'
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ['TZ']
        else:
            os.environ['TZ'] = saved
        time.tzset()


# ---------------------------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------------------------

VECTOR_FAMILIES = ('tableToMarkdown', 'CommandResults.to_context', 'arg_helpers', 'BaseClient._http_request',
                   'return_error', 'mirroring', 'enums')


def test_every_vector_family_is_recorded() -> None:
    """
    Given: test_data/vectors.json
    When:  its families of recorded platform behaviour are counted
    Then:  each family the tests below are parametrized over holds vectors, so none of them is silently
           collected as an empty, skipped parametrization
    """
    assert {family: len(VECTORS.get(family) or ()) > 0 for family in VECTOR_FAMILIES} == \
        dict.fromkeys(VECTOR_FAMILIES, True)


@pytest.mark.parametrize('vector', VECTORS['tableToMarkdown'], ids=lambda v: v['case'])
def test_table_to_markdown_matches_platform(vector: dict[str, Any]) -> None:
    """
    Given: a table recorded from the platform's tableToMarkdown, with its keyword arguments
    When:  the stand-in renders the same table
    Then:  the markdown is identical, character for character
    """
    kwargs = dict(vector['kwargs'])
    if 'headerTransform' in kwargs:
        kwargs['headerTransform'] = getattr(csp, kwargs['headerTransform'])
    assert tableToMarkdown(vector['name'], vector['t'], **kwargs) == vector['output']


@pytest.mark.parametrize('vector', VECTORS['CommandResults.to_context'], ids=lambda v: v['case'])
def test_command_results_to_context_matches_platform(vector: dict[str, Any]) -> None:
    """
    Given: CommandResults keyword arguments recorded from the platform
    When:  the stand-in builds the war-room entry with to_context()
    Then:  the entry equals the platform's, key for key
    """
    assert CommandResults(**vector['kwargs']).to_context() == vector['output']


def _arg_helper_id(vector: dict[str, Any]) -> str:
    return '{}({})'.format(vector['function'], ', '.join(
        [repr(arg) for arg in vector['args']] + ['{}={!r}'.format(k, v) for k, v in vector['kwargs'].items()]))


@pytest.mark.parametrize('vector', VECTORS['arg_helpers'], ids=_arg_helper_id)
def test_arg_helpers_match_platform(vector: dict[str, Any]) -> None:
    """
    Given: an argument helper call recorded from the platform
    When:  the stand-in's helper of the same name is called with the same arguments
    Then:  it returns the same value, or raises the same exception type with the same message
    """
    helper = getattr(csp, vector['function'])
    if 'raises' in vector:
        with pytest.raises(getattr(builtins, vector['raises'])) as raised:
            helper(*vector['args'], **vector['kwargs'])
        assert type(raised.value) is getattr(builtins, vector['raises'])
        assert str(raised.value) == vector['message']
    elif 'returns_datetime_isoformat' in vector:
        returned = helper(*vector['args'], **vector['kwargs'])
        assert isinstance(returned, datetime)
        assert returned.isoformat() == vector['returns_datetime_isoformat']
    else:
        returned = helper(*vector['args'], **vector['kwargs'])
        assert returned == vector['returns']
        assert type(returned) is type(vector['returns'])


def _register(mocker: requests_mock.Mocker, url: str, spec: dict[str, Any]) -> None:
    """Answer GET ``url`` as the vector's mock spec says."""
    if 'raises' in spec:
        failure = getattr(requests.exceptions, spec['raises'])
        mocker.get(url, exc=failure(TRANSPORT_FAILURE_TEXT[spec['raises']]))
        return
    reply: dict[str, Any] = {'status_code': spec['status_code']}
    for key in ('json', 'text', 'reason', 'headers'):
        if key in spec:
            reply[key] = spec[key]
    mocker.get(url, **reply)


@pytest.mark.parametrize('vector', VECTORS['BaseClient._http_request'], ids=lambda v: v['case'])
def test_http_request_matches_platform(vector: dict[str, Any]) -> None:
    """
    Given: a server reply (or transport failure) recorded against the platform's BaseClient
    When:  the stand-in's _http_request meets the same reply with the same keyword arguments
    Then:  it returns the same kind of value, or raises the same exception with the same message,
           with the response attached exactly when the platform attaches it
    """
    client = BaseClient(BASE_URL, verify=True, proxy=False)
    with requests_mock.Mocker() as mocker:
        _register(mocker, BASE_URL + '/breaches', vector['mock'])
        if 'raises' in vector:
            expected = DemistoException if vector['raises'] == 'DemistoException' \
                else getattr(requests.exceptions, vector['raises'])
            with pytest.raises(expected) as raised:
                client._http_request('GET', '/breaches', **vector['request_kwargs'])
            assert type(raised.value) is expected
            assert str(raised.value) == vector['message']
            assert (getattr(raised.value, 'res', None) is not None) == vector['has_res_attribute']
        else:
            returned = client._http_request('GET', '/breaches', **vector['request_kwargs'])
            assert isinstance(returned, requests.Response)
            assert returned.status_code == vector['returns']['Response.status_code']


@pytest.mark.parametrize('vector', VECTORS['return_error'], ids=lambda v: v['message'].splitlines()[0])
def test_return_error_matches_platform(vector: dict[str, Any]) -> None:
    """
    Given: an ordinary command is running
    When:  return_error is called with the recorded message
    Then:  exactly the recorded error entry is written and the command exits with the recorded code
    """
    demisto.harness_reset(command='darktrace-get-tags-for-device')
    with pytest.raises(SystemExit) as exited:
        return_error(vector['message'])
    assert exited.value.code == vector['exits_with']
    assert demisto.harness.results == [vector['entry']]


def test_return_error_raises_during_fetch_incidents() -> None:
    """
    Given: fetch-incidents is running
    When:  return_error is called
    Then:  it raises a plain Exception with the message (so the server keeps the old lastRun),
           writes no error entry and does not exit
    """
    demisto.harness_reset(command='fetch-incidents')
    with pytest.raises(Exception) as raised:
        return_error('Failed to fetch: boom')
    assert type(raised.value) is Exception
    assert str(raised.value) == 'Failed to fetch: boom'
    assert demisto.harness.results == []
    assert ('error', 'Failed to fetch: boom') in demisto.harness.logs


def test_return_error_prefixes_skip_update_for_get_modified_remote_data() -> None:
    """
    Given: get-modified-remote-data is running and fails with an ordinary error
    When:  return_error is called
    Then:  the entry's message starts with "skip update. error: ", which the server reads as
           "leave the mirrored incidents alone this round"
    """
    demisto.harness_reset(command='get-modified-remote-data')
    with pytest.raises(SystemExit):
        return_error('boom')
    assert demisto.harness.results[0]['Contents'] == 'skip update. error: boom'


def test_mirroring_args_match_platform() -> None:
    """
    Given: the recorded arguments of get-remote-data and update-remote-system
    When:  the stand-in's argument classes parse them
    Then:  every recorded attribute has the recorded value
    """
    parsers = {'GetRemoteDataArgs': GetRemoteDataArgs, 'UpdateRemoteSystemArgs': UpdateRemoteSystemArgs}
    vectors = [v for v in VECTORS['mirroring'] if v['object'] in parsers]
    assert {v['object'] for v in vectors} == set(parsers)
    for vector in vectors:
        parsed = parsers[vector['object']](vector['args'])
        assert vector['attributes'], f'the {vector["object"]} vector records no attribute'
        for attribute, value in vector['attributes'].items():
            assert getattr(parsed, attribute) == value


def _mirroring_vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS['mirroring'] if v['object'] == name)


def test_get_remote_data_response_matches_platform() -> None:
    """
    Given: the recorded mirrored object and entries of a get-remote-data reply
    When:  GetRemoteDataResponse.extract_for_local() is called
    Then:  it returns the object followed by the entries, as recorded
    """
    vector = _mirroring_vector('GetRemoteDataResponse.extract_for_local')
    assert GetRemoteDataResponse(**vector['init']).extract_for_local() == vector['output']


def test_get_modified_remote_data_response_matches_platform() -> None:
    """
    Given: the recorded list of modified remote ids
    When:  GetModifiedRemoteDataResponse.to_entry() is called
    Then:  it returns the recorded entry
    """
    vector = _mirroring_vector('GetModifiedRemoteDataResponse.to_entry')
    assert GetModifiedRemoteDataResponse(**vector['init']).to_entry() == vector['output']


def test_mapping_fields_match_platform() -> None:
    """
    Given: the recorded type name and fields of a get-mapping-fields reply
    When:  a SchemeTypeMapping is built from them, alone and inside a GetMappingFieldsResponse
    Then:  the mapping is the recorded one, and the response lists it once
    """
    vector = _mirroring_vector('GetMappingFieldsResponse.extract_mapping')
    scheme = SchemeTypeMapping(**vector['init'])
    assert scheme.extract_mapping() == vector['output']
    assert GetMappingFieldsResponse([scheme]).extract_mapping() == [vector['output']]


def test_get_modified_remote_data_args_reads_last_update() -> None:
    """
    Given: the arguments the server passes to get-modified-remote-data
    When:  GetModifiedRemoteDataArgs parses them
    Then:  last_update carries the server's lastUpdate
    """
    assert GetModifiedRemoteDataArgs({'lastUpdate': '2024-01-01T00:00:00Z'}).last_update == '2024-01-01T00:00:00Z'


@pytest.mark.parametrize('enum_name', sorted(VECTORS['enums']))
def test_enums_match_platform(enum_name: str) -> None:
    """
    Given: the platform's recorded severity and status values
    When:  the stand-in's enum class is read
    Then:  every member has the recorded value
    """
    enum_class = {'IncidentSeverity': IncidentSeverity, 'IncidentStatus': IncidentStatus}[enum_name]
    assert VECTORS['enums'][enum_name], f'no {enum_name} member is recorded'
    for member, value in VECTORS['enums'][enum_name].items():
        assert getattr(enum_class, member) == value


# ---------------------------------------------------------------------------------------------
# tableToMarkdown and CommandResults beyond the vectors
# ---------------------------------------------------------------------------------------------

def test_table_date_fields_use_local_time_zone(tokyo_local_time: None) -> None:
    """
    Given: the machine's local time zone is UTC+9 and a row with an epoch-milliseconds field
    When:  the table is rendered with that field in date_fields
    Then:  the cell shows the local wall-clock time, not UTC
    """
    table = tableToMarkdown('T', [{'time': 1600063200000}], date_fields=['time'])
    assert table == '### T\n|time|\n|---|\n| 2020-09-14 15:00:00 |\n'


def test_table_url_keys_become_links() -> None:
    """
    Given: a row whose url value should be clickable
    When:  the table is rendered with url_keys naming it
    Then:  the cell is a markdown link to the URL
    """
    table = tableToMarkdown('Links', [{'url': 'https://a.example/x', 'n': 1}], url_keys=['url'])
    assert table == '### Links\n|n|url|\n|---|---|\n| 1 | [https://a.example/x](https://a.example/x) |\n'


def test_table_metadata_follows_name() -> None:
    """
    Given: a table with a metadata line
    When:  it is rendered
    Then:  the metadata sits between the title and the header row
    """
    assert tableToMarkdown('T', [{'a': 1}], metadata='Page 1') == '### T\nPage 1\n|a|\n|---|\n| 1 |\n'


def test_table_of_scalars_needs_a_header() -> None:
    """
    Given: a list of plain strings and no headers
    When:  it is rendered
    Then:  the platform's "Missing headers" error is raised
    """
    with pytest.raises(Exception, match='Missing headers param for tableToMarkdown'):
        tableToMarkdown('T', ['a', 'b'])


def test_command_results_needs_prefix_for_list_outputs() -> None:
    """
    Given: list outputs without an outputs_prefix
    When:  CommandResults is built
    Then:  it refuses, as the platform does
    """
    with pytest.raises(ValueError, match='outputs_prefix is missing'):
        CommandResults(outputs=[{'a': 1}])


# ---------------------------------------------------------------------------------------------
# Other helpers beyond the vectors
# ---------------------------------------------------------------------------------------------

def test_arg_to_datetime_relative_phrase_is_naive_utc() -> None:
    """
    Given: the relative phrase "3 days"
    When:  arg_to_datetime parses it with the platform's default settings
    Then:  it returns a naive datetime in UTC three days before now
    """
    lower = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=3)
    parsed = arg_to_datetime('3 days')
    upper = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=3)
    assert parsed is not None and parsed.tzinfo is None
    assert lower <= parsed <= upper


def test_arg_to_list_separator_and_transform() -> None:
    """
    Given: a semicolon-separated list of numbers
    When:  argToList splits it with that separator and int as transform
    Then:  it returns the stripped, converted items
    """
    assert argToList('1; 2;3', separator=';', transform=int) == [1, 2, 3]


def test_timestamp_to_datestring_default_format_is_utc() -> None:
    """
    Given: epoch milliseconds
    When:  timestamp_to_datestring formats them with its default (Z-suffixed) format
    Then:  the string is the UTC time
    """
    assert timestamp_to_datestring(1600063200000) == '2020-09-14T06:00:00.000Z'


def test_urljoin_keeps_base_path() -> None:
    """
    Given: base URLs with and without a path and trailing slash
    When:  they are joined with suffixes with and without a leading slash
    Then:  exactly one slash separates them and the base path is kept
    """
    assert urljoin('https://h/api', '/breaches') == 'https://h/api/breaches'
    assert urljoin('https://h/api/', 'breaches') == 'https://h/api/breaches'
    assert urljoin('https://h', '') == 'https://h/'


def test_handle_proxy_reads_environment_only_when_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given: system proxies in the environment
    When:  handle_proxy runs with the proxy checkbox cleared, then set
    Then:  it returns no proxies, then the environment's
    """
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:3128')
    monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.1:3129')
    demisto.harness_reset(params={'proxy': False})
    assert handle_proxy() == {}
    demisto.harness_reset(params={'proxy': True})
    assert handle_proxy() == {'http': 'http://127.0.0.1:3128', 'https': 'http://127.0.0.1:3129'}


def test_demisto_exception_carries_its_parts() -> None:
    """
    Given: a message, an underlying exception and a response
    When:  a DemistoException is built from them
    Then:  each is kept on its attribute and str() is the message alone
    """
    cause = ValueError('inner')
    response = requests.Response()
    error = DemistoException('outer', cause, response)
    assert (error.message, error.exception, error.res) == ('outer', cause, response)
    assert str(error) == 'outer'


# ---------------------------------------------------------------------------------------------
# return_results
# ---------------------------------------------------------------------------------------------

def test_return_results_writes_each_form() -> None:
    """
    Given: results as CommandResults, a string, a dict, and a mixed list
    When:  each is passed to return_results
    Then:  CommandResults become their to_context() entry, plain entries are written as they are,
           and in a list the structured results come before the plain ones
    """
    command_results = CommandResults(outputs_prefix='Darktrace.X', outputs={'a': 1}, readable_output='r')
    return_results(command_results)
    return_results('ok')
    return_results({'Type': 1, 'Contents': 'c', 'ContentsFormat': 'text'})
    return_results(['plain', command_results])
    entry = command_results.to_context()
    assert demisto.harness.results == [entry, 'ok', {'Type': 1, 'Contents': 'c', 'ContentsFormat': 'text'},
                                       entry, 'plain']


# ---------------------------------------------------------------------------------------------
# BaseClient beyond the vectors
# ---------------------------------------------------------------------------------------------

def test_http_request_passes_client_settings() -> None:
    """
    Given: a client with a base path, headers, verify=False and a 30 s timeout
    When:  a request is sent with params and a JSON body
    Then:  the address keeps the base path, and the headers, verify flag, timeout, params and
           body all reach the transport
    """
    client = BaseClient(BASE_URL + '/api', verify=False, headers={'Accept': 'application/json'}, timeout=30)
    with requests_mock.Mocker() as mocker:
        mocker.post(BASE_URL + '/api/modelbreaches', json={'ok': True})
        assert client._http_request('POST', '/modelbreaches', params={'did': 1},
                                    json_data={'x': 1}) == {'ok': True}
        sent = mocker.last_request
    assert sent.qs == {'did': ['1']}
    assert sent.json() == {'x': 1}
    assert sent.headers['Accept'] == 'application/json'
    assert sent.verify is False
    assert sent.timeout == 30


def test_http_request_per_call_headers_and_timeout_replace_the_clients() -> None:
    """
    Given: a client with its own headers and timeout
    When:  a request passes its own headers and timeout
    Then:  only the per-call headers are sent, with the per-call timeout
    """
    client = BaseClient(BASE_URL, headers={'X-Client': 'yes'}, timeout=30)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/status', text='fine')
        assert client._http_request('GET', 'status', headers={'X-Call': 'yes'}, timeout=5,
                                    resp_type='text') == 'fine'
        sent = mocker.last_request
    assert sent.headers['X-Call'] == 'yes'
    assert 'X-Client' not in sent.headers
    assert sent.timeout == 5


def test_http_request_full_url_bypasses_base_url() -> None:
    """
    Given: a client with a base URL
    When:  a request names a full_url
    Then:  the full URL is used as it is, and content returns the raw bytes
    """
    client = BaseClient(BASE_URL + '/api')
    with requests_mock.Mocker() as mocker:
        mocker.get('https://127.0.0.1:9443/other', content=b'\x00\x01')
        assert client._http_request('GET', full_url='https://127.0.0.1:9443/other', resp_type='content') == b'\x00\x01'


def test_http_request_follows_redirects_unless_told_not_to() -> None:
    """
    Given: a server that redirects /x to a login page answering JSON
    When:  the request is sent by default, then with allow_redirects=False
    Then:  the first returns the login page's JSON, the second the 302 response itself
    """
    client = BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', status_code=302, headers={'Location': '/login'}, text='Found')
        mocker.get(BASE_URL + '/login', json={'page': 'login'})
        assert client._http_request('GET', '/x') == {'page': 'login'}
        not_followed = client._http_request('GET', '/x', allow_redirects=False, resp_type='response')
    assert not_followed.status_code == 302


def test_http_request_ok_codes_client_then_per_call() -> None:
    """
    Given: a client whose ok_codes accept only 200
    When:  the server answers 201, first with the client's ok_codes, then with per-call ok_codes [201]
    Then:  the first is an API error carrying the response, the second succeeds
    """
    client = BaseClient(BASE_URL, ok_codes=(200,))
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', status_code=201, reason='Created', json={'made': 1})
        with pytest.raises(DemistoException) as raised:
            client._http_request('GET', '/x')
        assert str(raised.value) == 'Error in API call [201] - Created\n{"made": 1}'
        assert raised.value.res is not None and raised.value.res.status_code == 201
        assert client._http_request('GET', '/x', ok_codes=[201]) == {'made': 1}


def test_http_request_error_handler_replaces_default_error() -> None:
    """
    Given: an error handler that raises its own exception
    When:  the server answers 403
    Then:  the handler receives the response and its exception is what the caller sees
    """
    seen: list[int] = []

    def handler(res: requests.Response) -> None:
        seen.append(res.status_code)
        raise RuntimeError('denied by handler')

    client = BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', status_code=403)
        with pytest.raises(RuntimeError, match='denied by handler'):
            client._http_request('GET', '/x', error_handler=handler)
    assert seen == [403]


def test_http_request_return_empty_response_on_204() -> None:
    """
    Given: a server answering 204 with no body
    When:  the request asks for the default json type with return_empty_response=True
    Then:  the response object itself comes back instead of a JSON parse failure
    """
    client = BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.delete(BASE_URL + '/x', status_code=204)
        returned = client._http_request('DELETE', '/x', return_empty_response=True)
    assert isinstance(returned, requests.Response) and returned.status_code == 204


def test_http_request_connection_error_with_errno() -> None:
    """
    Given: a connection failure that carries an errno and strerror
    When:  _http_request meets it
    Then:  the message lists the error number and text instead of the exception's str()
    """
    client = BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', exc=requests.exceptions.ConnectionError(111, 'Connection refused'))
        with pytest.raises(DemistoException) as raised:
            client._http_request('GET', '/x')
    assert str(raised.value) == ('Verify that the server URL parameter is correct and that you have access to '
                                 'the server from your host.\nError Type: <requests.exceptions.ConnectionError>'
                                 '\nError Number: [111]\nMessage: Connection refused\n')
    assert raised.value.res is None


def test_http_request_ssl_error_depends_on_verify() -> None:
    """
    Given: a TLS certificate failure
    When:  it happens with verification on, then with "Trust any certificate" (verify=False)
    Then:  the first becomes the platform's hint; the second escapes as the SSLError itself
    """
    for verify in (True, False):
        client = BaseClient(BASE_URL, verify=verify)
        with requests_mock.Mocker() as mocker:
            mocker.get(BASE_URL + '/x', exc=requests.exceptions.SSLError('bad certificate'))
            with pytest.raises(requests.exceptions.SSLError if not verify else DemistoException) as raised:
                client._http_request('GET', '/x')
        if verify:
            assert str(raised.value) == ("SSL Certificate Verification Failed - try selecting 'Trust any "
                                         "certificate' checkbox in the integration configuration.")
            assert isinstance(raised.value, DemistoException)
            assert isinstance(raised.value.exception, requests.exceptions.SSLError)
        else:
            assert str(raised.value) == 'bad certificate'


def test_http_request_proxy_error() -> None:
    """
    Given: a failure reaching the proxy
    When:  _http_request meets it
    Then:  it becomes the platform's proxy hint
    """
    client = BaseClient(BASE_URL, proxy=True)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', exc=requests.exceptions.ProxyError('proxy down'))
        with pytest.raises(DemistoException) as raised:
            client._http_request('GET', '/x')
    assert str(raised.value) == ("Proxy Error - if the 'Use system proxy' checkbox in the integration "
                                 "configuration is selected, try clearing the checkbox.")


def test_http_request_retry_error_names_retries_and_reason() -> None:
    """
    Given: retries exhausted on repeated 503 replies
    When:  _http_request was asked for 2 retries
    Then:  the message names the retry count and urllib3's reason
    """
    pool = urllib3.HTTPSConnectionPool('127.0.0.1', 8443)
    exhausted = urllib3.exceptions.MaxRetryError(
        pool, '/x', urllib3.exceptions.ResponseError('too many 503 error responses'))
    client = BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', exc=requests.exceptions.RetryError(exhausted))
        with pytest.raises(DemistoException) as raised:
            client._http_request('GET', '/x', retries=2, status_list_to_retry=[503])
    assert str(raised.value) == ('Max Retries Error- Request attempts with 2 retries failed. \n'
                                 'Reason: too many 503 error responses')


def test_retries_mount_on_https_only() -> None:
    """
    Given: a client
    When:  a request asks for 3 retries on 429 and 503 with backoff 2
    Then:  an adapter with that urllib3 Retry serves https:// while http:// keeps no retries
    """
    client = BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', json={})
        client._http_request('GET', '/x', retries=3, status_list_to_retry=[429, 503], backoff_factor=2)
    https_adapter = client._session.adapters['https://']
    http_adapter = client._session.adapters['http://']
    assert isinstance(https_adapter, HTTPAdapter) and isinstance(http_adapter, HTTPAdapter)
    https_retry = https_adapter.max_retries
    assert (https_retry.total, https_retry.connect, https_retry.read, https_retry.status) == (3, 3, 3, 3)
    assert https_retry.backoff_factor == 2
    assert set(https_retry.status_forcelist) == {429, 503}
    assert https_retry.allowed_methods == frozenset(['GET', 'POST', 'PUT'])
    assert http_adapter.max_retries.total == 0


def test_proxy_setting_decides_environment_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given: system proxies in the environment
    When:  one client is built with proxy=False and another with proxy=True
    Then:  the first ignores the environment's proxies; the second trusts them and records them
    """
    monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.1:3129')
    monkeypatch.delenv('https_proxy', raising=False)
    without_proxy = BaseClient(BASE_URL, proxy=False)
    with_proxy = BaseClient(BASE_URL, proxy=True)
    assert without_proxy._session.trust_env is False and without_proxy._proxies == {}
    assert with_proxy._session.trust_env is True
    assert with_proxy._proxies['https'] == 'http://127.0.0.1:3129'


def test_verify_false_silences_insecure_request_warning() -> None:
    """
    Given: warnings that are otherwise always shown
    When:  a client is built with verify=True, then with verify=False
    Then:  urllib3's InsecureRequestWarning is shown only before the verify=False client exists
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        BaseClient(BASE_URL, verify=True)
        warnings.warn('before', urllib3.exceptions.InsecureRequestWarning)
        BaseClient(BASE_URL, verify=False)
        warnings.warn('after', urllib3.exceptions.InsecureRequestWarning)
    assert [str(w.message) for w in caught] == ['before']


# ---------------------------------------------------------------------------------------------
# demistomock and its harness
# ---------------------------------------------------------------------------------------------

def test_brand_new_instance_defaults() -> None:
    """
    Given: a brand-new instance with no command inputs
    When:  its state is read through the platform functions
    Then:  lastRun is {}, context and inputs are empty, and the platform identity is fixed
    """
    assert demisto.getLastRun() == {}
    assert demisto.harness.last_run is None
    assert demisto.getIntegrationContext() == {}
    assert (demisto.params(), demisto.args(), demisto.command()) == ({}, {}, '')
    assert demisto.demistoVersion() == {'version': '8.6.0', 'buildNumber': '12345'}
    assert demisto.integrationInstance() == 'Darktrace_instance_1'


def test_harness_records_a_fetch_run(capsys: pytest.CaptureFixture[str]) -> None:
    """
    Given: a fetch-incidents run seeded with params, a previous lastRun and an integration context
    When:  the integration reads them and writes lastRun, incidents twice, context, logs and a result
    Then:  the harness holds each in call order, stored as JSON like the platform, and nothing is
           printed to stdout or stderr
    """
    demisto.harness_reset(command='fetch-incidents', params={'max_alerts': '50'}, args={},
                          last_run={'last_time': 1}, integration_context={'token': 'a'})
    assert demisto.command() == 'fetch-incidents'
    assert demisto.params() == {'max_alerts': '50'}
    assert demisto.getLastRun() == {'last_time': 1}

    demisto.setLastRun({'last_time': 2, 'seen': (7, 8)})
    demisto.incidents([{'name': 'a'}])
    demisto.incidents([])
    demisto.setIntegrationContext({'token': 'b'})
    demisto.debug('d')
    demisto.info('i')
    demisto.error('e')
    demisto.results('done')

    assert demisto.harness.last_run == {'last_time': 2, 'seen': [7, 8]}
    assert demisto.getLastRun() == {'last_time': 2, 'seen': [7, 8]}
    assert demisto.harness.incidents == [[{'name': 'a'}], []]
    assert demisto.harness.integration_context == {'token': 'b'}
    assert demisto.getIntegrationContext() == {'token': 'b'}
    assert demisto.harness.logs == [('debug', 'd'), ('info', 'i'), ('error', 'e')]
    assert demisto.harness.results == ['done']
    assert capsys.readouterr() == ('', '')


def test_harness_reset_keeps_the_same_object() -> None:
    """
    Given: a reference to demistomock.harness holding results from an earlier run
    When:  harness_reset starts a new run
    Then:  the reference sees the cleared state of the new run
    """
    held = demisto.harness
    demisto.results('old')
    demisto.harness_reset(command='test-module')
    assert held is demisto.harness
    assert held.results == [] and held.command == 'test-module'


def test_params_are_copies() -> None:
    """
    Given: an instance configured with params
    When:  the integration mutates the dict params() returned
    Then:  the next params() call is unaffected, as on the platform
    """
    demisto.harness_reset(params={'url': 'https://127.0.0.1'})
    demisto.params()['url'] = 'changed'
    assert demisto.params() == {'url': 'https://127.0.0.1'}


def test_set_last_run_rejects_non_json_values() -> None:
    """
    Given: a lastRun holding a datetime object
    When:  setLastRun stores it
    Then:  it fails, since the platform can store only JSON values
    """
    with pytest.raises(TypeError):
        demisto.setLastRun({'last_time': datetime(2020, 9, 14)})
