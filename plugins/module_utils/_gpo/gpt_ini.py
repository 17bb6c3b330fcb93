# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPT.INI and the GPO's version number: user version in the high 16 bits, computer version in the low 16.
"""
from __future__ import annotations

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoInputError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import SECTION_HEADER


def parse_gpt_ini_version(data: bytes) -> int:
    """Version= from the [General] section of GPT.INI."""
    text = data.decode("latin-1")
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        header = SECTION_HEADER.match(stripped)
        if header:
            section = header.group(1).strip().lower()
        elif section == "general" and stripped.lower().startswith("version"):
            key, sep, value = stripped.partition("=")
            if sep and key.strip().lower() == "version":
                try:
                    version = int(value.strip())
                except ValueError:
                    raise GpoFormatError(f"GPT.INI Version is not a number: {value.strip()[:20]!r}") from None
                if not 0 <= version <= 0xFFFFFFFF:
                    raise GpoFormatError(f"GPT.INI Version {version} is out of range")
                return version
    raise GpoFormatError("GPT.INI has no [General] Version")


def render_gpt_ini(version: int, current: bytes | None = None) -> bytes:
    """GPT.INI with Version set; other lines of an existing file (displayName=, ...) are kept."""
    if current is None:
        return f"[General]\r\nVersion={version}\r\n".encode("ascii")
    lines = current.decode("latin-1").splitlines()
    section = None
    for index, line in enumerate(lines):
        header = SECTION_HEADER.match(line.strip())
        if header:
            section = header.group(1).strip().lower()
        elif section == "general" and line.partition("=")[0].strip().lower() == "version":
            lines[index] = f"Version={version}"
            break
    else:
        raise GpoFormatError("GPT.INI has no [General] Version")
    return "".join(line + "\r\n" for line in lines).encode("latin-1")


def split_version(version: int) -> tuple[int, int]:
    """(user, computer): the user version is the high 16 bits, the computer version the low 16 bits."""
    return version >> 16, version & 0xFFFF


def join_version(user: int, computer: int) -> int:
    if not (0 <= user <= 0xFFFF and 0 <= computer <= 0xFFFF):
        raise GpoInputError(f"GPO version halves out of range: user {user}, computer {computer}")
    return (user << 16) | computer


def plan_version(ldap_version: int, gpt_version: int | None, pending: int | None, content_changes: bool) -> int:
    """The version the GPO must end at after this run, given what an interrupted run may have left.

    pending is the target an earlier run recorded before writing files (-1 when its record is
    unreadable), None when no run was interrupted. A target no client can have seen yet is reused,
    so one logical change moves the computer version by exactly one even across crashes.
    """
    versions = [ldap_version] + ([gpt_version] if gpt_version is not None else [])
    user = max(split_version(v)[0] for v in versions)
    published = max(split_version(v)[1] for v in versions)
    reserved = split_version(pending)[1] if pending is not None and pending >= 0 else None
    if content_changes or (pending is not None and reserved is None):
        computer = reserved if reserved is not None and reserved > published else published + 1
    elif reserved is not None:
        computer = max(reserved, published)
    else:
        computer = published
    if computer > 0xFFFF:
        raise GpoInputError("the GPO's computer version is at its maximum (65535); create a new GPO")
    return join_version(user, computer)


def readable_version(data: bytes | None) -> int | None:
    """GPT.INI's version; None when missing or unreadable (it is rewritten then)."""
    if data is None:
        return None
    try:
        return parse_gpt_ini_version(data)
    except GpoFormatError:
        return None


def render_gpt_ini_over(version: int, current: bytes | None) -> bytes:
    """GPT.INI with Version set, keeping the other lines of a readable current file."""
    if current is not None and readable_version(current) is not None:
        return render_gpt_ini(version, current)
    return render_gpt_ini(version)


def pending_version(data: bytes | None) -> int | None:
    """The version an interrupted run meant to publish; -1 when its record is unreadable."""
    if data is None:
        return None
    try:
        return int(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return -1
