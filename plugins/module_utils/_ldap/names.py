# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names in the directory: the domain's base DN, escaped filter and RDN values, SIDs as text."""
from __future__ import annotations

import re
import struct

from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import CONFIG, DomainError


def base_dn_for(domain: str) -> str:
    """lab1.example.test -> DC=lab1,DC=example,DC=test"""
    labels = [label for label in domain.strip().rstrip(".").split(".") if label]
    if not labels:
        raise DomainError(f"domain {domain!r} is not a DNS domain name", CONFIG)
    return ",".join(f"DC={label}" for label in labels)


def escape_filter(value: str) -> str:
    """Escape a value inside an LDAP filter (RFC 4515)."""
    return "".join(f"\\{ord(char):02x}" if char in "\\*()\0" else char for char in value)


def escape_rdn(value: str) -> str:
    """Escape an RDN value (RFC 4514)."""
    out = "".join(f"\\{char}" if char in ',+"\\<>;=' else char for char in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def sid_to_str(raw: bytes) -> str:
    """Binary objectSid -> S-1-5-21-..."""
    if len(raw) < 8:
        raise ValueError("objectSid too short")
    revision, count = raw[0], raw[1]
    if len(raw) != 8 + 4 * count:
        raise ValueError("objectSid length does not match its sub-authority count")
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{count}I", raw[8:])
    return "-".join(["S", str(revision), str(authority), *map(str, subs)])


def normalize_dn(dn: str) -> str:
    """Case and spacing folded, so 'cn=X, DC=a' and 'CN=X,DC=a' compare equal."""
    parts = _split_dn(dn)
    return ",".join(f"{attr.lower()}={value.lower()}" for attr, value in parts)


def _split_dn(dn: str) -> list[tuple[str, str]]:
    """RFC 4514 RDNs of dn (single-valued, as AD containers are); DomainError (CONFIG) when malformed."""
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
                raise DomainError(f"{dn!r} is not a distinguished name", CONFIG)
            parts.append((attr.strip(), value.strip()))
            current = ""
        else:
            current += char
    return parts


def check_dn(dn: str) -> str:
    """dn itself when it is a well-formed distinguished name, else DomainError (CONFIG)."""
    _split_dn(dn)
    return dn.strip()


def dn_is_within(dn: str, base_dn: str) -> bool:
    """Whether dn is base_dn or lies below it (names compared as the directory compares them)."""
    return normalize_dn(dn) == normalize_dn(base_dn) or normalize_dn(dn).endswith("," + normalize_dn(base_dn))
