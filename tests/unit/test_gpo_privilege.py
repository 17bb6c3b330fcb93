"""The scanner's least-privilege entries in GptTmpl.inf: Restricted Groups "Member of", the deny-logon rights, the
never-replace-Administrators rule, removal when switched off, SIDs resolved over LDAP (fakes), and the options."""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._acl import sid_to_bytes
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import (
    GpoFormatError,
    GpoInputError,
    GpoStoreError,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.extensions import SECURITY_CSE
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder_acl import APPLY_GROUP_POLICY
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import parse_gplink
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import InfDocument
from ansible_collections.scanready.windows.plugins.module_utils._gpo.options import GPO_SPEC, request_from
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    ScanPolicy,
    apply_policy,
    machine_extensions,
    policy_settings,
    setting_changes,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.privilege import (
    MemberOf,
    Principal,
    check_scanner_group,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.store import Request

from tests.unit.test_gpo import EXPECTED_INF, EXPECTED_INF_TEXT
from tests.unit.test_gpo_store import BASE, DEFAULT_GPO, DOMAIN_SID, NAME, FakeLdap, FakeSysvol, folder_of
from tests.unit.test_gpo_store import run as run_store

GROUP = Principal("Vulnerability Scanners", f"{DOMAIN_SID}-1105")
ACCOUNT = Principal("qualys_scanner", f"{DOMAIN_SID}-1106")
INF_PATH = r"\Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf"
GROUP_LINES = f"[Group Membership]\r\n*{GROUP.sid}__Memberof = *S-1-5-32-544\r\n*{GROUP.sid}__Members = \r\n"
DENY_LINES = ("[Privilege Rights]\r\n" + "".join(
    f"{right} = *{ACCOUNT.sid}\r\n" for right in ("SeDenyInteractiveLogonRight", "SeDenyRemoteInteractiveLogonRight",
                                                  "SeDenyBatchLogonRight", "SeDenyServiceLogonRight")))


def policy(**overrides: Any) -> ScanPolicy:
    values: dict[str, Any] = {"scanner_addresses": ("10.0.0.5",), "scanner_group": GROUP, "scanner_account": ACCOUNT}
    values.update(overrides)
    return ScanPolicy(**values)


def applied(wanted: ScanPolicy, content: GpoContent | None = None) -> GpoContent:
    return apply_policy(content or GpoContent.parse(None, None), policy_settings(wanted))


def text(content: GpoContent) -> str:
    return content.inf.render()[2:].decode("utf-16-le")


def inf_of(body: str) -> GpoContent:
    return GpoContent(InfDocument.parse(b"\xff\xfe" + ("[Unicode]\r\nUnicode=yes\r\n" + body).encode("utf-16-le")), [])


# --- Rendering ---------------------------------------------------------------------------------------

def test_local_admins_is_a_member_of_entry_after_the_services_as_samba_writes_it() -> None:
    out = text(applied(policy(local_admins=True)))
    assert out == EXPECTED_INF_TEXT + GROUP_LINES  # Samba's MemberSIDListParam writes 'key = ' for an empty list
    doc = InfDocument.parse(applied(policy(local_admins=True)).inf.render())
    assert doc.render() == applied(policy(local_admins=True)).inf.render()


def test_deny_logon_rights_sit_between_registry_values_and_services() -> None:
    out = text(applied(policy(deny_interactive_logon=True)))
    assert DENY_LINES in out
    assert out.index("[Registry Values]") < out.index("[Privilege Rights]") < out.index("[Service General Setting]")
    assert "SeDenyNetworkLogonRight" not in out


def test_defaults_write_neither_section() -> None:
    assert applied(policy()).inf.render() == EXPECTED_INF


def test_shown_as_an_administrator_reads_it() -> None:
    wanted = policy(local_admins=True, deny_interactive_logon=True)
    settings = policy_settings(wanted)
    changes = setting_changes(GpoContent.parse(None, None).show(settings), applied(wanted).show(settings))
    assert (f"Restricted Groups: Vulnerability Scanners -> BUILTIN\\Administrators (member of): not configured → "
            f"{GROUP.sid} (Vulnerability Scanners)") in changes
    assert f"SeDenyRemoteInteractiveLogonRight (Deny log on through Remote Desktop Services): not configured → " \
           f"*{ACCOUNT.sid}" in changes


def test_security_extension_is_listed_for_group_membership_alone() -> None:
    only = applied(policy(local_admins=True, sharing_model_classic=False, guest_account_disabled=False,
                          everyone_includes_anonymous_disabled=False, remote_registry_automatic=False,
                          server_automatic=False, windows_firewall_automatic=False))
    assert "[" + "".join(SECURITY_CSE) + "]" in machine_extensions("", only)


# --- Never replace BUILTIN\Administrators ---------------------------------------------------------------

@pytest.mark.parametrize("key", ["*S-1-5-32-544__Members", "*s-1-5-32-544__members", "S-1-5-32-544__Members",
                                 "Administrators__Members"])
def test_the_renderer_never_writes_the_administrators_members_line(key: str) -> None:
    content = inf_of(f"[Group Membership]\r\n{key} = *S-1-5-21-1-2-3-1105\r\n")
    with pytest.raises(GpoFormatError, match="replaces the members of BUILTIN"):
        content.inf.render()
    with pytest.raises(GpoFormatError):
        applied(policy(local_admins=True), content).inf.render()


@pytest.mark.parametrize("sid", [f"{DOMAIN_SID}-1105", f"{DOMAIN_SID}-4000", f"{DOMAIN_SID}-1000"])
def test_no_scanner_group_renders_a_members_line_for_administrators(sid: str) -> None:
    on = applied(policy(local_admins=True, scanner_group=Principal("g", sid)))
    assert not re.search(r"S-1-5-32-544__Members", text(on), re.IGNORECASE)
    off = applied(policy(local_admins=False, scanner_group=Principal("g", sid)), on)
    assert "Group Membership" not in text(off)


@pytest.mark.parametrize(("sid", "message"), [
    ("S-1-5-32-544", "not a group of this domain"),
    ("S-1-5-32-545", "not a group of this domain"),
    ("S-1-5-21-1-2-3-1105", "not a group of this domain"),
    (f"{DOMAIN_SID}-513", "built-in groups"),
    (f"{DOMAIN_SID}-512", "built-in groups"),
])
def test_the_scanner_group_must_be_a_group_of_its_own(sid: str, message: str) -> None:
    with pytest.raises(GpoInputError, match=message):
        check_scanner_group("x", sid, DOMAIN_SID)
    check_scanner_group("x", f"{DOMAIN_SID}-1105", DOMAIN_SID.lower())


# --- Switching off removes only ours ------------------------------------------------------------------

def test_switching_modes_removes_our_entry_and_keeps_the_others() -> None:
    other = "*S-1-5-21-9-9-9-1200__Memberof = *S-1-5-32-555\r\n*S-1-5-21-9-9-9-1200__Members = \r\n"
    start = inf_of("[Group Membership]\r\n" + other)
    on = applied(policy(local_admins=True), start)
    assert text(on).endswith("[Group Membership]\r\n" + other + GROUP_LINES.partition("\r\n")[2])
    assert applied(policy(local_admins=True), on).inf.settings() == on.inf.settings()  # converged
    off = applied(policy(local_admins=False), on)
    assert text(off).endswith("[Group Membership]\r\n" + other)
    assert off.inf.settings() == applied(policy(), start).inf.settings()


def test_a_member_of_list_keeps_the_other_groups_it_names() -> None:
    start = inf_of(f"[Group Membership]\r\n*{GROUP.sid}__Memberof = *S-1-5-32-555\r\n")
    on = applied(policy(local_admins=True), start)
    assert f"*{GROUP.sid}__Memberof = *S-1-5-32-555,*S-1-5-32-544\r\n*{GROUP.sid}__Members = \r\n" in text(on)
    off = applied(policy(), on)
    assert f"*{GROUP.sid}__Memberof = *S-1-5-32-555\r\n*{GROUP.sid}__Members = \r\n" in text(off)


def test_deny_rights_merge_with_sids_already_listed_and_leave_them_when_off() -> None:
    start = inf_of("[Privilege Rights]\r\nSeDenyInteractiveLogonRight = *S-1-5-32-546\r\n"
                   "SeDenyNetworkLogonRight = *S-1-5-32-546\r\n")
    on = applied(policy(deny_interactive_logon=True), start)
    assert f"SeDenyInteractiveLogonRight = *S-1-5-32-546,*{ACCOUNT.sid}\r\n" in text(on)
    assert "SeDenyNetworkLogonRight = *S-1-5-32-546\r\n" in text(on)
    off = applied(policy(), on)
    assert "[Privilege Rights]\r\nSeDenyInteractiveLogonRight = *S-1-5-32-546\r\nSeDenyNetworkLogonRight = " \
           "*S-1-5-32-546\r\n" in text(off)
    assert ACCOUNT.sid not in text(off)


def test_a_principal_not_found_has_nothing_to_manage() -> None:
    on = applied(policy(local_admins=True, deny_interactive_logon=True))
    kept = applied(policy(scanner_group=None, scanner_account=None), on)
    assert kept.inf.settings() == on.inf.settings()
    assert not [s for s in policy_settings(policy(scanner_group=None, scanner_account=None))
                if isinstance(s, MemberOf)]


# --- Against the (fake) directory ---------------------------------------------------------------------

FULL_CONTROL = 0x000F01FF
HELPDESK = f"{DOMAIN_SID}-1300"


def owned_by(owner: str, *extra: _acl.Ace) -> bytes:
    """A descriptor as the DC gives a new object: its owner, Domain Admins and SYSTEM in full control."""
    aces = (_acl.make_ace(_acl.ACCESS_ALLOWED, 0, FULL_CONTROL, f"{DOMAIN_SID}-512"),
            _acl.make_ace(_acl.ACCESS_ALLOWED, 0, FULL_CONTROL, "S-1-5-18"), *extra)
    return _acl.SecurityDescriptor(_acl.SE_DACL_PRESENT, owner, owner, aces).render()


def with_principals(ldap: FakeLdap, *, group_type: str = "-2147483646", owner: str = f"{DOMAIN_SID}-512",
                    members: tuple[str, ...] = ()) -> None:
    ldap.add(f"CN=Vulnerability Scanners,CN=Users,{BASE}", "group",
             {"sAMAccountName": "Vulnerability Scanners", "objectSid": [sid_to_bytes(GROUP.sid or "")],
              "groupType": group_type, "nTSecurityDescriptor": [owned_by(owner)], "member": list(members)},
             log=False)
    ldap.add(f"CN=qualys_scanner,CN=Users,{BASE}", "user",
             {"sAMAccountName": "qualys_scanner", "objectSid": [sid_to_bytes(ACCOUNT.sid or "")]}, log=False)


def wanted(**overrides: Any) -> ScanPolicy:
    return ScanPolicy(scanner_addresses=("192.0.2.10",), **overrides)


LOCAL_ADMINS_GPO = NAME + " - local Administrators"
DC_SIDS = (f"{DOMAIN_SID}-516", f"{DOMAIN_SID}-521", "S-1-5-9", f"{DOMAIN_SID}-498")


def inf_text(ldap: FakeLdap, sysvol: FakeSysvol, name: str = NAME) -> str:
    return (sysvol.read(folder_of(ldap, name) + INF_PATH) or b"")[2:].decode("utf-16-le")


def denied_apply(ldap: FakeLdap, name: str) -> set[str]:
    """The SIDs the GPO's nTSecurityDescriptor denies Apply Group Policy."""
    sd = _acl.parse_sd(bytes(ldap.gpo(name)[1]["nTSecurityDescriptor"][0]))
    return {ace.sid for ace in sd.dacl if ace.type == _acl.ACCESS_DENIED_OBJECT and ace.mask == _acl.DS_CONTROL_ACCESS
            and ace.raw[12:28] == uuid.UUID(APPLY_GROUP_POLICY).bytes_le}


def test_local_admins_is_a_gpo_of_its_own_that_domain_controllers_never_apply() -> None:
    """Issue 21, item 2: on a DC, BUILTIN\\Administrators is the domain's; the Restricted Groups entry lives only in a
    GPO whose descriptor denies Apply Group Policy to every kind of domain controller, linked where the scan policy
    is. The scan policy itself (which DCs apply) never holds it."""
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    outcome = run_store(ldap, sysvol, policy=wanted(local_admins=True, deny_interactive_logon=True))
    assert "[Group Membership]" not in inf_text(ldap, sysvol) and DENY_LINES in inf_text(ldap, sysvol)
    assert inf_text(ldap, sysvol, LOCAL_ADMINS_GPO) == "[Unicode]\r\nUnicode=yes\r\n" + GROUP_LINES.replace(
        "[Group Membership]", "[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n[Group Membership]")
    assert denied_apply(ldap, LOCAL_ADMINS_GPO) == set(DC_SIDS) and not denied_apply(ldap, NAME)
    assert outcome.local_admins is not None and outcome.local_admins["present"]
    assert outcome.local_admins["links"] == [BASE] == outcome.links
    linked = parse_gplink(ldap.objects[BASE.lower()][1]["gPLink"][0])
    assert {link.dn.lower() for link in linked} >= {ldap.gpo(NAME)[0].lower(), ldap.gpo(LOCAL_ADMINS_GPO)[0].lower()}
    assert f"{LOCAL_ADMINS_GPO}: Apply Group Policy, domain controllers: not denied → denied" in outcome.changes
    assert f"{LOCAL_ADMINS_GPO}: Restricted Groups: Vulnerability Scanners -> BUILTIN\\Administrators (member of): " \
           f"not configured → {GROUP.sid} (Vulnerability Scanners)" in outcome.changes
    assert f"[{LOCAL_ADMINS_GPO}]\n" in outcome.after and "domain controllers: denied" in outcome.after
    assert not run_store(ldap, sysvol, policy=wanted(local_admins=True, deny_interactive_logon=True)).changed
    back = run_store(ldap, sysvol, policy=wanted())
    assert back.changed and back.local_admins is not None and not back.local_admins["present"]
    assert not [attrs for attrs in (a for _d, a in ldap.objects.values()) if attrs.get("displayName") ==
                [LOCAL_ADMINS_GPO]]
    assert "[Privilege Rights]" not in inf_text(ldap, sysvol)
    assert not run_store(ldap, sysvol, policy=wanted()).changed


def test_deny_aces_someone_removed_are_put_back() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    run_store(ldap, sysvol, policy=wanted(local_admins=True))
    _dn, attrs = ldap.gpo(LOCAL_ADMINS_GPO)
    sd = _acl.parse_sd(bytes(attrs["nTSecurityDescriptor"][0]))
    attrs["nTSecurityDescriptor"] = [replace(sd, dacl=tuple(a for a in sd.dacl if a.sid != "S-1-5-9")).render()]
    check = run_store(ldap, sysvol, policy=wanted(local_admins=True), check=True)
    assert check.changes == [f"{LOCAL_ADMINS_GPO}: Apply Group Policy, domain controllers: not denied → denied"]
    assert run_store(ldap, sysvol, policy=wanted(local_admins=True)).changed
    assert denied_apply(ldap, LOCAL_ADMINS_GPO) == set(DC_SIDS)
    assert not run_store(ldap, sysvol, policy=wanted(local_admins=True)).changed


def test_an_entry_an_earlier_version_wrote_into_the_scan_policy_moves_first_added_then_removed() -> None:
    """0.4 wrote the entry into the scan policy GPO: the run writes the local Administrators GPO before it takes
    the entry out, so the group is never out of BUILTIN\\Administrators on the member hosts."""
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    run_store(ldap, sysvol)
    path = folder_of(ldap) + INF_PATH
    sysvol.write(path, b"\xff\xfe" + (EXPECTED_INF_TEXT + GROUP_LINES).encode("utf-16-le"))
    outcome = run_store(ldap, sysvol, policy=wanted(local_admins=True))
    assert "[Group Membership]" not in inf_text(ldap, sysvol)
    new_inf = next(i for i, a in enumerate(outcome.actions) if a.startswith(f"{LOCAL_ADMINS_GPO}: write "))
    old_inf = next(i for i, a in enumerate(outcome.actions) if a.startswith("write ") and "GptTmpl" in a)
    assert new_inf < old_inf


@pytest.mark.parametrize("held", ["registry", "other entry"])
def test_a_gpo_of_the_local_admins_name_holding_more_is_never_removed(held: str) -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    run_store(ldap, sysvol, policy=wanted(local_admins=True))
    if held == "registry":
        run_store(ldap, sysvol, name=LOCAL_ADMINS_GPO)  # the scan settings, in a GPO of that name
    else:
        path = folder_of(ldap, LOCAL_ADMINS_GPO) + INF_PATH
        other = "*S-1-5-21-9-9-9-1200__Memberof = *S-1-5-32-544\r\n"
        sysvol.write(path, (sysvol.read(path) or b"") + other.encode("utf-16-le"))
    ldap.writes.clear()
    sysvol.writes.clear()
    for state, local_admins in (("present", False), ("absent", False), ("present", True)):
        with pytest.raises(GpoStoreError, match=r"holds settings other than the scanner group's Restricted Groups entry"
                                                r".*Nothing was changed"):
            run_store(ldap, sysvol, policy=wanted(local_admins=local_admins), state=state)
    assert not ldap.writes and not sysvol.writes
    adopted = run_store(ldap, sysvol, policy=wanted(local_admins=True), adopt=True)
    assert any("adopted: its settings files now hold exactly this collection's settings" in warning
               for warning in adopted.warnings), adopted.warnings
    assert inf_text(ldap, sysvol, LOCAL_ADMINS_GPO).endswith(GROUP_LINES)
    assert not run_store(ldap, sysvol, policy=wanted(local_admins=True)).changed


def test_one_gpo_cannot_be_both() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    run_store(ldap, sysvol, name=LOCAL_ADMINS_GPO)
    guid = ldap.gpo(LOCAL_ADMINS_GPO)[1]["cn"][0]
    ldap.writes.clear()
    with pytest.raises(GpoStoreError, match=r"the local Administrators GPO's name. Nothing was changed"):
        run_store(ldap, sysvol, policy=wanted(local_admins=True), guid=guid)
    with pytest.raises(GpoStoreError, match=r"holds settings other than .* Nothing was changed"):
        run_store(ldap, sysvol, policy=wanted(), guid=guid)  # its scan settings: not removed as the other GPO
    assert not ldap.writes


def test_absent_removes_both_gpos() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    run_store(ldap, sysvol, policy=wanted(local_admins=True))
    gone = run_store(ldap, sysvol, state="absent")
    assert gone.changed and gone.local_admins is not None and not gone.local_admins["present"]
    assert not any("displayName" in attrs and attrs["displayName"][0] in (NAME, LOCAL_ADMINS_GPO)
                   for _dn, attrs in ldap.objects.values())
    assert ldap.objects[BASE.lower()][1]["gPLink"] == [f"[LDAP://{DEFAULT_GPO};0]"]
    assert not run_store(ldap, sysvol, state="absent").changed


def test_a_missing_group_fails_a_real_run_and_shows_a_placeholder_in_check_mode() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with pytest.raises(GpoStoreError, match=r"create it first: the scanner_account role \(privilege local_admins\)"):
        run_store(ldap, sysvol, policy=wanted(local_admins=True))
    assert not ldap.writes and not sysvol.writes
    check = run_store(ldap, sysvol, policy=wanted(local_admins=True, deny_interactive_logon=True), check=True)
    assert check.changed and not ldap.writes and not sysvol.writes
    assert any("placeholder" in warning for warning in check.warnings)
    assert (f"{LOCAL_ADMINS_GPO}: Restricted Groups: Vulnerability Scanners -> BUILTIN\\Administrators (member of): "
            "not configured → <SID of Vulnerability Scanners once created> (Vulnerability Scanners)") in check.changes
    with pytest.raises(GpoStoreError, match="account_name 'qualys_scanner': no such user"):
        run_store(ldap, sysvol, policy=wanted(deny_interactive_logon=True))
    assert run_store(ldap, sysvol, policy=wanted()).changed  # none needed: nothing to resolve


def test_a_distribution_group_is_refused() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap, group_type="2")
    with pytest.raises(GpoStoreError, match="distribution group"):
        run_store(ldap, sysvol, policy=wanted(local_admins=True))
    assert not sysvol.writes


def test_a_gpo_holding_an_administrators_members_line_is_never_rewritten() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap)
    run_store(ldap, sysvol)
    path = folder_of(ldap) + INF_PATH
    sysvol.write(path, b"\xff\xfe" + (EXPECTED_INF_TEXT + "[Group Membership]\r\n*S-1-5-32-544__Members = "
                                      "*S-1-5-21-1-2-3-500\r\n").encode("utf-16-le"))
    before = sysvol.read(path)
    with pytest.raises(GpoStoreError, match="never writes that line"):
        run_store(ldap, sysvol, policy=wanted(local_admins=True, deny_interactive_logon=True))
    assert sysvol.read(path) == before


# --- Options ------------------------------------------------------------------------------------------

def params(**overrides: Any) -> dict[str, Any]:
    values = {name: spec.get("default") for name, spec in GPO_SPEC.items()}
    values.update(scanner_addresses=["192.0.2.10"], **overrides)
    return values


def test_option_defaults() -> None:
    request = request_from(params())
    assert request.policy.firewall_enabled is None  # unmanaged since 0.2.0
    assert not request.policy.local_admins and not request.policy.deny_interactive_logon
    assert (request.scanner_group, request.account_name) == ("Vulnerability Scanners", "qualys_scanner")
    assert GPO_SPEC["privilege"]["choices"] == ["domain_admins", "local_admins", "none"]
    chosen = request_from(params(privilege="local_admins", deny_interactive_logon=True, firewall_enabled="true"))
    assert chosen.policy.local_admins and chosen.policy.deny_interactive_logon and chosen.policy.firewall_enabled


@pytest.mark.parametrize(("overrides", "message"), [
    ({"scanner_group": " "}, "scanner_group must not be empty"),
    ({"account_name": ""}, "account_name must not be empty"),
])
def test_bad_options_fail_before_connecting(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(GpoInputError, match=message):
        request_from(params(**overrides))


def test_request_defaults_match_the_spec() -> None:
    request = Request("n", "present", ScanPolicy(scanner_addresses=("*",)), None, False)
    assert request.scanner_group == GPO_SPEC["scanner_group"]["default"]
    assert request.account_name == GPO_SPEC["account_name"]["default"]


@pytest.mark.parametrize("squat", ["helpdesk-owned", "another member", "a member by primary group"])
def test_scan_gpo_alone_refuses_a_scanner_group_that_is_not_only_the_scanners(squat: str) -> None:
    """Issue 21, item 3: the account stage's group verdict, in scan_gpo too (--tags policy, the role or module alone):
    a group someone else controls or fills never becomes a local Administrator everywhere."""
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with_principals(ldap, owner=HELPDESK if squat == "helpdesk-owned" else f"{DOMAIN_SID}-512",
                    members=(f"CN=helpdesk,CN=Users,{BASE}",) if squat == "another member" else ())
    if squat == "a member by primary group":
        ldap.add(f"CN=helpdesk,CN=Users,{BASE}", "user", {"sAMAccountName": "helpdesk", "primaryGroupID": "1105"},
                 log=False)
    said = {"helpdesk-owned": "owner", "another member": "members other than qualys_scanner: CN=helpdesk",
            "a member by primary group": "members by primary group (primaryGroupID): CN=helpdesk"}[squat]
    for check in (True, False):
        with pytest.raises(GpoStoreError, match=r"is not only the scanner's: .*" + re.escape(said) + ".*Nothing "
                                                r"was changed.*scanready_account_adopt"):
            run_store(ldap, sysvol, policy=wanted(local_admins=True), check=check)
    assert not ldap.writes and not sysvol.writes
    assert run_store(ldap, sysvol, policy=wanted()).changed  # without local_admins the group is not written in
