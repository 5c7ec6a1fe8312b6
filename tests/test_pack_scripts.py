"""The pack's layout scripts (pack/Scripts): run as XSOAR runs a dynamic section, with the command's entries stood in.

XSOAR gives a script `demisto.incident()` and `demisto.executeCommand()`; the stand-in demistomock has neither
(the integration never calls them), so each test sets them for the run.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import demistomock
from CommonServerPython import EntryType

SCRIPTS = Path(__file__).resolve().parents[1] / 'pack' / 'Scripts'
CASES = [('DarktraceNDRBreachComments', 'darktrace-get-model-breach-comments', {'using-brand': 'Darktrace NDR'}),
         ('DarktraceNDRBreachConnections', 'darktrace-get-model-breach-connections',
          {'limit': 20, 'using-brand': 'Darktrace NDR'})]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / name / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(monkeypatch: pytest.MonkeyPatch, name: str, incident: dict[str, Any],
        replies: list[dict[str, Any]]) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    """Run the script's main() for `incident`; return the commands it ran and the entries it wrote."""
    calls: list[tuple[str, dict[str, Any]]] = []
    written: list[Any] = []
    monkeypatch.setattr(demistomock, 'incident', lambda: incident, raising=False)
    monkeypatch.setattr(demistomock, 'executeCommand', lambda command, args: calls.append((command, args)) or replies,
                        raising=False)
    monkeypatch.setattr(demistomock, 'results', written.append)
    monkeypatch.setattr(demistomock, 'command', lambda: name)
    try:
        load(name).main()
    except SystemExit:  # return_error ends the script
        pass
    return calls, written


@pytest.mark.parametrize('name, command, extra', CASES)
def test_shows_what_the_command_shows_for_the_incident_breach(monkeypatch: pytest.MonkeyPatch, name: str,
                                                              command: str, extra: dict[str, Any]) -> None:
    """
    Given a model breach incident whose Darktrace Model Breach ID field holds 30960 (a number field, so 30960.0)
    When the layout runs the script
    Then it runs the command for pbid 30960 and shows the command's War Room text.
    """
    reply = [{'Type': EntryType.NOTE, 'HumanReadable': '### Comments\n|Time|Message|\n|---|---|\n|t|hello|',
              'Contents': []}]

    calls, written = run(monkeypatch, name, {'CustomFields': {'darktracendrpbid': 30960.0}, 'dbotMirrorId': '1'}, reply)

    assert calls == [(command, {'pbid': 30960, **extra})]
    (entry,) = written
    assert entry['HumanReadable'] == reply[0]['HumanReadable']


@pytest.mark.parametrize('name, command, extra', CASES)
def test_falls_back_to_the_mirror_id(monkeypatch: pytest.MonkeyPatch, name: str, command: str,
                                     extra: dict[str, Any]) -> None:
    """
    Given an incident without the Darktrace Model Breach ID field, mirrored from breach 42
    When the layout runs the script
    Then it asks for breach 42, and says so when the command finds nothing.
    """
    calls, written = run(monkeypatch, name, {'CustomFields': {}, 'dbotMirrorId': '42'},
                         [{'Type': EntryType.NOTE, 'HumanReadable': '', 'Contents': []}])

    assert calls == [(command, {'pbid': 42, **extra})]
    assert 'model breach 42' in written[0]['HumanReadable']


@pytest.mark.parametrize('name, command, extra', CASES)
def test_an_incident_without_a_breach_runs_nothing(monkeypatch: pytest.MonkeyPatch, name: str, command: str,
                                                   extra: dict[str, Any]) -> None:
    """
    Given an AI Analyst incident (its mirror ID is an event id, not a pbid)
    When the layout runs the script
    Then no command runs and the section says the incident has no model breach ID.
    """
    calls, written = run(monkeypatch, name, {'CustomFields': {}, 'dbotMirrorId': '04a3f36e-4u8w-v9dh'}, [])

    assert calls == []
    assert written[0]['HumanReadable'] == 'This incident has no Darktrace model breach ID.'


@pytest.mark.parametrize('name, command, extra', CASES)
def test_a_command_error_becomes_the_section_error(monkeypatch: pytest.MonkeyPatch, name: str, command: str,
                                                   extra: dict[str, Any]) -> None:
    """
    Given the command fails (an error entry, for example the instance is disabled)
    When the layout runs the script
    Then the script writes an error entry carrying the command's message.
    """
    _, written = run(monkeypatch, name, {'CustomFields': {'darktracendrpbid': 7}},
                     [{'Type': EntryType.ERROR, 'Contents': 'Darktrace rejected the API token'}])

    (entry,) = written
    assert entry['Type'] == EntryType.ERROR
    assert 'Darktrace rejected the API token' in entry['Contents']


def test_ai_analyst_comments_show_the_event_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given an AI Analyst incident whose event ID field is e1
    When the layout runs DarktraceNDRAIAnalystComments
    Then it runs darktrace-get-ai-analyst-comments for e1 on this integration and shows the command's text.
    """
    reply = [{'Type': EntryType.NOTE, 'HumanReadable': '### Comments\n|Time|Message|', 'Contents': []}]

    calls, written = run(monkeypatch, 'DarktraceNDRAIAnalystComments',
                         {'CustomFields': {'darktracendraieventid': 'e1'}, 'dbotMirrorId': 'e1'}, reply)

    assert calls == [('darktrace-get-ai-analyst-comments', {'event_id': 'e1', 'using-brand': 'Darktrace NDR'})]
    assert written[0]['HumanReadable'] == reply[0]['HumanReadable']


def test_related_breaches_show_each_breach_once_and_name_the_ones_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given an AI Analyst incident listing breaches 7, 8 and 7 again, and Darktrace failing on 8
    When the layout runs DarktraceNDRRelatedBreaches
    Then it asks for 7 and 8 once each on this integration, shows 7, and names 8 with its error below.
    """
    calls: list[tuple[str, dict[str, Any]]] = []

    def execute(command: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        calls.append((command, args))
        if args['pbid'] == 8:
            return [{'Type': EntryType.ERROR, 'Contents': 'not found'}]
        return [{'Type': EntryType.NOTE, 'HumanReadable': f'breach {args["pbid"]}', 'Contents': {}}]

    module = load('DarktraceNDRRelatedBreaches')
    result = module.breaches_section({'CustomFields': {'darktracendrrelatedbreaches': [7, '8', 7.0]}}, execute)

    assert [args['pbid'] for _, args in calls] == [7, 8]
    assert all(args['using-brand'] == 'Darktrace NDR' for _, args in calls)
    assert result.readable_output.startswith('breach 7') and '8: not found' in result.readable_output


def test_related_breaches_fail_when_no_breach_could_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given an AI Analyst incident listing breach 8, which Darktrace cannot return
    When the script runs (in the layout or in the AI Analyst triage)
    Then it writes an error entry, so the triage records the step as failed.
    """
    calls, written = run(monkeypatch, 'DarktraceNDRRelatedBreaches',
                         {'CustomFields': {'darktracendrrelatedbreaches': [8]}},
                         [{'Type': EntryType.ERROR, 'Contents': 'not found'}])

    assert len(calls) == 1
    (entry,) = written
    assert entry['Type'] == EntryType.ERROR and 'not found' in entry['Contents']
