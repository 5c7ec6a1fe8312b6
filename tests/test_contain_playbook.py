"""The "Darktrace - Contain Device" playbook against Darktrace.yml, and its command steps against the emulator."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

import Darktrace
import xsoar_platform
from emulator import Emulator

REPO_ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = yaml.safe_load((REPO_ROOT / 'pack' / 'Playbooks' / 'playbook-Darktrace_-_Contain_Device.yml')
                          .read_text(encoding='utf-8'))
INTEGRATION = yaml.safe_load((REPO_ROOT / 'Darktrace.yml').read_text(encoding='utf-8'))
YAML_COMMANDS = {command['name']: command for command in INTEGRATION['script']['commands']}
# Arguments the platform itself takes on any command task.
PLATFORM_ARGUMENTS = {'extend-context', 'ignore-outputs', 'using', 'execution-timeout', 'retry-count',
                      'retry-interval'}


def command_tasks() -> list[tuple[str, dict[str, Any]]]:
    tasks = []
    for task in PLAYBOOK['tasks'].values():
        script = task['task'].get('script', '')
        if task['task'].get('iscommand'):
            tasks.append((script.split('|||')[-1], task))
    return tasks


def test_playbook_commands_and_arguments_exist_in_the_integration() -> None:
    """
    Given the playbook and Darktrace.yml
    When each command task is read
    Then its command is one the integration defines, every argument it passes is one the command declares, and
    every required argument of the command is given.
    """
    tasks = command_tasks()
    assert {name for name, _ in tasks} == {'darktrace-create-respond-action', 'darktrace-list-respond-actions',
                                           'darktrace-clear-respond-action'}
    for name, task in tasks:
        assert name in YAML_COMMANDS, f'{name} is not in Darktrace.yml'
        declared = {argument['name'] for argument in YAML_COMMANDS[name].get('arguments') or []}
        given = set(task.get('scriptarguments') or {})
        assert given - PLATFORM_ARGUMENTS <= declared, f'{name}: unknown arguments {given - declared}'
        required = {argument['name'] for argument in YAML_COMMANDS[name]['arguments'] if argument.get('required')}
        assert required <= given, f'{name}: missing required arguments {required - given}'


def test_playbook_shape() -> None:
    """
    Given the playbook
    When its inputs and task graph are read
    Then it has the inputs did and duration (whose default is a valid RESPOND duration), starts at its start task,
    every link leads to a task that exists, the approval comes before the quarantine, and the activity check is a
    condition on the context the list command writes.
    """
    assert PLAYBOOK['name'] == PLAYBOOK['id'] == 'Darktrace - Contain Device'
    inputs = {item['key']: item for item in PLAYBOOK['inputs']}
    assert set(inputs) == {'did', 'duration'}
    assert Darktrace.parse_duration({'duration': inputs['duration']['value']['simple']}, 'duration') == 3600
    tasks = PLAYBOOK['tasks']
    assert tasks[PLAYBOOK['starttaskid']]['type'] == 'start'
    for key, task in tasks.items():
        assert task['id'] == key and task['taskid'] == task['task']['id']
        for targets in (task.get('nexttasks') or {}).values():
            assert all(target in tasks for target in targets)
    approval = tasks[tasks[PLAYBOOK['starttaskid']]['nexttasks']['#none#'][0]]
    assert approval['type'] == 'condition' and 'conditions' not in approval  # a manual choice
    assert [tasks[t]['task'].get('script') for t in approval['nexttasks']['Quarantine']] == [
        '|||darktrace-create-respond-action']
    check = next(task for task in tasks.values() if task['task']['name'] == 'Is the quarantine active?')
    text = yaml.safe_dump(check['conditions'])
    assert 'Darktrace.RespondAction' in text and 'ContainedCodeID' in text and 'active' in text


@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(breaches=100, span_days=2, seed=5) as emulator:
        yield emulator


def run(emu: Emulator, command: str, args: dict[str, str]) -> dict[str, Any]:
    platform_run = xsoar_platform.start_run(command=command, params={
        'url': emu.url, 'public_api_token': emu.public_token, 'private_api_token': emu.private_token}, args=args)
    try:
        Darktrace.main()
    except SystemExit:
        pass
    (entry,) = platform_run.results
    assert entry['Type'] != 4, entry['Contents']
    return entry


def resolved(task: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    """The task's arguments with ${...} references replaced, as the platform would resolve them."""
    return {name: re.sub(r'\$\{([^}]+)\}', lambda m: values[m.group(1)], argument['simple'])
            for name, argument in task['scriptarguments'].items() if name not in PLATFORM_ARGUMENTS}


def test_playbook_command_steps_contain_then_clear_the_device(emu: Emulator) -> None:
    """
    Given a device on the emulated appliance and the playbook's default duration
    When its command tasks run in order with their arguments resolved (quarantine, list, then clear at close)
    Then the quarantine is created and listed as active under the code ID the create task returns, and the clear
    task clears exactly that action, with reasons naming the incident.
    """
    did = str(sorted(emu.dataset.devices)[3])
    values = {'inputs.did': did, 'inputs.duration': '1 hour', 'incident.id': '42'}
    tasks = dict((task['task']['name'], task) for _, task in command_tasks())
    created = run(emu, 'darktrace-create-respond-action', resolved(tasks['Quarantine the device'], values))
    extend_context = tasks['Quarantine the device']['scriptarguments']['extend-context']['simple']
    key, field = extend_context.split('=')
    values[key] = str(created['Contents'][field])  # extend-context reads the raw reply
    listed = run(emu, 'darktrace-list-respond-actions', resolved(tasks["Read the device's RESPOND actions"], values))
    (action,) = [a for a in listed['EntryContext'][next(iter(listed['EntryContext']))]
                 if str(a['codeid']) == values['ContainedCodeID']]
    assert action['state'] == 'active' and action['action'] == 'quarantine' and str(action['did']) == did
    assert 'XSOAR incident 42' in action['triggerer']['reason']
    run(emu, 'darktrace-clear-respond-action', resolved(tasks['Clear the quarantine'], values))
    stored = emu.dataset.antigena[int(values['ContainedCodeID'])]
    assert stored.cleared and 'XSOAR incident 42 is closing' in stored.history[-1]['reason']
