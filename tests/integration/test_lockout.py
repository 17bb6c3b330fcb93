"""The lockout guard against the lab with a lockout threshold of 3 and many targets: a wrong password costs at
most one bad logon and never locks the account; a locked account is reported and left alone."""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_scan_readiness import Scanner, make_scanner, samba_tool
from tests.lab_support import LAB, LabInfo, ldb_search, read_lab, run_module

pytestmark = pytest.mark.lab

INSTANCE = "lockout"
TARGETS = 24
ACCOUNT = "lock_scanner"
PASSWORD = "Lockout-Lab-Scanner-3"
UF_LOCKOUT = 0x10


def lockout_lab() -> LabInfo:
    """The lockout instance with more targets than the lab's default (load_lab would bring up 8)."""
    subprocess.run([str(LAB), "--instance", INSTANCE, "up", "--targets", str(TARGETS)], check=True,
                   capture_output=True, text=True)
    return read_lab(INSTANCE)


@contextlib.contextmanager
def scanner_locked_after_three(lab: LabInfo, name: str, password: str) -> Iterator[Scanner]:
    """A scanner account in a domain that locks an account after 3 bad passwords (both undone after)."""
    samba_tool(lab, "domain", "passwordsettings", "set", "--account-lockout-threshold=3",
               "--account-lockout-duration=30", "--reset-account-lockout-after=30")
    account = make_scanner(lab, name, password)
    try:
        yield account
    finally:
        samba_tool(lab, "user", "delete", name, check=False)
        samba_tool(lab, "domain", "passwordsettings", "set", "--account-lockout-threshold=0")


@pytest.fixture(scope="module")
def guarded() -> Iterator[Scanner]:
    with scanner_locked_after_three(lockout_lab(), ACCOUNT, PASSWORD) as account:
        yield account


def account_state(lab: LabInfo) -> tuple[int, bool]:
    """(badPwdCount, locked out) as the DC's own database has them."""
    entry = ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={ACCOUNT})", "badPwdCount",
                       "msDS-User-Account-Control-Computed")[0]
    computed = int(entry.get("msDS-User-Account-Control-Computed", ["0"])[0])
    return int(entry.get("badPwdCount", ["0"])[0]), bool(computed & UF_LOCKOUT)


def kinit(lab: LabInfo, password: str) -> bool:
    """MIT kinit straight at the lab's KDC (not our code): the oracle's own logon attempt."""
    realm = lab.vars["scanready_domain"].upper()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "krb5.conf"
        conf.write_text(f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n"
                        f"[realms]\n {realm} = {{\n  kdc = {lab.vars['lab_dc_address']}\n }}\n")
        env = dict(os.environ, KRB5_CONFIG=str(conf), KRB5CCNAME=str(Path(tmp) / "cc"))
        proc = subprocess.run(["kinit", f"{ACCOUNT}@{realm}"], input=password + "\n", env=env,
                              check=False, capture_output=True, text=True, timeout=20)
    return proc.returncode == 0


def every_target(lab: LabInfo) -> list[dict[str, str]]:
    return [{"name": t.name, "address": t.address} for t in lab.targets]


def test_a_wrong_password_costs_at_most_one_bad_logon(guarded: Scanner, private_lockout_records: Path) -> None:
    lab = guarded.lab
    assert len(lab.targets) > 3 * 3, "more targets than three lockout thresholds"
    assert account_state(lab) == (0, False)
    run = run_module("scan_readiness", guarded.args(targets=every_target(lab), password="Wrong-" + PASSWORD),
                     verbosity=2)
    assert run.failed
    assert "refused the password" in run.result["msg"]
    assert "No target was contacted" in run.result["msg"]
    # Every target in the result, not attempted, so that reports written from it say why.
    assert [h["name"] for h in run.result["hosts"]] == [t.name for t in lab.targets]
    assert {h["checks"]["logon"]["class"] for h in run.result["hosts"]} == {"logon_failure"}
    assert not any(h["ready"] or h["auth_scheme"] for h in run.result["hosts"])
    assert PASSWORD not in run.output
    bad, locked = account_state(lab)
    assert bad <= 1 and not locked
    # Recorded: the right password is not tried either until the record named in the error is deleted.
    blocked = run_module("scan_readiness", guarded.args(targets=every_target(lab)[:4]))
    assert blocked.failed and blocked.result["msg"].startswith("Not tried: the domain controller")
    [record] = private_lockout_records.glob("*.json")
    assert str(record) in blocked.result["msg"]
    record.unlink()
    # Still usable: the right password works right after, and the run then reaches the targets.
    ok = run_module("scan_readiness", guarded.args(targets=every_target(lab)[:4], services=[], wmi_namespaces=[]))
    assert not ok.failed, ok.output
    assert ok.result["summary"]["total"] == 4
    assert account_state(lab) == (0, False), "a good logon resets the count"


def test_a_locked_account_is_reported_and_left_locked(guarded: Scanner) -> None:
    lab = guarded.lab
    try:
        for _attempt in range(3):
            assert not kinit(lab, "Wrong-" + PASSWORD)
        assert account_state(lab) == (3, True), "the oracle locked the account"
        run = run_module("scan_readiness", guarded.args(targets=every_target(lab)))
        assert run.failed
        assert "locked out" in run.result["msg"]
        assert run.result["failure_class"] == "account_locked"
        assert "No target was contacted" in run.result["msg"]
        assert account_state(lab) == (3, True), "no further bad logon, and still locked"
    finally:
        samba_tool(lab, "user", "unlock", ACCOUNT, check=False)
    assert kinit(lab, PASSWORD)
