# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who controls an account: the trust rule on its owner and ACEs (via _acl), and the descriptor adopting writes.

An existing account is only taken over when nobody else controls it (its owner and explicit ACEs name
privileged principals or the operator only), or when the operator says adopt: a name anyone may pre-create
must not become a Domain Admin with a password, flags or rights its creator chose.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._ldap import DomainError

DOMAIN_ADMINS_RID: Final = 512
ENTERPRISE_ADMINS_RID: Final = 519
CERT_PUBLISHERS_RID: Final = 517
ACCOUNT_OPERATORS_SID: Final = "S-1-5-32-548"  # full control over every user by AD's own default
SELF_SID: Final = "S-1-5-10"
TS_LICENSE_SERVERS_SID: Final = "S-1-5-32-561"
# Attributes that let someone else log on as, or act as, the account without its password; adopting empties them.
CLEARED_ATTRIBUTES: Final = ("servicePrincipalName", "msDS-AllowedToDelegateTo", "altSecurityIdentities",
                             "msDS-KeyCredentialLink")
FOREIGN: Final = "foreign"  # DomainError cause: the account is controlled by someone else
RESET_PASSWORD_RIGHT: Final = "00299570-246d-11d0-a768-00aa006e0529"  # noqa: S105 - an extended right's GUID
# AD's default user ACL lets these write a few harmless properties of every user: (trustee RID or SID, property).
DEFAULT_USER_WRITERS: Final = ((CERT_PUBLISHERS_RID, "bf967a7f-0de6-11d0-a285-00aa003049e2"),  # userCertificate
                               (TS_LICENSE_SERVERS_SID, "6db69a1c-9422-11d1-aebd-0000f80367c1"),
                               (TS_LICENSE_SERVERS_SID, "5805bc62-bdc9-4428-a5e2-856a0f4c185e"))


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


def judge(dn: str, raw: bytes | None, trust: Trust) -> Control:
    """Who controls the object whose nTSecurityDescriptor is raw, measured against trust."""
    if not raw:
        return Control(None, False, (), (), trust.names, trust.domain_sid)
    try:
        descriptor = _acl.parse_sd(bytes(raw))
    except _acl.AclFormatError as exc:
        raise DomainError(f"the nTSecurityDescriptor of {dn} is unusable: {exc}; nothing was changed",
                          FOREIGN) from None
    expected = _default_writers(trust)
    # The inherited ACEs go through the same rule as if explicit, so both are judged alike.
    inherited = [ace for ace in descriptor.dacl if ace.inherited]
    inherited_as_explicit = replace(descriptor, dacl=tuple(_as_explicit(ace) for ace in inherited))
    offending_inherited = {ace.raw[2:] for ace in _offending(inherited_as_explicit, trust, expected)}
    return Control(
        owner=descriptor.owner,
        owner_trusted=descriptor.owner in trust.owners,
        foreign=tuple(_offending(descriptor, trust, expected)),
        inherited=tuple(ace for ace in inherited if ace.raw[2:] in offending_inherited),
        names=trust.names,
        domain_sid=trust.domain_sid,
        descriptor=descriptor,
    )


USER_CLASS: Final = "bf967aba-0de6-11d0-a285-00aa003049e2"  # what a child ACE's inherited object type names


def takeover_inherited(container_dn: str, raw: bytes | None, trust: Trust) -> tuple[_acl.Ace, ...]:
    """The ACEs of a container that every user created in it would inherit and that let someone outside trust
    take the user over (write, reset its password, full control): the same rule judge() applies to an account's
    inherited ACEs, before the account exists."""
    if not raw:
        return ()
    try:
        descriptor = _acl.parse_sd(bytes(raw))
    except _acl.AclFormatError as exc:
        raise DomainError(f"the nTSecurityDescriptor of {container_dn} is unusable: {exc}; nothing was changed",
                          FOREIGN) from None
    handed_down = [ace for ace in descriptor.dacl if ace.flags & _acl.CONTAINER_INHERIT
                   and ace.inherited_object_type in (None, USER_CLASS)]
    as_child = tuple(_acl.parse_ace(ace.raw[:1] + bytes([0]) + ace.raw[2:]) for ace in handed_down)
    expected = _default_writers(trust)
    offending = {ace.raw[2:] for ace in _offending(replace(descriptor, dacl=as_child), trust, expected)}
    return tuple(ace for ace in handed_down if ace.raw[2:] in offending)


def _default_writers(trust: Trust) -> set[tuple[str, str]]:
    """DEFAULT_USER_WRITERS with the domain's SIDs: (trustee SID, property) pairs AD itself grants."""
    return {(f"{trust.domain_sid}-{who}" if isinstance(who, int) else who, prop) for who, prop in DEFAULT_USER_WRITERS}


def _offending(descriptor: _acl.SecurityDescriptor, trust: Trust, expected: set[tuple[str, str]]) -> list[_acl.Ace]:
    found = _acl.offending_aces(descriptor, trust.owners, _acl.DS_DANGEROUS_MASK, extra_ok_trustees=trust.trustees,
                                dangerous_rights={RESET_PASSWORD_RIGHT})
    return [ace for ace in found if (ace.sid, ace.object_type) not in expected]


def adopted_descriptor(control: Control | None, domain_admins_sid: str | None) -> bytes | None:
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
    kept = tuple(_as_explicit(ace) if protect else ace for ace in descriptor.dacl if ace.raw not in dropped)
    return replace(descriptor, owner=descriptor.owner if control.owner_trusted else domain_admins_sid, dacl=kept,
                   control=descriptor.control | (_acl.SE_DACL_PROTECTED if protect else 0)).render()


def _as_explicit(ace: _acl.Ace) -> _acl.Ace:
    """The same ACE without its INHERITED flag (byte 1 of the ACE header)."""
    return _acl.parse_ace(ace.raw[:1] + bytes([ace.flags & ~_acl.INHERITED]) + ace.raw[2:])
