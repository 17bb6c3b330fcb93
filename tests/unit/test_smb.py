"""The authentication ladder with fakes: order, fallbacks said aloud, the lockout stop, NTLMv1 only when allowed."""
from __future__ import annotations

import time
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._smb import client as _client
from ansible_collections.scanready.windows.plugins.module_utils._verify import smb as _smb
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials, Endpoint
from ansible_collections.scanready.windows.plugins.module_utils._verify.kerberos import ServiceTicket
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import (
    SessionFailure,
    classify_connect_error,
    logon,
)
from impacket import smb3

PASSWORD = "Unit-Test-Secret-9"
LOGON_FAILURE = 0xC000006D
ACCOUNT_LOCKED_OUT = 0xC0000234
NOT_SUPPORTED = 0xC00000BB
ACCESS_DENIED = 0xC0000022


class FakeConn:
    """Stands for impacket's SMB3: answers each session setup from a script keyed by scheme."""

    def __init__(self, script: dict[str, int | None], log: list[str]) -> None:
        self.script = script
        self.log = log
        self.closed = False

    def setTimeout(self, timeout: float) -> None:
        self.timeout = timeout

    def _answer(self, scheme: str) -> None:
        self.log.append(scheme)
        status = self.script.get(scheme)
        if status is not None:
            raise smb3.SessionError(status)

    def kerberosLogin(self, user: str, password: str, domain: str, TGS: Any = None) -> None:
        assert password == ""
        self._answer(TGS["scheme"])

    def login(self, user: str, password: str, domain: str) -> None:
        assert password == PASSWORD
        self._answer("ntlmv1" if getattr(_client._ntlm_version, "v1", False) else "ntlmv2")

    def close_session(self) -> None:
        self.closed = True


class FakeTickets:
    def __init__(self, missing: dict[str, str] | None = None) -> None:
        self.missing = missing or {}

    def ticket(self, scheme: str, spn: str) -> ServiceTicket | str:
        if scheme in self.missing:
            return self.missing[scheme]
        etype = "aes256-cts-hmac-sha1-96" if scheme == "kerberos-aes" else "rc4-hmac"
        return ServiceTicket(spn, etype, "aes256-cts-hmac-sha1-96", {"scheme": scheme})


@pytest.fixture
def ladder(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the ladder against a script; returns (session or failure, schemes tried, connections made)."""
    def run(script: dict[str, int | None], *, allow_ntlmv1: bool = False, tickets: Any = None,
            dns_name: str | None = "t1.ex.test", stopped: bool = False) -> tuple[Any, list[str], int]:
        log: list[str] = []
        made: list[FakeConn] = []

        def connect(endpoint: Endpoint, timeout: float) -> FakeConn:
            made.append(FakeConn(script, log))
            return made[-1]

        monkeypatch.setattr(_smb, "connect", connect)
        creds = Credentials.parse("EX\\scanner", PASSWORD, "ex.test", allow_ntlmv1)
        try:
            outcome: Any = logon(Endpoint("10.0.0.5", dns_name, "no DNS name here"), creds,
                                 FakeTickets() if tickets is None else tickets, 5, time.monotonic() + 30,
                                 lambda: stopped)
        except SessionFailure as failure:
            outcome = failure
        return outcome, log, len(made)
    return run


def test_kerberos_aes_first(ladder: Any) -> None:
    session, tried, conns = ladder({})
    assert session.scheme == "kerberos-aes"
    assert tried == ["kerberos-aes"]
    assert conns == 1
    assert "aes256-cts-hmac-sha1-96" in session.detail


def test_no_dns_name_skips_kerberos_and_says_why(ladder: Any) -> None:
    session, tried, _result = ladder({}, dns_name=None)
    assert session.scheme == "ntlmv2"
    assert tried == ["ntlmv2"]
    assert "Kerberos AES not tried: no DNS name here" in session.detail
    assert "Kerberos RC4 not tried" in session.detail


def test_a_refused_ticket_falls_back_without_stopping_the_run(ladder: Any) -> None:
    session, tried, conns = ladder({"kerberos-aes": LOGON_FAILURE, "kerberos-rc4": LOGON_FAILURE})
    assert session.scheme == "ntlmv2"
    assert tried == ["kerberos-aes", "kerberos-rc4", "ntlmv2"]
    assert conns == 3, "a fresh connection per rung after a refused session setup"
    assert "Kerberos AES refused by the host (STATUS_LOGON_FAILURE)" in session.detail


def test_rc4_when_the_kdc_gives_no_aes_ticket(ladder: Any) -> None:
    no_aes = FakeTickets({"kerberos-aes": "KDC has no support for encryption type"})
    session, tried, _result = ladder({}, tickets=no_aes)
    assert session.scheme == "kerberos-rc4"
    assert tried == ["kerberos-rc4"]
    assert "session key rc4-hmac" in session.detail


@pytest.mark.parametrize(("status", "cls"), [(LOGON_FAILURE, "logon_failure"),
                                             (ACCOUNT_LOCKED_OUT, "account_locked")])
def test_an_ntlm_refusal_of_the_account_stops_the_run(ladder: Any, status: int, cls: str) -> None:
    failure, tried, _result = ladder(
        {"kerberos-aes": LOGON_FAILURE, "kerberos-rc4": LOGON_FAILURE, "ntlmv2": status}, allow_ntlmv1=True)
    assert isinstance(failure, SessionFailure)
    assert failure.stops_run
    assert failure.cls == cls
    assert "ntlmv1" not in tried, "never another attempt after the account was refused"


def test_ntlmv1_is_never_tried_unless_allowed(ladder: Any) -> None:
    failure, tried, _result = ladder({"ntlmv2": NOT_SUPPORTED}, dns_name=None)
    assert isinstance(failure, SessionFailure)
    assert tried == ["ntlmv2"]
    assert failure.cls == "refused"
    assert not failure.stops_run


def test_ntlmv1_when_allowed_and_ntlmv2_is_not_supported(ladder: Any) -> None:
    session, tried, _result = ladder({"ntlmv2": NOT_SUPPORTED}, dns_name=None, allow_ntlmv1=True)
    assert session.scheme == "ntlmv1"
    assert tried == ["ntlmv2", "ntlmv1"]
    assert not getattr(_client._ntlm_version, "v1", False), "the switch is off again after the attempt"


def test_access_denied_on_ntlm_session_setup_is_spn_hardening(ladder: Any) -> None:
    failure, _tried, _result = ladder(
        {"kerberos-aes": LOGON_FAILURE, "kerberos-rc4": LOGON_FAILURE, "ntlmv2": ACCESS_DENIED})
    assert failure.cls == "spn_hardening"
    assert not failure.stops_run


def test_nothing_is_attempted_once_the_run_stopped(ladder: Any) -> None:
    failure, tried, conns = ladder({}, stopped=True)
    assert failure.cls == "not_tested"
    assert tried == []
    assert conns == 0


def test_credentials_forms_and_repr() -> None:
    for given in ("scanner", "EX\\scanner", "scanner@ex.test"):
        creds = Credentials.parse(given, PASSWORD, "Ex.Test.")
        assert (creds.username, creds.domain, creds.realm) == ("scanner", "ex.test", "EX.TEST")
        assert PASSWORD not in repr(creds)
    assert Credentials.parse("s", PASSWORD, "ex.test").schemes() == ("kerberos-aes", "kerberos-rc4", "ntlmv2")
    with pytest.raises(ValueError, match="must not be empty"):
        Credentials.parse("EX\\", PASSWORD, "ex.test")


def test_connection_errors_are_classified() -> None:
    refused = OSError("Connection error (10.0.0.5:445)", ConnectionRefusedError(111, "Connection refused"))
    filtered = OSError("Connection error (10.0.0.5:445)", TimeoutError("timed out"))
    no_route = OSError("Connection error (10.0.0.5:445)", OSError(113, "No route to host"))
    assert classify_connect_error(refused, "10.0.0.5", 5)[0] == "refused"
    assert classify_connect_error(filtered, "10.0.0.5", 5) == (
        "unreachable", "no answer from 10.0.0.5 on TCP 445 within 5 s (filtered)")
    assert classify_connect_error(no_route, "10.0.0.5", 5)[0] == "unreachable"


class FakePipeConn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def connectTree(self, share: str) -> int:
        self.calls.append(("tree", share))
        return 7

    def create(self, tid: int, name: str, *args: Any) -> str:
        self.calls.append(("create", name))
        return "fid"

    def TransactNamedPipe(self, tid: int, fid: str, data: bytes) -> bytes:
        self.calls.append(("transceive", data))
        return b"reply:" + data

    def read(self, tid: int, fid: str, offset: int, size: int) -> bytes:
        self.calls.append(("read", size))
        return b"more"

    def close(self, tid: int, fid: str) -> None:
        self.calls.append(("close", fid))


def test_pipe_calls_are_one_transceive_each_over_the_sessions_ipc_tree() -> None:
    conn = FakePipeConn()
    session = _smb.Session(conn, Endpoint("10.0.0.5", None), "ntlmv2", "", time.monotonic() + 10)
    pipe = _smb._Pipe(session, "winreg")
    pipe.connect()
    pipe.send(b"bind")
    assert pipe.recv() == b"reply:bind"
    assert pipe.recv() == b"more", "a further fragment is read"
    _smb._Pipe(session, "svcctl").connect()
    pipe.disconnect()
    assert [c for c in conn.calls if c[0] == "tree"] == [("tree", "IPC$")], "one IPC$ tree per session"
    assert ("transceive", b"bind") in conn.calls
    assert conn.calls[-1] == ("close", "fid")
