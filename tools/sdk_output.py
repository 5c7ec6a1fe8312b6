"""Run a demisto-sdk command and print only what matters from its output.

    python tools/sdk_output.py --name "demisto-sdk validate" -- COMMAND [ARGS...]

What `make validate` wraps around each sdk command. The command's output (standard output and
error, in order) is captured, then:
- on success (exit status 0): the colour tags the sdk writes when colours are off (`<cyan>`,
  `</red>`, ...) and terminal escape sequences are removed, the lines known to be noise for a
  local run are dropped (the branch banner, the file list, the summary that says "The following
  errors were thrown" with no error after it, the force-merge notes, the notice that the docker
  image list cannot be read offline, pylint's score), and what is left (a warning, a finding) is
  printed, followed by one line: `<name>: passed`;
- on failure: the whole output is printed, only with its colour tags removed, then the command
  that was run and `<name>: failed (exit N)`.
With --quiet (`make package`: prepare-content and zip-packs list every file they write, by absolute
path) a success prints only the summary line. The exit status is the command's. Standard library only, so the Makefile can call it with the
system Python before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence

COLOURS = ('black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white', 'bold', 'dim', 'italic',
           'underline', 'normal', 'reset')
COLOUR_TAG = re.compile(r'</?(?:(?:light|bright)[-_])?(?:%s)(?:[-_]ex)?>' % '|'.join(COLOURS), re.IGNORECASE)
ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
# Lines that say nothing on a successful local run (a staged pack in a throwaway git tree, offline).
NOISE = [re.compile(pattern) for pattern in (
    r'^=+ Running on branch .* =+$',
    r'^Running against origin/',
    r'^Running on (committed|staged|all)',
    r'^Starting validate items\.$',
    r'^All validations passed\.$',  # the summary line says so
    r'^Validate summary$',
    r'^The following errors were thrown as a part of this pr: *\.?$',
    r'^If the AG100 validation .* cannot be force-merged\.$',
    r'^#+$',
    r'^Please note that the PR can be force merged from the validation perspective\.$',
    r'^Could not read docker_images_metadata\.json from demisto/dockerfiles-info repository, error: *$',
    r'^-+$',
    r'^Your code has been rated at ',
    # The staged pack is a local git repository without a remote, so the sdk cannot name it.
    r"^Could not get repository properties: .*using provided configs, or default\.$",
    r'^Could not find the repository name on github - defaulting to demisto/content$',
    r'^If you are using a private gitlab repo, configure one of the following environment variables: ',
)]
# "######## - Added committed:" and the like: the line after it lists the files.
FILE_LIST_HEADING = re.compile(r'^#+ - .*:$')


def strip_colours(text: str) -> str:
    return ANSI_ESCAPE.sub('', COLOUR_TAG.sub('', text))


def what_matters(output: str) -> list[str]:
    """The lines of a successful run's output that are not known noise, with blank runs collapsed."""
    kept: list[str] = []
    skip_next = False
    for line in strip_colours(output).splitlines():
        text = line.strip()
        if skip_next:
            skip_next = False
            continue
        if FILE_LIST_HEADING.match(text):
            skip_next = True
            continue
        if any(pattern.match(text) for pattern in NOISE):
            continue
        if not text and (not kept or not kept[-1].strip()):
            continue
        kept.append(line.rstrip())
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def report(name: str, command: Sequence[str], returncode: int, output: str, quiet: bool = False) -> str:
    """What to print for a finished command; with `quiet`, a success is only its summary line."""
    if returncode == 0:
        return '\n'.join(([] if quiet else what_matters(output)) + [f'{name}: passed'])
    full = strip_colours(output).rstrip('\n')
    return '\n'.join(([full] if full else []) + [f'command: {shlex.join(command)}',
                                                   f'{name}: failed (exit {returncode})'])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--name', required=True, help='what to call the command in the summary line')
    parser.add_argument('--quiet', action='store_true',
                        help='on success print only the summary line (for commands that list every file they write)')
    parser.add_argument('command', nargs=argparse.REMAINDER, help='the command to run, after --')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('give the command to run after --')
    try:
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors='replace', check=False)
    except OSError as error:
        print(f'{args.name}: could not start {command[0]}: {error}', file=sys.stderr)
        return 127
    print(report(args.name, command, completed.returncode, completed.stdout, args.quiet),
          file=sys.stdout if completed.returncode == 0 else sys.stderr)
    return completed.returncode


if __name__ == '__main__':
    sys.exit(main())
