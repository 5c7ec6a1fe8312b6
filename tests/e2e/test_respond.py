"""End-to-end tests of the RESPOND commands: each runs through `Darktrace.main()` against the emulator over HTTP.

One emulator serves the module (the `emu` fixture rules of tests/conftest.py); its clock is moved forward to let
actions expire, so it checks request dates against the host clock (`date_clock='host'`) and the integration reads
the appliance's clock for states, as it would read its own clock agreeing with the appliance's. Tests that change
an action use their own action.
"""
from __future__ import annotations

import json
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


@pytest.fixture
def frozen_clock(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> int:
    """The appliance clock (and so the integration's) held still at the moment the test starts."""
    moment = emu.clock.host_ms()
    monkeypatch.setattr(emu.clock, 'host_ms', lambda: moment)
    return moment


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


def test_pending_action_lifecycle(emu: Emulator, frozen_clock: int) -> None:
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

    expires = action.expires
    extended = outputs(run(emu, 'darktrace-extend-respond-action', codeid='5001', duration='1 hour',
                           reason='Longer'))
    assert 0 <= action.expires - (expires + 3600 * 1000) < 1000  # extended BY one hour (in whole seconds)
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


@pytest.mark.parametrize('extend_from', ['now', 'start'])
def test_extend_adds_the_duration_to_the_time_left(emu: Emulator, frozen_clock: int, extend_from: str) -> None:
    """
    Given an active action (5003) with time left, on an appliance that counts an extension's duration from now
    (guide 2.13) or, under the other reading of the guide, from the action's start
    When it is extended by 2 hours
    Then it now ends 2 hours after its former expiry: the POST carried the time left plus 2 hours, and where the
    appliance counts from the start, one correction set the same expiry.
    """
    emu.set_settings(extend_from=extend_from)
    action = emu.dataset.antigena[5003]
    expires, start = action.expires, action.start
    extended = outputs(run(emu, 'darktrace-extend-respond-action', codeid='5003', duration='2 hours', reason='x'))
    assert 0 <= action.expires - (expires + 2 * 3600 * 1000) < 1000  # whole seconds
    assert extended['expires'] == Darktrace.ms_to_iso(action.expires) and extended['state'] == 'active'
    durations = [json.loads(entry['body'])['duration'] for entry in posts(emu)]
    left_s = -((frozen_clock - expires) // 1000)  # rounded up
    from_start_s = -((start - expires) // 1000) + 7200  # the correction: the whole length from the start
    assert durations == ([left_s + 7200] if extend_from == 'now' else [left_s + 7200, from_start_s])


def test_extend_of_an_action_that_expired_meanwhile(emu: Emulator, frozen_clock: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given an active action that expires between the integration reading it and its extension reaching Darktrace
    When it is extended
    Then the War Room says it expired before the extension arrived and nothing was changed, and points to reactivate.
    """
    action = emu.dataset.antigena[5002]
    expires = action.expires
    real_read = Darktrace._extendable_action

    def read_then_expire(client: Any, codeid: int) -> dict[str, Any]:
        record = real_read(client, codeid)
        monkeypatch.setattr(emu.clock, 'host_ms', lambda: expires + 1000)
        monkeypatch.setattr(Darktrace, 'now_ms', lambda: expires + 1000)
        return record

    monkeypatch.setattr(Darktrace, '_extendable_action', read_then_expire)
    message = error(run(emu, 'darktrace-extend-respond-action', codeid='5002', duration='1 hour', reason='x'))
    assert 'RESPOND action 5002 expired before the extension reached Darktrace' in message
    assert 'nothing was changed' in message and 'darktrace-reactivate-respond-action' in message
    assert action.expires == expires


def test_connection_action_blocks_the_connections_given(emu: Emulator) -> None:
    """
    Given a device and two connections to block
    When a connection action is created
    Then the appliance holds both, and include_connections lists them as blocked connections of the device (guide
    2.13: an object {actions, connections}), in context and in the War Room.
    """
    did = sorted(emu.dataset.devices)[6]
    ip = emu.dataset.devices[did]['ip']
    created = outputs(run(emu, 'darktrace-create-respond-action', did=str(did), action='connection', duration='1 hour',
                          reason='C2', connections=f'{ip}>203.0.113.66:8443,{ip}>198.51.100.9'))
    expected = [{'src': ip, 'dst': '203.0.113.66', 'port': 8443}, {'src': ip, 'dst': '198.51.100.9'}]
    assert emu.dataset.antigena[created['codeid']].connections == expected
    entry = run(emu, 'darktrace-list-respond-actions', did=str(did), include_connections='true')
    blocked = {action['codeid']: action for action in outputs(entry)}[created['codeid']]['blockedConnections']
    assert [(c['ip'], c['port'], c['did']) for c in blocked] == [('203.0.113.66', 8443, did), ('198.51.100.9', 0, did)]
    readable = entry['HumanReadable']
    assert '| 203.0.113.66 | 8443 |' in readable and 'Connections RESPOND blocked' in readable
    assert 'blockedConnections' not in listed(emu, did=str(did))[created['codeid']]


def test_list_with_full_device_details(emu: Emulator) -> None:
    """
    Given actions on devices
    When they are listed with full_device_details (the appliance then answers {actions, devices}, guide 2.13)
    Then every action is listed, each with its device's details.
    """
    plain = listed(emu)
    detailed = listed(emu, full_device_details='true')
    assert detailed.keys() == plain.keys() and detailed
    for codeid, action in detailed.items():
        assert action['device']['did'] == action['did']
        assert action['device'].get('hostname') == emu.dataset.devices[action['did']].get('hostname')
        assert action['device']['ip'] == emu.dataset.devices[action['did']]['ip']


@pytest.mark.parametrize('reply_key', ['code', 'codeid'])
def test_create_reads_the_new_code_under_either_key(emu: Emulator, reply_key: str) -> None:
    """
    Given an appliance answering a manual action with {"code": n} (the guide's example) or {"codeid": n}
    When darktrace-create-respond-action runs
    Then it reports the action created under that code, active, after one POST.
    """
    emu.set_settings(manual_reply_key=reply_key)
    did = sorted(emu.dataset.devices)[7]
    created = outputs(run(emu, 'darktrace-create-respond-action', did=str(did), action='pol', duration='1 hour'))
    assert created['state'] == 'active' and emu.dataset.antigena[created['codeid']].did == did
    assert len(posts(emu)) == 1


def test_audited_appliance_needs_a_reason(emu: Emulator) -> None:
    """
    Given an appliance that audits RESPOND ("Audit Antigena"), refusing a change without a reason
    When an action is cleared without a reason, then with one
    Then the first says a reason is required because the appliance audits RESPOND, and the second clears it.
    """
    did = sorted(emu.dataset.devices)[8]
    codeid = outputs(run(emu, 'darktrace-create-respond-action', did=str(did), action='pol', duration='1 hour',
                         reason='Contain'))['codeid']
    emu.set_settings(respond_audit=True)
    message = error(run(emu, 'darktrace-clear-respond-action', codeid=str(codeid)))
    assert '"Audit Antigena"' in message and 'reason=' in message and not emu.dataset.antigena[codeid].cleared
    assert outputs(run(emu, 'darktrace-clear-respond-action', codeid=str(codeid), reason='x'))['state'] == 'cleared'


def test_change_accepted_with_an_empty_reply(emu: Emulator) -> None:
    """
    Given an appliance that answers POST /antigena with an empty object (the guide documents no reply)
    When an action is activated
    Then the read-back reports it active.
    """
    emu.set_settings(respond_post_reply='empty')
    assert outputs(run(emu, 'darktrace-activate-respond-action', codeid='5001', reason='x'))['state'] == 'active'


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
