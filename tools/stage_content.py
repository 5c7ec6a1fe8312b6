"""Lay the integration out as a content-repository pack, so demisto-sdk can work on it.

demisto-sdk only runs inside a tree shaped like the official content repository
(`Packs/<pack>/pack_metadata.json`, `Packs/<pack>/Integrations/<name>/...`) that is also a git
repository. This repository is flat, so `make validate` and `make package` build that tree in a
throw-away folder:

    python tools/stage_content.py --source . --dest build/content

and print the path of the staged integration YAML (relative to --dest). Standard library only;
git must be on PATH.

The staging repository has two commits, the way a contribution to the content repository looks:
`origin/master` before the change and the current branch with the pack (see
commit_staging_tree). `demisto-sdk validate -g` then sees the integration's files as added and
runs every check meant for new content. The `.private-repo-settings` marker tells demisto-sdk
this is not the official content repository, so it does not download the official lists (core
packs, approved categories, ...) from GitHub.
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

PACK_NAME = 'Darktrace'
INTEGRATION_NAME = 'Darktrace'
DEFAULT_VERSION = '1.0.0'
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

SEMVER = re.compile(r'^\d+\.\d+\.\d+$')
# A top-level `version:` key (column 0). `commonfields.version` is indented and is always -1,
# so it never matches.
YML_TOP_LEVEL_VERSION = re.compile(r'''^version:\s*['"]?(\d+\.\d+\.\d+)['"]?\s*$''', re.MULTILINE)
# "## [1.2.0] - 2025-01-01" or "## 1.2.0" in CHANGELOG.md.
CHANGELOG_HEADING = re.compile(r'^##\s*\[?v?(\d+\.\d+\.\d+)\]?', re.MULTILINE)


class StagingError(Exception):
    """The source tree lacks something the content tooling needs."""


def pack_version(source: Path) -> str:
    """The pack's currentVersion: the integration's own version if it states one, else the
    newest CHANGELOG entry, else the first release number."""
    yml = source / f'{INTEGRATION_NAME}.yml'
    if yml.is_file():
        match = YML_TOP_LEVEL_VERSION.search(yml.read_text(encoding='utf-8'))
        if match:
            return match.group(1)
    changelog = source / 'CHANGELOG.md'
    if changelog.is_file():
        match = CHANGELOG_HEADING.search(changelog.read_text(encoding='utf-8'))
        if match:
            return match.group(1)
    return DEFAULT_VERSION


def changelog_section(source: Path, version: str) -> str:
    """The CHANGELOG.md text under the heading of `version`, or '' when there is none."""
    changelog = source / 'CHANGELOG.md'
    if not changelog.is_file():
        return ''
    text = changelog.read_text(encoding='utf-8')
    headings = list(CHANGELOG_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if heading.group(1) == version:
            end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
            return text[heading.end():end].split('\n', 1)[-1].strip()
    return ''


def pack_metadata(version: str, author: str) -> dict[str, object]:
    return {
        'name': PACK_NAME,
        'description': (
            'Fetch Darktrace model breaches as XSOAR incidents and investigate them: '
            'devices, connections, external endpoints, tags, watched lists and advanced search.'
        ),
        'support': 'community',
        'currentVersion': version,
        'author': author,
        'url': '',
        'email': '',
        'categories': ['Network Security'],
        'tags': [],
        'useCases': ['Incident Response'],
        'keywords': ['Darktrace', 'model breach', 'network detection', 'NDR', 'AI'],
        'marketplaces': ['xsoar'],
        'githubUser': [],
    }


def release_notes(source: Path, version: str) -> str:
    """Release notes in the content repository's format, from the CHANGELOG entry."""
    section = changelog_section(source, version)
    bullets = [line.strip() for line in section.splitlines() if line.strip().startswith(('-', '*'))]
    body = '\n'.join(f'- {line.lstrip("-* ").strip()}' for line in bullets) or f'- Release {version}.'
    return f'\n#### Integrations\n\n##### {INTEGRATION_NAME}\n\n{body}\n'


def pack_readme() -> str:
    return (
        '## Darktrace\n\n'
        'Darktrace detects threats across the network with self-learning AI. This pack fetches '
        'Darktrace model breaches as incidents and adds commands to investigate the devices, '
        'connections and endpoints involved.\n'
    )


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
            shutil.copytree(source / name, integration_dir / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


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


def stage(source: Path, dest: Path, author: str) -> Path:
    """Build the pack tree under `dest` (replacing it) and commit it; return the YAML path."""
    source = source.resolve()
    if dest.exists():
        shutil.rmtree(dest)
    pack_dir = dest / 'Packs' / PACK_NAME
    integration_dir = pack_dir / 'Integrations' / INTEGRATION_NAME
    copy_integration(source, integration_dir)

    version = pack_version(source)
    if not SEMVER.match(version):
        raise StagingError(f'pack version {version!r} is not x.y.z')
    (pack_dir / 'README.md').write_text(pack_readme(), encoding='utf-8')
    # The content repository wants release notes for every version after the first, and none
    # for a pack's first version.
    if version != DEFAULT_VERSION:
        notes_dir = pack_dir / 'ReleaseNotes'
        notes_dir.mkdir()
        (notes_dir / f'{version.replace(".", "_")}.md').write_text(
            release_notes(source, version), encoding='utf-8')

    # A repository-level .pack-ignore (the content repository's per-file ignore list) is
    # carried into the pack; demisto-sdk honours only codes its config marks ignorable.
    pack_ignore = source / '.pack-ignore'
    (pack_dir / '.pack-ignore').write_text(
        pack_ignore.read_text(encoding='utf-8') if pack_ignore.is_file() else '', encoding='utf-8')
    (pack_dir / '.secrets-ignore').write_text('', encoding='utf-8')
    commit_staging_tree(dest, pack_dir / 'pack_metadata.json', version, author)
    return integration_dir.relative_to(dest) / f'{INTEGRATION_NAME}.yml'


def write_metadata(path: Path, version: str, author: str) -> None:
    path.write_text(json.dumps(pack_metadata(version, author), indent=4) + '\n', encoding='utf-8')


def commit_staging_tree(dest: Path, metadata_path: Path, version: str, author: str) -> None:
    """Commit `dest` as a branch on top of `origin/master`, the way a pull request looks.

    For the first version, `origin/master` is an empty content tree and the whole pack is new.
    For a later version, `origin/master` holds the pack's metadata at the first version, so
    demisto-sdk sees a version bump that must come with release notes, while every
    integration file is still new and gets the full set of checks. The remote is the staging
    repository itself, so nothing ever leaves the machine.
    """
    (dest / '.private-repo-settings').write_text('{}\n', encoding='utf-8')
    git(dest, 'init', '--quiet', '--initial-branch=master')
    git(dest, 'add', '.private-repo-settings')
    if version != DEFAULT_VERSION:
        write_metadata(metadata_path, DEFAULT_VERSION, author)
        git(dest, 'add', str(metadata_path.relative_to(dest)))
    git(dest, 'commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', 'Content repository before this change')
    git(dest, 'remote', 'add', 'origin', str(dest.resolve()))
    git(dest, 'update-ref', 'refs/remotes/origin/master', 'HEAD')
    git(dest, 'checkout', '--quiet', '-b', f'update-{PACK_NAME.lower()}')
    write_metadata(metadata_path, version, author)
    git(dest, 'add', '--all')
    git(dest, 'commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', f'{PACK_NAME} {version}')


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--source', type=Path, default=Path('.'), help='repository root')
    parser.add_argument('--dest', type=Path, default=Path('build/content'), help='staging folder (replaced)')
    parser.add_argument('--author', default=DEFAULT_AUTHOR, help='pack_metadata author')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        print(stage(args.source, args.dest, args.author))
    except (StagingError, OSError, subprocess.CalledProcessError) as error:
        print(f'stage_content: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
