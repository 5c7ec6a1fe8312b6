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

import stage_content

REPO_ROOT = Path(__file__).resolve().parents[1]
PACK = REPO_ROOT / 'pack'
TEST_DATA = REPO_ROOT / 'test_data'
BREACH_TYPE = 'Darktrace NDR Model Breach'
AI_TYPE = 'Darktrace NDR AI Analyst Incident'
AI_RECORD_KIND = 'AI Analyst Incident'
EMAIL_TYPE = 'Darktrace NDR Email'

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
# Set only by incoming mirroring, when Darktrace could not be read: a fetched record never carries it.
MIRROR_ONLY = {'Darktrace NDR Incoming Mirror Error'}
MAY_BE_EMPTY = {'Source Hostname', 'Darktrace NDR Device MAC Address', 'Darktrace NDR Device Label',
                'Darktrace NDR Model Tags'} | MIRROR_ONLY
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
    return load_json(PACK / 'Classifiers' / 'classifier-DarktraceNDR.json')


def incoming_mapper() -> dict[str, Any]:
    return load_json(PACK / 'Classifiers' / 'classifier-mapper-incoming-DarktraceNDR.json')


def outgoing_mapper() -> dict[str, Any]:
    return load_json(PACK / 'Classifiers' / 'classifier-mapper-outgoing-DarktraceNDR.json')


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
        assert str(mapped['Darktrace NDR Model Breach ID']) == incident['dbotMirrorId']
        complete += not problems(mapped, MIRROR_ONLY)
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

    assert problems(mapped, MIRROR_ONLY) == []
    assert mapped['Darktrace NDR Score'] == 59 and mapped['Source IP'] == '192.168.16.100'
    assert mapped['Darktrace NDR MITRE Techniques'] == ['T1200']
    assert mapped['Darktrace NDR Triggered Components'] == ['DNS Requests']
    assert mapped['Darktrace NDR Creation Time'] == '2023-01-24T01:04:31Z'
    assert mapped['Darktrace NDR Acknowledged'] is False


def test_breach_fetched_without_acknowledgement_flags_maps_as_unacknowledged() -> None:
    """
    Given a breach fetched with "Include acknowledged model breaches" off, so the record has no acknowledged key
    When the incoming mapper is applied
    Then Darktrace Acknowledged is false rather than unset.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]
    del breach['acknowledged']

    mapped = mapped_fields(breach, BREACH_TYPE)

    assert mapped['Darktrace NDR Acknowledged'] == 'false'
    assert type_problem(fields_by_name()['Darktrace NDR Acknowledged'], mapped['Darktrace NDR Acknowledged']) is None


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

    assert problems(mapped, MIRROR_ONLY) == []
    assert mapped['Darktrace NDR Acknowledged'] is True and mapped['Darktrace NDR Comment Count'] == 2


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

    allowed_empty = MIRROR_ONLY if index == 0 else {name for name, value in mapped.items() if value in (None, '', [])}
    assert problems(mapped, allowed_empty) == []
    assert mapped['Darktrace NDR Incident Event URL'] == f'https://dt.example/#aiaincidentevent/{event["id"]}'
    if index == 0:
        assert mapped['Darktrace NDR Related Model Breaches'] == [30960]
        assert mapped['Darktrace NDR AI Analyst Incident Score'] == '72.5'


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
        allowed_empty = MIRROR_ONLY | (set() if event['relatedBreaches'] else {'Darktrace NDR Related Model Breaches'})
        mapped = mapped_fields(raw, AI_TYPE)
        assert problems(mapped, allowed_empty) == [], event['id']
        assert mapped['Darktrace NDR Incident Event URL'] == f'{url}/#aiaincidentevent/{event["id"]}'


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
    assert set(types) == {BREACH_TYPE, AI_TYPE, EMAIL_TYPE}
    assert classifier()['keyTypeMap'] == {Darktrace.BREACH_RECORD_KIND: BREACH_TYPE, AI_RECORD_KIND: AI_TYPE,
                                          Darktrace.EMAIL_RECORD_KIND: EMAIL_TYPE}
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
    assert {'darktracendrmodelname', 'darktracendrscore', 'severity', 'darktracendrdevicedid', 'sourcehostname',
            'darktracendrbreachurl', 'darktracendracknowledged'} <= summary
    dynamic = {section['query'] for tab in tabs.values() if tab['name'] != 'Summary'
               for section in tab.get('sections') or [] if section.get('type') == 'dynamic'}
    assert dynamic == {'DarktraceNDRBreachComments', 'DarktraceNDRBreachConnections'}


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
        if complex_value.get('root') == 'incident':  # a field, or a column of a grid field (field.column)
            field = complex_value['accessor'].split('.')[0]
            assert field in pack_fields(), f'input {key}: unknown field {field}'
    used = set(INPUT_REFERENCE.findall(yaml.safe_dump(tasks)))
    assert used <= set(inputs), f'unknown inputs: {used - set(inputs)}'


BREACH_TRIAGE = 'Darktrace NDR Model Breach - Triage'
AI_TRIAGE = 'Darktrace NDR AI Analyst Incident - Triage'
CONTAIN_PLAYBOOK = 'Darktrace NDR - Contain Device'


@pytest.mark.parametrize('name, enrichment, comment, acknowledge', [
    (BREACH_TRIAGE, {'darktrace-get-device', 'darktrace-get-tags-for-device', 'darktrace-get-similar-devices',
                     'darktrace-get-model-breach-connections', 'darktrace-get-model-breach-comments'},
     'darktrace-post-comment-to-model-breach', 'darktrace-acknowledge-model-breach'),
    (AI_TRIAGE, {'darktrace-get-ai-analyst-incident-group', 'darktrace-get-ai-analyst-comments',
                 'darktrace-get-device'},
     'darktrace-post-comment-to-ai-analyst-incident-event', 'darktrace-acknowledge-ai-analyst-incident-event'),
])
def test_triage_playbook_does_what_the_triage_needs(name: str, enrichment: set[str], comment: str,
                                                    acknowledge: str) -> None:
    """
    Given a triage playbook (model breach or AI Analyst incident)
    When its commands and decisions are read
    Then it runs its enrichment, can comment (marked so mirroring never brings the comment back, and only when the
    PostTriageComment input, False by default, asks), asks the analyst, can call the Contain Device sub-playbook,
    can acknowledge, and closes the incident.
    """
    playbook = playbooks()[name]
    commands = {command_of(task) for task in playbook['tasks'].values()}
    assert enrichment | {comment, acknowledge, 'closeInvestigation'} <= commands
    comment_task = next(task for task in playbook['tasks'].values() if command_of(task) == comment)
    assert Darktrace.is_xsoar_comment(comment_task['scriptarguments']['message']['simple'])
    inputs = {item['key']: item['value'] for item in playbook['inputs']}
    assert inputs['PostTriageComment'] == {'simple': 'False'}
    assert any(task['type'] == 'condition' and not task.get('conditions') for task in playbook['tasks'].values())
    assert any(task['task'].get('playbookName') == CONTAIN_PLAYBOOK for task in playbook['tasks'].values())


def test_ai_analyst_triage_gets_every_related_breach_through_the_pack_script() -> None:
    """
    Given the AI Analyst triage (darktrace-get-model-breach takes one pbid, an event lists several)
    When its step for the related model breaches is read
    Then it runs the pack's DarktraceNDRRelatedBreaches script, which gets each breach on this integration, only
    when the event lists breaches, and continues on error like the other read-only steps.
    """
    tasks = playbooks()[AI_TRIAGE]['tasks']
    (step,) = [task for task in tasks.values() if task['task'].get('scriptName') == 'DarktraceNDRRelatedBreaches']
    assert step['continueonerror'] is True and step['nexttasks']['#error#']
    (gate,) = [task for task in tasks.values() if step['id'] in (task.get('nexttasks') or {}).get('yes', [])]
    assert 'inputs.pbids' in yaml.safe_dump(gate['conditions'])


def test_incident_types_run_their_triage_playbook() -> None:
    """
    Given the pack's incident types
    When their playbooks are read
    Then a model breach runs the model breach triage and an AI Analyst incident the AI Analyst triage, automatically.
    """
    types = incident_types()
    assert (types[BREACH_TYPE]['playbookId'], types[BREACH_TYPE]['autorun']) == (BREACH_TRIAGE, True)
    assert (types[AI_TYPE]['playbookId'], types[AI_TYPE]['autorun']) == (AI_TRIAGE, True)
    assert (types[EMAIL_TYPE]['playbookId'], types[EMAIL_TYPE]['autorun']) == ('Darktrace NDR Email - Triage', True)


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
    assert playbook['name'] == playbook['id'] == CONTAIN_PLAYBOOK
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
        'Darktrace NDR|||darktrace-create-respond-action']
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
    assert stored.cleared and 'XSOAR incident 42' in stored.history[-1]['reason']


# --------------------------------------------------------------------------- scripts

# Each script: the command it runs, its section function, an incident it shows, and what it asks for.
SCRIPTS = {
    'DarktraceNDRBreachComments': ('darktrace-get-model-breach-comments', 'breach_section',
                                   {'CustomFields': {'darktracendrpbid': 30960}}, {'pbid': 30960}),
    'DarktraceNDRBreachConnections': ('darktrace-get-model-breach-connections', 'breach_section',
                                      {'CustomFields': {'darktracendrpbid': 30960}}, {'pbid': 30960}),
    'DarktraceNDRAIAnalystComments': ('darktrace-get-ai-analyst-comments', 'event_section',
                                      {'CustomFields': {'darktracendraieventid': 'e1'}}, {'event_id': 'e1'}),
    'DarktraceNDRRelatedBreaches': ('darktrace-get-model-breach', 'breaches_section',
                                    {'CustomFields': {'darktracendrrelatedbreaches': [30960]}}, {'pbid': 30960}),
}


def test_every_pack_script_is_known_and_runs_an_existing_command() -> None:
    """
    Given the pack's scripts
    When each is run for an incident it shows, with a recording stand-in for executeCommand
    Then it runs its Darktrace.yml command on this pack's integration only (using-brand) with arguments the command
    has, and declares that command, with the brand, as what it depends on.
    """
    import importlib.util

    commands = command_arguments()
    brand = integration()['commonfields']['id']
    scripts = sorted(path for path in (PACK / 'Scripts').iterdir() if path.is_dir())
    assert [path.name for path in scripts] == sorted(SCRIPTS)
    for folder in scripts:
        command, section, incident, expected = SCRIPTS[folder.name]
        spec = importlib.util.spec_from_file_location(folder.name, folder / f'{folder.name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        calls: list[tuple[str, dict[str, Any]]] = []
        getattr(module, section)(incident, lambda name, args: calls.append((name, args)) or [])
        ((called, args),) = calls
        assert called == command and command in commands
        assert args.pop('using-brand') == brand
        assert set(args) <= set(commands[command]) and expected.items() <= args.items()
        definition = yaml.safe_load((folder / f'{folder.name}.yml').read_text())
        assert definition['dependson']['must'] == [f'{brand}|||{command}']
        assert 'dynamic-section' in definition['tags']


def test_ai_analyst_layout_shows_comments_and_related_breaches() -> None:
    """
    Given the AI Analyst incident layout
    When its dynamic sections are read
    Then it shows the event's comments and its related model breaches through the pack's scripts.
    """
    layout = next(item for item in layouts() if item['id'] == AI_TYPE)
    dynamic = {section.get('query') for section, _ in layout_items(layout) if section.get('type') == 'dynamic'}
    assert {'DarktraceNDRAIAnalystComments', 'DarktraceNDRRelatedBreaches'} <= dynamic


# --------------------------------------------------------------------------- coexistence with the Marketplace pack

def marketplace_ids() -> dict[str, Any]:
    return load_json(TEST_DATA / 'marketplace_darktrace_ids.json')


def pack_item_ids() -> dict[str, set[str]]:
    """Every id (and name, which XSOAR also looks items up by) this pack installs, by kind."""
    metadata = load_json(PACK / 'pack_metadata.json')
    fields = [load_json(path) for path in (PACK / 'IncidentFields').glob('*.json')]
    scripts = [yaml.safe_load(path.read_text(encoding='utf-8')) for path in (PACK / 'Scripts').glob('*/*.yml')]
    return {
        'pack': {stage_content.PACK_NAME, metadata['name']},
        'integrations': {integration()['commonfields']['id'], integration()['name']},
        'incidentTypes': set(incident_types()) | {item['name'] for item in incident_types().values()},
        'incidentFields': {value for field in fields for value in (field['id'], field['cliName'], field['name'])},
        'layouts': {value for layout in layouts() for value in (layout['id'], layout['name'])},
        'classifiersAndMappers': {value for item in map(load_json, (PACK / 'Classifiers').glob('*.json'))
                                  for value in (item['id'], item['name'])},
        'playbooks': {value for item in all_playbooks().values() for value in (item['id'], item['name'])},
        'scripts': {value for item in scripts for value in (item['commonfields']['id'], item['name'])},
    }


def test_no_item_uses_an_id_of_the_marketplace_darktrace_pack() -> None:
    """
    Given the ids of every item of the Marketplace Darktrace pack (test_data, from the content repository)
    When they are compared with every id, cliName and name this pack installs, of any kind and ignoring case
    Then none is shared, so the two packs install side by side and neither overwrites the other.
    """
    theirs = marketplace_ids()
    taken = {str(value).lower() for kind, values in theirs.items() if not kind.startswith('_')
             for value in (values if kind != 'incidentFields' else
                           [item[key] for item in values for key in ('id', 'cliName', 'name')])}
    ours = pack_item_ids()
    clashes = {kind: sorted(value for value in values if value.lower() in taken) for kind, values in ours.items()}
    assert {kind: values for kind, values in clashes.items() if values} == {}


def test_item_ids_follow_the_one_naming_rule() -> None:
    """
    Given every item this pack installs
    When its ids are read
    Then each starts with the pack's prefix (Darktrace NDR, DarktraceNDR, or darktracendr for field cliNames), so a
    Marketplace item named "Darktrace ..." can never take one of them.
    """
    prefixes = ('Darktrace NDR', 'DarktraceNDR', 'incident_darktracendr', 'darktracendr')
    ours = pack_item_ids()
    assert [value for values in ours.values() for value in values if not value.startswith(prefixes)] == []


def test_the_marketplace_id_list_would_catch_the_clashes_of_release_1() -> None:
    """
    Given the ids release 1.x of this pack used (integration Darktrace, type Darktrace Model Breach, field
    darktracemodeltags among them)
    When they are looked up in the Marketplace id list
    Then they are found, so the clash test above fails on such a pack.
    """
    theirs = marketplace_ids()
    cli_names = {item['cliName'] for item in theirs['incidentFields']}
    assert 'Darktrace' in theirs['integrations'] and 'Darktrace' in theirs['pack']
    assert 'Darktrace Model Breach' in theirs['incidentTypes']
    assert {'darktracemodeltags', 'darktraceaianalystscore', 'darktracemodelname', 'darktracecommentcount'} <= cli_names


# --------------------------------------------------------------------------- playbooks that do no harm

BRAND = 'Darktrace NDR'
# Commands that change something in Darktrace; every other darktrace-* command only reads.
WRITE_COMMANDS = frozenset({
    'darktrace-acknowledge-model-breach', 'darktrace-unacknowledge-model-breach',
    'darktrace-post-comment-to-model-breach', 'darktrace-post-tag-to-device', 'darktrace-remove-tag-from-device',
    'darktrace-post-to-watched-list', 'darktrace-remove-from-watched-list',
    'darktrace-acknowledge-ai-analyst-incident-event', 'darktrace-unacknowledge-ai-analyst-incident-event',
    'darktrace-post-comment-to-ai-analyst-incident-event', 'darktrace-activate-respond-action',
    'darktrace-extend-respond-action', 'darktrace-clear-respond-action', 'darktrace-reactivate-respond-action',
    'darktrace-create-respond-action', 'darktrace-email-email-hold', 'darktrace-email-email-release',
    'darktrace-email-email-action'})
# The word an analyst's choice must carry to allow each kind of write.
WRITE_CHOICE_WORDS = {'acknowledge': 'acknowledge', 'comment': 'comment', 'respond': 'quarantine',
                      'clear-respond': 'clear', 'hold': 'hold', 'release': 'release', 'email-action': 'email'}
ENDS_TRIAGE = frozenset({'closeInvestigation', 'darktrace-acknowledge-model-breach',
                         'darktrace-acknowledge-ai-analyst-incident-event'})
DECLINED_CHOICES = frozenset({'Do not quarantine', 'Keep investigating'})
FAILED_KEY = 'DarktraceNDR.EnrichmentFailed'
# Scripts of other packs the playbooks run, with their arguments (Common Scripts, a dependency).
KNOWN_SCRIPTS = {'Set': {'key', 'value', 'append', 'stringify'}, 'DeleteContext': {'all', 'key'},
                 'PrintErrorEntry': {'message'}, 'DarktraceNDRRelatedBreaches': set()}
# Incident fields of the platform the playbooks read.
PLATFORM_INCIDENT_KEYS = frozenset({'id', 'dbotMirrorDirection', 'dbotMirrorId'})
CONTEXT_REFERENCE = re.compile(r'\$\{([^}]+)\}')


def all_playbooks() -> dict[str, dict[str, Any]]:
    """The playbooks and the test playbooks of the pack, by name."""
    test_books = {item['name']: item for item in (yaml.safe_load(path.read_text(encoding='utf-8'))
                                                  for path in sorted((PACK / 'TestPlaybooks').glob('*.yml')))}
    return {**playbooks(), **test_books}


def write_kind(command: str) -> str:
    if command.startswith('darktrace-email-email-'):
        return {'hold': 'hold', 'release': 'release'}.get(command.rsplit('-', 1)[1], 'email-action')
    if 'acknowledge' in command:
        return 'acknowledge'
    if 'comment' in command:
        return 'comment'
    return 'clear-respond' if command == 'darktrace-clear-respond-action' else 'respond'


def context_set_by(task: dict[str, Any]) -> set[str]:
    """Context keys a task sets for the rest of its path: extend-context keys and Set keys."""
    arguments = {name: (value or {}).get('simple') for name, value in (task.get('scriptarguments') or {}).items()}
    keys = {pair.split('=')[0] for pair in (arguments.get('extend-context') or '').split('::') if '=' in pair}
    if task['task'].get('scriptName') == 'Set':
        keys.add(arguments['key'])
    return keys


def feasible_branches(task: dict[str, Any], known: frozenset[str]) -> dict[str, list[str]]:
    """The branches a path can take: a condition testing a key that only a task of this path sets, and none did,
    can only take its default branch (the Contain Device quarantine code after a declined approval)."""
    branches = dict(task.get('nexttasks') or {})
    path_keys = {'ContainedCodeID'}
    tested = {clause['left']['value'].get('simple') for condition in task.get('conditions') or []
              for group in condition['condition'] for clause in group}
    if tested and tested <= path_keys and not tested & known:
        return {'#default#': branches['#default#']}
    return branches


def walk(book_name: str) -> list[list[tuple[str, dict[str, Any], str | None]]]:
    """Every path through a playbook from its start to an end, sub-playbooks of the pack walked inline: a list of
    (playbook name, task, branch taken) steps. A path that comes back to a task it passed fails the test (a loop
    never ends)."""
    books = all_playbooks()
    paths: list[list[tuple[str, dict[str, Any], str | None]]] = []

    def step(name: str, task_id: str, returns: tuple[tuple[str, list[str]], ...],
             path: list[tuple[str, dict[str, Any], str | None]], known: frozenset[str]) -> None:
        task = books[name]['tasks'][task_id]
        assert (name, task_id) not in {(n, t['id']) for n, t, _ in path}, f'{name}: task {task_id} loops'
        known = known | context_set_by(task)
        if task['type'] == 'playbook' and task['task']['playbookName'] in books:
            sub = books[task['task']['playbookName']]
            after = list((task.get('nexttasks') or {}).get('#none#') or [])
            step(sub['name'], sub['starttaskid'], ((name, after),) + returns, path + [(name, task, None)], known)
            return
        branches = feasible_branches(task, known)
        if not branches:
            if returns:
                (parent, after), rest = returns[0], returns[1:]
                for target in after:
                    step(parent, target, rest, path + [(name, task, None)], known)
            else:
                paths.append(path + [(name, task, None)])
            return
        for label, targets in branches.items():
            for target in targets:
                step(name, target, returns, path + [(name, task, label)], known)

    step(book_name, books[book_name]['starttaskid'], (), [], frozenset())
    return paths


@pytest.mark.parametrize('name', sorted(playbooks()))
def test_every_path_of_the_playbook_ends_and_declining_never_closes_or_acknowledges(name: str) -> None:
    """
    Given a playbook of the pack, its sub-playbooks walked inline
    When every path from its start is followed (a declined quarantine leaves the quarantine code unset)
    Then every path ends at an end task without looping, and no path that took a declining choice ("Do not
    quarantine", "Keep investigating") reaches a task that closes the incident or acknowledges in Darktrace.
    """
    paths = walk(name)
    assert paths
    for path in paths:
        assert path[-1][1]['type'] == 'title', path[-1][1]['task']['name']
        declined_at = next((index for index, (_, _, label) in enumerate(path) if label in DECLINED_CHOICES), None)
        if declined_at is None:
            continue
        after = [task['task']['name'] for _, task, _ in path[declined_at + 1:] if command_of(task) in ENDS_TRIAGE]
        assert after == [], f'after "{path[declined_at][2]}": {after}'


@pytest.mark.parametrize('name', sorted(playbooks()))
def test_playbook_writes_to_darktrace_only_when_an_input_or_an_analyst_asks(name: str) -> None:
    """
    Given a playbook of the pack, its sub-playbooks walked inline
    When every path reaches a task that writes to Darktrace (comment, acknowledgement, tag, watched list, RESPOND)
    Then the last decision before it is an analyst's choice that names what is written (acknowledge, quarantine,
    clear), or a condition on a playbook input whose default is False.
    """
    books = all_playbooks()
    for path in walk(name):
        guard: tuple[str, str] | None = None
        for book, task, label in path:
            command = command_of(task)
            if command in WRITE_COMMANDS:
                assert guard is not None, f'{task["task"]["name"]} runs without any decision'
                kind, text = guard
                if kind == 'manual':
                    word = WRITE_CHOICE_WORDS[write_kind(command)]
                    assert word in text.lower() and 'without' not in text.lower(), (task['task']['name'], text)
                else:
                    default = {item['key']: item['value'].get('simple') for item in books[book]['inputs']}[text]
                    assert str(default).lower() == 'false', f'{text} defaults to {default}'
            if task['type'] == 'condition' and label not in (None, '#error#'):
                conditions = task.get('conditions') or []
                if not conditions:
                    guard = ('manual', label)
                elif label != '#default#':
                    tested = {clause['left']['value'].get('simple') for condition in conditions
                              for group in condition['condition'] for clause in group}
                    inputs = [value.split('.', 1)[1] for value in tested if str(value).startswith('inputs.')]
                    guard = ('input', inputs[0]) if len(inputs) == 1 else guard


@pytest.mark.parametrize('name', sorted(all_playbooks()))
def test_every_command_task_names_this_integration(name: str) -> None:
    """
    Given a playbook or test playbook of the pack
    When its command tasks are read
    Then each Darktrace command names this integration's brand, so another integration with the same command
    names never runs in its place, and built-in commands name Builtin.
    """
    brand = integration()['commonfields']['id']
    assert brand == BRAND
    for task in all_playbooks()[name]['tasks'].values():
        if not task['task'].get('iscommand'):
            continue
        command = command_of(task)
        expected = 'Builtin' if command in BUILT_IN_COMMANDS else brand
        assert (task['task']['brand'], task['task']['script']) == (expected, f'{expected}|||{command}'), command


@pytest.mark.parametrize('name', sorted(playbooks()))
def test_every_read_only_step_continues_on_error_and_records_what_failed(name: str) -> None:
    """
    Given a playbook of the pack
    When its Darktrace commands that only read are looked at
    Then each continues on error along an error path that adds the step's name to DarktraceNDR.EnrichmentFailed
    and rejoins where the step would have gone, so a token without a permission never stops the triage.
    """
    tasks = playbooks()[name]['tasks']
    for task in tasks.values():
        command = command_of(task)
        if not command or command in WRITE_COMMANDS or command in BUILT_IN_COMMANDS:
            continue
        assert task.get('continueonerror') is True and task.get('continueonerrortype') == 'errorPath', command
        (record_id,) = task['nexttasks']['#error#']
        record = tasks[record_id]
        arguments = {key: value['simple'] for key, value in record['scriptarguments'].items()}
        assert record['task']['scriptName'] == 'Set' and arguments['key'] == FAILED_KEY, command
        assert arguments['value'] == task['task']['name'] and arguments['append'] == 'true'
        assert record['nexttasks']['#none#'] == task['nexttasks']['#none#']


@pytest.mark.parametrize('name', sorted(all_playbooks()))
def test_every_task_uses_arguments_outputs_and_fields_that_exist(name: str) -> None:
    """
    Given a playbook or test playbook of the pack
    When its tasks' commands, scripts, arguments and ${...} references (arguments, descriptions, conditions) are read
    Then each command exists with its arguments, each script is a known one with its arguments, each context path
    is an output of a Darktrace.yml command or a key a task of the pack sets, each incident.X is a field of the
    pack or of the platform, and each inputs.X an input of the playbook.
    """
    commands = command_arguments()
    outputs = {output['contextPath'] for command in integration()['script']['commands']
               for output in command.get('outputs') or []}
    books = all_playbooks()
    playbook = books[name]
    set_keys = {key for book in books.values() for task in book['tasks'].values() for key in context_set_by(task)}
    set_keys |= {output['contextPath'] for book in books.values() for output in book.get('outputs') or []}
    inputs = {item['key'] for item in playbook.get('inputs') or []}
    fields = set(pack_fields()) | PLATFORM_INCIDENT_KEYS

    def check_path(path: str, where: str) -> None:
        root, _, rest = path.partition('.')
        if root == 'incident':
            assert rest.split('.')[0] in fields, f'{where}: unknown field {rest}'
        elif root == 'inputs':
            assert rest in inputs, f'{where}: unknown input {rest}'
        else:
            assert any(path == known or path.startswith(known + '.') or known.startswith(path + '.')
                       for known in outputs | set_keys), f'{where}: nothing sets {path}'

    for task in playbook['tasks'].values():
        where = f'{name}: {task["task"]["name"]}'
        command, script = command_of(task), task['task'].get('scriptName')
        arguments = set(task.get('scriptarguments') or {})
        if script:
            assert script in KNOWN_SCRIPTS and arguments <= KNOWN_SCRIPTS[script], where
        elif command and command not in BUILT_IN_COMMANDS:
            assert command in commands and not arguments - set(commands[command]) - PLATFORM_COMMAND_ARGUMENTS, where
        text = yaml.safe_dump([task.get('scriptarguments'), task['task'].get('description')])
        for reference in CONTEXT_REFERENCE.findall(text):
            check_path(reference, where)
        for argument in (task.get('scriptarguments') or {}).values():  # a context path with transformers
            complex_value = (argument or {}).get('complex') or {}
            if complex_value.get('root'):
                check_path('.'.join(filter(None, (complex_value['root'], complex_value.get('accessor')))), where)
        for condition in task.get('conditions') or []:
            for group in condition['condition']:
                for clause in group:
                    for side in ('left', 'right'):
                        value = (clause.get(side) or {})
                        if value.get('iscontext') and value['value'].get('simple'):
                            check_path(value['value']['simple'], where)


def test_test_playbooks_cover_both_triages_and_the_containment() -> None:
    """
    Given the pack's test playbooks
    When they are matched with the playbooks
    Then each playbook of the pack names its test playbook, which exists and runs that playbook's Darktrace steps.
    """
    books = all_playbooks()
    for name, playbook in playbooks().items():
        (test_name,) = playbook['tests']
        assert test_name in books and test_name not in playbooks(), name
        own = {command_of(task) for task in playbook['tasks'].values()} - set(BUILT_IN_COMMANDS) - WRITE_COMMANDS
        tested = {command_of(task) for task in books[test_name]['tasks'].values()}
        assert (own - {None}) <= tested, (name, own - tested)


# --------------------------------------------------------------------------- mapper: record shapes

def breach_variant(**changes: Any) -> dict[str, Any]:
    """The recorded breach with keys replaced (None removes one), then as the fetch turns it into a record."""
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]
    for key, value in changes.items():
        if value is None:
            breach.pop(key, None)
        else:
            breach[key] = value
    return json.loads(Darktrace.breach_to_incident(breach, None, 'https://dt.example')['rawJSON'])


@pytest.mark.parametrize('shape', ['then', 'now', 'flat'])
def test_breach_model_fields_map_from_every_model_shape(shape: str) -> None:
    """
    Given the recorded breach with its model as {then, now}, as {now} only, or flat
    When the incoming mapper is applied
    Then the model's name, UUID, priority and category are mapped every time, the category lower-cased.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]
    model = Darktrace._breach_model(breach)
    shaped = {'then': breach['model'], 'now': {'now': model}, 'flat': model}[shape]

    mapped = mapped_fields(breach_variant(model=shaped), BREACH_TYPE)

    assert mapped['Darktrace NDR Model Name'] == model['name'] and mapped['Darktrace NDR Model UUID'] == model['uuid']
    assert mapped['Darktrace NDR Model Priority'] == model['priority']
    assert mapped['Darktrace NDR Category'] == str(model['category']).lower()


def test_breach_without_percentscore_or_link_still_maps_score_and_link() -> None:
    """
    Given a breach without percentscore and without breachUrl (an appliance without its FQDN configured)
    When it is fetched and the incoming mapper is applied
    Then the score is its 0-1 score as 0-100 and the link is built from the server URL and the pbid.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]

    mapped = mapped_fields(breach_variant(percentscore=None, breachUrl=None), BREACH_TYPE)

    assert mapped['Darktrace NDR Score'] == round(breach['score'] * 100)
    assert mapped['Darktrace NDR Breach URL'] == f'https://dt.example/#modelbreach/{breach["pbid"]}'


def test_breach_link_and_score_of_the_appliance_are_kept() -> None:
    """
    Given a breach that carries its own breachUrl and percentscore
    When it is fetched and mapped
    Then the appliance's link and score are the ones mapped, and the fetched record keeps the rest unchanged.
    """
    breach = json.loads((TEST_DATA / 'model_breaches.json').read_text())[0]
    breach['breachUrl'] = 'https://fqdn.example/#modelbreach/30960'

    raw = json.loads(Darktrace.breach_to_incident(breach, None, 'https://dt.example')['rawJSON'])

    assert raw == {**breach, 'darktraceRecordKind': 'Model Breach'}
    mapped = mapped_fields(raw, BREACH_TYPE)
    assert mapped['Darktrace NDR Breach URL'] == 'https://fqdn.example/#modelbreach/30960'
    assert mapped['Darktrace NDR Score'] == breach['percentscore']


def test_ai_analyst_event_maps_a_structured_summary_as_text_and_its_first_device_as_source() -> None:
    """
    Given an AI Analyst event whose summary is an object and whose category is "Critical", with two devices
    When it is fetched and the incoming mapper is applied
    Then the summary field holds readable text (no braces), the category is lower-cased like a breach's, and
    Source IP and Source Hostname are the first device's.
    """
    event = json.loads((TEST_DATA / 'ai_analyst_events.json').read_text())[0]
    event = {**event, 'summary': {'overview': 'Beaconing to a rare host', 'steps': ['DNS', 'TLS']},
             'category': 'Critical',
             'breachDevices': [{'did': 1, 'ip': '10.0.0.1', 'hostname': 'ws1'}, {'did': 2, 'ip': '10.0.0.2'}]}

    raw = json.loads(Darktrace.ai_event_to_incident(event, 'https://dt.example')['rawJSON'])
    mapped = mapped_fields(raw, AI_TYPE)

    summary = mapped['Darktrace NDR AI Analyst Summary']
    assert isinstance(summary, str) and 'Beaconing to a rare host' in summary and '{' not in summary
    assert mapped['Darktrace NDR Category'] == 'critical'
    assert (mapped['Source IP'], mapped['Source Hostname']) == ('10.0.0.1', 'ws1')
    assert problems(mapped, MIRROR_ONLY) == []


def test_ai_analyst_event_with_a_text_summary_keeps_its_record_unchanged() -> None:
    """
    Given an AI Analyst event whose summary is text
    When it is fetched and mapped
    Then the record carries no extra summary key and the summary field is the text.
    """
    event = json.loads((TEST_DATA / 'ai_analyst_events.json').read_text())[0]
    event = {**event, 'summary': 'Beaconing to a rare host'}

    raw = json.loads(Darktrace.ai_event_to_incident(event, 'https://dt.example')['rawJSON'])

    assert 'summaryText' not in raw
    assert mapped_fields(raw, AI_TYPE)['Darktrace NDR AI Analyst Summary'] == 'Beaconing to a rare host'


def test_incoming_mirror_error_is_mapped_for_both_types() -> None:
    """
    Given what incoming mirroring returns when Darktrace could not be read (an IncomingMirrorError key)
    When the incoming mapper is applied for either incident type
    Then the error lands in the Darktrace NDR Incoming Mirror Error field, which both layouts show.
    """
    for incident_type in (BREACH_TYPE, AI_TYPE, EMAIL_TYPE):
        mapped = mapped_fields({'IncomingMirrorError': 'Darktrace answered 403'}, incident_type)
        assert mapped['Darktrace NDR Incoming Mirror Error'] == 'Darktrace answered 403'
    for layout in layouts():
        assert 'darktracendrincomingmirrorerror' in {item.get('fieldId') for _, item in layout_items(layout)}


# --------------------------------------------------------------------------- metadata, images

def test_dependencies_name_the_packs_the_items_come_from() -> None:
    """
    Given the transformers the mapper uses and the scripts the playbooks run
    When the pack's dependencies are read
    Then SetIfEmpty and TimeStampToDate come with Filters And Transformers, Set with Common Scripts, and Source IP
    and Source Hostname with Common Types, each mandatory.
    """
    dependencies = load_json(PACK / 'pack_metadata.json')['dependencies']
    assert {'FiltersAndTransformers', 'CommonScripts', 'CommonTypes'} <= set(dependencies)
    assert all(item['mandatory'] for item in dependencies.values())
    text = json.dumps(incoming_mapper())
    assert 'SetIfEmpty' in text and 'TimeStampToDate' in text
    used_scripts = {task['task'].get('scriptName') for book in playbooks().values() for task in book['tasks'].values()}
    assert 'Set' in used_scripts


def test_author_image_follows_the_sdk_rules() -> None:
    """
    Given pack/Author_image.png
    When its header is read
    Then it is a PNG of 120x50 pixels under 10 kB, the size demisto-sdk accepts.
    """
    data = (PACK / 'Author_image.png').read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) < 10 * 1024
    width, height = int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
    assert (width, height) == (120, 50)


def test_every_playbook_has_its_picture() -> None:
    """
    Given the pack's playbooks
    When pack/doc_files is read
    Then each playbook has its PNG there, named after its file without the playbook- prefix (demisto-sdk RM116;
    tools/draw_playbooks.py draws them).
    """
    for path in (PACK / 'Playbooks').glob('playbook-*.yml'):
        image = PACK / 'doc_files' / f'{path.stem.removeprefix("playbook-")}.png'
        assert image.is_file() and image.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', image.name


def test_pack_readme_lists_every_item_and_has_no_broken_link() -> None:
    """
    Given pack/README.md
    When its links and item names are read
    Then every relative link points at a file the pack (or the repository) has, and every playbook, script,
    incident type, layout, classifier, mapper and the integration are named.
    """
    text = (PACK / 'README.md').read_text(encoding='utf-8')
    for target in re.findall(r'\]\((?!https?://|#)([^)]+)\)', text):
        assert (PACK / target.split('#')[0]).exists(), target
    ours = pack_item_ids()
    names = [integration()['name'], *playbooks(), *(item['name'] for item in incident_types().values()),
             *(item['name'] for item in map(load_json, (PACK / 'Classifiers').glob('*.json'))),
             *(path.name for path in (PACK / 'Scripts').iterdir())]
    assert [name for name in names if name not in text] == [], ours['pack']


# --------------------------------------------------------------------------- docs/migration.md

def migration_rows() -> dict[str, list[str]]:
    """docs/migration.md's table rows by their first cell's command: the cells, backticks kept."""
    rows = {}
    for line in (REPO_ROOT / 'docs' / 'migration.md').read_text(encoding='utf-8').splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if line.startswith('| `darktrace-') and len(cells) == 5:
            rows[cells[0].strip('`')] = cells
    return rows


def test_migration_page_maps_every_marketplace_command_and_argument() -> None:
    """
    Given the commands and arguments of the Marketplace MBs, AIA and Admin integrations (test_data)
    When docs/migration.md's tables are read
    Then every one of their commands has a row naming all its arguments, and the row's command here exists in
    Darktrace.yml ("same" meaning the same name) with every argument the row names for it.
    """
    commands = command_arguments()
    rows = migration_rows()
    for integration_id, theirs in marketplace_ids()['commands'].items():
        for command, arguments in theirs.items():
            assert command in rows, f'{integration_id} {command} is not mapped'
            _, their_cell, ours_cell, our_arguments_cell, _ = rows[command]
            assert set(re.findall(r'`([^`]+)`', their_cell)) == set(arguments), command
            ours = command if ours_cell == 'same' else ours_cell.strip('`')
            assert ours in commands, f'{command} -> {ours}'
            named_here = {name for name in re.findall(r'`([^`]+)`', our_arguments_cell)}
            if our_arguments_cell == 'same names':
                named_here = set(arguments)
            mapped_from_theirs = {name for name in named_here if name in arguments}
            assert mapped_from_theirs | {name for name in named_here if name in commands[ours]} == named_here, command
            for argument in arguments:  # each of theirs is named: kept, renamed or said to be gone
                assert argument in named_here or f'no `{argument}`' in rows[command][4].lower() or \
                    argument in rows[command][4], (command, argument)
            assert {name for name in named_here if name not in arguments} <= set(commands[ours]), command


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


# --------------------------------------------------------------------------- Darktrace/Email

def test_fetched_emails_are_classified_and_fill_the_email_fields(
        emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given Darktrace/Email emails fetched through main() from the emulator
    When the classifier and the incoming mapper are applied to each
    Then each becomes a Darktrace NDR Email incident whose fields get values of their types (tags of a severity the
         email lacks, and held recipients of an email held for none, may stay empty), every recipient in the grid.
    """
    monkeypatch.setattr(Darktrace, 'now_ms', emu.now_ms)
    emu.add_emails([{'dtime_ms': emu.now_ms() - 3_600_000 - index * 60_000} for index in range(8)])
    params = xsoar_platform.instance_params(emu, max_alerts='50', first_fetch='1 day',
                                            fetch_sources='Darktrace/Email')
    last_run: dict[str, Any] = {}
    incidents: list[dict[str, Any]] = []
    for _ in range(20):
        result = xsoar_platform.run_fetch_cycle(params, last_run)
        assert result.exception is None
        last_run, incidents = result.last_run or {}, incidents + result.incidents
    assert len(incidents) >= 8
    may_be_empty = {f'Darktrace NDR Email {name} Tags' for name in ('Critical', 'Warning', 'Informational')} | {
        'Darktrace NDR Email Held Recipients'} | MIRROR_ONLY
    for incident in incidents:
        record = json.loads(incident['rawJSON'])
        assert classify(classifier(), record) == EMAIL_TYPE
        mapped = mapped_fields(record, EMAIL_TYPE)
        assert problems(mapped, may_be_empty) == []
        assert len(mapped['Darktrace NDR Email Recipients']) == len(record['rcpts'])
