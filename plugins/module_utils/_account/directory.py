# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the domain for the account: the account itself, who is trusted to control it, where to create it,
and whether a password is the one the DC has."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._account.control import (
    ACCOUNT_OPERATORS_SID,
    CLEARED_ATTRIBUTES,
    DOMAIN_ADMINS_RID,
    ENTERPRISE_ADMINS_RID,
    SELF_SID,
    Control,
    Trust,
    judge,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.plan import Account
from ansible_collections.scanready.windows.plugins.module_utils._account.uac import UF_NORMAL_ACCOUNT
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    CONFIG,
    NO_SUCH_OBJECT,
    SD_OWNER_GROUP_DACL,
    BindCheck,
    DomainError,
    Entry,
    escape_filter,
    sid_to_str,
)

USERS_CONTAINER_WKGUID: Final = "a9d1ca15768811d1aded00c04fd8d5cd"
# A bind refused with these codes still proves the password right: the DC checks it before these.
PASSWORD_RIGHT_CODES: Final = frozenset({"530", "531", "533", "701"})
ACCOUNT_ATTRIBUTES: Final = (
    "objectClass", "objectSid", "userAccountControl", "description", "memberOf", "nTSecurityDescriptor",
    "accountExpires", *CLEARED_ATTRIBUTES)


class Directory(Protocol):
    """What ensure_account needs from a bound domain connection (_ldap.DomainConnection)."""

    base_dn: str

    def search(self, base: str, ldap_filter: str, attributes: Sequence[str], *, scope: str = ...,
               sd_flags: int | None = ...) -> list[Entry]: ...

    def add(self, dn: str, object_class: str | Sequence[str], attributes: Mapping[str, Any]) -> None: ...

    def modify(self, dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[Any]]]], *,
               sd_flags: int | None = ...) -> None: ...

    def delete(self, dn: str) -> None: ...

    def try_bind(self, user: str, password: str, *, account: str) -> BindCheck: ...


def account_from_entry(entry: Entry, trust: Trust | None = None) -> Account:
    """The account in entry; with trust, also who controls it (names of unknown SIDs are filled in later)."""
    raw_sid = entry.first("objectSid")
    credentials = {name: tuple(_shown_credential(v) for v in entry.values(name))
                   for name in CLEARED_ATTRIBUTES if entry.values(name)}
    return Account(
        dn=entry.dn,
        sid=sid_to_str(raw_sid) if raw_sid else None,
        uac=int(entry.first("userAccountControl") or UF_NORMAL_ACCOUNT),
        description=entry.first("description"),
        groups=tuple(str(g) for g in entry.values("memberOf")),
        control=judge(entry.dn, entry.first("nTSecurityDescriptor"), trust) if trust else None,
        credentials=credentials,
        expires=_filetime(entry.first("accountExpires")),
    )


def _filetime(value: Any) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _shown_credential(value: Any) -> str:
    # msDS-KeyCredentialLink is DN-with-binary; shown by its size, never its key material.
    return value if isinstance(value, str) else f"({len(value)} bytes)"


def find_account(conn: Directory, name: str, trust: Trust | None = None) -> Account | None:
    """The user whose sAMAccountName is name; an error when a group or computer holds the name.

    With trust, the account's control is judged and the SIDs it names are looked up for messages.
    """
    entries = conn.search(conn.base_dn, f"(sAMAccountName={escape_filter(name)})", ACCOUNT_ATTRIBUTES,
                          sd_flags=SD_OWNER_GROUP_DACL)
    if not entries:
        return None
    entry = entries[0]
    classes = {str(c).lower() for c in entry.values("objectClass")}
    if "user" not in classes or "computer" in classes:
        kind = "computer" if "computer" in classes else "group" if "group" in classes else "non-user object"
        raise DomainError(f"name {name!r} is already taken by a {kind}: {entry.dn}", CONFIG)
    account = account_from_entry(entry, trust)
    if account.control is None:
        return account
    return replace(account, control=with_names(conn, account.control))


def with_names(conn: Directory, control: Control) -> Control:
    """control with the owner and offending trustees named (their DNs), for messages."""
    unknown = {ace.sid for ace in (*control.foreign, *control.inherited)} | {control.owner or ""}
    return replace(control, names=dict(control.names) | _names_of(
        conn, unknown - set(control.names) - set(_acl.WELL_KNOWN) - {""}))


def _names_of(conn: Directory, sids: set[str]) -> dict[str, str]:
    """DNs of the objects with these SIDs, for messages; a SID that names nothing stays a SID."""
    names = {}
    for sid in sorted(sids):
        try:
            found = conn.search(f"<SID={sid}>", "(objectClass=*)", ["objectSid"], scope="base")
        except DomainError:
            continue
        if found:
            names[sid] = found[0].dn
    return names


def _object_sid(conn: Directory, dn: str) -> str:
    found = conn.search(dn, "(objectClass=*)", ["objectSid"], scope="base")
    if not found or not found[0].first("objectSid"):
        raise DomainError(f"cannot read the SID of {dn}")
    return sid_to_str(found[0].first("objectSid"))


def domain_admins_dn(conn: Directory, domain_sid: str | None = None) -> str:
    """Domain Admins by its well-known RID, so a renamed or localised group is still found."""
    sid = f"{domain_sid or _object_sid(conn, conn.base_dn)}-{DOMAIN_ADMINS_RID}"
    group = conn.search(f"<SID={sid}>", "(objectClass=group)", ["objectSid"], scope="base")
    if not group:
        raise DomainError(f"Domain Admins ({sid}) not found in {conn.base_dn}", NO_SUCH_OBJECT)
    return group[0].dn


def operator_sid(conn: Directory, operator: str, domain: str) -> str | None:
    """The SID of the account the operator bound as (DOMAIN\\user or a UPN, implicit UPNs included)."""
    if "\\" in operator:
        user = operator.split("\\", 1)[1]
        filters = [f"(sAMAccountName={escape_filter(user)})"]
    else:
        user, _at, suffix = operator.partition("@")
        filters = [f"(userPrincipalName={escape_filter(operator)})"]
        if suffix.lower() == domain.lower():
            filters.append(f"(sAMAccountName={escape_filter(user)})")
    for ldap_filter in filters:
        found = conn.search(conn.base_dn, ldap_filter, ["objectSid"])
        if found and found[0].first("objectSid"):
            return sid_to_str(found[0].first("objectSid"))
    return None


def trust_for(conn: Directory, operator: str, domain: str) -> Trust:
    """The principals that may own and control the scanner account in this domain."""
    domain_sid = _object_sid(conn, conn.base_dn)
    root = conn.search("", "(objectClass=*)", ["rootDomainNamingContext"], scope="base")
    root_dn = root[0].first("rootDomainNamingContext") if root else None
    root_sid = _object_sid(conn, str(root_dn)) if root_dn and str(root_dn).lower() != conn.base_dn.lower() \
        else domain_sid
    operator_id = operator_sid(conn, operator, domain)
    owners = _acl.privileged_sids(domain_sid, root_sid, operator_id)
    names = {sid: _acl.sid_name(sid, domain_sid) for sid in owners} | {
        f"{root_sid}-{ENTERPRISE_ADMINS_RID}": "Enterprise Admins", ACCOUNT_OPERATORS_SID: "Account Operators"}
    if operator_id:
        names[operator_id] = f"the operator {operator}"
    return Trust(
        domain_sid=domain_sid,
        domain_admins=f"{domain_sid}-{DOMAIN_ADMINS_RID}",
        owners=frozenset(owners),
        trustees=frozenset(owners | {ACCOUNT_OPERATORS_SID, SELF_SID}),
        names=names,
        operator=operator,
    )


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


def bind_verdict(account: Account, check: BindCheck) -> tuple[bool | None, str | None]:
    """Whether the DC's answer to a bind as account with a password (conn.try_bind: one logon, made through the
    lockout guard by _account.password) proves that password right, and a warning when it cannot tell."""
    if check.accepted or check.code in PASSWORD_RIGHT_CODES:
        return True, None
    if check.code in ("52e", "525", "532", "773"):
        return False, None
    return None, (f"could not verify the current password of {account.dn} ({check.reason}); "
                  "it is set again")
