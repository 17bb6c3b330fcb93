"""The fleet run without a peer: results in the contract's shape, the lockout guard, stop across workers, timeouts."""
from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosError
from ansible_collections.scanready.windows.plugins.module_utils._report.model import parse_result
from ansible_collections.scanready.windows.plugins.module_utils._report.text import render_junit
from ansible_collections.scanready.windows.plugins.module_utils._verify import fleet, run
from ansible_collections.scanready.windows.plugins.module_utils._verify import guard as guard_module
from ansible_collections.scanready.windows.plugins.module_utils._verify import target as target_module
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials, Endpoint
from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed
from ansible_collections.scanready.windows.plugins.module_utils._verify.fleet import run_fleet
from ansible_collections.scanready.windows.plugins.module_utils._verify.guard import GuardStop, preflight
from ansible_collections.scanready.windows.plugins.module_utils._verify.names import (
    Job,
    TargetSpec,
    dc_reverse_lookup,
    dns_name,
    ptr_answer,
    resolve,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    HostResult,
    class_label,
    not_tested,
    passed,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.specs import (
    checked_names,
    scan_request,
    settings_from,
    targets_from,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.target import (
    CheckSet,
    Progress,
    RunOptions,
    StopFlag,
    Verifier,
    host_result,
    name_dc_cause,
)

PASSWORD = "Unit-Test-Secret-9"
CREDS = Credentials.parse("scanner", PASSWORD, "ex.test")
NAMES = CheckSet().names()
CONTRACT_CHECK_KEYS = {"ok", "class", "required", "detail", "fix"}


def raise_herror() -> None:
    raise socket.herror(1, "none")


def job(index: int, name: str | None = None) -> Job:
    name = name or f"t{index:04d}.ex.test"
    return Job(index, name, Endpoint(f"10.0.0.{index + 1}", name))


def test_check_names_in_order() -> None:
    assert NAMES == ["logon", "smb_signing", "share:C$", "share:ADMIN$", "share:IPC$", "registry:HKLM\\Software",
                     "service:RemoteRegistry", "service:LanmanServer", "service:MpsSvc",
                     "wmi:root\\cimv2\\security\\microsofttpm", "wmi:root\\CIMV2\\TerminalServices"]


def test_a_host_is_ready_when_every_required_check_is_ok() -> None:
    progress = Progress(started=time.monotonic() - 1, scheme="kerberos-aes", checks={
        "logon": passed("logged on", True),
        "share:C$": passed("ok", True), "share:ADMIN$": passed("ok", True), "share:IPC$": passed("ok", True),
        "registry:HKLM\\Software": passed("ok", True),
        "service:RemoteRegistry": failed("service", "service_not_automatic", "Manual, Running", False,
                                         "RemoteRegistry"),
        "service:LanmanServer": not_tested("unknown", False),
    })
    host = host_result(job(0), progress, NAMES, time.monotonic(), False, 15, False)
    assert host.ready is True
    assert host.auth_scheme == "kerberos-aes"
    assert list(host.checks) == NAMES
    assert all(set(c.as_dict()) == CONTRACT_CHECK_KEYS for c in host.checks.values())
    assert host.checks["wmi:root\\CIMV2\\TerminalServices"].ok is None
    assert 0.9 < host.duration_s < 5


def test_a_definitive_service_failure_makes_the_host_not_ready() -> None:
    checks = {n: passed("ok", True) for n in NAMES[:5]}
    checks["service:RemoteRegistry"] = failed("service", "service_not_automatic", "Disabled", True, "RemoteRegistry")
    host = host_result(job(0), Progress(started=1, scheme="ntlmv2", checks=checks), NAMES, 2, False, 15, False)
    assert host.ready is False


def test_checks_after_a_failed_logon_are_not_tested() -> None:
    progress = Progress(started=1, checks={"logon": failed("logon", "unreachable", "no answer", True)})
    host = host_result(job(0), progress, NAMES, 2, False, 15, False)
    assert host.ready is False
    assert host.auth_scheme is None
    assert host.checks["logon"].fix
    assert {c.cls for n, c in host.checks.items() if n != "logon"} == {"not_tested"}
    assert host.checks["share:C$"].required is True


def test_a_target_given_up_on_is_a_timeout() -> None:
    progress = Progress(started=1, checks={"logon": passed("ok", True), "smb_signing": passed("ok", False),
                                           "share:C$": passed("ok", True)})
    host = host_result(job(0), progress, NAMES, 20, True, 15, False)
    assert host.ready is False
    under_way = host.checks["share:ADMIN$"]
    assert (under_way.ok, under_way.cls) == (False, "timeout")
    assert "within the target's 15 s" in under_way.detail
    assert under_way.fix
    assert host.checks["share:IPC$"].cls == "not_tested"
    assert "within its 15 s" in host.checks["share:IPC$"].detail


# ---------------------------------------------------------------- names

def test_dns_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert dns_name("T1.Ex.Test.", "10.0.0.1") == ("t1.ex.test", "")
    monkeypatch.setattr(socket, "gethostbyaddr", lambda address: ("t9.ex.test", [], [address]))
    assert dns_name("10.0.0.9", "10.0.0.9") == ("t9.ex.test", "")
    monkeypatch.setattr(socket, "gethostbyaddr", lambda address: raise_herror())
    name, why = dns_name("web01", "10.0.0.9")
    assert name is None
    assert "'web01' is not a fully qualified name" in why
    assert "Kerberos" in why


def test_dns_name_asks_the_dc_first_and_reverse_dns_only_when_the_dc_does_not_know(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def gethostbyaddr(address: str) -> Any:
        asked.append(address)
        return ("t9.ex.test", [], [address])

    monkeypatch.setattr(socket, "gethostbyaddr", gethostbyaddr)
    assert dns_name("10.0.0.9", "10.0.0.9", lambda address: "Web01.Ex.Test.") == ("web01.ex.test", "")
    assert asked == []
    # The DC's DNS holds the reverse zone and has no record: final, the controller's resolver is not asked.
    name, why = dns_name("web01", "10.0.0.9", lambda address: "")
    assert name is None and asked == []
    assert "domain controller's DNS holds the reverse zone of 10.0.0.9 and has no PTR record" in why
    # The DC's DNS does not know the address: the controller's reverse DNS is asked.
    assert dns_name("10.0.0.9", "10.0.0.9", lambda address: None) == ("t9.ex.test", "")
    assert asked == ["10.0.0.9"]
    monkeypatch.setattr(socket, "gethostbyaddr", lambda address: raise_herror())
    name, why = dns_name("web01", "10.0.0.9", lambda address: None)
    assert name is None
    assert "reverse DNS of 10.0.0.9 and the domain controller's DNS gave none" in why


def ptr_reply(rcode: Any, authoritative: bool, ptr: str | None = None) -> Any:
    import dns.flags
    import dns.message
    import dns.reversename
    import dns.rrset

    query = dns.message.make_query(dns.reversename.from_address("10.0.0.9"), "PTR")
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    if authoritative:
        reply.flags |= dns.flags.AA
    if ptr:
        reply.answer.append(dns.rrset.from_text(query.question[0].name, 900, "IN", "PTR", ptr))
    return reply


def test_ptr_answer_tells_no_record_from_does_not_know() -> None:
    import dns.rcode

    assert ptr_answer(ptr_reply(dns.rcode.NOERROR, True, "t9.ex.test.")) == "t9.ex.test."
    assert ptr_answer(ptr_reply(dns.rcode.NXDOMAIN, True)) == ""
    assert ptr_answer(ptr_reply(dns.rcode.NOERROR, True)) == ""
    assert ptr_answer(ptr_reply(dns.rcode.NXDOMAIN, False)) is None  # a forwarder's answer, not the zone's
    assert ptr_answer(ptr_reply(dns.rcode.SERVFAIL, True)) is None


def test_no_dc_reverse_lookup_when_the_dc_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(name: str, *args: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert dc_reverse_lookup("dc1.gone.test", 2.0) is None


def test_dc_reverse_lookup_stops_asking_a_dns_server_that_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import dns.exception
    import dns.query
    import dns.rcode

    asked: list[str] = []

    def udp(query: Any, server: str, timeout: float) -> Any:
        address = query.question[0].name.to_text()
        asked.append(f"{address}@{server}")
        if address.startswith("9.0.0.10"):
            return ptr_reply(dns.rcode.NOERROR, True, "t9.ex.test.")
        if address.startswith("8.0.0.10"):
            return ptr_reply(dns.rcode.NXDOMAIN, True)
        raise dns.exception.Timeout()

    dc_address = [(socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("10.0.0.2", 53))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args: dc_address)
    monkeypatch.setattr(dns.query, "udp", udp)
    lookup = dc_reverse_lookup("dc1.ex.test", 2.0)
    assert lookup is not None
    assert lookup("10.0.0.9") == "t9.ex.test."
    assert lookup("10.0.0.8") == ""  # no such record: the next address is still asked
    assert lookup("10.0.0.7") is None  # no answer at all
    assert lookup("10.0.0.9") is None  # so it is not asked again
    assert asked == [f"{n}.0.0.10.in-addr.arpa.@10.0.0.2" for n in (9, 8, 7)]


def test_resolve_addresses_and_unresolvable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(name: str, *args: Any) -> Any:
        if name == "gone.ex.test":
            raise socket.gaierror(-2, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 445))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    jobs = resolve([TargetSpec("a.ex.test"), TargetSpec("gone.ex.test"), TargetSpec("b.ex.test", "10.0.0.8")])
    assert jobs[0].endpoint == Endpoint("10.0.0.7", "a.ex.test")
    assert jobs[1].endpoint is None and "does not resolve" in jobs[1].unresolved
    assert jobs[2].endpoint == Endpoint("10.0.0.8", "b.ex.test")


def test_resolve_gives_bad_names_and_networks_a_reason_per_target() -> None:
    jobs = resolve([TargetSpec("web01..corp"), TargetSpec("ümlaut-" + "x" * 70 + ".corp"),
                    TargetSpec("net", "10.0.0.0/24"), TargetSpec("v6", "fe80::1"), TargetSpec("10.0.0.9")])
    assert all(j.endpoint is None for j in jobs[:4])
    assert "'web01..corp' is not a valid host name" in jobs[0].unresolved
    assert "not a valid host name" in jobs[1].unresolved
    assert "is a network, not a host" in jobs[2].unresolved
    assert "is an IPv6 address" in jobs[3].unresolved
    assert jobs[4].endpoint is not None and jobs[4].endpoint.address == "10.0.0.9"


# ---------------------------------------------------------------- the fleet runner

def ok_work(j: Job, stop: StopFlag, progress: Progress) -> None:
    progress.started = time.monotonic()
    progress.scheme = "ntlmv2"
    progress.checks["logon"] = passed(f"pid {os.getpid()}", True)


def test_targets_are_spread_over_worker_processes() -> None:
    jobs = [job(i) for i in range(60)]
    hosts = run_fleet(jobs, ok_work, RunOptions(workers=8, processes=2), ["logon"])
    assert [h.name for h in hosts] == [j.name for j in jobs]
    pids = {h.checks["logon"].detail for h in hosts}
    assert len(pids) == 2
    assert f"pid {os.getpid()}" not in pids


def test_a_shard_hands_jobs_to_the_pool_as_threads_free_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most `threads` jobs are in the pool at once: waiting on them stays cheap with 10,000 targets."""
    in_pool: list[int] = []
    most: list[int] = [0]
    submit = ThreadPoolExecutor.submit

    def counting_submit(pool: Any, fn: Any, *args: Any) -> Any:
        in_pool.append(1)
        most[0] = max(most[0], len(in_pool))
        future = submit(pool, fn, *args)
        future.add_done_callback(lambda _future: in_pool.pop())
        return future

    monkeypatch.setattr(ThreadPoolExecutor, "submit", counting_submit)
    jobs = [job(i) for i in range(50)]
    hosts: list[HostResult] = []
    fleet.run_shard(jobs, ok_work, SimpleNamespace(is_set=lambda: False, set=lambda: None), 4, 5.0, ["logon"],
                    lambda _job, host: hosts.append(host))
    assert sorted(h.name for h in hosts) == sorted(j.name for j in jobs) and all(h.ready for h in hosts)
    assert most[0] <= 4


def refuse_first(j: Job, stop: StopFlag, progress: Progress) -> None:
    progress.started = time.monotonic()
    if stop.is_set():
        progress.checks["logon"] = not_tested("stopped", True)
        return
    if j.index == 0:
        progress.checks["logon"] = failed("logon", "logon_failure", "refused", True)
        stop.set()
        return
    time.sleep(0.3)  # the others are slower than the refusal
    progress.checks["logon"] = not_tested("stopped", True) if stop.is_set() else passed("ok", True)


def test_the_first_refusal_stops_every_worker() -> None:
    stop = multiprocessing.get_context("fork").Event()
    hosts = run_fleet([job(i) for i in range(40)], refuse_first, RunOptions(workers=4, processes=2),
                      ["logon"], stop)
    assert stop.is_set()
    classes = [h.checks["logon"].cls for h in hosts]
    assert classes[0] == "logon_failure"
    assert classes.count("ok") <= 4, "at most the logons already under way finish"
    assert classes.count("not_tested") >= 35


def hang_one(j: Job, stop: StopFlag, progress: Progress) -> None:
    progress.started = time.monotonic()
    progress.checks["logon"] = passed("ok", True)
    if j.index == 1:
        time.sleep(60)  # a peer that never answers; the worker exits under it
    progress.checks["share:C$"] = passed("ok", True)


def test_a_hanging_target_is_given_up_and_reported_as_timeout() -> None:
    started = time.monotonic()
    hosts = run_fleet([job(i) for i in range(3)], hang_one, RunOptions(target_timeout=1, workers=3, processes=1),
                      ["logon", "share:C$"])
    assert time.monotonic() - started < 15
    assert hosts[1].checks["share:C$"].cls == "timeout"
    assert "within the target's 1 s" in hosts[1].checks["share:C$"].detail
    assert hosts[0].ready and hosts[2].ready


def stall_after_first(j: Job, stop: StopFlag, progress: Progress) -> None:
    progress.started = time.monotonic()
    if j.index != 0:
        time.sleep(0.6)  # the first target's result is sent meanwhile
        os.kill(os.getpid(), signal.SIGSTOP)  # a worker that hangs as a whole; the run kills it at its deadline
    progress.checks["logon"] = passed("ok", True)


def test_a_worker_killed_at_its_deadline_keeps_the_targets_it_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet, "WORKER_SLACK_S", 1.0)
    started = time.monotonic()
    hosts = run_fleet([job(i) for i in range(3)], stall_after_first,
                      RunOptions(target_timeout=1, workers=3, processes=1), ["logon"])
    assert time.monotonic() - started < 15
    assert hosts[0].ready, "sent before the worker was killed"
    assert [h.checks["logon"].cls for h in hosts[1:]] == ["error", "error"]


def crash(j: Job, stop: StopFlag, progress: Progress) -> None:
    os._exit(3)  # a worker dying outright


def test_a_dead_worker_costs_its_targets_an_error_not_the_run() -> None:
    hosts = run_fleet([job(i) for i in range(2)], crash, RunOptions(workers=2, processes=1), ["logon"])
    assert [h.checks["logon"].cls for h in hosts] == ["error", "error"]
    assert "ended without a result" in hosts[0].checks["logon"].detail


def raise_bug(j: Job, stop: StopFlag, progress: Progress) -> None:
    raise KeyError("a bug")


def bug_after_logon(j: Job, stop: StopFlag, progress: Progress) -> None:
    progress.started = time.monotonic()
    progress.checks["logon"] = passed("ok", True)
    raise KeyError("a bug")


def test_a_probe_bug_costs_one_target() -> None:
    hosts = run_fleet([job(0), job(1)], raise_bug, RunOptions(workers=1, processes=1), ["logon"])
    assert hosts[0].checks["logon"].cls == "error"
    assert "verifier error: KeyError" in hosts[0].checks["logon"].detail
    later = run_fleet([job(0)], bug_after_logon, RunOptions(workers=1, processes=1), ["logon", "share:C$"])
    assert later[0].checks["logon"].ok is True
    assert "verifier error: KeyError" in later[0].checks["share:C$"].detail


# ---------------------------------------------------------------- the guard

class FakeClient:
    """Stands for KerberosClient: login raises what the test says."""

    error: KerberosError | None = None
    closed = 0

    def __init__(self, *args: Any) -> None:
        pass

    def login(self, password: str) -> str:
        assert password == PASSWORD
        if self.error is not None:
            raise self.error
        return "Your password will expire in 3 days"

    def close(self) -> None:
        FakeClient.closed += 1


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Any:
    ntlm_calls: list[str] = []

    def ntlm_at_dc(creds: Credentials, dc: str, timeout: float, why: str) -> None:
        ntlm_calls.append(why)
        if FakeClient.error is not None and FakeClient.error.cls == "account_locked":
            raise GuardStop("account_disabled", "disabled")

    monkeypatch.setattr(guard_module, "KerberosClient", FakeClient)
    monkeypatch.setattr(guard_module, "_ntlm_at_dc", ntlm_at_dc)
    return ntlm_calls


@pytest.mark.parametrize(("cls", "words"), [("logon_failure", "refused the password"),
                                            ("password_expired", "password has expired")])
def test_a_refused_account_stops_before_any_target(guard: Any, cls: str, words: str) -> None:
    FakeClient.error = KerberosError(cls, "the KDC said no")
    with pytest.raises(GuardStop) as err:
        preflight(CREDS, "dc1.ex.test", 5)
    assert err.value.cls == cls
    assert words in err.value.message
    assert "No target was contacted" in err.value.message
    assert PASSWORD not in err.value.message
    assert guard == [], "no second attempt after a refused password"


def test_revoked_is_told_apart_by_the_dc(guard: Any) -> None:
    FakeClient.error = KerberosError("account_locked", "revoked")
    with pytest.raises(GuardStop) as err:
        preflight(CREDS, "dc1.ex.test", 5)
    assert err.value.cls == "account_disabled"


def test_without_a_kdc_the_account_is_checked_over_ntlm(guard: Any) -> None:
    FakeClient.error = KerberosError("unreachable", "no KDC answered")
    client, unavailable, warnings = preflight(CREDS, "dc1.ex.test", 5)
    assert client is None
    assert "no KDC answered" in unavailable
    assert len(guard) == 1
    assert warnings and "NTLM" in warnings[0]


@pytest.mark.parametrize(("cls", "message"), [
    ("timeout", "the KDC did not answer within 10 s"),
    ("error", "kinit failed: something new"),
])
def test_a_kinit_that_may_have_reached_the_kdc_is_a_stop_not_ntlm(guard: Any, cls: str, message: str) -> None:
    FakeClient.error = KerberosError(cls, message)
    with pytest.raises(GuardStop) as err:
        preflight(CREDS, "dc1.ex.test", 5)
    assert err.value.cls == cls
    assert "NTLM is not tried" in err.value.message and message in err.value.message
    assert guard == [], "no NTLM logon after a KDC that may have counted a bad password"


def test_without_ntlm_an_unreachable_kdc_is_a_stop(guard: Any) -> None:
    FakeClient.error = KerberosError("unreachable", "no KDC answered")
    creds = Credentials.parse("scanner", PASSWORD, "ex.test", allow_ntlm=False)
    with pytest.raises(GuardStop) as err:
        preflight(creds, "dc1.ex.test", 5)
    assert "allow_ntlm is false" in err.value.message
    assert guard == []
    FakeClient.error = KerberosError("account_locked", "revoked")
    with pytest.raises(GuardStop) as err:
        preflight(creds, "dc1.ex.test", 5)
    assert err.value.cls == "account_locked" and guard == [], "not told apart over NTLM"


def test_a_kdc_warning_about_expiry_is_passed_on(guard: Any) -> None:
    FakeClient.error = None
    client, unavailable, warnings = preflight(CREDS, "dc1.ex.test", 5)
    assert client is not None and unavailable == ""
    assert "expire in 3 days" in warnings[0]


# ---------------------------------------------------------------- options

def params(**extra: Any) -> dict[str, Any]:
    base = {"username": "EX\\scanner", "password": PASSWORD, "domain": "ex.test", "dc": None, "allow_ntlmv1": False,
            "connect_timeout": 5, "target_timeout": 15}
    base.update(extra)
    return base


def test_settings_from_module_parameters() -> None:
    creds, dc, options = settings_from(params(), 16)
    assert (creds.username, dc, options.workers, options.target_timeout) == ("scanner", "ex.test", 16, 15.0)
    with pytest.raises(ValueError, match="must not be longer than target_timeout"):
        settings_from(params(connect_timeout=20))


@pytest.mark.parametrize(("extra", "workers", "words"), [
    ({"connect_timeout": 0}, 1, "connect_timeout must be between 1 and 3600 seconds, not 0"),
    ({"connect_timeout": -5}, 1, "connect_timeout must be between 1"),
    ({"target_timeout": 10**9}, 1, "target_timeout must be between 1 and 3600 seconds, not 1000000000"),
    ({}, 0, "workers must be between 1 and 1024, not 0"),
    ({}, -1, "workers must be between 1"),
    ({}, 10**9, "workers must be between 1 and 1024, not 1000000000"),
    ({"domain": "ex..test"}, 1, "domain: 'ex..test' is not a DNS name"),
    ({"domain": "ex.test\n[realms]"}, 1, "is not a DNS name"),
    ({"dc": "dc1..ex.test"}, 1, "dc: 'dc1..ex.test' is not a DNS name"),
    ({"dc": "fe80::1"}, 1, "dc: 'fe80::1' is not a DNS name"),
    ({"username": "-scanner"}, 1, "begins with '-'"),
    ({"username": "scan,ner"}, 1, "cannot hold: ','"),
    ({"username": 'scan"ner'}, 1, "cannot hold"),
    ({"username": "scan\tner"}, 1, "cannot hold"),
    ({"username": "a" * 21}, 1, "at most 20"),
    ({"allow_ntlm": False, "allow_ntlmv1": True}, 1, "allow_ntlmv1 needs allow_ntlm"),
])
def test_bad_settings_are_one_line_errors(extra: dict[str, Any], workers: int, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)) as raised:
        settings_from(params(**extra), workers)
    assert "\n" not in str(raised.value).replace("\\n", "")


def test_settings_accept_addresses_and_non_ascii_names() -> None:
    creds, dc, _options = settings_from(params(username="EX\\müller", dc="10.0.0.9"), 1)
    assert (creds.username, dc) == ("müller", "10.0.0.9")
    creds, _dc, _options = settings_from(params(allow_ntlm=False), 1)
    assert creds.schemes() == ("kerberos-aes", "kerberos-rc4")


def test_list_options_are_checked() -> None:
    assert checked_names("shares", [" C$", "c$", "ADMIN$"]) == ("C$", "ADMIN$")
    with pytest.raises(ValueError, match="empty entry"):
        checked_names("shares", ["C$", " "])
    with pytest.raises(ValueError, match="must start with HKLM"):
        checked_names("registry_keys", ["Software"])


def test_a_terminated_run_unwinds_and_restores_the_handler() -> None:
    """SIGTERM during a run raises SystemExit, so the run's finally blocks remove its ccaches."""
    import signal

    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(SystemExit) as stopped, run._terminated_as_exit():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            cleaned.append(True)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) == before


def test_targets_repeated_exactly_are_verified_once() -> None:
    entry = {"name": "T1.ex.test", "address": "10.0.0.1"}
    started = time.monotonic()
    specs, repeats = targets_from([entry] * 10_000 + [{"name": "t1.EX.test", "address": "10.0.0.1"},
                                                      {"name": "t2.ex.test", "address": None}])
    assert time.monotonic() - started < 1, "linear in the list"
    assert specs == [TargetSpec("T1.ex.test", "10.0.0.1"), TargetSpec("t2.ex.test")]
    assert repeats == 10_000


@pytest.mark.parametrize(("items", "words"), [
    ([], "targets is empty"),
    ([{"name": " ", "address": None}], "non-empty name"),
    ([{"name": "t1", "address": "10.0.0.1"}, {"name": "T1", "address": "10.0.0.2"}],
     "names 1 target(s) with different addresses: t1"),
])
def test_bad_target_lists_are_one_line_errors(items: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        targets_from(items)


def test_a_scan_request_is_checked_whole_before_anything_is_contacted() -> None:
    scan = params(workers=8, targets=[{"name": "t1.ex.test", "address": "10.0.0.1"}] * 2, shares=["C$", "c$"],
                  registry_keys=["HKLM\\Software"], services=[], wmi_namespaces=[])
    request = scan_request(scan)
    assert (request.dc, request.options.workers, request.repeats) == ("ex.test", 8, 1)
    assert request.targets == (TargetSpec("t1.ex.test", "10.0.0.1"),)
    assert request.checks.names() == ["logon", "smb_signing", "share:C$", "registry:HKLM\\Software"]
    with pytest.raises(ValueError, match="must start with HKLM"):
        scan_request({**scan, "registry_keys": ["Software"]})


def test_a_run_stopped_at_the_dc_reports_every_target_as_not_attempted() -> None:
    """So that the reports of a stopped run say why, for each target, rather than leaving an earlier run's."""
    targets = [{"name": "t1.ex.test", "address": "10.0.0.1"}, {"name": "t2.ex.test"}]
    request = scan_request(params(workers=4, targets=targets, shares=["C$"], registry_keys=["HKLM\\Software"],
                                  services=[], wmi_namespaces=[]))
    stop = GuardStop("logon_failure", "The domain controller ex.test refused the password. No target was contacted.")
    result = run.stopped_at_dc(request, stop).as_result()
    assert (result["domain"], result["account"]) == ("ex.test", "scanner")
    assert result["summary"] == {"total": 2, "ready": 0, "not_ready": 2}
    assert [(h["name"], h["address"], h["ready"]) for h in result["hosts"]] == [
        ("t1.ex.test", "10.0.0.1", False), ("t2.ex.test", "", False)]
    for host in result["hosts"]:
        assert list(host["checks"]) == request.checks.names()
        logon = host["checks"]["logon"]
        assert (logon["ok"], logon["class"], logon["required"], logon["detail"]) == (
            False, "logon_failure", True, stop.message)
        assert "Nothing was sent to this host" in logon["fix"]
        assert all(check["ok"] is None for name, check in host["checks"].items() if name != "logon")
    junit = render_junit(parse_result(result))
    assert junit.count("<failure ") == 2 and "refused the password" in junit


# ---------------------------------------------------------------- least privilege and scan windows

@pytest.mark.parametrize(("cls", "words"), [
    ("account_expired", "Fix: The scan window ended: run scanready.windows.scan_window with scanready_account_expires"),
    ("account_disabled", "Fix: Enable the account"),
])
def test_an_expired_or_disabled_account_is_named_with_its_fix(guard: Any, cls: str, words: str) -> None:
    """Expired comes straight from the KDC; disabled from the DC's NTLM answer after the KDC's "revoked"."""
    FakeClient.error = KerberosError("account_expired" if cls == "account_expired" else "account_locked", "no")
    with pytest.raises(GuardStop) as err:
        preflight(CREDS, "dc1.ex.test", 5)
    assert err.value.cls == cls
    assert words in err.value.message
    assert "No target was contacted" in err.value.message
    assert PASSWORD not in err.value.message


def test_a_target_can_be_marked_a_domain_controller_and_the_privilege_is_checked() -> None:
    specs, _repeats = targets_from([{"name": "dc1.ex.test", "address": "10.0.0.1", "domain_controller": True},
                                    {"name": "t1.ex.test", "address": "10.0.0.2"}])
    assert [s.domain_controller for s in specs] == [True, False]
    request = scan_request(params(workers=8, targets=[{"name": "dc1.ex.test", "domain_controller": True}],
                                  shares=["C$"], registry_keys=[], services=[], wmi_namespaces=[],
                                  privilege="local_admins"))
    assert request.privilege == "local_admins"
    assert request.targets[0].domain_controller
    assert scan_request({**params(workers=8, targets=[{"name": "t1"}], shares=["C$"], registry_keys=[], services=[],
                                  wmi_namespaces=[])}).privilege == "domain_admins"
    with pytest.raises(ValueError, match="privilege must be one of"):
        scan_request(params(workers=8, targets=[{"name": "t1"}], shares=["C$"], registry_keys=[], services=[],
                            wmi_namespaces=[], privilege="enterprise_admins"))


def test_resolve_keeps_the_domain_controller_mark() -> None:
    jobs = resolve([TargetSpec("dc1.ex.test", "10.0.0.1", True), TargetSpec("t1.ex.test", "10.0.0.2")])
    assert [j.domain_controller for j in jobs] == [True, False]


DENIED = {"share:C$": failed("share", "access_denied", "C$: STATUS_ACCESS_DENIED", True),
          "share:IPC$": passed("opened IPC$", True),
          "registry:HKLM\\Software": failed("registry", "access_denied", "denied", True),
          "service:MpsSvc": failed("service", "service_unknown", "unknown", False)}


def test_on_a_dc_in_local_admins_mode_a_denied_admin_check_names_its_cause() -> None:
    found = dict(DENIED)
    name_dc_cause(found)
    for name in ("share:C$", "registry:HKLM\\Software"):
        assert found[name].cls == "dc_needs_domain_admin"
        assert found[name].ok is False and found[name].required
        assert "a domain controller" in found[name].detail
        assert found[name].fix is not None
        assert "domain controllers are kept out of the scanner group's reach" in found[name].fix.lower()
        assert "Domain Admins account (a second scanner account)" in found[name].fix
        assert "privilege domain_admins" in found[name].fix
    assert found["share:IPC$"] == DENIED["share:IPC$"]
    assert found["service:MpsSvc"] == DENIED["service:MpsSvc"], "only access denied is the DC's cause"
    assert class_label("dc_needs_domain_admin") == "Domain controller needs a Domain Admin"


class DeniedSession:
    detail, scheme, signing_required = "logged on", "ntlmv2", True

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("dc", "privilege", "cls"), [
    (True, "local_admins", "dc_needs_domain_admin"),
    (True, "domain_admins", "access_denied"),
    (False, "local_admins", "access_denied"),
])
def test_only_a_dc_in_local_admins_mode_gets_the_dc_cause(monkeypatch: pytest.MonkeyPatch, dc: bool, privilege: str,
                                                          cls: str) -> None:
    def shares(session: Any, names: Any, found: dict[str, Any]) -> None:
        found["share:C$"] = failed("share", "access_denied", "C$: STATUS_ACCESS_DENIED", True)

    monkeypatch.setattr(target_module, "logon", lambda *args: DeniedSession())
    monkeypatch.setattr(target_module, "probe_shares", shares)
    for probe in ("probe_registry", "probe_services", "probe_wmi"):
        monkeypatch.setattr(target_module, probe, lambda *args: None)
    flag = SimpleNamespace(is_set=lambda: False, set=lambda: None)
    verifier = Verifier(CREDS, CheckSet(("C$",), (), (), ()), RunOptions(), None, privilege)
    progress = Progress()
    target_module.verify_target(Job(0, "dc1.ex.test", Endpoint("10.0.0.1", "dc1.ex.test"), domain_controller=dc),
                                verifier, flag, progress)
    assert progress.checks["share:C$"].cls == cls
