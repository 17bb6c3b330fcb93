"""scan_readiness against the lab: every lab class classified with its fix, Kerberos AES and RC4 against Samba's KDC,
the NTLM fallback said aloud, nothing changed on a target, no secret in any output."""
from __future__ import annotations

import contextlib
import hashlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from impacket.dcerpc.v5 import rrp, transport

from tests.lab_support import LabInfo, Target, load_lab, run_module

pytestmark = pytest.mark.lab

INSTANCE = "verify"
SCANNER = "ir_scanner"
SCANNER_PASSWORD = "Verify-Lab-Scanner-7"


@dataclass(frozen=True)
class Scanner:
    """The lab and a Domain Admins scanner account made for these tests."""

    lab: LabInfo
    username: str
    password: str

    def args(self, **extra: Any) -> dict[str, Any]:
        return {"domain": self.lab.vars["scanready_domain"], "dc": self.lab.vars["scanready_dc"],
                "username": self.username, "password": self.password, **extra}


def samba_tool(lab: LabInfo, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["samba-tool", *args, "-H", lab.sam_ldb], capture_output=True, text=True, check=check)


def make_scanner(lab: LabInfo, name: str, password: str) -> Scanner:
    """A Domain Admins account made with Samba's own tool (not our code), made anew each time."""
    samba_tool(lab, "user", "delete", name, check=False)
    samba_tool(lab, "user", "create", name, password)
    samba_tool(lab, "group", "addmembers", "Domain Admins", name)
    return Scanner(lab, name, password)


def scanner_account() -> Iterator[Scanner]:
    """The body of each test module's `scanner` fixture: the account for the module's tests."""
    lab = load_lab(INSTANCE)
    account = make_scanner(lab, SCANNER, SCANNER_PASSWORD)
    try:
        yield account
    finally:
        samba_tool(lab, "user", "delete", SCANNER, check=False)


@pytest.fixture(scope="module")
def scanner() -> Iterator[Scanner]:
    yield from scanner_account()


def member_target(lab: LabInfo) -> Target:
    """A ready target that is not the DC."""
    return next(t for t in lab.by_class("ready") if t.name != lab.vars["scanready_dc"])


def lab_targets(lab: LabInfo) -> list[dict[str, str]]:
    return [{"name": t.name, "address": t.address} for t in lab.targets]


def winreg_pipe_opens(lab: LabInfo, address: str) -> bool:
    """Read the target's state ourselves (impacket directly, as the lab admin): is \\pipe\\winreg there?"""
    rpc = transport.DCERPCTransportFactory(f"ncacn_np:{address}[\\pipe\\winreg]")
    rpc.set_credentials("Administrator", lab.vars["scanready_admin_password"], lab.vars["lab_netbios"])
    rpc.set_connect_timeout(10)
    dce = rpc.get_dce_rpc()
    try:
        dce.connect()
        dce.bind(rrp.MSRPC_UUID_RRP)
    except Exception as exc:
        if "STATUS_OBJECT_NAME_NOT_FOUND" in str(exc):
            return False
        raise
    dce.disconnect()
    return True


def share_tree_digest(lab: LabInfo) -> str:
    """Names, sizes and times of everything under the lab's share directories (a write would show)."""
    digest = hashlib.sha256()
    for path in sorted((lab.state / "share").rglob("*")):
        info = path.stat()
        digest.update(f"{path}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def fleet(scanner: Scanner) -> dict[str, Any]:
    """One run over every lab target. Samba starts its RPC workers on demand and the first concurrent
    svcctl calls after a pause wait ~10 s for them (a lab-peer effect), so a first run warms them."""
    args = scanner.args(targets=lab_targets(scanner.lab), target_timeout=8)
    run_module("scan_readiness", args)
    before = share_tree_digest(scanner.lab)
    run = run_module("scan_readiness", args)
    assert not run.failed, run.output
    return {"result": run.result, "before": before, "after": share_tree_digest(scanner.lab)}


def hosts_by_class(scanner: Scanner, result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    hosts = {h["name"]: h for h in result["hosts"]}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for target in scanner.lab.targets:
        grouped.setdefault(target.expected, []).append(hosts[target.name])
    return grouped


def test_the_result_has_the_contract_shape(scanner: Scanner, fleet: dict[str, Any]) -> None:
    result = fleet["result"]
    assert result["changed"] is False
    assert result["domain"] == scanner.lab.vars["scanready_domain"]
    assert result["account"] == SCANNER
    assert [h["name"] for h in result["hosts"]] == [t.name for t in scanner.lab.targets]
    ready = sum(1 for h in result["hosts"] if h["ready"])
    assert result["summary"] == {"total": len(scanner.lab.targets), "ready": ready,
                                 "not_ready": len(scanner.lab.targets) - ready}
    assert isinstance(result["elapsed_s"], float)
    for host in result["hosts"]:
        assert set(host) == {"name", "address", "ready", "auth_scheme", "duration_s", "checks"}
        for check in host["checks"].values():
            assert set(check) == {"ok", "class", "required", "detail", "fix"}
            assert (check["fix"] is None) == (check["ok"] is True or check["class"] == "not_tested"), check
        assert host["ready"] == all(c["ok"] is True for c in host["checks"].values() if c["required"])


def test_ready_targets_are_ready_with_kerberos_aes(scanner: Scanner, fleet: dict[str, Any]) -> None:
    ready = hosts_by_class(scanner, fleet["result"])["ready"]
    assert any(h["name"] == scanner.lab.vars["scanready_dc"] for h in ready), "the DC is a target too"
    for host in ready:
        assert host["ready"], host
        assert host["auth_scheme"] == "kerberos-aes"
        checks = host["checks"]
        assert "Kerberos AES (session key aes256-cts-hmac-sha1-96" in checks["logon"]["detail"]
        assert "listed its root" in checks["share:C$"]["detail"]
        assert checks["registry:HKLM\\Software"]["ok"] is True
        # Samba's svcctl: RemoteRegistry is Manual and running, the others unknown; no DCOM at all.
        assert checks["service:RemoteRegistry"]["class"] == "service_not_automatic"
        assert checks["service:RemoteRegistry"]["required"] is False
        assert "Automatic" in checks["service:RemoteRegistry"]["fix"]
        assert checks["service:LanmanServer"]["class"] == "service_unknown"
        assert checks["service:LanmanServer"]["ok"] is None
        for name in ("wmi:root\\cimv2\\security\\microsofttpm", "wmi:root\\CIMV2\\TerminalServices"):
            assert (checks[name]["ok"], checks[name]["class"]) == (None, "wmi_unavailable")


@pytest.mark.parametrize(("expected", "check", "cls", "fix_words"), [
    ("firewall_blocked", "logon", "unreachable", "TCP 445"),
    ("port_closed", "logon", "refused", "Server service"),
    ("share_denied", "share:C$", "access_denied", "LocalAccountTokenFilterPolicy"),
    ("registry_off", "registry:HKLM\\Software", "registry_unavailable", "Remote Registry"),
])
def test_each_not_ready_class_names_its_fix(scanner: Scanner, fleet: dict[str, Any], expected: str, check: str,
                                            cls: str, fix_words: str) -> None:
    for host in hosts_by_class(scanner, fleet["result"])[expected]:
        assert host["ready"] is False
        found = host["checks"][check]
        assert (found["ok"], found["class"], found["required"]) == (False, cls, True), found
        assert fix_words in found["fix"]


def test_unreachable_and_refused_targets_have_no_session(scanner: Scanner, fleet: dict[str, Any]) -> None:
    grouped = hosts_by_class(scanner, fleet["result"])
    for host in grouped["firewall_blocked"] + grouped["port_closed"]:
        assert host["auth_scheme"] is None
        assert {c["class"] for n, c in host["checks"].items() if n != "logon"} == {"not_tested"}
    assert "within 5 s (filtered)" in grouped["firewall_blocked"][0]["checks"]["logon"]["detail"]


def test_a_registry_off_target_still_has_working_shares(scanner: Scanner, fleet: dict[str, Any]) -> None:
    host = hosts_by_class(scanner, fleet["result"])["registry_off"][0]
    assert host["checks"]["share:C$"]["ok"] is True
    assert "Remote Registry service is not running" in host["checks"]["registry:HKLM\\Software"]["detail"]


def test_a_slow_target_times_out(scanner: Scanner, fleet: dict[str, Any]) -> None:
    host = hosts_by_class(scanner, fleet["result"])["slow"][0]
    assert host["ready"] is False
    timed_out = [c for c in host["checks"].values() if c["class"] == "timeout"]
    assert timed_out, host
    assert "target_timeout" in timed_out[0]["fix"]
    assert host["duration_s"] < 8 + 4


def test_verification_changes_nothing_on_the_targets(scanner: Scanner, fleet: dict[str, Any]) -> None:
    assert fleet["after"] == fleet["before"], "a file under a share changed"
    for target in scanner.lab.by_class("registry_off"):
        assert not winreg_pipe_opens(scanner.lab, target.address), "Remote Registry must still be stopped"
    assert winreg_pipe_opens(scanner.lab, scanner.lab.by_class("ready")[0].address)


def test_check_mode_runs_the_same_and_reports_no_change(scanner: Scanner) -> None:
    targets = [{"name": t.name, "address": t.address} for t in scanner.lab.by_class("share_denied")]
    run = run_module("scan_readiness", scanner.args(targets=targets, services=[], wmi_namespaces=[]), check=True)
    assert not run.failed and not run.changed, run.output
    assert run.result["hosts"][0]["checks"]["share:C$"]["class"] == "access_denied"


def test_no_dns_name_falls_back_to_ntlmv2_and_says_why(scanner: Scanner) -> None:
    address = member_target(scanner.lab).address  # the DC's address has reverse DNS (/etc/hosts)
    run = run_module("scan_readiness", scanner.args(targets=[{"name": address}], services=[], wmi_namespaces=[],
                                                    allow_ntlmv1=True))
    host = run.result["hosts"][0]
    assert host["ready"] and host["auth_scheme"] == "ntlmv2", "NTLMv2 works, so NTLMv1 is not needed"
    assert "Kerberos AES not tried: no DNS name" in host["checks"]["logon"]["detail"]
    # The DC's DNS holds the lab's reverse zone: its "no such record" is final.
    assert "domain controller's DNS holds the reverse zone" in host["checks"]["logon"]["detail"]


def test_a_name_from_the_dcs_reverse_zone_gives_kerberos(scanner: Scanner) -> None:
    """Only the DC's DNS knows this target's name (a PTR record; the controller's resolver has none)."""
    address = scanner.lab.vars["lab_ptr_in_dc_dns"]
    run = run_module("scan_readiness", scanner.args(targets=[{"name": address}], services=[], wmi_namespaces=[]))
    host = run.result["hosts"][0]
    assert host["ready"] and host["auth_scheme"] == "kerberos-aes", host["checks"]["logon"]


def test_kerberos_rc4_rung_against_the_lab_kdc(scanner: Scanner) -> None:
    """The RC4 rung on its own (AES taken away): MIT asks Samba's KDC for an RC4 session key."""
    from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials, Endpoint
    from ansible_collections.scanready.windows.plugins.module_utils._verify.kerberos import Tickets
    from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import SessionFailure, logon

    lab = scanner.lab
    target = member_target(lab)
    creds = Credentials.parse(SCANNER, SCANNER_PASSWORD, lab.vars["scanready_domain"])
    tickets = Tickets(creds, lab.vars["scanready_dc"], 10, None, "AES taken away by the test")
    try:
        session = logon(Endpoint(target.address, target.name), creds, tickets, 5, time.monotonic() + 20,
                        lambda: False)
    except SessionFailure as failure:  # a KDC or host refusing RC4 must say so, not fail silently
        assert "Kerberos RC4" in failure.detail
        pytest.skip(f"this Samba refuses RC4: {failure.detail}")
    finally:
        tickets.close()
    assert session.scheme == "kerberos-rc4"
    assert "session key rc4-hmac" in session.detail
    assert "Kerberos AES not tried: no ticket for cifs/" in session.detail
    assert "(AES taken away by the test)" in session.detail
    session.close()


@pytest.mark.parametrize("allow_ntlmv1", [False, True])
def test_ntlmv1_is_not_tried_unless_allowed(scanner: Scanner, monkeypatch: pytest.MonkeyPatch,
                                            allow_ntlmv1: bool) -> None:
    """NTLMv2 made to fail without refusing the account; what reaches Samba is read off the NTLM
    AUTHENTICATE messages (an NTLMv1 response is 24 bytes, an NTLMv2 one longer)."""
    from ansible_collections.scanready.windows.plugins.module_utils._smb import client as _client
    from ansible_collections.scanready.windows.plugins.module_utils._verify import smb as _smb
    from impacket import ntlm, smb3

    sent: list[int] = []
    make_type3 = ntlm.getNTLMSSPType3

    def recording_type3(*args: Any, **kwargs: Any) -> Any:
        message, key = make_type3(*args, **kwargs)
        sent.append(len(message["ntlm"]))
        return message, key

    real_login = smb3.SMB3.login

    def ntlmv2_not_supported(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(_client._ntlm_version, "v1", False):
            raise smb3.SessionError(0xC00000BB)  # STATUS_NOT_SUPPORTED: not a refusal of the account
        return real_login(self, *args, **kwargs)

    monkeypatch.setattr(ntlm, "getNTLMSSPType3", recording_type3)
    monkeypatch.setattr(smb3.SMB3, "login", ntlmv2_not_supported)
    target = member_target(scanner.lab)
    creds = _smb.Credentials.parse(SCANNER, SCANNER_PASSWORD, scanner.lab.vars["scanready_domain"], allow_ntlmv1)
    with pytest.raises(_smb.SessionFailure) as failure:
        _smb.logon(_smb.Endpoint(target.address, None, "no name in this test"), creds, None, 5,
                   time.monotonic() + 20, lambda: False)
    if allow_ntlmv1:
        assert sent == [24], "one NTLMv1 response went to the host"
        assert failure.value.cls == "logon_failure"  # Samba (ntlm auth = ntlmv2-only) refuses it
        assert failure.value.stops_run, "a refusal under NTLM stops the run, whatever its reason"
    else:
        assert sent == [], "no NTLMv1 (nor any other NTLM response) was sent"
        assert failure.value.cls == "refused"
        assert "NTLMv1" not in failure.value.detail


def private_krb5_dirs(lab: LabInfo) -> set[Path]:
    """The private Kerberos directories for this lab's realm (other runs may use other realms)."""
    realm = f"default_realm = {lab.vars['scanready_domain'].upper()}"
    found = set()
    for conf in Path(tempfile.gettempdir()).glob("scanready-krb5-*/krb5.conf"):
        with contextlib.suppress(FileNotFoundError):  # another run may remove its own meanwhile
            if realm in conf.read_text(errors="replace"):
                found.add(conf.parent)
    return found


def test_no_secret_in_any_output(scanner: Scanner) -> None:
    private_dirs = private_krb5_dirs(scanner.lab)
    targets = [{"name": t.name, "address": t.address} for t in scanner.lab.targets[:3]]
    run = run_module("scan_readiness", scanner.args(targets=targets), verbosity=4)
    assert SCANNER_PASSWORD not in run.output
    refused = run_module("scan_readiness", scanner.args(targets=targets, password="Not-" + SCANNER_PASSWORD),
                         verbosity=4)
    assert refused.failed
    assert SCANNER_PASSWORD not in refused.output
    assert private_krb5_dirs(scanner.lab) <= private_dirs, "no krb5.conf or ccache left behind"


@pytest.mark.parametrize(("extra", "message"), [
    ({"targets": []}, "targets is empty"),
    ({"registry_keys": ["HKCU\\Software"]}, "must start with HKLM"),
    ({"shares": ["C$", ""]}, "shares has an empty entry"),
    ({"connect_timeout": 30, "target_timeout": 10}, "must not be longer than target_timeout"),
    ({"workers": 0}, "workers must be between 1 and 1024, not 0"),
])
def test_bad_input_fails_with_one_message_before_any_logon(
        scanner: Scanner, extra: dict[str, Any], message: str) -> None:
    args = scanner.args(**{"targets": [{"name": scanner.lab.vars["scanready_dc"]}], **extra})
    run = run_module("scan_readiness", args)
    assert run.failed
    assert message in run.result["msg"]
