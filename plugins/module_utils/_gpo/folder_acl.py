# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPO's security descriptors: the folder ACL Samba's dsacl2fsacl derives from the GPO object's, and the
default ACL the Group Policy Management console and samba-tool gpo create give a new GPO.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._acl import SecurityDescriptor
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError

APPLY_GROUP_POLICY: Final = "edacfd8f-ffb3-11d1-b41d-00a0c968f939"
DS_FULL_CONTROL: Final = 0x000F00FF  # RPWPCCDCLCLORCWOWDSDDTSW
DS_READ: Final = 0x00020094  # RPLCLORC


def ldap_mask_to_file_mask(mask: int) -> int:
    """Directory-service rights -> the file rights that mean the same for the GPO's folder."""
    file_mask = mask & 0x001F0000  # standard rights carry over
    if mask & 0x10 and mask & 0x04:  # read property + list contents
        file_mask |= 0x00100000 | 0x0001 | 0x0080 | 0x0008 | 0x0020
    if mask & 0x20:  # write property
        file_mask |= 0x00100000 | 0x0002 | 0x0004 | 0x0010 | 0x0100
    if mask & 0x01:  # create child
        file_mask |= 0x0004 | 0x0002
    if mask & 0x02:  # delete child
        file_mask |= 0x0040
    return file_mask


def folder_security_descriptor(gpo_object_sd: bytes) -> SecurityDescriptor:
    """The folder descriptor Samba's dsacl2fsacl derives from the GPO object's nTSecurityDescriptor."""
    ds = parse_security_descriptor(gpo_object_sd, "the GPO object's nTSecurityDescriptor")
    if not ds.control & _acl.SE_DACL_PRESENT or ds.owner is None or ds.group is None:
        raise GpoFormatError("the GPO object's nTSecurityDescriptor has no owner, group or DACL to translate")
    aces = []
    for ace in ds.dacl:
        if ace.type not in (_acl.ACCESS_ALLOWED, _acl.ACCESS_ALLOWED_OBJECT) or ace.sid == _acl.PRE_WINDOWS_2000:
            continue
        flags = ace.flags | _acl.OBJECT_INHERIT | _acl.CONTAINER_INHERIT
        if ace.sid == _acl.CREATOR_OWNER:
            flags |= _acl.INHERIT_ONLY  # creator-owner only means something for what is created inside
        raw = ace.raw[:1] + bytes([flags]) + ace.raw[2:4] + struct.pack("<I", ldap_mask_to_file_mask(ace.mask))
        aces.append(_acl.parse_ace(raw + ace.raw[8:]))
    # Only the DACL's inheritance flags carry over: Samba's SDDL round trip drops the rest.
    control = (ds.control & (_acl.SE_DACL_PROTECTED | _acl.SE_DACL_AUTO_INHERITED | _acl.SE_DACL_AUTO_INHERIT_REQ)
               | _acl.SE_DACL_PRESENT | _acl.SE_SELF_RELATIVE)
    return SecurityDescriptor(control, ds.owner, ds.group, tuple(aces), ds.acl_revision)


def parse_security_descriptor(data: bytes, what: str) -> SecurityDescriptor:
    """_acl.parse_sd with its error as a GpoFormatError naming what was read."""
    try:
        return _acl.parse_sd(data)
    except _acl.AclFormatError as exc:
        raise GpoFormatError(f"{what} is malformed: {exc}") from None


def apply_group_policy_ace(ace_type: int, sid: str) -> _acl.Ace:
    """Allow (ACCESS_ALLOWED_OBJECT) or deny (ACCESS_DENIED_OBJECT) sid the Apply Group Policy right: security
    filtering, as the Group Policy Management console writes it."""
    binary = _acl.sid_to_bytes(sid)
    return _acl.parse_ace(struct.pack("<BBHII", ace_type, _acl.CONTAINER_INHERIT, 12 + 16 + len(binary),
                                      _acl.DS_CONTROL_ACCESS, _acl.ACE_OBJECT_TYPE_PRESENT)
                          + uuid.UUID(APPLY_GROUP_POLICY).bytes_le + binary)


def domain_controller_sids(domain_sid: str, root_domain_sid: str) -> tuple[str, ...]:
    """Every group a domain controller's token holds by being one: Domain Controllers, Read-only Domain
    Controllers, ENTERPRISE DOMAIN CONTROLLERS and Enterprise Read-only Domain Controllers."""
    return (f"{domain_sid}-516", f"{domain_sid}-521", _acl.ENTERPRISE_DOMAIN_CONTROLLERS, f"{root_domain_sid}-498")


def with_apply_denied(sd: SecurityDescriptor, sids: Sequence[str]) -> SecurityDescriptor:
    """sd with a Deny Apply Group Policy ACE for each of sids it lacks, ahead of the other ACEs (a deny comes
    first in canonical order); sd itself when it has them all."""
    present = {ace.raw for ace in sd.dacl if not ace.inherited}
    missing = tuple(ace for ace in (apply_group_policy_ace(_acl.ACCESS_DENIED_OBJECT, sid) for sid in sids)
                    if ace.raw not in present)
    return replace(sd, dacl=missing + sd.dacl) if missing else sd


def default_gpo_security_descriptor(domain_sid: str, root_domain_sid: str,
                                    denied: Sequence[str] = ()) -> SecurityDescriptor:
    """The ACL GPMC and Samba give a GPO a Domain Admin creates, denying Apply Group Policy to denied."""
    admins = f"{domain_sid}-512"
    ci = _acl.CONTAINER_INHERIT
    aces = (
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_FULL_CONTROL, admins),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_FULL_CONTROL, f"{root_domain_sid}-519"),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci | _acl.INHERIT_ONLY, DS_FULL_CONTROL, _acl.CREATOR_OWNER),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_FULL_CONTROL, _acl.SYSTEM),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_READ, _acl.AUTHENTICATED_USERS),
        apply_group_policy_ace(_acl.ACCESS_ALLOWED_OBJECT, _acl.AUTHENTICATED_USERS),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_READ, _acl.ENTERPRISE_DOMAIN_CONTROLLERS),
    )
    return with_apply_denied(SecurityDescriptor(_acl.SE_DACL_PRESENT | _acl.SE_DACL_PROTECTED | _acl.SE_SELF_RELATIVE,
                                                admins, admins, aces), denied)


def same_acl(current: SecurityDescriptor, wanted: SecurityDescriptor) -> bool:
    """Owner, group, protection and the same ACEs in any order (the DC may store them in canonical order)."""
    return (current.owner, current.group, current.control & _acl.SE_DACL_PROTECTED,
            sorted(ace.raw for ace in current.dacl if not ace.inherited)) == (
        wanted.owner, wanted.group, wanted.control & _acl.SE_DACL_PROTECTED, sorted(ace.raw for ace in wanted.dacl))
