"""Checks on what `make package` builds for upload to XSOAR.

`demisto-sdk prepare-content` folds Darktrace.py, the image and the detailed description into
one YAML file, `dist/integration-Darktrace.yml`; `demisto-sdk zip-packs` zips the whole pack
(the unified integration, pack/'s items, the scripts unified with their code) into
`dist/DarktraceNDR.zip`. These tests confirm both carry the current sources; they skip when the
files have not been built (run `make package` first).
"""

from __future__ import annotations

import base64
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
UNIFIED_YML = REPO_ROOT / 'dist' / 'integration-Darktrace.yml'
PACK_ZIP = REPO_ROOT / 'dist' / 'DarktraceNDR.zip'
PACK_SOURCE = REPO_ROOT / 'pack'
# pack/ folders whose files the zip carries as they are.
PACK_ITEM_DIRS = ('IncidentTypes', 'IncidentFields', 'Classifiers', 'Layouts', 'Playbooks')
SOURCE_PY = REPO_ROOT / 'Darktrace.py'
SOURCE_YML = REPO_ROOT / 'Darktrace.yml'
IMAGE_PNG = REPO_ROOT / 'Darktrace_image.png'
DESCRIPTION_MD = REPO_ROOT / 'Darktrace_description.md'
DATA_URI_PREFIX = 'data:image/png;base64,'
STALE_HINT = 'dist/ is older than the sources: run `make package` again'

# The two lines XSOAR provides itself; the packager drops them (a trailing comment is allowed).
PLATFORM_IMPORT = re.compile(
    r'^\s*(import demistomock as demisto|from CommonServerPython import \*)\s*(#.*)?$'
)


def non_blank_lines(text: str) -> list[str]:
    """Lines with trailing spaces removed and blank lines dropped: the packager may turn the
    import lines into blank lines or remove them, and either is fine."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def contains_block(haystack: list[str], block: list[str]) -> bool:
    """Whether `block` occurs in `haystack` as consecutive lines."""
    width = len(block)
    return any(haystack[start:start + width] == block for start in range(len(haystack) - width + 1))


@pytest.fixture(scope='module')
def unified() -> dict[str, Any]:
    if not UNIFIED_YML.is_file():
        pytest.skip(f'{UNIFIED_YML.relative_to(REPO_ROOT)} not built; run `make package` to check it')
    return yaml.safe_load(UNIFIED_YML.read_text(encoding='utf-8'))


def test_script_is_the_current_source_without_platform_imports(unified: dict[str, Any]) -> None:
    """
    Given the unified integration built by `make package`
    When its embedded script is compared with Darktrace.py
    Then it holds every line of Darktrace.py except the two platform imports, in order,
    and the platform imports are gone.
    """
    script = unified['script']['script']
    source_lines = SOURCE_PY.read_text(encoding='utf-8').splitlines()
    imports = [line for line in source_lines if PLATFORM_IMPORT.match(line)]
    kept = non_blank_lines('\n'.join(line for line in source_lines if not PLATFORM_IMPORT.match(line)))

    assert len(imports) == 2, 'Darktrace.py should import demistomock and CommonServerPython once each'
    assert contains_block(non_blank_lines(script), kept), STALE_HINT
    assert not any(PLATFORM_IMPORT.match(line) for line in script.splitlines())


def test_embedded_script_compiles(unified: dict[str, Any]) -> None:
    """
    Given the unified integration
    When its embedded script is compiled as XSOAR would run it
    Then it compiles without a syntax error.
    """
    compile(unified['script']['script'], str(UNIFIED_YML), 'exec')


def test_image_is_the_repository_png_as_a_data_uri(unified: dict[str, Any]) -> None:
    """
    Given the unified integration
    When its image field is read
    Then it is a PNG data URI whose bytes are Darktrace_image.png.
    """
    image = unified['image']

    assert image.startswith(DATA_URI_PREFIX)
    assert base64.b64decode(image[len(DATA_URI_PREFIX):]) == IMAGE_PNG.read_bytes(), STALE_HINT


def test_detailed_description_is_included(unified: dict[str, Any]) -> None:
    """
    Given the unified integration
    When its detailed description is read
    Then it contains the text of Darktrace_description.md.
    """
    assert DESCRIPTION_MD.is_file(), 'Darktrace_description.md is missing, so nothing is there to include'
    description = DESCRIPTION_MD.read_text(encoding='utf-8').strip()

    assert description, 'Darktrace_description.md is empty'
    assert description in unified['detaileddescription'], STALE_HINT


def test_commands_match_the_integration_yaml(unified: dict[str, Any]) -> None:
    """
    Given the unified integration and Darktrace.yml
    When their command names are compared
    Then the unified file offers exactly the commands Darktrace.yml defines.
    """
    source = yaml.safe_load(SOURCE_YML.read_text(encoding='utf-8'))

    def command_names(document: dict[str, Any]) -> list[str]:
        return sorted(command['name'] for command in document['script'].get('commands') or [])

    assert command_names(unified) == command_names(source), STALE_HINT


@pytest.fixture(scope='module')
def pack_zip() -> Iterator[zipfile.ZipFile]:
    if not PACK_ZIP.is_file():
        pytest.skip(f'{PACK_ZIP.relative_to(REPO_ROOT)} not built; run `make package` to check it')
    with zipfile.ZipFile(PACK_ZIP) as archive:
        yield archive


def test_pack_zip_holds_every_item_of_the_pack(pack_zip: zipfile.ZipFile) -> None:
    """
    Given the pack zip built by `make package`
    When its entries are compared with pack/ and the integration
    Then it holds the metadata at the current version, the README, every incident type, field, classifier,
    mapper, layout and playbook of pack/ unchanged, and the integration.
    """
    names = set(pack_zip.namelist())
    metadata = json.loads(pack_zip.read('pack_metadata.json'))
    expected = json.loads((PACK_SOURCE / 'pack_metadata.json').read_text(encoding='utf-8'))

    assert metadata['currentVersion'] == expected['currentVersion'], STALE_HINT
    assert 'README.md' in names and 'Integrations/integration-Darktrace.yml' in names
    assert 'Author_image.png' in names
    assert not [name for name in names if name.startswith('TestPlaybooks/')], 'test playbooks are not installed'
    for folder in PACK_ITEM_DIRS:
        for path in sorted((PACK_SOURCE / folder).iterdir()):
            if path.suffix not in ('.json', '.yml'):
                continue
            entry = f'{folder}/{path.name}'
            assert entry in names, f'{entry} missing from the pack zip; {STALE_HINT}'
            load = json.loads if path.suffix == '.json' else yaml.safe_load
            packed, source = load(pack_zip.read(entry)), load(path.read_text(encoding='utf-8'))
            assert {key: packed.get(key) for key in source} == source, f'{entry} differs; {STALE_HINT}'


def test_pack_zip_scripts_and_integration_carry_their_code(pack_zip: zipfile.ZipFile) -> None:
    """
    Given the pack zip
    When its scripts and its integration are read
    Then each script of pack/Scripts is unified with its current code, and the integration with Darktrace.py.
    """
    for folder in sorted(path for path in (PACK_SOURCE / 'Scripts').iterdir() if path.is_dir()):
        script = yaml.safe_load(pack_zip.read(f'Scripts/script-{folder.name}.yml'))
        code = [line for line in (folder / f'{folder.name}.py').read_text(encoding='utf-8').splitlines()
                if not PLATFORM_IMPORT.match(line)]
        assert contains_block(non_blank_lines(script['script']), non_blank_lines('\n'.join(code))), STALE_HINT
    integration = yaml.safe_load(pack_zip.read('Integrations/integration-Darktrace.yml'))
    kept = non_blank_lines('\n'.join(line for line in SOURCE_PY.read_text(encoding='utf-8').splitlines()
                                     if not PLATFORM_IMPORT.match(line)))
    assert contains_block(non_blank_lines(integration['script']['script']), kept), STALE_HINT
    assert integration['defaultclassifier'] == 'Darktrace NDR - Classifier'
