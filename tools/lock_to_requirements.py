"""Print a hash-pinned requirements file from Pipfile.lock.

`pip install --require-hashes -r <output>` then installs exactly what the lock records, on a
machine that has pip but not pipenv. Usage:

    python tools/lock_to_requirements.py --categories default develop > requirements.txt
    python tools/lock_to_requirements.py --lock locks/sdk/Pipfile.lock --categories default

Categories are the lock's section names (`default`, `develop`, or a custom one); the Pipfile's
names `packages` and `dev-packages` are accepted too. Standard library only, because this runs
before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

# The Pipfile names two sections differently from the lock; everything else keeps its name.
PIPFILE_TO_LOCK_SECTION: dict[str, str] = {'packages': 'default', 'dev-packages': 'develop'}

# Keys that mean "not a pinned release from an index"; pip cannot hash-check those.
UNPINNABLE_KEYS: tuple[str, ...] = ('git', 'hg', 'svn', 'bzr', 'path', 'file', 'editable')


class LockError(Exception):
    """The lock cannot be turned into a requirements file that installs exactly it."""


def canonical_name(name: str) -> str:
    """Normalise a distribution name the way pip compares them (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def lock_section(category: str) -> str:
    return PIPFILE_TO_LOCK_SECTION.get(category, category)


def requirement_line(name: str, entry: dict[str, Any]) -> str:
    """One requirement with its hashes, continued over lines so diffs stay readable."""
    unpinnable = [key for key in UNPINNABLE_KEYS if key in entry]
    if unpinnable:
        raise LockError(f'{name}: locked from {unpinnable[0]!r}, which --require-hashes cannot install')
    version = entry.get('version', '')
    if not version.startswith('=='):
        raise LockError(f'{name}: version {version!r} is not an exact pin')
    hashes = entry.get('hashes') or []
    if not hashes:
        raise LockError(f'{name}: the lock records no hashes')

    extras = entry.get('extras') or []
    spec = f"{name}[{','.join(sorted(extras))}]{version}" if extras else f'{name}{version}'
    markers = entry.get('markers')
    if markers:
        spec = f'{spec} ; {markers}'
    hash_lines = [f'    --hash={digest}' for digest in sorted(hashes)]
    return ' \\\n'.join([spec, *hash_lines])


def merge_categories(lock: dict[str, Any], categories: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Combine sections into one set, keyed by canonical name.

    A package that two chosen categories share must carry the same pin in both; otherwise pip
    would be asked for two versions at once and the lock is what needs fixing (pipenv resolves
    `develop` under the `default` pins, so those two agree; custom categories may not).
    """
    merged: dict[str, tuple[str, dict[str, Any]]] = {}
    origin: dict[str, str] = {}
    for category in categories:
        section_name = lock_section(category)
        if section_name == '_meta' or section_name not in lock:
            available = ', '.join(key for key in lock if key != '_meta')
            raise LockError(f'no category {category!r} in the lock (it has: {available})')
        for name, entry in lock[section_name].items():
            key = canonical_name(name)
            if key not in merged:
                merged[key] = (name, dict(entry))
                origin[key] = section_name
                continue
            _, kept = merged[key]
            if kept.get('version') != entry.get('version'):
                raise LockError(
                    f'{name}: {origin[key]} pins {kept.get("version")} but {section_name} pins '
                    f'{entry.get("version")}; re-lock so the categories agree'
                )
            kept['hashes'] = sorted(set(kept.get('hashes') or []) | set(entry.get('hashes') or []))
            # A marker that holds in only one category would drop the package where the other needs it.
            if kept.get('markers') != entry.get('markers'):
                kept.pop('markers', None)
            kept_extras = set(kept.get('extras') or []) | set(entry.get('extras') or [])
            if kept_extras:
                kept['extras'] = sorted(kept_extras)
    return merged


def render(lock: dict[str, Any], categories: list[str], lock_path: Path) -> str:
    merged = merge_categories(lock, categories)
    lock_hash = lock.get('_meta', {}).get('hash', {}).get('sha256', 'unknown')
    header = [
        f'# Generated from {lock_path.name} (sha256 {lock_hash}) by tools/lock_to_requirements.py',
        f'# categories: {" ".join(categories)}',
        '# Install with: pip install --require-hashes -r <this file>',
    ]
    body = [requirement_line(name, entry) for _, (name, entry) in sorted(merged.items())]
    return '\n'.join(header + body) + '\n'


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--lock', type=Path, default=Path('Pipfile.lock'), help='path of Pipfile.lock')
    parser.add_argument(
        '--categories', nargs='+', default=['default'],
        help='lock sections to include, e.g. default develop',
    )
    parser.add_argument('-o', '--output', type=Path, help='write here instead of standard output')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        lock = json.loads(args.lock.read_text(encoding='utf-8'))
        text = render(lock, args.categories, args.lock)
    except (OSError, json.JSONDecodeError, LockError) as error:
        print(f'lock_to_requirements: {error}', file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(text, encoding='utf-8')
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
