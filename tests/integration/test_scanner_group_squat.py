"""A scanner group that is not only the scanner's: scan_gpo alone refuses it, scan_account adopts it when told.

Issue 21, item 3. Lab instance `grpsq`, Samba as the oracle (its own database, read with ldb_search, and
SYSVOL on disk). A delegated non-admin ("helpdesk") creates the group over LDAP with his own credentials, so
he owns it; another group has a member by primaryGroupID (set with samba-tool user setprimarygroup, the
way Windows and Samba allow it: the user is a member first). scan_gpo with privilege local_admins refuses
both in one line and writes nothing; scan_account with adopt takes the group over and removes both kinds of
member, the one by primary group given Domain Users back.
"""
from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._ldap import connect

from tests.integration.test_scan_account import PASSWORD, assert_no_secrets
from tests.integration.test_scan_gpo import samba_tool_local, snapshot
from tests.lab_support import LAB, SAMDB_ADMIN, LabInfo, ldb_search, load_lab, run_module, samba_python

pytestmark = pytest.mark.lab

INSTANCE = "grpsq"
GROUP_CLASS = "bf967a9c-0de6-11d0-a285-00aa003049e2"
GLOBAL_SECURITY = "-2147483646"
HELPDESK_PASSWORD = "Grpsq-Helpdesk-Pw-1"
USER_PASSWORD = "Grpsq-Member-Pw-1"
GPO_NAME = "Authenticated scanning (grpsq)"

# Under Debian's python3: argv[3] a verb, then its arguments; prints one JSON value.
SAMBA_ADMIN = SAMDB_ADMIN + """
out = None
if verb == 'delegate':  # ou, helpdesk, password: an OU in which helpdesk may create and delete groups
    ou, helpdesk, password = args
    db.create_ou(f'{ou},{base}')
    db.newuser(helpdesk, password, userou=ou)
    out = sid_of(f'CN={helpdesk},{ou},{base}')
    SDUtils(db).dacl_add_ace(f'{ou},{base}', f'(OA;;CCDC;GROUP_CLASS;;{out})')
elif verb == 'owner':
    dn, = args
    out = SDUtils(db).get_sd_as_sddl(dn).partition('O:')[2].partition('G:')[0]
elif verb == 'sid':
    dn, = args
    out = sid_of(dn)
elif verb == 'remove':  # users first (a group that is someone's primary group cannot go), then each tree
    for dn in args:
        try:
            for m in db.search(base=dn, scope=ldb.SCOPE_SUBTREE, expression='(objectClass=user)', attrs=[]):
                db.delete(m.dn)
            db.delete(dn, ['tree_delete:1'])
        except ldb.LdbError:
            pass
print(json.dumps(out))
""".replace("GROUP_CLASS", GROUP_CLASS)


@dataclass(frozen=True)
class Planted:
    tag: str
    ou: str  # its DN
    group: str  # the scanner group's name
    group_dn: str
    account: str  # the scanner account's name (not created by the planting)
    users: dict[str, str]  # role -> DN: helpdesk, member, primary


def samba_admin(lab: LabInfo, verb: str, *args: str) -> Any:
    return samba_python(SAMBA_ADMIN, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb, verb, *args)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    info = load_lab(INSTANCE)
    try:
        yield info
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=False, capture_output=True)


@pytest.fixture
def planted(lab: LabInfo) -> Iterator[Planted]:
    """An OU with a helpdesk user delegated to create groups in it, and two plain users; the tests make the group."""
    tag = uuid.uuid4().hex[:8]
    base = lab.vars["lab_base_dn"]
    ou = f"OU=GrpSq{tag},{base}"
    group = f"Scanners {tag}"
    users = {role: f"CN={role}_{tag},{ou}" for role in ("helpdesk", "member", "primary")}
    account = f"sr_gsq_{tag}"
    try:
        samba_admin(lab, "delegate", f"OU=GrpSq{tag}", f"helpdesk_{tag}", HELPDESK_PASSWORD)
        for role in ("member", "primary"):
            samba_tool_local(lab, "user", "create", f"{role}_{tag}", USER_PASSWORD, f"--userou=OU=GrpSq{tag}")
        yield Planted(tag, ou, group, f"CN={group},{ou}", account, users)
    finally:
        samba_admin(lab, "remove", ou, f"CN={account},CN=Users,{base}")


def helpdesk_creates_group(lab: LabInfo, planted: Planted) -> None:
    """The helpdesk user adds the group over LDAP with his own credentials: he is its owner."""
    helpdesk = f"helpdesk_{planted.tag}@{lab.vars['scanready_domain']}"
    with connect(lab.connection_args() | {"admin_username": helpdesk, "admin_password": HELPDESK_PASSWORD}) as conn:
        conn.add(planted.group_dn, ("top", "group"), {"sAMAccountName": planted.group, "groupType": GLOBAL_SECURITY})


def admin_creates_group(lab: LabInfo, planted: Planted, *, member: bool, primary: bool) -> None:
    """The group made by an administrator, with a plain member and/or a member by primary group."""
    samba_tool_local(lab, "group", "add", planted.group, f"--groupou=OU=GrpSq{planted.tag}")
    if member:
        samba_tool_local(lab, "group", "addmembers", planted.group, f"member_{planted.tag}")
    if primary:
        user = f"primary_{planted.tag}"
        samba_tool_local(lab, "group", "addmembers", planted.group, user)
        samba_tool_local(lab, "user", "setprimarygroup", user, planted.group)
        # Samba left it in Domain Users' member (its old primary group); a Windows-made user is not listed there
        samba_tool_local(lab, "group", "removemembers", "Domain Users", user)


def entry(lab: LabInfo, dn: str) -> dict[str, list[str]]:
    [found] = ldb_search(lab, dn, "(objectClass=*)", scope="base")
    return found


def ldap_state(lab: LabInfo, planted: Planted) -> list[dict[str, list[str]]]:
    """Every planted object and Domain Users, all attributes (uSNChanged included, so any write shows)."""
    domain_users = f"CN=Domain Users,CN=Users,{lab.vars['lab_base_dn']}"
    return [entry(lab, dn) for dn in (planted.group_dn, *planted.users.values(), domain_users)]


def gpo_args(lab: LabInfo, planted: Planted) -> dict[str, Any]:
    return {**lab.connection_args(), "name": GPO_NAME, "scanner_addresses": ["10.205.0.1"],
            "privilege": "local_admins", "scanner_group": planted.group, "account_name": planted.account}


def assert_scan_gpo_refuses(lab: LabInfo, planted: Planted, says: str) -> None:
    before = (ldap_state(lab, planted), snapshot(lab))
    for check in (True, False):
        run = run_module("scan_gpo", gpo_args(lab, planted), check=check)
        assert run.failed, run.result
        msg = run.result["msg"]
        assert msg.startswith(f"scanner_group {planted.group!r} ({planted.group_dn}) is not only the scanner's: "), msg
        assert says in msg and "Nothing was changed" in msg and "scanready_account_adopt: true" in msg, msg
        assert "\n" not in msg and "Traceback" not in run.output
        assert (ldap_state(lab, planted), snapshot(lab)) == before  # LDAP and SYSVOL as they were
    assert GPO_NAME not in str(snapshot(lab)["ldap"])


def test_scan_gpo_alone_refuses_a_helpdesk_owned_scanner_group(lab: LabInfo, planted: Planted) -> None:
    helpdesk_creates_group(lab, planted)
    helpdesk_sid = samba_admin(lab, "sid", planted.users["helpdesk"])
    assert samba_admin(lab, "owner", planted.group_dn) == helpdesk_sid
    assert_scan_gpo_refuses(lab, planted, f"owner {planted.users['helpdesk']} ({helpdesk_sid})")


def test_scan_gpo_alone_refuses_a_group_with_a_member_by_primary_group(lab: LabInfo, planted: Planted) -> None:
    admin_creates_group(lab, planted, member=False, primary=True)
    group_rid = samba_admin(lab, "sid", planted.group_dn).rsplit("-", 1)[1]
    assert entry(lab, planted.users["primary"])["primaryGroupID"] == [group_rid]
    assert "member" not in entry(lab, planted.group_dn)
    assert_scan_gpo_refuses(lab, planted, f"members by primary group (primaryGroupID): {planted.users['primary']}")


def test_adoption_removes_plain_and_primary_group_members(lab: LabInfo, planted: Planted) -> None:
    admin_creates_group(lab, planted, member=True, primary=True)
    primary = planted.users["primary"]
    args = {**lab.connection_args(), "name": planted.account, "password": PASSWORD, "privilege": "local_admins",
            "scanner_group": planted.group}
    refused = run_module("scan_account", args)
    assert refused.failed and "members by primary group (primaryGroupID)" in refused.result["msg"], refused.result
    assert "\n" not in refused.result["msg"]
    args["adopt"] = True
    before = ldap_state(lab, planted)

    check = run_module("scan_account", args, check=True, diff=True)
    assert check.changed and not check.failed, check.result
    assert check.result["diff"]["before"]["scanner_group"]["primary_members"] == [primary]
    assert check.result["diff"]["after"]["scanner_group"]["primary_members"] == []
    assert ldap_state(lab, planted) == before

    adopted = run_module("scan_account", args, diff=True)
    assert adopted.changed and not adopted.failed, adopted.result
    assert_no_secrets(lab, adopted)
    account_dn = adopted.result["dn"]
    assert adopted.result["scanner_group"]["members"] == [account_dn]
    assert adopted.result["scanner_group"]["primary_members"] == []
    assert adopted.result["diff"]["before"]["scanner_group"]["members"] == [planted.users["member"]]
    assert adopted.result["diff"]["before"]["scanner_group"]["primary_members"] == [primary]
    group = entry(lab, planted.group_dn)
    assert [m.lower() for m in group["member"]] == [account_dn.lower()], group["member"]
    assert entry(lab, primary)["primaryGroupID"] == ["513"]
    group_rid = samba_admin(lab, "sid", planted.group_dn).rsplit("-", 1)[1]
    assert ldb_search(lab, lab.vars["lab_base_dn"], f"(primaryGroupID={group_rid})") == []

    again = run_module("scan_account", args)
    assert not again.changed and not again.failed, again.result
