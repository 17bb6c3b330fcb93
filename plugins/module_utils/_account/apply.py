# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ensure_account: read the account, plan, and apply the plan in the order that leaves nothing half-done."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._account.control import (
    FOREIGN,
    Control,
    Trust,
    takeover_inherited,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.directory import (
    Directory,
    container_for,
    domain_admins_dn,
    find_account,
    trust_for,
    with_names,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.expires import from_filetime, iso
from ansible_collections.scanready.windows.plugins.module_utils._account.group import (
    GroupPlan,
    ScannerGroup,
    check_group,
    create_and_join,
    find_group,
    group_view,
    parent_dn,
    plan_group,
    plan_primary,
    predict_group,
    remove_created,
    undo_create,
    with_group,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.password import check_password
from ansible_collections.scanready.windows.plugins.module_utils._account.plan import (
    SPN,
    Account,
    Plan,
    build_diff,
    plan_changes,
    predict,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.request import (
    UPDATE_ALWAYS,
    AccountRequest,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.uac import UF_ACCOUNTDISABLE, UF_NORMAL_ACCOUNT
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    CONFIG,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    REJECTED,
    SD_OWNER_DACL,
    SD_OWNER_GROUP_DACL,
    DomainError,
    dn_is_within,
    escape_rdn,
)
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import LOCAL_ADMINS

USER_OBJECT_CLASSES: Final = ("top", "person", "organizationalPerson", "user")


@dataclass
class Outcome:
    changed: bool
    created: bool
    account: Account | None
    diff: dict[str, Any]
    warnings: list[str]
    password_known: bool = False  # the DC has the password: set in this run, or accepted by the bind check
    # An existing account enabled, or its expiry moved, in this run: a refusal for disabled/expired is over.
    access_restored: bool = False
    group: ScannerGroup | None = None  # the scanner group (as it is, or would be), when it exists or is planned


@dataclass(frozen=True)
class _Planned:
    current: Account | None
    plan: Plan
    group: ScannerGroup | None
    group_plan: GroupPlan
    matches: bool | None

    @property
    def changed(self) -> bool:
        return self.plan.changed or self.group_plan.changed


def unicode_pwd(password: str) -> bytes:
    """The unicodePwd value AD takes for a password reset: the quoted password in UTF-16LE."""
    return f'"{password}"'.encode("utf-16-le")


def ensure_account(conn: Directory, desired: AccountRequest, *, domain: str, check_mode: bool,
                   operator: str = "", now: datetime | None = None) -> Outcome:
    """Bring the account (and, in local_admins mode, the scanner group) to desired; in check mode only report
    what would change.

    An existing account or group someone else controls is refused (DomainError, cause FOREIGN) unless
    desired.adopt.
    """
    trust = trust_for(conn, operator, domain)
    warnings: list[str] = []
    planned = _plan(conn, desired, domain, trust, warnings, now, check_mode)
    current, plan, group_plan = planned.current, planned.plan, planned.group_plan
    after = with_group(predict(current, plan), group_plan)
    group_after = predict_group(planned.group, group_plan)
    diff = build_diff(current, after, password_changes=plan.set_password and current is not None)
    if planned.group is not None or group_after is not None:
        diff["before"]["scanner_group"] = group_view(planned.group)
        diff["after"]["scanner_group"] = group_view(group_after)
    if check_mode or not planned.changed:
        return Outcome(planned.changed, plan.create_dn is not None, after, diff, warnings,
                       password_known=planned.matches is True and not check_mode, group=group_after)
    if plan.delete and current is not None:
        conn.delete(current.dn)
        return Outcome(True, False, None, diff, warnings, group=planned.group)
    if plan.create_dn is not None:
        _create(conn, plan.create_dn, plan, group_plan, desired, domain)
    elif current is not None:
        _update(conn, current, plan, group_plan, desired)
    account = find_account(conn, desired.name, trust)
    group = find_group(conn, desired.scanner_group, trust, required=False) if group_after else None
    restored = current is not None and ((not current.enabled and after is not None and after.enabled)
                                        or plan.expires is not None)
    return Outcome(True, plan.create_dn is not None, account, diff, warnings,
                   password_known=plan.set_password or planned.matches is True, access_restored=restored,
                   group=group)


def _plan(conn: Directory, desired: AccountRequest, domain: str, trust: Trust, warnings: list[str],
          now: datetime | None, check_mode: bool = False) -> _Planned:
    """Read the account and the group, refuse what others control, and plan both. The current password is
    checked through the lockout guard, never in check mode (_account.password)."""
    current = find_account(conn, desired.name, trust)
    if desired.state == "absent":
        if current is not None and current.control is not None and current.control.by_others and not desired.adopt:
            raise DomainError(
                f"{desired.name} exists as {current.dn} and someone else controls it: "
                f"{'; '.join(current.control.problems())}. Nothing was changed: this collection removes only an "
                "account the domain's administrators control. If it is yours, adopt it (adopt: true, role variable "
                "scanready_account_adopt: true) in the same run; if it is not, leave it to whoever made it", FOREIGN)
        return _Planned(current, plan_changes(current, desired, ""), None, GroupPlan(), None)
    create_dn = container = None
    matches: bool | None = None
    if current is None:
        if desired.create:
            _required_password(desired)
            container = container_for(conn, desired.path)
            _refuse_delegating_container(conn, container, trust)
            create_dn = f"CN={escape_rdn(desired.name)},{container}"
    else:
        warnings.extend(_check_control(current, desired))
        container = parent_dn(current.dn)
        if desired.path and not dn_is_within(current.dn, desired.path):
            warnings.append(f"{desired.name} exists as {current.dn}; it is not moved to {desired.path}")
        adopting = desired.adopt and current.needs_adoption
        if desired.update_password == UPDATE_ALWAYS and desired.password and not adopting:
            matches, warning = check_password(conn, current, desired.name, desired.password, domain,
                                              check_mode=check_mode)
            warnings.extend([warning] if warning else [])
    account_dn = current.dn if current is not None else create_dn
    group = _read_group(conn, desired, trust, account_dn, warnings)
    group_plan = plan_group(group, desired, account_dn, container=container, domain_admins_sid=trust.domain_admins,
                            primary=plan_primary(conn, group, desired))
    plan = plan_changes(current, desired, domain_admins_dn(conn, trust.domain_admins.rsplit("-", 1)[0]),
                        create_dn=create_dn, password_matches=matches, domain_admins_sid=trust.domain_admins,
                        now=now)
    expiry = from_filetime(plan.expires)
    if expiry is not None and expiry <= (now or datetime.now(UTC)):
        warnings.append(f"expires {iso(expiry)} is in the past: {desired.name} cannot log on")
    return _Planned(current, plan, group, group_plan, matches)


def _read_group(conn: Directory, desired: AccountRequest, trust: Trust, account_dn: str | None,
                warnings: list[str]) -> ScannerGroup | None:
    """The scanner group, checked when the account is to be its member; named in messages."""
    local_admins = desired.privilege == LOCAL_ADMINS
    group = find_group(conn, desired.scanner_group, trust, required=local_admins)
    if group is None or group.control is None:
        return group
    group = replace(group, control=with_names(conn, group.control))
    if local_admins and account_dn is not None:
        warnings.extend(check_group(group, desired, account_dn))
    return group


def _check_control(current: Account, desired: AccountRequest) -> list[str]:
    """Refuse an account others control unless adopting; warnings for what adopting would clear or cannot."""
    control = current.control
    if control is not None and control.by_others and not desired.adopt:
        raise DomainError(
            f"{desired.name} already exists as {current.dn} and someone else controls it: "
            f"{'; '.join(control.problems())}. Nothing was changed. If this account is yours, adopt it with "
            "adopt: true (role variable scanready_account_adopt: true): that sets its password in the same run, "
            "clears risky userAccountControl flags, SPNs and delegation, makes Domain Admins its owner and "
            "removes the foreign ACEs", FOREIGN)
    if desired.adopt and current.needs_adoption and not desired.password:
        raise DomainError(f"adopting {desired.name} sets its password in the same run: password is required",
                          CONFIG)
    warnings = []
    spns = current.credentials.get(SPN, ())
    if spns:
        warnings.append(f"{desired.name} ({current.dn}) has servicePrincipalName {', '.join(sorted(spns))}: "
                        "removed, because anyone in the domain can request a ticket for an SPN and crack the "
                        "account's password offline (kerberoasting)")
    others = [name for name in current.credentials if name != SPN]
    if not desired.adopt and (current.risky_flags or others):
        found = current.risky_flags + [f"{name} set" for name in others]
        warnings.append(f"{desired.name} ({current.dn}) has {', '.join(found)}; adopt: true clears them")
    if control is not None and control.inherited and not desired.adopt:
        raise DomainError(
            f"{current.dn} inherits ACEs from its container that let others take it over: "
            f"{'; '.join(control.describe(ace) for ace in control.inherited)}. Nothing was changed: it would be a "
            "Domain Admin whose password they can reset. Adopt it (adopt: true, role variable "
            "scanready_account_adopt: true: its DACL then stops inheriting), or remove that delegation", FOREIGN)
    return warnings


def _refuse_delegating_container(conn: Directory, container: str, trust: Trust) -> None:
    """A container that hands every new user an ACE letting someone else take it over is refused before the
    account is created in it (no adoption helps an account that does not exist yet)."""
    found = conn.search(container, "(objectClass=*)", ["nTSecurityDescriptor"], scope="base",
                        sd_flags=SD_OWNER_GROUP_DACL)
    takeover = takeover_inherited(container, found[0].first("nTSecurityDescriptor") if found else None, trust)
    if takeover:
        control = with_names(conn, Control(None, True, (), takeover, trust.names, trust.domain_sid))
        raise DomainError(
            f"{container} gives every user created in it ACEs that let others take it over: "
            f"{'; '.join(control.describe(ace) for ace in takeover)}. Nothing was created: the scanner account "
            "would be a Domain Admin whose password they can reset. Choose another path (the default Users "
            "container, or an OU only administrators control), or remove that delegation", FOREIGN)


def _set_password(conn: Directory, dn: str, name: str, password: str) -> None:
    try:
        conn.modify(dn, {"unicodePwd": [(MODIFY_REPLACE, [unicode_pwd(password)])]})
    except DomainError as exc:
        if exc.cause == REJECTED:
            raise DomainError(f"the domain refused the password for {name}: {exc.detail}", REJECTED,
                              exc.result_code, exc.detail) from None
        raise


def _required_password(desired: AccountRequest) -> str:
    if not desired.password:
        raise DomainError(f"password is required to create the account {desired.name}", CONFIG)
    return desired.password


def _create(conn: Directory, dn: str, plan: Plan, group_plan: GroupPlan, desired: AccountRequest,
            domain: str) -> None:
    """Create disabled, set the password, then enable and join; on any failure remove it (and a scanner
    group made for it) again."""
    attributes: dict[str, Any] = {
        "sAMAccountName": desired.name,
        "userPrincipalName": f"{desired.name}@{domain}",
        "userAccountControl": str(UF_NORMAL_ACCOUNT | UF_ACCOUNTDISABLE),
    }
    if plan.description:
        attributes["description"] = plan.description
    if plan.expires is not None:
        attributes["accountExpires"] = str(plan.expires)
    conn.add(dn, USER_OBJECT_CLASSES, attributes)
    try:
        _set_password(conn, dn, desired.name, _required_password(desired))
        # Replacing the whole value also drops PASSWD_NOTREQD, which the DC may set on a passwordless account.
        conn.modify(dn, {"userAccountControl": [(MODIFY_REPLACE, [str(plan.uac)])]})
        _memberships(conn, dn, plan, group_plan, desired.scanner_group)
    except DomainError as exc:
        undo_create(conn, dn, exc, f"the half-created account {dn}",
                    "the account was not created (nothing left behind)")


def _update(conn: Directory, current: Account, plan: Plan, group_plan: GroupPlan, desired: AccountRequest) -> None:
    """Owner and ACL first (so nobody else can change the account meanwhile), then the password (the
    policy may refuse it), then attributes and flags, and group memberships last."""
    if plan.security_descriptor is not None:
        conn.modify(current.dn, {"nTSecurityDescriptor": [(MODIFY_REPLACE, [plan.security_descriptor])]},
                    sd_flags=SD_OWNER_DACL)
    if plan.set_password:
        try:
            _set_password(conn, current.dn, desired.name, _required_password(desired))
        except DomainError as exc:
            if plan.security_descriptor is None:
                raise
            raise DomainError(f"{exc.message}; its owner and ACL were already taken over, nothing else changed",
                              exc.cause, exc.result_code, exc.detail) from None
    changes: dict[str, list[tuple[str, list[Any]]]] = {name: [(MODIFY_REPLACE, [])] for name in plan.clear}
    if plan.uac is not None:
        changes["userAccountControl"] = [(MODIFY_REPLACE, [str(plan.uac)])]
    if plan.description is not None:
        changes["description"] = [(MODIFY_REPLACE, [plan.description] if plan.description else [])]
    if plan.expires is not None:
        changes["accountExpires"] = [(MODIFY_REPLACE, [str(plan.expires)])]
    if changes:
        conn.modify(current.dn, changes)
    _memberships(conn, current.dn, plan, group_plan, desired.scanner_group)


def _memberships(conn: Directory, dn: str, plan: Plan, group_plan: GroupPlan, group_name: str) -> None:
    """Into the groups the mode wants before out of the others, so a failure never leaves the account with
    less access than before: the scanner group (created, taken over and pruned first), Domain Admins, then
    leaving. A scanner group created in this run is removed again when a later step fails."""
    created = create_and_join(conn, group_plan, group_name)
    try:
        if plan.join:
            conn.modify(plan.join, {"member": [(MODIFY_ADD, [dn])]})
        if plan.leave:
            conn.modify(plan.leave, {"member": [(MODIFY_DELETE, [dn])]})
        if group_plan.leave and group_plan.dn:
            conn.modify(group_plan.dn, {"member": [(MODIFY_DELETE, [dn])]})
    except DomainError as exc:
        if created and group_plan.dn:
            remove_created(conn, group_plan.dn, exc)
        raise
