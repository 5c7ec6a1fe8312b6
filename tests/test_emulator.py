"""End-to-end tests of the Darktrace appliance emulator over real HTTP on 127.0.0.1.

The tests sign requests with a minimal signer of their own (never Darktrace.py), so they check
the emulator against the API document, not against the integration.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import selectors
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import quote, unquote, urlencode

import pytest
import requests

from emulator import Emulator
from emulator.auth import Authenticator, SignedRequest, AuthOutcome, PERMISSIONS, parse_dtapi_date, sign
from emulator.dataset import DAY_MS, HOUR_MS, Dataset
from emulator import views

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------- a minimal signing client
def signature(private: str, public: str, target: str, date: str) -> str:
    return hmac.new(private.encode(), f'{target}\n{public}\n{date}'.encode(), hashlib.sha1).hexdigest()


def appliance_date(emu: Emulator, offset_s: float = 0) -> str:
    moment = datetime.fromtimestamp(emu.now_ms() / 1000 + offset_s, tz=timezone.utc)
    return moment.strftime('%Y-%m-%d %H:%M:%S')


def encode_query(params: dict[str, Any]) -> str:
    return urlencode(params, quote_via=quote)


def decoded(target: str) -> str:
    """What Darktrace's guide signs: the query (or form body) with its values percent-decoded."""
    path, _, query = target.partition('?')
    return f'{path}?{unquote(query)}' if query else path


class Client:
    """Signs like Darktrace's own clients: build the string once, send it percent-encoded and sign
    its decoded values (a JSON body and the path are signed exactly as sent)."""

    def __init__(self, emu: Emulator, public: str | None = None, private: str | None = None,
                 verify: Any = True) -> None:
        self.emu = emu
        self.public = public or emu.public_token
        self.private = private or emu.private_token
        self.verify = verify

    def headers(self, target: str, date: str | None = None) -> dict[str, str]:
        date = appliance_date(self.emu) if date is None else date
        return {'DTAPI-Token': self.public, 'DTAPI-Date': date,
                'DTAPI-Signature': signature(self.private, self.public, target, date)}

    def get(self, path: str, params: dict[str, Any] | str | None = None, **kwargs: Any) -> requests.Response:
        query = params if isinstance(params, str) else encode_query(params or {})
        target = f'{path}?{query}' if query else path
        return requests.get(self.emu.url + target, headers=self.headers(decoded(target)), allow_redirects=False,
                            verify=self.verify, timeout=10, **kwargs)

    def delete(self, path: str, params: dict[str, Any]) -> requests.Response:
        target = f'{path}?{encode_query(params)}'
        return requests.delete(self.emu.url + target, headers=self.headers(decoded(target)), allow_redirects=False,
                               timeout=10)

    def post_form(self, path: str, form: dict[str, Any]) -> requests.Response:
        body = encode_query(form)
        headers = {**self.headers(decoded(f'{path}?{body}')), 'Content-Type': 'application/x-www-form-urlencoded'}
        return requests.post(self.emu.url + path, data=body.encode(), headers=headers, allow_redirects=False,
                             timeout=10)

    def post_json(self, path: str, payload: Any, query: str = '') -> requests.Response:
        body = json.dumps(payload, separators=(',', ':'))
        headers = {**self.headers(f'{path}?{body}'), 'Content-Type': 'application/json'}
        url = self.emu.url + path + (f'?{query}' if query else '')
        return requests.post(url, data=body.encode(), headers=headers, allow_redirects=False, timeout=10)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(breaches=500, span_days=7, seed=1) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Client:
    return Client(emu)


def all_breaches(client: Client, **params: Any) -> list[dict[str, Any]]:
    reply = client.get('/modelbreaches', {'starttime': client.emu.now_ms() - 30 * DAY_MS, **params})
    assert reply.status_code == 200, reply.text
    return reply.json()


def b64(query: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(query).encode()).decode()


def search_query(emu: Emulator, search: str = '@type:conn', hours: int = 6, **extra: Any) -> dict[str, Any]:
    end = datetime.fromtimestamp(emu.now_ms() / 1000, tz=timezone.utc)
    start = end - timedelta(hours=hours)
    return {'search': search, 'fields': [], 'offset': 0, 'timeframe': 'custom',
            'time': {'from': start.strftime('%Y-%m-%dT%H:%M:%SZ'), 'to': end.strftime('%Y-%m-%dT%H:%M:%SZ'),
                     'user_interval': '0'}, 'size': 50, **extra}


# ====================================================================== authentication
KNOWN_ANSWERS = [
    ('test_public_token', 'test_private_token', '/devices', '2025-01-15 12:30:00',
     'e3c82b28eb735735b9d288d6d2d63b14cba2e008'),
    ('test_public_token', 'test_private_token', '/devices?aparam=aval&mparam=mval&zparam=zval', '2025-06-01 00:00:00',
     '2f247e5248b933fccf527bebc479248613c320a4'),
    ('test_public_token', 'test_private_token',
     '/modelbreaches/101/comments?{"message":"Test Comment","priority":"high"}', '2023-12-25 23:59:59',
     'b309669f63f10c0de47230144c623b6869ebfac3'),
    ('examplepub', 'examplepri', '/modelbreaches?minscore=0.5&starttime=1700000000000', '20240101T120000',
     '74a4453c4e16ce507d133b5ef9b86449cf6f4a38'),
]


@pytest.mark.parametrize('public, private, target, date, expected', KNOWN_ANSWERS)
def test_known_answer_vectors_verify(public: str, private: str, target: str, date: str, expected: str) -> None:
    """Given a documented known-answer vector, when the server-side signer signs it and the
    authenticator checks the request at that date, then the signature matches and is accepted."""
    assert sign(private, public, target, date) == expected
    authenticator = Authenticator()
    authenticator.add_token_pair(public, private)
    path, _, rest = target.partition('?')
    if target.startswith('/modelbreaches/101/comments'):
        request = SignedRequest('POST', path, '', rest.encode(), {})
    else:
        request = SignedRequest('GET', path, rest, b'', {})
    headers = {'DTAPI-Token': public, 'DTAPI-Date': date, 'DTAPI-Signature': expected}
    request = SignedRequest(request.method, request.raw_path, request.raw_query, request.body, headers)
    moment = parse_dtapi_date(date)
    assert moment is not None, f'the documented date {date!r} does not parse'
    result = authenticator.verify(request, moment)
    assert result.outcome is AuthOutcome.OK


def test_no_dtapi_headers_redirects_to_login(emu: Emulator) -> None:
    """Given a request without any DTAPI header, when it is sent, then the appliance answers
    302 to /login with the Express body."""
    reply = requests.get(emu.url + '/status', allow_redirects=False, timeout=10)
    assert reply.status_code == 302
    assert reply.headers['Location'] == '/login'
    assert reply.text == 'Found. Redirecting to /login'


@pytest.mark.parametrize('date', ['not a date', '2025-13-45 99:99:99', ''])
def test_unparseable_date_is_a_date_error(emu: Emulator, client: Client, date: str) -> None:
    """Given a DTAPI-Date the appliance cannot parse, when a request is sent, then it answers
    400 keyed by the first path segment with API DATE ERROR."""
    reply = requests.get(emu.url + '/devices', headers=client.headers('/devices', date=date),
                         allow_redirects=False, timeout=10)
    assert reply.status_code == 400
    assert reply.json() == {'devices': 'API DATE ERROR'}


def test_date_skew_limit_is_thirty_minutes(emu: Emulator, client: Client) -> None:
    """Given dates 29 and 31 minutes off the appliance clock, when requests are signed with
    them, then 29 minutes is accepted and 31 minutes is an API DATE ERROR."""
    late = appliance_date(emu, offset_s=31 * 60)
    early = appliance_date(emu, offset_s=-29 * 60)
    rejected = requests.get(emu.url + '/status', headers=client.headers('/status', late), timeout=10,
                            allow_redirects=False)
    accepted = requests.get(emu.url + '/status', headers=client.headers('/status', early), timeout=10,
                            allow_redirects=False)
    assert rejected.status_code == 400 and rejected.json() == {'status': 'API DATE ERROR'}
    assert accepted.status_code == 200


@pytest.mark.parametrize('fmt', ['%Y-%m-%d %H:%M:%S', '%Y%m%dT%H%M%S', 'iso'])
def test_documented_date_formats_are_accepted(emu: Emulator, client: Client, fmt: str) -> None:
    """Given a date in one of the accepted formats (space, compact, ISO 8601 with fraction and
    offset), when a signed request uses it, then the appliance answers 200."""
    moment = datetime.fromtimestamp(emu.now_ms() / 1000, tz=timezone.utc)
    date = moment.isoformat(timespec='microseconds') if fmt == 'iso' else moment.strftime(fmt)
    reply = requests.get(emu.url + '/status', headers=client.headers('/status', date), timeout=10)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize('path, segment', [('/status', 'status'), ('/tags/entities?did=1', 'tags'),
                                           ('/modelbreaches/10001', 'modelbreaches')])
def test_bad_signature_is_a_signature_error_keyed_by_segment(emu: Emulator, client: Client, path: str,
                                                             segment: str) -> None:
    """Given a request signed with the wrong private token, when it is sent, then the appliance
    answers 400 {"<first segment>": "API SIGNATURE ERROR"}."""
    wrong = Client(emu, private='not-the-private-token')
    reply = requests.get(emu.url + path, headers=wrong.headers(path), allow_redirects=False, timeout=10)
    assert reply.status_code == 400
    assert reply.json() == {segment: 'API SIGNATURE ERROR'}


def test_unknown_public_token_is_a_signature_error(emu: Emulator) -> None:
    """Given a public token the appliance does not know, when a correctly formed request is
    sent, then it is an API SIGNATURE ERROR."""
    stranger = Client(emu, public='nobody', private='whatever')
    reply = stranger.get('/status')
    assert reply.status_code == 400 and reply.json() == {'status': 'API SIGNATURE ERROR'}


def test_valid_signature_unknown_endpoint_redirects_to_login(client: Client) -> None:
    """Given a valid signature on a path that is no endpoint, when it is sent, then the
    appliance answers 302 to /login."""
    reply = client.get('/no/such/endpoint', {'a': 1})
    assert reply.status_code == 302
    assert reply.headers['Location'] == '/login'
    assert reply.text == 'Found. Redirecting to /login'


def test_missing_permission_redirects_to_403(emu: Emulator) -> None:
    """Given a token pair with only the status permission, when it reads /devices, then the
    appliance answers 302 to /403, while /status still works."""
    emu.add_token_pair('limited-public', 'limited-private', {'status'})
    limited = Client(emu, 'limited-public', 'limited-private')
    denied = limited.get('/devices')
    assert denied.status_code == 302
    assert denied.headers['Location'] == '/403'
    assert denied.text == 'Found. Redirecting to /403'
    assert limited.get('/status').status_code == 200


@pytest.mark.parametrize('path, payload', [('/intelfeed', {'addentry': 'x.example'}),
                                           ('/antigena/manual', {'did': 1, 'action': 'quarantine', 'duration': 60})])
def test_some_routes_refuse_with_403_json(emu: Emulator, path: str, payload: dict[str, Any]) -> None:
    """Given a read-only token pair, when it posts to /intelfeed or /antigena/manual, then the
    appliance answers 403 {"error": "403 Forbidden"}."""
    emu.add_token_pair('reader', 'reader-private', {'intelfeed', 'antigena'})
    reader = Client(emu, 'reader', 'reader-private')
    reply = reader.post_json(path, payload)
    assert reply.status_code == 403
    assert reply.json() == {'error': '403 Forbidden'}


def test_token_pairs_given_to_the_constructor_have_their_permissions() -> None:
    """Given token pairs passed to Emulator(token_pairs=...), when they are used, then each has
    its own permissions and unknown permission names are refused."""
    with Emulator(breaches=5, token_pairs=[('p1', 's1', {'devices'}), {'public': 'p2', 'private': 's2'}]) as emu:
        assert Client(emu, 'p1', 's1').get('/devices').status_code == 200
        assert Client(emu, 'p1', 's1').get('/status').status_code == 302
        assert Client(emu, 'p2', 's2').get('/status').status_code == 200
        with pytest.raises(ValueError):
            emu.add_token_pair('p3', 's3', {'no_such_permission'})
    assert 'modelbreaches_write' in PERMISSIONS and len(PERMISSIONS) == 24


def test_query_is_signed_in_the_order_sent(emu: Emulator, client: Client) -> None:
    """Given a query sent as z then a, when the signature covers the alphabetical order instead,
    then it is refused; signing the order sent is accepted."""
    sent = '/devices?sid=1&count=2'
    good = requests.get(emu.url + sent, headers=client.headers(sent), timeout=10)
    bad = requests.get(emu.url + sent, headers=client.headers('/devices?count=2&sid=1'), timeout=10)
    assert good.status_code == 200
    assert bad.status_code == 400 and bad.json() == {'devices': 'API SIGNATURE ERROR'}


SIGNATURE_FORMS_ACCEPTED = [('decoded', {'decoded'}), ('encoded', {'encoded'}), ('either', {'decoded', 'encoded'})]


@pytest.mark.parametrize('signature_form, accepted', SIGNATURE_FORMS_ACCEPTED)
def test_query_signature_forms_follow_the_setting(emu: Emulator, client: Client, signature_form: str,
                                                  accepted: set[str]) -> None:
    """Given a query with percent-encoded punctuation and the signature_form setting, when it is
    signed percent-decoded and exactly as sent, then only the forms the setting names are
    accepted; a third form never is."""
    emu.set_settings(signature_form=signature_form)
    sent = '/devicesearch?query=hostname%3A%22srv%2A%22'
    targets = {'encoded': sent, 'decoded': '/devicesearch?query=hostname:"srv*"'}
    for form, target in targets.items():
        reply = requests.get(emu.url + sent, headers=client.headers(target), timeout=10)
        assert reply.status_code == (200 if form in accepted else 400), target
    reply = requests.get(emu.url + sent, headers=client.headers('/devicesearch?query=srv'), timeout=10)
    assert reply.status_code == 400


@pytest.mark.parametrize('signature_form, accepted', SIGNATURE_FORMS_ACCEPTED)
def test_post_form_body_signature_forms_follow_the_setting(emu: Emulator, client: Client, signature_form: str,
                                                           accepted: set[str]) -> None:
    """Given a form POST whose body has an encoded space and the signature_form setting, when it
    is signed with the raw body or the decoded body, then only the forms the setting names are
    accepted, and a refused one changes nothing."""
    emu.set_settings(signature_form=signature_form)
    body = 'did=1&tag=Active%20Threat'
    for form, target in (('encoded', f'/tags/entities?{body}'), ('decoded', '/tags/entities?did=1&tag=Active Threat')):
        headers = {**client.headers(target), 'Content-Type': 'application/x-www-form-urlencoded'}
        reply = requests.post(emu.url + '/tags/entities', data=body, headers=headers, timeout=10)
        assert reply.status_code == (200 if form in accepted else 400), reply.text


@pytest.mark.parametrize('signature_form', ['decoded', 'encoded', 'either'])
def test_json_body_is_signed_as_sent_whatever_the_setting(emu: Emulator, client: Client,
                                                          signature_form: str) -> None:
    """Given a JSON body with spaces and any signature_form setting, when it is signed exactly as
    sent, then it is accepted."""
    emu.set_settings(signature_form=signature_form)
    reply = client.post_json('/modelbreaches/10001/comments', {'message': 'a note with spaces'})
    assert reply.status_code == 200, reply.text


def test_post_with_query_and_json_body_signs_only_the_json(emu: Emulator, client: Client) -> None:
    """Given a POST with a URL query and a JSON body, when it is signed as path?{json}, then it is
    accepted; signed as path?query it is refused."""
    good = client.post_json('/modelbreaches/10001/comments', {'message': 'hello'}, query='x=1')
    assert good.status_code == 200, good.text
    body = json.dumps({'message': 'hello'})
    headers = {**client.headers('/modelbreaches/10001/comments?x=1'), 'Content-Type': 'application/json'}
    bad = requests.post(emu.url + '/modelbreaches/10001/comments?x=1', data=body, headers=headers, timeout=10)
    assert bad.status_code == 400 and bad.json() == {'modelbreaches': 'API SIGNATURE ERROR'}


def test_advanced_search_path_is_signed_byte_for_byte(emu: Emulator, client: Client) -> None:
    """Given an Advanced Search path whose base64 padding is sent as %3D, when it is signed with
    '=' instead, then it is refused; signed exactly as sent, it is accepted."""
    encoded = b64(search_query(emu, size=1))
    assert encoded.endswith('=')
    sent = '/advancedsearch/api/search/' + encoded.replace('=', '%3D')
    good = requests.get(emu.url + sent, headers=client.headers(sent), timeout=10)
    bad = requests.get(emu.url + sent, headers=client.headers('/advancedsearch/api/search/' + encoded), timeout=10)
    assert good.status_code == 200, good.text
    assert bad.status_code == 400 and bad.json() == {'advancedsearch': 'API SIGNATURE ERROR'}


# ====================================================================== endpoints
def test_status_shape(client: Client) -> None:
    """Given a running appliance, when /status is read, then it has the documented fields with
    the readable UTC time."""
    reply = client.get('/status', {'format': 'json'})
    status = reply.json()
    assert reply.status_code == 200
    for key in ('time', 'version', 'hostname', 'label', 'uuid', 'type', 'license', 'excessTraffic'):
        assert key in status
    datetime.strptime(status['time'], '%Y-%m-%d %H:%M:%S')


def test_modelbreaches_default_reply(client: Client) -> None:
    """Given the default settings, when /modelbreaches is read, then it is a list newest first,
    without acknowledged breaches and without the acknowledged and breachUrl fields."""
    breaches = all_breaches(client)
    assert breaches
    times = [b['time'] for b in breaches]
    assert times == sorted(times, reverse=True)
    dataset = client.emu.dataset
    assert all(not dataset.breaches[b['pbid']].acknowledged for b in breaches)
    first = breaches[0]
    assert 'acknowledged' not in first and 'breachUrl' not in first
    for key in ('commentCount', 'pbid', 'time', 'creationTime', 'model', 'triggeredComponents', 'score',
                'percentscore', 'device', 'mitreTechniques'):
        assert key in first
    assert set(first['model']) == {'then', 'now'}
    assert first['model']['then']['category'] in ('Informational', 'Suspicious', 'Critical', 'Compliance')
    assert all(b['percentscore'] == round(b['score'] * 100) for b in breaches)
    assert first['triggeredComponents'][0]['triggeredFilters'][0]['trigger']['value']


def test_modelbreaches_include_acknowledged_and_breach_url(client: Client) -> None:
    """Given acknowledged breaches in the dataset, when includeacknowledged and includebreachurl
    are true, then they are returned with the acknowledged and breachUrl fields."""
    breaches = all_breaches(client, includeacknowledged='true', includebreachurl='true')
    assert any(b['acknowledged'] for b in breaches)
    assert all(b['breachUrl'] == f'{client.emu.url}/#modelbreach/{b["pbid"]}' for b in breaches)
    assert len(breaches) > len(all_breaches(client))


def test_modelbreaches_filters(client: Client) -> None:
    """Given the generated breaches, when filtering by did, pid, uuid and minscore, then only
    matching breaches are returned."""
    sample = all_breaches(client)[0]
    did, pid, uuid = sample['device']['did'], sample['model']['now']['pid'], sample['model']['now']['uuid']
    assert {b['device']['did'] for b in all_breaches(client, did=did)} == {did}
    by_pid = all_breaches(client, pid=pid)
    assert {b['model']['now']['pid'] for b in by_pid} == {pid}
    assert [b['pbid'] for b in all_breaches(client, uuid=uuid)] == [b['pbid'] for b in by_pid]
    high = all_breaches(client, minscore=0.7)
    assert high and all(b['score'] >= 0.7 for b in high)
    assert {b['pbid'] for b in high} == {b['pbid'] for b in all_breaches(client) if b['score'] >= 0.7}


@pytest.mark.parametrize('value', ['50', 'high', '-0.1'])
def test_modelbreaches_bad_minscore_is_an_input_error(client: Client, value: str) -> None:
    """Given a minscore outside 0..1 or not a number, when /modelbreaches is read, then the
    appliance answers 400 INPUT ERROR."""
    reply = client.get('/modelbreaches', {'minscore': value})
    assert reply.status_code == 400
    assert reply.json()['response'] == 'INPUT ERROR' and reply.json()['error']


def test_modelbreach_single_object_forms(emu: Emulator, client: Client) -> None:
    """Given a known pbid and an appliance with the path route, when read as ?pbid=X or
    /modelbreaches/X, then a single object is returned; an unknown pbid is 404."""
    emu.set_settings(breach_path_route=True)
    pbid = all_breaches(client)[0]['pbid']
    by_param = client.get('/modelbreaches', {'pbid': pbid}).json()
    by_path = client.get(f'/modelbreaches/{pbid}').json()
    assert isinstance(by_param, dict) and by_param == by_path and by_path['pbid'] == pbid
    missing = client.get('/modelbreaches/999999')
    assert missing.status_code == 404 and 'error' in missing.json()


def test_modelbreach_path_route_absent_redirects_to_login(client: Client) -> None:
    """Given an appliance without the path route for one breach (the default), when a breach is
    read as /modelbreaches/X, then it answers 302 to /login, as for any unknown endpoint; ?pbid=X
    still answers the breach."""
    pbid = all_breaches(client)[0]['pbid']
    reply = client.get(f'/modelbreaches/{pbid}')
    assert reply.status_code == 302 and reply.headers['Location'] == '/login'
    assert client.get('/modelbreaches', {'pbid': pbid}).json()['pbid'] == pbid


def test_modelbreaches_readable_from_to_and_count(client: Client) -> None:
    """Given a from/to window in readable UTC and count=3, when /modelbreaches is read, then the
    breaches are inside the window and at most three."""
    now = client.emu.now_ms()
    start, end = now - 3 * DAY_MS, now - DAY_MS
    fmt = '%Y-%m-%d %H:%M:%S'
    window = {'from': datetime.fromtimestamp(start // 1000, tz=timezone.utc).strftime(fmt),
              'to': datetime.fromtimestamp(end // 1000, tz=timezone.utc).strftime(fmt)}
    breaches = client.get('/modelbreaches', window).json()
    assert breaches and all(start - 1000 <= b['time'] <= end for b in breaches)
    assert len(client.get('/modelbreaches', {**window, 'count': 3}).json()) == 3
    assert client.get('/modelbreaches', {'from': 'yesterday'}).status_code == 400


def test_modelbreaches_minimal_deviceattop_and_responsedata(client: Client) -> None:
    """Given minimal=true, deviceattop=false or responsedata=pbid, when /modelbreaches is read,
    then the reply is trimmed accordingly."""
    window = {'starttime': client.emu.now_ms() - DAY_MS}
    minimal = client.get('/modelbreaches', {**window, 'minimal': 'true'}).json()[0]
    assert 'triggeredComponents' not in minimal and set(minimal['model']['then']) == {
        'name', 'pid', 'phid', 'uuid', 'priority', 'category'}
    nested = client.get('/modelbreaches', {**window, 'deviceattop': 'false'}).json()[0]
    assert 'device' not in nested and 'device' in nested['triggeredComponents'][0]
    trimmed = client.get('/modelbreaches', {**window, 'responsedata': 'pbid'}).json()
    assert trimmed and all(list(item) == ['pbid'] for item in trimmed)


def test_breach_text_matches_object_rendering(emu: Emulator) -> None:
    """Given the fast text rendering of breaches, when compared with the object rendering, then
    both produce the same JSON."""
    dataset = emu.dataset
    for breach in list(dataset.breaches.values())[:50]:
        flags: dict[str, Any] = dict(include_acknowledged=True, include_url=True, base_url='https://x',
                                     minimal=False, device_at_top=True)
        assert json.loads(views.breach_text(dataset, breach, **flags)) == views.breach(dataset, breach, **flags)


def test_generated_breaches_have_ties_late_records_and_extreme_scores(emu: Emulator) -> None:
    """Given a generated dataset, when its breaches are inspected, then several share time and
    creationTime, some are created hours late, some are acknowledged, and scores 0 and 1 occur."""
    breaches = list(emu.dataset.breaches.values())
    keys = [(b.time, b.creation_time) for b in breaches]
    assert any(keys.count(key) >= 3 for key in set(keys))
    assert any(b.creation_time - b.time >= HOUR_MS for b in breaches)
    assert any(b.acknowledged for b in breaches)
    scores = {b.score for b in breaches}
    assert 0.0 in scores and 1.0 in scores
    models = emu.dataset.models.values()
    assert 18 <= len(models) <= 25 and any(len(m.versions) > 1 for m in models)
    assert {m.spec.category for m in models} == {'Informational', 'Suspicious', 'Critical', 'Compliance'}
    assert 50 <= len(emu.dataset.devices) <= 70


def test_dataset_is_deterministic_for_a_seed() -> None:
    """Given two datasets with the same seed and anchor, when compared, then devices and
    breaches are identical; another seed differs."""
    first, second = Dataset(200, 7, 5, 1_700_000_000_000), Dataset(200, 7, 5, 1_700_000_000_000)
    other = Dataset(200, 7, 6, 1_700_000_000_000)
    assert first.devices == second.devices
    assert [repr(b) for b in first.breaches.values()] == [repr(b) for b in second.breaches.values()]
    assert [repr(b) for b in first.breaches.values()] != [repr(b) for b in other.breaches.values()]


def test_creationtime_filter_uses_creation_time(client: Client) -> None:
    """Given a breach created hours after its activity, when a window covers only its
    creationTime, then it is returned with creationtime=true and not without."""
    now = client.emu.now_ms()
    late = next(b for b in client.emu.dataset.breaches.values()
                if b.creation_time - b.time >= HOUR_MS and b.creation_time <= now and not b.acknowledged)
    window = {'starttime': late.creation_time - 1000, 'endtime': late.creation_time + 1000}
    assert late.pbid in [b['pbid'] for b in client.get('/modelbreaches', {**window, 'creationtime': 'true'}).json()]
    assert late.pbid not in [b['pbid'] for b in client.get('/modelbreaches', window).json()]


def test_inclusive_and_exclusive_bounds(emu: Emulator, client: Client) -> None:
    """Given breaches sharing one millisecond T, when starttime=endtime=T, then inclusive bounds
    return all of them and exclusive bounds none; (T-1, T+1) exclusive returns them again."""
    tied = emu.add_breaches([{'time': emu.now_ms() - HOUR_MS, 'pid': 301, 'did': 2} for _ in range(3)])
    moment = emu.dataset.breaches[tied[0]].time
    exact = {'starttime': moment, 'endtime': moment}
    assert set(tied) <= {b['pbid'] for b in client.get('/modelbreaches', exact).json()}
    emu.set_settings(inclusive_bounds=False)
    assert client.get('/modelbreaches', exact).json() == []
    around = {'starttime': moment - 1, 'endtime': moment + 1}
    assert set(tied) <= {b['pbid'] for b in client.get('/modelbreaches', around).json()}


@pytest.mark.parametrize('encoding', ['json', 'form'])
def test_acknowledge_and_unacknowledge(emu: Emulator, client: Client, encoding: str) -> None:
    """Given a visible breach, when it is acknowledged (JSON or form body), then the reply is
    SUCCESS and it leaves the default list; unacknowledging brings it back."""
    pbid = all_breaches(client)[0]['pbid']
    post = client.post_json if encoding == 'json' else client.post_form
    reply = post(f'/modelbreaches/{pbid}/acknowledge', {'acknowledge': 'true'})
    assert reply.status_code == 200 and reply.json() == {'response': 'SUCCESS'}
    assert pbid not in [b['pbid'] for b in all_breaches(client)]
    assert post(f'/modelbreaches/{pbid}/unacknowledge', {'unacknowledge': 'true'}).json() == {'response': 'SUCCESS'}
    assert pbid in [b['pbid'] for b in all_breaches(client)]
    assert post('/modelbreaches/999999/acknowledge', {'acknowledge': 'true'}).status_code == 404


def test_ack_reply_list_variant(emu: Emulator, client: Client) -> None:
    """Given ack_reply='list' (Unified View), when a breach is acknowledged, then the reply is
    [{"replicate": true, "data": [...]}]."""
    emu.set_settings(ack_reply='list')
    pbid = all_breaches(client)[0]['pbid']
    reply = client.post_json(f'/modelbreaches/{pbid}/acknowledge', {'acknowledge': 'true'}).json()
    assert isinstance(reply, list) and reply[0]['replicate'] is True and isinstance(reply[0]['data'], list)


def test_breach_comments_and_mbcomments(emu: Emulator, client: Client) -> None:
    """Given a breach, when a comment is posted, then it is listed by the breach's comments, by
    /mbcomments?pbid= and counted in commentCount; comment_reply='list' returns the comment."""
    pbid = all_breaches(client)[0]['pbid']
    assert client.post_json(f'/modelbreaches/{pbid}/comments', {'message': 'first'}).json() == {'response': 'SUCCESS'}
    emu.set_settings(comment_reply='list')
    created = client.post_json(f'/modelbreaches/{pbid}/comments', {'message': 'second'}).json()
    assert isinstance(created, list) and created[0]['message'] == 'second'
    comments = client.get(f'/modelbreaches/{pbid}/comments').json()
    assert [c['message'] for c in comments][-2:] == ['first', 'second']
    assert set(comments[0]) == {'message', 'username', 'time', 'pid'}
    listed = client.get('/mbcomments', {'pbid': pbid}).json()
    assert {c['message'] for c in listed} >= {'first', 'second'}
    assert set(listed[0]) == {'time', 'pbid', 'username', 'message', 'pid', 'name'}
    assert client.get('/modelbreaches', {'pbid': pbid}).json()['commentCount'] == len(comments)
    assert len(client.get('/mbcomments', {'count': 2}).json()) == 2
    assert client.post_json(f'/modelbreaches/{pbid}/comments', {'message': ''}).status_code == 400


def test_deleted_breach_is_gone_from_every_route_and_its_change_time_kept(emu: Emulator, client: Client) -> None:
    """Given a breach with a comment, when it is acknowledged (its change time kept) and then deleted, then it
    answers 404 for reads, acknowledgements and comments, lists and the comment feed leave it out, and the dataset
    records when it changed and was deleted."""
    pbid = all_breaches(client)[0]['pbid']
    client.post_json(f'/modelbreaches/{pbid}/comments', {'message': 'before deletion'})
    client.post_json(f'/modelbreaches/{pbid}/acknowledge', {'acknowledge': 'true'})
    assert emu.dataset.changed_at[('breach', pbid)] >= emu.now_ms() - 60_000
    with emu.dataset.lock:
        emu.dataset.delete_breach(pbid, emu.now_ms())
    assert client.get('/modelbreaches', {'pbid': pbid}).status_code == 404
    assert client.get(f'/modelbreaches/{pbid}/comments').status_code == 404
    assert client.post_json(f'/modelbreaches/{pbid}/unacknowledge', {'unacknowledge': 'true'}).status_code == 404
    assert pbid not in [b['pbid'] for b in all_breaches(client)]
    assert pbid not in [c['pbid'] for c in client.get('/mbcomments', {'count': 1000}).json()]
    assert ('breach', pbid) in emu.dataset.deleted


def test_responsedata_keeps_each_field_of_a_comma_list(client: Client) -> None:
    """Given responsedata=pbid,score (guide 0.6 shows comma lists), when breaches are listed with acknowledged
    ones and minimal=true, then each item holds exactly those two fields."""
    reply = client.get('/modelbreaches', {'includeacknowledged': 'true', 'minimal': 'true',
                                          'responsedata': 'pbid,score'}).json()
    assert reply and all(set(item) == {'pbid', 'score'} for item in reply)


def test_deleted_ai_analyst_event_is_gone_and_comment_ids_kept(emu: Emulator, client: Client) -> None:
    """Given an AI Analyst event, when a comment is posted (its id kept apart from the reply) and the event is
    deleted, then reads by uuid find nothing, its comments and acknowledgement answer 404, and lists leave it
    out."""
    event_id = next(iter(emu.dataset.incidents))
    client.post_json('/aianalyst/incident/comments', {'incident_id': event_id, 'message': 'seen'})
    assert len(emu.dataset.incident_comment_ids[event_id]) == len(emu.dataset.incident_comments[event_id])
    assert 'id' not in client.get('/aianalyst/incident/comments', {'incident_id': event_id}).json()['comments'][-1]
    with emu.dataset.lock:
        emu.dataset.delete_incident_event(event_id, emu.now_ms())
    assert client.get('/aianalyst/incidentevents', {'uuid': event_id}).json() == []
    assert client.get('/aianalyst/incident/comments', {'incident_id': event_id}).status_code == 404
    assert client.post_form('/aianalyst/acknowledge', {'uuid': event_id}).status_code == 404
    listed = client.get('/aianalyst/incidentevents', {'starttime': 0, 'includeacknowledged': 'true'}).json()
    assert event_id not in [event['id'] for event in listed]
    assert all(event_id not in [e['uuid'] for e in group['incidentEvents']]
               for group in client.get('/aianalyst/groups', {'starttime': 0, 'includeacknowledged': 'true'}).json())


def test_details_requires_a_subject(client: Client) -> None:
    """Given none of did, pbid, msg or blockedconnections, when /details is read, then the
    appliance answers 400 INPUT ERROR."""
    reply = client.get('/details', {'count': 5})
    assert reply.status_code == 400 and reply.json()['response'] == 'INPUT ERROR'


def test_details_for_a_device(client: Client) -> None:
    """Given a device, when /details?did= is read with count and an unknown parameter, then
    time-sorted connection events of the documented shape come back, count at most."""
    events = client.get('/details', {'did': 3, 'count': 10, 'unknownparam': 'x'}).json()
    assert 0 < len(events) <= 10
    assert [e['timems'] for e in events] == sorted((e['timems'] for e in events), reverse=True)
    for key in ('time', 'timems', 'action', 'eventType', 'uid', 'sdid', 'ddid', 'port', 'direction', 'protocol',
                'sourceDevice', 'destinationDevice', 'source', 'destination'):
        assert key in events[0]


def test_details_for_a_breach_starts_with_the_breach_record(client: Client) -> None:
    """Given a breach, when /details?pbid= is read, then the first element is the breach record
    (eventType policybreach) and connections follow."""
    pbid = all_breaches(client)[0]['pbid']
    events = client.get('/details', {'pbid': pbid}).json()
    assert events[0]['eventType'] == 'policybreach' and events[0]['pbid'] == pbid
    assert all(e['eventType'] != 'policybreach' for e in events[1:])


@pytest.mark.parametrize('eventtype', ['notice', 'devicehistory', 'modelbreach', 'unusualconnection'])
def test_details_event_types(client: Client, eventtype: str) -> None:
    """Given an event type and a device that has such events in the last four weeks (a breached
    device; for devicehistory, a device whose IP changed), when /details?did=&eventtype= is read
    over four weeks, then events come back and every one has that eventType; an unknown event
    type is an input error."""
    now = client.emu.now_ms()
    start = now - 28 * DAY_MS
    if eventtype == 'devicehistory':
        # Most history is a device's first sighting, months ago; a later IP change is recent.
        did = next(did for did, device in sorted(client.emu.dataset.devices.items())
                   if any(start <= entry['timems'] <= now for entry in device['ips'][1:]))
    else:
        did = all_breaches(client)[0]['device']['did']
    events = client.get('/details', {'did': did, 'eventtype': eventtype, 'starttime': start, 'endtime': now}).json()
    assert isinstance(events, list) and events
    assert all(e['eventType'] == eventtype for e in events)
    assert all(start <= e['timems'] <= now for e in events)
    assert client.get('/details', {'did': 1, 'eventtype': 'bogus'}).status_code == 400


def test_details_device_history_without_window(client: Client) -> None:
    """Given a device, when its devicehistory is read without a time window, then the
    history since it was first seen comes back (hostname, ip, mac assignments)."""
    events = client.get('/details', {'did': 3, 'eventtype': 'devicehistory'}).json()
    assert {e['name'] for e in events} >= {'ip', 'hostname'}
    assert all(e['eventType'] == 'devicehistory' for e in events)


def test_details_msg_and_blocked_connections(client: Client) -> None:
    """Given notices and an Autonomous Response action blocking a connection, when /details?msg=
    and blockedconnections are read, then notices matching the text and the blocked connection
    are returned."""
    now = client.emu.now_ms()
    notices = client.get('/details', {'msg': 'scanned', 'starttime': now - 7 * DAY_MS, 'endtime': now}).json()
    assert notices and all('scanned' in n['msg'] for n in notices)
    # The generated actions may block no connection at all, so the test makes one that does.
    manual = client.post_json('/antigena/manual', {'did': 2, 'action': 'connection', 'duration': 600,
                                                   'connections': [{'src': '10.0.1.2', 'dst': '203.0.113.10',
                                                                    'port': 443}]})
    assert manual.status_code == 200, manual.text
    blocked = client.get('/details', {'blockedconnections': 'all'}).json()
    assert isinstance(blocked, list) and blocked and all(e['blocked'] for e in blocked)
    assert {(e['codeid'], e['destination'], e['port']) for e in blocked} >= {
        (manual.json()['code'], '203.0.113.10', 443)}


def test_devices(client: Client) -> None:
    """Given the devices, when /devices is read with and without did, includetags, ip and
    seensince, then did gives one object (404 if unknown), otherwise an array, filtered."""
    one = client.get('/devices', {'did': 3, 'includetags': 'true'}).json()
    assert isinstance(one, dict) and one['did'] == 3 and isinstance(one['tags'], list)
    for key in ('did', 'ip', 'ips', 'sid', 'time', 'endtime', 'typename', 'typelabel'):  # guide 2.20
        assert key in one
    assert 'firstSeen' not in one and 'lastSeen' not in one
    everything = client.get('/devices').json()
    assert isinstance(everything, list) and len(everything) == len(client.emu.dataset.devices)
    assert any('hostname' not in d for d in everything)
    assert client.get('/devices', {'did': 99999}).status_code == 404
    recent = client.get('/devices', {'seensince': '1hour'}).json()
    assert 0 < len(recent) < len(everything)
    assert client.get('/devices', {'seensince': 'soon'}).status_code == 400
    assert [d['did'] for d in client.get('/devices', {'ip': one['ip']}).json()] == [3]


def test_devicesearch(client: Client) -> None:
    """Given the devices, when /devicesearch is queried with field:"value" and * wildcards,
    count, offset, orderBy and order, then totalCount and the page reflect them."""
    servers = client.get('/devicesearch', {'query': 'type:"server"'}).json()
    assert servers['totalCount'] == len(servers['devices']) > 0
    assert all(d['typename'] == 'server' for d in servers['devices'])
    wildcard = client.get('/devicesearch', {'query': 'hostname:srv*', 'orderBy': 'hostname', 'order': 'asc'}).json()
    names = [d['hostname'] for d in wildcard['devices']]
    assert names and names == sorted(names) and all(n.startswith('srv') for n in names)
    everything = client.get('/devicesearch', {'count': 1000}).json()
    assert everything['totalCount'] == len(client.emu.dataset.devices) == len(everything['devices'])
    default_order = [d['lastSeen'] for d in everything['devices']]
    assert default_order == sorted(default_order, reverse=True)
    page = client.get('/devicesearch', {'count': 5, 'offset': 5}).json()
    assert [d['did'] for d in page['devices']] == [d['did'] for d in everything['devices'][5:10]]
    tagged = client.get('/devicesearch', {'query': 'tag:"Active Threat"'}).json()
    assert tagged['totalCount'] >= 1
    assert client.get('/devicesearch', {'orderBy': 'color'}).status_code == 400


def test_similardevices(client: Client) -> None:
    """Given a device, when /similardevices is read with count, then similar devices with a
    0..100 score come back; did is required."""
    similar = client.get('/similardevices', {'did': 3, 'count': 4}).json()
    assert len(similar) == 4 and all(0 <= d['score'] <= 100 and 'did' in d for d in similar)
    assert client.get('/similardevices', {'count': 4}).status_code == 400


def test_endpointdetails_shapes(client: Client) -> None:
    """Given a hostname, an external IP and an internal IP, when /endpointdetails is read, then
    the three documented reply shapes come back; without ip or hostname it is an input error."""
    host = client.get('/endpointdetails', {'hostname': 'cats.com', 'additionalinfo': 'true', 'devices': 'true',
                                           'score': 'true'}).json()
    assert {'hostname', 'firsttime', 'devices', 'ips', 'locations', 'popularity', 'dgascore'} <= set(host)
    external = client.get('/endpointdetails', {'ip': '198.51.100.66', 'devices': 'true'}).json()
    assert {'ip', 'firsttime', 'country', 'asn', 'city', 'region', 'longitude', 'latitude', 'devices'} <= set(external)
    internal = client.get('/endpointdetails', {'ip': '10.0.1.20'}).json()
    assert internal == {'name': 'internal_ip', 'subnetlabel': 'Corporate LAN', 'subnetid': 1,
                        'subnetnetwork': '10.0.1.0/24'}
    assert client.get('/endpointdetails', {'devices': 'true'}).status_code == 400


def test_deviceinfo_graph_and_info(client: Client) -> None:
    """Given a server, when /deviceinfo is read with showallgraphdata and similardevices=2, then
    four weeks of hourly graphData and the info breakdown (with string ports/dids) come back for
    it and two similar devices."""
    reply = client.get('/deviceinfo', {'did': 3, 'datatype': 'co', 'showallgraphdata': 'true',
                                       'similardevices': 2, 'fulldevicedetails': 'true'}).json()
    entries = reply['deviceInfo']
    assert [e['similarityScore'] for e in entries][0] == 100 and len(entries) == 3
    graph = entries[0]['graphData']
    assert len(graph) == 28 * 24
    assert all(b['time'] - a['time'] == HOUR_MS for a, b in zip(graph, graph[1:]))
    info = entries[0]['info']
    for key in ('totalUsed', 'totalServed', 'totalDevicesAndPorts', 'devicesAndPorts', 'portsUsed', 'portsServed',
                'devicesUsed', 'devicesServed'):
        assert key in info
    assert 'others' in [p['port'] for p in info['portsUsed']]
    assert 'others' in [d['did'] for d in info['devicesUsed']]
    assert isinstance(reply['devices'], list)
    ports = {p['port'] for d in range(1, 20)
             for p in client.get('/deviceinfo', {'did': d}).json()['deviceInfo'][0]['info']['portsUsed']}
    assert '5001 - 10000' in ports


def test_deviceinfo_parameters(client: Client) -> None:
    """Given datatype, intervalhours and odid, when /deviceinfo is read, then sizes, buckets
    and the other-device filter apply; did is required and datatype is checked."""
    hourly = client.get('/deviceinfo', {'did': 3, 'showallgraphdata': 'true'}).json()['deviceInfo'][0]
    daily = client.get('/deviceinfo', {'did': 3, 'intervalhours': 24, 'showallgraphdata': 'true'}).json()
    assert len(daily['deviceInfo'][0]['graphData']) == 28
    assert sum(p['count'] for p in daily['deviceInfo'][0]['graphData']) == sum(p['count'] for p in hourly['graphData'])
    size = client.get('/deviceinfo', {'did': 3, 'datatype': 'sizeout'}).json()['deviceInfo'][0]['graphData']
    assert max(p['count'] for p in size) > max(p['count'] for p in hourly['graphData'])
    external = client.get('/deviceinfo', {'did': 3, 'odid': 0}).json()['deviceInfo'][0]['info']
    assert external['devicesAndPorts']
    assert all(item['deviceAndPort']['device'] == 0 for item in external['devicesAndPorts'])
    assert client.get('/deviceinfo', {'datatype': 'co'}).status_code == 400
    assert client.get('/deviceinfo', {'did': 3, 'datatype': 'bytes'}).status_code == 400


def test_tags_and_tag_entities_get(client: Client) -> None:
    """Given the seeded tags, when /tags and /tags/entities are read by did, by tag and with
    fulldevicedetails, then tag objects, links and {entities, devices} come back."""
    tags = client.get('/tags').json()
    names = {t['name'] for t in tags}
    assert {'Active Threat', 'Admin', 'Re-Activated Device'} <= names
    assert set(tags[0]) == {'tid', 'expiry', 'thid', 'name', 'restricted', 'data', 'isReferenced'}
    links = client.get('/tags/entities', {'tag': 'Admin'}).json()
    assert links and set(links[0]) == {'teid', 'tehid', 'tid', 'entityType', 'entityValue', 'valid', 'expiry'}
    did = int(links[0]['entityValue'])
    assert 'Admin' in [t['name'] for t in client.get('/tags/entities', {'did': did}).json()]
    full = client.get('/tags/entities', {'tag': 'Admin', 'fulldevicedetails': 'true'}).json()
    assert set(full) == {'entities', 'devices'} and full['devices'][0]['did'] == did
    assert {'did', 'credentials', 'tags'} <= set(full['devices'][0])
    assert client.get('/tags/entities').status_code == 400


def test_tag_post_and_delete(emu: Emulator, client: Client) -> None:
    """Given a device, when a tag is posted (form) and then deleted, then the reply is {"tid"}
    (or SUCCESS with tag_reply='success') and the device's tags follow."""
    reply = client.post_form('/tags/entities', {'did': 5, 'tag': 'Admin'})
    admin_tid = next(t['tid'] for t in client.get('/tags').json() if t['name'] == 'Admin')
    assert reply.status_code == 200 and reply.json() == {'tid': admin_tid}
    assert 'Admin' in [t['name'] for t in client.get('/tags/entities', {'did': 5}).json()]
    emu.set_settings(tag_reply='success')
    assert client.post_form('/tags/entities', {'did': 5, 'tag': 'Guest', 'duration': 60}).json() == {
        'response': 'SUCCESS'}
    assert client.delete('/tags/entities', {'did': 5, 'tag': 'Admin'}).json() == {'response': 'SUCCESS'}
    remaining = [t['name'] for t in client.get('/tags/entities', {'did': 5}).json()]
    assert 'Admin' not in remaining and 'Guest' in remaining
    emu.shift_clock(120)
    assert 'Guest' not in [t['name'] for t in client.get('/tags/entities', {'did': 5}).json()]
    assert client.post_form('/tags/entities', {'did': 5}).status_code == 400


def test_intelfeed_get_variants(client: Client) -> None:
    """Given the seeded watch list, when /intelfeed is read plain, with fulldetails and with
    sources, then strings, detail objects and source names come back."""
    names = client.get('/intelfeed').json()
    assert names and all(isinstance(n, str) for n in names)
    details = client.get('/intelfeed', {'fulldetails': 'true'}).json()
    assert {'name', 'description', 'strength', 'iagn'} <= set(details[0])
    assert 'ThreatIntel' in client.get('/intelfeed', {'sources': 'true'}).json()


def test_intelfeed_post_adds_updates_and_removes(client: Client) -> None:
    """Given the watch list, when entries are added by list (comma and newline), updated,
    removed and all removed, then the replies count them and the state follows."""
    added = client.post_json('/intelfeed', {'addlist': 'a.example,b.example\nc.example', 'description': 'test'})
    assert added.json() == {'added': 3, 'updated': 0, 'response': 'SUCCESS'}
    again = client.post_form('/intelfeed', {'addentry': 'a.example', 'source': 'Mine',
                                            'expiry': '2030-01-01T00:00:00Z'})
    assert again.json() == {'added': 0, 'updated': 1, 'response': 'SUCCESS'}
    assert 'Mine' in client.get('/intelfeed', {'sources': 'true'}).json()
    # guide 2.26: with several sources, removeentry needs the source; an entry leaves that source only
    assert client.post_form('/intelfeed', {'removeentry': 'b.example'}).status_code == 400
    assert client.post_form('/intelfeed', {'removeentry': 'b.example', 'source': 'default'}).json()['response'] \
        == 'SUCCESS'
    names = client.get('/intelfeed').json()  # a plain GET lists the "default" source
    assert 'a.example' in names and 'b.example' not in names
    assert client.post_form('/intelfeed', {'removeentry': 'a.example', 'source': 'Mine'}).status_code == 200
    assert 'a.example' in client.get('/intelfeed').json()
    assert 'a.example' not in client.get('/intelfeed', {'source': 'Mine'}).json()
    client.post_json('/intelfeed', {'removeall': True})
    assert client.get('/intelfeed').json() == [] and client.get('/intelfeed', {'sources': 'true'}).json() == []


@pytest.mark.parametrize('payload', [{'addentry': 'x.example', 'description': 'd' * 256},
                                     {'addentry': 'x.example', 'source': 's' * 64}, {'description': 'nothing'}])
def test_intelfeed_post_input_errors(client: Client, payload: dict[str, Any]) -> None:
    """Given a too long description or source, or no operation, when /intelfeed is posted, then
    the appliance answers 400 INPUT ERROR."""
    reply = client.post_json('/intelfeed', payload)
    assert reply.status_code == 400 and reply.json()['response'] == 'INPUT ERROR'


def test_advanced_search(emu: Emulator, client: Client) -> None:
    """Given six hours of logs, when Advanced Search is queried with size and offset, then an
    Elasticsearch-like reply pages through the matching records."""
    first = client.get('/advancedsearch/api/search/' + b64(search_query(emu, size=5))).json()
    assert {'took', 'timed_out', 'hits', 'kibana'} <= set(first)
    assert first['hits']['total'] > 10 and len(first['hits']['hits']) == 5
    assert all(hit['_source']['@type'] == 'conn' for hit in first['hits']['hits'])
    second = client.get('/advancedsearch/api/search/' + b64(search_query(emu, size=5, offset=5))).json()
    assert {h['_id'] for h in first['hits']['hits']}.isdisjoint({h['_id'] for h in second['hits']['hits']})
    assert client.get('/advancedsearch/api/search/' + b64(search_query(emu, size=10001))).status_code == 400
    assert client.get('/advancedsearch/api/search/not-base64!').status_code == 400


@pytest.mark.parametrize('analysis', ['terms', 'mean', 'score', 'trend'])
def test_advanced_search_analyze(emu: Emulator, client: Client, analysis: str) -> None:
    """Given logs, when /advancedsearch/api/analyze/{field}/{analysis}/ is read, then the
    documented reply for that analysis comes back."""
    field = '@fields.orig_bytes' if analysis == 'mean' else '@fields.dest_ip'
    reply = client.get(f'/advancedsearch/api/analyze/{field}/{analysis}/' + b64(search_query(emu))).json()
    if analysis == 'terms':
        buckets = reply['aggregations']['terms']['buckets']
        assert buckets and set(buckets[0]) == {'key', 'doc_count'}
    elif analysis == 'mean':  # guide 2.2
        stats = reply['aggregations']['stats']
        assert set(stats) == {'count', 'min', 'max', 'avg', 'sum'} and isinstance(stats['avg'], float)
    else:
        hits = reply['hits']['hits']
        assert hits and {'id', 'count'} <= set(hits[0])
        if analysis == 'trend':
            assert {'start', 'trend'} <= set(hits[0])


def test_advanced_search_query_containing_slash_and_graph(emu: Emulator, client: Client) -> None:
    """Given a base64 query containing '/', when analyze and graph are read, then everything
    after the analysis is taken as the query."""
    query = None
    for pad in range(3):
        candidate = search_query(emu, search='@type:dns', fields=['a' * pad + '???'])
        if '/' in b64(candidate):
            query = candidate
            break
    assert query is not None
    reply = client.get('/advancedsearch/api/analyze/@fields.query/terms/' + b64(query))
    assert reply.status_code == 200 and reply.json()['aggregations']['terms']['buckets']
    graph = client.get(f'/advancedsearch/api/graph/count/{HOUR_MS}/' + b64(search_query(emu))).json()
    buckets = graph['aggregations']['count']['buckets']
    assert sum(b['doc_count'] for b in buckets) == graph['hits']['total']


def test_models_and_components(emu: Emulator, client: Client) -> None:
    """Given the models, when /models, ?uuid=, /models/{pid}, /components, ?cid= and
    /components/{cid} are read, then the documented shapes come back; unknown ids are 404."""
    models = client.get('/models').json()
    assert len(models) == len(emu.dataset.models)
    assert {'name', 'pid', 'phid', 'uuid', 'logic', 'throttle', 'actions', 'tags', 'interval', 'active',
            'description', 'priority', 'category', 'compliance'} <= set(models[0])
    names = {m['name'] for m in models}
    assert {'Compromise::Watched Domain', 'Anomalous Connection::Data Sent to Rare Domain',
            'Device::Suspicious Port Scan'} <= names
    assert client.get('/models', {'uuid': models[0]['uuid']}).json() == [models[0]]
    emu.set_settings(model_uuid_reply='object')
    assert client.get('/models', {'uuid': models[0]['uuid']}).json() == models[0]
    assert client.get(f'/models/{models[0]["pid"]}').json() == models[0]
    assert client.get('/models/1').status_code == 404
    components = client.get('/components').json()
    cid = components[0]['cid']
    assert {'cid', 'chid', 'mlid', 'threshold', 'interval', 'logic', 'filters', 'active'} <= set(components[0])
    assert client.get('/components', {'cid': cid}).json() == components[0] == client.get(f'/components/{cid}').json()
    assert client.get('/components/1').status_code == 404


def test_ai_analyst_incident_events(emu: Emulator, client: Client) -> None:
    """Given AI Analyst incidents, when /aianalyst/incidentevents is read with its filters, then
    acknowledged events are hidden by default, scores filter, and uuid overrides everything."""
    now = emu.now_ms()
    window = {'starttime': now - 30 * DAY_MS, 'endtime': now}
    events = client.get('/aianalyst/incidentevents', window).json()
    assert events and not any(e['acknowledged'] for e in events)
    for key in ('id', 'acknowledged', 'pinned', 'createdAt', 'title', 'category', 'currentGroup', 'groupCategory',
                'groupScore', 'aiaScore', 'summary', 'mitreTactics', 'breachDevices', 'relatedBreaches', 'details',
                'periods'):
        assert key in events[0]
    everything = client.get('/aianalyst/incidentevents', {**window, 'includeacknowledged': 'true'}).json()
    assert len(everything) >= len(events)
    scored = client.get('/aianalyst/incidentevents', {**window, 'minscore': 50}).json()
    assert scored and all(e['aiaScore'] >= 50 for e in scored)
    assert [e['id'] for e in scored] == [e['id'] for e in events if e['aiaScore'] >= 50]
    chosen = everything[-1]['id']
    overridden = client.get('/aianalyst/incidentevents', {'uuid': chosen, 'minscore': 100}).json()
    assert [e['id'] for e in overridden] == [chosen]
    groups = client.get('/aianalyst/groups', window).json()
    assert groups and {'id', 'category', 'groupScore', 'incidentEvents', 'devices'} <= set(groups[0])


def test_ai_analyst_actions_and_comments(emu: Emulator, client: Client) -> None:
    """Given two incident events, when they are acknowledged and pinned with uuid=a,b and a
    comment is posted, then the replies are SUCCESS and the state follows."""
    first, second = sorted(emu.dataset.incidents)[:2]
    for action in ('acknowledge', 'pin'):
        reply = client.post_form(f'/aianalyst/{action}', {'uuid': f'{first},{second}'})
        assert reply.json() == {'aianalyst': 'SUCCESS'}
    assert emu.dataset.incidents[first]['acknowledged'] and emu.dataset.incidents[second]['pinned']
    client.post_form('/aianalyst/unacknowledge', {'uuid': first})
    client.post_form('/aianalyst/unpin', {'uuid': first})
    assert not emu.dataset.incidents[first]['acknowledged'] and not emu.dataset.incidents[first]['pinned']
    assert client.post_form('/aianalyst/pin', {'uuid': 'nope'}).status_code == 404
    posted = client.post_json('/aianalyst/incident/comments', {'incident_id': first, 'message': 'looking'})
    assert posted.json() == {'response': 'SUCCESS'}
    comments = client.get('/aianalyst/incident/comments', {'incident_id': first}).json()
    assert comments['comments'][-1]['message'] == 'looking'


def test_antigena(emu: Emulator, client: Client) -> None:
    """Given Autonomous Response actions, when they are listed, activated, cleared and a manual
    action is created, then the replies and the list follow."""
    actions = client.get('/antigena').json()
    assert actions and {'codeid', 'did', 'ip', 'action', 'manual', 'triggerer', 'label', 'detail', 'score', 'pbid',
                        'model', 'start', 'expires', 'blocked', 'active', 'cleared'} <= set(actions[0])
    codeid = actions[0]['codeid']
    assert client.post_json('/antigena', {'codeid': codeid, 'clear': True, 'reason': 'ok'}).json() == {
        'response': 'SUCCESS'}
    assert codeid not in [a['codeid'] for a in client.get('/antigena').json()]
    assert codeid in [a['codeid'] for a in client.get('/antigena', {'includecleared': 'true'}).json()]
    manual = client.post_json('/antigena/manual', {'did': 2, 'action': 'connection', 'duration': 600, 'reason': 'test',
                                                   'connections': [{'src': '10.0.1.2', 'dst': '203.0.113.10',
                                                                    'port': 443}]})
    new_codeid = manual.json()['code']  # guide 2.14: the example reply is {"code": 10170}
    assert new_codeid in [a['codeid'] for a in client.get('/antigena', {'did': 2}).json()]
    assert client.post_json('/antigena/manual', {'did': 2, 'action': 'explode', 'duration': 60}).status_code == 400
    assert client.post_json('/antigena', {'codeid': 1, 'clear': True}).status_code == 404
    assert client.post_json('/antigena', {'codeid': codeid}).status_code == 400


def test_antigena_state_rules(emu: Emulator, client: Client) -> None:
    """Given the seeded actions (5001 pending, 5002 active, 5004 cleared, 5005 expired), when they are activated,
    extended, cleared and reactivated, then the state follows emulator/respond.py: an extension's duration runs from
    now (guide 2.13), an expired action keeps active=true, an expired or cleared action is reactivated only with a
    duration, and the history records each change with the token's user and the reason."""
    now = emu.now_ms()
    states = {a['codeid']: a for a in client.get('/antigena', {'includecleared': 'true'}).json()}
    assert not states[5001]['active'] and states[5002]['active'] and states[5004]['cleared']
    assert states[5005]['expires'] <= now and states[5005]['active']  # guide 2.13: expiry leaves active=true
    assert [a['codeid'] for a in client.get('/antigena', {'needconfirming': 'true'}).json()] == [5001]

    def change(body: dict[str, Any]) -> requests.Response:
        return client.post_json('/antigena', {'reason': 'test', **body})

    assert change({'codeid': 5001, 'activate': True}).json() == {'response': 'SUCCESS'}
    assert emu.dataset.antigena[5001].active
    before = emu.now_ms()
    assert change({'codeid': 5002, 'duration': 6 * 3600}).status_code == 200
    assert before + 6 * 3600 * 1000 <= emu.dataset.antigena[5002].expires <= emu.now_ms() + 6 * 3600 * 1000
    emu.set_settings(extend_from='start')  # the other reading: the total from the start, which may end in the past
    start = emu.dataset.antigena[5002].start
    assert change({'codeid': 5002, 'duration': 7 * 3600}).status_code == 200
    assert emu.dataset.antigena[5002].expires == start + 7 * 3600 * 1000
    assert change({'codeid': 5002, 'duration': 60}).status_code == 400
    emu.set_settings(extend_from='now')
    for codeid in (5004, 5005):
        assert change({'codeid': codeid, 'activate': True}).status_code == 400
        assert change({'codeid': codeid, 'duration': 3600}).status_code == 400
        assert change({'codeid': codeid, 'activate': True, 'duration': 600}).status_code == 200
        assert emu.dataset.antigena[codeid].expires >= now + 600_000 and not emu.dataset.antigena[codeid].cleared
    assert change({'codeid': 5002, 'activate': True, 'clear': True}).status_code == 400
    assert change({'codeid': 5002, 'clear': True}).status_code == 200
    assert change({'codeid': 5002, 'clear': True}).status_code == 200  # clearing twice changes nothing
    history = next(a for a in client.get('/antigena', {'includecleared': 'true', 'includehistory': 'true',
                                                         'did': emu.dataset.antigena[5002].did}).json()
                   if a['codeid'] == 5002)['history']
    assert [(h['action'], h['username'], h['reason']) for h in history[1:]] == [
        ('extended', 'api_user', 'test'), ('extended', 'api_user', 'test'), ('cleared', 'api_user', 'test')]


@pytest.mark.parametrize('body', [
    {'did': 2, 'action': 'connection', 'duration': 60},
    {'did': 2, 'action': 'quarantine', 'duration': 60, 'connections': [{'src': '10.0.1.2', 'dst': '203.0.113.1'}]},
    {'did': 2, 'action': 'connection', 'duration': 60, 'connections': [{'src': '10.0.1.2', 'dst': 5}]},
    {'did': 2, 'action': 'connection', 'duration': 60, 'connections': [{'src': 'a', 'dst': 'b', 'port': 70000}]},
    {'did': 99999, 'action': 'quarantine', 'duration': 60},
])
def test_antigena_manual_refusals(client: Client, body: dict[str, Any]) -> None:
    """Given a manual action without connections for `connection`, with them for another action, with malformed
    ones, or for an unknown device, when it is posted, then the appliance refuses it (400, or 404 for the device)."""
    assert client.post_json('/antigena/manual', body).status_code in (400, 404)


@pytest.mark.parametrize('respond, get_reply, post_reply', [
    ('absent', (302, '/login'), (302, '/login')),
    ('no_permission', (302, '/403'), (403, None)),
])
def test_respond_switch(emu: Emulator, client: Client, respond: str, get_reply: tuple[int, Any],
                        post_reply: tuple[int, Any]) -> None:
    """Given the respond switch, when /antigena is read and changed, then an appliance without RESPOND redirects
    to /login, and a user without the permission is redirected to /403 (reads) or refused with 403 JSON (changes);
    other routes are untouched."""
    emu.set_settings(respond=respond)
    try:
        for reply, (status, location) in ((client.get('/antigena'), get_reply),
                                          (client.post_json('/antigena/manual', {'did': 2, 'action': 'pol',
                                                                                 'duration': 60}), post_reply)):
            assert reply.status_code == status and reply.headers.get('Location') == location
        assert client.get('/status').status_code == 200
    finally:
        emu.set_settings(respond='enabled')


# ====================================================================== switches
@pytest.mark.parametrize('order', ['asc', 'desc', 'shuffle'])
def test_order_switch(emu: Emulator, client: Client, order: str) -> None:
    """Given order=asc|desc|shuffle, when /modelbreaches is read, then the same breaches come
    back ascending, descending, or in neither order."""
    expected = sorted(b['pbid'] for b in all_breaches(client))
    emu.set_settings(order=order)
    breaches = all_breaches(client)
    keys = [(b['time'], b['pbid']) for b in breaches]
    assert sorted(b['pbid'] for b in breaches) == expected
    if order == 'asc':
        assert keys == sorted(keys)
    elif order == 'desc':
        assert keys == sorted(keys, reverse=True)
    else:
        assert keys != sorted(keys) and keys != sorted(keys, reverse=True)


def test_honour_count_switch(emu: Emulator, client: Client) -> None:
    """Given honour_count=False, when count=2 is sent, then it is ignored."""
    assert len(all_breaches(client, count=2)) == 2
    emu.set_settings(honour_count=False)
    assert len(all_breaches(client, count=2)) > 2


def test_settings_are_validated(emu: Emulator) -> None:
    """Given bad setting names or values, when they are set, then ValueError is raised and
    nothing changes; Emulator(**settings) applies settings at construction."""
    with pytest.raises(ValueError):
        emu.set_settings(order='random')
    with pytest.raises(ValueError):
        emu.set_settings(no_such_setting=True)
    with pytest.raises(ValueError):
        emu.set_settings(inclusive_bounds='yes')
    assert emu.settings['order'] == 'desc'
    other = Emulator(breaches=1, order='asc', tag_reply='success')
    assert other.settings['order'] == 'asc' and other.settings['tag_reply'] == 'success'
    with pytest.raises(ValueError):
        Emulator(breaches=1, colour='blue')


# ====================================================================== faults
@pytest.mark.parametrize('status', [429, 500, 502, 503, 504])
def test_status_fault(emu: Emulator, client: Client, status: int) -> None:
    """Given a status fault, when the next request is sent, then it gets that status (429 with
    Retry-After), and the request after it is answered normally."""
    emu.inject_fault('status', status=status, retry_after=7 if status == 429 else None)
    reply = client.get('/status')
    assert reply.status_code == status
    if status == 429:
        assert reply.headers['Retry-After'] == '7'
    else:
        assert 'Retry-After' not in reply.headers
    assert client.get('/status').status_code == 200


def test_delay_fault_answers_normally(emu: Emulator, client: Client) -> None:
    """Given a delay fault, when the next request is sent, then it is answered normally and the
    log records the delay fault."""
    emu.inject_fault('delay', delay_s=0.05)
    reply = client.get('/status')
    assert reply.status_code == 200 and reply.json()['version']
    assert emu.request_log()[-1]['fault'] == 'delay'


def test_truncate_fault_cuts_the_json(emu: Emulator, client: Client) -> None:
    """Given a truncate fault, when /tags is read, then the headers are valid and the body is the
    first half of the normal JSON, which no longer parses."""
    full = client.get('/tags').content
    emu.inject_fault('truncate', path='/tags')
    reply = client.get('/tags')
    assert reply.status_code == 200
    assert int(reply.headers['Content-Length']) == len(reply.content) == len(full) // 2
    assert full.startswith(reply.content)
    with pytest.raises(ValueError):
        reply.json()


def test_html_login_fault(emu: Emulator, client: Client) -> None:
    """Given an html_login fault, when a request is sent, then a 200 HTML login page comes
    back instead of data."""
    emu.inject_fault('html_login')
    reply = client.get('/modelbreaches')
    assert reply.status_code == 200
    assert reply.headers['Content-Type'].startswith('text/html')
    assert '<title>Log In | Darktrace</title>' in reply.text


def test_reset_fault_drops_the_connection(emu: Emulator, client: Client) -> None:
    """Given a reset fault, when a request is sent, then the connection is dropped without a
    reply, and the next request is answered."""
    emu.inject_fault('reset')
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get('/status')
    assert client.get('/status').status_code == 200
    assert emu.request_log()[0]['fault'] == 'reset' and emu.request_log()[0]['status'] is None


def test_faults_match_method_path_and_count_before_auth(emu: Emulator, client: Client) -> None:
    """Given a fault for the next two GETs under /modelbreaches, when other requests and then
    unsigned matching ones are sent, then only the matching ones fail, before authentication."""
    emu.inject_fault('status', count=2, method='GET', path='/modelbreaches', status=503)
    assert client.get('/status').status_code == 200
    assert client.post_json('/modelbreaches/10001/comments', {'message': 'x'}).status_code == 200
    assert requests.get(emu.url + '/modelbreaches', timeout=10, allow_redirects=False).status_code == 503
    assert client.get('/modelbreaches', {'pbid': 10001}).status_code == 503
    assert client.get('/modelbreaches', {'pbid': 10001}).status_code == 200
    emu.inject_fault('status', status=500, count=5)
    emu.clear_faults()
    assert client.get('/status').status_code == 200
    with pytest.raises(ValueError):
        emu.inject_fault('explode')



def test_trickle_fault_sends_the_normal_answer_byte_by_byte(emu: Emulator, client: Client) -> None:
    """Given a trickle fault, when /status is read, then the normal answer arrives complete, one byte at a time."""
    emu.inject_fault('trickle', delay_s=0.001, path='/status')
    reply = client.get('/status')
    assert reply.status_code == 200 and reply.json()['version']
    assert emu.request_log()[-1]['fault'] == 'trickle'


def test_huge_body_and_gzip_bomb_faults_announce_and_inflate_to_their_size(emu: Emulator, client: Client) -> None:
    """Given a huge_body and a gzip_bomb fault of 3 MiB + 5 bytes, when read, then each is a JSON empty list
    padded to exactly that size, the bomb on the wire about a thousandth of it."""
    size = 3 * 2 ** 20 + 5
    emu.inject_fault('huge_body', size_bytes=size)
    reply = client.get('/status')
    assert int(reply.headers['Content-Length']) == len(reply.content) == size and reply.json() == []
    emu.inject_fault('gzip_bomb', size_bytes=size)
    reply = client.get('/status')
    assert reply.headers['Content-Encoding'] == 'gzip' and int(reply.headers['Content-Length']) < size // 500
    assert len(reply.content) == size and reply.json() == []


def test_wrong_shape_echo_error_and_retry_after_text_faults(emu: Emulator, client: Client) -> None:
    """Given wrong_shape, echo_error (500 and 401) and a status fault with a text Retry-After, when requests are
    sent, then each reply is as injected, the echoed ones holding the request's token."""
    emu.inject_fault('wrong_shape', payload={'a': 1})
    assert client.get('/status').json() == {'a': 1}
    emu.inject_fault('echo_error')
    reply = client.get('/status')
    assert reply.status_code == 500 and emu.public_token in reply.json()['error']
    emu.inject_fault('echo_error', status=401)
    reply = client.get('/status')
    assert reply.status_code == 401 and reply.headers['Content-Type'].startswith('text/html')
    assert emu.public_token in reply.text
    emu.inject_fault('status', status=503, retry_after='garbage')
    assert client.get('/status').headers['Retry-After'] == 'garbage'
    for bad in ({'kind': 'huge_body', 'size_bytes': 1}, {'kind': 'trickle', 'delay_s': -1},
                {'kind': 'echo_error', 'status': 200}):
        with pytest.raises(ValueError):
            emu.inject_fault(**bad)

# ====================================================================== clock, visibility, log
def test_future_breaches_appear_when_the_clock_passes_them(emu: Emulator, client: Client) -> None:
    """Given a breach whose creationTime is ten minutes ahead, when the clock is shifted past
    it, then it becomes visible (by list and by pbid)."""
    now = emu.now_ms()
    [pbid] = emu.add_breaches([{'time': now - 60_000, 'creationTime': now + 600_000, 'score': 0.9}])
    window = {'starttime': now - HOUR_MS}
    assert pbid not in [b['pbid'] for b in client.get('/modelbreaches', window).json()]
    assert client.get('/modelbreaches', {'pbid': pbid}).status_code == 404
    emu.shift_clock(601)
    assert pbid in [b['pbid'] for b in client.get('/modelbreaches', window).json()]
    assert client.get('/modelbreaches', {'pbid': pbid}).json()['score'] == 0.9


def test_clock_shift_and_the_date_clock_switch(emu: Emulator) -> None:
    """Given the appliance clock shifted by two hours, when a client signs with the host clock,
    then it is an API DATE ERROR; with date_clock='host' the host clock is checked instead."""
    before = emu.now_ms()
    assert emu.shift_clock(7200) - before >= 7_200_000
    host_date = datetime.fromtimestamp(emu.clock.host_ms() / 1000, timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
    headers = Client(emu).headers('/status', date=host_date)
    assert requests.get(emu.url + '/status', headers=headers, timeout=10).json() == {'status': 'API DATE ERROR'}
    emu.set_settings(date_clock='host')
    assert requests.get(emu.url + '/status', headers=headers, timeout=10).status_code == 200


def test_request_log_records_signed_requests(emu: Emulator, client: Client) -> None:
    """Given signed requests, when the log is read, then each has method, path, query, body,
    status, bytes_sent and headers with the signature redacted; clear_log empties it."""
    client.get('/devices', {'did': 1})
    client.post_form('/tags/entities', {'did': 1, 'tag': 'Admin'})
    log = emu.request_log()
    assert [(e['method'], e['path'], e['status']) for e in log] == [
        ('GET', '/devices', 200), ('POST', '/tags/entities', 200)]
    assert log[0]['query'] == 'did=1' and log[1]['body'] == 'did=1&tag=Admin'
    assert log[0]['bytes_sent'] > 0
    assert log[0]['headers']['DTAPI-Signature'] == '<redacted>' and log[0]['headers']['DTAPI-Token']
    emu.clear_log()
    assert emu.request_log() == []


def test_add_breaches_accepts_partial_and_full_dicts(emu: Emulator, client: Client) -> None:
    """Given partial and full breach dicts, when added, then pbids are assigned when missing and
    the API returns them with their fields."""
    now = emu.now_ms()
    full = {'pbid': 777777, 'time': now - 1000, 'creationTime': now - 500, 'score': 0.25,
            'model': {'then': {'name': 'Custom::Model', 'pid': 9999}, 'now': {'name': 'Custom::Model', 'pid': 9999}},
            'device': {'did': 4242, 'ip': '10.9.9.9'}, 'triggeredComponents': []}
    pbids = emu.add_breaches([{'score': 0.5}, full])
    assert pbids[1] == 777777 and pbids[0] > 0
    reply = client.get('/modelbreaches', {'pbid': 777777}).json()
    assert reply['model']['now']['name'] == 'Custom::Model' and reply['device']['ip'] == '10.9.9.9'
    assert reply['percentscore'] == 25
    assert client.get('/modelbreaches', {'pbid': pbids[0]}).json()['score'] == 0.5
    with pytest.raises(ValueError):
        emu.add_breaches([{'did': 4242}])


def test_control_interface_over_http(emu: Emulator, client: Client) -> None:
    """Given the unsigned control interface, when faults, clock, settings, breaches, tokens, log
    and state are driven over HTTP, then they mirror the Python API."""
    control = emu.url + '/_emulator'
    assert requests.post(control + '/faults', json={'kind': 'status', 'status': 502}, timeout=10).status_code == 200
    assert client.get('/status').status_code == 502
    assert requests.post(control + '/faults', json={'kind': 'status', 'status': 502}, timeout=10).status_code == 200
    assert requests.delete(control + '/faults', timeout=10).json() == {'faults': []}
    assert client.get('/status').status_code == 200
    shifted = requests.post(control + '/clock', json={'seconds': 60}, timeout=10).json()
    assert shifted['shift_ms'] == 60_000
    assert requests.post(control + '/settings', json={'order': 'asc'}, timeout=10).json()['settings']['order'] == 'asc'
    assert requests.post(control + '/settings', json={'order': 'up'}, timeout=10).status_code == 400
    pbids = requests.post(control + '/breaches', json=[{'score': 0.3}], timeout=10).json()['pbids']
    assert client.get('/modelbreaches', {'pbid': pbids[0]}).status_code == 200
    tokens = requests.post(control + '/tokens', json={'public': 'cp', 'private': 'cs', 'permissions': ['status']},
                           timeout=10)
    assert tokens.status_code == 200, tokens.text
    assert Client(emu, 'cp', 'cs').get('/status').status_code == 200
    assert Client(emu, 'cp', 'cs').get('/devices').status_code == 302  # only the status permission was granted
    log = requests.get(control + '/log', timeout=10).json()
    assert log and all(not e['path'].startswith('/_emulator') for e in log)
    assert requests.delete(control + '/log', timeout=10).status_code == 200
    state = requests.get(control + '/state', timeout=10).json()
    assert state['counts']['breaches'] == 501 and state['settings']['order'] == 'asc' and 'now_ms' in state
    assert state['counts']['requests'] == 0
    assert requests.get(control + '/nothing', timeout=10).status_code == 404


# ====================================================================== TLS, scale, command line
def test_tls_mode_uses_a_fresh_self_signed_certificate() -> None:
    """Given TLS mode, when a client trusts the generated certificate, then requests succeed;
    with default verification they fail."""
    with Emulator(breaches=10, tls=True) as emu:
        assert emu.url.startswith('https://127.0.0.1:') and emu.cert_path and os.path.exists(emu.cert_path)
        assert Client(emu, verify=emu.cert_path).get('/status').status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            Client(emu).get('/status')
        cert_path = emu.cert_path
    assert not os.path.exists(cert_path)


def test_one_hundred_thousand_breaches_and_a_windowed_request() -> None:
    """Given 100,000 breaches over a week, when a one-hour window is requested, then exactly the
    visible, unacknowledged breaches of that window are returned."""
    with Emulator(breaches=100_000, span_days=7, seed=3) as emu:
        assert emu.dataset.breach_count == 100_000
        now = emu.now_ms()
        # Ten hours back, every record of the window is already created (at most six hours late).
        start, end = now - 10 * HOUR_MS, now - 9 * HOUR_MS
        reply = Client(emu).get('/modelbreaches', {'starttime': start, 'endtime': end})
        expected = sorted(b.pbid for b in emu.dataset.breaches.values()
                          if start <= b.time <= end and b.creation_time <= now and not b.acknowledged)
        assert len(expected) > 100
        assert sorted(b['pbid'] for b in reply.json()) == expected


def test_command_line_prints_the_url_and_serves() -> None:
    """Given `python -m emulator --port 0 --breaches 20`, when it starts, then it prints one
    line with the URL and public token (no private token) and serves signed requests."""
    process = subprocess.Popen([sys.executable, '-m', 'emulator', '--port', '0', '--breaches', '20'],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        # A bounded wait for the first line, so a process that never prints fails the test instead of hanging it.
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=60), 'the emulator printed nothing within 60 s'
        line = process.stdout.readline().strip()
        assert line.startswith('EMULATOR URL=http://127.0.0.1:') and 'PUBLIC=demo-public-token' in line
        assert 'demo-private-token' not in line
        url = line.split('URL=')[1].split()[0]
        date = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
        headers = {'DTAPI-Token': 'demo-public-token', 'DTAPI-Date': date,
                   'DTAPI-Signature': signature('demo-private-token', 'demo-public-token', '/status', date)}
        assert requests.get(url + '/status', headers=headers, timeout=10).status_code == 200
    finally:
        process.terminate()
        try:
            exit_code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave the emulator running after the test
            process.wait(timeout=10)
            raise
    assert exit_code == 0


# ====================================================================== appliance variants of issue 11
@pytest.mark.parametrize('group_lookup', ['strict', 'lenient'])
def test_ai_analyst_groups_lookup_follows_the_setting(emu: Emulator, client: Client, group_lookup: str) -> None:
    """Given a group holding an incident event and the group_lookup setting, when /aianalyst/groups
    is read with groupid= and uuid= holding a group id or an event id, then groupid=<group id> and
    uuid=<event id> always select the group; the swapped ids select it only when lenient."""
    emu.set_settings(group_lookup=group_lookup)
    group_id, group = next(iter(emu.dataset.groups.items()))
    event_id = group['incidentEvents'][0]
    for param, value, found in (('groupid', group_id, True), ('uuid', event_id, True),
                                ('uuid', group_id, group_lookup == 'lenient'),
                                ('groupid', event_id, group_lookup == 'lenient')):
        groups = client.get('/aianalyst/groups', {param: value}).json()
        assert [g['id'] for g in groups] == ([group_id] if found else []), (param, value)


@pytest.mark.parametrize('params, strict_status', [
    ({'did': 3, 'count': 5}, 200),
    ({'did': 3, 'starttime': 1, 'endtime': 2}, 200),
    ({'did': 3, 'from': '2024-01-01 00:00:00', 'to': '2024-01-02 00:00:00'}, 200),
    ({'did': 3, 'endtime': 2, 'count': 5}, 400),
    ({'did': 3, 'starttime': 1}, 400),
    ({'did': 3, 'from': '2024-01-01 00:00:00'}, 400),
    ({'did': 3, 'starttime': 1, 'endtime': 2, 'count': 5}, 400),
    ({'pbid': 10001, 'endtime': 2, 'count': 5}, 400),
])
@pytest.mark.parametrize('details_pairs', ['strict', 'lenient'])
def test_details_time_pairs_follow_the_setting(emu: Emulator, client: Client, details_pairs: str, params: dict,
                                               strict_status: int) -> None:
    """Given /details parameters and the details_pairs setting, when they are sent, then a strict
    appliance answers 400 INPUT ERROR to an unpaired time or count with a time pair, and a lenient
    one answers them all."""
    emu.set_settings(details_pairs=details_pairs)
    reply = client.get('/details', params)
    assert reply.status_code == (strict_status if details_pairs == 'strict' else 200), reply.text
    if reply.status_code == 400:
        assert reply.json()['response'] == 'INPUT ERROR'


# ---------------------------------------------------------------------- module layout
def emulator_import_graph(package_dir: str) -> dict[str, set[str]]:
    """Module name -> the emulator modules it imports (every import: top-level, local, TYPE_CHECKING).

    ``from emulator import name`` counts as importing the submodule ``name`` when there is one, else
    the package's ``__init__``; the package import implied by ``from emulator.x import ...`` does not count.
    """
    import ast
    modules = {name[:-3] for name in os.listdir(package_dir) if name.endswith('.py')}
    graph: dict[str, set[str]] = {}
    for module in modules:
        with open(os.path.join(package_dir, module + '.py'), encoding='utf-8') as source:
            tree = ast.parse(source.read())
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == 'emulator':
                imported |= {alias.name if alias.name in modules else '__init__' for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or '').startswith('emulator.'):
                imported.add(node.module.split('.')[1])
            elif isinstance(node, ast.Import):
                imported |= {alias.name.split('.')[1] for alias in node.names if alias.name.startswith('emulator.')}
        graph[module] = imported - {module}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as [a, b, ..., a], or [] when imports flow one way."""
    finished: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        for imported in sorted(graph.get(module, ())):
            if imported in path:
                return path[path.index(imported):] + [imported]
            if imported not in finished:
                cycle = visit(imported, path + [imported])
                if cycle:
                    return cycle
        finished.add(module)
        return []

    for module in sorted(graph):
        cycle = visit(module, [module])
        if cycle:
            return cycle
    return []


def test_import_cycle_finds_a_module_importing_one_that_imports_it_back() -> None:
    """Given a graph where server imports control and control imports server (as a type only, say),
    When it is checked for cycles, Then the cycle is named; a graph flowing one way has none."""
    assert import_cycle({'server': {'control', 'wire'}, 'control': {'server'}, 'wire': set()}) == \
        ['control', 'server', 'control']
    assert import_cycle({'facade': {'server', 'control'}, 'server': {'wire'}, 'control': {'wire'}, 'wire': set()}) == []


def test_emulator_modules_import_one_way() -> None:
    """Given every module of the emulator package, When their imports are read, Then no module
    imports, directly or through others, a module that imports it back."""
    graph = emulator_import_graph(os.path.join(REPO_ROOT, 'emulator'))
    assert {'facade', 'pipeline', 'server', 'control'} <= set(graph)
    assert import_cycle(graph) == []
