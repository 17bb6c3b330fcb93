# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner group (privilege local_admins): a domain global security group whose only member is the scanner
account, and which the scan policy GPO adds to every linked host's BUILTIN\\Administrators.

Whoever can add a member to it is a local Administrator everywhere the policy reaches, so an existing group of
that name is judged by the same trust rule as the account (its owner, and explicit ACEs that let others write
it, its member attribute included, or add themselves), and one with other members is refused too; adopting
takes it over and removes them. Members by primary group (primaryGroupID the group's RID, not in its member
attribute) are removed by giving them back the domain's default primary group: Domain Users for a user, Domain
Computers for a computer; a domain controller's, or an object's of another kind, is refused. In the other
privilege modes the account only leaves the group.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._account.control import (
    FOREIGN,
    Control,
    Trust,
    adopted_descriptor,
    judge,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.plan import Account
from ansible_collections.scanready.windows.plugins.module_utils._account.request import AccountRequest
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    CONFIG,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    SD_OWNER_DACL,
    SD_OWNER_GROUP_DACL,
    DomainError,
    escape_filter,
    escape_rdn,
    sid_to_str,
)
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import LOCAL_ADMINS

GLOBAL_SECURITY: Final = -2147483646  # GROUP_TYPE_ACCOUNT_GROUP | GROUP_TYPE_SECURITY_ENABLED, as AD returns it
GROUP_OBJECT_CLASSES: Final = ("top", "group")
GROUP_ATTRIBUTES: Final = ("objectClass", "objectSid", "groupType", "member", "nTSecurityDescriptor")
PRIMARY_ATTRIBUTES: Final = ("objectClass", "userAccountControl", "memberOf")
DOMAIN_USERS_RID: Final = 513
DOMAIN_COMPUTERS_RID: Final = 515
UF_INTERDOMAIN_TRUST_ACCOUNT: Final = 0x0800
UF_SERVER_TRUST_ACCOUNT: Final = 0x2000  # a domain controller
UF_PARTIAL_SECRETS_ACCOUNT: Final = 0x04000000  # a read-only domain controller
GROUP_DESCRIPTION: Final = ("Vulnerability scanner accounts: local Administrators on the hosts the scan policy "
                            "GPO reaches (scanready)")
_KINDS: Final = {2: "global", 4: "domain local", 8: "universal"}


@dataclass(frozen=True)
class PrimaryMember:
    """An object whose primaryGroupID is the scanner group's RID: a member its member attribute does not list."""

    dn: str
    classes: tuple[str, ...] = ()  # objectClass, lower case
    uac: int = 0  # userAccountControl
    member_of: tuple[str, ...] = ()  # the groups whose member attribute lists it


@dataclass(frozen=True)
class PrimarySwitch:
    """Give dn back the domain's default primary group: first into that group's member (Windows and Samba take
    only a group the object is already a member of), then primaryGroupID."""

    dn: str
    rid: int  # DOMAIN_USERS_RID or DOMAIN_COMPUTERS_RID
    group_dn: str  # the group of that RID
    join: bool  # not yet in group_dn's member


@dataclass(frozen=True)
class ScannerGroup:
    dn: str
    sid: str | None  # None: not created yet (check mode)
    group_type: int
    members: tuple[str, ...]
    control: Control | None = None
    primary: tuple[PrimaryMember, ...] = ()  # objects whose primaryGroupID is the group

    def has(self, dn: str | None) -> bool:
        return dn is not None and any(m.lower() == dn.lower() for m in self.members)

    @property
    def primary_members(self) -> tuple[str, ...]:
        """DNs of the members by primary group."""
        return tuple(found.dn for found in self.primary)

    @property
    def kind(self) -> str:
        scope = _KINDS.get(self.group_type & 0xE, "builtin" if self.group_type & 1 else "unknown")
        return f"{scope} {'security' if self.group_type & 0x80000000 else 'distribution'}"


@dataclass(frozen=True)
class GroupPlan:
    dn: str | None = None  # the group's DN (to be created, when create)
    create: bool = False
    security_descriptor: bytes | None = field(default=None, repr=False)  # owner and DACL, when adopting
    remove: tuple[str, ...] = ()  # other members, when adopting
    join: str | None = None  # the account's DN, to add
    leave: str | None = None  # the account's DN, to take out
    primary: tuple[PrimarySwitch, ...] = ()  # members by primary group given back their default, when adopting

    @property
    def changed(self) -> bool:
        return bool(self.create or self.security_descriptor is not None or self.remove or self.join or self.leave
                    or self.primary)


def find_group(conn: Any, name: str, trust: Trust, *, required: bool) -> ScannerGroup | None:
    """The group whose sAMAccountName is name, judged against trust. Another kind of object holding the name
    is an error when required (local_admins), else ignored."""
    entries = conn.search(conn.base_dn, f"(sAMAccountName={escape_filter(name)})", GROUP_ATTRIBUTES,
                          sd_flags=SD_OWNER_GROUP_DACL)
    if not entries:
        return None
    entry = entries[0]
    classes = {str(c).lower() for c in entry.values("objectClass")}
    if "group" not in classes:
        if not required:
            return None
        kind = "computer" if "computer" in classes else "user" if "user" in classes else "non-group object"
        raise DomainError(f"scanner_group {name!r} is already taken by a {kind}: {entry.dn}; choose another "
                          "scanner_group", CONFIG)
    raw_sid = entry.first("objectSid")
    sid = sid_to_str(raw_sid) if raw_sid else None
    primary = (conn.search(conn.base_dn, f"(primaryGroupID={sid.rsplit('-', 1)[1]})", PRIMARY_ATTRIBUTES)
               if sid else [])
    return ScannerGroup(dn=entry.dn, sid=sid, group_type=int(str(entry.first("groupType") or 0)),
                        members=tuple(str(m) for m in entry.values("member")),
                        control=judge(entry.dn, entry.first("nTSecurityDescriptor"), trust),
                        primary=tuple(_primary_member(found) for found in primary))


def _primary_member(entry: Any) -> PrimaryMember:
    return PrimaryMember(entry.dn, tuple(str(c).lower() for c in entry.values("objectClass")),
                         int(str(entry.first("userAccountControl") or 0)),
                         tuple(str(g) for g in entry.values("memberOf")))


def group_problems(group: ScannerGroup, account_name: str, account_dn: str | None) -> list[str]:
    """What makes the scanner group someone else's (its control, members besides the account, members by
    primary group): the one verdict the account stage and the scan policy GPO apply before it becomes a local
    Administrator everywhere."""
    control = group.control
    problems = control.problems() if control is not None and control.by_others else []
    others = other_members(group, account_dn)
    if others:
        problems.append(f"members other than {account_name}: {'; '.join(others)} (they would become local "
                        "Administrators on every host the scan policy reaches)")
    if group.primary_members:
        problems.append(f"members by primary group (primaryGroupID): {'; '.join(group.primary_members)} (members "
                        "too, though its member attribute does not list them)")
    return problems


def check_group(group: ScannerGroup, desired: AccountRequest, account_dn: str | None) -> list[str]:
    """Refuse a group of another type, or one others control or with other members (unless adopting);
    warnings for what is only inherited."""
    name = desired.scanner_group
    if group.group_type != GLOBAL_SECURITY:
        raise DomainError(f"scanner_group {name!r} exists as {group.dn} but is a {group.kind} group (groupType "
                          f"{group.group_type}), not a global security group; rename or remove it, or choose another "
                          "scanner_group. Nothing was changed", CONFIG)
    control = group.control
    problems = group_problems(group, desired.name, account_dn)
    if desired.adopt:
        for found in group.primary:
            default_primary(found, name)  # a domain controller or an object of another kind: refused before writing
    if problems and not desired.adopt:
        raise DomainError(
            f"scanner_group {name!r} already exists as {group.dn} and is not only the scanner's: "
            f"{'; '.join(problems)}. Nothing was changed. If this group is yours, adopt it with adopt: true (role "
            "variable scanready_account_adopt: true): that makes Domain Admins its owner, removes the foreign ACEs "
            "and the other members (members by primary group get Domain Users or Domain Computers back)", FOREIGN)
    if control is not None and control.inherited:
        return [f"{group.dn} inherits ACEs from its container that let others change its members: "
                f"{'; '.join(control.describe(ace) for ace in control.inherited)}; "
                "adopt: true stops the group inheriting them; or remove that delegation"]
    return []


def other_members(group: ScannerGroup, account_dn: str | None) -> tuple[str, ...]:
    return tuple(m for m in group.members if account_dn is None or m.lower() != account_dn.lower())


def default_primary(found: PrimaryMember, group_name: str) -> int:
    """The RID of the primary group the domain gives an object of found's kind: Domain Users for a user, Domain
    Computers for a computer (managed service accounts included). A domain controller (whose primary group the
    directory ties to its role) or an object of another kind is a one-line error."""
    if found.uac & (UF_SERVER_TRUST_ACCOUNT | UF_PARTIAL_SECRETS_ACCOUNT):
        raise DomainError(
            f"scanner_group {group_name!r} is the primary group of the domain controller {found.dn}: adopting does "
            "not change a domain controller's primary group. Nothing was changed; set its primaryGroupID back "
            "(516 Domain Controllers, 521 Read-only Domain Controllers), then run again", FOREIGN)
    if "computer" in found.classes:
        return DOMAIN_COMPUTERS_RID
    if "user" in found.classes and not found.uac & UF_INTERDOMAIN_TRUST_ACCOUNT:
        return DOMAIN_USERS_RID
    kind = "an interdomain trust account" if "user" in found.classes else f"a {'/'.join(found.classes) or 'object'}"
    raise DomainError(
        f"scanner_group {group_name!r} is the primary group of {found.dn}, {kind}: adopting gives back only a "
        "user's (Domain Users) or a computer's (Domain Computers) default. Nothing was changed; set its "
        "primaryGroupID back yourself, then run again", FOREIGN)


def plan_primary(conn: Any, group: ScannerGroup | None, desired: AccountRequest) -> tuple[PrimarySwitch, ...]:
    """When adopting the group in local_admins mode: each member by primary group with its default primary group
    (found by its well-known RID, so a renamed or localised one is found too)."""
    if group is None or not group.primary or group.sid is None or not desired.adopt \
            or desired.privilege != LOCAL_ADMINS or desired.state == "absent":
        return ()
    domain_sid = group.sid.rsplit("-", 1)[0]
    dns: dict[int, str] = {}
    switches = []
    for found in group.primary:
        rid = default_primary(found, desired.scanner_group)
        if rid not in dns:
            entries = conn.search(f"<SID={domain_sid}-{rid}>", "(objectClass=group)", ["objectSid"], scope="base")
            if not entries:
                raise DomainError(f"the default primary group {domain_sid}-{rid} of {found.dn} was not found", CONFIG)
            dns[rid] = entries[0].dn
        joined = any(g.lower() == dns[rid].lower() for g in found.member_of)
        switches.append(PrimarySwitch(found.dn, rid, dns[rid], join=not joined))
    return tuple(switches)


def plan_group(group: ScannerGroup | None, desired: AccountRequest, account_dn: str | None, *,
               container: str | None, domain_admins_sid: str | None,
               primary: tuple[PrimarySwitch, ...] = ()) -> GroupPlan:
    """What to do to the group: create it, take it over (adopt: primary is plan_primary's) and add the account
    in local_admins mode; take the account out of it in the others. account_dn is None when the account will
    not exist."""
    if desired.state == "absent" or account_dn is None:
        return GroupPlan()
    if desired.privilege != LOCAL_ADMINS:
        return GroupPlan(dn=group.dn, leave=account_dn) if group is not None and group.has(account_dn) else GroupPlan()
    if group is None:
        if container is None:
            raise ValueError("container is needed to create the scanner group")
        return GroupPlan(dn=f"CN={escape_rdn(desired.scanner_group)},{container}", create=True, join=account_dn)
    adopting = desired.adopt
    return GroupPlan(
        dn=group.dn,
        security_descriptor=adopted_descriptor(group.control, domain_admins_sid) if adopting else None,
        remove=other_members(group, account_dn) if adopting else (),
        join=None if group.has(account_dn) else account_dn,
        primary=primary if adopting else (),
    )


def predict_group(group: ScannerGroup | None, plan: GroupPlan) -> ScannerGroup | None:
    """The group after plan (no SID for one not created yet)."""
    if plan.create and plan.dn is not None:
        return ScannerGroup(plan.dn, None, GLOBAL_SECURITY, (plan.join,) if plan.join else ())
    if group is None:
        return None
    gone = {m.lower() for m in plan.remove} | ({plan.leave.lower()} if plan.leave else set())
    members = [m for m in group.members if m.lower() not in gone] + ([plan.join] if plan.join else [])
    control = group.control
    if plan.security_descriptor is not None and control is not None:
        descriptor = _acl.parse_sd(plan.security_descriptor)
        control = replace(control, owner=descriptor.owner, owner_trusted=True, foreign=(), inherited=(),
                          descriptor=descriptor)
    switched = {switch.dn.lower() for switch in plan.primary}
    primary = tuple(found for found in group.primary if found.dn.lower() not in switched)
    return replace(group, members=tuple(members), control=control, primary=primary)


def with_group(account: Account | None, plan: GroupPlan) -> Account | None:
    """account with its predicted membership of the scanner group."""
    if account is None or plan.dn is None:
        return account
    groups = [g for g in account.groups if not (plan.leave and g.lower() == plan.dn.lower())]
    if plan.join and not account.in_group(plan.dn):
        groups.append(plan.dn)
    return replace(account, groups=tuple(groups))


def group_view(group: ScannerGroup | None) -> dict[str, Any] | None:
    """The scanner_group return value (and its part of the diff)."""
    if group is None:
        return None
    return {"dn": group.dn, "sid": group.sid, "members": sorted(group.members, key=str.lower),
            "primary_members": sorted(group.primary_members, key=str.lower)}


def create_and_join(conn: Any, plan: GroupPlan, name: str) -> bool:
    """Create the group (when planned), take it over, prune and add the account; a group created here is
    removed again when a later step fails. True when it was created."""
    if plan.dn is None:
        return False
    if plan.create:
        conn.add(plan.dn, GROUP_OBJECT_CLASSES, {"sAMAccountName": name, "groupType": str(GLOBAL_SECURITY),
                                                 "description": GROUP_DESCRIPTION})
    try:
        if plan.security_descriptor is not None:
            conn.modify(plan.dn, {"nTSecurityDescriptor": [(MODIFY_REPLACE, [plan.security_descriptor])]},
                        sd_flags=SD_OWNER_DACL)
        remove = list(dict.fromkeys(switch_primary(conn, plan.dn, plan.primary) + plan.remove))
        if remove:
            conn.modify(plan.dn, {"member": [(MODIFY_DELETE, remove)]})
        if plan.join:
            conn.modify(plan.dn, {"member": [(MODIFY_ADD, [plan.join])]})
    except DomainError as exc:
        if plan.create:
            remove_created(conn, plan.dn, exc)
        raise
    return plan.create


def switch_primary(conn: Any, group_dn: str, switches: tuple[PrimarySwitch, ...]) -> tuple[str, ...]:
    """Give each member by primary group its default primary group back (after the group's owner and DACL are
    taken over, before its other members go). The directory then lists the object in the scanner group's member
    (Windows and Samba turn the old primary group into a plain membership): those of them it lists are returned,
    to be removed with the other members."""
    for switch in switches:
        if switch.join:
            conn.modify(switch.group_dn, {"member": [(MODIFY_ADD, [switch.dn])]})
        conn.modify(switch.dn, {"primaryGroupID": [(MODIFY_REPLACE, [str(switch.rid)])]})
    if not switches:
        return ()
    found = conn.search(group_dn, "(objectClass=group)", ["member"], scope="base")
    listed = {str(m).lower() for m in found[0].values("member")} if found else set()
    return tuple(switch.dn for switch in switches if switch.dn.lower() in listed)


def remove_created(conn: Any, dn: str, exc: DomainError) -> None:
    """Delete a group this run created, after exc; the message says whether that worked (exc is re-raised)."""
    undo_create(conn, dn, exc, f"the group {dn} created in this run",
                f"the group {dn} created in this run was removed again")


def undo_create(conn: Any, dn: str, exc: DomainError, what: str, undone: str) -> None:
    """Delete `what` (at dn), made in this run before exc; re-raise exc saying whether that worked."""
    try:
        conn.delete(dn)
    except DomainError as cleanup:
        raise DomainError(f"{exc.message}; removing {what} failed too: {cleanup.message}", exc.cause,
                          exc.result_code, exc.detail) from None
    raise DomainError(f"{exc.message}; {undone}", exc.cause, exc.result_code, exc.detail) from None


def parent_dn(dn: str) -> str:
    """The container of dn: everything after its first unescaped comma."""
    escaped = False
    for index, char in enumerate(dn):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            return dn[index + 1:].strip()
    raise DomainError(f"{dn!r} has no parent container", CONFIG)
