"""End-to-end tests of the commands whose requests real appliances take differently, under each emulator switch.

Each command runs through `Darktrace.main()` against the emulator over HTTP, once per value of the switch that
plays the difference: how a query or form body is signed (`signature_form`), whether GET /modelbreaches/{pbid}
exists (`breach_path_route`), how /aianalyst/groups reads its ids (`group_lookup`) and whether /details refuses
unpaired times or count with times (`details_pairs`). The integration must work under every value.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest

import Darktrace
import xsoar_platform
from emulator import Emulator

ERROR_ENTRY_TYPE = 4
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SIGNATURE_FORMS = ['decoded', 'encoded', 'either']


@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(breaches=200, span_days=7, seed=5) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh_log(emu: Emulator) -> Iterator[None]:
    emu.clear_log()
    yield
    emu.set_settings(signature_form='decoded', breach_path_route=False, group_lookup='strict', details_pairs='strict')


latest_run: xsoar_platform.PlatformRun | None = None  # the platform's record of the last command run()


def run(emu: Emulator, command: str, context: dict[str, Any] | None = None, **args: str) -> Any:
    """Run one command through main() with the instance's integration context; its War Room entry (its list of
    entries for get-remote-data)."""
    params = {'url': emu.url, 'public_api_token': emu.public_token, 'private_api_token': emu.private_token,
              'min_score': '0', 'mirror_direction': 'Incoming', 'close_incident': 'true'}
    global latest_run
    latest_run = xsoar_platform.start_run(command=command, params=params, args=args, integration_context=context)
    try:
        Darktrace.main()
    except SystemExit as exited:  # return_error ends a failed command with exit code 0, as on the platform
        assert exited.code in (0, None), f'{command} exited with {exited.code!r}'
    if command == 'get-remote-data':
        return list(latest_run.results)
    (entry,) = latest_run.results
    return entry


def outputs(entry: Any) -> Any:
    assert isinstance(entry, dict) and entry['Type'] != ERROR_ENTRY_TYPE, entry
    (value,) = entry['EntryContext'].values()
    return value


def statuses(emu: Emulator, path: str) -> list[int]:
    return [entry['status'] for entry in emu.request_log() if entry['path'] == path]


def assert_signed_once_or_twice(emu: Emulator, path: str, signature_form: str) -> None:
    """One accepted request when the appliance takes decoded signatures; else a refused one, then the other form."""
    expected = [400, 200] if signature_form == 'encoded' else [200]
    assert statuses(emu, path) == expected


# --- signing: values with spaces and punctuation -------------------------------------------------------------

@pytest.mark.parametrize('signature_form', SIGNATURE_FORMS)
def test_tag_active_threat_and_list_it(emu: Emulator, signature_form: str) -> None:
    """
    Given an appliance checking signatures over the decoded form, the encoded form, or either
    When "Active Threat" is put on a device (a form POST), the devices tagged so are listed and the tag removed
    Then each works; the tag is applied once even when the first signature was refused.
    """
    emu.set_settings(signature_form=signature_form)
    did = sorted(emu.dataset.devices)[5]
    outputs(run(emu, 'darktrace-post-tag-to-device', deviceId=str(did), tagName='Active Threat'))
    assert_signed_once_or_twice(emu, '/tags/entities', signature_form)
    tagged = [link.did for link in emu.dataset.tag_links_for(emu.dataset.tag_by_name('Active Threat')['tid'],
                                                             emu.now_ms())]
    assert tagged.count(did) == 1
    emu.clear_log()
    listed = outputs(run(emu, 'darktrace-get-tagged-devices', tagName='Active Threat'))
    assert did in [device['deviceId'] for device in listed]
    assert_signed_once_or_twice(emu, '/tags/entities', signature_form)
    emu.clear_log()
    outputs(run(emu, 'darktrace-remove-tag-from-device', deviceId=str(did), tagName='Active Threat'))
    assert_signed_once_or_twice(emu, '/tags/entities', signature_form)


@pytest.mark.parametrize('signature_form', SIGNATURE_FORMS)
def test_device_search_with_a_quoted_query(emu: Emulator, signature_form: str) -> None:
    """
    Given any signature form
    When devices are searched with a quoted field query
    Then the query arrives intact and the matching devices come back.
    """
    emu.set_settings(signature_form=signature_form)
    found = outputs(run(emu, 'darktrace-search-devices', query='hostname:"srv*"', limit='5'))
    assert found and all(device['hostname'].startswith('srv') for device in found)
    assert parse_qs(emu.request_log()[-1]['query'])['query'] == ['hostname:"srv*"']
    assert_signed_once_or_twice(emu, '/devicesearch', signature_form)


@pytest.mark.parametrize('signature_form', SIGNATURE_FORMS)
def test_endpoint_details_of_an_ipv6_address_and_an_idna_host(emu: Emulator, signature_form: str) -> None:
    """
    Given any signature form
    When endpoint details are asked for an IPv6 address and for a host name in another script
    Then the address arrives intact, the host name in IDNA form, and both are shown as typed.
    """
    emu.set_settings(signature_form=signature_form)
    result = outputs(run(emu, 'darktrace-get-external-endpoint-details', endpoint_type='IP',
                         endpoint_value='2001:db8::7'))
    assert result['endpoint'] == '2001:db8::7'
    assert parse_qs(emu.request_log()[-1]['query'])['ip'] == ['2001:db8::7']
    assert_signed_once_or_twice(emu, '/endpointdetails', signature_form)
    emu.clear_log()
    result = outputs(run(emu, 'darktrace-get-external-endpoint-details', endpoint_type='hostname',
                         endpoint_value='bücher.example'))
    assert result['endpoint'] == 'bücher.example'
    assert parse_qs(emu.request_log()[-1]['query'])['hostname'] == ['xn--bcher-kva.example']
    assert statuses(emu, '/endpointdetails') == [200]  # IDNA is plain ASCII: the same in both forms


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
    context = latest_run.integration_context
    assert context == {'signingForm': 'encoded'}
    emu.clear_log()
    outputs(run(emu, 'darktrace-get-tagged-devices', context=context, tagName='Active Threat'))
    outputs(run(emu, 'darktrace-search-devices', context=context, query='hostname:"srv*"', limit='1'))
    assert [entry['status'] for entry in emu.request_log()] == [200, 200]


# --- one breach and get-remote-data --------------------------------------------------------------------------

@pytest.mark.parametrize('breach_path_route', [False, True])
def test_one_breach_and_get_remote_data(emu: Emulator, breach_path_route: bool) -> None:
    """
    Given an appliance with or without the path route for one breach
    When a breach is read, and mirrored in while acknowledged twice in a row
    Then both read it with ?pbid= in one request; the incident is closed on the first cycle only.
    """
    emu.set_settings(breach_path_route=breach_path_route)
    pbid = max(pbid for pbid, breach in emu.dataset.breaches.items() if breach.creation_time <= emu.now_ms())
    assert outputs(run(emu, 'darktrace-get-model-breach', pbid=str(pbid)))['pbid'] == pbid
    (request,) = emu.request_log()
    assert request['path'] == '/modelbreaches' and parse_qs(request['query'])['pbid'] == [str(pbid)]
    emu.dataset.set_acknowledged(pbid, True)
    first = run(emu, 'get-remote-data', id=str(pbid), lastUpdate='2020-01-01T00:00:00Z')
    context = latest_run.integration_context
    again = run(emu, 'get-remote-data', context=context, id=str(pbid), lastUpdate='2020-01-01T00:00:00Z')
    closes = [[entry for entry in result if isinstance(entry.get('Contents'), dict)
               and entry['Contents'].get('dbotIncidentClose')] for result in (first, again)]
    assert [len(found) for found in closes] == [1, 0]
    assert all(entry['path'] != f'/modelbreaches/{pbid}' for entry in emu.request_log())


# --- AI Analyst groups ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('group_lookup', ['strict', 'lenient'])
def test_group_by_group_id_and_by_event_id(emu: Emulator, group_lookup: str) -> None:
    """
    Given an appliance reading /aianalyst/groups ids strictly by meaning, or leniently
    When the group is asked for by its id, then by the id of one of its events
    Then both find it in one request: groupid=<group id>, then uuid=<event id>.
    """
    emu.set_settings(group_lookup=group_lookup)
    group_id, group = sorted(emu.dataset.groups.items())[0]
    event_id = group['incidentEvents'][-1]
    assert outputs(run(emu, 'darktrace-get-ai-analyst-incident-group', group_id=group_id))['id'] == group_id
    assert outputs(run(emu, 'darktrace-get-ai-analyst-incident-group', event_id=event_id))['id'] == group_id
    queries = [parse_qs(entry['query']) for entry in emu.request_log()]
    assert [query.get('groupid') or query.get('uuid') for query in queries] == [[group_id], [event_id]]
    assert 'groupid' in queries[0] and 'uuid' in queries[1]


# --- /details ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('details_pairs', ['strict', 'lenient'])
def test_breach_connections_and_device_events(emu: Emulator, details_pairs: str) -> None:
    """
    Given an appliance that refuses unpaired times and count with times, or takes them
    When breach connections are asked for without a range and with an end time only, and device events over a
    week (paged by narrowing the window)
    Then every request succeeds: count alone without a range, time pairs without count otherwise, the slices
    newest first and contiguous; the events come back newest first, at most the limit.
    """
    emu.set_settings(details_pairs=details_pairs)
    now = emu.now_ms()
    breach = max((b for b in emu.dataset.breaches.values() if b.creation_time <= now), key=lambda b: b.pbid)
    plain = outputs(run(emu, 'darktrace-get-model-breach-connections', pbid=str(breach.pbid), limit='3'))
    until = outputs(run(emu, 'darktrace-get-model-breach-connections', pbid=str(breach.pbid), limit='3',
                        end_time=str(breach.time + 60_000)))
    assert len(plain['connections']) <= 3 and len(until['connections']) <= 3
    events = outputs(run(emu, 'darktrace-get-device-events', did=str(breach.did), start_time=str(now - 7 * DAY_MS),
                         end_time=str(now), limit='200'))['events']
    assert 0 < len(events) <= 200
    assert [e['time'] for e in events] == sorted((e['time'] for e in events), reverse=True)
    log = emu.request_log()
    assert all(entry['status'] == 200 for entry in log)
    queries = [parse_qs(entry['query']) for entry in log]
    assert 'count' in queries[0] and 'starttime' not in queries[0] and 'endtime' not in queries[0]
    assert all(('starttime' in q) == ('endtime' in q) and not ('count' in q and 'starttime' in q) for q in queries)
    windows = [(int(q['starttime'][0]), int(q['endtime'][0])) for q in queries if 'did' in q]
    assert windows[0] == (now - HOUR_MS + 1, now)
    assert all(older[1] == newer[0] - 1 for newer, older in zip(windows, windows[1:]))
    assert len(windows) <= Darktrace.MAX_DETAILS_REQUESTS
