"""Where commands go: the emulated appliance (default, started in-process) or a real appliance (`--url`).

A real appliance's tokens come only from the environment, never from the command line, so the
private token stays out of shell history and process listings.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import xsoar_platform
from emulator import Emulator
from runner.spec import IntegrationSpec, parse_param_value

PUBLIC_TOKEN_VARIABLE = 'DARKTRACE_PUBLIC_TOKEN'
PRIVATE_TOKEN_VARIABLE = 'DARKTRACE_PRIVATE_TOKEN'
# A modest dataset: it builds in well under a second and still gives fetch several cycles of work.
EMULATOR_DATASET: dict[str, Any] = {
    'breaches': 3000, 'incident_events': 300, 'emails': 200, 'span_days': 30, 'seed': 1}
# Set through --url / --insecure / --proxy or the environment, never through --param.
RESERVED_PARAMS = ('url', 'public_api_token', 'private_api_token', 'insecure', 'proxy')


class TargetError(ValueError):
    """The target cannot be used as asked; the message says what to do."""


@dataclass
class Target:
    """An appliance the runner talks to, and the instance parameters that point at it."""

    url: str
    public_token: str
    private_token: str
    insecure: bool = False
    proxy: bool = False
    description: str = ''
    emulator: Emulator | None = None
    identity: dict[str, Any] = field(default_factory=dict)  # what a fetch state file must match

    def params(self, spec: IntegrationSpec, overrides: dict[str, str], is_fetch: bool) -> dict[str, Any]:
        """The instance configuration XSOAR would hand over: YAML defaults, the target, then `--param`s."""
        params: dict[str, Any] = dict(spec.param_defaults)
        params.update(xsoar_platform.instance_params(self.url, self.public_token, self.private_token,
                                                     insecure=self.insecure, proxy=self.proxy, isFetch=is_fetch))
        for name, text in overrides.items():
            params[name] = parse_param_value(spec, name, text)
        return params

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None


def parse_param_overrides(spec: IntegrationSpec, items: list[str]) -> dict[str, str]:
    """`--param name=value` items, checked against the parameters Darktrace.yml defines."""
    overrides: dict[str, str] = {}
    for item in items:
        name, separator, value = item.partition('=')
        name = name.strip()
        if not separator or not name:
            raise TargetError(f'--param "{item}" is not name=value.')
        if name in RESERVED_PARAMS:
            raise TargetError(f'--param {name} is not accepted: use --url, --insecure and --proxy, and the '
                              f'{PUBLIC_TOKEN_VARIABLE} / {PRIVATE_TOKEN_VARIABLE} environment variables.')
        if name not in spec.param_types:
            known = ', '.join(sorted(set(spec.param_types) - set(RESERVED_PARAMS)))
            raise TargetError(f'--param {name}: Darktrace.yml has no such instance parameter (known: {known}).')
        overrides[name] = value
    return overrides


def emulator_target(anchor_ms: int | None = None) -> Target:
    """Start the emulated appliance on a free port; `anchor_ms` recreates the dataset of an earlier run."""
    emulator = Emulator(anchor_ms=anchor_ms, **EMULATOR_DATASET).start()
    identity = {'target': 'emulator', **EMULATOR_DATASET, 'anchor_ms': emulator.dataset.anchor_ms}
    description = (f'emulated appliance at {emulator.url} ({EMULATOR_DATASET["breaches"]} model breaches and '
                   f'{EMULATOR_DATASET["incident_events"]} AI Analyst incident events over '
                   f'{EMULATOR_DATASET["span_days"]} days, seed {EMULATOR_DATASET["seed"]})')
    return Target(url=emulator.url, public_token=emulator.public_token, private_token=emulator.private_token,
                  description=description, emulator=emulator, identity=identity)


def appliance_target(url: str, insecure: bool, proxy: bool, environ: dict[str, str] | None = None) -> Target:
    """A real appliance; its token pair is read from the environment."""
    environ = dict(os.environ) if environ is None else environ
    public_token = (environ.get(PUBLIC_TOKEN_VARIABLE) or '').strip()
    private_token = (environ.get(PRIVATE_TOKEN_VARIABLE) or '').strip()
    missing = [name for name, value in ((PUBLIC_TOKEN_VARIABLE, public_token),
                                        (PRIVATE_TOKEN_VARIABLE, private_token)) if not value]
    if missing:
        raise TargetError(
            f'--url needs the appliance\'s API token pair in the environment; {" and ".join(missing)} '
            f'{"is" if len(missing) == 1 else "are"} not set. Set them first, e.g. '
            f'read -rs {PRIVATE_TOKEN_VARIABLE} && export {PRIVATE_TOKEN_VARIABLE} (the tokens are never '
            'taken from arguments, which would leave them in shell history).')
    return Target(url=url, public_token=public_token, private_token=private_token, insecure=insecure, proxy=proxy,
                  description=f'appliance at {url}', identity={'target': url})
