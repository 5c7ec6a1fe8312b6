"""Repository-wide pytest setup.

The integration imports ``demistomock`` and ``CommonServerPython`` as top-level modules, the way
XSOAR provides them: the stand-ins in ``xsoar_stubs/``, or the real modules from the folder named
by XSOAR_PLATFORM_DIR (see xsoar_platform.py): ``xsoar_platform.use_platform_modules`` puts that folder first on
``sys.path``. The repository root (for ``Darktrace``, ``emulator``, ``runner``), ``tests/`` (the test helpers: the
fake appliance, the fake DNS, the e2e helpers, the fault catalogue) and ``tools/`` come from pytest.ini's
``pythonpath``. Shared fixtures are in
tests/conftest.py.

No test reads the wall clock: `pinned_clocks` holds the integration's clock (`Darktrace.now_ms`) and the
emulator's host clock (`emulator.clock.host_ms`, which also anchors every dataset created without an anchor) at
one moment for the whole session. That moment is TEST_MOMENT, or the ISO 8601 UTC time in the environment variable
DARKTRACE_TEST_NOW: `make clock-check` runs the end-to-end suite at each hour of a day and across a year end that
way. Tests move the appliance's clock with `Emulator.shift_clock`, never by waiting. (Processes a test starts, such
as `python -m emulator`, keep the real clock on both sides.)
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import settings

import xsoar_platform  # noqa: E402 (pytest.ini's `pythonpath` puts the root, tests/ and tools/ on sys.path)

PLATFORM_DIR = xsoar_platform.use_platform_modules()
import Darktrace  # noqa: E402 (after the platform modules are chosen)
from emulator import clock  # noqa: E402

# Hypothesis: `make test` and CI run the "ci" profile, derandomized (the examples follow from each test's name, the
# same on every run and machine) and without the example database, so a run never fails for a draw no change
# introduced. `make fuzz` runs the "fuzz" profile with a printed --hypothesis-seed, more examples, and the failing
# example's reproduction blob; each example it finds becomes an @example in the test, checked from then on.
settings.register_profile('ci', derandomize=True, database=None, max_examples=30, print_blob=True)
settings.register_profile('fuzz', derandomize=False, database=None,
                          max_examples=int(os.environ.get('FUZZ_EXAMPLES') or 300), print_blob=True)
settings.load_profile('ci')

TEST_NOW_VARIABLE = 'DARKTRACE_TEST_NOW'
# A Tuesday afternoon, away from any month, year or daylight-saving change; make clock-check covers the rest.
TEST_MOMENT = '2026-03-10T14:37:00Z'


def pinned_moment_ms() -> int:
    """The moment every clock stands at in the tests: DARKTRACE_TEST_NOW if set, else TEST_MOMENT."""
    text = os.environ.get(TEST_NOW_VARIABLE, '').strip() or TEST_MOMENT
    try:
        moment = datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise pytest.UsageError(f'{TEST_NOW_VARIABLE}={text!r}: expected an ISO 8601 time such as '
                                '2026-12-31T23:30:00Z') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@pytest.fixture(scope='session', autouse=True)
def pinned_clocks() -> Iterator[int]:
    """The integration's and the emulator's clocks, held at pinned_moment_ms() for the session; yields that moment."""
    moment_ms = pinned_moment_ms()
    with pytest.MonkeyPatch.context() as patches:
        patches.setattr(Darktrace, 'now_ms', lambda: moment_ms)
        patches.setattr(clock, 'host_ms', lambda: moment_ms)
        yield moment_ms


@pytest.fixture(scope='session', autouse=True)
def engine_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The working folder commands run in (xsoar_platform.engine_folder), a temporary one pytest removes, and the
    session's working folder too, so the files fileResult writes never land in the checkout, whether a test runs a
    command through main() or calls its function."""
    folder = xsoar_platform.working_folder = tmp_path_factory.mktemp('engine')
    with pytest.MonkeyPatch.context() as patches:
        patches.chdir(folder)
        yield folder


def pytest_report_header() -> list[str]:
    moment = datetime.fromtimestamp(pinned_moment_ms() / 1000, timezone.utc)
    return [f'XSOAR platform modules: {PLATFORM_DIR}', f'Clocks pinned at {moment.isoformat()}']
