"""The integration on the libraries of both images it is tested for, and over TLS as the platform sets it up.

`make test` runs this on the pinned image's set (urllib3 2.3.0: no `Retry(retry_after_max=...)`),
`make test-newest` on the newest image's (urllib3 2.7.0: has it). Either way the retry policy must
build, cap a huge Retry-After to the retry budget, and never wait past it; and the client must
keep the adapter BaseClient mounted (the platform's SSLAdapter with "Trust any certificate").
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

import Darktrace
from CommonServerPython import SSLAdapter
from Darktrace import BudgetedRetry, Client, DarktraceApiError
from emulator import Emulator

PUBLIC = 'compat-public'
PRIVATE = 'compat-private'
BUDGET_S = 3
HUGE_RETRY_AFTER_S = 86400


def urllib3_version() -> tuple[int, ...]:
    return tuple(int(part) for part in urllib3.__version__.split('.')[:3])


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits urllib3's Retry would sleep, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, 'sleep', waits.append)
    return waits


def reply_503(retry_after: int) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(status=503, headers={'Retry-After': str(retry_after)})


def test_retry_after_cap_is_detected_from_this_urllib3() -> None:
    """
    Given the urllib3 installed here (2.3.0 in the pinned image, 2.7.0 in the newest)
    When the integration is imported
    Then it knows whether Retry takes retry_after_max, which urllib3 added in 2.6.3
    """
    takes = 'retry_after_max' in inspect.signature(Retry.__init__).parameters
    assert takes == (urllib3_version() >= (2, 6, 3))
    assert Darktrace.RETRY_TAKES_RETRY_AFTER_MAX is takes


@pytest.mark.parametrize('method', ['GET', 'POST', 'DELETE'])
def test_retry_policy_builds_with_only_keywords_this_urllib3_takes(method: str) -> None:
    """
    Given a client (the retry policy used to pass retry_after_max, a TypeError on urllib3 2.3.0)
    When the policy of each method is built and copied as urllib3 copies it between attempts
    Then it builds, and the copy keeps the budget, the logger and the Retry-After cap
    """
    logged: list[str] = []
    policy = Client('https://dt.example', PUBLIC, PRIVATE, retry_budget_s=30, on_retry=logged.append)._retry_policy(
        method)
    copied = policy.new()
    assert isinstance(copied, BudgetedRetry)
    assert (copied.deadline, copied.on_retry) == (policy.deadline, policy.on_retry)
    assert copied.get_retry_after(reply_503(HUGE_RETRY_AFTER_S)) == 31


def test_huge_retry_after_waits_no_longer_than_the_budget(slept: list[float]) -> None:
    """
    Given a GET policy with a 30 s budget and nothing spent yet
    When the appliance answers 503 with Retry-After of a day, once and again after a retry
    Then urllib3 is told to wait the budget (plus a second), never the day asked for
    """
    policy = Client('https://dt.example', PUBLIC, PRIVATE, retry_budget_s=30)._retry_policy('GET')
    policy.deadline = math.inf  # the wait itself is under test here, not the budget check
    policy.sleep(reply_503(HUGE_RETRY_AFTER_S))
    retried = policy.increment('GET', 'https://dt.example/status', response=reply_503(HUGE_RETRY_AFTER_S))
    retried.sleep(reply_503(HUGE_RETRY_AFTER_S))
    assert slept == [31, 31]


def test_retry_after_beyond_the_budget_left_stops_without_waiting(slept: list[float]) -> None:
    """
    Given a GET policy whose budget ends in 3 s
    When the appliance answers 503 with Retry-After of a day
    Then no retry is scheduled and nothing is slept
    """
    policy = Client('https://dt.example', PUBLIC, PRIVATE, retry_budget_s=BUDGET_S)._retry_policy('GET')
    with pytest.raises(MaxRetryError, match='retry budget spent'):
        policy.increment('GET', 'https://dt.example/status', response=reply_503(HUGE_RETRY_AFTER_S))
    assert slept == []


@pytest.fixture(scope='module')
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(breaches=20, span_days=1, seed=5, tls=True) as emulator:
        yield emulator


@pytest.fixture(scope='module')
def http_emulator() -> Iterator[Emulator]:
    with Emulator(breaches=20, span_days=1, seed=5) as emulator:
        yield emulator


def client_for(emulator: Emulator, verify: Any, logged: list[str]) -> Client:
    return Client(emulator.url, emulator.public_token, emulator.private_token, verify=verify,
                  retry_budget_s=BUDGET_S, on_retry=logged.append)


@pytest.mark.parametrize('verify', [False, True])
def test_retries_go_on_the_adapter_base_client_mounted(tls_emulator: Emulator, verify: bool) -> None:
    """
    Given a TLS appliance with a self-signed certificate, and "Trust any certificate" on or off
    When a client is built and sends a request (trusting the certificate file when verifying)
    Then https:// is still served by the adapter BaseClient mounted (the platform's SSLAdapter when trusting any
         certificate, a plain HTTPAdapter otherwise), the request went through it, and it carries the retry policy
    """
    logged: list[str] = []
    client = client_for(tls_emulator, verify, logged)
    mounted = client._session.adapters['https://']
    if not verify:
        assert isinstance(mounted, SSLAdapter)
    else:
        assert type(mounted) is HTTPAdapter
        client._verify = tls_emulator.cert_path  # BaseClient takes a CA bundle path as verify
    assert client.get_status()
    assert client._session.adapters['https://'] is mounted
    assert isinstance(mounted.max_retries, BudgetedRetry) and mounted.max_retries.total == 10
    assert mounted.poolmanager.pools, 'the request did not go through the mounted adapter'


def test_plain_http_keeps_its_adapter_too(http_emulator: Emulator) -> None:
    """
    Given an appliance served over plain HTTP
    When a client sends a request
    Then the http:// adapter BaseClient mounted carries the retry policy and served the request
    """
    client = client_for(http_emulator, True, [])
    mounted = client._session.adapters['http://']
    assert client.get_status()
    assert isinstance(mounted.max_retries, BudgetedRetry) and mounted.poolmanager.pools


def test_retry_after_is_honoured_then_capped_over_tls(tls_emulator: Emulator) -> None:
    """
    Given a TLS appliance behind "Trust any certificate" that answers 503 once with Retry-After: 1,
          then 503 with Retry-After of a day
    When the client asks for /status each time
    Then the first request waits the second asked for and succeeds; the second stops at once with the retry
         budget spent, and no logged wait exceeds the budget
    """
    logged: list[str] = []
    tls_emulator.inject_fault('status', count=1, method='GET', path='/status', status=503, retry_after=1)
    assert client_for(tls_emulator, False, logged).get_status()
    assert len(logged) == 1 and 'waiting 1.0s' in logged[0]

    tls_emulator.inject_fault('status', count=20, method='GET', path='/status', status=503,
                              retry_after=HUGE_RETRY_AFTER_S)
    try:
        with pytest.raises(DarktraceApiError) as raised:
            client_for(tls_emulator, False, logged).get_status()
    finally:
        tls_emulator.clear_faults()
    assert raised.value.kind == 'unavailable' and 'retry budget' in str(raised.value)
    assert len(logged) == 1
