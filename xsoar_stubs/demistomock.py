"""Stand-in for the ``demisto`` object that Cortex XSOAR injects into a running integration.

Never shipped: on the platform the real module takes its place, and the upload tooling strips
``import demistomock as demisto``. The public functions keep the platform's names, signatures and
defaults so that the integration and its unit tests behave the same here and there.

Beyond the platform surface there is a small *harness* (``harness`` and ``harness_reset``) that the
local runner and the emulator-driven tests use to feed a command in and read what it produced.
The integration and its own unit tests never touch it, because the real module has no such thing.
Nothing here writes to stdout: the platform treats stdout as the command's output channel.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

# The real module exposes these two as plain attributes; CommonServerPython reads them.
is_debug: bool = False
callingContext: dict[str, Any] = {}


@dataclass
class Harness:
    """What the platform would hand to one command run, and what that run handed back."""

    command: str = ''
    params: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    results: list[Any] = field(default_factory=list)
    incidents: list[list[dict[str, Any]]] = field(default_factory=list)
    last_run: dict[str, Any] | None = None
    integration_context: dict[str, Any] = field(default_factory=dict)
    logs: list[tuple[str, str]] = field(default_factory=list)


harness = Harness()


def _as_stored(value: Any) -> Any:
    """Return ``value`` as the platform would give it back after storing it.

    The platform keeps lastRun, the integration context and incidents as JSON, so a value that is
    not JSON-serialisable fails there; round-tripping here makes such a bug fail locally too, and
    gives back the same shapes (tuples become lists, non-string keys become strings).
    """
    return json.loads(json.dumps(value))


def harness_reset(command: str = '', params: dict[str, Any] | None = None,
                  args: dict[str, Any] | None = None, last_run: dict[str, Any] | None = None,
                  integration_context: dict[str, Any] | None = None) -> None:
    """Start a fresh command run: set its inputs and clear everything it produced before.

    The same ``harness`` object is kept (only its fields change) because callers hold a reference
    to ``demistomock.harness``.
    """
    harness.command = command
    harness.params = copy.deepcopy(params) if params is not None else {}
    harness.args = copy.deepcopy(args) if args is not None else {}
    harness.results = []
    harness.incidents = []
    harness.last_run = _as_stored(last_run) if last_run is not None else None
    harness.integration_context = (_as_stored(integration_context)
                                   if integration_context is not None else {})
    harness.logs = []


def params() -> dict[str, Any]:
    """The instance configuration; a fresh copy each call, as the platform deserialises it anew."""
    return copy.deepcopy(harness.params)


def args() -> dict[str, Any]:
    """The arguments of the command being run; a fresh copy each call."""
    return copy.deepcopy(harness.args)


def command() -> str:
    """The name of the command being run, e.g. ``test-module`` or ``fetch-incidents``."""
    return harness.command


def getLastRun() -> dict[str, Any]:
    """The object stored by the previous fetch; ``{}`` on an instance that never fetched."""
    if harness.last_run is None:
        return {}
    return copy.deepcopy(harness.last_run)


def setLastRun(obj: dict[str, Any]) -> None:
    """Store the object the next fetch will receive from ``getLastRun``."""
    harness.last_run = _as_stored(obj)


def incidents(incidents: list[dict[str, Any]]) -> None:
    """Hand the incidents created by one fetch to the platform."""
    harness.incidents.append(_as_stored(incidents))


def results(results: Any) -> None:
    """Write one entry (a dict or a string) or a list of entries to the war room."""
    # A list is several entries for the platform, so each one is recorded on its own.
    if isinstance(results, list):
        harness.results.extend(results)
    else:
        harness.results.append(results)


def _log(level: str, msg: Any, *args: Any) -> None:
    text = str(msg)
    if args:
        text = ' '.join([text] + [str(extra) for extra in args])
    harness.logs.append((level, text))


def debug(msg: Any, *args: Any) -> None:
    """Write ``msg`` to the server log at debug level."""
    _log('debug', msg, *args)


def info(msg: Any, *args: Any) -> None:
    """Write ``msg`` to the server log at info level."""
    _log('info', msg, *args)


def error(msg: Any, *args: Any) -> None:
    """Write ``msg`` to the server log at error level."""
    _log('error', msg, *args)


def getIntegrationContext() -> dict[str, Any]:
    """The instance's persistent key-value store; a fresh copy each call."""
    return copy.deepcopy(harness.integration_context)


def setIntegrationContext(context: dict[str, Any]) -> None:
    """Replace the instance's persistent key-value store."""
    harness.integration_context = _as_stored(context)


def demistoVersion() -> dict[str, str]:
    """The server version the integration runs on."""
    return {'version': '8.6.0', 'buildNumber': '12345'}


def integrationInstance() -> str:
    """The name of the configured instance running the command."""
    return 'Darktrace_instance_1'
