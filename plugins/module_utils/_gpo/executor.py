# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applies a plan's steps to the DC, one after the other in the order planned; the first failure stops the run."""
from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from ansible_collections.scanready.windows.plugins.module_utils._gpo.directory import GpoDirectory
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoStoreError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder_acl import (
    folder_security_descriptor,
    parse_security_descriptor,
    with_apply_denied,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.steps import Kind, Step
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    SD_OWNER_GROUP_DACL,
    DomainError,
)
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import Sysvol

# noSuchAttribute / attributeOrValueExists: the gPLink read is no longer there, someone changed it meanwhile.
_GPLINK_RACE = (16, 20)


def execute(steps: Sequence[Step], directory: GpoDirectory, sysvol: Sysvol) -> None:
    for step in steps:
        _apply(step, directory, sysvol)


def _apply(step: Step, directory: GpoDirectory, sysvol: Sysvol) -> None:
    ldap, target = directory.ldap, step.target
    match step.kind:
        case Kind.ADD_OBJECT:
            ldap.add(target, step.value, dict(step.attributes))
        case Kind.REPLACE_ATTRIBUTE:
            ldap.modify(target, {step.attribute: [(MODIFY_REPLACE, [step.value])]})
        case Kind.REPLACE_DESCRIPTOR:
            ldap.modify(target, {"nTSecurityDescriptor": [(MODIFY_REPLACE, [step.data])]},
                        sd_flags=SD_OWNER_GROUP_DACL)
        case Kind.DENY_APPLY:
            _deny_apply(step, directory)
        case Kind.SWAP_GPLINK:
            _swap_gplink(step, directory)
        case Kind.DELETE_OBJECT:
            ldap.delete(target)
        case Kind.MAKE_FOLDER:
            sysvol.mkdir(target)
        case Kind.SET_FOLDER_ACL:
            sysvol.set_security(target, step.data)
        case Kind.DERIVE_FOLDER_ACL:
            object_sd = directory.security_descriptor(step.value)
            sysvol.set_security(target, folder_security_descriptor(object_sd).render())
        case Kind.WRITE_FILE:
            sysvol.write(target, step.data)
        case Kind.REWRITE_FILE:
            data = sysvol.read(target)
            if data is not None:
                sysvol.write(target, data)
        case Kind.REMOVE_FILE:
            sysvol.remove(target)
        case Kind.DELETE_FOLDER:
            sysvol.delete_tree(target)
        case _:
            assert_never(step.kind)


def _deny_apply(step: Step, directory: GpoDirectory) -> None:
    """The deny ACEs added to the descriptor as it is now (a new GPO's exists only once the DC made it)."""
    try:
        current = parse_security_descriptor(directory.security_descriptor(step.target),
                                            f"the nTSecurityDescriptor of {step.target}")
    except GpoFormatError as exc:
        raise GpoStoreError(f"{exc.message}; the domain controllers were not denied Apply Group Policy") from None
    wanted = with_apply_denied(current, step.value.split(","))
    if wanted is not current:
        directory.ldap.modify(step.target, {"nTSecurityDescriptor": [(MODIFY_REPLACE, [wanted.render()])]},
                              sd_flags=SD_OWNER_GROUP_DACL)


def _swap_gplink(step: Step, directory: GpoDirectory) -> None:
    changes: list[tuple[str, list[str]]] = []
    if step.previous is not None:
        changes.append((MODIFY_DELETE, [step.previous]))
    if step.value:
        changes.append((MODIFY_ADD, [step.value]))
    try:
        directory.ldap.modify(step.target, {"gPLink": changes})
    except DomainError as exc:
        if exc.result_code in _GPLINK_RACE:
            raise GpoStoreError(f"the gPLink of {step.target} changed while this run updated it; no "
                                "other link was touched, run again") from None
        raise
