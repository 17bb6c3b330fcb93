# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GptTmpl.inf (Security Settings): sections of entry lines, parsed and rendered as Windows and Samba read them.

Format: MS-GPSB 2.2 (Security Template file).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError

BOM_UTF16LE: Final = b"\xff\xfe"
# Windows' order (and the order Samba's GptTmplInfParser writes back); unknown sections follow.
INF_SECTION_ORDER: Final = (
    "Unicode", "Version", "System Access", "Kerberos Policy", "System Log", "Security Log",
    "Application Log", "Event Audit", "Registry Values", "Privilege Rights", "Service General Setting",
    "Registry Keys", "File Security", "Group Membership",
)
INF_FIXED_SECTIONS: Final = {
    "unicode": ["Unicode=yes"],
    "version": ['signature="$CHICAGO$"', "Revision=1"],
}
SYSTEM_ACCESS: Final = "System Access"
REGISTRY_VALUES: Final = "Registry Values"
SERVICES: Final = "Service General Setting"
# Lists of SIDs, which Samba (and Windows) write as 'key = *SID,*SID': rendered that way, whatever was read.
SID_LIST_SECTIONS: Final = ("privilege rights", "group membership")
# Restricted Groups "Members" of BUILTIN\Administrators replaces that group's members on every host it reaches.
REPLACING_ADMINISTRATORS: Final = ("*s-1-5-32-544__members", "s-1-5-32-544__members", "administrators__members")
SECTION_HEADER = re.compile(r"^\[([^\[\]]+)\]$")
_SERVICE_LINE = re.compile(r'^"([^"]+)"\s*,\s*(\d+)\s*,(.*)$')


@dataclass
class InfDocument:
    """GptTmpl.inf as sections of entry lines; entries the policy does not manage pass through unchanged."""

    sections: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> InfDocument:
        if not data.startswith(BOM_UTF16LE):
            raise GpoFormatError("GptTmpl.inf is not UTF-16LE with a byte-order mark")
        try:
            text = data[len(BOM_UTF16LE):].decode("utf-16-le")
        except UnicodeDecodeError as exc:
            raise GpoFormatError(f"GptTmpl.inf is not valid UTF-16LE at byte {exc.start + 2}") from None
        doc = cls()
        current: list[str] | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue  # Windows' INF reader skips blank lines; they carry nothing
            header = SECTION_HEADER.match(line)
            if header:
                current = doc._section(header.group(1).strip(), create=True)
                continue
            if current is None:
                raise GpoFormatError(f"GptTmpl.inf line {number} is outside any [section]: {line[:60]!r}")
            current.append(line)
        if "unicode" not in {name.lower() for name in doc.sections}:
            raise GpoFormatError("GptTmpl.inf has no [Unicode] section")
        return doc

    def render(self) -> bytes:
        """UTF-16LE with BOM, CRLF, sections in Windows' order, no blank lines (Samba's parser needs that).

        GpoFormatError when [Group Membership] sets the members of BUILTIN\\Administrators: that line would
        empty every linked host's local Administrators but the listed ones, and is never written.
        """
        out: list[str] = []
        known = {name.lower(): name for name in INF_SECTION_ORDER}
        present = {name.lower(): name for name in self.sections}
        for lower, name in known.items():
            lines = INF_FIXED_SECTIONS.get(lower) or self.sections.get(present.get(lower, ""), [])
            if lines:
                out.append(f"[{name}]")
                out.extend(_canonical(name, line) for line in lines)
        for name, lines in self.sections.items():
            if name.lower() not in known and lines:
                out.append(f"[{name}]")
                out.extend(lines)
        return BOM_UTF16LE + "".join(line + "\r\n" for line in out).encode("utf-16-le")

    def _section(self, name: str, *, create: bool) -> list[str]:
        for existing, lines in self.sections.items():
            if existing.lower() == name.lower():
                return lines  # a repeated header continues the section, as Windows reads it
        lines = []
        if create:
            self.sections[name] = lines
        return lines

    def get(self, section: str, key: str) -> str | None:
        """The value of key in section in file syntax ('0', '4,0', or a service's start mode)."""
        for line in self._section(section, create=False):
            parsed = _inf_entry(section, line)
            if parsed and parsed[0].lower() == key.lower():
                return parsed[1]
        return None

    def set(self, section: str, key: str, value: str | None) -> None:
        """Set key to value in place (appended when new); None removes it. A service keeps its SDDL."""
        lines = self._section(section, create=value is not None)
        kept: list[str] = []
        done = value is None
        for line in lines:
            parsed = _inf_entry(section, line)
            if not parsed or parsed[0].lower() != key.lower():
                kept.append(line)
            elif not done and value is not None:
                kept.append(_inf_line(section, parsed[0], value, parsed[2]))
                done = True
        if not done and value is not None:
            kept.append(_inf_line(section, key, value, '""'))
        lines[:] = kept

    def lines_not_in(self, other: InfDocument) -> list[str]:
        """'[Section] line' for each entry of self that other does not hold (the same key and value, however
        either is spaced), fixed sections left out."""
        def entries(doc: InfDocument) -> set[tuple[str, str]]:
            return {(name.lower(), _comparable(name, line)) for name, lines in doc.sections.items()
                    if name.lower() not in INF_FIXED_SECTIONS for line in lines}
        theirs = entries(other)
        return [f"[{name}] {line}" for name, lines in self.sections.items() if name.lower() not in INF_FIXED_SECTIONS
                for line in lines if (name.lower(), _comparable(name, line)) not in theirs]

    def settings(self) -> dict[str, list[str]]:
        """Comparable content: section (lower case) -> lines, empty and fixed sections left out."""
        return {name.lower(): list(lines) for name, lines in self.sections.items()
                if lines and name.lower() not in INF_FIXED_SECTIONS}


def _canonical(section: str, line: str) -> str:
    """A SID-list line as Samba writes it back ('key = *S-1,*S-2'); other lines as they are."""
    if section.lower() not in SID_LIST_SECTIONS:
        return line
    key, sep, value = line.partition("=")
    if not sep:
        return line
    key = key.strip()
    if section.lower() == "group membership" and key.lower() in REPLACING_ADMINISTRATORS:
        raise GpoFormatError(f"GptTmpl.inf [Group Membership] holds {key}, which replaces the members of "
                             "BUILTIN\\Administrators on every host the GPO reaches; this collection never writes "
                             "that line. Remove it (Restricted Groups in the Group Policy editor), then run again")
    return f"{key} = " + ",".join(item.strip() for item in value.split(","))


def _comparable(section: str, line: str) -> str:
    parsed = _inf_entry(section, line)
    return f"{parsed[0].lower()}={parsed[1]},{parsed[2]}" if parsed else line


def _inf_entry(section: str, line: str) -> tuple[str, str, str] | None:
    """(key, value, rest) of an entry line; rest is a service's SDDL field. None for other lines."""
    if section.lower() == SERVICES.lower():
        match = _SERVICE_LINE.match(line)
        return (match.group(1), match.group(2), match.group(3).strip()) if match else None
    key, sep, value = line.partition("=")
    return (key.strip(), value.strip(), "") if sep else None


def _inf_line(section: str, key: str, value: str, rest: str) -> str:
    if section.lower() == SERVICES.lower():
        return f'"{key}",{value},{rest or chr(34) * 2}'
    if section.lower() == REGISTRY_VALUES.lower():
        return f"{key}={value}"  # registry paths may hold spaces, so no padding around '='
    return f"{key} = {value}"
