"""xsoar_platform: the switch to the real platform modules (XSOAR_PLATFORM_DIR) and the platform recorder.

The recorder drives `demistomock` only through its public functions, so these tests hold on the
stand-ins and on the real modules alike.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import demistomock
import xsoar_platform
from CommonServerPython import return_error

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = 'copied-platform-modules-7c1e'


def test_a_brand_new_instance_has_no_last_run_and_empty_inputs() -> None:
    """
    Given: a run started with no inputs
    When:  the integration reads them through demistomock
    Then:  lastRun is {} (as on a brand-new instance), nothing is stored yet, and inputs are empty
    """
    run = xsoar_platform.start_run()
    assert demistomock.getLastRun() == {} and run.last_run is None
    assert (demistomock.params(), demistomock.args(), demistomock.command()) == ({}, {}, '')
    assert demistomock.getIntegrationContext() == {}
    assert demistomock.integrationInstance() == xsoar_platform.DEFAULT_INSTANCE


def test_a_fetch_run_is_recorded_as_the_platform_stores_it(capsys: pytest.CaptureFixture[str]) -> None:
    """
    Given: a fetch-incidents run seeded with params, a previous lastRun and an integration context
    When:  the integration writes lastRun, incidents twice, context, logs and a result
    Then:  the record holds each in call order, stored as JSON like the platform, and nothing is printed
    """
    run = xsoar_platform.start_run(command='fetch-incidents', params={'max_alerts': '50'},
                                   last_run={'last_time': 1}, integration_context={'token': 'a'})
    assert (demistomock.command(), demistomock.params(), demistomock.getLastRun()) == \
        ('fetch-incidents', {'max_alerts': '50'}, {'last_time': 1})
    demistomock.setLastRun({'last_time': 2, 'seen': (7, 8)})
    demistomock.incidents([{'name': 'a'}])
    demistomock.incidents([])
    demistomock.setIntegrationContext({'token': 'b'})
    demistomock.debug('d')
    demistomock.info('i', 'more')
    demistomock.error('e')
    demistomock.results(['done', 'twice'])
    assert run.last_run == demistomock.getLastRun() == {'last_time': 2, 'seen': [7, 8]}
    assert run.incidents == [[{'name': 'a'}], []]
    assert run.integration_context == demistomock.getIntegrationContext() == {'token': 'b'}
    assert run.logs == [('debug', 'd'), ('info', 'i more'), ('error', 'e')]
    assert run.results == ['done', 'twice']
    assert capsys.readouterr() == ('', '')


def test_inputs_are_fresh_copies_and_stored_values_must_be_json() -> None:
    """
    Given: a run with params
    When:  the integration mutates what params() returned, then stores a datetime in lastRun
    Then:  the next params() is unchanged, and storing fails as on the platform, which keeps only JSON
    """
    xsoar_platform.start_run(params={'url': 'https://127.0.0.1'})
    demistomock.params()['url'] = 'changed'
    assert demistomock.params() == {'url': 'https://127.0.0.1'}
    with pytest.raises(TypeError):
        demistomock.setLastRun({'last_time': datetime(2020, 9, 14)})


def test_platform_library_reports_through_the_recorder() -> None:
    """
    Given: an ordinary command running
    When:  CommonServerPython's return_error reports a failure
    Then:  the error entry and log line reach the record (the library calls demistomock, which is recorded): the
           integration logger's one demisto.info "Full Integration Log" ending with the message, as the real
           logger writes it
    """
    run = xsoar_platform.start_run(command='darktrace-list-tags')
    with pytest.raises(SystemExit):
        return_error('boom')
    assert [entry['Contents'] for entry in run.results] == ['boom']
    assert is_full_integration_log(run.logs, 'boom')


def is_full_integration_log(logs: list[tuple[str, str]], message: str) -> bool:
    """Whether the logs hold LOG.print_log()'s one info line, ending with `message` (return_error logs this way)."""
    return any(level == 'info' and text.startswith('Full Integration Log:\n') and text.endswith(f'\n{message}')
               for level, text in logs)


def test_end_run_gives_demistomock_its_functions_back() -> None:
    """
    Given: demistomock's own functions
    When:  a run starts, another replaces it, and the runs end
    Then:  the module has exactly its own functions again
    """
    own = {name: getattr(demistomock, name) for name in ('params', 'results', 'debug', 'setLastRun')}
    xsoar_platform.start_run(command='a')
    xsoar_platform.start_run(command='b')
    assert demistomock.params is not own['params']
    xsoar_platform.end_run()
    assert {name: getattr(demistomock, name) for name in own} == own


def test_run_command_returns_what_the_run_produced_and_ends_it() -> None:
    """
    Given: a main() that reads its inputs, writes an entry, a log line and the integration context, then fails
           through return_error
    When:  the harness runs it as a command
    Then:  the result holds the entry, the log line, the new context and exit code 0 with no escaped error, the
           run failed (an error entry), and demistomock has its own functions back
    """
    own_results = demistomock.results

    def main() -> None:
        demistomock.results({'Type': 1, 'Contents': f'{demistomock.command()} {demistomock.args()["did"]}'})
        demistomock.setIntegrationContext({'form': demistomock.params()['url']})
        return_error('boom')

    result = xsoar_platform.run_command('darktrace-get-device', {'did': '3'}, {'url': 'https://127.0.0.1'},
                                        main=main)
    assert result.entries[0] == {'Type': 1, 'Contents': 'darktrace-get-device 3'}
    assert result.entries[1]['Contents'] == 'boom' and result.errors == ['boom'] and result.failed
    assert result.integration_context == {'form': 'https://127.0.0.1'} and is_full_integration_log(result.logs, 'boom')
    assert (result.exit_code, result.exception, result.error) == (0, None, None)
    assert demistomock.results is own_results


def test_the_versioned_context_refuses_a_write_from_an_older_version() -> None:
    """
    Given: a run whose stored integration context was read at one version
    When:  another write lands first, then a write naming the old version, then one naming the new version
    Then:  the stale write raises ValueError and changes nothing; the current one is stored and raises the version,
           as the platform's versioned store does
    """
    run = xsoar_platform.start_run(integration_context={'a': 1})
    try:
        read = demistomock.getIntegrationContextVersioned(True)
        assert read == {'context': {'a': 1}, 'version': 0}
        demistomock.setIntegrationContextVersioned({'a': 1, 'b': 2}, 0, True)
        with pytest.raises(ValueError):
            demistomock.setIntegrationContextVersioned({'a': 1, 'c': 3}, read['version'], True)
        assert run.integration_context == {'a': 1, 'b': 2}
        current = demistomock.getIntegrationContextVersioned(True)
        demistomock.setIntegrationContextVersioned({**current['context'], 'c': 3}, current['version'], True)
        assert demistomock.getIntegrationContextVersioned() == {'context': {'a': 1, 'b': 2, 'c': 3}, 'version': 2}
    finally:
        xsoar_platform.end_run()


def test_a_fetch_cycle_keeps_the_given_last_run_when_it_fails() -> None:
    """
    Given: a fetch that stores a new lastRun and hands over incidents in two batches, and one that stores a
           lastRun and then raises
    When:  each runs as a fetch cycle from lastRun {'start_ms': 1}
    Then:  the first returns both batches' incidents and the stored lastRun; the second keeps the given lastRun
           and the error, as the platform does
    """
    def fetch() -> None:
        demistomock.setLastRun({'start_ms': demistomock.getLastRun()['start_ms'] + 1})
        demistomock.incidents([{'name': 'a'}])
        demistomock.incidents([{'name': 'b'}])

    def failing_fetch() -> None:
        demistomock.setLastRun({'start_ms': 99})
        raise Exception('Failed to execute fetch-incidents')

    done = xsoar_platform.run_fetch_cycle({}, {'start_ms': 1}, main=fetch)
    assert done.command == xsoar_platform.FETCH_COMMAND and not done.failed
    assert (done.incidents, done.last_run) == ([{'name': 'a'}, {'name': 'b'}], {'start_ms': 2})
    failed = xsoar_platform.run_fetch_cycle({}, {'start_ms': 1}, main=failing_fetch)
    assert failed.last_run == {'start_ms': 1} and failed.error == 'Failed to execute fetch-incidents'
    assert failed.failed and type(failed.exception) is Exception


def test_instance_params_point_at_an_emulator_or_a_url() -> None:
    """
    Given: an object with an appliance's url and token pair, and a bare URL with a token pair
    When:  instance parameters are built, with overrides
    Then:  they hold the URL and tokens, the overrides replace or add parameters, and a token given explicitly wins
    """
    class Appliance:
        url, public_token, private_token = 'http://127.0.0.1:8000', 'public', 'private'

    assert xsoar_platform.instance_params(Appliance(), min_score='0') == {
        'url': 'http://127.0.0.1:8000', 'public_api_token': 'public', 'private_api_token': 'private', 'min_score': '0'}
    assert xsoar_platform.instance_params(Appliance(), private_token='other')['private_api_token'] == 'other'
    assert xsoar_platform.instance_params('https://dt.example', 'p', 's', url='https://other.example') == {
        'url': 'https://other.example', 'public_api_token': 'p', 'private_api_token': 's'}

def test_a_folder_without_the_platform_modules_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given: XSOAR_PLATFORM_DIR naming a folder that holds only demistomock.py
    When:  the platform folder is resolved
    Then:  it is refused with a message naming the missing file and what to do
    """
    (tmp_path / 'demistomock.py').write_text('')
    monkeypatch.setenv(xsoar_platform.PLATFORM_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(xsoar_platform.PlatformDirError, match='has no CommonServerPython.py: point it at a folder'):
        xsoar_platform.platform_dir()


@pytest.fixture(scope='module')
def copied_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform folder assembled from the stand-ins (a real copy cannot be committed), with a marker."""
    folder = tmp_path_factory.mktemp('platform')
    for name in ('CommonServerPython.py', 'demistomock.py'):
        shutil.copy(xsoar_platform.STAND_INS / name, folder / name)
    with (folder / 'CommonServerPython.py').open('a') as module:
        module.write(f'\nPLATFORM_COPY_MARKER = {MARKER!r}\n')
    return folder


def run_with_platform(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, xsoar_platform.PLATFORM_DIR_VARIABLE: str(folder)}
    return subprocess.run([sys.executable, *command], cwd=REPO_ROOT, env=environment, capture_output=True,
                          text=True, timeout=240)


# Each entry point imports its module (which switches the platform folder), then says where the platform
# modules came from and whether the copy's marker is there.
REPORT = ("import CommonServerPython, demistomock; print(CommonServerPython.__file__, demistomock.__file__, "
          "getattr(CommonServerPython, 'PLATFORM_COPY_MARKER', None))")
ENTRY_POINTS = {
    'runner': 'import runner; ' + REPORT,
    'docs generator': "import runpy; runpy.run_path('tools/gen_docs.py', run_name='gen_docs'); " + REPORT,
    'benchmark': "import runpy; runpy.run_path('bench/large_replies.py', run_name='bench'); " + REPORT,
}


@pytest.mark.parametrize('entry_point', ENTRY_POINTS)
def test_entry_points_switch_to_the_given_platform_modules(copied_platform: Path, entry_point: str) -> None:
    """
    Given: XSOAR_PLATFORM_DIR pointing at a folder of platform modules with a marker
    When:  the runner, the docs generator and a benchmark are loaded in a fresh Python
    Then:  each imports CommonServerPython and demistomock from that folder, marker included
    """
    finished = run_with_platform(copied_platform, '-c', ENTRY_POINTS[entry_point])
    assert finished.returncode == 0, finished.stderr
    csp_file, demisto_file, marker = finished.stdout.split()
    assert (Path(csp_file).parent, Path(demisto_file).parent, marker) == (copied_platform, copied_platform, MARKER)


def test_tests_run_side_by_side_on_the_given_platform_modules(copied_platform: Path) -> None:
    """
    Given: XSOAR_PLATFORM_DIR pointing at a folder of platform modules
    When:  the stand-in tests and a slice of the integration's own tests run with pytest
    Then:  pytest reports that folder, the stand-in tests run on the given modules too (side by side,
           signatures compared) and the integration's tests pass unchanged
    """
    finished = run_with_platform(copied_platform, '-m', 'pytest', '-p', 'no:cacheprovider', '-v',
                                 'tests/test_xsoar_stubs.py', 'Darktrace_test.py', '-k', 'not e2e')
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert f'XSOAR platform modules: {copied_platform}' in finished.stdout
    assert 'test_mapping_fields_response_merges_every_scheme[given] PASSED' in finished.stdout
    assert 'test_stand_in_signature_matches_the_given_module[CommonServerPython-BaseClient._http_request] PASSED' \
        in finished.stdout
    assert ' skipped' not in finished.stdout.splitlines()[-1]
