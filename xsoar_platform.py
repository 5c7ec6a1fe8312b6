"""The XSOAR platform modules this repository runs against, and a recorder that plays the platform.

The integration imports `demistomock` and `CommonServerPython` as top-level modules, as XSOAR
provides them. They come from the folder named by the environment variable XSOAR_PLATFORM_DIR when
it is set (a content developer's copy of the real modules, from the public content repository),
otherwise from the stand-ins in `xsoar_stubs/`. Everything that runs the integration here (the
tests through conftest.py, the runner and `make demo`, the benchmarks, the docs generator) calls
`use_platform_modules()` before importing them, so one variable switches them all.

`start_run()` plays the platform around one command: it replaces `demistomock`'s public functions
(only names the real module has) with ones that hand in the command, parameters, arguments,
lastRun and integration context, and record what the integration hands back. It works the same on
the real module and on the stand-in. Standard library only; never imported by the integration.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

PLATFORM_DIR_VARIABLE = 'XSOAR_PLATFORM_DIR'
REPO_ROOT = Path(__file__).resolve().parent
STAND_INS = REPO_ROOT / 'xsoar_stubs'
PLATFORM_MODULES = ('CommonServerPython', 'demistomock')
# The instance name the platform reports when a run does not set one.
DEFAULT_INSTANCE = 'Darktrace_instance_1'


class PlatformDirError(RuntimeError):
    """XSOAR_PLATFORM_DIR names a folder that does not hold the platform modules."""


def platform_dir() -> Path:
    """The folder the platform modules are imported from: XSOAR_PLATFORM_DIR, else the stand-ins."""
    given = os.environ.get(PLATFORM_DIR_VARIABLE, '').strip()
    if not given:
        return STAND_INS
    folder = Path(given).expanduser().resolve()
    missing = [f'{name}.py' for name in PLATFORM_MODULES if not (folder / f'{name}.py').is_file()]
    if missing:
        raise PlatformDirError(
            f'{PLATFORM_DIR_VARIABLE}={given} has no {" or ".join(missing)}: point it at a folder holding '
            'CommonServerPython.py and demistomock.py (for example copies from the content repository), '
            'or unset it to use the stand-ins in xsoar_stubs/.')
    return folder


def using_stand_ins() -> bool:
    return platform_dir() == STAND_INS


def use_platform_modules() -> Path:
    """Put the platform folder, then the repository root, first on sys.path; return the folder.

    Fails when a platform module was already imported from another folder, since the switch would
    then silently not take effect.
    """
    folder = platform_dir()
    for entry in (str(REPO_ROOT), str(folder)):
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    for name in PLATFORM_MODULES:
        loaded = sys.modules.get(name)
        origin = getattr(loaded, '__file__', None)
        if origin and Path(origin).resolve().parent != folder:
            raise PlatformDirError(f'{name} was already imported from {origin}, not from {folder}')
    return folder


def _as_stored(value: Any) -> Any:
    """`value` as the platform gives it back after storing it as JSON (tuples become lists, ...).

    A value that is not JSON-serialisable fails on the platform, so it fails here too.
    """
    return json.loads(json.dumps(value))


@dataclass
class PlatformRun:
    """What the platform hands to one command run, and what that run hands back."""

    command: str = ''
    params: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    last_run: dict[str, Any] | None = None  # None: the instance never stored one
    integration_context: dict[str, Any] = field(default_factory=dict)
    instance: str = DEFAULT_INSTANCE
    results: list[Any] = field(default_factory=list)
    incidents: list[list[dict[str, Any]]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)

    def platform_functions(self) -> dict[str, Any]:
        """Replacements for demistomock's functions, by their real names and signatures."""
        def params() -> dict[str, Any]:
            return _as_stored(self.params)  # a fresh copy each call, as the platform deserialises anew

        def args() -> dict[str, Any]:
            return _as_stored(self.args)

        def command() -> str:
            return self.command

        def getLastRun() -> dict[str, Any]:
            return {} if self.last_run is None else _as_stored(self.last_run)

        def setLastRun(obj: Any) -> None:
            self.last_run = _as_stored(obj)

        def incidents(incidents: Any = None) -> None:
            self.incidents.append(_as_stored(incidents))

        def results(results: Any) -> None:
            # A list is several entries for the platform, so each one is recorded on its own.
            self.results.extend(results if isinstance(results, list) else [results])

        def getIntegrationContext() -> dict[str, Any]:
            return _as_stored(self.integration_context)

        def setIntegrationContext(context: Any) -> None:
            self.integration_context = _as_stored(context)

        def integrationInstance() -> str:
            return self.instance

        def logger(level: str) -> Any:
            def log(msg: Any, *args: Any) -> None:
                self.logs.append((level, ' '.join(str(part) for part in (msg, *args))))
            return log

        return {'params': params, 'args': args, 'command': command, 'getLastRun': getLastRun,
                'setLastRun': setLastRun, 'incidents': incidents, 'results': results,
                'getIntegrationContext': getIntegrationContext, 'setIntegrationContext': setIntegrationContext,
                'integrationInstance': integrationInstance,
                'debug': logger('debug'), 'info': logger('info'), 'error': logger('error')}


# The module's own functions, kept by module so that end_run() can put them back.
_originals: dict[ModuleType, dict[str, Any]] = {}


def start_run(command: str = '', params: dict[str, Any] | None = None, args: dict[str, Any] | None = None,
              last_run: dict[str, Any] | None = None, integration_context: dict[str, Any] | None = None,
              instance: str = DEFAULT_INSTANCE, demisto: ModuleType | None = None) -> PlatformRun:
    """Start one command run on `demisto` (the imported demistomock by default) and return its record.

    The run lasts until the next start_run() or end_run(); whatever the integration hands back meanwhile
    lands in the returned record.
    """
    if demisto is None:
        import demistomock as demisto
    run = PlatformRun(command=command, params=_as_stored(params or {}), args=_as_stored(args or {}),
                      last_run=None if last_run is None else _as_stored(last_run),
                      integration_context=_as_stored(integration_context or {}), instance=instance)
    replacements = run.platform_functions()
    missing = [name for name in replacements if not callable(getattr(demisto, name, None))]
    if missing:
        raise PlatformDirError(f'{demisto.__name__} ({getattr(demisto, "__file__", "?")}) has no '
                               f'{", ".join(missing)}: is it the platform\'s demistomock?')
    originals = _originals.setdefault(demisto, {name: getattr(demisto, name) for name in replacements})
    for name in originals:
        setattr(demisto, name, replacements[name])
    return run


def end_run() -> None:
    """Give every module started on its own functions back."""
    for demisto, originals in _originals.items():
        for name, function in originals.items():
            setattr(demisto, name, function)
    _originals.clear()
