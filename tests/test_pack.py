"""The content pack in pack/ against the integration: mappers on real records, references, versions.

Fetched incidents come from the emulator through `Darktrace.main()`, as in tests/e2e/test_fetch.py; the
classifier and incoming mapper are applied by tests/xsoar_mapping.py, which follows XSOAR's rules
for the paths and transformers the pack uses.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

import Darktrace
import xsoar_platform
from emulator import Emulator
from xsoar_mapping import apply_mapper, classify, type_problem

REPO_ROOT = Path(__file__).resolve().parents[1]
PACK = REPO_ROOT / 'pack'
TEST_DATA = REPO_ROOT / 'test_data'
BREACH_TYPE = 'Darktrace Model Breach'
AI_TYPE = 'Darktrace AI Analyst Incident'
AI_RECORD_KIND = 'AI Analyst Incident'

# XSOAR's own incident fields the pack uses (system fields, and Common Types fields the pack depends on).
BUILT_IN_FIELDS: dict[str, dict[str, Any]] = {
    'severity': {'name': 'Severity', 'type': 'number'},
    'occurred': {'name': 'Occurred', 'type': 'date'},
    'details': {'name': 'Details', 'type': 'longText'},
    'owner': {'name': 'Owner', 'type': 'user'},
    'sourceip': {'name': 'Source IP', 'type': 'shortText'},
    'sourcehostname': {'name': 'Source Hostname', 'type': 'shortText'},
}
# XSOAR built-in commands playbooks may run, with their arguments.
BUILT_IN_COMMANDS: dict[str, set[str]] = {'closeInvestigation': {'id', 'closeReason', 'closeNotes'}}
# Playbooks of this pack written on other branches, with their inputs: a task may call them before they exist here.
EXPECTED_PLAYBOOKS: dict[str, set[str]] = {}
# Arguments XSOAR accepts on every command task, whatever the integration defines.
PLATFORM_COMMAND_ARGUMENTS = frozenset({'extend-context', 'ignore-outputs', 'execution-timeout', 'using',
                                        'retry-count', 'retry-interval'})
# Mapped fields an emulated breach may leave empty: device details the appliance does not know, a model without tags.
MAY_BE_EMPTY = {'Source Hostname', 'Darktrace Device MAC Address', 'Darktrace Device Label', 'Darktrace Model Tags'}
CHANGELOG_VERSION = re.compile(r'^## \[(\d+\.\d+\.\d+)\]', re.MULTILINE)
UNRELEASED = re.compile(r'^## \[Unreleased\]\s*\n(.*?)(?=^## \[)', re.MULTILINE | re.DOTALL)
INPUT_REFERENCE = re.compile(r'\$\{inputs\.([A-Za-z0-9_]+)')


# --------------------------------------------------------------------------- reading the pack

def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding='utf-8'))


def pack_fields() -> dict[str, dict[str, Any]]:
    """The pack's incident fields by cliName."""
    fields = [load_json(path) for path in sorted((PACK / 'IncidentFields').glob('*.json'))]
    return {field['cliName']: field for field in fields}


def fields_by_name() -> dict[str, dict[str, Any]]:
    every = {**BUILT_IN_FIELDS, **pack_fields()}
    return {field['name']: {**field, 'cliName': cli_name} for cli_name, field in every.items()}


def incident_types() -> dict[str, dict[str, Any]]:
    return {item['id']: item for item in map(load_json, sorted((PACK / 'IncidentTypes').glob('*.json')))}


def classifier() -> dict[str, Any]:
    return load_json(PACK / 'Classifiers' / 'classifier-Darktrace.json')


def incoming_mapper() -> dict[str, Any]:
    return load_json(PACK / 'Classifiers' / 'classifier-mapper-incoming-Darktrace.json')


def outgoing_mapper() -> dict[str, Any]:
    return load_json(PACK / 'Classifiers' / 'classifier-mapper-outgoing-Darktrace.json')


def layouts() -> list[dict[str, Any]]:
    return [load_json(path) for path in sorted((PACK / 'Layouts').glob('layoutscontainer-*.json'))]


def playbooks() -> dict[str, dict[str, Any]]:
    return {item['name']: item for item in (yaml.safe_load(path.read_text(encoding='utf-8'))
                                            for path in sorted((PACK / 'Playbooks').glob('playbook-*.yml')))}


def integration() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / 'Darktrace.yml').read_text(encoding='utf-8'))


def command_arguments() -> dict[str, dict[str, bool]]:
    """Darktrace.yml's commands: {command: {argument: required}}."""
    return {command['name']: {arg['name']: bool(arg.get('required')) for arg in command.get('arguments') or []}
            for command in integration()['script']['commands']}


def layout_items(layout: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(section, item) for every field item of every tab; (section, {}) for a section without items."""
    for tab in layout['detailsV2']['tabs']:
        for section in tab.get('sections') or []:
            for item in section.get('items') or [{}]:
                yield section, item


# --------------------------------------------------------------------------- records

def fetched_incidents(emulator: Emulator) -> list[dict[str, Any]]:
    """Incidents of fetch runs against the emulator, run as XSOAR runs them, until some arrive."""
    params = xsoar_platform.instance_params(emulator, max_alerts='50', first_fetch='3 days')
    last_run: dict[str, Any] = {}
    for _ in range(50):
        result = xsoar_platform.run_fetch_cycle(params, last_run)
        if result.exception is not None:
            raise result.exception
        if result.incidents:
            return result.incidents
        last_run = result.last_run or {}
    raise AssertionError('no incident was fetched from the emulator')


def mapped_fields(record: dict[str, Any], incident_type: str) -> dict[str, Any]:
    return apply_mapper(incoming_mapper(), incident_type, record)


def problems(mapped: dict[str, Any], allowed_empty: set[str] = frozenset()) -> list[str]:
    """What is wrong with mapped values: a field left empty (unless allowed) or a value of the wrong type."""
    fields = fields_by_name()
    found = []
    for name, value in mapped.items():
        if value in (None, '', []):
            if name not in allowed_empty:
                found.append(f'{name}: no value')
            continue
        problem = type_problem(fields[name], value)
        if problem:
            found.append(f'{name}: {problem}')
    return found


def ai_analyst_record(event: dict[str, Any], url: str = 'https://dt.example') -> dict[str, Any]:
    """An AI Analyst event as the AI Analyst fetch puts it in rawJSON: the record, its link and its kind."""
    return {**event, 'incidentEventUrl': event.get('incidentEventUrl') or f'{url}/#aiaincidentevent/{event["id"]}',
            Darktrace.RECORD_KIND_KEY: AI_RECORD_KIND}


# --------------------------------------------------------------------------- mapping real records

def test_fetched_breaches_fill_the_mapped_fields_with_values_of_their_types() -> None:
    """
    Given model breaches fetched from the emulator through fetch-incidents
    When the pack's classifier and incoming mapper are applied to each incident's rawJSON
    Then every incident is a Darktrace Model Breach, every mapped value has its field's type, only device
    details the appliance lacks (or a model without tags) are left empty, and a typical breach fills every field.
    """
    with Emulator(breaches=80, span_days=1, seed=31) as emulator:
        incidents = fetched_incidents(emulator)

    complete = 0
    for incident in incidents:
        raw = json.loads(incident['rawJSON'])
        assert classify(classifier(), raw) == BREACH_TYPE
        mapped = mapped_fields(raw, BREACH_TYPE)
        assert problems(mapped, MAY_BE_EMPTY) == [], raw['pbid']
        assert str(mapped['Darktrace Model Breach ID']) == incident['dbotMirrorId']
        complete += not problems(mapped)
    assert complete, 'no fetched breach filled every mapped field'


def test_recorded_breach_fills_every_mapped_field() -> None:
    """
    Given a breach as /modelbreaches returns it (test_data) turned into an incident
    When the incoming mapper is applied to its rawJSON
    Then every mapped field gets a value of its type, with the values of the record.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]
    raw = json.loads(Darktrace.breach_to_incident(breach)['rawJSON'])

    mapped = mapped_fields(raw, BREACH_TYPE)

    assert problems(mapped) == []
    assert mapped['Darktrace Score'] == 59 and mapped['Source IP'] == '192.168.16.100'
    assert mapped['Darktrace MITRE Techniques'] == ['T1200']
    assert mapped['Darktrace Triggered Components'] == ['DNS Requests']
    assert mapped['Darktrace Creation Time'] == '2023-01-24T01:04:31Z'
    assert mapped['Darktrace Acknowledged'] is False


def test_breach_fetched_without_acknowledgement_flags_maps_as_unacknowledged() -> None:
    """
    Given a breach fetched with "Include acknowledged model breaches" off, so the record has no acknowledged key
    When the incoming mapper is applied
    Then Darktrace Acknowledged is false rather than unset.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]
    del breach['acknowledged']

    mapped = mapped_fields(breach, BREACH_TYPE)

    assert mapped['Darktrace Acknowledged'] == 'false'
    assert type_problem(fields_by_name()['Darktrace Acknowledged'], mapped['Darktrace Acknowledged']) is None


def test_mirrored_breach_updates_acknowledgement_and_comment_count() -> None:
    """
    Given what get-remote-data returns for a breach acknowledged in Darktrace with two comments
    When the incoming mapper is applied to it, as XSOAR does on incoming mirroring
    Then every mapped field still gets a value of its type, and the acknowledgement and comment count are the
    mirrored ones.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[1]
    comments = [{'message': 'one', 'time': 1}, {'message': 'two', 'time': 2}]
    mirrored = Darktrace.mirrored_breach({**breach, 'commentCount': 0}, comments)

    mapped = mapped_fields(mirrored, BREACH_TYPE)

    assert problems(mapped) == []
    assert mapped['Darktrace Acknowledged'] is True and mapped['Darktrace Comment Count'] == 2


@pytest.mark.parametrize('index', [0, 1])
def test_recorded_ai_analyst_events_map_to_values_of_their_types(index: int) -> None:
    """
    Given an AI Analyst incident event as /aianalyst/incidentevents returns it (test_data), with its link and kind
    When the classifier and incoming mapper are applied
    Then it is a Darktrace AI Analyst Incident, every mapped value has its field's type, and the complete event
    (the first) fills every mapped field.
    """
    event = json.loads((TEST_DATA / 'ai_analyst_events.json').read_text())[index]
    raw = ai_analyst_record(event)

    assert classify(classifier(), raw) == AI_TYPE
    mapped = mapped_fields(raw, AI_TYPE)

    allowed_empty = set() if index == 0 else {name for name, value in mapped.items() if value in (None, '', [])}
    assert problems(mapped, allowed_empty) == []
    assert mapped['Darktrace Incident Event URL'] == f'https://dt.example/#aiaincidentevent/{event["id"]}'
    if index == 0:
        assert mapped['Darktrace Related Model Breaches'] == [30960]
        assert mapped['Darktrace AI Analyst Incident Score'] == '72.5'


def test_emulated_ai_analyst_events_fill_the_mapped_fields() -> None:
    """
    Given the AI Analyst incident events the emulator serves on /aianalyst/incidentevents with their links
    When the incoming mapper is applied to each, with the record kind the fetch adds
    Then every mapped value has its field's type, only an event without related breaches leaves that field
    empty, and the link is the appliance's.
    """
    with Emulator(breaches=80, span_days=2, seed=32) as emulator:
        client = Darktrace.build_client(xsoar_platform.instance_params(emulator))
        events = client.get_ai_analyst_incident_events({'includeincidenteventurl': True, 'includeacknowledged': True,
                                                        'starttime': 0, 'endtime': emulator.now_ms()})
        url = emulator.url
    assert events
    for event in events:
        raw = {**event, Darktrace.RECORD_KIND_KEY: AI_RECORD_KIND}
        allowed_empty = set() if event['relatedBreaches'] else {'Darktrace Related Model Breaches'}
        mapped = mapped_fields(raw, AI_TYPE)
        assert problems(mapped, allowed_empty) == [], event['id']
        assert mapped['Darktrace Incident Event URL'] == f'{url}/#aiaincidentevent/{event["id"]}'


# --------------------------------------------------------------------------- classifier, mappers, types

def test_classifier_and_mappers_cover_both_incident_types() -> None:
    """
    Given the classifier, the mappers, the incident types and Darktrace.yml
    When they are compared
    Then the classifier maps the integration's record kinds to the pack's two types, both mappers have both
    types, every incident type's layout and playbook exist, and Darktrace.yml names the pack's classifier and
    mappers as its defaults.
    """
    types = incident_types()
    assert set(types) == {BREACH_TYPE, AI_TYPE}
    assert classifier()['keyTypeMap'] == {Darktrace.BREACH_RECORD_KIND: BREACH_TYPE, AI_RECORD_KIND: AI_TYPE}
    assert classifier()['transformer'] == {'simple': Darktrace.RECORD_KIND_KEY}
    assert set(incoming_mapper()['mapping']) == set(outgoing_mapper()['mapping']) == set(types)
    layout_ids = {layout['id'] for layout in layouts()}
    for item in types.values():
        assert item['layout'] in layout_ids
        assert not item['playbookId'] or item['playbookId'] in playbooks()
    document = integration()
    assert (document['defaultclassifier'], document['defaultmapperin'], document['defaultmapperout']) == (
        classifier()['id'], incoming_mapper()['id'], outgoing_mapper()['id'])


def test_incoming_mapper_sets_only_fields_of_its_incident_type() -> None:
    """
    Given the incoming mapper
    When each mapped field is looked up
    Then it is a built-in field or a pack field associated with the incident type it is mapped for (XSOAR sets
    no other field).
    """
    fields = fields_by_name()
    for incident_type, mapping in incoming_mapper()['mapping'].items():
        for name in mapping['internalMapping']:
            assert name in fields, f'{incident_type}: unknown field {name!r}'
            associated = fields[name].get('associatedTypes')
            assert associated is None or incident_type in associated, f'{name} is not associated with {incident_type}'


def test_outgoing_mapper_sends_what_update_remote_system_reads() -> None:
    """
    Given the outgoing mapper
    When its remote fields are read
    Then they are the close reason, the one key of the delta update-remote-system acts on.
    """
    for mapping in outgoing_mapper()['mapping'].values():
        assert mapping['internalMapping'] == {'closeReason': {'simple': 'closeReason'}}


def test_every_pack_field_is_mapped_and_shown() -> None:
    """
    Given the pack's incident fields
    When the incoming mapper and the layouts are read
    Then every field is filled by the mapper for each type it is associated with, and shown by that type's layout.
    """
    mapper = incoming_mapper()['mapping']
    shown = {layout['id']: {item.get('fieldId') for _, item in layout_items(layout)} for layout in layouts()}
    for cli_name, field in pack_fields().items():
        for incident_type in field['associatedTypes']:
            assert field['name'] in mapper[incident_type]['internalMapping'], f'{cli_name} not mapped ({incident_type})'
            assert cli_name in shown[incident_type], f'{cli_name} not in the {incident_type} layout'


# --------------------------------------------------------------------------- layouts

def test_layouts_show_existing_fields_and_run_pack_scripts() -> None:
    """
    Given the layouts
    When their field items and dynamic sections are read
    Then every field exists (a pack field associated with the layout's type, or a listed built-in) and every
    dynamic section runs a script of the pack.
    """
    fields = pack_fields()
    scripts = {path.name for path in (PACK / 'Scripts').iterdir() if path.is_dir()}
    for layout in layouts():
        for section, item in layout_items(layout):
            if section.get('type') == 'dynamic':
                assert section['queryType'] == 'script' and section['query'] in scripts, section['name']
                continue
            field_id = item['fieldId']
            assert field_id in fields or field_id in BUILT_IN_FIELDS, f'{layout["id"]}: unknown field {field_id}'
            if field_id in fields:
                assert layout['id'] in fields[field_id]['associatedTypes'], f'{field_id} not in {layout["id"]}'


def test_breach_layout_shows_what_an_analyst_needs() -> None:
    """
    Given the Darktrace Model Breach layout
    When its summary tab and its other tabs are read
    Then the summary shows model, score, severity, device, breach link and acknowledgement, and another tab
    shows the breach's comments and connections.
    """
    layout = next(item for item in layouts() if item['id'] == BREACH_TYPE)
    tabs = {tab['name']: tab for tab in layout['detailsV2']['tabs']}
    summary = {item['fieldId'] for section in tabs['Summary']['sections'] for item in section['items']}
    assert {'darktracemodelname', 'darktracescore', 'severity', 'darktracedevicedid', 'sourcehostname',
            'darktracebreachurl', 'darktraceacknowledged'} <= summary
    dynamic = {section['query'] for tab in tabs.values() if tab['name'] != 'Summary'
               for section in tab.get('sections') or [] if section.get('type') == 'dynamic'}
    assert dynamic == {'DarktraceBreachComments', 'DarktraceBreachConnections'}


# --------------------------------------------------------------------------- playbooks

def command_of(task: dict[str, Any]) -> str | None:
    script = task['task'].get('script') or ''
    return script.split('|||', 1)[1] if '|||' in script else None


@pytest.mark.parametrize('name', sorted(playbooks()))
def test_playbook_runs_only_existing_commands_with_existing_arguments(name: str) -> None:
    """
    Given a playbook of the pack
    When its command and sub-playbook tasks are read
    Then each runs a Darktrace.yml command or an XSOAR built-in with arguments it has (all required ones given),
    or a sub-playbook of the pack (or one expected from another part of the pack) with inputs it has.
    """
    commands = command_arguments()
    known_playbooks = {**EXPECTED_PLAYBOOKS,
                       **{item: {i['key'] for i in doc.get('inputs') or []} for item, doc in playbooks().items()}}
    for task_id, task in playbooks()[name]['tasks'].items():
        arguments = set(task.get('scriptarguments') or {})
        command = command_of(task)
        if task['type'] == 'playbook':
            sub_playbook = task['task'].get('playbookName') or task['task'].get('playbookId')
            assert sub_playbook in known_playbooks, f'task {task_id}: unknown playbook {sub_playbook!r}'
            assert arguments <= known_playbooks[sub_playbook], f'task {task_id}: {arguments}'
        elif command in BUILT_IN_COMMANDS:
            assert arguments <= BUILT_IN_COMMANDS[command], f'task {task_id}: {arguments}'
        elif command is not None:
            assert command in commands, f'task {task_id}: {command} is not in Darktrace.yml'
            unknown = arguments - set(commands[command]) - PLATFORM_COMMAND_ARGUMENTS
            assert not unknown, f'task {task_id}: {unknown}'
            required = {arg for arg, is_required in commands[command].items() if is_required}
            assert required <= arguments, f'task {task_id}: missing {required - arguments}'
        else:
            assert not task['task'].get('script'), f'task {task_id} runs a script: {task["task"]["script"]}'


@pytest.mark.parametrize('name', sorted(playbooks()))
def test_playbook_has_no_dangling_task_and_inputs_with_defaults(name: str) -> None:
    """
    Given a playbook of the pack
    When its task graph and inputs are read
    Then every task is reached from the start, every branch leads to an existing task, only end tasks have no next
    task, every automatic condition has a default branch, and every input has a default and exists where used.
    """
    playbook = playbooks()[name]
    tasks = playbook['tasks']
    reached, pending = set(), [playbook['starttaskid']]
    while pending:
        task_id = pending.pop()
        if task_id in reached:
            continue
        reached.add(task_id)
        for targets in (tasks[task_id].get('nexttasks') or {}).values():
            assert set(targets) <= set(tasks), f'task {task_id} leads to a missing task: {targets}'
            pending.extend(targets)
    assert reached == set(tasks), f'unreachable tasks: {set(tasks) - reached}'
    ends = [task_id for task_id, task in tasks.items() if not task.get('nexttasks')]
    assert ends and all(tasks[task_id]['type'] == 'title' for task_id in ends), ends
    for task_id, task in tasks.items():
        if task['type'] == 'condition' and task.get('conditions'):
            labels = {condition['label'] for condition in task['conditions']}
            assert set(task['nexttasks']) == labels | {'#default#'}, f'task {task_id}'
        elif task['type'] == 'condition':  # a manual decision: at least two choices
            assert len(task['nexttasks']) >= 2, f'task {task_id}'
    inputs = {item['key']: item for item in playbook.get('inputs') or []}
    for key, item in inputs.items():
        value = item.get('value') or {}
        assert value.get('simple') or (value.get('complex') or {}).get('root'), f'input {key} has no default'
        complex_value = value.get('complex') or {}
        if complex_value.get('root') == 'incident':
            assert complex_value['accessor'] in pack_fields(), f'input {key}: unknown field {complex_value["accessor"]}'
    used = set(INPUT_REFERENCE.findall(yaml.safe_dump(tasks)))
    assert used <= set(inputs), f'unknown inputs: {used - set(inputs)}'


def test_triage_playbook_does_what_the_triage_needs() -> None:
    """
    Given the Darktrace Model Breach - Triage playbook
    When its commands and decisions are read
    Then it enriches the device, pulls connections, comments on the breach (marked so mirroring never brings the
    comment back), asks the analyst, can call Darktrace - Contain Device, and acknowledges the breach on close.
    """
    playbook = playbooks()['Darktrace Model Breach - Triage']
    commands = {command_of(task) for task in playbook['tasks'].values()}
    assert {'darktrace-get-device', 'darktrace-get-tags-for-device', 'darktrace-get-similar-devices',
            'darktrace-get-model-breach-connections', 'darktrace-post-comment-to-model-breach',
            'darktrace-acknowledge-model-breach', 'closeInvestigation'} <= commands
    comment = next(task for task in playbook['tasks'].values()
                   if command_of(task) == 'darktrace-post-comment-to-model-breach')
    assert Darktrace.is_xsoar_comment(comment['scriptarguments']['message']['simple'])
    assert any(task['type'] == 'condition' and not task.get('conditions') for task in playbook['tasks'].values())
    assert any(task['task'].get('playbookName') == 'Darktrace - Contain Device' for task in playbook['tasks'].values())


CONTAIN_PLAYBOOK = 'Darktrace - Contain Device'


def contain_tasks() -> dict[str, dict[str, Any]]:
    """The command tasks of the Contain Device playbook, by task name."""
    return {task['task']['name']: task for task in playbooks()[CONTAIN_PLAYBOOK]['tasks'].values()
            if task['task'].get('iscommand')}


def test_contain_playbook_runs_the_respond_commands() -> None:
    """
    Given the Darktrace - Contain Device playbook
    When its command tasks are read (their arguments are checked for every playbook above)
    Then it creates, lists and clears RESPOND actions, and nothing else.
    """
    assert {command_of(task) for task in contain_tasks().values()} == {
        'darktrace-create-respond-action', 'darktrace-list-respond-actions', 'darktrace-clear-respond-action'}


def test_contain_playbook_shape() -> None:
    """
    Given the Darktrace - Contain Device playbook
    When its inputs and task graph are read
    Then it has the inputs did and duration (whose default is a valid RESPOND duration), starts at its start task,
    every link leads to a task that exists, the approval comes before the quarantine, and the activity check is a
    condition on the context the list command writes.
    """
    playbook = playbooks()[CONTAIN_PLAYBOOK]
    assert playbook['name'] == playbook['id'] == 'Darktrace - Contain Device'
    inputs = {item['key']: item for item in playbook['inputs']}
    assert set(inputs) == {'did', 'duration'}
    assert Darktrace.parse_duration({'duration': inputs['duration']['value']['simple']}, 'duration') == 3600
    tasks = playbook['tasks']
    assert tasks[playbook['starttaskid']]['type'] == 'start'
    for key, task in tasks.items():
        assert task['id'] == key and task['taskid'] == task['task']['id']
        for targets in (task.get('nexttasks') or {}).values():
            assert all(target in tasks for target in targets)
    approval = tasks[tasks[playbook['starttaskid']]['nexttasks']['#none#'][0]]
    assert approval['type'] == 'condition' and 'conditions' not in approval  # a manual choice
    assert [tasks[t]['task'].get('script') for t in approval['nexttasks']['Quarantine']] == [
        '|||darktrace-create-respond-action']
    check = next(task for task in tasks.values() if task['task']['name'] == 'Is the quarantine active?')
    text = yaml.safe_dump(check['conditions'])
    assert 'Darktrace.RespondAction' in text and 'ContainedCodeID' in text and 'active' in text


def run_step(emu: Emulator, command: str, args: dict[str, str]) -> dict[str, Any]:
    """One playbook step: the command through main() with the emulator's token pair; its one entry."""
    result = xsoar_platform.run_command(command, args, xsoar_platform.instance_params(emu))
    (entry,) = result.entries
    assert entry['Type'] != 4, entry['Contents']
    return entry


def resolved(task: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    """The task's arguments with ${...} references replaced, as the platform would resolve them."""
    return {name: re.sub(r'\$\{([^}]+)\}', lambda m: values[m.group(1)], argument['simple'])
            for name, argument in task['scriptarguments'].items() if name not in PLATFORM_COMMAND_ARGUMENTS}


def test_contain_playbook_command_steps_contain_then_clear_the_device(emu: Emulator) -> None:
    """
    Given a device on the emulated appliance and the playbook's default duration
    When its command tasks run in order with their arguments resolved (quarantine, list, then clear at close)
    Then the quarantine is created and listed as active under the code ID the create task returns, and the clear
    task clears exactly that action, with reasons naming the incident.
    """
    did = str(sorted(emu.dataset.devices)[3])
    values = {'inputs.did': did, 'inputs.duration': '1 hour', 'incident.id': '42'}
    tasks = contain_tasks()
    created = run_step(emu, 'darktrace-create-respond-action', resolved(tasks['Quarantine the device'], values))
    extend_context = tasks['Quarantine the device']['scriptarguments']['extend-context']['simple']
    key, field = extend_context.split('=')
    values[key] = str(created['Contents'][field])  # extend-context reads the raw reply
    listed = run_step(emu, 'darktrace-list-respond-actions',
                      resolved(tasks["Read the device's RESPOND actions"], values))
    (action,) = [a for a in listed['EntryContext'][next(iter(listed['EntryContext']))]
                 if str(a['codeid']) == values['ContainedCodeID']]
    assert action['state'] == 'active' and action['action'] == 'quarantine' and str(action['did']) == did
    assert 'XSOAR incident 42' in action['triggerer']['reason']
    run_step(emu, 'darktrace-clear-respond-action', resolved(tasks['Clear the quarantine'], values))
    stored = emu.dataset.antigena[int(values['ContainedCodeID'])]
    assert stored.cleared and 'XSOAR incident 42 is closing' in stored.history[-1]['reason']


# --------------------------------------------------------------------------- scripts

SCRIPT_COMMANDS = {'DarktraceBreachComments': 'darktrace-get-model-breach-comments',
                   'DarktraceBreachConnections': 'darktrace-get-model-breach-connections'}


def test_every_pack_script_is_known_and_runs_an_existing_command() -> None:
    """
    Given the pack's scripts
    When each is run for a breach incident with a recording stand-in for executeCommand
    Then it runs its Darktrace.yml command with arguments the command has, and declares the command it depends on.
    """
    import importlib.util

    commands = command_arguments()
    scripts = sorted(path for path in (PACK / 'Scripts').iterdir() if path.is_dir())
    assert [path.name for path in scripts] == sorted(SCRIPT_COMMANDS)
    for folder in scripts:
        spec = importlib.util.spec_from_file_location(folder.name, folder / f'{folder.name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        calls: list[tuple[str, dict[str, Any]]] = []
        module.breach_section({'CustomFields': {'darktracepbid': 30960}},
                              lambda command, args: calls.append((command, args)) or [])
        ((command, args),) = calls
        assert command == SCRIPT_COMMANDS[folder.name] and command in commands
        assert set(args) <= set(commands[command]) and args['pbid'] == 30960
        definition = yaml.safe_load((folder / f'{folder.name}.yml').read_text())
        assert definition['dependson']['must'] == [f'|||{command}']
        assert 'dynamic-section' in definition['tags']


# --------------------------------------------------------------------------- versions

def versions_newest_first(versions: list[str]) -> list[str]:
    return sorted(versions, key=lambda version: tuple(map(int, version.split('.'))), reverse=True)


def test_release_notes_agree_with_the_changelog() -> None:
    """
    Given CHANGELOG.md, pack/ReleaseNotes and pack/pack_metadata.json
    When their versions are compared
    Then currentVersion is the newest CHANGELOG version, and the newest release notes are either that version's
    or, while CHANGELOG has entries under [Unreleased], the next version's (the release that will carry them).
    """
    changelog = (REPO_ROOT / 'CHANGELOG.md').read_text(encoding='utf-8')
    newest_changelog = CHANGELOG_VERSION.findall(changelog)[0]
    notes = [path.stem.replace('_', '.') for path in (PACK / 'ReleaseNotes').glob('*.md')]
    newest_notes = versions_newest_first(notes)[0] if notes else None
    unreleased = UNRELEASED.search(changelog)
    has_unreleased = bool(unreleased and re.search(r'^\s*[-*] ', unreleased.group(1), re.MULTILINE))

    assert load_json(PACK / 'pack_metadata.json')['currentVersion'] == newest_changelog
    if has_unreleased:
        assert newest_notes is not None and versions_newest_first([newest_notes, newest_changelog])[0] == newest_notes \
            and newest_notes != newest_changelog, 'CHANGELOG has unreleased entries: write the next release notes'
    else:  # released: the notes of the newest version (none for a first version)
        assert newest_notes == newest_changelog or (newest_notes is None and newest_changelog == '1.0.0')
