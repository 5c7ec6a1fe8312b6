"""The XSOAR platform modules held to the platform's recorded behaviour, stand-ins and given ones side by side.

``test_data/vectors.json`` is a copy of the platform's recorded inputs and outputs; every vector in
it is a test case here, and the remaining tests cover what the platform README documents but the
vectors do not record (HTTP plumbing, return_results forms, TLS adapters).

Every test runs on the stand-ins in ``xsoar_stubs/``. With XSOAR_PLATFORM_DIR set (real platform
mode, see xsoar_platform.py) every test also runs on the given modules, and the stand-ins'
signatures are compared with theirs: a stand-in that drifted from the platform fails here.
"""
from __future__ import annotations

import builtins
import importlib.util
import inspect
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
import requests_mock
import urllib3
from requests.adapters import HTTPAdapter

import CommonServerPython
import demistomock
import xsoar_platform

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / 'test_data' / 'vectors.json').read_text(encoding='utf-8'))

BASE_URL = 'https://127.0.0.1:8443'

# The text each simulated transport failure carries; the vectors fix the ones they show.
TRANSPORT_FAILURE_TEXT = {
    'ConnectionError': 'refused',
    'ReadTimeout': 'slow read',
    'ConnectTimeout': 'connect timed out',
}


def _load_stand_in(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f'stand_in_{name}', xsoar_platform.STAND_INS / f'{name}.py')
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_stand_ins() -> ModuleType:
    """The stand-in CommonServerPython (calling the stand-in demistomock), whatever is on sys.path.

    In real platform mode they are loaded under other names, so both pairs live side by side.
    """
    if xsoar_platform.using_stand_ins():
        return CommonServerPython
    given_demisto = sys.modules['demistomock']
    sys.modules['demistomock'] = _load_stand_in('demistomock')  # what the stand-in imports
    try:
        return _load_stand_in('CommonServerPython')
    finally:
        sys.modules['demistomock'] = given_demisto


STAND_IN = _load_stand_ins()
# (name, CommonServerPython) pairs every test below runs on; each CommonServerPython carries its demistomock.
PLATFORMS = [('stand-in', STAND_IN)] + ([] if xsoar_platform.using_stand_ins() else [('given', CommonServerPython)])


@pytest.fixture(params=[module for _, module in PLATFORMS], ids=[name for name, _ in PLATFORMS])
def csp(request: pytest.FixtureRequest) -> ModuleType:
    """CommonServerPython: the stand-in, and in real platform mode the given one too."""
    return request.param


@pytest.fixture
def demisto(csp: ModuleType) -> ModuleType:
    """The demistomock that this CommonServerPython calls."""
    return csp.demisto


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
def test_table_to_markdown_matches_platform(vector: dict[str, Any], csp: ModuleType) -> None:
    """
    Given: a table recorded from the platform's tableToMarkdown, with its keyword arguments
    When:  the stand-in renders the same table
    Then:  the markdown is identical, character for character
    """
    kwargs = dict(vector['kwargs'])
    if 'headerTransform' in kwargs:
        kwargs['headerTransform'] = getattr(csp, kwargs['headerTransform'])
    assert csp.tableToMarkdown(vector['name'], vector['t'], **kwargs) == vector['output']


@pytest.mark.parametrize('vector', VECTORS['CommandResults.to_context'], ids=lambda v: v['case'])
def test_command_results_to_context_matches_platform(vector: dict[str, Any], csp: ModuleType) -> None:
    """
    Given: CommandResults keyword arguments recorded from the platform
    When:  the stand-in builds the war-room entry with to_context()
    Then:  the entry equals the platform's, key for key
    """
    assert csp.CommandResults(**vector['kwargs']).to_context() == vector['output']


def _arg_helper_id(vector: dict[str, Any]) -> str:
    return '{}({})'.format(vector['function'], ', '.join(
        [repr(arg) for arg in vector['args']] + ['{}={!r}'.format(k, v) for k, v in vector['kwargs'].items()]))


@pytest.mark.parametrize('vector', VECTORS['arg_helpers'], ids=_arg_helper_id)
def test_arg_helpers_match_platform(vector: dict[str, Any], csp: ModuleType) -> None:
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
def test_http_request_matches_platform(vector: dict[str, Any], csp: ModuleType) -> None:
    """
    Given: a server reply (or transport failure) recorded against the platform's BaseClient
    When:  the stand-in's _http_request meets the same reply with the same keyword arguments
    Then:  it returns the same kind of value, or raises the same exception with the same message,
           with the response attached exactly when the platform attaches it
    """
    client = csp.BaseClient(BASE_URL, verify=True, proxy=False)
    with requests_mock.Mocker() as mocker:
        _register(mocker, BASE_URL + '/breaches', vector['mock'])
        if 'raises' in vector:
            expected = csp.DemistoException if vector['raises'] == 'DemistoException' \
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
def test_return_error_matches_platform(vector: dict[str, Any], csp: ModuleType, demisto: ModuleType) -> None:
    """
    Given: an ordinary command is running
    When:  return_error is called with the recorded message
    Then:  exactly the recorded error entry is written and the command exits with the recorded code
    """
    run = xsoar_platform.start_run(demisto=demisto, command='darktrace-get-tags-for-device')
    with pytest.raises(SystemExit) as exited:
        csp.return_error(vector['message'])
    assert exited.value.code == vector['exits_with']
    assert run.results == [vector['entry']]


def test_return_error_raises_during_fetch_incidents(csp: ModuleType, demisto: ModuleType) -> None:
    """
    Given: fetch-incidents is running
    When:  return_error is called
    Then:  it raises a plain Exception with the message (so the server keeps the old lastRun),
           writes no error entry and does not exit; the message is logged through the integration logger,
           which writes its buffer as one demisto.info "Full Integration Log", never demisto.error
    """
    run = xsoar_platform.start_run(demisto=demisto, command='fetch-incidents')
    with pytest.raises(Exception) as raised:
        csp.return_error('Failed to fetch: boom')
    assert type(raised.value) is Exception
    assert str(raised.value) == 'Failed to fetch: boom'
    assert run.results == []
    assert [level for level, _ in run.logs] == ['info']
    assert run.logs[0][1].startswith('Full Integration Log:\n') and run.logs[0][1].endswith('\nFailed to fetch: boom')


def test_return_error_masks_registered_secrets(csp: ModuleType, demisto: ModuleType) -> None:
    """
    Given: a secret registered with the integration logger
    When:  return_error is called with a message holding it, also inside a word
    Then:  the entry and the log line have it replaced by <XX_REPLACED> wherever it occurs
    """
    run = xsoar_platform.start_run(demisto=demisto, command='darktrace-get-tags-for-device')
    csp.LOG.add_replace_strs('s3cr3t-value')
    try:
        with pytest.raises(SystemExit):
            csp.return_error('token s3cr3t-value rejected; xs3cr3t-valuex')
    finally:
        csp.LOG.replace_strs.clear()
    assert run.results[0]['Contents'] == 'token <XX_REPLACED> rejected; x<XX_REPLACED>x'
    assert all('s3cr3t-value' not in line for _, line in run.logs)


def test_return_error_prefixes_skip_update_for_get_modified_remote_data(csp: ModuleType, demisto: ModuleType) -> None:
    """
    Given: get-modified-remote-data is running and fails with an ordinary error
    When:  return_error is called
    Then:  the entry's message starts with "skip update. error: ", which the server reads as
           "leave the mirrored incidents alone this round"
    """
    run = xsoar_platform.start_run(demisto=demisto, command='get-modified-remote-data')
    with pytest.raises(SystemExit):
        csp.return_error('boom')
    assert run.results[0]['Contents'] == 'skip update. error: boom'


def test_mirroring_args_match_platform(csp: ModuleType) -> None:
    """
    Given: the recorded arguments of get-remote-data and update-remote-system
    When:  the stand-in's argument classes parse them
    Then:  every recorded attribute has the recorded value
    """
    parsers = {'GetRemoteDataArgs': csp.GetRemoteDataArgs, 'UpdateRemoteSystemArgs': csp.UpdateRemoteSystemArgs}
    vectors = [v for v in VECTORS['mirroring'] if v['object'] in parsers]
    assert {v['object'] for v in vectors} == set(parsers)
    for vector in vectors:
        parsed = parsers[vector['object']](vector['args'])
        assert vector['attributes'], f'the {vector["object"]} vector records no attribute'
        for attribute, value in vector['attributes'].items():
            assert getattr(parsed, attribute) == value


def _mirroring_vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS['mirroring'] if v['object'] == name)


def test_get_remote_data_response_matches_platform(csp: ModuleType) -> None:
    """
    Given: the recorded mirrored object and entries of a get-remote-data reply
    When:  GetRemoteDataResponse.extract_for_local() is called
    Then:  it returns the object followed by the entries, as recorded
    """
    vector = _mirroring_vector('GetRemoteDataResponse.extract_for_local')
    assert csp.GetRemoteDataResponse(**vector['init']).extract_for_local() == vector['output']


def test_get_modified_remote_data_response_matches_platform(csp: ModuleType) -> None:
    """
    Given: the recorded list of modified remote ids
    When:  GetModifiedRemoteDataResponse.to_entry() is called
    Then:  it returns the recorded entry
    """
    vector = _mirroring_vector('GetModifiedRemoteDataResponse.to_entry')
    assert csp.GetModifiedRemoteDataResponse(**vector['init']).to_entry() == vector['output']


def test_scheme_type_mapping_matches_platform(csp: ModuleType) -> None:
    """
    Given: the recorded type name and fields of one remote object type
    When:  a SchemeTypeMapping is built from them
    Then:  extract_mapping() returns the recorded {type_name: fields}
    """
    vector = _mirroring_vector('SchemeTypeMapping.extract_mapping')
    assert csp.SchemeTypeMapping(**vector['init']).extract_mapping() == vector['output']


def test_mapping_fields_response_merges_every_scheme(csp: ModuleType) -> None:
    """
    Given: the recorded remote object types of a get-mapping-fields reply
    When:  a GetMappingFieldsResponse holds one SchemeTypeMapping per type, given at once or added one by one
    Then:  extract_mapping() returns ONE dict merging every type's mapping, as recorded, never a list
    """
    vector = _mirroring_vector('GetMappingFieldsResponse.extract_mapping')
    schemes = [csp.SchemeTypeMapping(**init) for init in vector['init']['scheme_types_mapping']]
    assert len(schemes) > 1, 'the vector must merge several schemes'
    assert csp.GetMappingFieldsResponse(schemes).extract_mapping() == vector['output']
    added = csp.GetMappingFieldsResponse()
    for scheme in schemes:
        added.add_scheme_type(scheme)
    assert added.extract_mapping() == vector['output']


def test_every_mirroring_vector_is_checked() -> None:
    """
    Given: the mirroring vectors of test_data/vectors.json
    When:  the objects they record are listed
    Then:  each has a test above, so a vector added or renamed in the record cannot go unchecked
    """
    checked = {'GetRemoteDataArgs', 'UpdateRemoteSystemArgs', 'GetRemoteDataResponse.extract_for_local',
               'GetModifiedRemoteDataResponse.to_entry', 'SchemeTypeMapping.extract_mapping',
               'GetMappingFieldsResponse.extract_mapping'}
    assert {vector['object'] for vector in VECTORS['mirroring']} == checked


def test_get_modified_remote_data_args_reads_last_update(csp: ModuleType) -> None:
    """
    Given: the arguments the server passes to get-modified-remote-data
    When:  GetModifiedRemoteDataArgs parses them
    Then:  last_update carries the server's lastUpdate
    """
    assert csp.GetModifiedRemoteDataArgs({'lastUpdate': '2024-01-01T00:00:00Z'}).last_update == '2024-01-01T00:00:00Z'


@pytest.mark.parametrize('enum_name', sorted(VECTORS['enums']))
def test_enums_match_platform(enum_name: str, csp: ModuleType) -> None:
    """
    Given: the platform's recorded severity and status values
    When:  the stand-in's enum class is read
    Then:  every member has the recorded value
    """
    enum_class = {'IncidentSeverity': csp.IncidentSeverity, 'IncidentStatus': csp.IncidentStatus}[enum_name]
    assert VECTORS['enums'][enum_name], f'no {enum_name} member is recorded'
    for member, value in VECTORS['enums'][enum_name].items():
        assert getattr(enum_class, member) == value


# ---------------------------------------------------------------------------------------------
# tableToMarkdown and CommandResults beyond the vectors
# ---------------------------------------------------------------------------------------------

def test_table_date_fields_use_local_time_zone(tokyo_local_time: None, csp: ModuleType) -> None:
    """
    Given: the machine's local time zone is UTC+9 and a row with an epoch-milliseconds field
    When:  the table is rendered with that field in date_fields
    Then:  the cell shows the local wall-clock time, not UTC
    """
    table = csp.tableToMarkdown('T', [{'time': 1600063200000}], date_fields=['time'])
    assert table == '### T\n|time|\n|---|\n| 2020-09-14 15:00:00 |\n'


def test_table_url_keys_become_links(csp: ModuleType) -> None:
    """
    Given: a row whose url value should be clickable
    When:  the table is rendered with url_keys naming it
    Then:  the cell is a markdown link to the URL
    """
    table = csp.tableToMarkdown('Links', [{'url': 'https://a.example/x', 'n': 1}], url_keys=['url'])
    assert table == '### Links\n|n|url|\n|---|---|\n| 1 | [https://a.example/x](https://a.example/x) |\n'


def test_table_metadata_follows_name(csp: ModuleType) -> None:
    """
    Given: a table with a metadata line
    When:  it is rendered
    Then:  the metadata sits between the title and the header row
    """
    assert csp.tableToMarkdown('T', [{'a': 1}], metadata='Page 1') == '### T\nPage 1\n|a|\n|---|\n| 1 |\n'


def test_table_of_scalars_needs_a_header(csp: ModuleType) -> None:
    """
    Given: a list of plain strings and no headers
    When:  it is rendered
    Then:  the platform's "Missing headers" error is raised
    """
    with pytest.raises(Exception, match='Missing headers param for tableToMarkdown'):
        csp.tableToMarkdown('T', ['a', 'b'])


def test_command_results_needs_prefix_for_list_outputs(csp: ModuleType) -> None:
    """
    Given: list outputs without an outputs_prefix
    When:  CommandResults is built
    Then:  it refuses, as the platform does
    """
    with pytest.raises(ValueError, match='outputs_prefix is missing'):
        csp.CommandResults(outputs=[{'a': 1}])


# ---------------------------------------------------------------------------------------------
# Other helpers beyond the vectors
# ---------------------------------------------------------------------------------------------

def test_arg_to_datetime_relative_phrase_is_naive_utc(csp: ModuleType) -> None:
    """
    Given: the relative phrase "3 days"
    When:  arg_to_datetime parses it with the platform's default settings
    Then:  it returns a naive datetime in UTC three days before now
    """
    lower = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=3)
    parsed = csp.arg_to_datetime('3 days')
    upper = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=3)
    assert parsed is not None and parsed.tzinfo is None
    assert lower <= parsed <= upper


def test_arg_to_list_separator_and_transform(csp: ModuleType) -> None:
    """
    Given: a semicolon-separated list of numbers
    When:  argToList splits it with that separator and int as transform
    Then:  it returns the stripped, converted items
    """
    assert csp.argToList('1; 2;3', separator=';', transform=int) == [1, 2, 3]


def test_timestamp_to_datestring_default_format_is_utc(csp: ModuleType) -> None:
    """
    Given: epoch milliseconds
    When:  timestamp_to_datestring formats them with its default (Z-suffixed) format
    Then:  the string is the UTC time
    """
    assert csp.timestamp_to_datestring(1600063200000) == '2020-09-14T06:00:00.000Z'


def test_urljoin_keeps_base_path(csp: ModuleType) -> None:
    """
    Given: base URLs with and without a path and trailing slash
    When:  they are joined with suffixes with and without a leading slash
    Then:  exactly one slash separates them and the base path is kept
    """
    assert csp.urljoin('https://h/api', '/breaches') == 'https://h/api/breaches'
    assert csp.urljoin('https://h/api/', 'breaches') == 'https://h/api/breaches'
    assert csp.urljoin('https://h', '') == 'https://h/'


def test_handle_proxy_reads_environment_only_when_checked(monkeypatch: pytest.MonkeyPatch, csp: ModuleType,
                                                          demisto: ModuleType) -> None:
    """
    Given: system proxies in the environment
    When:  handle_proxy runs with the proxy checkbox cleared, then set
    Then:  cleared, it returns no proxies and deletes the proxy variables from the environment; set, it returns the
           environment's, with an http:// prefix added where one is missing
    """
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:3128')
    monkeypatch.setenv('https_proxy', 'http://127.0.0.1:3129')
    xsoar_platform.start_run(demisto=demisto, params={'proxy': False})
    assert csp.handle_proxy() == {}
    assert 'HTTP_PROXY' not in os.environ and 'https_proxy' not in os.environ
    monkeypatch.setenv('HTTP_PROXY', '127.0.0.1:3128')
    monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.1:3129')
    xsoar_platform.start_run(demisto=demisto, params={'proxy': True})
    assert csp.handle_proxy() == {'http': 'http://127.0.0.1:3128', 'https': 'http://127.0.0.1:3129'}


def test_handle_proxy_with_insecure_deletes_the_ca_bundle_variables(monkeypatch: pytest.MonkeyPatch,
                                                                     csp: ModuleType, demisto: ModuleType) -> None:
    """
    Given: CA-bundle variables in the environment
    When:  handle_proxy runs with the insecure checkbox set
    Then:  REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE are gone from the environment
    """
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/tmp/ca.pem')
    monkeypatch.setenv('CURL_CA_BUNDLE', '/tmp/ca.pem')
    xsoar_platform.start_run(demisto=demisto, params={'proxy': True, 'insecure': True})
    csp.handle_proxy()
    assert 'REQUESTS_CA_BUNDLE' not in os.environ and 'CURL_CA_BUNDLE' not in os.environ


def test_demisto_exception_carries_its_parts(csp: ModuleType) -> None:
    """
    Given: a message, an underlying exception and a response
    When:  a DemistoException is built from them
    Then:  each is kept on its attribute and str() is the message alone
    """
    cause = ValueError('inner')
    response = requests.Response()
    error = csp.DemistoException('outer', cause, response)
    assert (error.message, error.exception, error.res) == ('outer', cause, response)
    assert str(error) == 'outer'


# ---------------------------------------------------------------------------------------------
# return_results
# ---------------------------------------------------------------------------------------------

def test_return_results_writes_each_form(csp: ModuleType, demisto: ModuleType) -> None:
    """
    Given: results as CommandResults, a string, a dict, and a mixed list
    When:  each is passed to return_results
    Then:  CommandResults become their to_context() entry, plain entries are written as they are,
           and in a list the structured results come before the plain ones
    """
    command_results = csp.CommandResults(outputs_prefix='Darktrace.X', outputs={'a': 1}, readable_output='r')
    run = xsoar_platform.start_run(demisto=demisto, command='darktrace-list-tags')
    csp.return_results(command_results)
    csp.return_results('ok')
    csp.return_results({'Type': 1, 'Contents': 'c', 'ContentsFormat': 'text'})
    csp.return_results(['plain', command_results])
    entry = command_results.to_context()
    assert run.results == [entry, 'ok', {'Type': 1, 'Contents': 'c', 'ContentsFormat': 'text'}, entry, 'plain']


# ---------------------------------------------------------------------------------------------
# BaseClient beyond the vectors
# ---------------------------------------------------------------------------------------------

def test_http_request_passes_client_settings(csp: ModuleType) -> None:
    """
    Given: a client with a base path, headers, verify=False and a 30 s timeout
    When:  a request is sent with params and a JSON body
    Then:  the address keeps the base path, and the headers, verify flag, timeout, params and
           body all reach the transport
    """
    client = csp.BaseClient(BASE_URL + '/api', verify=False, headers={'Accept': 'application/json'}, timeout=30)
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


def test_http_request_per_call_headers_and_timeout_replace_the_clients(csp: ModuleType) -> None:
    """
    Given: a client with its own headers and timeout
    When:  a request passes its own headers and timeout
    Then:  only the per-call headers are sent, with the per-call timeout
    """
    client = csp.BaseClient(BASE_URL, headers={'X-Client': 'yes'}, timeout=30)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/status', text='fine')
        assert client._http_request('GET', 'status', headers={'X-Call': 'yes'}, timeout=5,
                                    resp_type='text') == 'fine'
        sent = mocker.last_request
    assert sent.headers['X-Call'] == 'yes'
    assert 'X-Client' not in sent.headers
    assert sent.timeout == 5


def test_http_request_full_url_bypasses_base_url(csp: ModuleType) -> None:
    """
    Given: a client with a base URL
    When:  a request names a full_url
    Then:  the full URL is used as it is, and content returns the raw bytes
    """
    client = csp.BaseClient(BASE_URL + '/api')
    with requests_mock.Mocker() as mocker:
        mocker.get('https://127.0.0.1:9443/other', content=b'\x00\x01')
        assert client._http_request('GET', full_url='https://127.0.0.1:9443/other', resp_type='content') == b'\x00\x01'


def test_http_request_follows_redirects_unless_told_not_to(csp: ModuleType) -> None:
    """
    Given: a server that redirects /x to a login page answering JSON
    When:  the request is sent by default, then with allow_redirects=False
    Then:  the first returns the login page's JSON, the second the 302 response itself
    """
    client = csp.BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', status_code=302, headers={'Location': '/login'}, text='Found')
        mocker.get(BASE_URL + '/login', json={'page': 'login'})
        assert client._http_request('GET', '/x') == {'page': 'login'}
        not_followed = client._http_request('GET', '/x', allow_redirects=False, resp_type='response')
    assert not_followed.status_code == 302


def test_http_request_ok_codes_client_then_per_call(csp: ModuleType) -> None:
    """
    Given: a client whose ok_codes accept only 200
    When:  the server answers 201, first with the client's ok_codes, then with per-call ok_codes [201]
    Then:  the first is an API error carrying the response, the second succeeds
    """
    client = csp.BaseClient(BASE_URL, ok_codes=(200,))
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', status_code=201, reason='Created', json={'made': 1})
        with pytest.raises(csp.DemistoException) as raised:
            client._http_request('GET', '/x')
        assert str(raised.value) == 'Error in API call [201] - Created\n{"made": 1}'
        assert raised.value.res is not None and raised.value.res.status_code == 201
        assert client._http_request('GET', '/x', ok_codes=[201]) == {'made': 1}


def test_http_request_error_handler_replaces_default_error(csp: ModuleType) -> None:
    """
    Given: an error handler that raises its own exception
    When:  the server answers 403
    Then:  the handler receives the response and its exception is what the caller sees
    """
    seen: list[int] = []

    def handler(res: requests.Response) -> None:
        seen.append(res.status_code)
        raise RuntimeError('denied by handler')

    client = csp.BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', status_code=403)
        with pytest.raises(RuntimeError, match='denied by handler'):
            client._http_request('GET', '/x', error_handler=handler)
    assert seen == [403]


def test_http_request_return_empty_response_on_204(csp: ModuleType) -> None:
    """
    Given: a server answering 204 with no body
    When:  the request asks for the default json type with return_empty_response=True
    Then:  the response object itself comes back instead of a JSON parse failure
    """
    client = csp.BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.delete(BASE_URL + '/x', status_code=204)
        returned = client._http_request('DELETE', '/x', return_empty_response=True)
    assert isinstance(returned, requests.Response) and returned.status_code == 204


def test_http_request_connection_error_with_errno(csp: ModuleType) -> None:
    """
    Given: a connection failure that carries an errno and strerror
    When:  _http_request meets it
    Then:  the message lists the error number and text instead of the exception's str()
    """
    client = csp.BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', exc=requests.exceptions.ConnectionError(111, 'Connection refused'))
        with pytest.raises(csp.DemistoException) as raised:
            client._http_request('GET', '/x')
    assert str(raised.value) == ('Verify that the server URL parameter is correct and that you have access to '
                                 'the server from your host.\nError Type: <requests.exceptions.ConnectionError>'
                                 '\nError Number: [111]\nMessage: Connection refused\n')
    assert raised.value.res is None


def test_http_request_ssl_error_depends_on_verify(csp: ModuleType) -> None:
    """
    Given: a TLS certificate failure
    When:  it happens with verification on, then with "Trust any certificate" (verify=False)
    Then:  the first becomes the platform's hint; the second escapes as the SSLError itself
    """
    for verify in (True, False):
        client = csp.BaseClient(BASE_URL, verify=verify)
        with requests_mock.Mocker() as mocker:
            mocker.get(BASE_URL + '/x', exc=requests.exceptions.SSLError('bad certificate'))
            with pytest.raises(requests.exceptions.SSLError if not verify else csp.DemistoException) as raised:
                client._http_request('GET', '/x')
        if verify:
            assert str(raised.value) == ("SSL Certificate Verification Failed - try selecting 'Trust any "
                                         "certificate' checkbox in the integration configuration.")
            assert isinstance(raised.value, csp.DemistoException)
            assert isinstance(raised.value.exception, requests.exceptions.SSLError)
        else:
            assert str(raised.value) == 'bad certificate'


def test_http_request_proxy_error(csp: ModuleType) -> None:
    """
    Given: a failure reaching the proxy
    When:  _http_request meets it
    Then:  it becomes the platform's proxy hint
    """
    client = csp.BaseClient(BASE_URL, proxy=True)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', exc=requests.exceptions.ProxyError('proxy down'))
        with pytest.raises(csp.DemistoException) as raised:
            client._http_request('GET', '/x')
    assert str(raised.value) == ("Proxy Error - if the 'Use system proxy' checkbox in the integration "
                                 "configuration is selected, try clearing the checkbox.")


def test_http_request_retry_error_names_retries_and_reason(csp: ModuleType) -> None:
    """
    Given: retries exhausted on repeated 503 replies
    When:  _http_request was asked for 2 retries
    Then:  the message names the retry count and urllib3's reason
    """
    pool = urllib3.HTTPSConnectionPool('127.0.0.1', 8443)
    exhausted = urllib3.exceptions.MaxRetryError(
        pool, '/x', urllib3.exceptions.ResponseError('too many 503 error responses'))
    client = csp.BaseClient(BASE_URL)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', exc=requests.exceptions.RetryError(exhausted))
        with pytest.raises(csp.DemistoException) as raised:
            client._http_request('GET', '/x', retries=2, status_list_to_retry=[503])
    assert str(raised.value) == ('Max Retries Error- Request attempts with 2 retries failed. \n'
                                 'Reason: too many 503 error responses')


def test_retries_mount_on_https_only(csp: ModuleType) -> None:
    """
    Given: a client
    When:  a request asks for 3 retries on 429 and 503 with backoff 2
    Then:  an adapter with that urllib3 Retry serves https:// while http:// keeps no retries
    """
    client = csp.BaseClient(BASE_URL)
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
    # POST among them: the platform's own retries repeat changes, so the integration never uses them for one.
    assert https_retry.allowed_methods == frozenset(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
    assert http_adapter.max_retries.total == 0


def test_proxy_setting_decides_environment_trust(monkeypatch: pytest.MonkeyPatch, csp: ModuleType) -> None:
    """
    Given: system proxies in the environment
    When:  one client is built with proxy=False and another with proxy=True
    Then:  proxy=False deletes the proxy variables from the environment (its session still trusts the environment,
           where none is left); proxy=True keeps them, adding an http:// prefix where one is missing
    """
    monkeypatch.setenv('HTTPS_PROXY', 'http://127.0.0.1:3129')
    monkeypatch.setenv('https_proxy', 'http://127.0.0.1:3129')
    without_proxy = csp.BaseClient(BASE_URL, proxy=False)
    assert without_proxy._session.trust_env is True
    assert 'HTTPS_PROXY' not in os.environ and 'https_proxy' not in os.environ
    monkeypatch.setenv('HTTPS_PROXY', '127.0.0.1:3129')
    with_proxy = csp.BaseClient(BASE_URL, proxy=True)
    assert with_proxy._session.trust_env is True and os.environ['HTTPS_PROXY'] == 'http://127.0.0.1:3129'


def test_verify_false_does_not_silence_insecure_request_warning(csp: ModuleType) -> None:
    """
    Given: warnings that are otherwise always shown
    When:  a client is built with verify=True, then with verify=False
    Then:  urllib3's InsecureRequestWarning is still shown after the verify=False client exists
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        csp.BaseClient(BASE_URL, verify=True)
        warnings.warn('before', urllib3.exceptions.InsecureRequestWarning)
        csp.BaseClient(BASE_URL, verify=False)
        warnings.warn('after', urllib3.exceptions.InsecureRequestWarning)
    assert [str(w.message) for w in caught] == ['before', 'after']


def test_trust_any_certificate_mounts_the_platform_ssl_adapter(csp: ModuleType) -> None:
    """
    Given: a client built with verify=True, and one with "Trust any certificate" (verify=False)
    When:  their session adapters are read
    Then:  verify=True keeps plain HTTPAdapters; verify=False serves https:// through the platform's
           SSLAdapter (its own TLS context, no host name check), and http:// through a plain one
    """
    verified = csp.BaseClient(BASE_URL, verify=True)
    assert [type(verified._session.adapters[scheme]) for scheme in ('https://', 'http://')] == [HTTPAdapter] * 2
    trusting = csp.BaseClient(BASE_URL, verify=False)
    adapter = trusting._session.adapters['https://']
    assert isinstance(adapter, csp.SSLAdapter)
    assert adapter.context.check_hostname is False
    assert adapter.poolmanager.connection_pool_kw['ssl_context'] is adapter.context
    assert type(trusting._session.adapters['http://']) is HTTPAdapter


def test_retries_with_trust_any_certificate_keep_the_ssl_adapter(csp: ModuleType) -> None:
    """
    Given: a client with verify=False
    When:  a request asks for 2 retries
    Then:  the adapter mounted for the retries is again an SSLAdapter, carrying the retry policy
    """
    client = csp.BaseClient(BASE_URL, verify=False)
    with requests_mock.Mocker() as mocker:
        mocker.get(BASE_URL + '/x', json={})
        client._http_request('GET', '/x', retries=2, status_list_to_retry=[503])
    adapter = client._session.adapters['https://']
    assert isinstance(adapter, csp.SSLAdapter) and adapter.max_retries.total == 2


# ---------------------------------------------------------------------------------------------
# Stand-ins and given modules side by side (real platform mode)
# ---------------------------------------------------------------------------------------------

# What the integration, its tests and the runner use (the platform README's surface), by module.
SURFACE: dict[str, tuple[str, ...]] = {
    'demistomock': ('params', 'args', 'command', 'getLastRun', 'setLastRun', 'incidents', 'results', 'debug',
                    'info', 'error', 'getIntegrationContext', 'setIntegrationContext', 'demistoVersion',
                    'integrationInstance', 'getIntegrationContextVersioned', 'setIntegrationContextVersioned'),
    'CommonServerPython': (
        'BaseClient', 'BaseClient._http_request', 'SSLAdapter', 'CommandResults', 'CommandResults.to_context',
        'tableToMarkdown', 'return_results', 'return_error', 'arg_to_number', 'argToBoolean', 'argToList',
        'arg_to_datetime', 'string_to_table_header', 'timestamp_to_datestring', 'assign_params',
        'remove_empty_elements', 'DemistoException', 'get_integration_context', 'set_integration_context',
        'handle_proxy', 'urljoin', 'GetRemoteDataArgs',
        'GetModifiedRemoteDataArgs', 'UpdateRemoteSystemArgs', 'GetRemoteDataResponse',
        'GetModifiedRemoteDataResponse', 'GetMappingFieldsResponse', 'SchemeTypeMapping', 'fileResult'),
}


def _lookup(module: ModuleType, dotted: str) -> Any:
    found: Any = module
    for part in dotted.split('.'):
        found = getattr(found, part)
    return found


def _parameters(function: Any) -> dict[str, tuple[Any, Any]]:
    """name -> (kind, default) of each parameter."""
    return {name: (parameter.kind, parameter.default)
            for name, parameter in inspect.signature(function).parameters.items()}


@pytest.mark.skipif(xsoar_platform.using_stand_ins(), reason='no XSOAR_PLATFORM_DIR: no given modules to compare')
@pytest.mark.parametrize('module_name, dotted', [(module, name) for module, names in SURFACE.items() for name in names])
def test_stand_in_signature_matches_the_given_module(module_name: str, dotted: str) -> None:
    """
    Given: a name the integration uses, in the stand-in and in the given (real) module
    When:  their call signatures are compared
    Then:  the given module has the name, and every parameter the stand-in takes, of the same kind and
           default (the real module may take more)
    """
    stand_in_module = STAND_IN if module_name == 'CommonServerPython' else STAND_IN.demisto
    given_module = CommonServerPython if module_name == 'CommonServerPython' else demistomock
    stand_in, given = _parameters(_lookup(stand_in_module, dotted)), _parameters(_lookup(given_module, dotted))
    assert {name: given.get(name) for name in stand_in} == stand_in
