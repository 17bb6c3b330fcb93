"""A delegated non-admin pre-creates the scanner account: scan_account refuses it, or adopts it when told.

Lab instance `acct`. Samba's own database (SDDL through samba.sd_utils, ldb_search) and real logons
(MIT kinit, smbclient to C$) are the oracles. The helper is delegated the way the delegation wizard does
it ("create, delete and manage user accounts" in one OU), and creates the account over LDAPS himself.
"""
from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._ldap import MODIFY_REPLACE, DomainError, connect

from tests.integration.test_scan_account import PASSWORD, account_args, assert_no_secrets, kinit
from tests.lab_support import (
    REPO,
    SAMDB_ADMIN,
    LabInfo,
    ldb_search,
    load_lab,
    run_module,
    run_playbook,
    samba_python,
)

pytestmark = pytest.mark.lab

USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
HELPER_PASSWORD = "Squat-Helper-Pw-1"
SQUAT_PASSWORD = "Squat-Known-Pw-1"  # what the helper gave the account
UF_NORMAL_ACCOUNT = 0x200
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_DONT_REQ_PREAUTH = 0x400000
RISKY = 0x20 | 0x80 | 0x80000 | 0x200000 | 0x400000 | 0x1000000

# Under Debian's python3: argv[3] a verb, then its arguments; prints one JSON value.
SAMBA_ADMIN = SAMDB_ADMIN + """
out = None
if verb == 'delegate':  # ou, helper, password: an OU whose users the helper may create and manage
    ou, helper, password = args
    db.create_ou(f'{ou},{base}')
    db.newuser(helper, password, userou=ou)
    sid = sid_of(f'CN={helper},{ou},{base}')
    utils = SDUtils(db)
    utils.dacl_add_ace(f'{ou},{base}', f'(OA;;CCDC;USER_CLASS;;{sid})')
    utils.dacl_add_ace(f'{ou},{base}', f'(OA;CIIO;RPWPCRCCDCLCLORCWOWDSDDTSW;;USER_CLASS;{sid})')
    out = sid
elif verb == 'plant':  # dn, helper sid: what the owner could add himself, and delegation he could not set
    dn, sid = args
    SDUtils(db).dacl_add_ace(dn, f'(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;{sid})')
    m = ldb.Message(ldb.Dn(db, dn))
    m['d'] = ldb.MessageElement(['cifs/dc1'], ldb.FLAG_MOD_REPLACE, 'msDS-AllowedToDelegateTo')
    db.modify(m)
elif verb == 'sddl':
    dn, = args
    out = SDUtils(db).get_sd_as_sddl(dn)
elif verb == 'remove':  # DNs, each with its subtree
    for dn in args:
        try:
            db.delete(dn, ['tree_delete:1'])
        except ldb.LdbError:
            pass
print(json.dumps(out))
""".replace("USER_CLASS", USER_CLASS)


@dataclass(frozen=True)
class Squat:
    name: str
    dn: str
    helper: str
    helper_sid: str


def samba_admin(lab: LabInfo, verb: str, *args: str) -> object:
    return samba_python(SAMBA_ADMIN, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb, verb, *args)


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab("acct")


@pytest.fixture
def squat(lab: LabInfo) -> Iterator[Squat]:
    """The helper, delegated one OU, creates the account there with a password he knows, no pre-auth, an SPN."""
    tag = uuid.uuid4().hex[:8]
    base = lab.vars["lab_base_dn"]
    ou = f"OU=Delegated{tag}"
    helper, name = f"helper_{tag}", f"sr_sq_{tag}"
    try:
        helper_sid = str(samba_admin(lab, "delegate", ou, helper, HELPER_PASSWORD))
        dn = f"CN={name},{ou},{base}"
        with connect(lab.connection_args() | {"admin_username": f"{helper}@{lab.vars['scanready_domain']}",
                                              "admin_password": HELPER_PASSWORD}) as conn:
            conn.add(dn, ("top", "person", "organizationalPerson", "user"),
                     {"sAMAccountName": name, "userAccountControl": str(UF_NORMAL_ACCOUNT | 0x2)})
            conn.modify(dn, {"unicodePwd": [(MODIFY_REPLACE, [f'"{SQUAT_PASSWORD}"'.encode("utf-16-le")])]})
            conn.modify(dn, {"userAccountControl": [(MODIFY_REPLACE, [str(UF_NORMAL_ACCOUNT | UF_DONT_REQ_PREAUTH)])],
                             "servicePrincipalName": [(MODIFY_REPLACE, [f"HTTP/{name}.squat.test"])]})
        samba_admin(lab, "plant", dn, helper_sid)
        yield Squat(name, dn, helper, helper_sid)
    finally:
        samba_admin(lab, "remove", f"{ou},{base}")


def read(lab: LabInfo, squat: Squat) -> dict[str, list[str]]:
    [entry] = ldb_search(lab, squat.dn, "(objectClass=user)", "userAccountControl", "memberOf",
                         "servicePrincipalName", "msDS-AllowedToDelegateTo", scope="base")
    entry["sddl"] = [str(samba_admin(lab, "sddl", squat.dn))]
    return entry


def in_domain_admins(lab: LabInfo, entry: dict[str, list[str]]) -> bool:
    groups = [g.lower() for g in entry.get("memberOf", [])]
    return f"CN=Domain Admins,CN=Users,{lab.vars['lab_base_dn']}".lower() in groups


def c_share_opens(lab: LabInfo, user: str, password: str) -> bool:
    """Whether user opens the DC's admin share C$ (smbclient, password on stdin)."""
    proc = subprocess.run(["smbclient", f"//{lab.vars['lab_dc_address']}/C$", "-U",
                           f"{lab.vars['lab_netbios']}\\{user}", "-c", "ls"],
                          input=password + "\n", capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode == 0


def test_a_squatted_account_is_refused_and_stays_unprivileged(lab: LabInfo, squat: Squat) -> None:
    before = read(lab, squat)
    for check in (True, False):
        run = run_module("scan_account", account_args(lab, squat.name), check=check, verbosity=4)
        assert run.failed, run.result
        msg = run.result["msg"]
        assert msg.startswith(f"{squat.name} already exists as {squat.dn} and someone else controls it: owner "
                              f"CN={squat.helper},"), msg
        assert squat.helper_sid in msg and "explicit ACEs: allow" in msg
        assert "adopt: true" in msg and "scanready_account_adopt" in msg
        assert "Traceback" not in run.output and "\n" not in msg
        assert_no_secrets(lab, run)
    after = read(lab, squat)
    assert after == before
    assert not in_domain_admins(lab, after)
    assert kinit(lab, squat.name, SQUAT_PASSWORD)[0]  # the helper's password still works ...
    assert not c_share_opens(lab, squat.name, SQUAT_PASSWORD)  # ... for nothing privileged


def test_adopting_a_squatted_account(lab: LabInfo, squat: Squat) -> None:
    args = account_args(lab, squat.name, adopt=True)
    before = read(lab, squat)

    check = run_module("scan_account", args, check=True, diff=True)
    assert check.changed and not check.failed, check.result
    assert check.result["diff"]["before"]["controlled_by_others"] is True
    assert check.result["diff"]["before"]["risky_flags"] == ["DONT_REQ_PREAUTH"]
    assert check.result["diff"]["after"]["controlled_by_others"] is False
    assert read(lab, squat) == before

    adopted = run_module("scan_account", args, diff=True, verbosity=4)
    assert adopted.changed and not adopted.failed, adopted.result
    assert_no_secrets(lab, adopted, SQUAT_PASSWORD)
    entry = read(lab, squat)
    sddl = entry["sddl"][0]
    assert sddl.startswith("O:DA"), sddl  # Domain Admins own it
    assert squat.helper_sid not in sddl, sddl  # neither the explicit ACE nor the OU's delegation reaches it
    assert "D:P" in sddl  # it no longer inherits from the OU
    assert int(entry["userAccountControl"][0]) & RISKY == 0
    assert int(entry["userAccountControl"][0]) & UF_DONT_EXPIRE_PASSWD
    assert "servicePrincipalName" not in entry and "msDS-AllowedToDelegateTo" not in entry
    assert in_domain_admins(lab, entry)
    assert adopted.result["control"] == {
        "owner": adopted.result["control"]["owner"], "controlled_by_others": False, "foreign_aces": [],
        "inherited_foreign_aces": [], "risky_flags": [], "service_principal_names": [],
        "allowed_to_delegate_to": [], "alternate_credentials": []}
    assert adopted.result["control"]["owner"].startswith("Domain Admins (S-1-5-21-")
    assert kinit(lab, squat.name, PASSWORD)[0]
    assert not kinit(lab, squat.name, SQUAT_PASSWORD)[0]
    with pytest.raises(DomainError, match="insufficient rights"), \
            connect(lab.connection_args() | {"admin_username": f"{squat.helper}@{lab.vars['scanready_domain']}",
                                             "admin_password": HELPER_PASSWORD}) as conn:
        conn.modify(squat.dn, {"unicodePwd": [(MODIFY_REPLACE, [f'"{SQUAT_PASSWORD}"'.encode("utf-16-le")])]})

    again = run_module("scan_account", args)
    assert not again.changed and not again.failed, again.result


def test_rollback_does_not_remove_a_squatted_account(lab: LabInfo, squat: Squat) -> None:
    """Issue 21, item 1: rollback.yml with remove_account on an account someone else controls refuses in one line
    and leaves it as it was (Samba's own view: attributes and descriptor)."""
    before = read(lab, squat)
    proc = run_playbook(REPO / "playbooks" / "rollback.yml", lab.inventory, "--tags", "account",
                        "-e", json.dumps({"scanready_account_name": squat.name,
                                          "scanready_rollback_remove_account": True}))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "someone else controls it" in output and "Traceback" not in output, output[-3000:]
    msg = next(line for line in output.splitlines() if "someone else controls it" in line)
    assert "Nothing was changed" in msg and "adopt" in msg
    assert read(lab, squat) == before
