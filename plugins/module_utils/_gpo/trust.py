# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trust and adoption rule: the scan policy is written only into a GPO the domain's administrators
control, in its own folder, holding nothing this collection does not write, unless the operator adopts it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._gpo.directory import Found, Principals
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoStoreError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.extensions import (
    REGISTRY_CSE,
    SECURITY_CSE,
    parse_extension_names,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder import (
    OWN_ENTRIES,
    FolderState,
    confined_folder,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder_acl import (
    default_gpo_security_descriptor,
    same_acl,
)


@dataclass(frozen=True)
class Verdict:
    """What the trust rule found: the security state to report, warnings, and the ACL to reset to (adopting)."""

    security: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    reset: _acl.SecurityDescriptor | None = None


def folder_of(found: Found, domain: str) -> str:
    """The GPO's folder on SYSVOL, only where its gPCFileSysPath is exactly where a GPO's folder belongs."""
    try:
        return confined_folder(found.file_sys_path, domain, found.guid)
    except GpoFormatError as exc:
        raise GpoStoreError(f"{found.names()}: {exc}. Nothing was changed; this module reads and writes a "
                            "GPO's files only in its own folder on the domain's SYSVOL share. Fix gPCFileSysPath "
                            "(or delete the GPO with samba-tool gpo del / the Group Policy Management console) "
                            "and run again") from None


def foreign_content(machine_extensions: str, user_extensions: str,
                    listings: Mapping[str, Sequence[tuple[str, bool]] | None], temp_suffix: str) -> list[str]:
    """Settings this collection does not write: the user half, other client-side extensions, other files."""
    found = []
    if user_extensions.strip():
        found.append(f"gPCUserExtensionNames {user_extensions[:200]}")
    try:
        others = sorted(set(parse_extension_names(machine_extensions)) - {REGISTRY_CSE[0], SECURITY_CSE[0]})
    except GpoFormatError as exc:
        others = [f"(unreadable: {exc})"]
    if others:
        found.append("gPCMachineExtensionNames client-side extensions " + ", ".join(others))
    for relative, entries in listings.items():
        own = OWN_ENTRIES.get(relative, {})
        for name, is_dir in entries or []:
            if own.get(name.lower()) is not is_dir and not (not is_dir and name.endswith(temp_suffix)):
                found.append(("folder " if is_dir else "file ") + (f"{relative}\\{name}" if relative else name))
    return found


def _parse_descriptor(found: Found, data: bytes, what: str) -> _acl.SecurityDescriptor:
    try:
        return _acl.parse_sd(data)
    except _acl.AclFormatError as exc:
        raise GpoStoreError(f"{found.names()}: {what} is malformed ({exc}). Nothing was changed") from None


def judge(found: Found, state: FolderState, principals: Principals, adopting: bool, temp_suffix: str,
          denied: Sequence[str] = ()) -> Verdict:
    """Refuse a GPO someone else controls or filled, unless adopting; the default ACL to reset to (denying Apply
    Group Policy to denied), if any.

    Trusted: the object and its folder are owned by a privileged principal, no explicit ACE gives
    anyone else write, ACL or owner rights, and it holds no settings this collection does not write.
    """
    domain_sid = principals.domain_sid
    sd = _parse_descriptor(found, found.security_descriptor or b"", "its nTSecurityDescriptor")
    folder_sd = _parse_descriptor(found, state.security_descriptor, "its SYSVOL folder's ACL") \
        if state.security_descriptor else None
    policies_sd = _parse_descriptor(found, state.parent_security_descriptor, "the Policies folder's ACL") \
        if state.parent_security_descriptor else None
    problems: list[str] = []
    offending: list[str] = []
    for what, descriptor, mask, parent in (("object", sd, _acl.DS_DANGEROUS_MASK, None),
                                           ("folder", folder_sd, _acl.FILE_DANGEROUS_MASK, policies_sd)):
        if descriptor is None:
            continue
        if descriptor.owner not in principals.privileged:
            problems.append(f"{what} owner {_acl.sid_name(descriptor.owner or 'none', domain_sid)}")
        offending += [f"{what}: {ace.describe(domain_sid)}"
                      for ace in _acl.offending_aces(descriptor, principals.privileged, mask, parent=parent)]
    foreign = foreign_content(found.extensions, found.user_extensions, state.listings, temp_suffix)
    problems += offending + [f"holds {item}" for item in foreign]
    default = default_gpo_security_descriptor(domain_sid, principals.root_domain_sid, denied)
    resetting = adopting and not same_acl(sd, default)
    security = {
        "owner": _acl.sid_name(sd.owner or "", domain_sid), "owner_sid": sd.owner,
        "folder_owner": _acl.sid_name(folder_sd.owner or "", domain_sid) if folder_sd else None,
        "offending_aces": offending, "foreign_content": foreign, "trusted": not problems,
        "adopted": adopting, "acl_reset": resetting,
    }
    if problems and not adopting:
        raise GpoStoreError(
            f"{found.names()} is not under the domain administrators' control: " + "; ".join(problems)
            + f". Nothing was changed and nothing was linked. If this GPO is yours, adopt it with adopt: true or "
            f"guid: '{found.guid}' (roles: scanready_gpo_adopt / scanready_gpo_guid): its object and folder ACL "
            "are then reset to the default GPO ACL (owner Domain Admins) and its settings files rewritten to this "
            "collection's settings alone (what is removed is listed); otherwise "
            "delete it (samba-tool gpo del) or choose another name")
    warnings = [f"{found.names()} is adopted with settings this collection does not write, which it keeps: "
                + "; ".join(foreign)] if foreign and adopting else []
    return Verdict(security, warnings, default if resetting else None)
