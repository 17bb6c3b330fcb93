"""The scanner account's pure logic, and ensure_account against an in-memory directory."""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _acl, _ldap
from ansible_collections.scanready.windows.plugins.module_utils._account import (
    UF_ACCOUNTDISABLE,
    UF_DONT_EXPIRE_PASSWD,
    UF_NORMAL_ACCOUNT,
    UF_NOT_DELEGATED,
    Account,
    AccountRequest,
    Plan,
    build_diff,
    ensure_account,
    name_problem,
    plan_changes,
    predict,
    uac_for,
    unicode_pwd,
)
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    BindCheck,
    DomainError,
    Entry,
    escape_filter,
    escape_rdn,
)

BASE = "DC=corp,DC=example,DC=com"
USERS = f"CN=Users,{BASE}"
DA = f"CN=Domain Admins,{USERS}"
DOMAIN_SID = "S-1-5-21-1-2-3"
PASSWORD = "Scanner-Pass-1"
UF_PASSWD_NOTREQD = 0x20
UF_TRUSTED_FOR_DELEGATION = 0x80000
HARDENED = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD | UF_NOT_DELEGATED  # what every run leaves


# --- names -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["qualys_scanner", "scan.svc", "a", "x" * 20, "scanner-01", "Scan (prod)"])
def test_valid_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(("name", "why"), [
    ("qualys", "reserved"), ("QUALYS", "reserved"), ("Qualys", "reserved"),
    ("", "empty"),
    ("x" * 21, "at most 20"),
    ("scan@corp", "cannot hold: '@'"),
    ("corp\\scan", "cannot hold: '\\\\'"),
    ("a/b", "cannot hold"), ("a*", "cannot hold"), ("a;b", "cannot hold"), ('a"b', "cannot hold"),
    ("tab\there", "cannot hold"),
    (" lead", "space"), ("trail ", "space"),
    ("...", "only of periods"),
    ("host$", "computer accounts"),
])
def test_invalid_names(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None
    assert why in problem


# --- userAccountControl ----------------------------------------------------------------------------

def test_uac_enable_and_never_expire() -> None:
    assert uac_for(UF_NORMAL_ACCOUNT | UF_ACCOUNTDISABLE, enabled=True, password_never_expires=True) == HARDENED


def test_uac_disable_keeps_other_flags() -> None:
    current = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD | UF_TRUSTED_FOR_DELEGATION | UF_PASSWD_NOTREQD
    assert uac_for(current, enabled=False, password_never_expires=True) == \
        current | UF_ACCOUNTDISABLE | UF_NOT_DELEGATED


def test_uac_clears_never_expire_when_asked() -> None:
    assert uac_for(UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD, enabled=True, password_never_expires=False) == \
        UF_NORMAL_ACCOUNT | UF_NOT_DELEGATED


def test_uac_is_idempotent() -> None:
    once = uac_for(0x10202, enabled=True, password_never_expires=True)
    assert uac_for(once, enabled=True, password_never_expires=True) == once == 0x110200


# --- encodings ---------------------------------------------------------------------------------------

def test_unicode_pwd_is_quoted_utf16le() -> None:
    assert unicode_pwd("Ab1!") == '"Ab1!"'.encode("utf-16-le")


@pytest.mark.parametrize(("value", "escaped"), [
    ("qualys_scanner", "qualys_scanner"), ("a,b", "a\\,b"), ("a+b=c", "a\\+b\\=c"), ("#x", "\\#x"),
    ("a\\b", "a\\\\b"),
])
def test_escape_rdn(value: str, escaped: str) -> None:
    assert escape_rdn(value) == escaped


def test_escape_filter() -> None:
    assert escape_filter("Scan (prod)*") == "Scan \\28prod\\29\\2a"
    assert escape_filter("a\\b") == "a\\5cb"


# --- planning and diff -------------------------------------------------------------------------------

def account(uac: int = HARDENED, groups: tuple[str, ...] = (DA,),
            description: str | None = "scanner") -> Account:
    return Account(f"CN=qualys_scanner,{USERS}", f"{DOMAIN_SID}-1105", uac, description, groups)


def module_params(**overrides: Any) -> dict[str, Any]:
    return {"name": "qualys_scanner", "state": "present", "password": PASSWORD, "update_password": "on_create",
            "path": None, "description": None, "password_never_expires": True, "privilege": "domain_admins",
            "create": True, "adopt": False, "scanner_group": "Vulnerability Scanners", "expires": None} | overrides


def test_request_from_params() -> None:
    assert AccountRequest.from_params(module_params(state="disabled")) == desired(state="disabled")


def test_request_refuses_a_bad_name_before_any_connection() -> None:
    with pytest.raises(ScanreadyError, match=r"^name 'qualys' is reserved by the scanning vendor"):
        AccountRequest.from_params(module_params(name="qualys"))


def desired(**overrides: Any) -> AccountRequest:
    values: dict[str, Any] = {"name": "qualys_scanner", "state": "present", "password": PASSWORD}
    values.update(overrides)
    return AccountRequest(**values)


def test_plan_create() -> None:
    plan = plan_changes(None, desired(description="scanner"), DA, create_dn=f"CN=qualys_scanner,{USERS}")
    assert plan == Plan(create_dn=f"CN=qualys_scanner,{USERS}", set_password=True,
                        uac=HARDENED, description="scanner", join=DA)


def test_plan_create_disabled_without_privilege() -> None:
    plan = plan_changes(None, desired(state="disabled", privilege="none"), DA, create_dn="CN=x," + USERS)
    assert plan.uac == HARDENED | UF_ACCOUNTDISABLE
    assert plan.join is None


def test_plan_nothing_to_do() -> None:
    plan = plan_changes(account(), desired(description="scanner"), DA)
    assert not plan.changed


def test_plan_leaves_description_alone_when_not_given() -> None:
    assert not plan_changes(account(description="set by someone"), desired(), DA).changed
    assert plan_changes(account(description="old"), desired(description=""), DA).description == ""


def test_plan_disable_and_join() -> None:
    plan = plan_changes(account(groups=()), desired(state="disabled"), DA)
    assert plan == Plan(uac=HARDENED | UF_ACCOUNTDISABLE, join=DA)


def test_plan_privilege_none_leaves_domain_admins_only() -> None:
    other = f"CN=Scanners,{USERS}"
    plan = plan_changes(account(groups=(other, DA.upper())), desired(privilege="none"), DA)
    assert plan == Plan(leave=DA)
    after = predict(account(groups=(other, DA.upper())), plan)
    assert after is not None and after.groups == (other,)


@pytest.mark.parametrize(("update", "matches", "sets"), [
    ("on_create", False, False), ("always", True, False), ("always", False, True), ("always", None, True),
])
def test_plan_password(update: str, matches: bool | None, sets: bool) -> None:
    plan = plan_changes(account(), desired(update_password=update), DA, password_matches=matches)
    assert plan.set_password is sets


def test_plan_absent() -> None:
    assert plan_changes(account(), desired(state="absent"), "") == Plan(delete=True)
    assert not plan_changes(None, desired(state="absent"), "").changed


def test_diff_names_a_password_change_without_the_password() -> None:
    before = account()
    plan = Plan(set_password=True)
    diff = build_diff(before, predict(before, plan), password_changes=True)
    assert diff["before"]["password"] != diff["after"]["password"]
    assert PASSWORD not in repr(diff)
    assert diff["after"]["state"] == "present"


def test_diff_create_and_delete() -> None:
    created = predict(None, Plan(create_dn="CN=x," + USERS, uac=UF_NORMAL_ACCOUNT, join=DA))
    diff = build_diff(None, created, password_changes=False)
    assert diff["before"] == {"state": "absent"}
    assert diff["after"] == {"state": "present", "dn": "CN=x," + USERS, "enabled": True,
                             "password_never_expires": False, "not_delegated": False, "expires": None,
                             "description": None, "groups": [DA],
                             "owner": None, "controlled_by_others": False, "foreign_aces": [],
                             "inherited_foreign_aces": [], "risky_flags": [], "service_principal_names": [],
                             "allowed_to_delegate_to": [], "alternate_credentials": []}
    assert build_diff(account(), None, password_changes=False)["after"] == {"state": "absent"}


def test_desired_repr_hides_the_password() -> None:
    assert PASSWORD not in repr(desired())


# --- ensure_account against an in-memory directory ----------------------------------------------------

sid_bytes = _acl.sid_to_bytes
FULL = 0x000F01FF
HELPER_SID = f"{DOMAIN_SID}-1200"
OPERATOR = "admin@corp.example.com"


def descriptor(owner: str, *aces: _acl.Ace) -> bytes:
    """What the DC gives a new user: Domain Admins own it, SYSTEM and Domain Admins have full control."""
    default = (_acl.make_ace(_acl.ACCESS_ALLOWED, 0, FULL, f"{DOMAIN_SID}-512"),
               _acl.make_ace(_acl.ACCESS_ALLOWED, 0, FULL, "S-1-5-18"),
               _acl.make_ace(_acl.ACCESS_ALLOWED, 0, FULL, "S-1-5-32-548"),  # Account Operators
               _acl.make_ace(_acl.ACCESS_ALLOWED, 0, 0x20, "S-1-5-10"))  # SELF
    return _acl.SecurityDescriptor(_acl.SE_DACL_PRESENT, owner, owner, default + aces).render()


class FakeDirectory:
    """Just enough of a DC: objects by DN, memberOf kept from member, a password policy, rights."""

    base_dn = BASE

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, list[Any]]] = {
            BASE: {"objectClass": ["domain"], "objectSid": [sid_bytes(DOMAIN_SID)]},
            USERS: {"objectClass": ["container"]},
            DA: {"objectClass": ["top", "group"], "objectSid": [sid_bytes(DOMAIN_SID + "-512")],
                 "sAMAccountName": ["Domain Admins"], "member": []},
            f"CN=admin,{USERS}": {"objectClass": ["user"], "objectSid": [sid_bytes(f"{DOMAIN_SID}-500")],
                                  "sAMAccountName": ["admin"]},
            f"CN=helper,{USERS}": {"objectClass": ["user"], "objectSid": [sid_bytes(HELPER_SID)],
                                   "sAMAccountName": ["helper"]},
        }
        self.passwords: dict[str, str] = {}
        self.min_length = 7
        self.deny_group_change = False
        self.writes: list[str] = []
        self.binds = 0
        self.next_rid = 1105

    def _find(self, dn: str) -> str | None:
        if dn == "":
            self.objects.setdefault("", {"rootDomainNamingContext": [BASE]})
            return ""
        if dn.startswith("<WKGUID="):
            return USERS
        if dn.startswith("<SID="):
            sid = dn[5:-1]
            return next((k for k, v in self.objects.items() if v.get("objectSid") == [sid_bytes(sid)]), None)
        return next((k for k in self.objects if k.lower() == dn.lower()), None)

    def _entry(self, dn: str, attributes: Sequence[str]) -> Entry:
        obj = dict(self.objects[dn])
        obj["memberOf"] = [g for g, o in self.objects.items() if dn in o.get("member", [])]
        return Entry(dn, {a: list(obj.get(a, [])) for a in attributes})

    def search(self, base: str, ldap_filter: str, attributes: Sequence[str], *, scope: str = "subtree",
               sd_flags: int | None = None) -> list[Entry]:
        found = self._find(base)
        if found is None:
            raise DomainError(f"no such object: {base}", _ldap.NO_SUCH_OBJECT, 32)
        if scope == "base":
            return [self._entry(found, attributes)]
        attribute, value = ldap_filter[1:-1].split("=", 1)
        return [self._entry(dn, attributes) for dn, o in self.objects.items()
                if [str(v).lower() for v in o.get(attribute, [])] == [value.lower()]]

    def add(self, dn: str, object_class: str | Sequence[str], attributes: Mapping[str, Any]) -> None:
        parent = dn.split(",", 1)[1]
        if self._find(parent) is None:
            raise DomainError(f"no such object: {dn}", _ldap.NO_SUCH_OBJECT, 32)
        self.writes.append(f"add {dn}")
        sid = sid_bytes(f"{DOMAIN_SID}-{self.next_rid}")
        self.objects[dn] = {"objectClass": list(object_class), "objectSid": [sid],
                            "nTSecurityDescriptor": [descriptor(f"{DOMAIN_SID}-512")],
                            **{k: [v] for k, v in attributes.items()}}
        self.next_rid += 1

    def modify(self, dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[Any]]]], *,
               sd_flags: int | None = None) -> None:
        for attribute, operations in changes.items():
            for operation, values in operations:
                if attribute == "unicodePwd":
                    password = values[0].decode("utf-16-le")[1:-1]
                    if len(password) < self.min_length:
                        raise DomainError(f"the DC refused to modify {dn}: 0000052D: Constraint violation - "
                                          "the password is too short", _ldap.REJECTED, 19,
                                          "0000052D: Constraint violation - the password is too short")
                    self.passwords[dn] = password
                elif attribute == "member" and self.deny_group_change:
                    raise DomainError(f"insufficient rights: admin may not modify {dn}", _ldap.RIGHTS, 50)
                elif operation == _ldap.MODIFY_ADD:
                    self.objects[dn].setdefault(attribute, []).extend(values)
                elif operation == _ldap.MODIFY_DELETE:
                    self.objects[dn][attribute] = [v for v in self.objects[dn][attribute] if v not in values]
                else:
                    self.objects[dn][attribute] = list(values)
                self.writes.append(f"modify {dn} {attribute}")

    def delete(self, dn: str) -> None:
        self.writes.append(f"delete {dn}")
        del self.objects[dn]
        self.passwords.pop(dn, None)
        for obj in self.objects.values():
            if dn in obj.get("member", []):
                obj["member"].remove(dn)

    def try_bind(self, user: str, password: str, *, account: str) -> BindCheck:
        self.binds += 1
        if self.passwords.get(user) != password:
            return BindCheck(False, "52e", "wrong user name or password")
        if int(self.objects[user]["userAccountControl"][0]) & UF_ACCOUNTDISABLE:
            return BindCheck(False, "533", "account disabled")
        return BindCheck(True, None, "")


NEW_DN = f"CN=qualys_scanner,{USERS}"


def run(directory: FakeDirectory, check_mode: bool = False, **overrides: Any) -> Any:
    return ensure_account(directory, desired(**overrides), domain="corp.example.com", check_mode=check_mode,
                          operator=OPERATOR)


def test_create_in_check_mode_writes_nothing() -> None:
    directory = FakeDirectory()
    outcome = run(directory, check_mode=True)
    assert outcome.changed and outcome.created
    assert outcome.account.dn == NEW_DN and outcome.account.sid is None
    assert directory.writes == []


def test_create_then_nothing_to_do() -> None:
    directory = FakeDirectory()
    outcome = run(directory, description="scanner")
    assert outcome.changed and outcome.created
    assert directory.writes == [f"add {NEW_DN}", f"modify {NEW_DN} unicodePwd", f"modify {NEW_DN} userAccountControl",
                                f"modify {DA} member"]
    assert directory.objects[NEW_DN]["userAccountControl"] == [str(HARDENED)]
    assert directory.objects[NEW_DN]["userPrincipalName"] == ["qualys_scanner@corp.example.com"]
    assert outcome.account.sid == f"{DOMAIN_SID}-1105"
    assert outcome.account.groups == (DA,)
    again = run(directory, description="scanner")
    assert not again.changed and not again.created


def test_created_disabled_first() -> None:
    directory = FakeDirectory()
    run(directory)
    assert directory.writes[0] == f"add {NEW_DN}"
    # the add carried a disabled account; only the third write enables it
    assert directory.writes.index(f"modify {NEW_DN} userAccountControl") > directory.writes.index(
        f"modify {NEW_DN} unicodePwd")


def test_rejected_password_leaves_nothing_behind() -> None:
    directory = FakeDirectory()
    with pytest.raises(DomainError) as err:
        run(directory, password="short")
    assert err.value.cause == _ldap.REJECTED
    assert "the domain refused the password for qualys_scanner: 0000052D: Constraint violation" in err.value.message
    assert "nothing left behind" in err.value.message
    assert "short" not in err.value.message.replace("too short", "")
    assert NEW_DN not in directory.objects
    assert directory.writes[-1] == f"delete {NEW_DN}"


def test_failed_join_rolls_back() -> None:
    directory = FakeDirectory()
    directory.deny_group_change = True
    with pytest.raises(DomainError, match=r"insufficient rights.*nothing left behind"):
        run(directory)
    assert NEW_DN not in directory.objects


def test_missing_path_is_named() -> None:
    with pytest.raises(DomainError, match="path OU=Scanners,DC=corp,DC=example,DC=com does not exist"):
        run(FakeDirectory(), path=f"OU=Scanners,{BASE}")


def test_create_needs_a_password() -> None:
    with pytest.raises(DomainError, match="password is required"):
        run(FakeDirectory(), password=None)


def test_name_taken_by_a_group() -> None:
    with pytest.raises(DomainError, match="already taken by a group"):
        run(FakeDirectory(), name="Domain Admins")


def test_disable_enable_absent() -> None:
    directory = FakeDirectory()
    run(directory)
    disabled = run(directory, state="disabled")
    assert disabled.changed and not disabled.account.enabled
    assert not run(directory, state="disabled").changed
    assert run(directory).account.enabled
    gone = run(directory, state="absent")
    assert gone.changed and gone.account is None
    assert NEW_DN not in directory.objects and directory.objects[DA]["member"] == []
    assert not run(directory, state="absent").changed


def test_update_password_always_binds_once_and_changes_only_when_different() -> None:
    directory = FakeDirectory()
    run(directory)
    writes = len(directory.writes)
    same = run(directory, update_password="always")
    assert not same.changed and directory.binds == 1 and len(directory.writes) == writes
    changed = run(directory, update_password="always", password="Scanner-Pass-2")
    assert changed.changed and directory.binds == 2
    assert directory.passwords[NEW_DN] == "Scanner-Pass-2"
    assert changed.diff["after"]["password"] == "(changed, not shown)"


def test_update_password_always_on_a_disabled_account() -> None:
    directory = FakeDirectory()
    run(directory, state="disabled")
    assert not run(directory, state="disabled", update_password="always").changed


def test_update_password_check_mode_changes_nothing() -> None:
    directory = FakeDirectory()
    run(directory)
    writes = list(directory.writes)
    assert run(directory, check_mode=True, update_password="always", password="Scanner-Pass-2").changed
    assert directory.writes == writes and directory.passwords[NEW_DN] == PASSWORD


def test_rejected_new_password_on_existing_account_changes_nothing_else() -> None:
    directory = FakeDirectory()
    run(directory)
    writes = list(directory.writes)
    with pytest.raises(DomainError, match="refused the password"):
        run(directory, state="disabled", update_password="always", password="short")
    assert directory.writes == writes


def test_existing_account_is_not_moved() -> None:
    directory = FakeDirectory()
    directory.objects[f"OU=Scanners,{BASE}"] = {"objectClass": ["organizationalUnit"]}
    run(directory)
    outcome = run(directory, path=f"OU=Scanners,{BASE}")
    assert not outcome.changed
    assert outcome.warnings == [f"qualys_scanner exists as {NEW_DN}; it is not moved to OU=Scanners,{BASE}"]


def test_a_missing_account_is_not_created_when_create_is_false() -> None:
    desired = AccountRequest(name="qualys_scanner", state="disabled", create=False)
    assert plan_changes(None, desired, "CN=Domain Admins,CN=Users,DC=x") == Plan()


# --- somebody else's account: refused, or adopted ------------------------------------------------------

UF_DONT_REQ_PREAUTH = 0x400000
SQUAT_DN = f"CN=qualys_scanner,OU=Delegated,{BASE}"


def plant_squatter(directory: FakeDirectory, *, owner: str = HELPER_SID, aces: tuple[_acl.Ace, ...] = (),
                   uac: int = UF_NORMAL_ACCOUNT | UF_DONT_REQ_PREAUTH) -> None:
    """A user of the scanner's name made by someone else, with a password they know."""
    directory.objects[SQUAT_DN] = {
        "objectClass": ["top", "person", "organizationalPerson", "user"],
        "objectSid": [sid_bytes(f"{DOMAIN_SID}-1300")], "sAMAccountName": ["qualys_scanner"],
        "userAccountControl": [str(uac)], "nTSecurityDescriptor": [descriptor(owner, *aces)],
        "servicePrincipalName": ["HTTP/squat.corp.example.com"],
        "msDS-AllowedToDelegateTo": ["cifs/dc1.corp.example.com"],
    }
    directory.passwords[SQUAT_DN] = "Squatter-Knows-1"


def helper_full_control(flags: int = 0) -> _acl.Ace:
    return _acl.make_ace(_acl.ACCESS_ALLOWED, flags, FULL, HELPER_SID)


def test_an_account_someone_else_owns_is_refused_and_left_alone() -> None:
    directory = FakeDirectory()
    plant_squatter(directory, aces=(helper_full_control(),))
    for check_mode in (True, False):
        with pytest.raises(DomainError) as err:
            run(directory, check_mode=check_mode)
        message = err.value.message
        assert err.value.cause == "foreign"
        assert message.startswith(f"qualys_scanner already exists as {SQUAT_DN} and someone else controls it: "
                                  f"owner CN=helper,{USERS} ({HELPER_SID}) is not Domain Admins")
        assert f"explicit ACEs: allow {HELPER_SID} mask 0x000f01ff = CN=helper,{USERS}" in message
        assert "adopt: true" in message and "scanready_account_adopt" in message
    assert directory.writes == [] and directory.binds == 0
    assert directory.objects[DA]["member"] == []


def test_a_foreign_explicit_ace_alone_is_refused() -> None:
    directory = FakeDirectory()
    reset = _acl.make_ace(_acl.ACCESS_ALLOWED, 0, _acl.DS_CONTROL_ACCESS, HELPER_SID)  # every extended right
    plant_squatter(directory, owner=f"{DOMAIN_SID}-512", aces=(reset,), uac=UF_NORMAL_ACCOUNT)
    with pytest.raises(DomainError, match=r"someone else controls it: explicit ACEs: allow S-1-5-21-1-2-3-1200"):
        run(directory)


def test_owned_by_the_operator_and_ad_defaults_are_not_foreign() -> None:
    directory = FakeDirectory()
    plant_squatter(directory, owner=f"{DOMAIN_SID}-500", uac=UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD)
    del directory.objects[SQUAT_DN]["servicePrincipalName"], directory.objects[SQUAT_DN]["msDS-AllowedToDelegateTo"]
    outcome = run(directory)
    assert outcome.changed and outcome.warnings == []
    control = outcome.diff["before"]
    assert control["owner"] == f"the operator {OPERATOR} ({DOMAIN_SID}-500)"
    assert not control["controlled_by_others"] and control["foreign_aces"] == []


def test_risky_settings_on_a_trusted_account_are_reported_not_changed_but_spns_are_removed() -> None:
    directory = FakeDirectory()
    plant_squatter(directory, owner=f"{DOMAIN_SID}-512")
    check = run(directory, check_mode=True)
    assert check.diff["before"]["service_principal_names"] == ["HTTP/squat.corp.example.com"]
    assert check.diff["after"]["service_principal_names"] == []
    assert not check.diff["before"]["not_delegated"] and check.diff["after"]["not_delegated"]
    assert directory.writes == []
    outcome = run(directory)
    assert outcome.warnings == [
        f"qualys_scanner ({SQUAT_DN}) has servicePrincipalName HTTP/squat.corp.example.com: removed, because anyone "
        "in the domain can request a ticket for an SPN and crack the account's password offline (kerberoasting)",
        f"qualys_scanner ({SQUAT_DN}) has DONT_REQ_PREAUTH, msDS-AllowedToDelegateTo set; adopt: true clears them"]
    assert outcome.account.risky_flags == ["DONT_REQ_PREAUTH"]
    assert directory.objects[SQUAT_DN]["servicePrincipalName"] == []
    assert directory.objects[SQUAT_DN]["msDS-AllowedToDelegateTo"] == ["cifs/dc1.corp.example.com"]
    assert int(directory.objects[SQUAT_DN]["userAccountControl"][0]) & UF_NOT_DELEGATED
    assert not run(directory).changed


def test_adopting_takes_it_over_in_order_then_changes_nothing() -> None:
    directory = FakeDirectory()
    plant_squatter(directory, aces=(helper_full_control(),))
    check = run(directory, check_mode=True, adopt=True)
    assert check.changed and directory.writes == []
    assert check.diff["before"]["controlled_by_others"] and not check.diff["after"]["controlled_by_others"]
    assert check.diff["after"]["owner"] == f"Domain Admins ({DOMAIN_SID}-512)"
    assert check.diff["after"]["password"] == "(changed, not shown)"

    adopted = run(directory, adopt=True)
    assert adopted.changed
    # Owner and ACL first, so the squatter cannot undo the rest meanwhile; Domain Admins last.
    assert directory.writes == [f"modify {SQUAT_DN} {attribute}" for attribute in (
        "nTSecurityDescriptor", "unicodePwd", "servicePrincipalName", "msDS-AllowedToDelegateTo",
        "userAccountControl")] + [f"modify {DA} member"]
    sd = _acl.parse_sd(directory.objects[SQUAT_DN]["nTSecurityDescriptor"][0])
    assert sd.owner == f"{DOMAIN_SID}-512" and HELPER_SID not in {ace.sid for ace in sd.dacl}
    assert directory.passwords[SQUAT_DN] == PASSWORD
    assert int(directory.objects[SQUAT_DN]["userAccountControl"][0]) == HARDENED
    assert directory.objects[SQUAT_DN]["servicePrincipalName"] == []
    assert adopted.account.control is not None and not adopted.account.needs_adoption

    writes = len(directory.writes)
    again = run(directory, adopt=True)
    assert not again.changed and len(directory.writes) == writes


def test_adopting_stops_inheriting_a_containers_foreign_aces() -> None:
    directory = FakeDirectory()
    inherited = helper_full_control(_acl.INHERITED)
    plant_squatter(directory, owner=f"{DOMAIN_SID}-512", aces=(inherited,), uac=UF_NORMAL_ACCOUNT)
    del directory.objects[SQUAT_DN]["servicePrincipalName"], directory.objects[SQUAT_DN]["msDS-AllowedToDelegateTo"]
    for check_mode in (True, False):  # issue 21, item 4: refused, not only warned of, unless adopted
        with pytest.raises(DomainError, match=rf"inherits ACEs from its container .*allow {HELPER_SID} mask "
                                              rf"0x000f01ff = CN=helper,{USERS}\. Nothing was changed.*Adopt it"):
            run(directory, check_mode=check_mode)
    assert directory.writes == []
    adopting = run(directory, adopt=True, check_mode=True)
    assert adopting.diff["before"]["inherited_foreign_aces"] == [
        f"allow {HELPER_SID} mask 0x000f01ff = CN=helper,{USERS}"]
    run(directory, adopt=True)
    sd = _acl.parse_sd(directory.objects[SQUAT_DN]["nTSecurityDescriptor"][0])
    assert sd.control & _acl.SE_DACL_PROTECTED
    assert HELPER_SID not in {ace.sid for ace in sd.dacl}
    assert not any(ace.inherited for ace in sd.dacl)


def test_adopting_needs_the_password() -> None:
    directory = FakeDirectory()
    plant_squatter(directory)
    with pytest.raises(DomainError, match="adopting qualys_scanner sets its password in the same run"):
        run(directory, adopt=True, password=None)
    assert directory.writes == []


def test_a_malformed_descriptor_is_a_clear_error() -> None:
    directory = FakeDirectory()
    plant_squatter(directory)
    directory.objects[SQUAT_DN]["nTSecurityDescriptor"] = [b"\x01\x00\x04\x80" + b"\xff" * 16]
    with pytest.raises(DomainError, match=f"the nTSecurityDescriptor of {SQUAT_DN} is unusable: .*nothing was changed"):
        run(directory)


def test_removing_a_squatted_account_is_refused_unless_adopted() -> None:
    directory = FakeDirectory()
    plant_squatter(directory)
    before = copy.deepcopy(directory.objects)
    with pytest.raises(DomainError, match=r"someone else controls it.*Nothing was changed"):
        run(directory, state="absent")
    assert {dn: attrs for dn, attrs in directory.objects.items() if dn} == before  # '' is the rootDSE it read
    assert run(directory, state="absent", adopt=True).changed
    assert SQUAT_DN not in directory.objects


def test_a_new_account_is_not_created_where_the_container_hands_out_takeover_rights() -> None:
    """Issue 21, item 4: an OU delegating full control over its users to someone else is refused before anything
    is created, naming the OU's ACE; an inheritable ACE for other objects, or a harmless one, is not."""
    directory = FakeDirectory()
    ou = f"OU=Delegated,{BASE}"
    delegated = _acl.make_ace(_acl.ACCESS_ALLOWED, _acl.CONTAINER_INHERIT | _acl.INHERIT_ONLY, FULL, HELPER_SID)
    directory.objects[ou] = {"objectClass": ["organizationalUnit"],
                             "nTSecurityDescriptor": [descriptor(f"{DOMAIN_SID}-512", delegated)]}
    for check_mode in (True, False):
        with pytest.raises(DomainError, match=rf"{ou} gives every user created in it ACEs .*allow {HELPER_SID} "
                                              r"mask 0x000f01ff.*Nothing was created"):
            run(directory, path=ou, check_mode=check_mode)
    assert directory.writes == [] and f"CN=qualys_scanner,{ou}" not in directory.objects
    read_only = _acl.make_ace(_acl.ACCESS_ALLOWED, _acl.CONTAINER_INHERIT | _acl.INHERIT_ONLY, 0x20094, HELPER_SID)
    directory.objects[ou]["nTSecurityDescriptor"] = [descriptor(f"{DOMAIN_SID}-512", read_only)]
    assert run(directory, path=ou).created
