"""Fixtures shared by the test suites: the emulated appliance and its token pairs.

`emu` is the appliance most end-to-end tests run against: 300 model breaches over seven days (seed 3),
holding the e2e token pairs besides its own. One appliance serves a whole test module (tests there
change state, each on its own objects); before each test its request log is cleared and after it every
realism switch is put back. A module needing another appliance overrides `emu_server`, keeping those rules.
After every test, demistomock has its own functions back.

Every clock stands still at one moment for the whole session (`pinned_clocks`, in the repository's conftest.py).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

import xsoar_platform
from e2e_support import LIMITED_PRIVATE_TOKEN, LIMITED_PUBLIC_TOKEN, PRIVATE_TOKEN, PUBLIC_TOKEN
from emulator import Emulator


def with_e2e_tokens(emulator: Emulator) -> Emulator:
    emulator.add_token_pair(PUBLIC_TOKEN, PRIVATE_TOKEN)
    emulator.add_token_pair(LIMITED_PUBLIC_TOKEN, LIMITED_PRIVATE_TOKEN, {'tags'})
    return emulator


@pytest.fixture(scope='module')
def emu_server() -> Iterator[Emulator]:
    with Emulator(breaches=300, span_days=7, seed=3) as emulator:
        yield with_e2e_tokens(emulator)


@pytest.fixture
def emu(emu_server: Emulator) -> Iterator[Emulator]:
    """The module's appliance, with an empty request log and its switches put back after the test."""
    switches = emu_server.settings
    emu_server.clear_log()
    yield emu_server
    emu_server.set_settings(**switches)


@pytest.fixture(scope='module')
def tls_emu() -> Iterator[Emulator]:
    """A small appliance serving HTTPS with a self-signed certificate."""
    with Emulator(breaches=20, span_days=1, seed=3, tls=True) as emulator:
        yield with_e2e_tokens(emulator)


@pytest.fixture(autouse=True)
def platform_run_ends() -> Iterator[None]:
    """A test that played the platform (xsoar_platform.start_run) gives demistomock its functions back."""
    yield
    xsoar_platform.end_run()
