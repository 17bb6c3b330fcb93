# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The writes a run makes, as data: the planner returns them in order, the executor applies them."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a step does; target is a DN for the directory's kinds and a path on the share for the others."""

    ADD_OBJECT = "add object"  # value: object class; attributes: the new object's
    REPLACE_ATTRIBUTE = "replace attribute"  # attribute, value
    REPLACE_DESCRIPTOR = "replace descriptor"  # data: nTSecurityDescriptor (owner, group, DACL)
    DENY_APPLY = "deny apply"  # value: SIDs, comma-separated, denied Apply Group Policy in the descriptor read then
    SWAP_GPLINK = "swap gPLink"  # previous: the gPLink read (None: none); value: the new one ('': none)
    DELETE_OBJECT = "delete object"
    MAKE_FOLDER = "make folder"
    SET_FOLDER_ACL = "set folder ACL"  # data: the descriptor
    DERIVE_FOLDER_ACL = "derive folder ACL"  # value: DN of the GPO whose descriptor the folder's derives from
    WRITE_FILE = "write file"  # data: the bytes
    REWRITE_FILE = "rewrite file"  # with its own bytes, so it is a new file that inherits the folder's ACL
    REMOVE_FILE = "remove file"
    DELETE_FOLDER = "delete folder"  # with everything in it


@dataclass(frozen=True)
class Step:
    action: str  # what the administrator reads in `actions`
    kind: Kind
    target: str
    value: str = ""
    data: bytes = b""
    attribute: str = ""
    previous: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
