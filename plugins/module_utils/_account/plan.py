# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure part: from the account as it is and the request, the plan as plain data, the predicted
account and the diff. Nothing here talks to the domain."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._account.control import Control, adopted_descriptor
from ansible_collections.scanready.windows.plugins.module_utils._account.expires import from_filetime, iso
from ansible_collections.scanready.windows.plugins.module_utils._account.request import (
    UPDATE_ALWAYS,
    AccountRequest,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.uac import (
    RISKY_FLAGS,
    UF_ACCOUNTDISABLE,
    UF_DONT_EXPIRE_PASSWD,
    UF_NORMAL_ACCOUNT,
    UF_NOT_DELEGATED,
    uac_for,
)
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DOMAIN_ADMINS

SPN: Final = "servicePrincipalName"  # removed on every run: an SPN on a privileged account can be kerberoasted


@dataclass(frozen=True)
class Account:
    """The account as the DC has it (or, in check mode, as it would have it)."""

    dn: str
    sid: str | None
    uac: int
    description: str | None
    groups: tuple[str, ...]
    control: Control | None = None  # None for an account not created yet
    credentials: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # CLEARED_ATTRIBUTES that are set
    expires: int | None = None  # accountExpires (FILETIME) as read; None when the DC has none

    @property
    def risky_flags(self) -> list[str]:
        return [name for name, bit in RISKY_FLAGS.items() if self.uac & bit]

    @property
    def needs_adoption(self) -> bool:
        """Whether adopting would change anything: someone else's control, risky flags or other credentials."""
        control = self.control
        return bool((control is not None and (control.by_others or control.inherited)) or self.risky_flags
                    or self.credentials)

    @property
    def enabled(self) -> bool:
        return not self.uac & UF_ACCOUNTDISABLE

    @property
    def password_never_expires(self) -> bool:
        return bool(self.uac & UF_DONT_EXPIRE_PASSWD)

    @property
    def not_delegated(self) -> bool:
        return bool(self.uac & UF_NOT_DELEGATED)

    @property
    def expires_at(self) -> datetime | None:
        return from_filetime(self.expires)

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
    security_descriptor: bytes | None = field(default=None, repr=False)  # the new owner and DACL, when adopting
    clear: tuple[str, ...] = ()  # CLEARED_ATTRIBUTES to empty: SPNs always, the others when adopting
    expires: int | None = None  # the new accountExpires (FILETIME), when it changes
    adopting: bool = False

    @property
    def changed(self) -> bool:
        return self != Plan()


def plan_changes(current: Account | None, desired: AccountRequest, domain_admins: str, *,
                 create_dn: str | None = None, password_matches: bool | None = None,
                 domain_admins_sid: str | None = None, now: datetime | None = None) -> Plan:
    """What to do to get from current to desired (the state is present or disabled, or absent).

    Every run sets NOT_DELEGATED, removes SPNs and sets accountExpires when asked (durations count from now).
    Adopting an account that needs it sets its password, clears RISKY_FLAGS and CLEARED_ATTRIBUTES, and,
    when others control it, makes domain_admins_sid its owner and drops the foreign explicit ACEs.
    """
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
                    join=domain_admins if desired.privilege == DOMAIN_ADMINS else None,
                    expires=_new_expiry(None, desired, now))
    uac = uac_for(current.uac, enabled=enabled, password_never_expires=desired.password_never_expires)
    adopting = desired.adopt and current.needs_adoption
    if adopting:
        uac &= ~sum(RISKY_FLAGS.values())
    description = desired.description
    if description is not None and description == (current.description or ""):
        description = None
    wants_admin = desired.privilege == DOMAIN_ADMINS
    return Plan(
        uac=uac if uac != current.uac else None,
        description=description,
        join=domain_admins if wants_admin and not current.in_group(domain_admins) else None,
        leave=domain_admins if not wants_admin and current.in_group(domain_admins) else None,
        set_password=adopting or (desired.update_password == UPDATE_ALWAYS and desired.password is not None
                                  and password_matches is not True),
        security_descriptor=adopted_descriptor(current.control, domain_admins_sid) if adopting else None,
        clear=tuple(current.credentials) if adopting else tuple(k for k in current.credentials if k == SPN),
        adopting=adopting,
        expires=_new_expiry(current, desired, now),
    )


def _new_expiry(current: Account | None, desired: AccountRequest, now: datetime | None) -> int | None:
    """The accountExpires to write, or None when it stays (or is not managed)."""
    if desired.expires is None:
        return None
    wanted = desired.expires.filetime(now or datetime.now(UTC))
    have = current.expires if current is not None else None
    if from_filetime(wanted) is None and from_filetime(have) is None:
        return None  # never either way (0, 0x7FFFFFFFFFFFFFFF or unset)
    return wanted if wanted != have else None


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
    control = base.control
    if plan.security_descriptor is not None and control is not None:
        descriptor = _acl.parse_sd(plan.security_descriptor)
        control = replace(control, owner=descriptor.owner, owner_trusted=True, foreign=(), inherited=(),
                          descriptor=descriptor)
    credentials = {k: v for k, v in base.credentials.items() if k not in plan.clear}
    return replace(base, uac=plan.uac if plan.uac is not None else base.uac,
                   expires=plan.expires if plan.expires is not None else base.expires,
                   description=base.description if plan.description is None else plan.description or None,
                   groups=tuple(groups), control=control, credentials=credentials)


def account_view(account: Account | None) -> dict[str, Any]:
    """The account as shown in a diff."""
    if account is None:
        return {"state": "absent"}
    return {
        "state": "present" if account.enabled else "disabled",
        "dn": account.dn,
        "enabled": account.enabled,
        "password_never_expires": account.password_never_expires,
        "not_delegated": account.not_delegated,
        "expires": iso(account.expires_at),
        "description": account.description,
        "groups": sorted(account.groups, key=str.lower),
        **control_view(account),
    }


def control_view(account: Account | None) -> dict[str, Any]:
    """Who controls the account and what lets others in: returned by every run, and part of the diff."""
    if account is None:
        return {}
    control = account.control
    return {
        "owner": control.owner_name() if control else None,
        "controlled_by_others": control.by_others if control else False,
        "foreign_aces": [control.describe(ace) for ace in control.foreign] if control else [],
        "inherited_foreign_aces": [control.describe(ace) for ace in control.inherited] if control else [],
        "risky_flags": account.risky_flags,
        "service_principal_names": sorted(account.credentials.get("servicePrincipalName", ())),
        "allowed_to_delegate_to": sorted(account.credentials.get("msDS-AllowedToDelegateTo", ())),
        "alternate_credentials": sorted(k for k in account.credentials
                                        if k in ("altSecurityIdentities", "msDS-KeyCredentialLink")),
    }


def build_diff(before: Account | None, after: Account | None, *, password_changes: bool) -> dict[str, Any]:
    """Ansible's before/after; a password change is named, the password never shown."""
    before_view, after_view = account_view(before), account_view(after)
    if password_changes and before is not None and after is not None:
        before_view["password"] = "(current, not shown)"  # noqa: S105 - a placeholder, never the password
        after_view["password"] = "(changed, not shown)"  # noqa: S105
    return {"before": before_view, "after": after_view}
