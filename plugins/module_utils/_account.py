# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner's domain account: name rules, userAccountControl arithmetic, planning and applying changes.

The pure part (name_problem, uac_for, plan_changes, build_diff, ...) needs no domain; ensure_account
reads the account through a Directory (the bound _ldap.DomainConnection), plans, and applies.

An existing account is only taken over when nobody else controls it (its owner and explicit ACEs name
privileged principals or the operator only), or when the operator says adopt: a name anyone may pre-create
must not become a Domain Admin with a password, flags or rights its creator chose.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    CONFIG,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NO_SUCH_OBJECT,
    REJECTED,
    SD_OWNER_DACL,
    SD_OWNER_GROUP_DACL,
    BindCheck,
    DomainError,
    Entry,
    escape_filter,
    escape_rdn,
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
ENTERPRISE_ADMINS_RID: Final = 519
CERT_PUBLISHERS_RID: Final = 517
ACCOUNT_OPERATORS_SID: Final = "S-1-5-32-548"  # full control over every user by AD's own default
SELF_SID: Final = "S-1-5-10"
TS_LICENSE_SERVERS_SID: Final = "S-1-5-32-561"
# userAccountControl flags that weaken or delegate the account's credentials; adopting clears them.
RISKY_FLAGS: Final[dict[str, int]] = {
    "PASSWD_NOTREQD": 0x20,
    "ENCRYPTED_TEXT_PWD_ALLOWED": 0x80,
    "TRUSTED_FOR_DELEGATION": 0x80000,
    "USE_DES_KEY_ONLY": 0x200000,
    "DONT_REQ_PREAUTH": 0x400000,
    "TRUSTED_TO_AUTH_FOR_DELEGATION": 0x1000000,
}
# Attributes that let someone else log on as, or act as, the account without its password; adopting empties them.
CLEARED_ATTRIBUTES: Final = ("servicePrincipalName", "msDS-AllowedToDelegateTo", "altSecurityIdentities",
                             "msDS-KeyCredentialLink")
FOREIGN: Final = "foreign"  # DomainError cause: the account is controlled by someone else
# A bind refused with these codes still proves the password right: the DC checks it before these.
PASSWORD_RIGHT_CODES: Final = frozenset({"530", "531", "533", "701"})
USER_OBJECT_CLASSES: Final = ("top", "person", "organizationalPerson", "user")
ACCOUNT_ATTRIBUTES: Final = (
    "objectClass", "objectSid", "userAccountControl", "description", "memberOf", "nTSecurityDescriptor",
    *CLEARED_ATTRIBUTES)
RESET_PASSWORD_RIGHT: Final = "00299570-246d-11d0-a768-00aa006e0529"  # noqa: S105 - an extended right's GUID
# AD's default user ACL lets these write a few harmless properties of every user: (trustee RID or SID, property).
DEFAULT_USER_WRITERS: Final = ((CERT_PUBLISHERS_RID, "bf967a7f-0de6-11d0-a285-00aa003049e2"),  # userCertificate
                               (TS_LICENSE_SERVERS_SID, "6db69a1c-9422-11d1-aebd-0000f80367c1"),
                               (TS_LICENSE_SERVERS_SID, "5805bc62-bdc9-4428-a5e2-856a0f4c185e"))


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
    adopt: bool = False  # take over an existing account someone else controls, or that has risky settings


@dataclass(frozen=True)
class Trust:
    """Who may own and control the scanner account, and the ACEs AD itself puts on every user."""

    domain_sid: str
    domain_admins: str  # SID
    owners: frozenset[str]  # Domain Admins, Enterprise Admins, Administrators, SYSTEM, the operator
    trustees: frozenset[str]  # owners, Account Operators and SELF
    names: Mapping[str, str]  # SID -> name, for messages
    operator: str


@dataclass(frozen=True)
class Control:
    """Who controls the account besides the trusted principals: its owner and ACEs, read from the DC."""

    owner: str | None  # SID; None when the descriptor could not be read
    owner_trusted: bool
    foreign: tuple[_acl.Ace, ...]  # explicit ACEs giving an untrusted principal control (_acl.offending_aces)
    inherited: tuple[_acl.Ace, ...]  # the same, inherited from a container
    names: Mapping[str, str]  # SID -> name or DN
    domain_sid: str = ""
    descriptor: _acl.SecurityDescriptor | None = field(default=None, repr=False)

    @property
    def no_dacl(self) -> bool:
        return self.descriptor is not None and not self.descriptor.control & _acl.SE_DACL_PRESENT

    @property
    def by_others(self) -> bool:
        return not self.owner_trusted or bool(self.foreign) or self.descriptor is None or self.no_dacl

    def owner_name(self) -> str | None:
        if self.owner is None:
            return None
        name = self.names.get(self.owner)
        return f"{name} ({self.owner})" if name else self.owner

    def describe(self, ace: _acl.Ace) -> str:
        name = self.names.get(ace.sid)
        return ace.describe(self.domain_sid) + (f" = {name}" if name and name != ace.sid else "")

    def problems(self) -> list[str]:
        """What makes the account someone else's, in words."""
        if self.descriptor is None:
            return ["its owner and ACL cannot be read (the operator lacks read-permissions rights)"]
        found = []
        if not self.owner_trusted:
            found.append(f"owner {self.owner_name()} is not Domain Admins, Enterprise Admins, Administrators, "
                         "SYSTEM or the operator")
        if self.no_dacl:
            found.append("it has no DACL, so everyone has full control")
        if self.foreign:
            found.append("explicit ACEs: " + "; ".join(self.describe(ace) for ace in self.foreign))
        return found


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
    clear: tuple[str, ...] = ()  # CLEARED_ATTRIBUTES to empty, when adopting
    adopting: bool = False

    @property
    def changed(self) -> bool:
        return self != Plan()


def plan_changes(current: Account | None, desired: Desired, domain_admins: str, *,
                 create_dn: str | None = None, password_matches: bool | None = None,
                 domain_admins_sid: str | None = None) -> Plan:
    """What to do to get from current to desired (the state is present or disabled, or absent).

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
                    join=domain_admins if desired.privilege == "domain_admins" else None)
    uac = uac_for(current.uac, enabled=enabled, password_never_expires=desired.password_never_expires)
    adopting = desired.adopt and current.needs_adoption
    if adopting:
        uac &= ~sum(RISKY_FLAGS.values())
    description = desired.description
    if description is not None and description == (current.description or ""):
        description = None
    wants_admin = desired.privilege == "domain_admins"
    return Plan(
        uac=uac if uac != current.uac else None,
        description=description,
        join=domain_admins if wants_admin and not current.in_group(domain_admins) else None,
        leave=domain_admins if not wants_admin and current.in_group(domain_admins) else None,
        set_password=adopting or (desired.update_password == UPDATE_ALWAYS and desired.password is not None
                                  and password_matches is not True),
        security_descriptor=_adopted_descriptor(current.control, domain_admins_sid) if adopting else None,
        clear=tuple(current.credentials) if adopting else (),
        adopting=adopting,
    )


def _adopted_descriptor(control: Control | None, domain_admins_sid: str | None) -> bytes | None:
    """The descriptor with Domain Admins as owner (when the owner is untrusted) and no foreign ACEs; when
    foreign ACEs are inherited, the DACL stops inheriting (as Windows' SDProp does to Domain Admins members)
    and the other inherited ACEs stay as explicit ones."""
    if control is None or not (control.by_others or control.inherited):
        return None
    if control.descriptor is None or control.no_dacl:
        raise DomainError("cannot adopt an account whose owner and DACL cannot be read or that has no DACL", FOREIGN)
    if domain_admins_sid is None:
        raise ValueError("domain_admins_sid is needed to adopt an account others control")
    descriptor = control.descriptor
    dropped = {ace.raw for ace in (*control.foreign, *control.inherited)}
    protect = bool(control.inherited)
    kept = tuple(_acl.parse_ace(ace.raw[:1] + bytes([ace.flags & ~_acl.INHERITED]) + ace.raw[2:]) if protect
                 else ace for ace in descriptor.dacl if ace.raw not in dropped)
    return replace(descriptor, owner=descriptor.owner if control.owner_trusted else domain_admins_sid, dacl=kept,
                   control=descriptor.control | (_acl.SE_DACL_PROTECTED if protect else 0)).render()


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


def account_from_entry(entry: Entry, trust: Trust | None = None) -> Account:
    """The account in entry; with trust, also who controls it (names of unknown SIDs are filled in later)."""
    raw_sid = entry.first("objectSid")
    credentials = {name: tuple(_text(v) for v in entry.values(name))
                   for name in CLEARED_ATTRIBUTES if entry.values(name)}
    return Account(
        dn=entry.dn,
        sid=sid_to_str(raw_sid) if raw_sid else None,
        uac=int(entry.first("userAccountControl") or UF_NORMAL_ACCOUNT),
        description=entry.first("description"),
        groups=tuple(str(g) for g in entry.values("memberOf")),
        control=judge(entry.dn, entry.first("nTSecurityDescriptor"), trust) if trust else None,
        credentials=credentials,
    )


def _text(value: Any) -> str:
    # msDS-KeyCredentialLink is DN-with-binary; shown by its size, never its key material.
    return value if isinstance(value, str) else f"({len(value)} bytes)"


def judge(dn: str, raw: bytes | None, trust: Trust) -> Control:
    """Who controls the object whose nTSecurityDescriptor is raw, measured against trust."""
    if not raw:
        return Control(None, False, (), (), trust.names, trust.domain_sid)
    try:
        descriptor = _acl.parse_sd(bytes(raw))
    except _acl.AclFormatError as exc:
        raise DomainError(f"the nTSecurityDescriptor of {dn} is unusable: {exc}; nothing was changed",
                          FOREIGN) from None
    expected = {(f"{trust.domain_sid}-{who}" if isinstance(who, int) else who, prop)
                for who, prop in DEFAULT_USER_WRITERS}
    # The inherited ACEs go through the same rule as if explicit, so both are judged alike.
    inherited = [ace for ace in descriptor.dacl if ace.inherited]
    as_explicit = replace(descriptor, dacl=tuple(
        _acl.parse_ace(ace.raw[:1] + bytes([ace.flags & ~_acl.INHERITED]) + ace.raw[2:]) for ace in inherited))
    offending_inherited = {ace.raw[2:] for ace in _offending(as_explicit, trust, expected)}
    return Control(
        owner=descriptor.owner,
        owner_trusted=descriptor.owner in trust.owners,
        foreign=tuple(_offending(descriptor, trust, expected)),
        inherited=tuple(ace for ace in inherited if ace.raw[2:] in offending_inherited),
        names=trust.names,
        domain_sid=trust.domain_sid,
        descriptor=descriptor,
    )


def _offending(descriptor: _acl.SecurityDescriptor, trust: Trust, expected: set[tuple[str, str]]) -> list[_acl.Ace]:
    found = _acl.offending_aces(descriptor, trust.owners, _acl.DS_DANGEROUS_MASK, extra_ok_trustees=trust.trustees,
                                dangerous_rights={RESET_PASSWORD_RIGHT})
    return [ace for ace in found if (ace.sid, ace.object_type) not in expected]


class Directory(Protocol):
    """What ensure_account needs from a bound domain connection (_ldap.DomainConnection)."""

    base_dn: str

    def search(self, base: str, ldap_filter: str, attributes: Sequence[str], *, scope: str = ...,
               sd_flags: int | None = ...) -> list[Entry]: ...

    def add(self, dn: str, object_class: str | Sequence[str], attributes: Mapping[str, Any]) -> None: ...

    def modify(self, dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[Any]]]], *,
               sd_flags: int | None = ...) -> None: ...

    def delete(self, dn: str) -> None: ...

    def try_bind(self, user: str, password: str) -> BindCheck: ...


@dataclass
class Outcome:
    changed: bool
    created: bool
    account: Account | None
    diff: dict[str, Any]
    warnings: list[str]
    password_known: bool = False  # the DC has the password: set in this run, or accepted by the bind check


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
    control = account.control
    unknown = {ace.sid for ace in (*control.foreign, *control.inherited)} | {control.owner or ""}
    names = dict(control.names) | _names_of(conn, unknown - set(control.names) - set(_acl.WELL_KNOWN) - {""})
    return replace(account, control=replace(control, names=names))


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


def password_matches(conn: Directory, account: Account, password: str) -> tuple[bool | None, str | None]:
    """Whether the DC accepts password for account (one bind), and a warning when it cannot tell."""
    check = conn.try_bind(account.dn, password)
    if check.accepted or check.code in PASSWORD_RIGHT_CODES:
        return True, None
    if check.code in ("52e", "525", "532", "773"):
        return False, None
    return None, (f"could not verify the current password of {account.dn} ({check.reason}); "
                  "it is set again")


def ensure_account(conn: Directory, desired: Desired, *, domain: str, check_mode: bool,
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
            if desired.path and not current.dn.lower().endswith("," + desired.path.lower()):
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


def _check_control(current: Account, desired: Desired) -> list[str]:
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
