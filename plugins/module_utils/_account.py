# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner's domain account: name rules, userAccountControl arithmetic, planning and applying changes.

The pure part (name_problem, uac_for, plan_changes, build_diff, ...) needs no domain; ensure_account
reads the account through a Directory (the bound _ldap.DomainConnection), plans, and applies.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    CONFIG,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NO_SUCH_OBJECT,
    REJECTED,
    BindCheck,
    DomainError,
    Entry,
    sid_to_str,
)

UF_ACCOUNTDISABLE: Final = 0x0002
UF_NORMAL_ACCOUNT: Final = 0x0200
UF_DONT_EXPIRE_PASSWD: Final = 0x10000

DEFAULT_NAME: Final = "qualys_scanner"
UPDATE_ON_CREATE: Final = "on_create"
UPDATE_ALWAYS: Final = "always"
RESERVED_NAMES: Final = frozenset({"qualys"})  # the scanning vendor keeps this one for itself
SAM_MAX_LENGTH: Final = 20  # user sAMAccountNames (pre-Windows 2000 logon names)
SAM_FORBIDDEN: Final = frozenset('"/\\[]:;|=,+*?<>@')
USERS_CONTAINER_WKGUID: Final = "a9d1ca15768811d1aded00c04fd8d5cd"
DOMAIN_ADMINS_RID: Final = 512
# A bind refused with these codes still proves the password right: the DC checks it before these.
PASSWORD_RIGHT_CODES: Final = frozenset({"530", "531", "533", "701"})
USER_OBJECT_CLASSES: Final = ("top", "person", "organizationalPerson", "user")
ACCOUNT_ATTRIBUTES: Final = ("objectClass", "objectSid", "userAccountControl", "description", "memberOf")


def name_problem(name: str) -> str | None:
    """Why name cannot be the scanner's sAMAccountName, or None when it can."""
    if not name:
        return "name is empty"
    if name.lower() in RESERVED_NAMES:
        return f"name {name!r} is reserved by the scanning vendor; choose another, e.g. {DEFAULT_NAME}"
    if len(name) > SAM_MAX_LENGTH:
        return f"name {name!r} is {len(name)} characters; a sAMAccountName holds at most {SAM_MAX_LENGTH}"
    bad = sorted({c for c in name if c in SAM_FORBIDDEN or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return f"name {name!r} contains characters a sAMAccountName cannot hold: {shown}"
    if name != name.strip():
        return f"name {name!r} begins or ends with a space"
    if set(name) <= {"."}:
        return f"name {name!r} consists only of periods"
    if name.endswith("$"):
        return f"name {name!r} ends with '$', which marks computer accounts"
    return None


def uac_for(current: int, *, enabled: bool, password_never_expires: bool) -> int:
    """current userAccountControl with the two managed flags set as asked; every other flag kept."""
    value = current | UF_NORMAL_ACCOUNT
    value = value & ~UF_ACCOUNTDISABLE if enabled else value | UF_ACCOUNTDISABLE
    return value | UF_DONT_EXPIRE_PASSWD if password_never_expires else value & ~UF_DONT_EXPIRE_PASSWD


def unicode_pwd(password: str) -> bytes:
    """The unicodePwd value AD takes for a password reset: the quoted password in UTF-16LE."""
    return f'"{password}"'.encode("utf-16-le")


def escape_rdn(value: str) -> str:
    """Escape an RDN value (RFC 4514)."""
    out = "".join(f"\\{c}" if c in ',+"\\<>;=' else c for c in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def escape_filter(value: str) -> str:
    """Escape a value inside an LDAP filter (RFC 4515)."""
    return "".join(f"\\{ord(c):02x}" if c in "\\*()\0" else c for c in value)


@dataclass(frozen=True)
class Desired:
    name: str
    state: str  # present | disabled | absent
    password: str | None = field(default=None, repr=False)
    update_password: str = UPDATE_ON_CREATE  # or UPDATE_ALWAYS
    path: str | None = None
    description: str | None = None  # None: leave as it is
    password_never_expires: bool = True
    privilege: str = "domain_admins"  # domain_admins | none
    create: bool = True  # False: a missing account stays missing (a rollback must not create one)


@dataclass(frozen=True)
class Account:
    """The account as the DC has it (or, in check mode, as it would have it)."""

    dn: str
    sid: str | None
    uac: int
    description: str | None
    groups: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return not self.uac & UF_ACCOUNTDISABLE

    @property
    def password_never_expires(self) -> bool:
        return bool(self.uac & UF_DONT_EXPIRE_PASSWD)

    def in_group(self, group_dn: str) -> bool:
        return any(g.lower() == group_dn.lower() for g in self.groups)


@dataclass(frozen=True)
class Plan:
    create_dn: str | None = None  # where to create the account
    delete: bool = False
    uac: int | None = None  # the new userAccountControl, when it changes
    description: str | None = None  # the new description ("" removes it), when it changes
    join: str | None = None  # group DN to add the account to
    leave: str | None = None  # group DN to take the account out of
    set_password: bool = False

    @property
    def changed(self) -> bool:
        return self != Plan()


def plan_changes(current: Account | None, desired: Desired, domain_admins: str, *,
                 create_dn: str | None = None, password_matches: bool | None = None) -> Plan:
    """What to do to get from current to desired (the state is present or disabled, or absent)."""
    if desired.state == "absent":
        return Plan(delete=current is not None)
    enabled = desired.state == "present"
    if current is None and not desired.create:
        return Plan()
    if current is None:
        if create_dn is None:
            raise ValueError("create_dn is needed to create the account")
        return Plan(create_dn=create_dn, set_password=True,
                    uac=uac_for(UF_NORMAL_ACCOUNT, enabled=enabled,
                                password_never_expires=desired.password_never_expires),
                    description=desired.description or None,
                    join=domain_admins if desired.privilege == "domain_admins" else None)
    uac = uac_for(current.uac, enabled=enabled, password_never_expires=desired.password_never_expires)
    description = desired.description
    if description is not None and description == (current.description or ""):
        description = None
    wants_admin = desired.privilege == "domain_admins"
    return Plan(
        uac=uac if uac != current.uac else None,
        description=description,
        join=domain_admins if wants_admin and not current.in_group(domain_admins) else None,
        leave=domain_admins if not wants_admin and current.in_group(domain_admins) else None,
        set_password=(desired.update_password == UPDATE_ALWAYS and desired.password is not None
                      and password_matches is not True),
    )


def predict(current: Account | None, plan: Plan) -> Account | None:
    """The account after plan, as far as it can be known before applying it (no SID for a new one)."""
    if plan.delete:
        return None
    if plan.create_dn is not None:
        base = Account(plan.create_dn, None, plan.uac or UF_NORMAL_ACCOUNT, None, ())
    elif current is None:
        return None
    else:
        base = current
    groups = [g for g in base.groups if not (plan.leave and g.lower() == plan.leave.lower())]
    if plan.join:
        groups.append(plan.join)
    return replace(base, uac=plan.uac if plan.uac is not None else base.uac,
                   description=base.description if plan.description is None else plan.description or None,
                   groups=tuple(groups))


def account_view(account: Account | None) -> dict[str, Any]:
    """The account as shown in a diff."""
    if account is None:
        return {"state": "absent"}
    return {
        "state": "present" if account.enabled else "disabled",
        "dn": account.dn,
        "enabled": account.enabled,
        "password_never_expires": account.password_never_expires,
        "description": account.description,
        "groups": sorted(account.groups, key=str.lower),
    }


def build_diff(before: Account | None, after: Account | None, *, password_changes: bool) -> dict[str, Any]:
    """Ansible's before/after; a password change is named, the password never shown."""
    before_view, after_view = account_view(before), account_view(after)
    if password_changes and before is not None and after is not None:
        before_view["password"] = "(current, not shown)"  # noqa: S105 - a placeholder, never the password
        after_view["password"] = "(changed, not shown)"  # noqa: S105
    return {"before": before_view, "after": after_view}


def account_from_entry(entry: Entry) -> Account:
    raw_sid = entry.first("objectSid")
    return Account(
        dn=entry.dn,
        sid=sid_to_str(raw_sid) if raw_sid else None,
        uac=int(entry.first("userAccountControl") or UF_NORMAL_ACCOUNT),
        description=entry.first("description"),
        groups=tuple(str(g) for g in entry.attributes.get("memberOf", [])),
    )


class Directory(Protocol):
    """What ensure_account needs from a bound domain connection (_ldap.DomainConnection)."""

    base_dn: str

    def search(self, base: str, ldap_filter: str, attributes: Sequence[str], *, scope: str = ...,
               controls: Sequence[Any] | None = ...) -> list[Entry]: ...

    def add(self, dn: str, object_class: str | Sequence[str], attributes: Mapping[str, Any],
            controls: Sequence[Any] | None = ...) -> None: ...

    def modify(self, dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[Any]]]],
               controls: Sequence[Any] | None = ...) -> None: ...

    def delete(self, dn: str, controls: Sequence[Any] | None = ...) -> None: ...

    def try_bind(self, user: str, password: str) -> BindCheck: ...


@dataclass
class Outcome:
    changed: bool
    created: bool
    account: Account | None
    diff: dict[str, Any]
    warnings: list[str]


def find_account(conn: Directory, name: str) -> Account | None:
    """The user whose sAMAccountName is name; an error when a group or computer holds the name."""
    entries = conn.search(conn.base_dn, f"(sAMAccountName={escape_filter(name)})", ACCOUNT_ATTRIBUTES)
    if not entries:
        return None
    entry = entries[0]
    classes = {str(c).lower() for c in entry.attributes.get("objectClass", [])}
    if "user" not in classes or "computer" in classes:
        kind = "computer" if "computer" in classes else "group" if "group" in classes else "non-user object"
        raise DomainError(f"name {name!r} is already taken by a {kind}: {entry.dn}", CONFIG)
    return account_from_entry(entry)


def domain_admins_dn(conn: Directory) -> str:
    """Domain Admins by its well-known RID, so a renamed or localised group is still found."""
    domain = conn.search(conn.base_dn, "(objectClass=*)", ["objectSid"], scope="base")
    if not domain or not domain[0].first("objectSid"):
        raise DomainError(f"cannot read the domain SID from {conn.base_dn}")
    sid = f"{sid_to_str(domain[0].first('objectSid'))}-{DOMAIN_ADMINS_RID}"
    group = conn.search(f"<SID={sid}>", "(objectClass=group)", ["objectSid"], scope="base")
    if not group:
        raise DomainError(f"Domain Admins ({sid}) not found in {conn.base_dn}", NO_SUCH_OBJECT)
    return group[0].dn


def container_for(conn: Directory, path: str | None) -> str:
    """The DN to create the account under: path when it exists, else the domain's Users container."""
    base = path or f"<WKGUID={USERS_CONTAINER_WKGUID},{conn.base_dn}>"
    try:
        found = conn.search(base, "(objectClass=*)", ["objectClass"], scope="base")
    except DomainError as exc:
        if exc.cause == NO_SUCH_OBJECT and path:
            raise DomainError(f"path {path} does not exist; create the OU first or choose another path",
                              NO_SUCH_OBJECT) from None
        raise
    if not found:
        raise DomainError(f"path {base} does not exist", NO_SUCH_OBJECT)
    return found[0].dn


def password_matches(conn: Directory, account: Account, password: str) -> tuple[bool | None, str | None]:
    """Whether the DC accepts password for account (one bind), and a warning when it cannot tell."""
    check = conn.try_bind(account.dn, password)
    if check.accepted or check.code in PASSWORD_RIGHT_CODES:
        return True, None
    if check.code in ("52e", "525", "532", "773"):
        return False, None
    return None, (f"could not verify the current password of {account.dn} ({check.reason}); "
                  "it is set again")


def ensure_account(conn: Directory, desired: Desired, *, domain: str, check_mode: bool) -> Outcome:
    """Bring the account to desired; in check mode only report what would change."""
    current = find_account(conn, desired.name)
    warnings: list[str] = []
    if desired.state == "absent":
        plan = plan_changes(current, desired, "")
    else:
        create_dn = None
        matches: bool | None = None
        if current is None:
            if desired.create:
                _required_password(desired)
                create_dn = f"CN={escape_rdn(desired.name)},{container_for(conn, desired.path)}"
        else:
            if desired.path and not current.dn.lower().endswith("," + desired.path.lower()):
                warnings.append(f"{desired.name} exists as {current.dn}; it is not moved to {desired.path}")
            if desired.update_password == UPDATE_ALWAYS and desired.password:
                matches, warning = password_matches(conn, current, desired.password)
                warnings.extend([warning] if warning else [])
        plan = plan_changes(current, desired, domain_admins_dn(conn), create_dn=create_dn,
                            password_matches=matches)
    after = predict(current, plan)
    diff = build_diff(current, after, password_changes=plan.set_password and current is not None)
    if check_mode or not plan.changed:
        return Outcome(plan.changed, plan.create_dn is not None, after, diff, warnings)
    if plan.delete and current is not None:
        conn.delete(current.dn)
        return Outcome(True, False, None, diff, warnings)
    if plan.create_dn is not None:
        _create(conn, plan.create_dn, plan, desired, domain)
    elif current is not None:
        _update(conn, current, plan, desired)
    return Outcome(True, plan.create_dn is not None, find_account(conn, desired.name), diff, warnings)


def _set_password(conn: Directory, dn: str, name: str, password: str) -> None:
    try:
        conn.modify(dn, {"unicodePwd": [(MODIFY_REPLACE, [unicode_pwd(password)])]})
    except DomainError as exc:
        if exc.cause == REJECTED:
            raise DomainError(f"the domain refused the password for {name}: {exc.detail}", REJECTED,
                              exc.result_code, exc.detail) from None
        raise


def _required_password(desired: Desired) -> str:
    if not desired.password:
        raise DomainError(f"password is required to create the account {desired.name}", CONFIG)
    return desired.password


def _create(conn: Directory, dn: str, plan: Plan, desired: Desired, domain: str) -> None:
    """Create disabled, set the password, then enable and join; on any failure remove it again."""
    attributes: dict[str, Any] = {
        "sAMAccountName": desired.name,
        "userPrincipalName": f"{desired.name}@{domain}",
        "userAccountControl": str(UF_NORMAL_ACCOUNT | UF_ACCOUNTDISABLE),
    }
    if plan.description:
        attributes["description"] = plan.description
    conn.add(dn, USER_OBJECT_CLASSES, attributes)
    try:
        _set_password(conn, dn, desired.name, _required_password(desired))
        # Replacing the whole value also drops PASSWD_NOTREQD, which the DC may set on a passwordless account.
        conn.modify(dn, {"userAccountControl": [(MODIFY_REPLACE, [str(plan.uac)])]})
        if plan.join:
            conn.modify(plan.join, {"member": [(MODIFY_ADD, [dn])]})
    except DomainError as exc:
        try:
            conn.delete(dn)
        except DomainError as cleanup:
            raise DomainError(f"{exc.message}; removing the half-created account {dn} failed too: "
                              f"{cleanup.message}", exc.cause, exc.result_code, exc.detail) from None
        raise DomainError(f"{exc.message}; the account was not created (nothing left behind)", exc.cause,
                          exc.result_code, exc.detail) from None


def _update(conn: Directory, current: Account, plan: Plan, desired: Desired) -> None:
    """Password first (the policy may refuse it before anything changed), then groups, then flags."""
    if plan.set_password:
        _set_password(conn, current.dn, desired.name, _required_password(desired))
    if plan.join:
        conn.modify(plan.join, {"member": [(MODIFY_ADD, [current.dn])]})
    if plan.leave:
        conn.modify(plan.leave, {"member": [(MODIFY_DELETE, [current.dn])]})
    changes: dict[str, list[tuple[str, list[Any]]]] = {}
    if plan.uac is not None:
        changes["userAccountControl"] = [(MODIFY_REPLACE, [str(plan.uac)])]
    if plan.description is not None:
        changes["description"] = [(MODIFY_REPLACE, [plan.description] if plan.description else [])]
    if changes:
        conn.modify(current.dn, changes)
