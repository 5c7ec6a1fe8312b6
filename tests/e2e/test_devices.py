"""End-to-end tests of devices: similar devices, connection info, search, get, events.

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from e2e_support import (DAY_MS, SIGNATURE_FORMS, assert_signed_once_or_twice, iso, only_request, outputs, params_for,
                         requests_to, run, run_params, visible_breaches)
from emulator import Emulator


def test_get_similar_devices(emu: Emulator) -> None:
    """
    Given a device with a similarity ranking on the appliance
    When darktrace-get-similar-devices asks for three
    Then context holds the three most similar devices, in the appliance's order, with ISO times.
    """
    result = outputs(run_params('darktrace-get-similar-devices', params_for(emu), did='1', max_results='3'))
    expected = [did for did, _ in emu.dataset.similar[1][:3]]
    assert result['deviceId'] == 1
    assert [device['did'] for device in result['devices']] == expected
    assert all(device['lastSeen'].endswith('Z') for device in result['devices'])
    assert parse_qs(only_request(emu, '/similardevices')['query']) == {'did': ['1'], 'count': ['3']}


def test_get_device_connection_info(emu: Emulator) -> None:
    """
    Given a server on the appliance
    When darktrace-get-device-connection-info runs for connections with one similar device
    Then context holds an entry for the device and one for its most similar device, with ISO graph times.
    """
    result = outputs(run_params('darktrace-get-device-connection-info', params_for(emu), did='3', data_type='co',
                                num_similar_devices='1'))
    assert result['did'] == 3 and result['dataType'] == 'co'
    assert [entry['did'] for entry in result['deviceInfo']] == [3, emu.dataset.similar[3][0][0]]
    assert result['deviceInfo'][0]['graphData'] and all(
        point['time'].endswith('Z') for point in result['deviceInfo'][0]['graphData'])


def test_search_devices_asks_for_at_most_300_and_stops_at_the_total(emu: Emulator) -> None:
    """
    Given fewer devices than the limit
    When darktrace-search-devices runs with limit 1000
    Then the first request asks for the appliance's maximum of 300, and no further request is made once the
    total is reached.
    """
    result = outputs(run(emu, 'darktrace-search-devices', limit='1000', order_by='hostname', order='asc'))
    searches = requests_to(emu, '/devicesearch')
    assert len(searches) == 1
    assert parse_qs(searches[0]['query'])['count'] == ['300'] and parse_qs(searches[0]['query'])['offset'] == ['0']
    assert len(result) == len(emu.dataset.devices)
    hostnames = [d.get('hostname') for d in result if d.get('hostname')]
    assert len(hostnames) > 1 and hostnames == sorted(hostnames)


def test_search_devices_by_field(emu: Emulator) -> None:
    """
    Given a field query for one device's host name
    When darktrace-search-devices runs
    Then that device is found, keyed by deviceId.
    """
    did, device = next((d, r) for d, r in sorted(emu.dataset.devices.items()) if r.get('hostname'))
    result = outputs(run(emu, 'darktrace-search-devices', query=f'hostname:"{device["hostname"]}"'))
    assert did in [d['deviceId'] for d in result]


def test_get_device(emu: Emulator) -> None:
    """
    Given a device
    When darktrace-get-device runs
    Then its details are in context with ISO times.
    """
    did, device = sorted(emu.dataset.devices.items())[3]
    result = outputs(run(emu, 'darktrace-get-device', did=str(did)))
    assert result['deviceId'] == did and result['ip'] == device['ip']
    assert result['lastSeen'] == iso(device['lastSeen']) and isinstance(result['tags'], list)


@pytest.mark.parametrize('event_type', ['connection', 'notice', 'devicehistory'])
def test_get_device_events(emu: Emulator, event_type: str) -> None:
    """
    Given the device of a recent breach (for device history, a device whose IP address changed within the last
    two days)
    When darktrace-get-device-events runs for a type of event over the last two days
    Then there are events, all of that type, newest first, and the range was read in epoch ms, newest slice
    first and without count, to its start unless 20 events were found before.
    """
    if event_type == 'devicehistory':
        # Most devices' history is older than two days; only a recent IP change falls inside the window.
        did, change = next((did, entry) for did, device in sorted(emu.dataset.devices.items())
                           for entry in device['ips'][1:] if entry['timems'] >= emu.now_ms() - 1.5 * DAY_MS)
    else:
        did, change = visible_breaches(emu)[-1].did, None
    result = outputs(run(emu, 'darktrace-get-device-events', did=str(did), event_type=event_type,
                         start_time='2 days', limit='20'))
    assert result['did'] == did and result['eventType'] == event_type and 0 < len(result['events']) <= 20
    if change is not None:
        assert change['ip'] in [event.get('value') for event in result['events']]
    assert all(event['eventType'] == event_type for event in result['events'])
    times = [event['time'] for event in result['events']]
    assert times == sorted(times, reverse=True)
    queries = [parse_qs(request['query']) for request in requests_to(emu, '/details')]
    windows = [(int(query['starttime'][0]), int(query['endtime'][0])) for query in queries]
    assert all('count' not in query for query in queries)
    assert all(older[1] == newer[0] - 1 for newer, older in zip(windows, windows[1:]))  # newest slice first
    if len(result['events']) < 20:  # then the whole range was read
        assert windows[0][1] - windows[-1][0] == pytest.approx(2 * 86_400_000, abs=60_000)


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
