"""scan_account and the scanner_account role against a real Samba AD DC (lab instance `acct`).

The DC's own database (ldb_search) and real Kerberos logons (MIT kinit) are the oracles, never our code.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ansible_collections.scanready.windows.plugins.module_utils._ldap import DomainError, connect
from ansible_collections.scanready.windows.plugins.module_utils._lockout import LockoutRecord, Refusal, private_dir

from tests.lab_support import LabInfo, ModuleRun, admin_ldap, ldb_search, load_lab, run_module, run_playbook

pytestmark = pytest.mark.lab

UF_ACCOUNTDISABLE = 0x2
UF_DONT_EXPIRE_PASSWD = 0x10000
PASSWORD = "Acct-Test-Scanner-Pw-1"
OTHER_PASSWORD = "Acct-Test-Scanner-Pw-2"
WRONG_CA = "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab("acct")


@pytest.fixture
def name(lab: LabInfo) -> Iterator[str]:
    """A fresh account name (unique per test), removed again whatever the test did."""
    account = f"sr_{uuid.uuid4().hex[:10]}"
    try:
        yield account
    finally:
        delete_directly(lab, account)


def admin_connection(lab: LabInfo) -> ldap3.Connection:
    """ldap3 bound as the lab's admin: for clean-up, independent of the code under test."""
    return admin_ldap(lab)


def delete_directly(lab: LabInfo, account: str) -> None:
    for entry in read(lab, account):
        conn = admin_connection(lab)
        conn.delete(entry["dn"][0])
        conn.unbind()


def read(lab: LabInfo, account: str) -> list[dict[str, list[str]]]:
    """The account as the DC's own database has it."""
    return ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={account})",
                      "userAccountControl", "memberOf", "objectSid", "description", "userPrincipalName",
                      "badPwdCount")


def kinit(lab: LabInfo, account: str, password: str) -> tuple[bool, str]:
    """A real Kerberos logon as account (MIT kinit, private config and ccache, password on stdin)."""
    realm = lab.vars["scanready_domain"].upper()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "krb5.conf"
        conf.write_text(f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n"
                        f" dns_lookup_realm = false\n[realms]\n {realm} = {{\n  kdc = {lab.vars['lab_dc_address']}\n"
                        " }\n")
        env = dict(os.environ, KRB5_CONFIG=str(conf), KRB5CCNAME=str(Path(tmp) / "ccache"))
        proc = subprocess.run(["kinit", f"{account}@{realm}"], input=password + "\n", env=env,
                              capture_output=True, text=True, timeout=20, check=False)
    return proc.returncode == 0, proc.stderr.strip()


def account_args(lab: LabInfo, account: str, **extra: Any) -> dict[str, Any]:
    return lab.connection_args() | {"name": account, "password": PASSWORD} | extra


def assert_no_secrets(lab: LabInfo, run: ModuleRun, *secrets: str) -> None:
    for secret in (lab.vars["scanready_admin_password"], PASSWORD, OTHER_PASSWORD, *secrets):
        assert secret not in run.output
        assert secret not in repr(run.result)


def domain_admins_dn(lab: LabInfo) -> str:
    return f"CN=Domain Admins,CN=Users,{lab.vars['lab_base_dn']}"


def test_lifecycle_check_create_again_disable_enable_absent(lab: LabInfo, name: str) -> None:
    args = account_args(lab, name, description="scanner (test)")

    check = run_module("scan_account", args, check=True, diff=True, verbosity=4)
    assert check.changed and check.result["created"], check.result
    assert check.result["sid"] is None
    assert check.result["diff"]["before"] == {"state": "absent"}
    assert read(lab, name) == []
    assert_no_secrets(lab, check)

    created = run_module("scan_account", args, diff=True, verbosity=4)
    assert created.changed and created.result["created"], created.result
    assert_no_secrets(lab, created)
    [entry] = read(lab, name)
    uac = int(entry["userAccountControl"][0])
    assert uac & UF_DONT_EXPIRE_PASSWD
    assert not uac & UF_ACCOUNTDISABLE
    assert domain_admins_dn(lab).lower() in [g.lower() for g in entry["memberOf"]]
    assert entry["description"] == ["scanner (test)"]
    assert entry["userPrincipalName"] == [f"{name}@{lab.vars['scanready_domain']}"]
    assert created.result["dn"] == entry["dn"][0]
    by_sid = ldb_search(lab, lab.vars["lab_base_dn"], f"(objectSid={created.result['sid']})", "sAMAccountName")
    assert [e["sAMAccountName"] for e in by_sid] == [[name]]
    assert created.result["enabled"] is True
    assert created.result["groups"] == [domain_admins_dn(lab)]
    assert kinit(lab, name, PASSWORD)[0]

    again = run_module("scan_account", args)
    assert not again.changed and not again.result["created"], again.result

    disabled = run_module("scan_account", args | {"state": "disabled"}, diff=True)
    assert disabled.changed and disabled.result["enabled"] is False
    assert disabled.result["diff"]["before"]["enabled"] is True
    assert int(read(lab, name)[0]["userAccountControl"][0]) & UF_ACCOUNTDISABLE
    ok, why = kinit(lab, name, PASSWORD)
    assert not ok and "revoked" in why, why
    assert not run_module("scan_account", args | {"state": "disabled"}).changed

    enabled = run_module("scan_account", args)
    assert enabled.changed and enabled.result["enabled"] is True
    assert kinit(lab, name, PASSWORD)[0]

    absent_check = run_module("scan_account", args | {"state": "absent"}, check=True)
    assert absent_check.changed
    assert len(read(lab, name)) == 1

    absent = run_module("scan_account", args | {"state": "absent"})
    assert absent.changed and absent.result["dn"] == entry["dn"][0]
    assert read(lab, name) == []
    assert not run_module("scan_account", args | {"state": "absent"}).changed


def test_update_password_always_changes_only_a_different_password(lab: LabInfo, name: str) -> None:
    args = account_args(lab, name, update_password="always", privilege="none")
    assert run_module("scan_account", args).result["created"]
    assert read(lab, name)[0].get("memberOf", []) == []

    same = run_module("scan_account", args)
    assert not same.changed, same.result
    assert read(lab, name)[0].get("badPwdCount", ["0"]) == ["0"]  # the check bind succeeded

    new = run_module("scan_account", args | {"password": OTHER_PASSWORD}, diff=True, verbosity=4)
    assert new.changed, new.result
    assert new.result["diff"]["after"]["password"] == "(changed, not shown)"
    assert_no_secrets(lab, new)
    assert kinit(lab, name, OTHER_PASSWORD)[0]
    assert not kinit(lab, name, PASSWORD)[0]

    assert not run_module("scan_account", args | {"password": OTHER_PASSWORD}).changed
    # On a disabled account the DC still says the password is right ("account disabled", not "wrong").
    assert run_module("scan_account", args | {"password": OTHER_PASSWORD, "state": "disabled"}).changed
    assert not run_module("scan_account", args | {"password": OTHER_PASSWORD, "state": "disabled"}).changed


def test_a_password_set_or_proven_right_clears_the_verify_lockout_record(lab: LabInfo, name: str,
                                                                         private_lockout_records: Path) -> None:
    """A verify run that met a wrong password left a record that stops every later verify run; once
    scan_account has set the password that refusal is over. While it holds, update_password: always makes no
    bind to check the password (that could be one more bad logon): it sets it again."""
    def refused_earlier() -> LockoutRecord:
        record = LockoutRecord(private_dir(private_lockout_records), name, lab.vars["scanready_domain"])
        record.write(Refusal(record.account, "a target", "logon_failure", "refused the password", time.time()))
        return record

    args = account_args(lab, name, update_password="always", privilege="none")
    record = refused_earlier()
    check = run_module("scan_account", args, check=True)
    assert check.changed and record.read() is not None, "check mode changes nothing, the record included"
    assert run_module("scan_account", args).result["created"]
    assert record.read() is None, "the password was just set"
    record = refused_earlier()
    again = run_module("scan_account", args)
    assert again.changed, "a refusal is recorded: no bind (it could be one more bad logon), the password is set again"
    assert any("is not checked" in w for w in again.result.get("warnings", [])), again.result
    assert record.read() is None, "the password was just set"
    assert read(lab, name)[0].get("badPwdCount", ["0"]) == ["0"], "no bind was made"
    assert not run_module("scan_account", args).changed, "no record: the bind proves the password right"
    record = refused_earlier()
    assert not run_module("scan_account", account_args(lab, name, privilege="none")).changed
    assert record.read() is not None, "update_password: on_create does not know the password: the record stays"


@pytest.mark.parametrize(("bad_name", "why"), [
    ("QuAlYs", "reserved by the scanning vendor"),
    ("bad@name", "cannot hold: '@'"),
])
def test_reserved_or_invalid_name_is_refused(lab: LabInfo, bad_name: str, why: str) -> None:
    run = run_module("scan_account", account_args(lab, bad_name))
    assert run.failed and why in run.result["msg"], run.result
    assert read(lab, bad_name) == []


@pytest.mark.parametrize(("extra", "why"), [
    ({"password": "abc"}, "the domain refused the password for {name}: "),
    ({"path": "OU=NoSuchOU,{base}"}, "path OU=NoSuchOU,{base} does not exist"),
])
def test_failed_create_leaves_nothing_behind(lab: LabInfo, name: str, extra: dict[str, str], why: str) -> None:
    base = lab.vars["lab_base_dn"]
    extra = {k: v.format(base=base) for k, v in extra.items()}
    run = run_module("scan_account", account_args(lab, name, **extra), verbosity=4)
    assert run.failed, run.result
    assert why.format(name=name, base=base) in run.result["msg"]
    assert read(lab, name) == []
    assert_no_secrets(lab, run)


def test_policy_reason_is_the_dcs(lab: LabInfo, name: str) -> None:
    run = run_module("scan_account", account_args(lab, name, password="abc"))
    assert "password is too short" in run.result["msg"]
    assert "nothing left behind" in run.result["msg"]


def test_wrong_ca_is_a_tls_failure(lab: LabInfo, name: str) -> None:
    run = run_module("scan_account", account_args(lab, name, ca_cert=WRONG_CA))
    assert run.failed
    assert run.result["msg"].startswith(f"TLS failure with DC {lab.vars['scanready_dc']}:636: its certificate "
                                        f"could not be verified against the CA in {WRONG_CA}"), run.result["msg"]
    assert read(lab, name) == []


def test_the_dc_by_address_is_refused_by_its_certificate_and_unchecked_tls_warns(lab: LabInfo, name: str) -> None:
    """Samba's certificate names the DC by its DNS name only: its address is a host-name mismatch, which
    validate_certs: false accepts, with a warning on the run."""
    address = lab.vars["lab_dc_address"]
    refused = run_module("scan_account", account_args(lab, name, dc=address), check=True)
    assert refused.failed
    assert f"certificate is not valid for '{address}'; name the DC (dc) as its certificate does" in \
        refused.result["msg"], refused.result["msg"]
    unchecked = run_module("scan_account", account_args(lab, name, dc=address, validate_certs=False), check=True)
    assert not unchecked.failed, unchecked.result
    assert any("validate_certs is false" in w for w in unchecked.result.get("warnings", [])), unchecked.result
    assert read(lab, name) == []


def test_wrong_operator_password_is_a_refused_bind(lab: LabInfo, name: str) -> None:
    wrong = "Not-The-Admin-Password-9"
    run = run_module("scan_account", account_args(lab, name, admin_password=wrong), verbosity=4)
    assert run.failed
    assert run.result["msg"] == (f"bind as {lab.vars['scanready_admin_username']} refused by "
                                 f"{lab.vars['scanready_dc']}: wrong user name or password")
    assert_no_secrets(lab, run, wrong)
    assert read(lab, name) == []


def test_unreachable_dc_fails_within_the_timeout(lab: LabInfo, name: str) -> None:
    [blocked] = lab.by_class("firewall_blocked")[:1]
    timeout = 3
    started = time.monotonic()
    run = run_module("scan_account", account_args(lab, name, dc=blocked.address, connect_timeout=timeout))
    elapsed = time.monotonic() - started
    assert run.failed
    assert run.result["msg"] == f"DC {blocked.address}:636 unreachable: no answer within {timeout} s"
    assert elapsed < timeout + 30  # ansible's own start-up dominates the rest; the in-process bound is below

    params = account_args(lab, name, dc=blocked.address, connect_timeout=timeout, port=None, tls="ldaps",
                          validate_certs=True)
    started = time.monotonic()
    with pytest.raises(DomainError):
        connect(params)
    assert time.monotonic() - started < timeout + 1


def test_role_creates_once_disables_and_removes(lab: LabInfo, name: str, tmp_path: Path) -> None:
    playbook = tmp_path / "account.yml"
    playbook.write_text(
        "- name: Scanner account\n  hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  roles:\n    - role: scanready.windows.scanner_account\n")

    def play(state: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_playbook(playbook, lab.inventory, "-e", f"scanready_account_name={name}",
                            "-e", f"scanready_account_state={state}", *extra, timeout=180)

    first = play("present", "-vvvv")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "changed=1" in first.stdout
    assert lab.vars["scanready_account_password"] not in first.stdout + first.stderr
    assert lab.vars["scanready_admin_password"] not in first.stdout + first.stderr
    assert kinit(lab, name, lab.vars["scanready_account_password"])[0]

    second = play("present")
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]

    disabled = play("disabled")
    assert "changed=1" in disabled.stdout, disabled.stdout[-3000:]
    assert int(read(lab, name)[0]["userAccountControl"][0]) & UF_ACCOUNTDISABLE

    removed = play("absent")
    assert "changed=1" in removed.stdout, removed.stdout[-3000:]
    assert read(lab, name) == []


def test_module_defaults_group_sets_the_connection_once(lab: LabInfo, name: str, tmp_path: Path) -> None:
    connection = lab.connection_args()
    lines = ["- name: Connection set once for the domain group", "  hosts: localhost", "  connection: local",
             "  gather_facts: false", "  module_defaults:", "    group/scanready.windows.domain:"]
    lines += [f"      {key}: {json.dumps(value)}" for key, value in connection.items()]
    lines += ["  tasks:",
              "    - name: Create", "      scanready.windows.scan_account:",
              f"        name: {name}", f"        password: {json.dumps(PASSWORD)}", "        privilege: none",
              "    - name: Remove", "      scanready.windows.scan_account:",
              f"        name: {name}", "        state: absent"]
    playbook = tmp_path / "defaults.yml"
    playbook.write_text("\n".join(lines) + "\n")
    inventory = tmp_path / "hosts"
    inventory.write_text("localhost ansible_connection=local\n")
    proc = run_playbook(playbook, inventory, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "changed=2" in proc.stdout
    assert read(lab, name) == []
