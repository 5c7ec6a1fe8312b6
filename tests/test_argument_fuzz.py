"""Property-based test: arbitrary text in any argument of any command is refused or sent intact, never injected.

For every command in `Darktrace.COMMANDS` and every argument its YAML declares, hypothesis feeds arbitrary text
(control characters, quotes, & = / ? # %, dot segments, non-ASCII, very long values, and valid values with such
characters spliced in) while the other arguments stay valid. Each run ends one of two ways:
- a validation error (ValueError or DemistoException) that names an argument, and no request at all; or
- requests that are each signed over exactly the target and body they carry, whose query, form, JSON and path
  hold no parameter, key or segment that the same command with a valid value does not send, and in which a
  free-text value arrives intact (surrounding whitespace trimmed, list entries split on commas) in exactly one
  place: one query, form or JSON value, or one path segment.
HTTP is intercepted with requests_mock, answering with the recorded-shape replies in test_data/.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests_mock
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from CommonServerPython import DemistoException, argToList

import Darktrace
from Darktrace import DarktraceApiError, dtapi_signature
from runner.examples import example_args

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = REPO_ROOT / 'test_data'
BASE = 'https://dt.example'
PUBLIC = 'fuzz-public'
PRIVATE = 'fuzz-private'

INTEGRATION = yaml.safe_load((REPO_ROOT / 'Darktrace.yml').read_text(encoding='utf-8'))
YAML_COMMANDS = {command['name']: command for command in INTEGRATION['script']['commands']}

# A valid value for each argument name, used when the command's example line does not give one.
VALID_VALUES = {
    'did': '12', 'deviceId': '12', 'max_results': '5', 'endpoint_type': 'hostname', 'endpoint_value': 'cats.com',
    'devices': 'true', 'additional_info': 'true', 'score': 'true', 'data_type': 'co',
    'external_domain': 'example.com', 'destination_did': '0', 'show_all_graph_data': 'true',
    'num_similar_devices': '1', 'full_device_details': 'true', 'initialDate': '2024-06-03',
    'initialTime': '08:00:00', 'endDate': '2024-06-03', 'endTime': '18:00:00', 'query': '@type:ssl',
    'operation': 'terms', 'metric': '@fields.server_name', 'offset': '0', 'endpointsToWatch': 'phish.example.com',
    'description': 'Phishing campaign', 'expiry': 'in 30 days', 'source': 'XSOAR', 'hostname': 'true',
    'tagName': 'Active Threat', 'duration': '3600', 'pbid': '10001', 'start_time': '3 days', 'end_time': 'now',
    'min_score': '80', 'uuid': '80010119-6d7f-0000-0305-5e0000000301', 'acknowledged': 'true', 'limit': '5',
    'page': '2', 'message': 'Investigating', 'cid': '2001', 'order_by': 'hostname', 'order': 'asc',
    'event_type': 'notice', 'event_id': 'ad5dacaf-9225-4012-08b4-d321c0176fac', 'min_group_score': '50',
    'group_id': 'g2f0e8a5c-41d2-4c1b-9a0e-6b1f3a7c9d21', 'endpointsToRemove': 'phish.example.com',
    'connections': '10.0.1.5>203.0.113.7:443',
    # Darktrace/Email
    'sender': 'supplier-invoices', 'recipient': 'finance', 'subject': 'Invoice', 'tag': 'Forged Address',
    'raw_criteria': '[{"apiFilter": "Recipient.Email", "operator": "~*", "value": "finance"}]',
    'dtime': '1744293327341', 'recipients': 'finance@example.com', 'severity': 'critical',
}
# Arguments that are converted before they are sent (numbers, times, scores, dates), so they are not sent as
# typed; choices and booleans come from the YAML's predefined values.
CONVERTED_ARGUMENTS = {
    'did', 'deviceId', 'pbid', 'cid', 'max_results', 'destination_did', 'num_similar_devices', 'offset', 'limit',
    'page', 'duration', 'start_time', 'end_time', 'expiry', 'min_score', 'min_group_score', 'initialDate',
    'initialTime', 'endDate', 'endTime', 'codeid', 'connections', 'dtime', 'page_size', 'raw_criteria',
}
# Free-text arguments sent with a fixed prefix: the value arrives intact after it.
PREFIXED_ARGUMENTS = {'reason': Darktrace.XSOAR_COMMENT_PREFIX}
# Arguments that exclude each other: when one is fuzzed, the other is left out.
EXCLUSIVE = {('darktrace-get-ai-analyst-incident-group', 'group_id'): 'event_id',
             ('darktrace-get-ai-analyst-incident-group', 'event_id'): 'group_id'}
# Arguments that need others set a certain way to be valid at all: when one is fuzzed, these are set too.
REQUIRES = {('darktrace-create-respond-action', 'connections'): {'action': 'connection'}}
SAFE_PATH_SEGMENT = re.compile(r'(?!\.{1,2}$)[A-Za-z0-9_.@-]+')


EXAMPLES = example_args()


def yaml_arguments(command: str) -> list[dict[str, Any]]:
    assert command in YAML_COMMANDS, f'{command} is in COMMANDS but not in Darktrace.yml'
    return YAML_COMMANDS[command].get('arguments') or []


def valid_value(command: str, argument: dict[str, Any]) -> str:
    name = argument['name']
    value = EXAMPLES.get(command, {}).get(name) or VALID_VALUES.get(name) or argument.get('defaultValue') \
        or (argument.get('predefined') or [None])[0]
    assert value is not None, f'no valid value known for {command} {name}: add one to VALID_VALUES'
    return str(value)


def base_args(command: str) -> dict[str, str]:
    """The command's example arguments, or its required arguments with valid values."""
    if command in EXAMPLES:
        return dict(EXAMPLES[command])
    return {arg['name']: valid_value(command, arg) for arg in yaml_arguments(command) if arg.get('required')}


CASES = [(command, argument['name']) for command in sorted(Darktrace.COMMANDS) for argument in yaml_arguments(command)]


# --- the appliance, as recorded-shape replies ---------------------------------------------------------

def _fixture(name: str) -> Any:
    return json.loads((TEST_DATA / name).read_text(encoding='utf-8'))


GET_REPLIES = [  # first matching path prefix wins
    ('/similardevices', 'similar_devices.json'), ('/endpointdetails', 'endpoint_details_hostname.json'),
    ('/deviceinfo', 'device_info.json'), ('/advancedsearch/', 'advanced_search_terms.json'),
    ('/intelfeed', 'watched_endpoints.json'), ('/tags/entities', 'tagged_devices_full.json'), ('/tags', 'tags.json'),
    ('/modelbreaches/', 'model_breach_comments.json'), ('/modelbreaches', 'model_breaches.json'),
    ('/details', 'breach_connections.json'), ('/models', 'model.json'), ('/components/', 'model_component.json'),
    ('/devicesearch', 'device_search.json'), ('/devices', 'device.json'),
    ('/aianalyst/incidentevents', 'ai_analyst_events.json'), ('/aianalyst/groups', 'ai_analyst_groups.json'),
    ('/aianalyst/incident/comments', 'ai_analyst_comments.json'), ('/antigena', 'respond_actions.json'),
    ('/agemail/api/ep/api/v1.0/resources/tags', 'email_tags.json'), ('/agemail/api/ep/api/v1.0/emails/', 'email.json'),
]
REPLIES = {prefix: _fixture(name) for prefix, name in GET_REPLIES}
# The recorded actions moved to the present, so the pending and active ones are still pending and active.
RESPOND_RECORDED_AT_MS = 1717416000000
_respond_shift_ms = Darktrace.now_ms() - RESPOND_RECORDED_AT_MS
REPLIES['/antigena'] = [{**action, 'start': action['start'] + _respond_shift_ms,
                         'expires': action['expires'] + _respond_shift_ms} for action in REPLIES['/antigena']]


def appliance_reply(request: Any, context: Any) -> Any:
    path = urllib.parse.urlsplit(request.url).path
    if request.method != 'GET' and path.endswith('/emails/search'):
        return _fixture('email_search.json')  # Darktrace/Email's search is a POST answered with a list
    if request.method != 'GET':
        return {'response': 'SUCCESS', 'aianalyst': 'SUCCESS', 'added': 1, 'updated': 0, 'codeid': 5001}
    if path.endswith('/resources/actions'):
        return ['hold', 'release', 'moveToJunk']
    if path.endswith('/resources/filters'):
        return [{'apiFilter': 'Recipient.Email'}]
    if path.startswith('/tags/entities') and 'did=' in urllib.parse.urlsplit(request.url).query:
        return _fixture('device_tags.json')
    return next((reply for prefix, reply in REPLIES.items() if path.startswith(prefix)), {})


def send(command: str, args: dict[str, str]) -> tuple[list[Any], BaseException | None]:
    """Run the command with HTTP intercepted; the requests it sent and the exception it raised, if any."""
    client = Darktrace.Client(BASE, PUBLIC, PRIVATE, retry_budget_s=0)
    with requests_mock.Mocker() as appliance:
        appliance.register_uri(requests_mock.ANY, requests_mock.ANY, json=appliance_reply)
        try:
            Darktrace.COMMANDS[command](client, args)
        except Exception as error:  # classified by the caller
            return list(appliance.request_history), error
        return list(appliance.request_history), None


# --- what a request carries ------------------------------------------------------------------------------

def _leaves(value: Any, prefix: str) -> dict[str, str]:
    """Every scalar of a JSON value by its key path, as text ('true' for true, as the wire spells it)."""
    if isinstance(value, dict):
        return {key: leaf for name, item in value.items() for key, leaf in _leaves(item, f'{prefix}.{name}').items()}
    if isinstance(value, list):
        return {key: leaf for index, item in enumerate(value)
                for key, leaf in _leaves(item, f'{prefix}[{index}]').items()}
    return {prefix: value if isinstance(value, str) else json.dumps(value)}


def _base64_json(segment: str) -> Any:
    if len(segment) < 16:
        return None
    try:
        decoded = json.loads(base64.b64decode(segment, validate=True))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


@dataclass
class Wire:
    """One request as the appliance reads it."""

    method: str
    segments: list[str]
    slots: dict[tuple[str, str], str] = field(default_factory=dict)  # (where, name) -> value
    duplicates: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, request: Any) -> 'Wire':
        path, _, query = request.path_url.partition('?')
        segments = path.split('/')[1:]
        # Base64 may hold '/': the appliance reads everything after /analyze/{field}/{analysis}/ as the query.
        for start in range(len(segments)):
            if _base64_json('/'.join(segments[start:])) is not None:
                segments = segments[:start] + ['/'.join(segments[start:])]
                break
        wire = cls(request.method, segments)
        for index, segment in enumerate(wire.segments):
            search = _base64_json(segment)
            if search is None:
                wire.slots[('path', str(index))] = segment
            else:
                wire.slots.update({('base64 json', key): leaf for key, leaf in _leaves(search, str(index)).items()})
        wire._add_pairs('query', query)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ''
        if body and 'json' in request.headers.get('Content-Type', ''):
            wire.slots.update({('json', key): leaf for key, leaf in _leaves(json.loads(body), '').items()})
        elif body:
            wire._add_pairs('form', body)
        return wire

    def _add_pairs(self, where: str, encoded: str) -> None:
        for name, value in urllib.parse.parse_qsl(encoded, keep_blank_values=True):
            if (where, name) in self.slots:
                self.duplicates.append(name)
            self.slots[(where, name)] = value

    @property
    def shape(self) -> tuple[str, int, str]:
        return self.method, len(self.segments), self.segments[0] if self.segments else ''


def _decoded(encoded: str) -> str:
    """A query or form body with each key and value percent-decoded, as Darktrace's guide signs it."""
    return '&'.join('='.join(urllib.parse.unquote(part) for part in pair.split('=', 1)) for pair in encoded.split('&'))


def assert_signed(request: Any) -> None:
    """The signature covers the path and the decoded query (GET, DELETE) or decoded form body (POST); a JSON body
    exactly as sent."""
    path, _, query = request.path_url.partition('?')
    target = f'{path}?{_decoded(query)}' if query else path
    if request.method == 'POST':
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        target = f'{path}?{body if "json" in request.headers.get("Content-Type", "") else _decoded(body)}'
    assert request.headers['DTAPI-Token'] == PUBLIC
    assert request.headers['DTAPI-Signature'] == dtapi_signature(PRIVATE, PUBLIC, target, request.headers['DTAPI-Date'])


def _looks_converted(text: str) -> bool:
    """A value the integration reads as a number, a boolean or a time, and so sends in its own spelling."""
    try:
        float(text)
        return True
    except ValueError:
        pass
    if text.lower() in ('true', 'false', 'yes', 'no'):
        return True
    try:
        return Darktrace.parse_time_arg({'value': text}, 'value') is not None
    except ValueError:
        return False


def list_entries(text: str) -> list[Any]:
    """The entries of a list argument, split as XSOAR's argToList splits them."""
    entries = [item.strip() if isinstance(item, str) else item for item in argToList(text)]
    return [item for item in entries if item != '']


def assert_carried_intact(command: str, name: str, text: str, wires: list[Wire], reference: list[Wire]) -> None:
    """A free-text value sits in exactly one place that the valid value did not also fill with the same text."""
    argument = next(arg for arg in yaml_arguments(command) if arg['name'] == name)
    if name in CONVERTED_ARGUMENTS or argument.get('predefined'):
        return
    canonical = text.strip()
    if not canonical or canonical == valid_value(command, argument).strip():
        return
    canonical = PREFIXED_ARGUMENTS.get(name, '') + canonical

    def places(value: str) -> list[tuple[int, tuple[str, str]]]:
        return [(index, slot) for index, wire in enumerate(wires) for slot, held in wire.slots.items()
                if held == value and not (index < len(reference) and reference[index].slots.get(slot) == value)]

    if argument.get('isArray'):
        entries, valid_entries = list_entries(canonical), list_entries(valid_value(command, argument))
        if entries == valid_entries:
            return
        if len(places(','.join(map(str, entries)))) == 1 or all(len(places(str(entry))) == 1 for entry in entries):
            return
        raise AssertionError(f'{name}={text!r}: the entries {entries!r} do not arrive intact, once each')
    found = places(canonical)
    if not found and _looks_converted(canonical):
        return
    if not found and not canonical.isascii() and Darktrace.ascii_hostname(canonical):
        found = places(str(Darktrace.ascii_hostname(canonical)))  # a host name in another script goes as IDNA
    assert len(found) == 1, f'{name}={text!r} arrives in {len(found)} places: {found}'


def check_run(command: str, name: str, text: str, args: dict[str, str], requests: list[Any],
              error: BaseException | None, reference: list[Any]) -> None:
    if not requests:
        assert isinstance(error, (ValueError, DemistoException)), f'no request and no validation error: {error!r}'
        names = [arg['name'] for arg in yaml_arguments(command)]
        assert any(f'"{argument}"' in str(error) for argument in names), f'the message names no argument: {error}'
        return
    assert error is None or isinstance(error, DarktraceApiError), f'{name}={text!r} raised {error!r}'
    wires, reference_wires = [Wire.of(request) for request in requests], [Wire.of(r) for r in reference]
    for request, wire in zip(requests, wires):
        assert_signed(request)
        assert not wire.duplicates, f'{name}={text!r} repeats the parameters {wire.duplicates}'
        same_shape = [ref for ref in reference_wires if ref.shape == wire.shape]
        assert same_shape, f'{name}={text!r} sent {wire.method} /{"/".join(wire.segments)}, unlike any valid value'
        known = {slot for ref in same_shape for slot in ref.slots if slot[0] != 'path'}
        extra = {slot for slot in wire.slots if slot[0] != 'path'} - known
        assert not extra, f'{name}={text!r} added {extra}'
        for index, segment in enumerate(wire.segments):
            if all(ref.segments[index] != segment for ref in same_shape) and _base64_json(segment) is None:
                assert SAFE_PATH_SEGMENT.fullmatch(segment), f'{name}={text!r} put {segment!r} in the path'
    assert_carried_intact(command, name, text, wires, reference_wires)


# --- the property ------------------------------------------------------------------------------------------

SPECIAL = list('&=/?#%"\'\\;,+ .:@[]{}<>|`~!$^*()') + [
    '\x00', '\t', '\n', '\r', '\x1b', '\x7f', '\x85', '\xa0', 'é', 'ß', '✓', '中', '😀',
    '\u202e', '\ufeff', '\u2028',
    '%2F', '%26', '%00', '..', '../', '&did=1', '?x=1', '#frag', '\r\nX-Injected: 1']


# A drawn value is a recipe applied to the argument's valid value, so that examples can be written down (@example)
# for every argument at once: ('text', t) is t itself; ('insert', junk, cut) splices junk into the valid value at
# cut (modulo its length); ('prefix', junk) and ('suffix', junk) put junk before or after it.
Recipe = tuple[Any, ...]


def recipes() -> st.SearchStrategy[Recipe]:
    specials = st.lists(st.sampled_from(SPECIAL), min_size=1, max_size=4).map(''.join)
    texts = st.one_of(
        st.sampled_from(SPECIAL + ['.', '']),
        st.text(max_size=40),
        # Near the accepted shapes (names, ids, numbers), so typed arguments are sent as well as refused.
        st.from_regex(r'[A-Za-z0-9@][A-Za-z0-9._@-]{0,40}', fullmatch=True),
        st.integers(-10, 10 ** 20).map(str),
        st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=3)), max_size=12).map(''.join),
        st.integers(200, 5000).map(lambda length: ('Ab1.-' * length)[:length]),
    )
    return st.one_of(
        texts.map(lambda text: ('text', text)),
        st.tuples(st.just('insert'), specials, st.integers(0, 200)),
        st.tuples(st.sampled_from(['prefix', 'suffix']), specials),
    )


def cooked(recipe: Recipe, valid: str) -> str:
    """The text a recipe makes of the argument's valid value."""
    kind, junk = recipe[0], recipe[1]
    if kind == 'text':
        return junk
    if kind == 'insert':
        cut = recipe[2] % (len(valid) + 1)
        return valid[:cut] + junk + valid[cut:]
    return junk + valid if kind == 'prefix' else valid + junk


def reference_run(command: str, name: str) -> tuple[str, dict[str, str], list[Any]]:
    """A valid value for `name`, the command's valid arguments with it, and the requests they send."""
    argument = next(arg for arg in yaml_arguments(command) if arg['name'] == name)
    valid = valid_value(command, argument)
    reference_args = {**base_args(command), **REQUIRES.get((command, name), {}), name: valid}
    reference_args.pop(EXCLUSIVE.get((command, name), ''), None)
    reference, reference_error = send(command, reference_args)
    assert reference and (reference_error is None or isinstance(reference_error, DarktraceApiError)), \
        f'the valid arguments {reference_args} were not sent: {reference_error!r}'
    if not argument.get('required'):
        # An empty value counts as no value, and some requests differ without it (/details: count, not times).
        without = {key: value for key, value in reference_args.items() if key != name}
        reference += send(command, without)[0]
    return valid, reference_args, reference


@pytest.mark.parametrize('command, name', CASES, ids=[f'{command}:{name}' for command, name in CASES])
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe=recipes())
# Every example a fuzzing run has found, kept so that each run checks them on every argument:
# a zero-width no-break space that IDNA's mapping drops (the host name then changes to cats.com).
@example(recipe=('text', 'C\ufeffATS.COM'))
@example(recipe=('insert', '\ufeff', 1))
def test_argument_is_refused_or_sent_intact(command: str, name: str, recipe: Recipe) -> None:
    """
    Given a command whose other arguments are valid, and arbitrary text for one argument
    When the command runs against an intercepted appliance
    Then either it is refused with a message naming an argument and nothing is sent, or every request is signed
    over what it carries, adds no parameter or path segment, and carries a free-text value intact, once.
    """
    valid, reference_args, reference = reference_run(command, name)

    text = cooked(recipe, valid)
    args = {**reference_args, name: text}
    requests, error = send(command, args)
    check_run(command, name, text, args, requests, error, reference)


DANGEROUS = ['.', '..', '../status', '%2e%2e', 'a/b', 'a?b=c', 'a&did=1', 'a=b', 'a#b', '%', '%25', '+', ' ', '\n',
             'x\r\nX-Injected: 1', '\x00', '中文', '😀', '"', "'", '\\', ',', '[1, null]', '{"a": 1}']


@pytest.mark.parametrize('command, name', CASES, ids=[f'{command}:{name}' for command, name in CASES])
def test_known_dangerous_values_are_refused_or_sent_intact(command: str, name: str) -> None:
    """
    Given a command whose other arguments are valid
    When one argument is a dot segment, a path, a query, a fragment, a percent sign, CR LF, NUL, non-ASCII text or
    JSON, alone or around a valid value
    Then each is refused with a message naming an argument, or sent signed, intact and adding nothing.
    """
    valid, reference_args, reference = reference_run(command, name)
    for text in [value for danger in DANGEROUS for value in (danger, valid + danger, danger + valid)]:
        args = {**reference_args, name: text}
        requests, error = send(command, args)
        check_run(command, name, text, args, requests, error, reference)


def test_every_command_is_fuzzed() -> None:
    """
    Given the YAML, read on its own (not through the COMMANDS table the cases are built from)
    When the fuzz cases are listed
    Then every darktrace-* command the YAML declares with arguments has each of its arguments fuzzed, so a
    command missing from COMMANDS cannot drop out of the fuzzing unnoticed.
    """
    declared = {(name, argument['name']) for name, command in YAML_COMMANDS.items() if name.startswith('darktrace-')
                for argument in command.get('arguments') or []}
    assert declared and set(CASES) == declared
    assert len(CASES) == len(set(CASES)), 'an argument is fuzzed twice'
