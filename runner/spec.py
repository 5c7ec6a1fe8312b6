"""What the runner takes from Darktrace.yml, as XSOAR does: the commands, their argument defaults,
and the instance parameters with their defaults and types."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner import REPO_ROOT

INTEGRATION_YML = REPO_ROOT / 'Darktrace.yml'
BOOLEAN_PARAM_TYPE = 8
# Commands the platform itself runs; they are not listed under script.commands.
PLATFORM_COMMANDS = ('test-module', 'fetch-incidents')


@dataclass(frozen=True)
class CommandSpec:
    name: str
    arguments: tuple[str, ...]
    defaults: dict[str, str]
    required: tuple[str, ...]


@dataclass(frozen=True)
class IntegrationSpec:
    commands: dict[str, CommandSpec]
    param_types: dict[str, int]
    param_defaults: dict[str, Any]

    def command(self, name: str) -> CommandSpec | None:
        return self.commands.get(name)


def _param_value(value: Any, param_type: int) -> Any:
    """A parameter value as the platform hands it over: booleans for checkboxes, text otherwise."""
    if param_type == BOOLEAN_PARAM_TYPE:
        return value if isinstance(value, bool) else str(value).strip().lower() == 'true'
    return value if isinstance(value, str) else str(value)


def load_spec(path: Path = INTEGRATION_YML) -> IntegrationSpec:
    with open(path, encoding='utf-8') as handle:
        document = yaml.safe_load(handle)
    commands = {}
    for command in document.get('script', {}).get('commands') or []:
        arguments = command.get('arguments') or []
        commands[command['name']] = CommandSpec(
            name=command['name'],
            arguments=tuple(argument['name'] for argument in arguments),
            defaults={argument['name']: str(argument['defaultValue']) for argument in arguments
                      if argument.get('defaultValue') not in (None, '')},
            required=tuple(argument['name'] for argument in arguments if argument.get('required')))
    param_types = {param['name']: int(param.get('type', 0)) for param in document.get('configuration') or []}
    param_defaults = {param['name']: _param_value(param['defaultvalue'], int(param.get('type', 0)))
                      for param in document.get('configuration') or []
                      if param.get('defaultvalue') not in (None, '')}
    return IntegrationSpec(commands=commands, param_types=param_types, param_defaults=param_defaults)


def parse_param_value(spec: IntegrationSpec, name: str, text: str) -> Any:
    return _param_value(text, spec.param_types.get(name, 0))
