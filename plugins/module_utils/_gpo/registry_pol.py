# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry.pol (Administrative Templates): the PReg v1 format (MS-GPREG 2.2).
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError

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


def pol_set(entries: Sequence[PolEntry], key: str, value: str, reg_type: int, data: bytes | None,
            followers: Sequence[tuple[str, str]] = ()) -> list[PolEntry]:
    """A copy with key\\value set in place; data None removes it. A new entry goes before the first entry
    that is one of `followers` (the managed values that come after it), else at the end, so that a GPO
    holds its managed values in one order whichever of them were written first."""
    out: list[PolEntry] = []
    done = data is None
    for entry in entries:
        if not done and data is not None and any(entry.same_value(*follower) for follower in followers):
            out.append(PolEntry(key, value, reg_type, data))
            done = True
        if not entry.same_value(key, value):
            out.append(entry)
        elif not done and data is not None:
            out.append(PolEntry(entry.key, entry.value, reg_type, data))
            done = True
    if not done and data is not None:
        out.append(PolEntry(key, value, reg_type, data))
    return out
