"""scan_account's least privilege against the real Samba AD DC (the default lab instance): the scanner group of
privilege local_admins, switching modes, NOT_DELEGATED and no SPN on every run, and accountExpires.

Samba's own database (ldb_search, samba-tool, samba.sd_utils under Debian's python3) is the oracle, never our code.
Every test uses its own account and group names and removes them through samba-tool, whatever happened.
"""
from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._ldap import connect

from tests.lab_support import SAMDB_OPEN, LabInfo, ModuleRun, ldb_search, load_lab, run_module, samba_python

pytestmark = pytest.mark.lab

PASSWORD = "Priv-Test-Scanner-Pw-1"
HELPER_PASSWORD = "Priv-Test-Helper-Pw-1"
GLOBAL_SECURITY = "-2147483646"
UF_NOT_DELEGATED = 0x100000
GROUP_CLASS = "bf967a9c-0de6-11d0-a285-00aa003049e2"
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

# Under Debian's python3: argv[3] a verb, then its arguments; prints one JSON value.
SAMBA_ADMIN = SAMDB_OPEN + """
import ldb
from samba.sd_utils import SDUtils
from samba.dcerpc import security
from samba.ndr import ndr_unpack
verb, args = sys.argv[3], sys.argv[4:]
base = str(db.domain_dn())
out = None
if verb == 'delegate':  # ou, helper, password: an OU whose groups the helper may create and manage
    ou, helper, password = args
    db.create_ou(f'{ou},{base}')
    db.newuser(helper, password, userou=ou)
    raw = db.search(base=f'CN={helper},{ou},{base}', scope=ldb.SCOPE_BASE, attrs=['objectSid'])[0]['objectSid'][0]
    sid = str(ndr_unpack(security.dom_sid, raw))
    utils = SDUtils(db)
    utils.dacl_add_ace(f'{ou},{base}', f'(OA;;CCDC;GROUP_CLASS;;{sid})')
    utils.dacl_add_ace(f'{ou},{base}', f'(OA;CIIO;RPWPCRCCDCLCLORCWOWDSDDTSW;;GROUP_CLASS;{sid})')
    out = sid
elif verb == 'sid':  # dn
    dn, = args
    raw = db.search(base=dn, scope=ldb.SCOPE_BASE, attrs=['objectSid'])[0]['objectSid'][0]
    out = str(ndr_unpack(security.dom_sid, raw))
elif verb == 'uac':  # dn, value
    dn, value = args
    m = ldb.Message(ldb.Dn(db, dn))
    m['u'] = ldb.MessageElement([value], ldb.FLAG_MOD_REPLACE, 'userAccountControl')
    db.modify(m)
elif verb == 'remove':  # DNs, each with its subtree
    for dn in args:
        try:
            db.delete(dn, ['tree_delete:1'])
        except ldb.LdbError:
            pass
print(json.dumps(out))
""".replace("GROUP_CLASS", GROUP_CLASS)


@dataclass(frozen=True)
class Names:
    account: str
    group: str


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab()


def samba_tool(lab: LabInfo, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """samba-tool on the DC's own database (no network, no credentials)."""
    proc = subprocess.run(["samba-tool", *args, "-H", lab.sam_ldb, "-s", str(lab.state / "etc" / "smb.conf")],
                          capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode:
        raise AssertionError(f"samba-tool {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def samba_admin(lab: LabInfo, verb: str, *args: str) -> object:
    return samba_python(SAMBA_ADMIN, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb, verb, *args)


@pytest.fixture
def names(lab: LabInfo) -> Iterator[Names]:
    """A fresh account and group name, both removed again through samba-tool whatever the test did."""
    tag = uuid.uuid4().hex[:8]
    made = Names(f"sr_pv_{tag}", f"Scanners {tag}")
    try:
        yield made
    finally:
        samba_tool(lab, "user", "delete", made.account, check=False)
        samba_tool(lab, "group", "delete", made.group, check=False)


def args(lab: LabInfo, names: Names, **extra: object) -> dict[str, object]:
    return lab.connection_args() | {"name": names.account, "password": PASSWORD, "scanner_group": names.group} | extra


def run_ok(module_args: dict[str, object], *, check: bool = False, diff: bool = False) -> ModuleRun:
    run = run_module("scan_account", module_args, check=check, diff=diff)
    assert not run.failed, run.result
    assert PASSWORD not in run.output and HELPER_PASSWORD not in run.output
    return run


def read_account(lab: LabInfo, name: str) -> dict[str, list[str]] | None:
    found = ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={name})", "userAccountControl", "memberOf",
                       "servicePrincipalName", "accountExpires", "objectSid")
    return found[0] if found else None


def read_group(lab: LabInfo, name: str) -> dict[str, list[str]] | None:
    found = ldb_search(lab, lab.vars["lab_base_dn"], f"(&(objectClass=group)(sAMAccountName={name}))", "groupType",
                       "member", "objectSid")
    return found[0] if found else None


def domain_admins(lab: LabInfo) -> str:
    return f"CN=Domain Admins,CN=Users,{lab.vars['lab_base_dn']}"


def memberships(lab: LabInfo, name: str) -> set[str]:
    entry = read_account(lab, name)
    assert entry is not None
    return {g.lower() for g in entry.get("memberOf", [])}


def expires_at(entry: dict[str, list[str]]) -> datetime | None:
    value = int(entry.get("accountExpires", ["0"])[0])
    if value in (0, 0x7FFFFFFFFFFFFFFF):
        return None
    return FILETIME_EPOCH + timedelta(microseconds=value // 10)


def test_local_admins_converges(lab: LabInfo, names: Names) -> None:
    module_args = args(lab, names, privilege="local_admins")
    check = run_ok(module_args, check=True, diff=True)
    assert check.changed and check.result["scanner_group"]["sid"] is None
    assert read_account(lab, names.account) is None and read_group(lab, names.group) is None

    first = run_ok(module_args, diff=True)
    assert first.changed and first.result["created"]
    group = read_group(lab, names.group)
    assert group is not None
    assert group["groupType"] == [GLOBAL_SECURITY]
    account_dn = first.result["dn"]
    assert [m.lower() for m in group["member"]] == [account_dn.lower()]
    assert group["dn"][0].lower() == f"CN={names.group},CN=Users,{lab.vars['lab_base_dn']}".lower()
    assert memberships(lab, names.account) == {group["dn"][0].lower()}  # and not Domain Admins
    assert first.result["scanner_group"]["sid"] == samba_admin(lab, "sid", group["dn"][0])
    assert first.result["scanner_group"]["members"] == [account_dn]
    entry = read_account(lab, names.account)
    assert entry is not None and int(entry["userAccountControl"][0]) & UF_NOT_DELEGATED
    assert "servicePrincipalName" not in entry

    again = run_ok(module_args)
    assert not again.changed, again.result


def test_switching_modes_converges_to_exactly_the_modes_memberships(lab: LabInfo, names: Names) -> None:
    da = domain_admins(lab).lower()
    run_ok(args(lab, names, privilege="local_admins"))
    group_dn = read_group(lab, names.group)["dn"][0].lower()  # type: ignore[index]
    for privilege, expected in (("domain_admins", {da}), ("local_admins", {group_dn}), ("none", set()),
                                ("local_admins", {group_dn})):
        switched = run_ok(args(lab, names, privilege=privilege), diff=True)
        assert switched.changed, (privilege, switched.result)
        assert memberships(lab, names.account) == expected, privilege
        assert {g.lower() for g in switched.result["groups"]} == expected
        assert not run_ok(args(lab, names, privilege=privilege)).changed, privilege
    assert read_group(lab, names.group) is not None  # the group stays in every mode


def test_an_spn_added_by_hand_is_reported_and_removed(lab: LabInfo, names: Names) -> None:
    module_args = args(lab, names)
    dn = run_ok(module_args).result["dn"]
    spn = f"HTTP/{names.account}.spn.test"
    samba_tool(lab, "spn", "add", spn, names.account)
    samba_admin(lab, "uac", dn, str(0x200 | 0x10000))  # NOT_DELEGATED taken away
    check = run_ok(module_args, check=True, diff=True)
    assert check.changed
    assert check.result["diff"]["before"]["service_principal_names"] == [spn]
    assert check.result["diff"]["after"]["service_principal_names"] == []
    assert not check.result["diff"]["before"]["not_delegated"] and check.result["diff"]["after"]["not_delegated"]
    assert read_account(lab, names.account)["servicePrincipalName"] == [spn]  # type: ignore[index]

    fixed = run_ok(module_args)
    assert fixed.changed
    assert any(spn in warning and "kerberoasting" in warning for warning in fixed.result.get("warnings", []))
    entry = read_account(lab, names.account)
    assert entry is not None and "servicePrincipalName" not in entry
    assert int(entry["userAccountControl"][0]) & UF_NOT_DELEGATED
    assert not run_ok(module_args).changed


@pytest.fixture
def delegated(lab: LabInfo) -> Iterator[tuple[str, str]]:
    """An OU whose groups a non-admin helper may create and manage: (OU DN, helper)."""
    tag = uuid.uuid4().hex[:8]
    ou, helper = f"OU=GroupDelegated{tag}", f"gh_{tag}"
    try:
        samba_admin(lab, "delegate", ou, helper, HELPER_PASSWORD)
        yield f"{ou},{lab.vars['lab_base_dn']}", helper
    finally:
        samba_admin(lab, "remove", f"{ou},{lab.vars['lab_base_dn']}")


def test_a_group_a_delegated_user_created_is_refused(lab: LabInfo, names: Names,
                                                     delegated: tuple[str, str]) -> None:
    ou, helper = delegated
    group_dn = f"CN={names.group},{ou}"
    with connect(lab.connection_args() | {"admin_username": f"{helper}@{lab.vars['scanready_domain']}",
                                          "admin_password": HELPER_PASSWORD}) as conn:
        conn.add(group_dn, ("top", "group"), {"sAMAccountName": names.group, "groupType": GLOBAL_SECURITY})
    before = read_group(lab, names.group)
    for check in (True, False):
        run = run_module("scan_account", args(lab, names, privilege="local_admins"), check=check)
        assert run.failed, run.result
        msg = run.result["msg"]
        assert msg.startswith(f"scanner_group '{names.group}' already exists as {group_dn} and is not only the "
                              f"scanner's: owner CN={helper},"), msg
        assert "Nothing was changed" in msg and "adopt: true" in msg and "\n" not in msg
    assert read_group(lab, names.group) == before
    assert read_account(lab, names.account) is None


def test_a_group_with_another_member_is_refused_then_adopted(lab: LabInfo, names: Names) -> None:
    other = f"sr_po_{uuid.uuid4().hex[:8]}"
    samba_tool(lab, "group", "add", names.group)
    samba_tool(lab, "user", "create", other, "Priv-Test-Other-Pw-1")
    try:
        samba_tool(lab, "group", "addmembers", names.group, other)
        refused = run_module("scan_account", args(lab, names, privilege="local_admins"))
        assert refused.failed and f"members other than {names.account}: CN={other}," in refused.result["msg"]
        assert "local Administrators on every host" in refused.result["msg"]
        assert read_account(lab, names.account) is None

        adopted = run_ok(args(lab, names, privilege="local_admins", adopt=True))
        assert adopted.changed
        group = read_group(lab, names.group)
        assert group is not None and [m.lower() for m in group["member"]] == [adopted.result["dn"].lower()]
        assert not run_ok(args(lab, names, privilege="local_admins", adopt=True)).changed
    finally:
        samba_tool(lab, "user", "delete", other, check=False)


def test_expires_duration_absolute_and_never(lab: LabInfo, names: Names) -> None:
    run_ok(args(lab, names))
    soon = run_ok(args(lab, names, expires="1h"))
    assert soon.changed
    written = expires_at(read_account(lab, names.account))  # type: ignore[arg-type]
    assert written is not None and abs(written - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
    assert soon.result["expires"] == written.isoformat().replace("+00:00", "Z")

    moment = "2031-02-03T04:05:06+02:00"
    module_args = args(lab, names, expires=moment)
    assert run_ok(module_args).changed
    assert expires_at(read_account(lab, names.account)) == datetime(2031, 2, 3, 2, 5, 6, tzinfo=UTC)  # type: ignore[arg-type]
    again = run_ok(module_args)
    assert not again.changed and again.result["expires"] == "2031-02-03T02:05:06Z"

    cleared = run_ok(args(lab, names, expires="never"))
    assert cleared.changed and cleared.result["expires"] is None
    assert expires_at(read_account(lab, names.account)) is None  # type: ignore[arg-type]
    assert not run_ok(args(lab, names, expires="never")).changed
