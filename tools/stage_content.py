"""Lay the repository out as a content-repository pack, so demisto-sdk can work on it.

demisto-sdk only runs inside a tree shaped like the official content repository
(`Packs/<pack>/pack_metadata.json`, `Packs/<pack>/Integrations/<name>/...`) that is also a git
repository. Here the integration's files sit at the repository root and the rest of the pack
(metadata, incident types and fields, mappers, layouts, playbooks, scripts, release notes) in
`pack/`, so `make validate` and `make package` build that tree in a throw-away folder:

    python tools/stage_content.py --source . --dest build/content

and print the path of the staged integration YAML (relative to --dest). Standard library only;
git must be on PATH.

The pack's version is `currentVersion` in pack/pack_metadata.json, and it must be the newest
version heading of CHANGELOG.md: staging refuses to run when they differ, so a release bumps both.
Release notes (pack/ReleaseNotes/x_y_z.md) are staged up to that version; notes written ahead for
the next version wait until the version is set.

The staging repository has two commits, the way a contribution to the content repository looks:
`origin/master` before the change and the current branch with the pack (see
commit_staging_tree). `demisto-sdk validate -g` then sees the pack's files as added and runs
every check meant for new content. The `.private-repo-settings` marker tells demisto-sdk this is
not the official content repository, so it does not download the official lists (core packs,
approved categories, ...) from GitHub.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PACK_NAME = 'DarktraceNDR'
INTEGRATION_NAME = 'Darktrace'
PACK_SOURCE = 'pack'
METADATA = 'pack_metadata.json'
FIRST_VERSION = '1.0.0'
# Kept for callers that pass an author; the pack's author lives in pack/pack_metadata.json.
DEFAULT_AUTHOR = 'Darktrace integration contributors'

# Shipped or checked by the content tooling, in the integration folder. The first two are
# mandatory; the rest are copied when present so a partial repository can still be staged.
REQUIRED_FILES: tuple[str, ...] = (f'{INTEGRATION_NAME}.py', f'{INTEGRATION_NAME}.yml')
OPTIONAL_FILES: tuple[str, ...] = (
    f'{INTEGRATION_NAME}_description.md',
    f'{INTEGRATION_NAME}_image.png',
    'README.md',
    f'{INTEGRATION_NAME}_test.py',
    'command_examples',
)
OPTIONAL_DIRS: tuple[str, ...] = ('test_data',)
# The pack's own content folders (pack/<name>/), copied as they are.
CONTENT_DIRS: tuple[str, ...] = ('IncidentTypes', 'IncidentFields', 'Classifiers', 'Layouts', 'Playbooks', 'Scripts',
                                 'TestPlaybooks', 'doc_files')
PACK_FILES: tuple[str, ...] = ('README.md', '.pack-ignore', '.secrets-ignore')
# Copied when present: the author image the Marketplace shows beside the pack (120x50 PNG).
PACK_IMAGES: tuple[str, ...] = ('Author_image.png',)

SEMVER = re.compile(r'^\d+\.\d+\.\d+$')
# "## [1.2.0] - 2025-01-01" or "## 1.2.0" in CHANGELOG.md.
CHANGELOG_HEADING = re.compile(r'^##\s*\[?v?(\d+\.\d+\.\d+)\]?', re.MULTILINE)
RELEASE_NOTES_FILE = re.compile(r'^(\d+)_(\d+)_(\d+)\.md$')
IGNORED = shutil.ignore_patterns('__pycache__', '*.pyc', '.pytest_cache')


class StagingError(Exception):
    """The source tree lacks something the content tooling needs."""


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split('.'))


def pack_version(source: Path) -> str:
    """The newest version heading of CHANGELOG.md (the pack's version), else the first release number."""
    changelog = source / 'CHANGELOG.md'
    if changelog.is_file():
        match = CHANGELOG_HEADING.search(changelog.read_text(encoding='utf-8'))
        if match:
            return match.group(1)
    return FIRST_VERSION


def read_metadata(source: Path) -> dict[str, object]:
    path = source / PACK_SOURCE / METADATA
    try:
        metadata = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as error:
        raise StagingError(f'{path}: cannot read the pack metadata ({error})') from error
    if not isinstance(metadata, dict):
        raise StagingError(f'{path}: expected a JSON object')
    return metadata


def checked_version(source: Path, metadata: dict[str, object]) -> str:
    """currentVersion, once it is x.y.z and the newest CHANGELOG version."""
    version = str(metadata.get('currentVersion', ''))
    if not SEMVER.match(version):
        raise StagingError(f'{PACK_SOURCE}/{METADATA}: currentVersion {version!r} is not x.y.z')
    changelog_version = pack_version(source)
    if version != changelog_version:
        raise StagingError(f'{PACK_SOURCE}/{METADATA} says currentVersion {version} but the newest CHANGELOG.md '
                           f'version is {changelog_version}: set both to the version being released')
    return version


def release_notes_versions(notes_dir: Path) -> dict[str, Path]:
    """pack/ReleaseNotes/x_y_z.md files by version."""
    if not notes_dir.is_dir():
        return {}
    return {'.'.join(match.groups()): path for path in notes_dir.iterdir()
            if (match := RELEASE_NOTES_FILE.match(path.name))}


def copy_integration(source: Path, integration_dir: Path) -> None:
    missing = [name for name in REQUIRED_FILES if not (source / name).is_file()]
    if missing:
        raise StagingError(f'{source}: missing {", ".join(missing)}')
    integration_dir.mkdir(parents=True)
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, integration_dir / name)
    for name in OPTIONAL_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, integration_dir / name, ignore=IGNORED)


def copy_pack_content(source: Path, pack_dir: Path, version: str) -> None:
    """The pack's content folders, README and ignore files, and the release notes up to `version`.

    The content repository wants release notes for every version after the first, and none for a
    pack's first version."""
    pack_source = source / PACK_SOURCE
    if not (pack_source / 'README.md').is_file():
        raise StagingError(f'{pack_source}: missing README.md')
    for name in CONTENT_DIRS:
        if (pack_source / name).is_dir():
            shutil.copytree(pack_source / name, pack_dir / name, ignore=IGNORED)
    for name in PACK_IMAGES:
        if (pack_source / name).is_file():
            shutil.copy2(pack_source / name, pack_dir / name)
    for name in PACK_FILES:
        target = pack_dir / name
        if (pack_source / name).is_file():
            shutil.copy2(pack_source / name, target)
        else:
            target.write_text('', encoding='utf-8')
    notes = {note: path for note, path in release_notes_versions(pack_source / 'ReleaseNotes').items()
             if version_key(FIRST_VERSION) < version_key(note) <= version_key(version)}
    if version != FIRST_VERSION and version not in notes:
        raise StagingError(f'{PACK_SOURCE}/ReleaseNotes/{version.replace(".", "_")}.md is missing: '
                           f'every version after {FIRST_VERSION} needs release notes')
    for path in notes.values():
        (pack_dir / 'ReleaseNotes').mkdir(exist_ok=True)
        shutil.copy2(path, pack_dir / 'ReleaseNotes' / path.name)
        config = path.with_suffix('.json')  # a release's breaking-changes notes, in the content repository's form
        if config.is_file():
            shutil.copy2(config, pack_dir / 'ReleaseNotes' / config.name)


def git(dest: Path, *args: str) -> None:
    # A fixed identity and no user/system config: the commit must work on a bare CI machine
    # and must not pick up signing or hooks from whoever runs it.
    env = {
        **os.environ,
        'GIT_CONFIG_NOSYSTEM': '1',
        'GIT_CONFIG_GLOBAL': os.devnull,
        'GIT_AUTHOR_NAME': 'content staging', 'GIT_AUTHOR_EMAIL': 'staging@localhost',
        'GIT_COMMITTER_NAME': 'content staging', 'GIT_COMMITTER_EMAIL': 'staging@localhost',
    }
    subprocess.run(['git', *args], cwd=dest, env=env, check=True, stdout=subprocess.DEVNULL)


def stage(source: Path, dest: Path, author: str | None = None) -> Path:
    """Build the pack tree under `dest` (replacing it) and commit it; return the YAML path.

    `author`, when given, replaces the author of pack/pack_metadata.json in the staged copy."""
    source = source.resolve()
    metadata = read_metadata(source)
    if author:
        metadata['author'] = author
    version = checked_version(source, metadata)
    if dest.exists():
        shutil.rmtree(dest)
    pack_dir = dest / 'Packs' / PACK_NAME
    integration_dir = pack_dir / 'Integrations' / INTEGRATION_NAME
    copy_integration(source, integration_dir)
    copy_pack_content(source, pack_dir, version)
    commit_staging_tree(dest, pack_dir / METADATA, metadata)
    return integration_dir.relative_to(dest) / f'{INTEGRATION_NAME}.yml'


def write_metadata(path: Path, metadata: dict[str, object]) -> None:
    path.write_text(json.dumps(metadata, indent=4) + '\n', encoding='utf-8')


def commit_staging_tree(dest: Path, metadata_path: Path, metadata: dict[str, object]) -> None:
    """Commit `dest` as a branch on top of `origin/master`, the way a pull request looks.

    For the first version, `origin/master` is an empty content tree and the whole pack is new.
    For a later version, `origin/master` holds the pack's metadata at the previous released version
    (the newest earlier release notes, else the first version) and those earlier release notes, so
    demisto-sdk sees a version bump that must come with one new release note, while every other
    file is still new and gets the full set of checks. The remote is the staging
    repository itself, so nothing ever leaves the machine.
    """
    version = str(metadata['currentVersion'])
    (dest / '.private-repo-settings').write_text('{}\n', encoding='utf-8')
    git(dest, 'init', '--quiet', '--initial-branch=master')
    git(dest, 'add', '.private-repo-settings')
    if version != FIRST_VERSION:
        # The previous release as origin/master has it: its version and the release notes up to it, so the
        # change carries exactly one new release note, this version's.
        notes = release_notes_versions(metadata_path.parent / 'ReleaseNotes')
        earlier = [note for note in notes if version_key(note) < version_key(version)]
        previous = max(earlier, key=version_key, default=FIRST_VERSION)
        write_metadata(metadata_path, {**metadata, 'currentVersion': previous})
        git(dest, 'add', str(metadata_path.relative_to(dest)))
        for note in earlier:
            git(dest, 'add', str(notes[note].relative_to(dest)))
    git(dest, 'commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', 'Content repository before this change')
    git(dest, 'remote', 'add', 'origin', str(dest.resolve()))
    git(dest, 'update-ref', 'refs/remotes/origin/master', 'HEAD')
    git(dest, 'checkout', '--quiet', '-b', f'update-{PACK_NAME.lower()}')
    write_metadata(metadata_path, metadata)
    git(dest, 'add', '--all')
    git(dest, 'commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', f'{PACK_NAME} {version}')


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--source', type=Path, default=Path('.'), help='repository root')
    parser.add_argument('--dest', type=Path, default=Path('build/content'), help='staging folder (replaced)')
    parser.add_argument('--author', default=None, help='replace the pack_metadata author in the staged copy')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        integration_yml = stage(args.source, args.dest, args.author)
        print(f'Staged the pack for demisto-sdk in {args.dest} (integration: {integration_yml})')
    except (StagingError, OSError, subprocess.CalledProcessError) as error:
        print(f'stage_content: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
