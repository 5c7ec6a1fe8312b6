"""The developer tools: `make help`, and tools/sdk_output.py around demisto-sdk in `make validate`."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS = REPO_ROOT / 'tools'
import sdk_output  # noqa: E402

# What demisto-sdk validate printed on a passing run of the staged pack (colours off).
VALIDATE_PASSED = """
<cyan>================= Running on branch update-darktrace =================</cyan>
Running against origin/master
Running on committed and staged files
######## - Added committed:
Packs/Darktrace/.pack-ignore, Packs/Darktrace/Integrations/Darktrace/Darktrace.py, Packs/Darktrace/ReleaseNotes/1_0_0.md


Starting validate items.
<green>All validations passed.</green>
<red>Validate summary
The following errors were thrown as a part of this pr: .
If the AG100 validation in the pre-commit GitHub Action fails, the pull request cannot be force-merged.
</red>
<green>#############################################################################
Please note that the PR can be force merged from the validation perspective.
############################################################################
</green>
"""
# What xsoar-lint printed on a passing run with one warning, offline.
LINT_PASSED_WITH_A_WARNING = """Could not read docker_images_metadata.json from demisto/dockerfiles-info repository, error: 
************* Module Darktrace
Darktrace.py:203:28: W9013 Client.__init__: Hardcoded http URL was found in the code.

-----------------------------------
Your code has been rated at 9.99/10

"""  # noqa: W291 (the sdk's own trailing space)
VALIDATE_FAILED = """<cyan>================= Running on branch update-darktrace =================</cyan>
Starting validate items.
<red>Packs/Darktrace/Integrations/Darktrace/Darktrace.yml: [IN108] - The parameter name "url " has a space.</red>
<red>Validate summary
The following errors were thrown as a part of this pr: IN108.
</red>
"""


def test_a_passing_validate_prints_one_line() -> None:
    """
    Given the output of a passing demisto-sdk validate, colour tags and banners included
    When it is reported
    Then only the one-line result is printed: no colour tag, no "errors were thrown" line, no banner.
    """
    assert sdk_output.report('demisto-sdk validate', ['demisto-sdk', 'validate'], 0, VALIDATE_PASSED) == \
        'demisto-sdk validate: passed'


def test_a_passing_run_keeps_its_findings() -> None:
    """
    Given the output of a passing xsoar-lint holding one warning among offline notices and the score
    When it is reported
    Then the warning and its module heading are printed, then the result; the noise is gone.
    """
    assert sdk_output.report('xsoar-lint', ['demisto-sdk', 'xsoar-lint'], 0, LINT_PASSED_WITH_A_WARNING) == (
        '************* Module Darktrace\n'
        'Darktrace.py:203:28: W9013 Client.__init__: Hardcoded http URL was found in the code.\n'
        'xsoar-lint: passed')


def test_a_failing_run_is_shown_in_full_without_colour_tags() -> None:
    """
    Given the output of a failing demisto-sdk validate
    When it is reported
    Then every line is printed (the banner and the error summary too), without colour tags, followed
    by the command that was run and the exit status.
    """
    text = sdk_output.report('demisto-sdk validate', ['demisto-sdk', 'validate', '-g'], 1, VALIDATE_FAILED)
    assert '<' not in text.replace('</>', '')
    lines = text.splitlines()
    assert lines[:-2] == sdk_output.strip_colours(VALIDATE_FAILED).rstrip('\n').splitlines()
    assert 'The following errors were thrown as a part of this pr: IN108.' in lines
    assert lines[-2:] == ['command: demisto-sdk validate -g', 'demisto-sdk validate: failed (exit 1)']


@pytest.mark.parametrize('code', [0, 3])
def test_the_wrapper_keeps_the_exit_status(code: int) -> None:
    """
    Given a command that prints coloured output on standard output and error and exits with `code`
    When it is run through the wrapper, as the Makefile does
    Then the wrapper exits with the same status and prints the output without colour tags: the
    findings and "passed" on success, everything and "failed (exit 3)" on failure.
    """
    script = ('import sys; print("<yellow>warning: check this</yellow>"); '
              f'print("<red>Validate summary</red>", file=sys.stderr); sys.exit({code})')
    completed = subprocess.run([sys.executable, str(TOOLS / 'sdk_output.py'), '--name', 'check', '--',
                                sys.executable, '-c', script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == code
    printed = '\n'.join(line for line in (completed.stdout + completed.stderr).splitlines()
                        if not line.startswith('command: '))
    assert '<yellow>' not in printed and '<red>' not in printed and 'warning: check this' in printed
    if code == 0:
        assert completed.stdout == 'warning: check this\ncheck: passed\n'
    else:
        assert 'Validate summary' in completed.stderr and completed.stderr.endswith('check: failed (exit 3)\n')


def test_other_angle_brackets_are_left_alone() -> None:
    """
    Given output holding a redaction mark and an HTML-like name that are not colour tags
    When colour tags are stripped
    Then only the colour tags go.
    """
    assert sdk_output.strip_colours('<red>token <redacted> in <details></red>') == 'token <redacted> in <details>'


@pytest.mark.skipif(shutil.which('make') is None, reason='needs GNU make')
def test_make_help_lists_every_target_once_on_one_line() -> None:
    """
    Given the Makefile
    When `make help` runs
    Then it prints one line per phony target, each "make <target>" followed by what it does, and
    builds nothing.
    """
    makefile = (REPO_ROOT / 'Makefile').read_text(encoding='utf-8')
    phony = re.search(r'^\.PHONY: (.*)$', makefile, re.MULTILINE)
    assert phony
    completed = subprocess.run(['make', '--no-print-directory', 'help'], cwd=REPO_ROOT, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    listed = [re.match(r'^make (\S+) +\S', line) for line in lines]
    assert all(listed), lines
    assert sorted(match.group(1) for match in listed if match) == sorted(phony.group(1).split())
