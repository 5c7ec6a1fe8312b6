"""Stand-in for the ``demisto`` object that Cortex XSOAR injects into a running integration.

Never shipped: on the platform the real module takes its place, and the upload tooling strips
``import demistomock as demisto``. The functions keep the real module's names and signatures, with
the values a brand-new instance running no command would see. Like the real module it has nothing
more: whatever runs the integration locally (tests, the runner) plays the platform by replacing
these functions (``xsoar_platform.start_run`` or ``mocker.patch.object``), which works the same when
the real module is used instead (XSOAR_PLATFORM_DIR).
Nothing here writes to stdout: the platform treats stdout as the command's output channel.
"""
from __future__ import annotations

import uuid
from typing import Any

# The real module exposes these as plain attributes; CommonServerPython reads them.
is_debug: bool = False
callingContext: dict[str, Any] = {}
integrationContext: dict[str, Any] = {}


def params() -> dict[str, Any]:
    """The instance configuration."""
    return {}


def args() -> dict[str, Any]:
    """The arguments of the command being run."""
    return {}


def command() -> str:
    """The name of the command being run, e.g. ``test-module`` or ``fetch-incidents``."""
    return ''


def getLastRun() -> dict[str, Any]:
    """The object stored by the previous fetch; ``{}`` on an instance that never fetched."""
    return {}


def setLastRun(obj: Any) -> None:
    """Store the object the next fetch will receive from ``getLastRun``."""
    return None


def incidents(incidents: Any = None) -> None:
    """Hand the incidents created by one fetch to the platform."""
    return None


def results(results: Any) -> None:
    """Write one entry (a dict or a string) or a list of entries to the war room."""
    return None


def debug(msg: Any, *args: Any) -> None:
    """Write ``msg`` to the server log at debug level."""


def info(msg: Any, *args: Any) -> None:
    """Write ``msg`` to the server log at info level."""


def error(msg: Any, *args: Any) -> None:
    """Write ``msg`` to the server log at error level."""


def getIntegrationContext() -> dict[str, Any]:
    """The instance's persistent key-value store."""
    return integrationContext


def setIntegrationContext(context: Any) -> None:
    """Replace the instance's persistent key-value store."""
    global integrationContext
    integrationContext = context


# The platform versions the stored context: each write through setIntegrationContextVersioned names the
# version it read, and a write naming an older one is refused, so two runs cannot undo each other's change.
integrationContextVersion: int = 0


def getIntegrationContextVersioned(refresh: bool = False) -> dict[str, Any]:
    """The instance's persistent key-value store with its version: ``{'context': {...}, 'version': n}``."""
    return {'context': integrationContext, 'version': integrationContextVersion}


def setIntegrationContextVersioned(context: Any, version: int = -1, sync: bool = False) -> None:
    """Replace the store if ``version`` is still its version (-1: whatever it is); else raise ``ValueError``."""
    global integrationContext, integrationContextVersion
    if version != -1 and version != integrationContextVersion:
        raise ValueError(f'integration context version {version} is older than the stored version '
                         f'{integrationContextVersion}')
    integrationContext = context
    integrationContextVersion += 1


def demistoVersion() -> dict[str, str]:
    """The server version the integration runs on."""
    return {'version': '8.6.0', 'buildNumber': '12345'}


def integrationInstance() -> str:
    """The name of the configured instance running the command."""
    return ''


def investigation() -> dict[str, Any]:
    """The investigation (War Room) the command runs in; the real module's answer outside the platform."""
    return {'id': '1'}


def uniqueFile() -> str:
    """A fresh file name, a random UUID as in the real module (fileResult names the War Room's files with it)."""
    return str(uuid.uuid4())
