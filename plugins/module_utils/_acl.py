# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security descriptors without any I/O: parse, render, and the rule for who may control an object.

Self-relative descriptors as LDAP (nTSecurityDescriptor) and SMB (query security info) return them:
MS-DTYP 2.4.6. Every offset and length is checked against the buffer, so a malformed descriptor is
an AclFormatError, never a struct.error or IndexError. The trust rule:
an object is under the operator's control when its owner is a privileged principal and no explicit,
non-inherited ACE lets anyone else write it, change its ACL or owner, create or delete inside it.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError


class AclFormatError(ScanreadyError, ValueError):
    """A security descriptor, ACL, ACE or SID that does not parse."""


SE_DACL_PRESENT: Final = 0x0004
SE_SACL_PRESENT: Final = 0x0010
SE_DACL_AUTO_INHERIT_REQ: Final = 0x0100
SE_DACL_AUTO_INHERITED: Final = 0x0400
SE_DACL_PROTECTED: Final = 0x1000
SE_SELF_RELATIVE: Final = 0x8000

ACCESS_ALLOWED: Final = 0x00
ACCESS_DENIED: Final = 0x01
ACCESS_ALLOWED_OBJECT: Final = 0x05
ACCESS_DENIED_OBJECT: Final = 0x06
_OBJECT_TYPES: Final = (ACCESS_ALLOWED_OBJECT, ACCESS_DENIED_OBJECT, 0x07, 0x08, 0x0B, 0x0C, 0x0F, 0x10)
_ALLOW_TYPES: Final = (ACCESS_ALLOWED, ACCESS_ALLOWED_OBJECT, 0x09, 0x0B)  # incl. callback variants

OBJECT_INHERIT: Final = 0x01
CONTAINER_INHERIT: Final = 0x02
INHERIT_ONLY: Final = 0x08
INHERITED: Final = 0x10
ACE_OBJECT_TYPE_PRESENT: Final = 0x1
ACE_INHERITED_OBJECT_TYPE_PRESENT: Final = 0x2

# Access mask bits (MS-DTYP 2.4.3, MS-ADTS 5.1.3.2).
DELETE: Final = 0x00010000
WRITE_DAC: Final = 0x00040000
WRITE_OWNER: Final = 0x00080000
GENERIC_ALL: Final = 0x10000000
GENERIC_WRITE: Final = 0x40000000
DS_CREATE_CHILD: Final = 0x001
DS_DELETE_CHILD: Final = 0x002
DS_SELF: Final = 0x008
DS_WRITE_PROP: Final = 0x020
DS_DELETE_TREE: Final = 0x040
DS_CONTROL_ACCESS: Final = 0x100
FILE_WRITE_DATA: Final = 0x002  # also FILE_ADD_FILE on a folder
FILE_APPEND_DATA: Final = 0x004  # also FILE_ADD_SUBDIRECTORY
FILE_WRITE_EA: Final = 0x010
FILE_DELETE_CHILD: Final = 0x040
FILE_WRITE_ATTRIBUTES: Final = 0x100
_CONTROL: Final = DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_ALL | GENERIC_WRITE
# Rights over a directory object that amount to control of it (extended rights are the caller's choice).
DS_DANGEROUS_MASK: Final = _CONTROL | DS_CREATE_CHILD | DS_DELETE_CHILD | DS_SELF | DS_WRITE_PROP | DS_DELETE_TREE
# Rights over a folder that amount to control of what clients read from it.
FILE_DANGEROUS_MASK: Final = (_CONTROL | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_DELETE_CHILD
                              | FILE_WRITE_ATTRIBUTES)

SYSTEM: Final = "S-1-5-18"
BUILTIN_ADMINISTRATORS: Final = "S-1-5-32-544"
CREATOR_OWNER: Final = "S-1-3-0"
AUTHENTICATED_USERS: Final = "S-1-5-11"
ENTERPRISE_DOMAIN_CONTROLLERS: Final = "S-1-5-9"
PRE_WINDOWS_2000: Final = "S-1-5-32-554"
WELL_KNOWN: Final = {
    SYSTEM: "SYSTEM", BUILTIN_ADMINISTRATORS: "BUILTIN\\Administrators", CREATOR_OWNER: "CREATOR OWNER",
    AUTHENTICATED_USERS: "Authenticated Users", ENTERPRISE_DOMAIN_CONTROLLERS: "ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-1-0": "Everyone", "S-1-5-7": "ANONYMOUS LOGON", "S-1-5-10": "SELF", "S-1-3-1": "CREATOR GROUP",
    PRE_WINDOWS_2000: "Pre-Windows 2000 Compatible Access",
}
_DOMAIN_RIDS: Final = {512: "Domain Admins", 513: "Domain Users", 515: "Domain Computers", 518: "Schema Admins",
                       519: "Enterprise Admins", 520: "Group Policy Creator Owners"}


def sid_from_bytes(data: bytes, offset: int = 0) -> tuple[str, int]:
    """('S-1-5-...', end offset) of the binary SID at offset."""
    if offset < 0 or offset + 8 > len(data):
        raise AclFormatError(f"SID at byte {offset} is truncated")
    revision, count = data[offset], data[offset + 1]
    if revision != 1 or count > 15:
        raise AclFormatError(f"SID at byte {offset} has revision {revision} and {count} sub-authorities")
    end = offset + 8 + 4 * count
    if end > len(data):
        raise AclFormatError(f"SID at byte {offset} is truncated")
    authority = int.from_bytes(data[offset + 2:offset + 8], "big")
    subs = struct.unpack_from(f"<{count}I", data, offset + 8)
    return "-".join(["S-1", str(authority), *map(str, subs)]), end


def sid_to_bytes(sid: str) -> bytes:
    parts = sid.upper().split("-")
    try:
        if len(parts) < 3 or parts[:2] != ["S", "1"] or len(parts) > 18:
            raise ValueError
        authority, subs = int(parts[2]), [int(part) for part in parts[3:]]
        return (bytes([1, len(subs)]) + authority.to_bytes(6, "big")
                + b"".join(struct.pack("<I", sub) for sub in subs))
    except (ValueError, OverflowError, struct.error):
        raise AclFormatError(f"{sid!r} is not a SID") from None


def sid_name(sid: str, domain_sid: str | None = None) -> str:
    """A readable name for well-known and domain-relative SIDs; the SID itself otherwise."""
    if sid in WELL_KNOWN:
        return WELL_KNOWN[sid]
    head, _sep, rid = sid.rpartition("-")
    if domain_sid and head == domain_sid and rid.isdigit() and int(rid) in _DOMAIN_RIDS:
        return _DOMAIN_RIDS[int(rid)]
    return sid


@dataclass(frozen=True)
class Ace:
    type: int
    flags: int
    mask: int
    sid: str
    object_type: str | None  # lower-case GUID string of an object ACE, else None
    inherited_object_type: str | None
    raw: bytes  # as stored, header included, so render() writes back exactly what was read

    @property
    def inherited(self) -> bool:
        return bool(self.flags & INHERITED)

    @property
    def inherit_only(self) -> bool:
        return bool(self.flags & INHERIT_ONLY)

    @property
    def allows(self) -> bool:
        return self.type in _ALLOW_TYPES

    def describe(self, domain_sid: str | None = None) -> str:
        """'allow Domain Users (S-1-5-21-...-513) mask 0x000f01ff [object <guid>] [inherit-only]'."""
        name = sid_name(self.sid, domain_sid)
        who = name if name == self.sid else f"{name} ({self.sid})"
        kind = "allow" if self.allows else ("deny" if self.type in (ACCESS_DENIED, ACCESS_DENIED_OBJECT)
                                            else f"type {self.type}")
        extra = f" object {self.object_type}" if self.object_type else ""
        extra += " inherit-only" if self.inherit_only else ""
        return f"{kind} {who} mask {self.mask:#010x}{extra}"


def parse_ace(data: bytes, pos: int = 0) -> Ace:
    if pos + 8 > len(data):
        raise AclFormatError(f"ACE at byte {pos} is truncated")
    ace_type, flags, size, mask = struct.unpack_from("<BBHI", data, pos)
    if size < 16 or size % 4 or pos + size > len(data):  # 8-byte header + a SID of at least 8 bytes
        raise AclFormatError(f"ACE at byte {pos} has a bad size {size}")
    raw = data[pos:pos + size]
    at = 8
    object_type = inherited_type = None
    if ace_type in _OBJECT_TYPES:
        if size < 12:
            raise AclFormatError(f"object ACE at byte {pos} is truncated")
        present = struct.unpack_from("<I", raw, 8)[0]
        at = 12
        guids: list[str | None] = []
        for bit in (ACE_OBJECT_TYPE_PRESENT, ACE_INHERITED_OBJECT_TYPE_PRESENT):
            if present & bit:
                if at + 16 > size:
                    raise AclFormatError(f"object ACE at byte {pos} is truncated")
                guids.append(str(uuid.UUID(bytes_le=raw[at:at + 16])))
                at += 16
            else:
                guids.append(None)
        object_type, inherited_type = guids
    sid, _end = sid_from_bytes(raw, at)
    return Ace(ace_type, flags, mask, sid, object_type, inherited_type, raw)


def make_ace(ace_type: int, flags: int, mask: int, sid: str) -> Ace:
    """A plain (non-object) ACE."""
    binary = sid_to_bytes(sid)
    return parse_ace(struct.pack("<BBHI", ace_type, flags, 8 + len(binary), mask) + binary)


@dataclass(frozen=True)
class SecurityDescriptor:
    control: int
    owner: str | None
    group: str | None
    dacl: tuple[Ace, ...]
    acl_revision: int = 2

    def render(self) -> bytes:
        """Self-relative: header, owner, group, DACL (the SACL is never written back)."""
        body = b""
        offsets = []
        for sid in (self.owner, self.group):
            offsets.append(20 + len(body) if sid else 0)
            body += sid_to_bytes(sid) if sid else b""
        dacl_at = 20 + len(body)
        acl = b"".join(ace.raw for ace in self.dacl)
        body += struct.pack("<BBHHH", self.acl_revision, 0, 8 + len(acl), len(self.dacl), 0) + acl
        control = (self.control | SE_DACL_PRESENT | SE_SELF_RELATIVE) & ~SE_SACL_PRESENT
        return struct.pack("<BBHIIII", 1, 0, control, offsets[0], offsets[1], 0, dacl_at) + body

    def comparable(self) -> tuple[object, ...]:
        """What `samba-tool gpo aclcheck` compares (SDDL: owner, group, DACL flags, ACEs)."""
        flags = self.control & (SE_DACL_PROTECTED | SE_DACL_AUTO_INHERITED | SE_DACL_AUTO_INHERIT_REQ)
        return self.owner, self.group, flags, tuple(ace.raw for ace in self.dacl)


def parse_sd(raw: bytes) -> SecurityDescriptor:
    """A self-relative security descriptor (the SACL is skipped); AclFormatError when malformed."""
    data = bytes(raw)
    if len(data) < 20:
        raise AclFormatError(f"security descriptor is truncated ({len(data)} bytes)")
    revision, _sbz, control, owner_at, group_at, _sacl_at, dacl_at = struct.unpack_from("<BBHIIII", data)
    if revision != 1:
        raise AclFormatError(f"security descriptor has revision {revision}, not 1")
    owner = sid_from_bytes(data, owner_at)[0] if owner_at else None
    group = sid_from_bytes(data, group_at)[0] if group_at else None
    aces: list[Ace] = []
    acl_revision = 2
    if control & SE_DACL_PRESENT and dacl_at:
        if dacl_at + 8 > len(data):
            raise AclFormatError("security descriptor's DACL is truncated")
        acl_revision, _sbz, acl_size, count, _sbz2 = struct.unpack_from("<BBHHH", data, dacl_at)
        if acl_size < 8 or dacl_at + acl_size > len(data):
            raise AclFormatError(f"security descriptor's DACL claims {acl_size} bytes past the end")
        acl = data[:dacl_at + acl_size]  # an ACE must fit in its ACL, not merely in the buffer
        pos = dacl_at + 8
        for _index in range(count):
            ace = parse_ace(acl, pos)
            aces.append(ace)
            pos += len(ace.raw)
    return SecurityDescriptor(control, owner, group, tuple(aces), acl_revision)


def privileged_sids(domain_sid: str, root_domain_sid: str, operator_sid: str | None) -> set[str]:
    """Domain Admins, Enterprise Admins, BUILTIN\\Administrators, SYSTEM and the operator running the module."""
    sids = {f"{domain_sid}-512", f"{root_domain_sid}-519", BUILTIN_ADMINISTRATORS, SYSTEM}
    if operator_sid:
        sids.add(operator_sid)
    return sids


def offending_aces(sd: SecurityDescriptor, privileged: Collection[str], dangerous_mask: int,
                   extra_ok_trustees: Iterable[str] = (), dangerous_rights: Collection[str] = (),
                   parent: SecurityDescriptor | None = None) -> list[Ace]:
    """Explicit allow ACEs giving a trustee outside privileged (and extra_ok_trustees) a dangerous right.

    Inherited ACEs come from the parent, which the domain's administrators control. CREATOR OWNER's
    inherit-only ACE only reaches objects someone creates inside, which needs a right checked here.
    An extended right (control access) offends when it is for every right or one in dangerous_rights.
    With `parent` (a folder's), an ACE the parent grants to every subfolder counts as inherited even
    where the file server did not flag it so (Samba's SYSVOL does not).
    """
    trusted = set(privileged) | set(extra_ok_trustees)
    from_parent = [ace for ace in parent.dacl if ace.allows and ace.flags & CONTAINER_INHERIT] if parent else []
    out = []
    for ace in sd.dacl:
        if not ace.allows or ace.inherited or ace.sid in trusted:
            continue
        if any(p.sid == ace.sid and ace.mask & ~p.mask == 0 for p in from_parent):
            continue
        if ace.sid == CREATOR_OWNER and ace.inherit_only:
            continue
        extended = bool(dangerous_rights) and bool(ace.mask & DS_CONTROL_ACCESS) and (
            ace.object_type is None or ace.object_type in dangerous_rights)
        if ace.mask & dangerous_mask or extended:
            out.append(ace)
    return out
