"""The one-bad-logon bound where it had holes, against a lab of its own with a lockout threshold of 3 (Samba's own
database is the oracle for badPwdCount): a KDC that counts the wrong password and never answers, scan_account's
check of the current password, and a record directory that cannot be used."""
from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from impacket.krb5.asn1 import AS_REQ
from pyasn1.codec.der import decoder

from tests.integration.test_lockout import UF_LOCKOUT, scanner_locked_after_three
from tests.integration.test_lockout_per_host import per_host_run
from tests.integration.test_scan_readiness import Scanner
from tests.lab_support import LAB, LabInfo, ldb_search, load_lab, run_module

pytestmark = pytest.mark.lab

INSTANCE = "lockbnd"
PASSWORD = "Bound-Lab-Scanner-6"
NEW_PASSWORD = "Bound-Lab-Scanner-7"
PA_ENC_TIMESTAMP = 2
PROXY_ADDRESS = "127.0.88.1"  # loopback, outside the lab: the verify modules' `dc`, so their KDC


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    try:
        yield load_lab(INSTANCE)
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], capture_output=True, check=False, timeout=300)


@pytest.fixture
def scanner(lab: LabInfo) -> Iterator[Scanner]:
    """A fresh Domain Admins scanner account in a domain that locks an account after 3 bad passwords."""
    with scanner_locked_after_three(lab, f"lb_{uuid.uuid4().hex[:8]}", PASSWORD) as account:
        yield account


def account_state(lab: LabInfo, name: str) -> tuple[int, bool]:
    """(badPwdCount, locked out) as the DC's own database has them."""
    entry = ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={name})", "badPwdCount",
                       "msDS-User-Account-Control-Computed")[0]
    computed = int(entry.get("msDS-User-Account-Control-Computed", ["0"])[0])
    return int(entry.get("badPwdCount", ["0"])[0]), bool(computed & UF_LOCKOUT)


def read_message(sock: socket.socket) -> bytes:
    """One Kerberos message over TCP (RFC 4120 7.2.2: a 4-byte length, then the message), bounded in size."""
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = sock.recv(65536)
        if not chunk or len(data) > 1 << 20:
            raise ConnectionError("the message ended early")
        data += chunk
    return data


def carries_password(request: bytes) -> bool:
    """Whether an AS-REQ holds the encrypted timestamp (the proof of the password a KDC checks and counts)."""
    try:
        req = decoder.decode(request[4:], asn1Spec=AS_REQ())[0]
        return PA_ENC_TIMESTAMP in [int(pa["padata-type"]) for pa in req["padata"]]
    except Exception:  # no padata, or not an AS-REQ: no password in it
        return False


class SilentKdc:
    """A KDC in front of the lab's (TCP 88 on PROXY_ADDRESS) whose answer to the password is lost: the first AS-REQ
    is answered (pre-authentication required); the one with the encrypted timestamp is forwarded, so the real KDC
    checks the password and counts it when wrong, and its answer is never passed on, as from a KDC whose reply
    does not arrive. Every wait is bounded."""

    def __init__(self, kdc: str) -> None:
        self.kdc = kdc
        self.forwarded = 0  # requests with the password, the real KDC's answer swallowed
        self._stop = threading.Event()
        self._server = socket.create_server((PROXY_ADDRESS, 88))
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SilentKdc:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(10)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _peer = self._server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            client.settimeout(30)
            request = read_message(client)
            with socket.create_connection((self.kdc, 88), timeout=10) as kdc:
                kdc.settimeout(10)
                kdc.sendall(request)
                answer = read_message(kdc)
            if carries_password(request):
                self.forwarded += 1
                self._stop.wait(60)  # hold the connection open, and answer nothing
            else:
                client.sendall(answer)


def test_a_kdc_that_never_answers_costs_one_bad_logon_across_per_host_calls(scanner: Scanner,
                                                                            tmp_path: Path) -> None:
    """share_access per host at --forks 5 with a wrong password, the KDC counting it and its answer lost: the
    first call's kinit times out (its outcome unknown), and that is recorded like a refusal, so no other call asks
    the DC, not even by NTLM. Before, each call asked again and the third locked the account."""
    lab, name = scanner.lab, scanner.username
    assert account_state(lab, name) == (0, False)
    with SilentKdc(lab.vars["lab_dc_address"]) as kdc:
        run = per_host_run(lab, tmp_path, "Wrong-" + PASSWORD, "-e", f"perhost_username={name}",
                           "-e", f"scanready_dc={PROXY_ADDRESS}")
    assert account_state(lab, name) == (1, False), "the KDC counted the one AS-REQ it was sent, nothing else was tried"
    assert kdc.forwarded == 1, "one AS-REQ with the password reached the KDC"
    assert "Traceback" not in run.output and PASSWORD not in run.output
    assert len(run.results) >= 10 and all(r.get("failed") for r in run.results.values())
    asked = [m for m in run.messages() if "got no verdict" in m and "Later verify runs" in m]
    assert len(asked) == 1, run.messages()
    assert "may have counted" in asked[0] and "NTLM is not tried" in asked[0]
    others = [m for m in run.messages() if m not in asked]
    assert all(m.startswith(f"Not tried: the domain controller {PROXY_ADDRESS} gave no verdict") for m in others)
    [record] = (tmp_path / "scanready-lockout").glob("*.json")
    kept = json.loads(record.read_text())
    assert kept["unknown"] is True and kept["cls"] == "timeout" and kept["run"], "bound to the playbook's run"
    assert PASSWORD not in record.read_text()


def test_scan_account_check_mode_makes_no_logon(scanner: Scanner, private_lockout_records: Path) -> None:
    """update_password: always with a password that is not the account's: check mode binds not at all."""
    lab, name = scanner.lab, scanner.username
    args = lab.connection_args() | {"name": name, "password": NEW_PASSWORD, "update_password": "always"}
    checks = [run_module("scan_account", args, check=True) for _run in range(4)]  # more than the threshold
    assert account_state(lab, name) == (0, False)
    for check in checks:
        assert not check.failed and check.changed, check.result
        assert any("check mode: the current password of" in w for w in check.result.get("warnings", []))
    assert not private_lockout_records.exists() or not list(private_lockout_records.glob("*.json"))


def test_scan_account_sets_a_password_the_guard_saw_refused_without_a_logon(scanner: Scanner,
                                                                            private_lockout_records: Path) -> None:
    """A verify run meets the wrong password (one bad logon, recorded); scan_account with update_password: always
    does not check it again (that would be the second), sets the password and clears the record; the verify run
    after it works."""
    lab, name = scanner.lab, scanner.username
    targets = [{"name": t.name, "address": t.address} for t in lab.by_class("ready")[:1]]
    verify = scanner.args(targets=targets, password=NEW_PASSWORD, services=[], wmi_namespaces=[])
    refused = run_module("scan_readiness", verify)
    assert refused.failed and "refused the password" in refused.result["msg"]
    assert account_state(lab, name) == (1, False)
    args = lab.connection_args() | {"name": name, "password": NEW_PASSWORD, "update_password": "always"}
    fixed = run_module("scan_account", args)
    assert not fixed.failed and fixed.changed, fixed.result
    assert any("is not checked" in w and "refused" in w for w in fixed.result.get("warnings", []))
    assert account_state(lab, name)[0] <= 1, "no bind with the password the guard saw refused"
    assert list(private_lockout_records.glob("*.json")) == [], "the password was set: the record is cleared"
    ok = run_module("scan_readiness", verify)
    assert not ok.failed, ok.result.get("msg")
    assert account_state(lab, name) == (0, False)


def test_a_refused_check_by_scan_account_stops_the_verify_modules(scanner: Scanner,
                                                                  private_lockout_records: Path) -> None:
    """scan_account's one bind with a wrong password is recorded when the password cannot then be set (the
    domain's policy refuses the new one): the verify modules do not try that account again."""
    lab, name = scanner.lab, scanner.username
    args = lab.connection_args() | {"name": name, "password": "short", "update_password": "always"}
    refused = run_module("scan_account", args)
    assert refused.failed and "refused the password" in refused.result["msg"], refused.result
    assert account_state(lab, name) == (1, False)
    [record] = private_lockout_records.glob("*.json")
    assert json.loads(record.read_text())["cls"] == "logon_failure"
    blocked = run_module("scan_readiness", scanner.args(targets=[{"name": lab.targets[0].name,
                                                                  "address": lab.targets[0].address}],
                                                        password="short"))
    assert blocked.failed and blocked.result["msg"].startswith("Not tried: the domain controller (scan_account's")
    assert account_state(lab, name) == (1, False)


def test_an_unusable_record_directory_is_one_line_before_anything_is_sent(scanner: Scanner,
                                                                          private_lockout_records: Path) -> None:
    lab, name = scanner.lab, scanner.username
    private_lockout_records.write_text("a file where the lockout guard's directory belongs")
    targets = [{"name": t.name, "address": t.address} for t in lab.targets[:3]]
    verify = run_module("scan_readiness", scanner.args(targets=targets, password="Wrong-" + PASSWORD))
    account = run_module("scan_account", lab.connection_args() | {
        "name": name, "password": "Wrong-" + PASSWORD, "update_password": "always"})
    fresh = f"lb_{uuid.uuid4().hex[:8]}"
    create = run_module("scan_account", lab.connection_args() | {"name": fresh, "password": PASSWORD})
    for run in (verify, account, create):
        assert run.failed, run.result
        message = run.result["msg"]
        assert "\n" not in message and "Traceback" not in run.output, run.output
        assert str(private_lockout_records) in message and "is not a directory" in message
        assert "Nothing was sent to the domain controller" in message
    assert account_state(lab, name) == (0, False), "no logon"
    assert ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={fresh})", "dn") == [], "nothing made"
