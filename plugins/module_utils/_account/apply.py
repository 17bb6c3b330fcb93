# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ensure_account: read the account, plan, and apply the plan in the order that leaves nothing half-done."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._account.control import FOREIGN
from ansible_collections.scanready.windows.plugins.module_utils._account.directory import (
    Directory,
    container_for,
    domain_admins_dn,
    find_account,
    password_matches,
    trust_for,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.plan import (
    Account,
    Plan,
    build_diff,
    plan_changes,
    predict,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.request import UPDATE_ALWAYS, AccountRequest
from ansible_collections.scanready.windows.plugins.module_utils._account.uac import UF_ACCOUNTDISABLE, UF_NORMAL_ACCOUNT
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    CONFIG,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    REJECTED,
    SD_OWNER_DACL,
    DomainError,
    dn_is_within,
    escape_rdn,
)

USER_OBJECT_CLASSES: Final = ("top", "person", "organizationalPerson", "user")


@dataclass
class Outcome:
    changed: bool
    created: bool
    account: Account | None
    diff: dict[str, Any]
    warnings: list[str]
    password_known: bool = False  # the DC has the password: set in this run, or accepted by the bind check


def unicode_pwd(password: str) -> bytes:
    """The unicodePwd value AD takes for a password reset: the quoted password in UTF-16LE."""
    return f'"{password}"'.encode("utf-16-le")


def ensure_account(conn: Directory, desired: AccountRequest, *, domain: str, check_mode: bool,
                   operator: str = "") -> Outcome:
    """Bring the account to desired; in check mode only report what would change.

    An existing account someone else controls is refused (DomainError, cause FOREIGN) unless desired.adopt.
    """
    trust = trust_for(conn, operator, domain)
    current = find_account(conn, desired.name, trust)
    warnings: list[str] = []
    matches: bool | None = None
    if desired.state == "absent":
        plan = plan_changes(current, desired, "")
    else:
        create_dn = None
        if current is None:
            if desired.create:
                _required_password(desired)
                create_dn = f"CN={escape_rdn(desired.name)},{container_for(conn, desired.path)}"
        else:
            warnings.extend(_check_control(current, desired))
            if desired.path and not dn_is_within(current.dn, desired.path):
                warnings.append(f"{desired.name} exists as {current.dn}; it is not moved to {desired.path}")
            adopting = desired.adopt and current.needs_adoption
            if desired.update_password == UPDATE_ALWAYS and desired.password and not adopting:
                matches, warning = password_matches(conn, current, desired.password)
                warnings.extend([warning] if warning else [])
        plan = plan_changes(current, desired, domain_admins_dn(conn, trust.domain_admins.rsplit("-", 1)[0]),
                            create_dn=create_dn, password_matches=matches, domain_admins_sid=trust.domain_admins)
    after = predict(current, plan)
    diff = build_diff(current, after, password_changes=plan.set_password and current is not None)
    if check_mode or not plan.changed:
        return Outcome(plan.changed, plan.create_dn is not None, after, diff, warnings,
                       password_known=matches is True and not check_mode)
    if plan.delete and current is not None:
        conn.delete(current.dn)
        return Outcome(True, False, None, diff, warnings)
    if plan.create_dn is not None:
        _create(conn, plan.create_dn, plan, desired, domain)
    elif current is not None:
        _update(conn, current, plan, desired)
    return Outcome(True, plan.create_dn is not None, find_account(conn, desired.name, trust), diff, warnings,
                   password_known=plan.set_password or matches is True)


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
    if not desired.adopt and (current.risky_flags or current.credentials):
        found = current.risky_flags + [f"{name} set" for name in current.credentials]
        warnings.append(f"{desired.name} ({current.dn}) has {', '.join(found)}; adopt: true clears them")
    if control is not None and control.inherited:
        warnings.append(f"{current.dn} inherits ACEs from its container that let others take it over: "
                        f"{'; '.join(control.describe(ace) for ace in control.inherited)}; "
                        "adopt: true stops the account inheriting them; or remove that delegation")
    return warnings


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


def _create(conn: Directory, dn: str, plan: Plan, desired: AccountRequest, domain: str) -> None:
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


def _update(conn: Directory, current: Account, plan: Plan, desired: AccountRequest) -> None:
    """Owner and ACL first (so nobody else can change the account meanwhile), then the password (the
    policy may refuse it), then attributes and flags, and Domain Admins membership last."""
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
    if changes:
        conn.modify(current.dn, changes)
    if plan.leave:
        conn.modify(plan.leave, {"member": [(MODIFY_DELETE, [current.dn])]})
    if plan.join:
        conn.modify(plan.join, {"member": [(MODIFY_ADD, [current.dn])]})
