# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules a scanner account name must follow to be a sAMAccountName the vendor lets it use."""
from __future__ import annotations

from typing import Final

DEFAULT_NAME: Final = "qualys_scanner"
RESERVED_NAMES: Final = frozenset({"qualys"})  # the scanning vendor keeps this one for itself
SAM_MAX_LENGTH: Final = 20  # user sAMAccountNames (pre-Windows 2000 logon names)
SAM_FORBIDDEN: Final = frozenset('"/\\[]:;|=,+*?<>@')


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
