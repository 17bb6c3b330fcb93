# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a group policy object is made of, without any I/O.

GptTmpl.inf (Security Settings), Registry.pol (Administrative Templates), GPT.INI, the version
arithmetic, gPLink and gPCMachineExtensionNames values, the SYSVOL folder's security descriptor,
the scan policy's settings model and its settings-level diff. Formats: WINDOWS-FACTS.md §1-3,
MS-GPSB, MS-GPREG, MS-GPOL. Everything here is pure so unit tests reach it without a domain.
"""
from __future__ import annotations

import ipaddress
import re
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._acl import SecurityDescriptor


class GpoFormatError(ValueError):
    """A file or attribute of a GPO that does not parse."""


class GpoInputError(ValueError):
    """An operator input that cannot be turned into a policy."""


# ---------------------------------------------------------------------------------------------
# GptTmpl.inf

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
_SECTION_HEADER = re.compile(r"^\[([^\[\]]+)\]$")
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
            header = _SECTION_HEADER.match(line)
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
        """UTF-16LE with BOM, CRLF, sections in Windows' order, no blank lines (Samba's parser needs that)."""
        out: list[str] = []
        known = {name.lower(): name for name in INF_SECTION_ORDER}
        present = {name.lower(): name for name in self.sections}
        for lower, name in known.items():
            lines = INF_FIXED_SECTIONS.get(lower) or self.sections.get(present.get(lower, ""), [])
            if lines:
                out.append(f"[{name}]")
                out.extend(lines)
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

    def settings(self) -> dict[str, list[str]]:
        """Comparable content: section (lower case) -> lines, empty and fixed sections left out."""
        return {name.lower(): list(lines) for name, lines in self.sections.items()
                if lines and name.lower() not in INF_FIXED_SECTIONS}


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


# ---------------------------------------------------------------------------------------------
# Registry.pol

POL_SIGNATURE: Final = b"PReg"
POL_VERSION: Final = 1
REG_SZ: Final = 1
REG_DWORD: Final = 4
_OPEN, _SEMI, _CLOSE = "[".encode("utf-16-le"), ";".encode("utf-16-le"), "]".encode("utf-16-le")


@dataclass(frozen=True)
class PolEntry:
    key: str
    value: str
    type: int
    data: bytes

    def same_value(self, key: str, value: str) -> bool:
        return self.key.lower() == key.lower() and self.value.lower() == value.lower()

    def display(self) -> str:
        if self.type == REG_DWORD and len(self.data) == 4:
            return str(struct.unpack("<I", self.data)[0])
        if self.type == REG_SZ:
            return self.data.decode("utf-16-le", "replace").rstrip("\0")
        return self.data.hex()


def dword(value: int) -> bytes:
    return struct.pack("<I", value)


def reg_sz(value: str) -> bytes:
    return (value + "\0").encode("utf-16-le")


def parse_registry_pol(data: bytes) -> list[PolEntry]:
    """PReg v1: header, then [key;value;type;size;data] entries with UTF-16LE delimiters (MS-GPREG 2.2)."""
    if len(data) < 8 or data[:4] != POL_SIGNATURE:
        raise GpoFormatError("Registry.pol does not start with the PReg signature")
    version = struct.unpack_from("<I", data, 4)[0]
    if version != POL_VERSION:
        raise GpoFormatError(f"Registry.pol has version {version}, not {POL_VERSION}")
    entries: list[PolEntry] = []
    pos = 8
    while pos < len(data):
        start = pos
        pos = _expect(data, pos, _OPEN, start)
        key, pos = _read_string(data, pos, start)
        pos = _expect(data, pos, _SEMI, start)
        value, pos = _read_string(data, pos, start)
        pos = _expect(data, pos, _SEMI, start)
        if pos + 12 > len(data):
            raise GpoFormatError(f"Registry.pol entry at byte {start} is truncated")
        reg_type = struct.unpack_from("<I", data, pos)[0]
        pos = _expect(data, pos + 4, _SEMI, start)
        size = struct.unpack_from("<I", data, pos)[0]
        pos = _expect(data, pos + 4, _SEMI, start)
        if pos + size > len(data):
            raise GpoFormatError(f"Registry.pol entry at byte {start} claims {size} data bytes past the end")
        payload = data[pos:pos + size]
        pos = _expect(data, pos + size, _CLOSE, start)
        entries.append(PolEntry(key, value, reg_type, payload))
    return entries


def _expect(data: bytes, pos: int, token: bytes, start: int) -> int:
    if data[pos:pos + len(token)] != token:
        raise GpoFormatError(f"Registry.pol entry at byte {start} is malformed at byte {pos}")
    return pos + len(token)


def _read_string(data: bytes, pos: int, start: int) -> tuple[str, int]:
    """A null-terminated UTF-16LE string starting at pos (aligned to 2 bytes from the entry's start)."""
    end = pos
    while end + 1 < len(data) and data[end:end + 2] != b"\0\0":
        end += 2
    if end + 1 >= len(data):
        raise GpoFormatError(f"Registry.pol entry at byte {start} has an unterminated name")
    try:
        return data[pos:end].decode("utf-16-le"), end + 2
    except UnicodeDecodeError:
        raise GpoFormatError(f"Registry.pol entry at byte {start} has a name that is not UTF-16LE") from None


def render_registry_pol(entries: Iterable[PolEntry]) -> bytes:
    out = [POL_SIGNATURE, struct.pack("<I", POL_VERSION)]
    for entry in entries:
        out += [_OPEN, (entry.key + "\0").encode("utf-16-le"), _SEMI, (entry.value + "\0").encode("utf-16-le"),
                _SEMI, struct.pack("<I", entry.type), _SEMI, struct.pack("<I", len(entry.data)), _SEMI,
                entry.data, _CLOSE]
    return b"".join(out)


def pol_get(entries: Sequence[PolEntry], key: str, value: str) -> PolEntry | None:
    return next((entry for entry in entries if entry.same_value(key, value)), None)


def pol_set(entries: Sequence[PolEntry], key: str, value: str, reg_type: int, data: bytes | None) -> list[PolEntry]:
    """A copy with key\\value set in place (appended when new); data None removes it."""
    out: list[PolEntry] = []
    done = data is None
    for entry in entries:
        if not entry.same_value(key, value):
            out.append(entry)
        elif not done and data is not None:
            out.append(PolEntry(entry.key, entry.value, reg_type, data))
            done = True
    if not done and data is not None:
        out.append(PolEntry(key, value, reg_type, data))
    return out


# ---------------------------------------------------------------------------------------------
# GPT.INI and the version number

def parse_gpt_ini_version(data: bytes) -> int:
    """Version= from the [General] section of GPT.INI."""
    text = data.decode("latin-1")
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        header = _SECTION_HEADER.match(stripped)
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
        header = _SECTION_HEADER.match(line.strip())
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


# ---------------------------------------------------------------------------------------------
# gPLink and gPCMachineExtensionNames

GPLINK_DISABLED: Final = 1
GPLINK_ENFORCED: Final = 2


@dataclass(frozen=True)
class GpLink:
    dn: str
    options: int

    def points_to(self, gpo_dn: str) -> bool:
        return normalize_dn(self.dn) == normalize_dn(gpo_dn)


def parse_gplink(value: str) -> list[GpLink]:
    """'[LDAP://cn={GUID},cn=policies,...;0][LDAP://...;2]' -> links in stored order."""
    links: list[GpLink] = []
    rest = value.strip()
    while rest:
        match = re.match(r"\[LDAP://([^;\]]+);\s*(\d+)\s*\]", rest, re.IGNORECASE)
        if not match:
            raise GpoFormatError(f"malformed gPLink near {rest[:80]!r}")
        links.append(GpLink(match.group(1), int(match.group(2))))
        rest = rest[match.end():].lstrip()
    return links


def render_gplink(links: Iterable[GpLink]) -> str:
    return "".join(f"[LDAP://{link.dn};{link.options}]" for link in links)


def with_link(links: Sequence[GpLink], gpo_dn: str, options: int) -> list[GpLink]:
    """Links with gpo_dn's options set; a new link goes first, as samba-tool gpo setlink places it."""
    if any(link.points_to(gpo_dn) for link in links):
        return [GpLink(link.dn, options) if link.points_to(gpo_dn) else link for link in links]
    return [GpLink(gpo_dn, options), *links]


def without_link(links: Sequence[GpLink], gpo_dn: str) -> list[GpLink]:
    return [link for link in links if not link.points_to(gpo_dn)]


def normalize_dn(dn: str) -> str:
    """Case and spacing folded, so 'cn=X, DC=a' and 'CN=X,DC=a' compare equal."""
    parts = _split_dn(dn)
    return ",".join(f"{attr.lower()}={value.lower()}" for attr, value in parts)


def _split_dn(dn: str) -> list[tuple[str, str]]:
    """RFC 4514 RDNs of dn (single-valued, as AD containers are); GpoInputError when malformed."""
    parts: list[tuple[str, str]] = []
    current = ""
    escaped = False
    for char in dn.strip() + ",":
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == ",":
            attr, sep, value = current.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", attr.strip()) or not value.strip():
                raise GpoInputError(f"{dn!r} is not a distinguished name")
            parts.append((attr.strip(), value.strip()))
            current = ""
        else:
            current += char
    return parts


def check_dn(dn: str) -> str:
    """dn itself when it is a well-formed distinguished name, else GpoInputError."""
    _split_dn(dn)
    return dn.strip()


def dn_is_within(dn: str, base_dn: str) -> bool:
    return normalize_dn(dn) == normalize_dn(base_dn) or normalize_dn(dn).endswith("," + normalize_dn(base_dn))


REGISTRY_CSE: Final = ("{35378EAC-683F-11D2-A89A-00C04FBBCFA2}", "{D02B1F72-3407-48AE-BA88-E8213C6761F1}")
SECURITY_CSE: Final = ("{827D319E-6EAC-11D2-A4EA-00C04F79F83A}", "{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}")
_GUID = r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}"


def parse_extension_names(value: str) -> dict[str, list[str]]:
    """'[{CSE}{tool}...][...]' -> {CSE: [tools]} (GUIDs upper case)."""
    result: dict[str, list[str]] = {}
    rest = value.strip()
    while rest:
        match = re.match(rf"\[((?:{_GUID})+)\]", rest)
        if not match:
            raise GpoFormatError(f"malformed gPCMachineExtensionNames near {rest[:80]!r}")
        guids = [guid.upper() for guid in re.findall(_GUID, match.group(1))]
        tools = result.setdefault(guids[0], [])
        tools.extend(tool for tool in guids[1:] if tool not in tools)
        rest = rest[match.end():].lstrip()
    return result


def render_extension_names(extensions: Mapping[str, Sequence[str]]) -> str:
    """Sorted by CSE GUID, tools sorted, upper case: the order Windows requires (MS-GPOL 2.2.4)."""
    return "".join("[" + cse + "".join(sorted(tools)) + "]" for cse, tools in sorted(extensions.items()))


def with_extension(extensions: Mapping[str, Sequence[str]], cse: tuple[str, str],
                   present: bool) -> dict[str, list[str]]:
    """A copy with the (CSE, tool) pair listed when present, and the CSE dropped when not."""
    result = {name: list(tools) for name, tools in extensions.items()}
    name, tool = cse
    if present:
        tools = result.setdefault(name, [])
        if tool not in tools:
            tools.append(tool)
    else:
        result.pop(name, None)
    return result


# ---------------------------------------------------------------------------------------------
# The SYSVOL folder's security descriptor: Samba's dsacl2fsacl on binary descriptors.

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


# ---------------------------------------------------------------------------------------------
# Trust: where a GPO's folder may be, what its default ACL is, what content this collection writes

APPLY_GROUP_POLICY: Final = "edacfd8f-ffb3-11d1-b41d-00a0c968f939"
DS_FULL_CONTROL: Final = 0x000F00FF  # RPWPCCDCLCLORCWOWDSDDTSW
DS_READ: Final = 0x00020094  # RPLCLORC
_GPO_GUID = re.compile(r"^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$", re.IGNORECASE)


def confined_guid(guid: str) -> bool:
    return bool(_GPO_GUID.match(guid))


def confined_folder(file_sys_path: str, domain: str, guid: str) -> str:
    """The GPO's folder on the SYSVOL share when gPCFileSysPath is exactly
    \\\\<domain>\\SysVol\\<domain>\\Policies\\{GUID}
    for this GPO's GUID (any case; no other server, share, '..', '/' or extra part); GpoFormatError otherwise."""
    wanted = ["", "", domain.lower(), "sysvol", domain.lower(), "policies", guid.lower()]
    if not confined_guid(guid) or [part.lower() for part in file_sys_path.split("\\")] != wanted:
        raise GpoFormatError(f"gPCFileSysPath {file_sys_path[:200]!r} is not \\\\{domain}\\SysVol\\{domain}"
                             f"\\Policies\\{guid}")
    return f"{domain.lower()}\\Policies\\{guid.upper()}"


def default_gpo_security_descriptor(domain_sid: str, root_domain_sid: str) -> SecurityDescriptor:
    """The ACL GPMC and Samba give a GPO a Domain Admin creates (WINDOWS-FACTS.md section 9)."""
    admins = f"{domain_sid}-512"
    ci = _acl.CONTAINER_INHERIT
    apply_sid = _acl.sid_to_bytes(_acl.AUTHENTICATED_USERS)
    apply = struct.pack("<BBHII", _acl.ACCESS_ALLOWED_OBJECT, ci, 12 + 16 + len(apply_sid), _acl.DS_CONTROL_ACCESS,
                        _acl.ACE_OBJECT_TYPE_PRESENT) + uuid.UUID(APPLY_GROUP_POLICY).bytes_le + apply_sid
    aces = (
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_FULL_CONTROL, admins),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_FULL_CONTROL, f"{root_domain_sid}-519"),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci | _acl.INHERIT_ONLY, DS_FULL_CONTROL, _acl.CREATOR_OWNER),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_FULL_CONTROL, _acl.SYSTEM),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_READ, _acl.AUTHENTICATED_USERS),
        _acl.parse_ace(apply),
        _acl.make_ace(_acl.ACCESS_ALLOWED, ci, DS_READ, _acl.ENTERPRISE_DOMAIN_CONTROLLERS),
    )
    return SecurityDescriptor(_acl.SE_DACL_PRESENT | _acl.SE_DACL_PROTECTED | _acl.SE_SELF_RELATIVE, admins, admins,
                              aces)


def same_acl(current: SecurityDescriptor, wanted: SecurityDescriptor) -> bool:
    """Owner, group, protection and the same ACEs in any order (the DC may store them in canonical order)."""
    return (current.owner, current.group, current.control & _acl.SE_DACL_PROTECTED,
            sorted(ace.raw for ace in current.dacl if not ace.inherited)) == (
        wanted.owner, wanted.group, wanted.control & _acl.SE_DACL_PROTECTED, sorted(ace.raw for ace in wanted.dacl))


# What this collection writes in a GPO's folder: relative folder -> {entry name (lower case): is a folder}.
OWN_ENTRIES: Final[dict[str, dict[str, bool]]] = {
    "": {"gpt.ini": False, "machine": True, "user": True, "scanready.pending": False},
    "Machine": {"registry.pol": False, "microsoft": True},
    r"Machine\Microsoft": {"windows nt": True},
    r"Machine\Microsoft\Windows NT": {"secedit": True},
    r"Machine\Microsoft\Windows NT\SecEdit": {"gpttmpl.inf": False},
    "User": {},
}


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


# ---------------------------------------------------------------------------------------------
# Scanner addresses

def remote_addresses(addresses: Sequence[str]) -> str:
    """The firewall exceptions' RemoteAddresses: '*' or a comma-separated list of addresses/CIDRs."""
    cleaned = [str(address).strip() for address in addresses]
    if not cleaned:
        raise GpoInputError("scanner_addresses is empty; list the scanner appliances' addresses, or ['*']")
    if "*" in cleaned:
        if len(cleaned) > 1:
            raise GpoInputError("scanner_addresses mixes '*' with addresses; use ['*'] alone or only addresses")
        return "*"
    out: list[str] = []
    for address in cleaned:
        try:
            if "/" in address:
                text = str(ipaddress.ip_network(address, strict=True))
            else:
                text = str(ipaddress.ip_address(address))
        except ValueError as exc:
            if "host bits set" in str(exc):
                network = ipaddress.ip_network(address, strict=False)
                raise GpoInputError(f"scanner_addresses: {address!r} has host bits set; "
                                    f"did you mean {network}?") from None
            raise GpoInputError(f"scanner_addresses: {address!r} is not an IP address or CIDR network") from None
        if text not in out:
            out.append(text)
    return ",".join(out)


# ---------------------------------------------------------------------------------------------
# The scan policy: which settings it manages and how they look in the files

FIREWALL_KEY: Final = r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile"
REMOTE_ADMIN_KEY: Final = FIREWALL_KEY + r"\RemoteAdminSettings"
FILE_PRINT_KEY: Final = FIREWALL_KEY + r"\Services\FileAndPrint"
ICMP_KEY: Final = FIREWALL_KEY + r"\IcmpSettings"
LSA: Final = r"MACHINE\System\CurrentControlSet\Control\Lsa"
SERVICE_MODES: Final = {"2": "Automatic", "3": "Manual", "4": "Disabled"}
NOT_CONFIGURED: Final = "not configured"


@dataclass(frozen=True)
class ScanPolicy:
    """The operator's choices; each setting True = configure it, False = leave it out of the GPO."""

    sharing_model_classic: bool = True
    guest_account_disabled: bool = True
    everyone_includes_anonymous_disabled: bool = True
    remote_registry_automatic: bool = True
    server_automatic: bool = True
    windows_firewall_automatic: bool = True
    firewall_enabled: bool | None = True  # None: the GPO's EnableFirewall is left as it is
    remote_admin_exception: bool = True
    file_print_exception: bool = True
    icmp_echo_exception: bool = True
    scanner_addresses: tuple[str, ...] | None = None

    def needs_addresses(self) -> bool:
        return self.remote_admin_exception or self.file_print_exception

    def remote_addresses(self) -> str | None:
        """Validated RemoteAddresses, or None when no exception needs it."""
        validated = None if self.scanner_addresses is None else remote_addresses(self.scanner_addresses)
        if not self.needs_addresses():
            return None
        if validated is None:
            raise GpoInputError("scanner_addresses is required for the remote administration and file and "
                                "printer sharing exceptions: list the scanner appliances' addresses, or pass "
                                "['*'] to allow every address")
        return validated


@dataclass(frozen=True)
class InfSetting:
    label: str
    section: str
    key: str
    value: str | None  # None: removed from the GPO

    def current(self, doc: InfDocument) -> str | None:
        return doc.get(self.section, self.key)

    def show(self, value: str | None) -> str:
        if value is None:
            return NOT_CONFIGURED
        if self.section == SERVICES:
            return f"{value} ({SERVICE_MODES.get(value, 'unknown')})"
        if self.section == REGISTRY_VALUES:
            return value.partition(",")[2] or value
        return value


@dataclass(frozen=True)
class PolSetting:
    label: str
    key: str
    value_name: str
    type: int
    data: bytes | None  # None: removed from the GPO

    def current(self, entries: Sequence[PolEntry]) -> PolEntry | None:
        return pol_get(entries, self.key, self.value_name)

    def show(self, entry: PolEntry | None) -> str:
        return NOT_CONFIGURED if entry is None else entry.display()


def policy_settings(policy: ScanPolicy) -> list[InfSetting | PolSetting]:
    """Every setting the policy manages, with its wanted value (None = not configured)."""
    def when(flag: bool, value: str) -> str | None:
        return value if flag else None

    def pol(flag: bool, label: str, key: str, name: str, reg_type: int, data: bytes) -> PolSetting:
        return PolSetting(label, key, name, reg_type, data if flag else None)

    addresses = policy.remote_addresses() or ""
    settings: list[InfSetting | PolSetting] = [
        InfSetting("EnableGuestAccount", SYSTEM_ACCESS, "EnableGuestAccount", when(policy.guest_account_disabled, "0")),
        InfSetting("ForceGuest", REGISTRY_VALUES, LSA + r"\ForceGuest", when(policy.sharing_model_classic, "4,0")),
        InfSetting("EveryoneIncludesAnonymous", REGISTRY_VALUES, LSA + r"\EveryoneIncludesAnonymous",
                   when(policy.everyone_includes_anonymous_disabled, "4,0")),
        InfSetting("RemoteRegistry start mode", SERVICES, "RemoteRegistry",
                   when(policy.remote_registry_automatic, "2")),
        InfSetting("LanmanServer start mode", SERVICES, "LanmanServer", when(policy.server_automatic, "2")),
        InfSetting("MpsSvc start mode", SERVICES, "MpsSvc", when(policy.windows_firewall_automatic, "2")),
    ]
    if policy.firewall_enabled is not None:
        settings.append(pol(True, r"DomainProfile\EnableFirewall", FIREWALL_KEY, "EnableFirewall", REG_DWORD,
                            dword(1 if policy.firewall_enabled else 0)))
    settings += [
        pol(policy.remote_admin_exception, r"RemoteAdminSettings\Enabled", REMOTE_ADMIN_KEY, "Enabled",
            REG_DWORD, dword(1)),
        pol(policy.remote_admin_exception, r"RemoteAdminSettings\RemoteAddresses", REMOTE_ADMIN_KEY,
            "RemoteAddresses", REG_SZ, reg_sz(addresses)),
        pol(policy.file_print_exception, r"FileAndPrint\Enabled", FILE_PRINT_KEY, "Enabled", REG_DWORD, dword(1)),
        pol(policy.file_print_exception, r"FileAndPrint\RemoteAddresses", FILE_PRINT_KEY, "RemoteAddresses",
            REG_SZ, reg_sz(addresses)),
        pol(policy.icmp_echo_exception, r"IcmpSettings\AllowInboundEchoRequest", ICMP_KEY,
            "AllowInboundEchoRequest", REG_DWORD, dword(1)),
    ]
    return settings


@dataclass
class GpoContent:
    """The two settings files of the GPO's machine half."""

    inf: InfDocument
    pol: list[PolEntry]

    @classmethod
    def parse(cls, inf: bytes | None, pol: bytes | None) -> GpoContent:
        return cls(InfDocument.parse(inf) if inf else InfDocument(), parse_registry_pol(pol) if pol else [])

    def same_settings(self, other: GpoContent) -> bool:
        return self.inf.settings() == other.inf.settings() and self.pol == other.pol

    def show(self, settings: Sequence[InfSetting | PolSetting]) -> dict[str, str]:
        """label -> value as an administrator reads it, for each managed setting."""
        return {s.label: s.show(s.current(self.inf)) if isinstance(s, InfSetting) else s.show(s.current(self.pol))
                for s in settings}


def apply_policy(content: GpoContent, settings: Sequence[InfSetting | PolSetting]) -> GpoContent:
    """A copy of content with every managed setting at its wanted value; everything else untouched."""
    inf = InfDocument({name: list(lines) for name, lines in content.inf.sections.items()})
    pol = list(content.pol)
    for setting in settings:
        if isinstance(setting, InfSetting):
            inf.set(setting.section, setting.key, setting.value)
        else:
            pol = pol_set(pol, setting.key, setting.value_name, setting.type, setting.data)
    return GpoContent(inf, pol)


def setting_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """'ForceGuest: 1 → 0' for each setting whose shown value differs."""
    return [f"{label}: {before.get(label, NOT_CONFIGURED)} → {value}"
            for label, value in after.items() if before.get(label, NOT_CONFIGURED) != value]


def settings_text(shown: Mapping[str, str]) -> str:
    """The managed settings as lines, for Ansible's before/after diff."""
    return "".join(f"{label}: {value}\n" for label, value in shown.items())


def machine_extensions(current: str, content: GpoContent) -> str:
    """gPCMachineExtensionNames listing the CSEs whose file holds settings; other CSEs kept."""
    extensions = parse_extension_names(current)
    extensions = with_extension(extensions, REGISTRY_CSE, bool(content.pol))
    extensions = with_extension(extensions, SECURITY_CSE, bool(content.inf.settings()))
    return render_extension_names(extensions)
