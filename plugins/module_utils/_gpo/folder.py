# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPO's folder on SYSVOL: where it may be, what this collection writes in it, and what it holds,
read before anything is written and handed back as plain state."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoInputError
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import Sysvol

GPT_INI: Final = "GPT.INI"
REGISTRY_POL: Final = r"Machine\Registry.pol"
SECEDIT_DIR: Final = r"Machine\Microsoft\Windows NT\SecEdit"
GPTTMPL_INF: Final = SECEDIT_DIR + r"\GptTmpl.inf"
PENDING: Final = "scanready.pending"
FOLDERS: Final = ("", "Machine", r"Machine\Microsoft", r"Machine\Microsoft\Windows NT", SECEDIT_DIR, "User")
# What this collection writes in a GPO's folder: relative folder -> {entry name (lower case): is a folder}.
OWN_ENTRIES: Final[dict[str, dict[str, bool]]] = {
    "": {"gpt.ini": False, "machine": True, "user": True, "scanready.pending": False},
    "Machine": {"registry.pol": False, "microsoft": True},
    r"Machine\Microsoft": {"windows nt": True},
    r"Machine\Microsoft\Windows NT": {"secedit": True},
    r"Machine\Microsoft\Windows NT\SecEdit": {"gpttmpl.inf": False},
    "User": {},
}
_GPO_GUID = re.compile(r"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", re.IGNORECASE)


def confined_guid(guid: str) -> bool:
    return bool(_GPO_GUID.fullmatch(guid))  # fullmatch: "$" alone would take a trailing newline


def check_guid(guid: str) -> str:
    """guid itself when it is a GPO GUID in braces, else GpoInputError (it also goes into an LDAP filter)."""
    if not confined_guid(guid):
        raise GpoInputError(f"guid {guid[:60]!r} is not a GPO GUID such as {{31B2F340-016D-11D2-945F-00C04FB984F9}}")
    return guid


def confined_folder(file_sys_path: str, domain: str, guid: str) -> str:
    """The GPO's folder on the SYSVOL share when gPCFileSysPath is exactly
    \\\\<domain>\\SysVol\\<domain>\\Policies\\{GUID}
    for this GPO's GUID (any case; no other server, share, '..', '/' or extra part); GpoFormatError otherwise."""
    wanted = ["", "", domain.lower(), "sysvol", domain.lower(), "policies", guid.lower()]
    if not confined_guid(guid) or [part.lower() for part in file_sys_path.split("\\")] != wanted:
        raise GpoFormatError(f"gPCFileSysPath {file_sys_path[:200]!r} is not \\\\{domain}\\SysVol\\{domain}"
                             f"\\Policies\\{guid}")
    return f"{domain.lower()}\\Policies\\{guid.upper()}"


def join(folder: str, relative: str) -> str:
    return f"{folder}\\{relative}" if relative else folder


@dataclass(frozen=True)
class FolderState:
    """What SYSVOL holds for the GPO, read before anything is written."""

    listings: dict[str, list[tuple[str, bool]] | None]  # relative dir ('' = the GPO folder) -> entries
    security_descriptor: bytes | None
    parent_security_descriptor: bytes | None  # the Policies folder's: what every GPO folder inherits
    inf: bytes | None
    pol: bytes | None
    gpt: bytes | None
    pending: bytes | None

    def has_dir(self, relative: str) -> bool:
        return self.listings.get(relative) is not None

    @classmethod
    def missing(cls) -> FolderState:
        """A GPO being created has no folder yet."""
        return cls({}, None, None, None, None, None, None)


def read_folder(sysvol: Sysvol, folder: str) -> FolderState:
    """The listings of the folders this collection writes, their ACLs and the files it manages."""
    listings: dict[str, list[tuple[str, bool]] | None] = {}

    def listed(relative: str, directory: bool) -> bool:
        parent, _sep, name = relative.rpartition("\\")
        return any(entry.lower() == name.lower() and is_dir == directory for entry, is_dir in
                   listings.get(parent) or [])

    for relative in FOLDERS:  # parents first, so a missing parent spares the look inside it
        listings[relative] = sysvol.listdir(join(folder, relative)) if not relative or listed(relative, True) \
            else None

    def read(relative: str) -> bytes | None:
        return sysvol.read(join(folder, relative)) if listed(relative, False) else None

    exists = listings[""] is not None
    return FolderState(listings, sysvol.get_security(folder) if exists else None,
                       sysvol.get_security(folder.rpartition("\\")[0]) if exists else None,
                       read(GPTTMPL_INF), read(REGISTRY_POL), read(GPT_INI), read(PENDING))
