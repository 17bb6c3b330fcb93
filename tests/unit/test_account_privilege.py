"""Least privilege for the scanner account: the expiry option, the scanner group of local_admins, and the
hardening every run applies (NOT_DELEGATED, no SPN), against the in-memory directory of test_account."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._account import (
    GLOBAL_SECURITY,
    UF_NOT_DELEGATED,
    AccountRequest,
    Expiry,
    from_filetime,
    group_name_problem,
    iso,
    parse_expires,
    plan_changes,
    to_filetime,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.expires import FILETIME_MAX
from ansible_collections.scanready.windows.plugins.module_utils._account.group import parent_dn
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._ldap import DomainError

from tests.unit.test_account import (
    BASE,
    DA,
    DOMAIN_SID,
    HELPER_SID,
    NEW_DN,
    USERS,
    FakeDirectory,
    account,
    descriptor,
    desired,
    helper_full_control,
    module_params,
    run,
    sid_bytes,
)

GROUP_DN = f"CN=Vulnerability Scanners,{USERS}"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TICKS_PER_HOUR = 3600 * 10_000_000


# --- expires: parsing, before any connection ------------------------------------------------------------

@pytest.mark.parametrize(("text", "duration"), [
    ("8h", timedelta(hours=8)), ("90m", timedelta(minutes=90)), ("2d", timedelta(days=2)),
    ("1h30m", timedelta(hours=1, minutes=30)), ("45s", timedelta(seconds=45)), ("1d2h3m4s", timedelta(1, 7384)),
    (" 8H ", timedelta(hours=8)),
])
def test_durations(text: str, duration: timedelta) -> None:
    assert parse_expires(text) == Expiry(duration=duration)


@pytest.mark.parametrize("text", ["never", "NEVER", " Never "])
def test_never(text: str) -> None:
    expiry = parse_expires(text)
    assert expiry.never and expiry.filetime(NOW) == 0


@pytest.mark.parametrize(("text", "utc"), [
    ("2025-06-01T18:00:00Z", datetime(2025, 6, 1, 18, tzinfo=UTC)),
    ("2025-06-01T18:00:00z", datetime(2025, 6, 1, 18, tzinfo=UTC)),
    ("2025-06-01T20:00:00+02:00", datetime(2025, 6, 1, 18, tzinfo=UTC)),
    ("2025-06-01 13:30:00-04:30", datetime(2025, 6, 1, 18, tzinfo=UTC)),
    ("2025-06-01T18:00:00.5+00:00", datetime(2025, 6, 1, 18, 0, 0, 500000, tzinfo=UTC)),
])
def test_times(text: str, utc: datetime) -> None:
    expiry = parse_expires(text)
    assert expiry.at == utc and expiry.at.tzinfo == UTC
    assert expiry.filetime(NOW) == expiry.filetime(NOW + timedelta(days=3))  # an instant: the same every run


@pytest.mark.parametrize(("text", "why"), [
    ("", "is empty"),
    ("0h", "duration of zero"), ("0d0m", "duration of zero"),
    ("8x", "is not understood"), ("1h30", "is not understood"), ("h", "is not understood"),
    ("-8h", "is not understood"), ("tomorrow", "is not understood"), ("2025-13-01T00:00Z", "is not understood"),
    ("2025-06-01T18:00:00", "has no timezone"), ("2025-06-01", "has no timezone"),
    ("1600-12-31T23:00:00Z", "before 1601"),
    ("36501d", "more than 100 years"), ("99999999999999d", "more than 100 years"),
])
def test_bad_expiry_is_one_line_before_connecting(text: str, why: str) -> None:
    with pytest.raises(ScanreadyError) as err:
        AccountRequest.from_params(module_params(expires=text))
    assert why in err.value.message and "\n" not in err.value.message


def test_filetime_epoch_and_round_trip() -> None:
    assert to_filetime(datetime(1970, 1, 1, tzinfo=UTC)) == 116444736000000000
    assert to_filetime(datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=1)) == 10
    moment = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
    assert from_filetime(to_filetime(moment)) == moment
    assert from_filetime(str(to_filetime(moment))) == moment  # as the DC returns it: text


@pytest.mark.parametrize("value", [None, "", 0, "0", FILETIME_MAX, str(FILETIME_MAX), -1])
def test_filetime_never(value: object) -> None:
    assert from_filetime(value) is None


def test_a_duration_counts_in_utc_across_a_daylight_saving_change() -> None:
    # 30 March 2025, 00:30 in Berlin (+01:00); clocks jump to +02:00 at 02:00. Eight real hours later it is
    # 07:30Z (09:30 local), not 08:30 local as wall-clock arithmetic would have it.
    now = datetime(2025, 3, 30, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    filetime = parse_expires("8h").filetime(now)
    assert from_filetime(filetime) == datetime(2025, 3, 30, 7, 30, tzinfo=UTC)
    assert filetime - to_filetime(now) == 8 * TICKS_PER_HOUR


def test_iso() -> None:
    assert iso(datetime(2025, 6, 1, 18, tzinfo=UTC)) == "2025-06-01T18:00:00Z"
    assert iso(datetime(2025, 6, 1, 20, tzinfo=ZoneInfo("Europe/Berlin"))) == "2025-06-01T18:00:00Z"
    assert iso(None) is None


# --- expires: planning ---------------------------------------------------------------------------------

def expiring(expires: int | None) -> Any:
    return account().__class__(**{**account().__dict__, "expires": expires})


def test_an_absolute_time_is_idempotent() -> None:
    wanted = parse_expires("2025-06-01T18:00:00Z")
    first = plan_changes(expiring(None), desired(expires=wanted), DA, now=NOW)
    assert first.expires == to_filetime(datetime(2025, 6, 1, 18, tzinfo=UTC))
    assert not plan_changes(expiring(first.expires), desired(expires=wanted), DA, now=NOW).changed


def test_a_duration_moves_the_expiry_on_every_run() -> None:
    first = plan_changes(expiring(None), desired(expires=parse_expires("8h")), DA, now=NOW)
    assert first.expires == to_filetime(NOW + timedelta(hours=8))
    later = plan_changes(expiring(first.expires), desired(expires=parse_expires("8h")), DA,
                         now=NOW + timedelta(minutes=1))
    assert later.expires == first.expires + TICKS_PER_HOUR // 60


@pytest.mark.parametrize(("current", "change"), [(None, None), (0, None), (FILETIME_MAX, None), (1234, 0)])
def test_never_clears_only_a_set_expiry(current: int | None, change: int | None) -> None:
    assert plan_changes(expiring(current), desired(expires=Expiry()), DA, now=NOW).expires == change


def test_expiry_left_alone_when_not_asked() -> None:
    assert not plan_changes(expiring(1234), desired(), DA, now=NOW).changed


def test_expiry_on_create_and_in_the_result() -> None:
    directory = FakeDirectory()
    outcome = run(directory, expires=parse_expires("2h"))
    written = int(directory.objects[NEW_DN]["accountExpires"][0])
    assert abs(from_filetime(written) - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(seconds=30)  # type: ignore[operator]
    assert outcome.diff["after"]["expires"] == iso(from_filetime(written))
    assert outcome.account.expires_at == from_filetime(written)


def test_a_time_in_the_past_is_set_with_a_warning() -> None:
    directory = FakeDirectory()
    run(directory)
    outcome = run(directory, expires=parse_expires("2020-01-01T00:00:00Z"))
    assert outcome.changed
    assert outcome.warnings == ["expires 2020-01-01T00:00:00Z is in the past: qualys_scanner cannot log on"]
    assert not run(directory, expires=parse_expires("2020-01-01T00:00:00Z")).changed


# --- hardening on every run ----------------------------------------------------------------------------

def test_an_existing_account_gets_not_delegated_and_loses_its_spn() -> None:
    directory = FakeDirectory()
    run(directory)
    directory.objects[NEW_DN]["userAccountControl"] = [str(0x10200)]
    directory.objects[NEW_DN]["servicePrincipalName"] = ["HTTP/web.corp.example.com"]
    check = run(directory, check_mode=True)
    assert check.changed and check.diff["before"]["service_principal_names"] == ["HTTP/web.corp.example.com"]
    assert check.diff["after"]["service_principal_names"] == [] and check.diff["after"]["not_delegated"]
    assert "servicePrincipalName HTTP/web.corp.example.com: removed" in check.warnings[0]
    writes = len(directory.writes)
    run(directory)
    assert directory.writes[writes:] == [f"modify {NEW_DN} servicePrincipalName", f"modify {NEW_DN} userAccountControl"]
    assert int(directory.objects[NEW_DN]["userAccountControl"][0]) == 0x10200 | UF_NOT_DELEGATED
    assert not run(directory).changed


# --- the scanner group -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("group", "why"), [
    ("", "is empty"), ("x" * 65, "at most 64"), ("Scan;ners", "cannot hold: ';'"), ("a@b", "cannot hold: '@'"),
    (" Scanners", "space"), ("..", "periods"), ("Scanners$", "computer accounts"),
    ("QUALYS_SCANNER", "the account's own name"),
])
def test_bad_group_names(group: str, why: str) -> None:
    problem = group_name_problem(group, "qualys_scanner")
    assert problem is not None and why in problem
    with pytest.raises(ScanreadyError, match=r"^scanner_group"):
        AccountRequest.from_params(module_params(scanner_group=group))


@pytest.mark.parametrize("group", ["Vulnerability Scanners", "x" * 64, "Scan (prod) #1", "scanners.eu"])
def test_good_group_names(group: str) -> None:
    assert group_name_problem(group, "qualys_scanner") is None


def test_parent_dn_respects_escaped_commas() -> None:
    assert parent_dn(f"CN=Scan\\, Inc,OU=A,{BASE}") == f"OU=A,{BASE}"
    with pytest.raises(DomainError):
        parent_dn("CN=alone")


def memberships(directory: FakeDirectory, dn: str = NEW_DN) -> set[str]:
    return {g for g, o in directory.objects.items() if dn in o.get("member", [])}


def test_local_admins_creates_the_group_and_converges() -> None:
    directory = FakeDirectory()
    check = run(directory, check_mode=True, privilege="local_admins")
    assert check.changed and directory.writes == []
    assert check.group.dn == GROUP_DN and check.group.sid is None and check.group.members == (NEW_DN,)
    assert check.diff["after"]["groups"] == [GROUP_DN]
    assert check.diff["before"]["scanner_group"] is None
    outcome = run(directory, privilege="local_admins")
    assert directory.writes == [f"add {NEW_DN}", f"modify {NEW_DN} unicodePwd", f"modify {NEW_DN} userAccountControl",
                                f"add {GROUP_DN}", f"modify {GROUP_DN} member"]
    group = directory.objects[GROUP_DN]
    assert group["groupType"] == [str(GLOBAL_SECURITY)] and group["sAMAccountName"] == ["Vulnerability Scanners"]
    assert memberships(directory) == {GROUP_DN}
    assert outcome.group.sid == f"{DOMAIN_SID}-1106" and outcome.group.members == (NEW_DN,)
    writes = len(directory.writes)
    again = run(directory, privilege="local_admins")
    assert not again.changed and len(directory.writes) == writes
    assert again.group.sid == f"{DOMAIN_SID}-1106"


def test_the_group_goes_in_the_accounts_container() -> None:
    directory = FakeDirectory()
    ou = f"OU=Scanners,{BASE}"
    directory.objects[ou] = {"objectClass": ["organizationalUnit"]}
    outcome = run(directory, privilege="local_admins", path=ou, scanner_group="Scanners EU")
    assert outcome.group.dn == f"CN=Scanners EU,{ou}"


def test_switching_modes_moves_the_account_in_one_run() -> None:
    directory = FakeDirectory()
    run(directory)
    assert memberships(directory) == {DA}
    writes = len(directory.writes)
    run(directory, privilege="local_admins")
    # the new mode's group first, then out of Domain Admins
    assert directory.writes[writes:] == [f"add {GROUP_DN}", f"modify {GROUP_DN} member", f"modify {DA} member"]
    assert memberships(directory) == {GROUP_DN}
    writes = len(directory.writes)
    back = run(directory, privilege="domain_admins")
    assert directory.writes[writes:] == [f"modify {DA} member", f"modify {GROUP_DN} member"]
    assert memberships(directory) == {DA} and back.group.members == ()
    assert back.diff["before"]["groups"] == [GROUP_DN] and back.diff["after"]["groups"] == [DA]
    run(directory, privilege="local_admins")
    assert memberships(directory) == {GROUP_DN}
    run(directory, privilege="none")
    assert memberships(directory) == set()
    assert not run(directory, privilege="none").changed
    assert GROUP_DN in directory.objects  # the group stays


def plant_group(directory: FakeDirectory, *, owner: str = f"{DOMAIN_SID}-512", aces: tuple[_acl.Ace, ...] = (),
                members: tuple[str, ...] = (), group_type: int = GLOBAL_SECURITY) -> None:
    directory.objects[GROUP_DN] = {
        "objectClass": ["top", "group"], "objectSid": [sid_bytes(f"{DOMAIN_SID}-1400")],
        "sAMAccountName": ["Vulnerability Scanners"], "groupType": [str(group_type)], "member": list(members),
        "nTSecurityDescriptor": [descriptor(owner, *aces)],
    }


def test_a_squatted_group_is_refused_and_left_alone() -> None:
    directory = FakeDirectory()
    plant_group(directory, owner=HELPER_SID, aces=(helper_full_control(),))
    for check_mode in (True, False):
        with pytest.raises(DomainError) as err:
            run(directory, check_mode=check_mode, privilege="local_admins")
        message = err.value.message
        assert err.value.cause == "foreign"
        assert message.startswith(f"scanner_group 'Vulnerability Scanners' already exists as {GROUP_DN} and is not "
                                  f"only the scanner's: owner CN=helper,{USERS} ({HELPER_SID}) is not Domain Admins")
        assert f"allow {HELPER_SID} mask 0x000f01ff = CN=helper,{USERS}" in message
        assert "Nothing was changed" in message and "adopt: true" in message
    assert directory.writes == [] and NEW_DN not in directory.objects


@pytest.mark.parametrize("mask", [_acl.DS_WRITE_PROP, _acl.DS_SELF, _acl.GENERIC_WRITE, _acl.WRITE_DAC])
def test_a_group_others_may_write_is_refused(mask: int) -> None:
    directory = FakeDirectory()
    plant_group(directory, aces=(_acl.make_ace(_acl.ACCESS_ALLOWED, 0, mask, "S-1-5-11"),))
    with pytest.raises(DomainError, match=r"explicit ACEs: allow Authenticated Users \(S-1-5-11\)"):
        run(directory, privilege="local_admins")


def test_a_group_with_other_members_is_refused_then_adopted() -> None:
    directory = FakeDirectory()
    helper = f"CN=helper,{USERS}"
    plant_group(directory, members=(helper,))
    with pytest.raises(DomainError, match=f"members other than qualys_scanner: {helper} \\(they would become local "
                                          "Administrators on every host"):
        run(directory, privilege="local_admins")
    assert directory.writes == []
    adopted = run(directory, privilege="local_admins", adopt=True)
    assert directory.objects[GROUP_DN]["member"] == [NEW_DN]
    assert adopted.group.members == (NEW_DN,)
    assert not run(directory, privilege="local_admins", adopt=True).changed


def test_adopting_a_squatted_group_takes_it_over_before_joining() -> None:
    directory = FakeDirectory()
    run(directory)
    plant_group(directory, owner=HELPER_SID, aces=(helper_full_control(),), members=(f"CN=helper,{USERS}",))
    writes = len(directory.writes)
    run(directory, privilege="local_admins", adopt=True)
    assert directory.writes[writes:] == [f"modify {GROUP_DN} nTSecurityDescriptor", f"modify {GROUP_DN} member",
                                         f"modify {GROUP_DN} member", f"modify {DA} member"]
    sd = _acl.parse_sd(directory.objects[GROUP_DN]["nTSecurityDescriptor"][0])
    assert sd.owner == f"{DOMAIN_SID}-512" and HELPER_SID not in {ace.sid for ace in sd.dacl}
    assert memberships(directory) == {GROUP_DN} and directory.objects[GROUP_DN]["member"] == [NEW_DN]


@pytest.mark.parametrize("group_type", [-2147483644, -2147483640, 2, 4])
def test_a_group_of_another_type_is_refused_even_when_adopting(group_type: int) -> None:
    directory = FakeDirectory()
    plant_group(directory, group_type=group_type)
    with pytest.raises(DomainError, match="not a global security group"):
        run(directory, privilege="local_admins", adopt=True)
    assert directory.writes == []


def test_the_group_name_taken_by_a_user_is_refused() -> None:
    with pytest.raises(DomainError, match="scanner_group 'helper' is already taken by a user"):
        run(FakeDirectory(), privilege="local_admins", scanner_group="helper")


def test_another_object_of_the_name_is_ignored_in_the_other_modes() -> None:
    assert run(FakeDirectory(), scanner_group="helper").changed


def test_a_failed_join_removes_the_new_group_and_account() -> None:
    directory = FakeDirectory()
    directory.deny_group_change = True
    with pytest.raises(DomainError, match=r"insufficient rights.*created in this run was removed again.*nothing left"):
        run(directory, privilege="local_admins")
    assert GROUP_DN not in directory.objects and NEW_DN not in directory.objects


def test_the_group_is_left_alone_when_the_account_is_removed() -> None:
    directory = FakeDirectory()
    run(directory, privilege="local_admins")
    assert run(directory, state="absent", privilege="local_admins").changed
    assert GROUP_DN in directory.objects and directory.objects[GROUP_DN]["member"] == []


# --- members by primary group: adoption gives them their default primary group back ----------------------

SQUAT = f"CN=squat,{USERS}"
DOMAIN_USERS = f"CN=Domain Users,{USERS}"
DOMAIN_COMPUTERS = f"CN=Domain Computers,{USERS}"
USER_CLASSES = ["top", "person", "organizationalPerson", "user"]
COMPUTER_CLASSES = [*USER_CLASSES, "computer"]


class PrimaryDirectory(FakeDirectory):
    """FakeDirectory with the DC's primaryGroupID rule (Samba's samldb, as Windows): the new primary group must
    already list the object in its member; the change takes it out of that member and puts it in the old
    primary group's."""

    def __init__(self) -> None:
        super().__init__()
        for dn, rid in ((DOMAIN_USERS, 513), (DOMAIN_COMPUTERS, 515)):
            self.objects[dn] = {"objectClass": ["top", "group"], "objectSid": [sid_bytes(f"{DOMAIN_SID}-{rid}")],
                                "sAMAccountName": [dn[3:].split(",", maxsplit=1)[0]], "member": []}

    def _by_rid(self, rid: str) -> str:
        found = self._find(f"<SID={DOMAIN_SID}-{rid}>")
        assert found is not None, rid
        return found

    def modify(self, dn: str, changes: Any, *, sd_flags: int | None = None) -> None:
        if "primaryGroupID" not in changes:
            super().modify(dn, changes, sd_flags=sd_flags)
            return
        new = changes["primaryGroupID"][0][1][0]
        old_group, new_group = self._by_rid(self.objects[dn]["primaryGroupID"][0]), self._by_rid(new)
        if dn not in self.objects[new_group].get("member", []):
            raise DomainError(f"the DC is unwilling to modify {dn}: not a member of {new_group}", "rights", 53)
        self.objects[new_group]["member"].remove(dn)
        self.objects[old_group].setdefault("member", []).append(dn)
        super().modify(dn, changes, sd_flags=sd_flags)


def plant_primary(directory: FakeDirectory, classes: list[str], uac: int, dn: str = SQUAT) -> None:
    directory.objects[dn] = {"objectClass": classes, "objectSid": [sid_bytes(f"{DOMAIN_SID}-1401")],
                             "sAMAccountName": [dn[3:].split(",", maxsplit=1)[0]], "userAccountControl": [str(uac)],
                             "primaryGroupID": ["1400"]}


@pytest.mark.parametrize(("classes", "uac", "default", "rid"), [
    (USER_CLASSES, 0x200, DOMAIN_USERS, "513"),
    (COMPUTER_CLASSES, 0x1000, DOMAIN_COMPUTERS, "515"),
])
def test_adopting_gives_a_member_by_primary_group_its_default_back(classes: list[str], uac: int, default: str,
                                                                   rid: str) -> None:
    """Issue 21, item 3: a member by primaryGroupID is refused without adopt; adopting joins it to Domain Users
    (a computer: Domain Computers), sets its primaryGroupID, then removes the plain membership the DC leaves."""
    directory = PrimaryDirectory()
    run(directory)
    plant_group(directory, members=(f"CN=helper,{USERS}",))
    plant_primary(directory, classes, uac)
    with pytest.raises(DomainError, match=f"members by primary group \\(primaryGroupID\\): {SQUAT}"):
        run(directory, privilege="local_admins")
    writes = len(directory.writes)
    check = run(directory, check_mode=True, privilege="local_admins", adopt=True)
    assert check.changed and len(directory.writes) == writes
    assert directory.objects[SQUAT]["primaryGroupID"] == ["1400"]
    assert check.diff["before"]["scanner_group"]["primary_members"] == [SQUAT]
    assert check.diff["after"]["scanner_group"] == {"dn": GROUP_DN, "sid": f"{DOMAIN_SID}-1400",
                                                    "members": [NEW_DN], "primary_members": []}
    adopted = run(directory, privilege="local_admins", adopt=True)
    assert directory.writes[writes:] == [f"modify {default} member", f"modify {SQUAT} primaryGroupID",
                                         f"modify {GROUP_DN} member", f"modify {GROUP_DN} member",
                                         f"modify {DA} member"]
    assert directory.objects[SQUAT]["primaryGroupID"] == [rid]
    assert directory.objects[GROUP_DN]["member"] == [NEW_DN] and directory.objects[default]["member"] == []
    assert adopted.changed and adopted.group.members == (NEW_DN,) and adopted.group.primary_members == ()
    assert adopted.diff["before"]["scanner_group"]["primary_members"] == [SQUAT]
    writes = len(directory.writes)
    again = run(directory, privilege="local_admins", adopt=True)
    assert not again.changed and len(directory.writes) == writes


def test_a_member_by_primary_group_already_in_domain_users_is_not_added_again() -> None:
    directory = PrimaryDirectory()
    run(directory)
    plant_group(directory)
    plant_primary(directory, USER_CLASSES, 0x200)
    directory.objects[DOMAIN_USERS]["member"] = [SQUAT]
    writes = len(directory.writes)
    run(directory, privilege="local_admins", adopt=True)
    assert directory.writes[writes:] == [f"modify {SQUAT} primaryGroupID", f"modify {GROUP_DN} member",
                                         f"modify {GROUP_DN} member", f"modify {DA} member"]
    assert directory.objects[SQUAT]["primaryGroupID"] == ["513"] and directory.objects[GROUP_DN]["member"] == [NEW_DN]


@pytest.mark.parametrize(("classes", "uac", "said"), [
    (COMPUTER_CLASSES, 0x2000 | 0x80000, "is the primary group of the domain controller"),
    (COMPUTER_CLASSES, 0x04000000 | 0x1000, "is the primary group of the domain controller"),
    (USER_CLASSES, 0x800, "an interdomain trust account"),
    (["top", "contact"], 0, "a top/contact"),
])
def test_adopting_refuses_a_domain_controller_or_unknown_primary_member(classes: list[str], uac: int,
                                                                        said: str) -> None:
    directory = PrimaryDirectory()
    run(directory)
    plant_group(directory)
    plant_primary(directory, classes, uac)
    writes = len(directory.writes)
    for check_mode in (True, False):
        with pytest.raises(DomainError) as err:
            run(directory, check_mode=check_mode, privilege="local_admins", adopt=True)
        assert said in err.value.message and "Nothing was changed" in err.value.message
        assert "\n" not in err.value.message and err.value.cause == "foreign"
    assert len(directory.writes) == writes and directory.objects[SQUAT]["primaryGroupID"] == ["1400"]
