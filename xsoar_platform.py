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
the real module and on the stand-in.

The harness everything else uses (tests, the runner, the benchmarks, the docs generator):
`run_command()` and `run_fetch_cycle()` run `Darktrace.main()` once under the platform and return a
`RunResult` (entries, incidents, lastRun, integration context, logs, the error that ended the run);
`instance_params()` builds the instance parameters pointing at an appliance or the emulator. Commands run in
a working folder of their own (`engine_folder()`), as on the engine: the files they return are written there.
Standard library only, no test framework; never imported by the integration.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

PLATFORM_DIR_VARIABLE = 'XSOAR_PLATFORM_DIR'
REPO_ROOT = Path(__file__).resolve().parent
STAND_INS = REPO_ROOT / 'xsoar_stubs'
PLATFORM_MODULES = ('CommonServerPython', 'demistomock')
# The instance name the platform reports when a run does not set one.
DEFAULT_INSTANCE = 'Darktrace_instance_1'
ERROR_ENTRY_TYPE = 4
FILE_ENTRY_TYPE = 3
FETCH_COMMAND = 'fetch-incidents'


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
    """Put the platform folder, the repository root, tests/ and tools/ first on sys.path; return the folder.

    The one place anything here edits sys.path: pytest gets the root, tests/ and tools/ from its `pythonpath`
    setting (pytest.ini) and the platform folder from conftest.py calling this; the runner, the benchmarks and
    the docs generator (run as `python -m runner`, `python -m bench.<name>`, `python -m tools.gen_docs` from the
    root) call it before importing the platform modules, the integration or a test helper (tests/network.py,
    tests/fault_catalogue.py, tools/readme_blocks.py).
    Fails when a platform module was already imported from another folder, since the switch would
    then silently not take effect.
    """
    folder = platform_dir()
    for entry in (str(REPO_ROOT / 'tools'), str(REPO_ROOT / 'tests'), str(REPO_ROOT), str(folder)):
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
    integration_context_version: int = 0  # raised by every write, as the platform's versioned store does
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
            self.integration_context_version += 1

        def getIntegrationContextVersioned(refresh: bool = False) -> dict[str, Any]:
            return {'context': _as_stored(self.integration_context), 'version': self.integration_context_version}

        def setIntegrationContextVersioned(context: Any, version: int = -1, sync: bool = False) -> None:
            # The platform refuses a write naming a version another run has already replaced.
            if version != -1 and version != self.integration_context_version:
                raise ValueError(f'integration context version {version} is older than the stored version '
                                 f'{self.integration_context_version}')
            setIntegrationContext(context)

        def integrationInstance() -> str:
            return self.instance

        def logger(level: str) -> Any:
            def log(msg: Any, *args: Any) -> None:
                self.logs.append((level, ' '.join(str(part) for part in (msg, *args))))
            return log

        return {'params': params, 'args': args, 'command': command, 'getLastRun': getLastRun,
                'setLastRun': setLastRun, 'incidents': incidents, 'results': results,
                'getIntegrationContext': getIntegrationContext, 'setIntegrationContext': setIntegrationContext,
                'getIntegrationContextVersioned': getIntegrationContextVersioned,
                'setIntegrationContextVersioned': setIntegrationContextVersioned,
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


# --------------------------------------------------------------------------- the harness

def instance_params(appliance: Any, public_token: str | None = None, private_token: str | None = None,
                    **overrides: Any) -> dict[str, Any]:
    """Instance parameters pointing at `appliance`: an emulator (its URL and token pair) or a URL.

    With a URL, the token pair is given as `public_token` / `private_token`; `overrides` set or replace any
    other parameter.
    """
    if isinstance(appliance, str):
        url = appliance
    else:
        url = appliance.url
        public_token = appliance.public_token if public_token is None else public_token
        private_token = appliance.private_token if private_token is None else private_token
    return {'url': url, 'public_api_token': public_token, 'private_api_token': private_token, **overrides}


# The folder commands run in, as on the engine: the platform's fileResult writes each War Room file into the working
# folder, so running commands from a checkout must not make the checkout theirs. Made on first use; the tests set it.
working_folder: Path | None = None


def engine_folder() -> Path:
    """The working folder commands run in (a fresh temporary folder unless `working_folder` was set)."""
    global working_folder
    if working_folder is None:
        working_folder = Path(tempfile.mkdtemp(prefix='xsoar-'))
    return working_folder


def file_path(entry: dict[str, Any]) -> Path:
    """Where the file of a War Room file entry was written."""
    import demistomock
    return engine_folder() / f'{demistomock.investigation()["id"]}_{entry["FileID"]}'


def is_error_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get('Type') == ERROR_ENTRY_TYPE


@dataclass
class RunResult:
    """What one run of `main()` produced, as the platform received it."""

    command: str
    entries: list[Any]  # War Room entries, in order
    incidents: list[dict[str, Any]]  # every incident handed over, all batches in order
    last_run: dict[str, Any] | None  # the lastRun to keep: the stored one, the given one if none was stored or failed
    integration_context: dict[str, Any]
    logs: list[tuple[str, str]]
    exception: Exception | None = None  # what escaped main(): return_error raises this way during fetch
    exit_code: Any = None  # SystemExit's code when main() ended that way (return_error in a command: 0)
    record: PlatformRun | None = None

    @property
    def error(self) -> str | None:
        """The text of the exception that ended the run, if one escaped main()."""
        return None if self.exception is None else str(self.exception)

    @property
    def errors(self) -> list[str]:
        """Every error the run reported: error entries' contents, then an escaped exception."""
        texts = [str(entry.get('Contents')) for entry in self.entries if is_error_entry(entry)]
        return texts + ([self.error] if self.error is not None else [])

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def run_command(command: str, args: dict[str, Any] | None = None, params: dict[str, Any] | None = None, *,
                last_run: dict[str, Any] | None = None, integration_context: dict[str, Any] | None = None,
                instance: str = DEFAULT_INSTANCE, main: Callable[[], Any] | None = None) -> RunResult:
    """Run `main()` (Darktrace's by default) once for `command`, as XSOAR runs it; return what it produced.

    An exception escaping main() ends the run like on the platform and is kept in the result, as is the
    code of a SystemExit (return_error ends a failed command this way).
    """
    if main is None:
        import Darktrace
        main = Darktrace.main
    record = start_run(command=command, params=params, args=args, last_run=last_run,
                       integration_context=integration_context, instance=instance)
    exception: Exception | None = None
    exit_code: Any = None
    started_in = os.getcwd()
    os.chdir(engine_folder())
    try:
        main()
    except SystemExit as exited:
        exit_code = exited.code
    except Exception as error:  # noqa: BLE001 (the platform catches everything that escapes)
        exception = error
    finally:
        os.chdir(started_in)
        end_run()
    stored = record.last_run
    kept = last_run if exception is not None or stored is None else stored
    return RunResult(command=command, entries=list(record.results),
                     incidents=[incident for batch in record.incidents for incident in batch or []],
                     last_run=kept, integration_context=record.integration_context, logs=list(record.logs),
                     exception=exception, exit_code=exit_code, record=record)


def run_fetch_cycle(params: dict[str, Any], last_run: dict[str, Any] | None = None, **options: Any) -> RunResult:
    """One fetch-incidents run from `last_run`; on failure the previous lastRun is kept, as the platform does."""
    return run_command(FETCH_COMMAND, params=params, last_run=last_run, **options)
