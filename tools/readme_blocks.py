"""Read and replace the generated blocks of README.md and the pages in docs/.

A block is the text between two marker lines that GitHub and XSOAR render as nothing:

    <!-- BEGIN GENERATED: name -->
    ...
    <!-- END GENERATED: name -->

Each block has exactly one writer and lives in exactly one page: tools/gen_docs.py writes
`configuration` and `commands` (README.md) and `command-reference` (docs/commands.md); the
benchmark scripts write `fetch-benchmark` (docs/benchmarks.md) and `fault-matrix`
(docs/reliability.md). The hand-written text around the blocks is never touched. From a script:

    from readme_blocks import replace_block, page_with_block
    text = replace_block(text, 'fetch-benchmark', body)

or from the shell, replacing one block with standard input, in whichever page holds it:

    python tools/readme_blocks.py fetch-benchmark < body.md
    python tools/readme_blocks.py fault-matrix --readme path/to/page.md < body.md

The file is rewritten only when its text changes, so running a generator twice changes nothing.
Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BLOCK_NAME = re.compile(r'^[a-z0-9][a-z0-9-]*$')


class BlockError(ValueError):
    """The README does not hold exactly one well-formed block of that name."""


def begin_marker(name: str) -> str:
    return f'<!-- BEGIN GENERATED: {name} -->'


def end_marker(name: str) -> str:
    return f'<!-- END GENERATED: {name} -->'


def _block_span(readme_text: str, name: str) -> tuple[int, int]:
    """Where the body of block `name` starts and ends (just after BEGIN's line, at END's line)."""
    if not BLOCK_NAME.match(name):
        raise BlockError(f'block name {name!r} is not lower-case words joined by hyphens')
    begin = re.compile(rf'^{re.escape(begin_marker(name))}[ \t]*\n', re.MULTILINE)
    end = re.compile(rf'^{re.escape(end_marker(name))}[ \t]*$', re.MULTILINE)
    begins = list(begin.finditer(readme_text))
    ends = list(end.finditer(readme_text))
    # One writer per block relies on there being one block: two copies would silently diverge.
    if len(begins) != 1 or len(ends) != 1:
        raise BlockError(f'README must hold exactly one "{begin_marker(name)}" line and one '
                         f'"{end_marker(name)}" line; found {len(begins)} and {len(ends)}')
    start, stop = begins[0].end(), ends[0].start()
    if stop < start:
        raise BlockError(f'"{end_marker(name)}" comes before "{begin_marker(name)}"')
    return start, stop


def read_block(readme_text: str, name: str) -> str:
    """The body of block `name`, without its marker lines."""
    start, stop = _block_span(readme_text, name)
    return readme_text[start:stop]


def replace_block(readme_text: str, name: str, new_body: str) -> str:
    """`readme_text` with the body of block `name` replaced by `new_body`.

    Leading and trailing blank lines of `new_body` are dropped and it ends with one newline, so
    the same body always gives the same text; an empty body leaves the two markers adjacent.
    """
    start, stop = _block_span(readme_text, name)
    body = new_body.strip('\n')
    if begin_marker(name) in body or end_marker(name) in body:
        raise BlockError(f'the new body of block {name!r} contains its own markers')
    return readme_text[:start] + (f'{body}\n' if body else '') + readme_text[stop:]


def block_names(readme_text: str) -> list[str]:
    """The names of the blocks in the README, in order."""
    return re.findall(r'^<!-- BEGIN GENERATED: ([a-z0-9-]+) -->', readme_text, re.MULTILINE)


def pages(root: Path = REPO_ROOT) -> list[Path]:
    """The pages that may hold generated blocks: README.md and docs/*.md."""
    return [root / 'README.md'] + sorted((root / 'docs').glob('*.md'))


def page_with_block(name: str, root: Path = REPO_ROOT) -> Path:
    """The one page holding block `name`, so a writer need not know where the block was moved."""
    holding = [page for page in pages(root) if begin_marker(name) in page.read_text(encoding='utf-8')]
    if len(holding) != 1:
        where = ', '.join(str(page.relative_to(root)) for page in holding) or 'none of README.md and docs/*.md'
        raise BlockError(f'block {name!r} must be in exactly one page; found in {where}')
    return holding[0]


def write_block(readme: Path, name: str, new_body: str) -> bool:
    """Replace block `name` in the file `readme`; True when the file changed."""
    text = readme.read_text(encoding='utf-8')
    updated = replace_block(text, name, new_body)
    if updated == text:
        return False
    readme.write_text(updated, encoding='utf-8')
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Replace one generated block of a page with standard input.')
    parser.add_argument('name', help='the block name, e.g. fetch-benchmark')
    parser.add_argument('--readme', type=Path, default=None,
                        help='the page to edit (default: the one of README.md and docs/*.md holding the block)')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        args.readme = args.readme or page_with_block(args.name)
        changed = write_block(args.readme, args.name, sys.stdin.read())
    except (BlockError, OSError) as error:
        print(f'readme_blocks: {error}', file=sys.stderr)
        return 1
    print(f'{args.readme}: block {args.name} {"updated" if changed else "unchanged"}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
