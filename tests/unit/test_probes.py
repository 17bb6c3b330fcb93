"""Probe logic without a peer: impacket errors classified, fixes, shares, registry, services (WMI: test_wmi_probe)."""
from __future__ import annotations

import re
import time
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Endpoint
from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import FIXES, fix_for
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes import shares as _probes
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.classify import Unfinished, classify
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.registry import probe_registry, split_key
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.services import service_check
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.shares import probe_shares
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import CheckResult
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import Session
from impacket import nmb, smb3
from impacket.dcerpc.v5 import rrp, scmr

CONTRACT_CLASSES = {"unreachable", "refused", "timeout", "logon_failure", "account_locked", "account_disabled",
                    "account_expired", "password_expired", "access_denied", "share_missing", "dc_needs_domain_admin",
                    "registry_unavailable", "spn_hardening", "service_not_running", "service_not_automatic",
                    "service_unknown", "wmi_access_denied", "wmi_unavailable", "wmi_privacy_not_enforced", "not_tested",
                    "error", "signing_not_required"}
# The reports mask text after "password is", "password:", "credentials:" and long hex runs (_report.py).
SECRET_LOOKING = re.compile(r"(?i)\b(password|passwd|pwd|secret|credentials?|token)(\s*[:=]\s*|\s+is\s+)|[0-9a-f]{32,}")


def test_every_fix_is_a_contract_class_and_reads_clean() -> None:
    for (kind, cls), text in FIXES.items():
        assert kind in {"logon", "share", "registry", "service", "wmi", "smb_signing"}
        assert cls in CONTRACT_CLASSES, cls
        assert not SECRET_LOOKING.search(text), f"{kind}/{cls} would be masked by the reports"


@pytest.mark.parametrize(("kind", "cls", "words"), [
    ("logon", "unreachable", "TCP 445"),
    ("logon", "logon_failure", "locked out"),
    ("logon", "account_locked", "Unlock"),
    ("logon", "spn_hardening", "SmbServerNameHardeningLevel"),
    ("share", "access_denied", "LocalAccountTokenFilterPolicy"),
    ("share", "share_missing", "AutoShareServer"),
    ("registry", "registry_unavailable", "Remote Registry"),
    ("wmi", "wmi_privacy_not_enforced", "winmgmt /standalonehost 6"),
    ("wmi", "wmi_access_denied", "Remote Enable"),
    ("share", "timeout", "target_timeout"),
])
def test_fixes_name_what_an_admin_does(kind: str, cls: str, words: str) -> None:
    assert words in (fix_for(kind, cls) or "")


def test_no_fix_for_ok_or_not_tested() -> None:
    assert fix_for("share", "ok") is None
    assert fix_for("share", "not_tested") is None


def test_service_fix_names_the_service() -> None:
    text = fix_for("service", "service_not_automatic", "RemoteRegistry") or ""
    assert "Set RemoteRegistry to start automatically" in text
    assert "System Services > Remote Registry" in text


@pytest.mark.parametrize(("exc", "cls"), [
    (smb3.SessionError(0xC0000022), "access_denied"),
    (smb3.SessionError(0xC00000CC), "share_missing"),
    (smb3.SessionError(0xC0000034), "registry_unavailable"),
    (smb3.SessionError(0xC00000AC), "registry_unavailable"),
    (smb3.SessionError(0xC0000001), "error"),
    (rrp.DCERPCSessionError(error_code=5), "access_denied"),
    (rrp.DCERPCSessionError(error_code=2), "error"),
    (scmr.DCERPCSessionError(error_code=1060), "service_unknown"),
    (nmb.NetBIOSTimeout(), "timeout"),
    (TimeoutError(), "timeout"),
    (ConnectionResetError(104, "reset"), "error"),
])
def test_probe_errors_are_classified(exc: BaseException, cls: str) -> None:
    assert classify(exc)[0] == cls


@pytest.mark.parametrize(("start", "state", "ok", "cls", "required"), [
    (2, 4, True, "ok", False),
    (2, 1, False, "service_not_running", False),
    (3, 4, False, "service_not_automatic", False),
    (3, 1, False, "service_not_automatic", False),
    (4, 1, False, "service_not_automatic", True),  # disabled: definitive, decides readiness
    (1, 4, True, "ok", False),
])
def test_service_start_type_and_state(start: int, state: int, ok: bool, cls: str, required: bool) -> None:
    check = service_check("RemoteRegistry", start, state)
    assert (check.ok, check.cls, check.required) == (ok, cls, required)
    assert "RemoteRegistry: start type" in check.detail


def test_registry_key_names() -> None:
    assert split_key("HKLM\\Software") == ("HKLM", "Software")
    assert split_key("HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet") == ("HKLM", "SYSTEM\\CurrentControlSet")
    assert split_key("hku/.DEFAULT") == ("HKU", ".DEFAULT")
    with pytest.raises(ValueError, match="must start with HKLM"):
        split_key("HKCU\\Software")


def test_directory_entries_are_counted_by_next_entry_offset() -> None:
    entry = (16).to_bytes(4, "little") + b"\0" * 12
    last = (0).to_bytes(4, "little") + b"\0" * 12
    assert _probes._count_entries(entry + entry + last) == 3
    assert _probes._count_entries(b"") == 0


# ---------------------------------------------------------------- probes over a fake session

class FakeSession(Session):
    def __init__(self, trees: dict[str, BaseException | None], rpc_error: BaseException | None = None,
                 scheme: str = "ntlmv2", dns_name: str | None = "t1.ex.test") -> None:
        super().__init__(conn=None, endpoint=Endpoint("10.0.0.5", dns_name), scheme=scheme, detail="",
                         deadline=time.monotonic() + 30)
        self.trees = trees
        self.rpc_error = rpc_error

    def arm(self) -> None:
        pass

    def tree(self, share: str) -> int:
        error = self.trees.get(share)
        if error is not None:
            raise error
        return 1

    def rpc(self, pipe: str, interface: bytes) -> Any:
        if self.rpc_error is not None:
            raise self.rpc_error
        raise AssertionError("not reached in these tests")


def test_shares_denied_and_missing_are_told_apart() -> None:
    session = FakeSession({"C$": smb3.SessionError(0xC0000022), "D$": smb3.SessionError(0xC00000CC)})
    found: dict[str, CheckResult] = {}
    probe_shares(session, ["C$", "D$", "IPC$"], found)
    assert found["share:C$"].cls == "access_denied"
    assert found["share:D$"].cls == "share_missing"
    assert found["share:IPC$"].ok is True
    assert all(c.required for c in found.values())


def test_a_timeout_ends_the_session_and_keeps_what_was_found() -> None:
    session = FakeSession({"ADMIN$": nmb.NetBIOSTimeout()})
    found: dict[str, CheckResult] = {}
    session_list = ["IPC$", "ADMIN$", "C$"]
    with pytest.raises(Unfinished):
        probe_shares(session, session_list, found)
    assert found["share:IPC$"].ok is True
    assert found["share:ADMIN$"].cls == "timeout"
    assert "share:C$" not in found


def test_a_missing_winreg_pipe_is_registry_unavailable_for_every_key() -> None:
    session = FakeSession({}, rpc_error=smb3.SessionError(0xC0000034))
    found: dict[str, CheckResult] = {}
    probe_registry(session, ["HKLM\\Software", "HKLM\\SYSTEM"], found)
    for key in ("registry:HKLM\\Software", "registry:HKLM\\SYSTEM"):
        assert found[key].cls == "registry_unavailable"
        assert "Remote Registry service is not running" in found[key].detail
        assert "Automatic" in (found[key].fix or "")
