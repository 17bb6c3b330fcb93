"""The domains Windows ships (issue 20): no LDAPS certificate and NTLM disabled (`lab/lab up --tls none --ntlm
disabled`), on a lab instance of their own.

site.yml converges from nothing (the account over LDAP sealed with Kerberos, SYSVOL over SMB with a Kerberos
ticket), a second run changes nothing, verify reports kerberos-aes for the DC, the password the run set logs
on, rollback removes what it made; then all of it again with no admin password, the operator's own kinit
ticket in KRB5CCNAME. A capture on the DC's side of the veth during the account stage holds none of its
secrets or names in the clear; with sealing switched off (a test-only context that signs and does not seal)
the same capture does, which shows the capture would see them.
"""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_site_playbook import UF_ACCOUNTDISABLE, account, changed, gpos, playbook
from tests.lab_support import LAB, LabInfo, read_lab, run_module

pytestmark = pytest.mark.lab

INSTANCE = "nontlm"
CAPTURE_FILTER = "tcp port 389 or tcp port 445 or tcp port 1445"


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    """A hardened domain nobody has touched: made afresh, removed afterwards."""
    subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=True, capture_output=True, timeout=300)
    try:
        subprocess.run([str(LAB), "--instance", INSTANCE, "up", "--tls", "none", "--ntlm", "disabled"], check=True,
                       capture_output=True, timeout=1200)
        info = read_lab(INSTANCE)
        assert (info.vars["lab_tls"], info.vars["lab_ntlm"]) == ("none", "disabled")
        assert "scanready_ldap_ca_cert" not in info.vars
        yield info
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=True, capture_output=True, timeout=300)


def kinit(lab: LabInfo, principal: str, password: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KRB5_CONFIG": f"{lab.vars['lab_state_dir']}/krb5.conf", "KRB5CCNAME": f"FILE:{cache}",
           "LC_ALL": "C"}
    return subprocess.run(["kinit", "--", principal], input=password + "\n", capture_output=True, text=True,
                          env=env, timeout=30, check=False)


def converge_verify_and_roll_back(lab: LabInfo, tmp_path: Path, *, inventory: Path | None = None,
                                  env: dict[str, str] | None = None) -> None:
    run = {"inventory": inventory, "env": env}
    out = playbook(lab, "site.yml", tmp_path, **run)
    [user] = account(lab)
    assert not int(user["userAccountControl"][0]) & UF_ACCOUNTDISABLE
    assert any(dn.startswith("CN=Domain Admins,") for dn in user["memberOf"])
    [gpo] = gpos(lab)
    policy = Path(lab.vars["lab_state_dir"]) / "state" / "sysvol" / lab.vars["scanready_domain"] / "Policies" \
        / gpo["cn"][0] / "Machine" / "Microsoft" / "Windows NT" / "SecEdit" / "GptTmpl.inf"
    assert policy.is_file(), f"no GptTmpl.inf written over Kerberos SMB at {policy}"
    report = json.loads((tmp_path / "reports" / "readiness.json").read_text())
    dc = next(h for h in report["hosts"] if h["name"] == lab.vars["scanready_dc"])
    assert dc["ready"] and dc["auth_scheme"] == "kerberos-aes", dc
    # The password the run set logs on: the KDC takes it.
    logon = kinit(lab, f"{lab.vars['scanready_account_name']}@{lab.vars['scanready_domain'].upper()}",
                  lab.vars["scanready_account_password"], tmp_path / "scanner.ccache")
    assert logon.returncode == 0, logon.stderr

    out = playbook(lab, "site.yml", tmp_path, **run)
    assert changed(out, "localhost") == 0

    out = playbook(lab, "rollback.yml", tmp_path, "-e", "scanready_rollback_remove_account=true", **run)
    assert gpos(lab) == [] and account(lab) == []
    out = playbook(lab, "rollback.yml", tmp_path, **run)
    assert changed(out, "localhost") == 0


def test_site_verify_and_rollback_with_the_operators_password(lab: LabInfo, tmp_path: Path) -> None:
    converge_verify_and_roll_back(lab, tmp_path)


def test_the_same_with_the_operators_kinit_ticket_and_no_password(lab: LabInfo, tmp_path: Path) -> None:
    cache = tmp_path / "operator.ccache"
    done = kinit(lab, lab.vars["scanready_admin_username"], lab.vars["scanready_admin_password"], cache)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(lab.inventory.read_text())
    for name in ("scanready_admin_password", "scanready_admin_username"):
        del data["all"]["vars"][name]
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(data))
    converge_verify_and_roll_back(lab, tmp_path, inventory=inventory, env={"KRB5CCNAME": f"FILE:{cache}"})
    assert cache.is_file()  # only read: still the operator's, with its TGT


def test_without_a_ticket_the_run_says_which_cache_and_how_to_fix_it(lab: LabInfo, tmp_path: Path) -> None:
    args = {k: v for k, v in lab.connection_args().items() if not k.startswith("admin_")}
    os.environ["KRB5CCNAME"] = f"FILE:{tmp_path}/empty.ccache"
    try:
        run = run_module("scan_account", {**args, "name": "nontlm_probe", "password": "Lab-Only-Nontlm-1"},
                         check=True)
    finally:
        del os.environ["KRB5CCNAME"]
    assert run.failed
    assert f"{tmp_path}/empty.ccache" in run.result["msg"] and "kinit" in run.result["msg"], run.result["msg"]


# ---------------------------------------------------------------- the wire

class Capture:
    """tcpdump inside the lab's namespace (the DC's side of its veth, and its loopback), to a file."""

    def __init__(self, lab: LabInfo, path: Path) -> None:
        self.path = path
        # --immediate-mode: a packet is written as it arrives, not when the kernel's buffer block times out.
        self.proc = subprocess.Popen(["ip", "netns", "exec", lab.vars["lab_netns"], "tcpdump", "-i", "any",
                                      "--immediate-mode", "-U", "-s", "0", "-w", str(path), CAPTURE_FILTER],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if "listening on" in line:
                return
            if self.proc.poll() is not None:
                break
        raise AssertionError("tcpdump did not start")

    def stop(self) -> bytes:
        time.sleep(0.5)  # the last replies
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=15)
        return self.path.read_bytes()


def cleartext_found(capture: bytes, lab: LabInfo, scanner: str, password: str) -> list[str]:
    needles = {
        "the scanner account's name": scanner.encode(),
        "unicodePwd": b"unicodePwd",
        "sAMAccountName": b"sAMAccountName",
        "the password (UTF-16LE, as unicodePwd carries it)": f'"{password}"'.encode("utf-16-le"),
        "the GPO's display name": lab.vars["scanready_gpo_name"].encode(),
    }
    return [what for what, needle in needles.items() if needle in capture]


def test_the_account_stage_on_the_wire_is_sealed(lab: LabInfo, tmp_path: Path) -> None:
    scanner, password = "nontlm_wire", "Lab-Only-Nontlm-Wire-1"
    capture = Capture(lab, tmp_path / "sealed.pcap")
    try:
        run = run_module("scan_account", {**lab.connection_args(), "name": scanner, "password": password,
                                          "privilege": "none"})
        gpo = run_module("scan_gpo", {**lab.connection_args(), "name": lab.vars["scanready_gpo_name"],
                                      "scanner_addresses": lab.vars["scanready_scanner_addresses"], "links": []},
                         check=True)
    finally:
        seen = capture.stop()
    assert not run.failed and run.result["connection"] == {"transport": "sealed", "authentication": "kerberos"}, \
        run.result
    assert not gpo.failed, gpo.result
    assert seen.count(b"GSS-SPNEGO") >= 2  # the capture holds both modules' binds (the bind itself is clear)
    assert cleartext_found(seen, lab, scanner, password) == []
    run_module("scan_account", {**lab.connection_args(), "name": scanner, "state": "absent"})


def test_without_sealing_the_same_capture_sees_it_all(lab: LabInfo, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle: the account stage in-process with a context that only signs (RFC 4121 wrap tokens without
    confidentiality, which Samba 4.17 accepts even for unicodePwd): the capture then finds every needle."""
    from ansible_collections.scanready.windows.plugins.module_utils import _ldap
    from ansible_collections.scanready.windows.plugins.module_utils._account import AccountRequest, ensure_account
    from ansible_collections.scanready.windows.plugins.module_utils._ldap import sasl

    monkeypatch.setattr(sasl, "KerberosSecurity", SigningOnly)
    scanner, password = "nontlm_clear", "Lab-Only-Nontlm-Clear-1"
    params = {**{name: spec.get("default") for name, spec in _ldap.DOMAIN_CONNECTION_SPEC.items()},
              **lab.connection_args(), "transport": "sealed"}
    request = AccountRequest.from_params({"name": scanner, "password": password, "privilege": "none",
                                          "state": "present", "update_password": "on_create", "path": None,
                                          "description": None, "password_never_expires": True,
                                          "scanner_group": "Vulnerability Scanners", "expires": None,
                                          "create": True, "adopt": False})
    capture = Capture(lab, tmp_path / "signed.pcap")
    try:
        with _ldap.connect(params) as conn:
            ensure_account(conn, request, domain=conn.settings.domain, check_mode=False,
                           operator=str(conn.settings.bind_user))
            conn.search(conn.base_dn, f"(displayName={_ldap.escape_filter(lab.vars['scanready_gpo_name'])})", ["cn"])
    finally:
        seen = capture.stop()
    try:
        assert sorted(cleartext_found(seen, lab, scanner, password)) == sorted([
            "the scanner account's name", "unicodePwd", "sAMAccountName",
            "the password (UTF-16LE, as unicodePwd carries it)", "the GPO's display name"])
    finally:
        run_module("scan_account", {**lab.connection_args(), "name": scanner, "state": "absent"})


class SigningOnly:
    """Test-only: the Kerberos context asking for integrity without confidentiality, wrapping without sealing."""

    mechanism = "Kerberos (signed only: a test double)"

    def __init__(self, ticket: Any) -> None:
        from ansible_collections.scanready.windows.plugins.module_utils._ldap import sealing

        self._inner = sealing.KerberosSecurity(ticket)

    def initial_token(self, *, seal: bool) -> bytes:
        from ansible_collections.scanready.windows.plugins.module_utils._ldap import sealing
        from impacket.spnego import SPNEGO_NegTokenInit

        original = sealing.GSS_CONF
        try:
            sealing.GSS_CONF = 0  # type: ignore[misc]  # integrity only
            token = self._inner.initial_token(seal=True)
        finally:
            sealing.GSS_CONF = original  # type: ignore[misc]
        assert SPNEGO_NegTokenInit(token)["MechToken"]
        return token

    def complete(self, server_token: bytes | None) -> None:
        self._inner.complete(server_token)

    def _profile(self) -> Any:
        from impacket.krb5 import crypto

        return {17: crypto._SHA1AES128, 18: crypto._SHA1AES256}[self._inner._cipher.enctype]

    def wrap(self, data: bytes) -> bytes:
        inner = self._inner
        flags = 0x04 if inner._acceptor_subkey else 0
        seq, inner._send_seq = inner._send_seq, inner._send_seq + 1
        signed = data + struct.pack(">HBBHHQ", 0x0504, flags, 0xFF, 0, 0, seq)  # RFC 4121 4.2.4: EC, RRC 0
        checksum = self._profile().checksum(inner._key, 24, signed)
        return struct.pack(">HBBHHQ", 0x0504, flags, 0xFF, len(checksum), 0, seq) + data + checksum

    def unwrap(self, token: bytes) -> bytes:
        inner = self._inner
        _tok, flags, _filler, ec, rrc, seq = struct.unpack_from(">HBBHHQ", token)
        body = token[16:]
        body = body[rrc % len(body):] + body[:rrc % len(body)]
        data, checksum = body[:-ec], body[-ec:]
        header = struct.pack(">HBBHHQ", 0x0504, flags, 0xFF, 0, 0, seq)
        assert self._profile().checksum(inner._key, 22, data + header) == checksum
        return data
