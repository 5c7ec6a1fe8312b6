"""End-to-end tests of external endpoints and Advanced Search.

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

from typing import Any

from urllib.parse import parse_qs

import pytest

from e2e_support import SIGNATURE_FORMS, assert_signed_once_or_twice, outputs, params_for, run, run_params, statuses
from emulator import Emulator


def test_get_external_endpoint_details_by_hostname(emu: Emulator) -> None:
    """
    Given an external host name the appliance knows, contacted by some devices
    When darktrace-get-external-endpoint-details runs with devices, additional info and score
    Then context has the first-seen time in ISO, the devices that contacted it and its popularity.
    """
    endpoint = emu.dataset.endpoints['cats.com']
    result = outputs(run_params('darktrace-get-external-endpoint-details', params_for(emu), endpoint_type='hostname',
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
    result = outputs(run_params('darktrace-get-external-endpoint-details', params_for(emu), endpoint_type='IP',
                                endpoint_value='203.0.113.10'))
    assert result['ip'] == '203.0.113.10' and result['country'] == 'United States'
    assert result['asn'].startswith('AS14618')


def test_run_advanced_search_analysis(emu: Emulator) -> None:
    """
    Given the appliance's Advanced Search logs for a morning
    When darktrace-run-advanced-search-analysis counts SSL server names (terms)
    Then context holds buckets whose values are external host names, and the window asked for.
    """
    result = outputs(run_params('darktrace-run-advanced-search-analysis', params_for(emu), initialDate='2024-06-03',
                                initialTime='08:00:00', endDate='2024-06-03', endTime='12:00:00', query='@type:ssl',
                                operation='terms', metric='@fields.server_name'))
    buckets = result['aggregations']['terms']['buckets']
    assert buckets and all(bucket['key'] in emu.dataset.endpoints for bucket in buckets)
    assert result['from'] == '2024-06-03T08:00:00Z' and result['to'] == '2024-06-03T12:00:00Z'


def _analysis(emu: Emulator, operation: str, metric: str) -> dict[str, Any]:
    return run_params('darktrace-run-advanced-search-analysis', params_for(emu), initialDate='2024-06-03',
                      initialTime='08:00:00', endDate='2024-06-03', endTime='12:00:00', query='@type:conn',
                      operation=operation, metric=metric)


def test_advanced_search_mean_shows_the_statistics(emu: Emulator) -> None:
    """
    Given the appliance's connection logs for a morning
    When darktrace-run-advanced-search-analysis runs a mean of the destination port
    Then the War Room shows count, min, max, average and sum (guide 2.2: aggregations.stats), not "None", and
    context keeps them.
    """
    entry = _analysis(emu, 'mean', '@fields.dest_port')
    stats = outputs(entry)['aggregations']['stats']
    assert stats['count'] > 0 and stats['min'] <= stats['avg'] <= stats['max']
    assert '|Count|Min|Max|Average|Sum|' in entry['HumanReadable']
    assert f'| {stats["count"]} | {stats["min"]} | {stats["max"]} |' in entry['HumanReadable']
    assert 'None' not in entry['HumanReadable']


@pytest.mark.parametrize('operation, headers', [('trend', '|Value|Count|Trend|'), ('score', '|Value|Count|')])
def test_advanced_search_trend_and_score_list_values(emu: Emulator, operation: str, headers: str) -> None:
    """
    Given the appliance's connection logs for a morning
    When darktrace-run-advanced-search-analysis runs a trend or score of the destination port
    Then each value is a row with its count (and trend), from hits.hits (guide 2.2), and hits.count is in context.
    """
    entry = _analysis(emu, operation, '@fields.dest_port')
    result = outputs(entry)
    hits = result['hits']['hits']
    assert hits and result['hits']['count'] >= sum(hit['count'] for hit in hits) and 'aggregations' not in result
    assert headers in entry['HumanReadable'] and f'| {hits[0]["id"]} | {hits[0]["count"]} |' in entry['HumanReadable']


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
