# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner group's and account's SIDs, found by name over LDAP, for the GPO's least-privilege entries.

A principal the policy needs (the group with privilege local_admins, the account with deny_interactive_logon)
must exist in a real run; in check mode a missing one is shown with a placeholder, so a check of a fresh domain
(the account stage has not run yet) passes. A principal only needed to remove entries may be missing: then
there is nothing of it to remove.
"""
from __future__ import annotations

from dataclasses import replace

from ansible_collections.scanready.windows.plugins.module_utils._account.directory import (
    find_account,
    trust_for,
    with_names,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.group import find_group, group_problems
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoInputError, GpoStoreError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import ScanPolicy
from ansible_collections.scanready.windows.plugins.module_utils._gpo.privilege import Principal, check_scanner_group
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    DomainConnection,
    escape_filter,
    sid_to_str,
)

SECURITY_ENABLED = 0x80000000  # groupType: a security group (a distribution group grants nothing)


def _sid(ldap: DomainConnection, ldap_filter: str) -> tuple[str, int] | None:
    entries = ldap.search(ldap.base_dn, ldap_filter, ["objectSid", "groupType"])
    if not entries:
        return None
    raw = entries[0].first("objectSid")
    try:
        sid = sid_to_str(bytes(raw) if raw else b"")
    except ValueError:
        raise GpoStoreError(f"cannot read the objectSid of {entries[0].dn}") from None
    group_type = entries[0].first("groupType")
    return sid, int(group_type) & 0xFFFFFFFF if group_type is not None else 0


def _domain_sid(ldap: DomainConnection) -> str:
    entries = ldap.search(ldap.base_dn, "(objectClass=*)", ["objectSid"], scope="base")
    raw = entries[0].first("objectSid") if entries else None
    try:
        return sid_to_str(bytes(raw) if raw else b"")
    except ValueError:
        raise GpoStoreError(f"cannot read the objectSid of {ldap.base_dn}") from None


def scanner_group(ldap: DomainConnection, name: str, account_name: str, needed: bool, check_mode: bool,
                  warnings: list[str]) -> Principal | None:
    """The scanner group (sAMAccountName, objectClass group); GpoStoreError when needed and not usable, or not
    only account_name's."""
    found = _sid(ldap, f"(&(objectClass=group)(sAMAccountName={escape_filter(name)}))")
    if found is None:
        if not needed:
            return None
        if check_mode:
            warnings.append(f"scanner_group {name!r} does not exist yet; its Restricted Groups entry is shown with "
                            "a placeholder SID (the scanner_account role, privilege local_admins, creates it)")
            return Principal(name, None)
        raise GpoStoreError(f"scanner_group {name!r}: no such group in the domain. Nothing was changed; create it "
                            "first: the scanner_account role (privilege local_admins) does")
    sid, group_type = found
    try:
        check_scanner_group(name, sid, _domain_sid(ldap))
        if not group_type & SECURITY_ENABLED:
            raise GpoInputError(f"scanner_group {name!r} is a distribution group; only a security group can be "
                                "a member of BUILTIN\\Administrators")
    except GpoInputError as exc:
        if not needed:
            return None  # never ours to have written: nothing to remove
        raise GpoStoreError(f"{exc.message}. Nothing was changed") from None
    if needed:
        _refuse_foreign_group(ldap, name, account_name)
    return Principal(name, sid)


def _refuse_foreign_group(ldap: DomainConnection, name: str, account_name: str) -> None:
    """The account stage's verdict on the group (_account.group_problems), applied here too: the GPO makes the
    group a local Administrator everywhere, so one someone else controls or fills is never written in."""
    operator = str(ldap.settings.bind_user)
    trust = trust_for(ldap, operator, ldap.settings.domain)
    group = find_group(ldap, name, trust, required=True)
    if group is None or group.control is None:
        return
    account = find_account(ldap, account_name, trust)
    problems = group_problems(replace(group, control=with_names(ldap, group.control)), account_name,
                              account.dn if account is not None else None)
    if problems:
        raise GpoStoreError(
            f"scanner_group {name!r} ({group.dn}) is not only the scanner's: {'; '.join(problems)}. Nothing was "
            "changed: the GPO would make them local Administrators on every host it reaches. Take the group over "
            "with the scanner_account role (scanready_account_adopt: true), or choose another scanner_group")


def scanner_account(ldap: DomainConnection, name: str, needed: bool, check_mode: bool,
                    warnings: list[str]) -> Principal | None:
    """The scanner account (sAMAccountName, a user that is not a computer)."""
    found = _sid(ldap, f"(&(objectClass=user)(!(objectClass=computer))(sAMAccountName={escape_filter(name)}))")
    if found is not None:
        return Principal(name, found[0])
    if not needed:
        return None
    if check_mode:
        warnings.append(f"account {name!r} does not exist yet; its deny-logon rights are shown with a placeholder "
                        "SID (the scanner_account role creates it)")
        return Principal(name, None)
    raise GpoStoreError(f"account_name {name!r}: no such user in the domain, so its logon rights cannot be denied. "
                        "Nothing was changed; create it first: the scanner_account role does")


def resolve(ldap: DomainConnection, policy: ScanPolicy, group_name: str, account_name: str,
            check_mode: bool) -> tuple[ScanPolicy, list[str]]:
    """policy with the scanner's principals filled in, and a warning per placeholder."""
    warnings: list[str] = []
    group = scanner_group(ldap, group_name, account_name, policy.local_admins, check_mode, warnings)
    account = scanner_account(ldap, account_name, policy.deny_interactive_logon, check_mode, warnings)
    return replace(policy, scanner_group=group, scanner_account=account), warnings
