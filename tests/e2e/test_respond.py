"""End-to-end tests of the RESPOND commands: each runs through `Darktrace.main()` against the emulator over HTTP.

One emulator serves the module (the `emu` fixture rules of tests/conftest.py); its clock is moved forward to let
actions expire, so it checks request dates against the host clock (`date_clock='host'`) and the integration reads
the appliance's clock for states, as it would read its own clock agreeing with the appliance's. Tests that change
an action use their own action.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

import Darktrace
import xsoar_platform
from e2e_support import ERROR_ENTRY_TYPE, checked, outputs
from emulator import Emulator

PREFIX = '[Cortex XSOAR] '


@pytest.fixture(scope='module')
def emu_server() -> Iterator[Emulator]:
    with Emulator(breaches=200, span_days=3, seed=21, date_clock='host') as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def appliance_clock(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Darktrace, 'now_ms', emu.now_ms)


def run(emu: Emulator, command: str, public: str | None = None, private: str | None = None,
        **args: str) -> dict[str, Any]:
    """Run one command through main() and return its single War Room entry."""
    params = xsoar_platform.instance_params(emu, public, private, min_score='0', retry_budget_seconds='0')
    (entry,) = checked(xsoar_platform.run_command(command, args, params)).entries
    return entry


def error(entry: dict[str, Any]) -> str:
    assert entry['Type'] == ERROR_ENTRY_TYPE, f'expected an error, got {entry["HumanReadable"]}'
    return str(entry['Contents'])


def posts(emu: Emulator) -> list[dict[str, Any]]:
    return [entry for entry in emu.request_log() if entry['method'] == 'POST']


def listed(emu: Emulator, **args: str) -> dict[int, dict[str, Any]]:
    entry = run(emu, 'darktrace-list-respond-actions', **args)
    actions = outputs(entry) if entry.get('EntryContext') else []  # an empty list leaves no context
    return {action['codeid']: action for action in actions}


def test_pending_action_lifecycle(emu: Emulator) -> None:
    """
    Given the action waiting for confirmation (5001)
    When it is listed, activated, extended, cleared and reactivated, each through main()
    Then each command reports the state the appliance now holds, every reason is in the action's history prefixed
    with "[Cortex XSOAR] " under the token's user, and each change was one POST.
    """
    pending = listed(emu, need_confirming='true')
    assert list(pending) == [5001] and pending[5001]['state'] == 'pending'
    action = emu.dataset.antigena[5001]

    activated = outputs(run(emu, 'darktrace-activate-respond-action', codeid='5001', reason='Confirmed'))
    assert activated['state'] == 'active' and action.active
    assert 5001 not in listed(emu, need_confirming='true')

    total_s = (action.expires - action.start) // 1000 + 3600
    extended = outputs(run(emu, 'darktrace-extend-respond-action', codeid='5001', duration=str(total_s),
                           reason='Longer'))
    assert action.expires == action.start + total_s * 1000
    assert extended['state'] == 'active' and extended['expires'] == Darktrace.ms_to_iso(action.expires)

    cleared = outputs(run(emu, 'darktrace-clear-respond-action', codeid='5001', reason='Fixed'))
    assert cleared['state'] == 'cleared' and action.cleared
    assert 5001 not in listed(emu) and listed(emu, include_cleared='true')[5001]['state'] == 'cleared'

    before = emu.now_ms()
    reactivated = outputs(run(emu, 'darktrace-reactivate-respond-action', codeid='5001', duration='30 minutes',
                              reason='Back'))
    assert reactivated['state'] == 'active' and before <= action.start <= emu.now_ms()
    assert action.expires == action.start + 30 * 60 * 1000

    history = listed(emu, include_history='true')[5001]['history']
    assert [(h['action'], h['reason'], h['username']) for h in history[1:]] == [
        ('activated', PREFIX + 'Confirmed', 'api_user'), ('extended', PREFIX + 'Longer', 'api_user'),
        ('cleared', PREFIX + 'Fixed', 'api_user'), ('reactivated', PREFIX + 'Back', 'api_user')]
    assert len(posts(emu)) == 4


def test_manual_quarantine_expires_on_the_appliance_clock(emu: Emulator) -> None:
    """
    Given a device
    When a 2-minute quarantine is created, the appliance clock moves 3 minutes on, and the action is extended, then
    reactivated
    Then it was active with its own new codeid, is then expired, cannot be extended, and runs again once reactivated.
    """
    did = sorted(emu.dataset.devices)[5]
    known = set(emu.dataset.antigena)
    created = outputs(run(emu, 'darktrace-create-respond-action', did=str(did), action='quarantine',
                          duration='2 minutes', reason='Contain'))
    codeid = created['codeid']
    assert codeid not in known and created['state'] == 'active' and created['did'] == did
    assert created['triggerer'] == {'username': 'api_user', 'reason': PREFIX + 'Contain'}
    emu.shift_clock(180)
    try:
        assert listed(emu, did=str(did))[codeid]['state'] == 'expired'
        refused = error(run(emu, 'darktrace-extend-respond-action', codeid=str(codeid), duration='1 hour',
                            reason='More'))
        assert f'RESPOND action {codeid} is expired, so it cannot be extended' in refused
        assert [entry['path'] for entry in posts(emu)] == ['/antigena/manual']  # the creation only
        again = outputs(run(emu, 'darktrace-reactivate-respond-action', codeid=str(codeid), duration='1 hour',
                            reason='Again'))
        assert again['state'] == 'active'
    finally:
        emu.shift_clock(-180)


def test_extend_refuses_a_shorter_total(emu: Emulator) -> None:
    """
    Given an active action (5003) that runs 4 hours in total
    When it is "extended" to 1 hour in total
    Then nothing is changed and the message explains that duration is the new total from the action's start.
    """
    expires = emu.dataset.antigena[5003].expires
    message = error(run(emu, 'darktrace-extend-respond-action', codeid='5003', duration='1 hour', reason='x'))
    assert 'duration is the new TOTAL length of the action' in message and 'already runs for 4 hours' in message
    assert emu.dataset.antigena[5003].expires == expires and not posts(emu)


def test_connection_action_blocks_the_connections_given(emu: Emulator) -> None:
    """
    Given a device and two connections to block
    When a connection action is created
    Then the appliance holds both, lists them with include_connections, and shows them as blocked connections.
    """
    did = sorted(emu.dataset.devices)[6]
    ip = emu.dataset.devices[did]['ip']
    created = outputs(run(emu, 'darktrace-create-respond-action', did=str(did), action='connection', duration='1 hour',
                          reason='C2', connections=f'{ip}>203.0.113.66:8443,{ip}>198.51.100.9'))
    expected = [{'src': ip, 'dst': '203.0.113.66', 'port': 8443}, {'src': ip, 'dst': '198.51.100.9'}]
    assert emu.dataset.antigena[created['codeid']].connections == expected
    assert listed(emu, did=str(did), include_connections='true')[created['codeid']]['connections'] == expected
    assert 'connections' not in listed(emu, did=str(did))[created['codeid']]


@pytest.mark.parametrize('args, fragment', [
    ({'action': 'connection'}, 'Missing required argument "connections"'),
    ({'action': 'pol', 'connections': '10.0.0.1>10.0.0.2'}, 'only the connection action takes connections'),
    ({'action': 'quarantine', 'duration': '10 days'}, 'from 1 minute to 7 days'),
])
def test_bad_arguments_send_nothing(emu: Emulator, args: dict[str, str], fragment: str) -> None:
    """
    Given a manual action with connections for the wrong action, without them, or too long
    When darktrace-create-respond-action runs
    Then the War Room says what is wrong and the appliance receives nothing.
    """
    message = error(run(emu, 'darktrace-create-respond-action', **{'did': '1', 'duration': '1 hour', 'reason': 'x',
                                                                   **args}))
    assert fragment in message and not emu.request_log()


RESPOND_COMMANDS = [
    ('darktrace-list-respond-actions', {}),
    ('darktrace-activate-respond-action', {'codeid': '5002', 'reason': 'x'}),
    ('darktrace-extend-respond-action', {'codeid': '5002', 'duration': '1 day', 'reason': 'x'}),
    ('darktrace-clear-respond-action', {'codeid': '5002', 'reason': 'x'}),
    ('darktrace-reactivate-respond-action', {'codeid': '5002', 'duration': '1 hour', 'reason': 'x'}),
    ('darktrace-create-respond-action', {'did': '1', 'action': 'quarantine', 'duration': '1 hour', 'reason': 'x'}),
]


@pytest.mark.parametrize('command, args', RESPOND_COMMANDS, ids=[command for command, _ in RESPOND_COMMANDS])
def test_appliance_without_respond(emu: Emulator, command: str, args: dict[str, str]) -> None:
    """
    Given an appliance without RESPOND (it redirects /antigena to its login page)
    When each RESPOND command runs
    Then the War Room says the appliance does not offer RESPOND, and no action changed.
    """
    emu.set_settings(respond='absent')
    before = {codeid: (a.active, a.cleared, a.expires) for codeid, a in emu.dataset.antigena.items()}
    assert 'this appliance does not offer Darktrace RESPOND' in error(run(emu, command, **args))
    assert {codeid: (a.active, a.cleared, a.expires) for codeid, a in emu.dataset.antigena.items()} == before


@pytest.mark.parametrize('command, args', RESPOND_COMMANDS, ids=[command for command, _ in RESPOND_COMMANDS])
def test_user_without_the_respond_permission(emu: Emulator, command: str, args: dict[str, str]) -> None:
    """
    Given an appliance that refuses RESPOND to the API user (302 to /403 for reading, 403 JSON for changes)
    When each RESPOND command runs
    Then the War Room names the RESPOND permission that is missing: to view actions, or to act on them.
    """
    emu.set_settings(respond='no_permission')
    message = error(run(emu, command, **args))
    if command in ('darktrace-list-respond-actions', 'darktrace-extend-respond-action'):  # both read first
        assert '(a redirect to /403)' in message and 'RESPOND (Antigena) permission to view RESPOND actions' in message
    else:
        assert '(403 Forbidden)' in message and 'RESPOND (Antigena) permission to act on RESPOND actions' in message


def test_token_that_may_view_but_not_act(emu: Emulator) -> None:
    """
    Given a token pair whose user may view RESPOND actions but not act on them
    When it lists actions, then tries to clear one
    Then the list works, and the clear is refused naming the permission to act; the action is unchanged.
    """
    emu.add_token_pair('viewer-public', 'viewer-private', {'antigena'})
    assert outputs(run(emu, 'darktrace-list-respond-actions', public='viewer-public', private='viewer-private'))
    message = error(run(emu, 'darktrace-clear-respond-action', public='viewer-public', private='viewer-private',
                        codeid='5002', reason='x'))
    assert 'permission to act on RESPOND actions' in message and not emu.dataset.antigena[5002].cleared
