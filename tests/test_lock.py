"""The locks say what the tests run on: the image Darktrace.yml names and the newest one, with the same test tools."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, which pytest brings there
    tomllib = pytest.importorskip('tomli', reason='reading the Pipfiles needs tomllib (Python 3.11+) or tomli')

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGE_LOCK = REPO_ROOT / 'Pipfile'
NEWEST_LOCK = REPO_ROOT / 'locks' / 'newest' / 'Pipfile'
SDK_LOCK = REPO_ROOT / 'locks' / 'sdk' / 'Pipfile'
# What the integration and the platform modules import at run time: pinned in both runtime sets.
RUNTIME_PACKAGES = {'requests', 'urllib3', 'dateparser', 'python-dateutil', 'pytz', 'tzlocal', 'regex', 'certifi',
                    'idna', 'charset-normalizer', 'pysocks'}


def pipfile(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding='utf-8'))


def lock_of(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name('Pipfile.lock').read_text(encoding='utf-8'))


def test_pipfile_names_the_image_the_integration_declares() -> None:
    """
    Given Darktrace.yml's docker image and the Pipfile's header
    When they are compared
    Then the Pipfile's runtime pins say they are that image's, so a change of image shows up here
    """
    image = re.search(r'^\s*dockerimage:\s*(\S+)', (REPO_ROOT / 'Darktrace.yml').read_text(), re.M).group(1)
    header = IMAGE_LOCK.read_text().split('[[source]]')[0]
    assert f'docker image Darktrace.yml names: {image}' in header


@pytest.mark.parametrize('path', [IMAGE_LOCK, NEWEST_LOCK], ids=['image', 'newest'])
def test_runtime_set_is_pinned_exactly_and_locked_as_pinned(path: Path) -> None:
    """
    Given a runtime Pipfile and its lock
    When the runtime packages are read from both
    Then each is pinned to one exact version, for Python 3.12, and the lock holds that version in both the
         runtime and the test categories (the test tools never bring another)
    """
    pins = pipfile(path)['packages']
    lock = lock_of(path)
    assert set(pins) == RUNTIME_PACKAGES
    assert all(re.fullmatch(r'==[\w.]+', version) for version in pins.values()), pins
    assert pipfile(path)['requires'] == {'python_version': '3.12'} == lock['_meta']['requires']
    for section in ('default', 'develop'):
        locked = {name: lock[section][name]['version'] for name in RUNTIME_PACKAGES if name in lock[section]}
        assert locked == {name: pins[name] for name in locked}, section
    assert set(lock['default']) >= RUNTIME_PACKAGES


def test_both_runtime_sets_use_the_same_test_tools() -> None:
    """
    Given the pinned image's Pipfile and the newest image's
    When their test tools are compared
    Then they are the same, at the same versions, so the two runs differ only in the runtime set
    """
    assert pipfile(IMAGE_LOCK)['dev-packages'] == pipfile(NEWEST_LOCK)['dev-packages']
    image_tools, newest_tools = lock_of(IMAGE_LOCK)['develop'], lock_of(NEWEST_LOCK)['develop']
    tools = set(image_tools) - RUNTIME_PACKAGES
    assert {name: image_tools[name]['version'] for name in tools} == \
        {name: newest_tools.get(name, {}).get('version') for name in tools}


def test_demisto_sdk_is_locked_apart() -> None:
    """
    Given the sdk Pipfile and its lock
    When they are read
    Then demisto-sdk is pinned and locked at that version, outside the runtime Pipfiles
    """
    pin = pipfile(SDK_LOCK)['packages']['demisto-sdk']
    assert lock_of(SDK_LOCK)['default']['demisto-sdk']['version'] == pin
    assert all('demisto-sdk' not in lock_of(path).get(section, {})
               for path in (IMAGE_LOCK, NEWEST_LOCK) for section in ('default', 'develop'))
