"""The WMI probe without a peer: DCOM errors classified, and a fake DCOM layer (impacket's own CLASS_INSTANCE for
the level the host names in its activation answer) that answers each namespace by the level the connection used."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials, Endpoint
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes import wmi as probe
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.wmi import (
    classify_wmi,
    namespace_path,
    probe_wmi,
    refusal_verdict,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import CheckResult
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import Session
from impacket.dcerpc.v5 import dcomrt, rpcrt
from impacket.dcerpc.v5.dcom import wmi
from impacket.dcerpc.v5.rpcrt import DCERPCException

BIND_REJECTED = DCERPCException("Bind context 1 rejected: provider_rejection; abstract_syntax_not_supported "
                                "(this usually means the interface isn't listening on the given endpoint)")
ENCRYPTION_REQUIRED = 0x80041087  # WBEM_E_ENCRYPTED_CONNECTION_REQUIRED
WBEM_ACCESS_DENIED = 0x80041003
CREDS = Credentials.parse("scanner", "Unit-Test-Secret-9", "ex.test")
TPM, TS = "root\\cimv2\\security\\microsofttpm", "root\\CIMV2\\TerminalServices"
NAMESPACES = [TPM, TS]


def test_levels_are_impackets() -> None:
    assert (probe.PKT_INTEGRITY, probe.PKT_PRIVACY) == (rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY,
                                                        rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY)


@pytest.mark.parametrize(("exc", "ok", "cls", "definitive"), [
    (BIND_REJECTED, None, "wmi_unavailable", False),
    (wmi.DCERPCSessionError(error_code=ENCRYPTION_REQUIRED), False, "wmi_privacy_not_enforced", True),
    (wmi.DCERPCSessionError(error_code=WBEM_ACCESS_DENIED), False, "wmi_access_denied", True),
    (dcomrt.DCERPCSessionError(error_code=0x80070005), False, "wmi_access_denied", True),  # E_ACCESSDENIED
    (DCERPCException(error_code=5), False, "wmi_access_denied", True),                   # rpc_s_access_denied
    (DCERPCException("rpc_s_access_denied"), False, "wmi_access_denied", True),
    (wmi.DCERPCSessionError(error_code=0x8004100E), None, "wmi_unavailable", False),     # invalid namespace
    (dcomrt.DCERPCSessionError(error_code=0x80040154), None, "wmi_unavailable", False),  # class not registered
    (DCERPCException("Could not connect: [Errno 111] Connection refused"), False, "refused", False),
    (ConnectionRefusedError(111, "Connection refused"), False, "refused", False),
    (OSError(113, "No route to host"), False, "unreachable", False),
    (TimeoutError(), False, "timeout", False),
    (RuntimeError("something else"), False, "error", False),
])
def test_wmi_errors(exc: BaseException, ok: bool | None, cls: str, definitive: bool) -> None:
    seen = classify_wmi(exc)
    assert (seen[0], seen[1], seen[3]) == (ok, cls, definitive)


def test_encryption_required_names_the_level_tried() -> None:
    detail = classify_wmi(wmi.DCERPCSessionError(error_code=ENCRYPTION_REQUIRED))[2]
    assert "did not raise this one from Packet Integrity to Packet Privacy" in detail and "0x80041087" in detail


def denied() -> BaseException:
    return wmi.DCERPCSessionError(error_code=WBEM_ACCESS_DENIED)


def encryption() -> BaseException:
    return wmi.DCERPCSessionError(error_code=ENCRYPTION_REQUIRED)


@pytest.mark.parametrize(("refused", "at_privacy", "cls", "words"), [
    (denied(), None, "wmi_privacy_not_enforced", "opened at Packet Privacy"),  # denied below Privacy, not for access
    (encryption(), None, "wmi_privacy_not_enforced", "opened at Packet Privacy"),
    (denied(), denied(), "wmi_access_denied", "access denied at Packet Privacy too"),  # no access at all
    (encryption(), denied(), "wmi_access_denied", "the account has no WMI access here"),
    (encryption(), TimeoutError(), "wmi_privacy_not_enforced", "did not settle it (WMI did not answer in time)"),
    (denied(), OSError(113, "No route to host"), "wmi_access_denied", "did not settle it"),
])
def test_the_logon_at_packet_privacy_tells_the_refusals_apart(
        refused: BaseException, at_privacy: BaseException | None, cls: str, words: str) -> None:
    ok, seen, detail, definitive = refusal_verdict(refused, at_privacy)
    assert (ok, seen, definitive) == (False, cls, True)
    assert words in detail


def test_namespace_paths() -> None:
    assert namespace_path("root\\cimv2\\security\\microsofttpm") == "//./root/cimv2/security/microsofttpm"


# --------------------------------------------------------------------------------- a fake DCOM layer

Answer = Callable[[int], BaseException | None]  # the level the connection used -> what NTLMLogin raises


def needs_privacy(level: int) -> BaseException | None:
    """A namespace that requires encryption: refused below Packet Privacy."""
    return None if level == rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY else encryption()


def never(level: int) -> BaseException | None:
    return denied()


class FakeHost:
    """One host: the level it names in its activation answers (authnHint: 6 when WMI runs in its own svchost at
    level 6) and how each namespace answers. Records the levels asked for and used."""

    def __init__(self, hint: int, answers: dict[str, Answer] | None = None) -> None:
        self.hint, self.answers = hint, answers or {}
        self.asked: list[int] = []
        self.used: list[tuple[int, str]] = []
        self.disconnects = 0

    def connect(self, address: str, dns_name: str, creds: Credentials, ticket: Any, timeout: float,
                level: int) -> FakeDcom:
        self.asked.append(level)
        return FakeDcom(self)


class FakeDcom:
    def __init__(self, host: FakeHost) -> None:
        self.host = host

    def CoCreateInstanceEx(self, clsid: bytes, iid: bytes) -> FakeInterface:
        cinstance = dcomrt.CLASS_INSTANCE(None, None)
        cinstance.set_auth_level(self.host.hint)
        cinstance.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
        return FakeInterface(self.host, cinstance)

    def disconnect(self) -> None:
        self.host.disconnects += 1


class FakeInterface:
    def __init__(self, host: FakeHost, cinstance: Any) -> None:
        self.host, self.cinstance = host, cinstance

    def get_cinstance(self) -> Any:
        return self.cinstance


class FakeServices:
    def RemRelease(self) -> None:
        pass


class FakeLogin:
    """Stands for wmi.IWbemLevel1Login: answers at the level impacket would connect the object at."""

    released: ClassVar[int] = 0

    def __init__(self, interface: FakeInterface) -> None:
        self.host, self.level = interface.host, interface.get_cinstance().get_auth_level()

    def NTLMLogin(self, path: str, locale: Any, context: Any) -> FakeServices:
        namespace = next(ns for ns in NAMESPACES if namespace_path(ns) == path)
        self.host.used.append((self.level, namespace))
        error = self.host.answers.get(namespace, lambda level: None)(self.level)
        if error is not None:
            raise error
        return FakeServices()

    def RemRelease(self) -> None:
        FakeLogin.released += 1


class FakeSession(Session):
    def __init__(self, scheme: str = "ntlmv2") -> None:
        super().__init__(conn=None, endpoint=Endpoint("10.0.0.5", "t1.ex.test"), scheme=scheme, detail="",
                         deadline=time.monotonic() + 30)


def run_probe(host: FakeHost, monkeypatch: pytest.MonkeyPatch) -> dict[str, CheckResult]:
    monkeypatch.setattr(wmi, "IWbemLevel1Login", FakeLogin)
    found: dict[str, CheckResult] = {}
    probe_wmi(FakeSession(), CREDS, None, NAMESPACES, found, connect=host.connect, activator=lambda *args: None)
    return {name.removeprefix("wmi:"): check for name, check in found.items()}


INTEGRITY, PRIVACY = rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY, rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY


def test_standalone_at_level_6_raises_a_scanners_connection_and_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    host = FakeHost(hint=PRIVACY, answers={TPM: needs_privacy, TS: needs_privacy})
    found = run_probe(host, monkeypatch)
    assert host.asked == [INTEGRITY]  # one connection, as a scanner makes it
    assert host.used == [(PRIVACY, TPM), (PRIVACY, TS)]
    for check in found.values():
        assert (check.ok, check.cls, check.required, check.fix) == (True, "ok", False, None)
        assert "connecting at Packet Integrity, as a scanner does; the host raised the connection to Packet Privacy" \
            in check.detail
    assert host.disconnects == 1


def test_shared_host_refuses_a_scanner_and_the_check_names_the_wmi_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    # authnHint 5 (or lower): impacket alone would connect at Integrity for NTLM; the check does so on purpose.
    host = FakeHost(hint=5, answers={TPM: needs_privacy, TS: needs_privacy})
    found = run_probe(host, monkeypatch)
    assert host.asked == [INTEGRITY, PRIVACY]  # the second logon, at Packet Privacy, opens both
    assert host.used == [(INTEGRITY, TPM), (INTEGRITY, TS), (PRIVACY, TPM), (PRIVACY, TS)]
    for check in found.values():
        assert (check.ok, check.cls, check.required) == (False, "wmi_privacy_not_enforced", True)
        assert "winmgmt /standalonehost 6" in (check.fix or "") and "wmi_privacy" in (check.fix or "")
    assert host.disconnects == 2


def test_kerberos_hint_is_not_raised_to_privacy_behind_the_checks_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # impacket raises any hint below 6 to Packet Privacy for Kerberos: the pinned level keeps Integrity.
    host = FakeHost(hint=2, answers={TPM: needs_privacy})
    original = FakeDcom.CoCreateInstanceEx

    def kerberos(self: FakeDcom, clsid: bytes, iid: bytes) -> FakeInterface:
        interface = original(self, clsid, iid)
        interface.cinstance.set_auth_type(rpcrt.RPC_C_AUTHN_GSS_NEGOTIATE)
        return interface

    monkeypatch.setattr(FakeDcom, "CoCreateInstanceEx", kerberos)
    found = run_probe(host, monkeypatch)
    assert host.used[0] == (INTEGRITY, TPM)
    assert found[TPM].cls == "wmi_privacy_not_enforced" and found[TS].cls == "ok"


def test_no_access_at_either_level_is_access_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    host = FakeHost(hint=PRIVACY, answers={TPM: never})
    found = run_probe(host, monkeypatch)
    assert (found[TPM].ok, found[TPM].cls, found[TPM].required) == (False, "wmi_access_denied", True)
    assert "access denied at Packet Privacy too" in found[TPM].detail
    assert "Remote Enable" in (found[TPM].fix or "")
    assert found[TS].ok is True
    assert host.used[-1] == (PRIVACY, TPM)  # only the refused namespace is tried again


def test_a_second_logon_that_cannot_connect_leaves_the_first_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    host = FakeHost(hint=5, answers={TPM: needs_privacy})
    first = host.connect

    def second_fails(*args: Any) -> FakeDcom:
        if host.asked:
            raise TimeoutError("timed out")
        return first(*args)

    host.connect = second_fails  # type: ignore[method-assign]
    found = run_probe(host, monkeypatch)
    assert found[TPM].cls == "wmi_privacy_not_enforced"  # 0x80041087 says so on its own
    assert "did not settle it" in found[TPM].detail


def test_no_dcom_activator_is_untestable_and_costs_no_logon() -> None:
    def activator(*args: Any) -> None:
        raise BIND_REJECTED

    class NoTickets:
        def ticket(self, scheme: str, spn: str) -> str:
            raise AssertionError("no ticket is asked for without an activator")

    found: dict[str, CheckResult] = {}
    probe_wmi(FakeSession(scheme="kerberos-aes"), CREDS, NoTickets(), NAMESPACES, found,
              connect=lambda *args: pytest.fail("no logon without an activator"), activator=activator)
    for check in found.values():
        assert (check.ok, check.cls, check.required) == (None, "wmi_unavailable", False)
        assert check.fix


def test_a_filtered_rpc_port_is_a_wmi_failure_that_does_not_decide_readiness() -> None:
    def activator(*args: Any) -> None:
        raise DCERPCException("Could not connect: timed out")

    found: dict[str, CheckResult] = {}
    probe_wmi(FakeSession(), CREDS, None, NAMESPACES, found, activator=activator)
    check = found["wmi:" + NAMESPACES[0]]
    assert (check.ok, check.cls, check.required) == (False, "unreachable", False)
    assert "TCP 135" in (check.fix or "")


def test_wmi_after_kerberos_needs_a_host_ticket() -> None:
    class NoTickets:
        def ticket(self, scheme: str, spn: str) -> str:
            assert spn == "host/t1.ex.test"
            return "Server not found in Kerberos database"

    found: dict[str, CheckResult] = {}
    probe_wmi(FakeSession(scheme="kerberos-aes"), CREDS, NoTickets(), NAMESPACES, found,
              connect=lambda *args: pytest.fail("no DCOM without a ticket"), activator=lambda *args: None)
    assert {c.cls for c in found.values()} == {"not_tested"}
    assert "host/t1.ex.test" in found["wmi:" + NAMESPACES[0]].detail
