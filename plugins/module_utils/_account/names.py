# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules a scanner account name must follow to be a sAMAccountName the vendor lets it use."""
from __future__ import annotations

from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DEFAULT_ACCOUNT

RESERVED_NAMES: Final = frozenset({"qualys"})  # the scanning vendor keeps this one for itself
SAM_MAX_LENGTH: Final = 20  # user sAMAccountNames (pre-Windows 2000 logon names)
SAM_FORBIDDEN: Final = frozenset('"/\\[]:;|=,+*?<>@')
# A group's sAMAccountName may hold 256 characters, but the group is created as CN=<name>, and AD's cn holds 64.
GROUP_MAX_LENGTH: Final = 64


def name_problem(name: str) -> str | None:
    """Why name cannot be the scanner's sAMAccountName, or None when it can."""
    if not name:
        return "name is empty"
    if name.lower() in RESERVED_NAMES:
        return f"name {name!r} is reserved by the scanning vendor; choose another, e.g. {DEFAULT_ACCOUNT}"
    if len(name) > SAM_MAX_LENGTH:
        return f"name {name!r} is {len(name)} characters; a sAMAccountName holds at most {SAM_MAX_LENGTH}"
    return sam_name_problem("name", name)


def sam_name_problem(label: str, value: str) -> str | None:
    """What a user's and a group's sAMAccountName both cannot be; `label` names the option in the message."""
    bad = sorted({c for c in value if c in SAM_FORBIDDEN or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return f"{label} {value!r} contains characters a sAMAccountName cannot hold: {shown}"
    if value != value.strip():
        return f"{label} {value!r} begins or ends with a space"
    if set(value) <= {"."}:
        return f"{label} {value!r} consists only of periods"
    if value.endswith("$"):
        return f"{label} {value!r} ends with '$', which marks computer accounts"
    return None


def group_name_problem(group: str, account: str) -> str | None:
    """Why group cannot be the scanner group's name (its sAMAccountName and CN), or None when it can."""
    if not group:
        return "scanner_group is empty"
    if len(group) > GROUP_MAX_LENGTH:
        return (f"scanner_group {group!r} is {len(group)} characters; the group is created as CN={group[:8]}..., "
                f"and a CN holds at most {GROUP_MAX_LENGTH}")
    problem = sam_name_problem("scanner_group", group)
    if problem:
        return problem
    if group.lower() == account.lower():
        return f"scanner_group {group!r} is the account's own name; users and groups share sAMAccountNames"
    return None
