"""End-to-end tests of Darktrace/Email: every command, fetch and incoming mirroring, under both API path styles.

Each command runs through `Darktrace.main()` against an emulator serving the Email API over HTTP, once with the
appliance serving only the guide's prefix (/agemail/api/ep/api/v1.0) and once only the other (/agemail/api/v1.0),
so the automatic choice of the prefix is part of every run.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import Darktrace
import xsoar_platform
from CommonServerPython import EntryType
from e2e_support import ERROR_ENTRY_TYPE, PRIVATE_TOKEN, PUBLIC_TOKEN, assert_no_secret, checked, outputs, params_for
from emulator import Emulator, views_email
from emulator.state.email import SHOWCASE_UUID

STYLES = {'ep': Darktrace.EMAIL_PATH_EP, 'direct': Darktrace.EMAIL_PATH_DIRECT}
NO_EMAIL_PUBLIC = 'e2e-no-email-public'
NO_EMAIL_PRIVATE = 'e2e-no-email-private-41c9'


@pytest.fixture(scope='module')
def emu_server() -> Iterator[Emulator]:
    with Emulator(breaches=20, span_days=2, seed=5, emails=120) as emulator:
        emulator.add_token_pair(PUBLIC_TOKEN, PRIVATE_TOKEN)
        emulator.add_token_pair(NO_EMAIL_PUBLIC, NO_EMAIL_PRIVATE, {'status', 'modelbreaches'})
        yield emulator


@pytest.fixture(params=sorted(STYLES))
def style(request: pytest.FixtureRequest, emu: Emulator) -> str:
    """The path style the appliance serves; the other answers like an unknown route."""
    emu.set_settings(email_paths=request.param)
    return request.param


def run_email(emu: Emulator, command: str, context: dict[str, Any] | None = None, **args: str) -> Any:
    result = checked(xsoar_platform.run_command(command, args, params_for(emu), integration_context=context))
    assert_no_secret(result.entries, result.logs)
    (entry,) = result.entries
    return entry


def run_params_email(params: dict[str, Any], **args: str) -> Any:
    """darktrace-email-email-search with `params`; its one War Room entry."""
    (entry,) = checked(xsoar_platform.run_command('darktrace-email-email-search', args, params)).entries
    return entry


def email_paths(emu: Emulator) -> list[str]:
    return [entry['path'] for entry in emu.request_log() if entry['path'].startswith('/agemail/')]


def test_search_finds_the_emails_the_filters_ask_for(emu: Emulator, style: str) -> None:
    """
    Given an appliance serving the Email API under one path style only
    When darktrace-email-email-search runs for critical-tagged emails scoring at least 50 over two days
    Then context holds exactly the matching emails, newest first, each with every recipient and its tags by
         severity, and the requests went to the prefix that answered after at most one miss.
    """
    now = emu.now_ms()
    critical = {tag['name'] for tag in emu.email_dataset.tags if tag['status'] == 'critical'}
    expected = sorted((email for email in emu.email_dataset.emails.values()
                       if email.visible_ms <= now and email.dtime_ms >= now - 2 * 86_400_000
                       and email.model_score >= 50
                       and critical & {tag for rcpt in email.rcpts for tag in rcpt['tags']}),
                      key=lambda email: -email.dtime_ms)
    found = outputs(run_email(emu, 'darktrace-email-email-search', start_time='2 days', min_score='50',
                              tag_severity='critical', limit='1000', page_size='7'))
    assert [email['uuid'] for email in found] == [email.uuid for email in expected]
    assert all(email['tags_by_severity']['critical'] and len(email['recipients']) == len(email['rcpts'])
               for email in found)
    used = {path.split('/emails/')[0].split('/resources/')[0] for path in email_paths(emu)}
    assert STYLES[style] in used and len(used) <= 2


def test_get_email_shows_every_recipient(emu: Emulator, style: str) -> None:
    """
    Given the known email held for three recipients
    When darktrace-email-email-get runs for it
    Then context has the email with its three recipients, their summaries and its link, and the War Room a
         recipients table.
    """
    entry = run_email(emu, 'darktrace-email-email-get', uuid=SHOWCASE_UUID)
    email = outputs(entry)
    assert email['uuid'] == SHOWCASE_UUID
    recipients = [rcpt['rcpt_to'] for rcpt in email['rcpts']]
    assert recipients == ['alice@example.com', 'bob@example.com', 'finance@example.com']
    assert all(rcpt['summary'] for rcpt in email['rcpts'])
    assert email['ui_link'].endswith(f'/agemail/?uuid={SHOWCASE_UUID}')
    assert '### Recipients' in entry['HumanReadable'] and 'Forged Address' in entry['HumanReadable']


def test_hold_and_release_per_recipient_and_repeats_answered_as_such(emu: Emulator, style: str) -> None:
    """
    Given an email delivered to two recipients
    When it is held for one, held again for both, released to the first, then released to it again
    Then each request changes only what was asked, the repeated hold sends only the recipient not yet held, and
         the repeated release is answered "already released" without an error.
    """
    (uuid,) = emu.add_emails([{'dtime_ms': emu.now_ms() - 3_600_000, 'status': 'delivered',
                               'recipients': ['alice@example.com', 'bob@example.com'],
                               'uuid': f'0000000{len(style)}-AAAA-4BBB-8CCC-DDDDDDDDDDDD.1'}])

    def statuses() -> dict[str, str]:
        return {rcpt['rcpt_to']: rcpt['rcpt_status'] for rcpt in emu.email_dataset.emails[uuid].rcpts}
    held = outputs(run_email(emu, 'darktrace-email-email-hold', uuid=uuid, recipients='alice@example.com'))
    assert (held['status'], held['recipients'], held['resp']) == ('success', ['alice@example.com'], 'Held Email')
    assert statuses() == {'alice@example.com': 'held', 'bob@example.com': 'delivered'}
    again = outputs(run_email(emu, 'darktrace-email-email-hold', uuid=uuid))
    assert again['recipients'] == ['bob@example.com'] and again['status'] == 'success'
    released = outputs(run_email(emu, 'darktrace-email-email-release', uuid=uuid, recipients='alice@example.com'))
    assert released['status'] == 'success' and released['resp'] == 'Email added to queue'
    assert statuses() == {'alice@example.com': 'released', 'bob@example.com': 'held'}
    repeat = run_email(emu, 'darktrace-email-email-release', uuid=uuid, recipients='alice@example.com')
    assert outputs(repeat)['status'] == 'already_actioned' and 'already released' in repeat['HumanReadable']


def test_a_repeated_action_answered_409_is_not_an_error(
        emu: Emulator, style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given an email released to a recipient just after the integration read it as delivered (another analyst acted
          between the read and the hold)
    When darktrace-email-email-action asks to hold it for that recipient and Darktrace answers 409
    Then the command reports the email as already actioned with Darktrace's words, not an error.
    """
    (uuid,) = emu.add_emails([{'dtime_ms': emu.now_ms() - 3_600_000, 'status': 'released',
                               'recipients': ['carol@example.com'],
                               'uuid': f'1000000{len(style)}-AAAA-4BBB-8CCC-DDDDDDDDDDDD.1'}])
    details = views_email.email_details
    monkeypatch.setattr(views_email, 'email_details', lambda email, now_ms: {
        **details(email, now_ms), 'rcpts': [{**rcpt, 'rcpt_status': 'delivered'}
                                            for rcpt in details(email, now_ms)['rcpts']]})
    result = outputs(run_email(emu, 'darktrace-email-email-action', uuid=uuid, action='hold',
                               recipients='carol@example.com'))
    assert result['status'] == 'already_actioned'
    assert 'Previously Held or Released' in result['message']


def test_other_action_catalogues_and_download(emu: Emulator, style: str) -> None:
    """
    Given the appliance's action, tag and filter catalogues and a stored message
    When the list commands and darktrace-email-email-download run
    Then each lists what the appliance has (tags most severe first) and the .eml reaches the War Room as a file.
    """
    actions = outputs(run_email(emu, 'darktrace-email-action-list'))
    assert [action['action'] for action in actions][:2] == ['hold', 'release']
    tags = outputs(run_email(emu, 'darktrace-email-tag-list', severity='critical,warn'))
    severities = [tag['status'] for tag in tags]
    assert severities == sorted(severities) and set(severities) == {'critical', 'warn'}  # critical before warn
    filters = outputs(run_email(emu, 'darktrace-email-filter-list'))
    assert 'Recipient.Email' in [item['apiFilter'] for item in filters]
    entry = run_email(emu, 'darktrace-email-email-download', uuid=SHOWCASE_UUID)
    assert entry['Type'] == EntryType.FILE and entry['File'] == f'{SHOWCASE_UUID}.eml'
    assert xsoar_platform.file_path(entry).read_bytes() == views_email.email_message(emu.email_dataset.emails[SHOWCASE_UUID]).encode()


def test_a_downloaded_file_is_written_in_the_engine_folder_not_the_checkout(emu: Emulator, engine_folder: Path) -> None:
    """
    Given a run started from the repository's root
    When darktrace-email-email-download writes its War Room file (fileResult writes into the working folder)
    Then the file is in the engine's working folder, the checkout gains no file, and the run ends where it started.
    """
    started_in = os.getcwd()
    os.chdir(xsoar_platform.REPO_ROOT)
    try:
        entry = run_email(emu, 'darktrace-email-email-download', uuid=SHOWCASE_UUID)
        assert os.getcwd() == str(xsoar_platform.REPO_ROOT)
    finally:
        os.chdir(started_in)
    written = xsoar_platform.file_path(entry)
    assert written.parent == engine_folder and written.is_file()
    assert not list(xsoar_platform.REPO_ROOT.glob(f'*{entry["FileID"]}*'))


def test_the_prefix_that_answered_is_remembered_and_a_pinned_one_is_used_alone(emu: Emulator) -> None:
    """
    Given an appliance serving only /agemail/api/v1.0, answering the other prefix with a redirect to the login page
    When a command runs with no remembered prefix, then again with the context it left, then with the other
         prefix pinned
    Then the first tries the guide's prefix once, the second goes straight to the one remembered, and the pinned
         run sends only to the pinned prefix (and fails, naming the login redirect).
    """
    emu.set_settings(email_paths='direct', email_missing_path='login')
    first = checked(xsoar_platform.run_command('darktrace-email-filter-list', {}, params_for(emu)))
    assert email_paths(emu) == [Darktrace.EMAIL_PATH_EP + '/resources/filters',
                                Darktrace.EMAIL_PATH_DIRECT + '/resources/filters']
    assert first.integration_context[Darktrace.EMAIL_PATH_KEY] == Darktrace.EMAIL_PATH_DIRECT
    emu.clear_log()
    checked(xsoar_platform.run_command('darktrace-email-filter-list', {}, params_for(emu),
                                       integration_context=first.integration_context))
    assert email_paths(emu) == [Darktrace.EMAIL_PATH_DIRECT + '/resources/filters']
    emu.clear_log()
    pinned = checked(xsoar_platform.run_command('darktrace-email-filter-list', {},
                                                params_for(emu, email_api_path=Darktrace.EMAIL_PATH_EP)))
    assert email_paths(emu) == [Darktrace.EMAIL_PATH_EP + '/resources/filters']
    assert 'login page' in pinned.errors[0]


@pytest.mark.parametrize('refusal', ['no_permission', 'unlicensed'])
def test_missing_email_permission_or_licence_gets_the_clear_message(emu: Emulator, refusal: str) -> None:
    """
    Given a token whose user lacks the Email permissions, or an appliance without Darktrace/Email licensed
    When an Email command runs, and test-module runs with Email selected for fetching
    Then both fail with the message naming the Email permissions and licence, after one request (a 403 is not
         retried on the other prefix).
    """
    params = params_for(emu)
    if refusal == 'unlicensed':
        emu.set_settings(email='unlicensed')
    else:
        params = xsoar_platform.instance_params(emu.url, NO_EMAIL_PUBLIC, NO_EMAIL_PRIVATE, retry_budget_seconds='5')
    result = checked(xsoar_platform.run_command('darktrace-email-email-get', {'uuid': SHOWCASE_UUID}, params))
    assert result.entries[0]['Type'] == ERROR_ENTRY_TYPE
    assert '"Email logs"' in result.errors[0] and 'not licensed' in result.errors[0]
    assert len(email_paths(emu)) == 1
    fetching_email = {**params, 'isFetch': True, 'fetch_sources': 'Darktrace/Email'}
    tested = checked(xsoar_platform.run_command('test-module', {}, fetching_email))
    assert '"Email logs"' in tested.errors[0]


def test_test_module_checks_email_only_when_fetched_or_asked(emu: Emulator) -> None:
    """
    Given an instance fetching model breaches only, then one asking for the Email check
    When test-module runs for each
    Then the first sends nothing to the Email API, the second checks it (filters, then a one-item search).
    """
    assert checked(xsoar_platform.run_command('test-module', {}, params_for(emu))).entries == ['ok']
    assert email_paths(emu) == []
    assert checked(xsoar_platform.run_command('test-module', {}, params_for(emu, email_test='true'))).entries == ['ok']
    assert [path.rsplit('/', 1)[1] for path in email_paths(emu)] == ['filters', 'search']


def test_fetch_turns_each_email_into_one_incident_and_mirroring_follows_its_status(
        emu: Emulator, style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given Darktrace/Email chosen as a fetch source beside model breaches, with a minimum Email score of 60
    When fetch runs until it has caught up (time passing between runs), then an email is released in Darktrace
         and a mirroring cycle runs
    Then each email scoring 60 or more became exactly one incident with every recipient, and
         get-modified-remote-data names the released email, whose get-remote-data shows it released.
    """
    monkeypatch.setattr(Darktrace, 'now_ms', emu.now_ms)
    params = params_for(emu, fetch_sources='Model Breaches,Darktrace/Email', email_min_score='60', min_score='0',
                        max_alerts='40', first_fetch='3 days', mirror_direction='Incoming')
    last_run: dict[str, Any] = {}
    context: dict[str, Any] = {}
    incidents: list[dict[str, Any]] = []
    for _ in range(60):
        emu.shift_clock(120)
        result = checked(xsoar_platform.run_fetch_cycle(params, last_run, integration_context=context))
        last_run, context = result.last_run or last_run, result.integration_context
        incidents += result.incidents
        if not result.incidents and last_run.get('email', {}).get('hw_ms', 0) >= emu.now_ms() - 120_000:
            break
    emails = [incident for incident in incidents if incident['name'].startswith('Darktrace/Email')]
    uuids = [incident['dbotMirrorId'] for incident in emails]
    expected = {email.uuid for email in emu.email_dataset.emails.values() if email.model_score >= 60
                and email.dtime_ms >= emu.now_ms() - 3 * 86_400_000 - 600_000}
    assert len(expected) > 20 and len(uuids) == len(set(uuids)) and set(uuids) == expected
    held = next(incident for incident in emails if json.loads(incident['rawJSON'])['held_recipients'])
    uuid = held['dbotMirrorId']
    assert f'({len(json.loads(held["rawJSON"])["recipients"])} recipients' in held['name']
    modified = checked(xsoar_platform.run_command('get-modified-remote-data', {'lastUpdate': '1 hour'}, params,
                                                  integration_context=context))
    context = modified.integration_context
    for rcpt in emu.email_dataset.emails[uuid].rcpts:
        rcpt['rcpt_status'] = 'released'
    cycle = checked(xsoar_platform.run_command('get-remote-data', {'id': uuid, 'lastUpdate': '1 hour'}, params,
                                               integration_context=context))
    context = cycle.integration_context
    assert json.loads(json.dumps(cycle.entries[0]))
    modified = checked(xsoar_platform.run_command('get-modified-remote-data', {'lastUpdate': '1 hour'}, params,
                                                  integration_context=context))
    assert uuid not in modified.entries[0]['Contents']  # mirrored in after the change: nothing new
    emu.email_dataset.emails[uuid].rcpts[0]['is_read'] = True
    modified = checked(xsoar_platform.run_command('get-modified-remote-data', {'lastUpdate': '1 hour'}, params,
                                                  integration_context=context))
    assert uuid in modified.entries[0]['Contents']


@pytest.mark.parametrize('appliance_unit, instance_unit, finds', [
    ('seconds', 'seconds', True), ('milliseconds', 'milliseconds', True), ('auto', 'seconds', True),
    ('auto', 'milliseconds', True), ('milliseconds', 'seconds', False)])
def test_search_window_unit_follows_the_instance_parameter(emu: Emulator, appliance_unit: str, instance_unit: str,
                                                           finds: bool) -> None:
    """
    Given an appliance reading the search window in seconds, milliseconds, or either by size (open question 1)
    When darktrace-email-email-search runs for the last day with the instance's time unit
    Then the emails of that day are found whenever the units agree (or the appliance detects them), and a window
         sent in seconds to an appliance reading milliseconds finds nothing (the unit parameter is the fix).
    """
    emu.set_settings(email_time_unit=appliance_unit)
    now = emu.now_ms()
    expected = {email.uuid for email in emu.email_dataset.emails.values()
                if now - 86_400_000 <= email.dtime_ms <= now and email.visible_ms <= now}
    params = params_for(emu, email_time_unit=instance_unit)
    entry = run_params_email(params, start_time='1 day', limit='1000')
    found = {email['uuid'] for emails in (entry.get('EntryContext') or {}).values() for email in emails}
    assert expected and found == (expected if finds else set())


@pytest.mark.parametrize('order', ['asc', 'desc', 'shuffle'])
def test_search_results_are_the_same_whatever_the_reply_order(emu: Emulator, order: str) -> None:
    """
    Given an appliance answering searches newest first, oldest first or shuffled (open question 2)
    When darktrace-email-email-search reads two days in pages of 9
    Then it returns the same emails, each once, newest first.
    """
    emu.set_settings(email_order=order)
    found = outputs(run_email(emu, 'darktrace-email-email-search', start_time='2 days', limit='1000', page_size='9'))
    uuids = [email['uuid'] for email in found]
    assert len(uuids) == len(set(uuids)) and [email['dtime_unix'] for email in found] == sorted(
        (email['dtime_unix'] for email in found), reverse=True)
    now = emu.now_ms()
    assert set(uuids) == {email.uuid for email in emu.email_dataset.emails.values()
                          if now - 2 * 86_400_000 <= email.dtime_ms and email.visible_ms <= now}


def test_unknown_email_paths_are_refused_before_routing_without_the_email_permission(emu: Emulator) -> None:
    """
    Given a token pair without the Email permission
    When it calls an Email path that does not exist, and one that does
    Then both answer 403 {"error": "403 Forbidden"} (the check comes before routing, email-facts 5).
    """
    client = Darktrace.Client(emu.url, NO_EMAIL_PUBLIC, NO_EMAIL_PRIVATE, retry_budget_s=0)
    for path in ('/no/such/route', '/resources/tags'):
        with pytest.raises(Darktrace.DarktraceApiError) as raised:
            client.request('GET', Darktrace.EMAIL_PATH_EP + path)
        assert raised.value.status == 403
