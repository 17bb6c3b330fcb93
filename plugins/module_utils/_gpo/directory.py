# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the directory says about the scan policy GPO, read over LDAP and handed back as plain data.

The GPO's groupPolicyContainer (by display name or GUID), the containers linking it or to link it to,
and the principals the trust rule counts as privileged. Nothing here writes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoStoreError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder import check_guid
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import GpLink, parse_gplink
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    NO_SUCH_OBJECT,
    SD_OWNER_GROUP_DACL,
    DomainConnection,
    DomainError,
    Entry,
    escape_filter,
)

# Without nTSecurityDescriptor: a DC leaves out of a search every entry whose descriptor it cannot
# read, so asking for it while finding the GPO would hide a GPO with a damaged descriptor (and the
# module would create a second one). It is read on its own, naming the GPO when that fails.
GPO_ATTRIBUTES: Final = ("cn", "displayName", "gPCFileSysPath", "versionNumber", "flags",
                         "gPCMachineExtensionNames", "gPCUserExtensionNames")
LINKABLE_CLASSES: Final = ("domaindns", "organizationalunit", "site")


@dataclass(frozen=True)
class Found:
    """A groupPolicyContainer as read from LDAP."""

    dn: str
    guid: str
    display_name: str
    file_sys_path: str
    version: int
    flags: int
    extensions: str
    security_descriptor: bytes | None
    user_extensions: str = ""

    def names(self) -> str:
        return f"GPO {self.guid} ({self.dn}, display name {self.display_name!r})"


@dataclass(frozen=True)
class Container:
    dn: str
    raw_gplink: str | None  # exactly as stored, for the compare-and-swap
    links: tuple[GpLink, ...]


@dataclass(frozen=True)
class Principals:
    """Who the trust rule counts as in control: Domain Admins, Enterprise Admins, Administrators, SYSTEM
    and the operator this module binds as."""

    domain_sid: str
    root_domain_sid: str
    privileged: frozenset[str]


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class GpoDirectory:
    """Reads the GPO, its links and the principals from the DC the module is bound to."""

    def __init__(self, ldap: DomainConnection) -> None:
        self.ldap = ldap
        self.base_dn = ldap.base_dn
        self.policies_dn = f"CN=Policies,CN=System,{self.base_dn}"
        self._principals: Principals | None = None

    def gpo_dn(self, guid: str) -> str:
        return f"CN={guid},{self.policies_dn}"

    def locate(self, name: str, guid: str | None) -> Found | None:
        """The GPO pinned by guid, or else the one GPO with this display name."""
        return self.find_guid(guid) if guid else self.find(name)

    def find(self, name: str) -> Found | None:
        """The one GPO with this display name; GpoStoreError when there are several."""
        entries = self.ldap.search(
            self.policies_dn, f"(&(objectClass=groupPolicyContainer)(displayName={escape_filter(name)}))",
            GPO_ATTRIBUTES, scope="one")
        if len(entries) > 1:
            guids = ", ".join(sorted(_text(e.first("cn")) or e.dn for e in entries))
            raise GpoStoreError(f"{len(entries)} GPOs are named {name!r}: {guids}. Nothing was changed; delete or "
                                "rename all but one (samba-tool gpo del, or the Group Policy Management console), "
                                "or pin the one to use with guid (scanready_gpo_guid), then run again")
        return self._found(entries[0]) if entries else None

    def find_guid(self, guid: str) -> Found | None:
        """The GPO whose cn is guid, whatever its display name."""
        entries = self.ldap.search(self.policies_dn, f"(&(objectClass=groupPolicyContainer)(cn={check_guid(guid)}))",
                                   GPO_ATTRIBUTES, scope="one")
        return self._found(entries[0]) if entries else None

    def _found(self, entry: Entry) -> Found:
        guid = _text(entry.first("cn")).upper()
        try:
            version = int(_text(entry.first("versionNumber")) or 0)
            flags = int(_text(entry.first("flags")) or 0)
        except ValueError:
            raise GpoStoreError(f"GPO {guid} has a versionNumber or flags that is not a number") from None
        name = _text(entry.first("displayName"))
        try:
            descriptor = self.security_descriptor(entry.dn)
        except GpoStoreError:
            raise GpoStoreError(f"GPO {guid} ({name!r}, {entry.dn}): its nTSecurityDescriptor cannot be read (missing, "
                                "damaged, or not readable by the operator, who needs to be a Domain Admin). Nothing "
                                "was changed; repair or delete that GPO, then run again") from None
        return Found(entry.dn, guid, name, _text(entry.first("gPCFileSysPath")), version, flags,
                     _text(entry.first("gPCMachineExtensionNames")), descriptor,
                     _text(entry.first("gPCUserExtensionNames")))

    def security_descriptor(self, dn: str) -> bytes:
        entries = self.ldap.search(dn, "(objectClass=*)", ["nTSecurityDescriptor"], scope="base",
                                   sd_flags=SD_OWNER_GROUP_DACL)
        raw = entries[0].first("nTSecurityDescriptor") if entries else None
        if raw is None:
            raise GpoStoreError(f"cannot read the nTSecurityDescriptor of {dn}, which the SYSVOL folder's ACL "
                                "derives from (the operator needs to be a Domain Admin)")
        return bytes(raw)

    def children(self, dn: str) -> set[str]:
        """The cn (lower case) of each container right under dn."""
        entries = self.ldap.search(dn, "(objectClass=container)", ["cn"], scope="one")
        return {_text(entry.first("cn")).lower() for entry in entries}

    def subtree(self, dn: str) -> list[str]:
        """dn and the DN of everything under it."""
        return [entry.dn for entry in self.ldap.search(dn, "(objectClass=*)", ["cn"])]

    def principals(self) -> Principals:
        """Who counts as privileged, read once a run: the run judges up to two GPOs with it."""
        if self._principals is None:
            self._principals = self._read_principals()
        return self._principals

    def _read_principals(self) -> Principals:
        domain_sid = self._object_sid(self.base_dn)
        root_dn = self._root_attribute("rootDomainNamingContext")
        root_sid = self._object_sid(root_dn) if root_dn and root_dn.lower() != self.base_dn.lower() else domain_sid
        user = str(self.ldap.settings.bind_user)  # set once bound: given, or the ticket's principal
        name = user.rpartition("\\")[2].partition("@")[0]
        operator = self.ldap.search(self.base_dn, "(&(objectClass=user)(|(userPrincipalName="
                                    f"{escape_filter(user)})(sAMAccountName={escape_filter(name)})))", ["objectSid"])
        operator_raw = operator[0].first("objectSid") if len(operator) == 1 else None
        operator_sid = _acl.sid_from_bytes(bytes(operator_raw))[0] if operator_raw else None
        return Principals(domain_sid, root_sid,
                          frozenset(_acl.privileged_sids(domain_sid, root_sid, operator_sid)))

    def _root_attribute(self, name: str) -> str:
        root = self.ldap.search("", "(objectClass=*)", [name], scope="base")
        return _text(root[0].first(name)) if root else ""

    def _object_sid(self, dn: str) -> str:
        entries = self.ldap.search(dn, "(objectClass=*)", ["objectSid"], scope="base")
        raw = entries[0].first("objectSid") if entries else None
        try:
            return _acl.sid_from_bytes(bytes(raw) if raw else b"")[0]
        except _acl.AclFormatError:
            raise GpoStoreError(f"cannot read the objectSid of {dn}; the operator needs to be a Domain Admin") from None

    def containers_linking(self, gpo_dn: str, guid: str) -> list[Container]:
        """Every domain, OU and site whose gPLink names the GPO."""
        pattern = f"(gPLink=*{escape_filter(guid)}*)"
        entries = self.ldap.search(self.base_dn, pattern, ["gPLink"])
        config = self._root_attribute("configurationNamingContext")
        if config:
            entries += self.ldap.search(f"CN=Sites,{config}", f"(&(objectClass=site){pattern})", ["gPLink"],
                                        scope="one")
        containers = [_container(entry) for entry in entries]
        return [c for c in containers if any(link.points_to(gpo_dn) for link in c.links)]

    def link_targets(self, links: Sequence[str]) -> list[Container]:
        """The containers to link to: each must exist and be a domain, OU or site."""
        containers = []
        for dn in links:
            try:
                entries = self.ldap.search(dn, "(objectClass=*)", ["objectClass", "gPLink"], scope="base")
            except DomainError as exc:
                if exc.cause == NO_SUCH_OBJECT:
                    raise GpoStoreError(f"links: {dn} does not exist") from None
                raise
            if not entries:
                raise GpoStoreError(f"links: {dn} does not exist")
            classes = {_text(value).lower() for key, values in entries[0].attributes.items()
                       if key.lower() == "objectclass" for value in values}
            if not classes & set(LINKABLE_CLASSES):
                kind = "/".join(sorted(classes - {"top"})) or "object"
                raise GpoStoreError(f"links: {dn} is a {kind}, not a domain, organizational unit or site; "
                                    "a GPO cannot be linked there")
            containers.append(_container(entries[0]))
        return containers


def _container(entry: Entry) -> Container:
    raw = entry.first("gPLink")
    stored = _text(raw) if raw is not None else None
    try:
        links = tuple(parse_gplink(stored or ""))
    except GpoFormatError as exc:
        raise GpoStoreError(f"{entry.dn}: {exc}; fix its gPLink before linking policies there") from None
    return Container(entry.dn, stored, links)
