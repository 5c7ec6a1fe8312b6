"""End-to-end tests of the watched list: add, list, remove.

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from e2e_support import error_text, outputs, params_for, requests_to, run, run_params
from emulator import Emulator


def test_post_to_watched_list(emu: Emulator, pinned_clocks: int) -> None:
    """
    Given an endpoint that is not watched
    When darktrace-post-to-watched-list adds it with a description, a source and an expiry
    Then context says it is watched and the appliance holds it with those details.
    """
    result = outputs(run_params('darktrace-post-to-watched-list', params_for(emu),
                                endpointsToWatch='watch-me.example.com', description='Seen in a phishing campaign',
                                source='XSOAR', expiry='in 30 days'))
    (watched,) = result
    expiry = datetime.fromisoformat(watched.pop('expiry').replace('Z', '+00:00'))
    assert watched == {'endpoint': 'watch-me.example.com', 'Watched': True,
                       'description': 'Seen in a phishing campaign', 'source': 'XSOAR'}
    assert expiry == datetime.fromtimestamp(pinned_clocks / 1000, timezone.utc) + timedelta(days=30)
    entry = emu.dataset.watched['watch-me.example.com']
    assert entry.description == 'Seen in a phishing campaign' and entry.sources == ['XSOAR']
    assert entry.expiry == expiry.strftime('%Y-%m-%dT%H:%M:%SZ')


def test_watched_list_add_with_options_list_and_remove(emu: Emulator) -> None:
    """
    Given a new entry with an expiry, a source and hostname=true
    When it is posted, the list is read, then the entry is removed
    Then the appliance stored the options, the list shows it with its details, and after removal it is gone.
    """
    entry = outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='e2e-watch.example',
                        description='e2e', expiry='2031-05-01T00:00:00Z', source='XSOAR', hostname='true'))
    assert entry == [{'endpoint': 'e2e-watch.example', 'Watched': True, 'description': 'e2e',
                      'expiry': '2031-05-01T00:00:00Z', 'source': 'XSOAR'}]
    stored = emu.dataset.watched['e2e-watch.example']
    assert stored.sources == ['XSOAR'] and stored.hostname is True and stored.expiry == '2031-05-01T00:00:00Z'
    listed = outputs(run(emu, 'darktrace-list-watched-endpoints', limit='1000'))
    mine = next(item for item in listed if item['endpoint'] == 'e2e-watch.example')
    assert mine['expiry'] == '2031-05-01T00:00:00Z' and mine['description'] == 'e2e' and mine['source'] == 'XSOAR'
    removed = outputs(run(emu, 'darktrace-remove-from-watched-list', endpointsToRemove='e2e-watch.example'))
    assert removed == [{'endpoint': 'e2e-watch.example', 'Watched': False, 'source': 'XSOAR'}]
    assert 'e2e-watch.example' not in emu.dataset.watched


def test_post_to_watched_list_without_options_sends_the_old_body(emu: Emulator) -> None:
    """
    Given only endpoints, as existing playbooks send
    When darktrace-post-to-watched-list runs
    Then the request body is exactly the old one.
    """
    outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='e2e-plain.example'))
    (request,) = requests_to(emu, '/intelfeed')
    assert request['body'] == '{"addlist":"e2e-plain.example"}'
    assert 'e2e-plain.example' in emu.dataset.watched


@pytest.mark.parametrize('default_source', ['default_only', 'all'])
def test_entries_of_every_source_are_listed(emu: Emulator, default_source: str) -> None:
    """
    Given entries in several sources, on an appliance whose plain GET lists the "default" source only (the guide's
    reading) or every source
    When darktrace-list-watched-endpoints runs without a source, then with one
    Then every entry is listed with its sources; with a source, only that source's entries.
    """
    emu.set_settings(intelfeed_default_source=default_source)
    outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='e2e-src.example', source='E2E Feed'))
    try:
        listed = {o['endpoint']: o for o in outputs(run(emu, 'darktrace-list-watched-endpoints', limit='1000'))}
        assert listed.keys() == emu.dataset.watched.keys()
        assert all(listed[name]['sources'] == entry.sources for name, entry in emu.dataset.watched.items())
        feed = outputs(run(emu, 'darktrace-list-watched-endpoints', source='E2E Feed'))
        assert [o['endpoint'] for o in feed] == ['e2e-src.example']
    finally:
        emu.dataset.watched.pop('e2e-src.example', None)


def test_list_watched_sources(emu: Emulator) -> None:
    """
    Given the appliance's watched list
    When darktrace-list-watched-sources runs
    Then every source holding an entry is listed.
    """
    names = [o['name'] for o in outputs(run(emu, 'darktrace-list-watched-sources'))]
    assert names == sorted({s for entry in emu.dataset.watched.values() for s in entry.sources}) and len(names) > 1


def test_remove_an_entry_held_by_several_sources(emu: Emulator) -> None:
    """
    Given an entry added to two sources, on an appliance with several sources
    When it is removed without a source, then from one source, then from the other
    Then the first is refused naming both sources and nothing changes; each removal then leaves the other source
    holding it, until it is gone.
    """
    for source in ('Feed A', 'Feed B'):
        outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='e2e-two.example', source=source))
    message = error_text(run(emu, 'darktrace-remove-from-watched-list', endpointsToRemove='e2e-two.example'))
    assert 'e2e-two.example is in Feed A, Feed B' in message and 'source=' in message
    assert emu.dataset.watched['e2e-two.example'].sources == ['Feed A', 'Feed B']
    outputs(run(emu, 'darktrace-remove-from-watched-list', endpointsToRemove='e2e-two.example', source='Feed A'))
    assert emu.dataset.watched['e2e-two.example'].sources == ['Feed B']
    removed = outputs(run(emu, 'darktrace-remove-from-watched-list', endpointsToRemove='e2e-two.example'))
    assert removed == [{'endpoint': 'e2e-two.example', 'Watched': False, 'source': 'Feed B'}]
    assert 'e2e-two.example' not in emu.dataset.watched
