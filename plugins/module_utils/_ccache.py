# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MIT file ccaches (format version 4), read linearly, and the service tickets in them in the shape impacket's
kerberosLogin(TGS=...) takes. No I/O: _kerberos reads the files kinit and kvno write."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

ETYPE_NAMES: Final[dict[int, str]] = {
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    23: "rc4-hmac",
    3: "des-cbc-md5",
    1: "des-cbc-crc",
}


@dataclass(frozen=True)
class ServiceTicket:
    """A service ticket, with `tgs` in the shape impacket's kerberosLogin(TGS=...) takes."""

    spn: str
    session_etype: str
    ticket_etype: str
    tgs: dict[str, Any]
    client: str = ""  # the ticket's own principal, user@REALM


@dataclass(frozen=True)
class CachedCredential:
    """One credential of an MIT file ccache (format version 4), as far as a service ticket needs."""

    client: tuple[int, str, tuple[str, ...]]  # name type, realm, components
    server: tuple[int, str, tuple[str, ...]]
    keytype: int
    key: bytes
    ticket: bytes

    @property
    def server_name(self) -> str:
        return "/".join(self.server[2]) + "@" + self.server[1]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ValueError("truncated ccache")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def u8(self) -> int:
        return int(self.take(1)[0])

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def counted(self) -> bytes:
        return self.take(self.u32())

    def principal(self) -> tuple[int, str, tuple[str, ...]]:
        name_type, count = self.u32(), self.u32()
        realm = self.counted().decode("utf-8", "replace")
        return name_type, realm, tuple(self.counted().decode("utf-8", "replace") for _component in range(count))


def parse_ccache(data: bytes) -> list[CachedCredential]:
    """The credentials of an MIT file ccache, version 4 (what MIT writes). Linear in the file size:
    impacket's own parser copies the rest of the file at every field and needs seconds and hundreds
    of MB for a few hundred tickets."""
    reader = _Reader(data)
    if reader.u16() != 0x0504:
        raise ValueError("not a version 4 ccache")
    reader.take(reader.u16())  # header tags (KDC time offset)
    reader.principal()  # the default principal
    found = []
    while reader.at < len(data):
        client, server = reader.principal(), reader.principal()
        keytype = reader.u16()
        key = reader.counted()
        reader.take(16 + 1 + 4)  # auth/start/end/renew times, is_skey, ticket flags
        for _address in range(reader.u32()):
            reader.u16()
            reader.counted()
        for _authdata in range(reader.u32()):
            reader.u16()
            reader.counted()
        ticket = reader.counted()
        reader.counted()  # second ticket
        found.append(CachedCredential(client, server, keytype, key, ticket))
    return found


def service_ticket(cred: CachedCredential) -> ServiceTicket:
    """What impacket's CCache Credential.toTGS() makes, from our parse: a TGS_REP around the ticket
    (impacket reads only the ticket and client name from it) and the session key."""
    from impacket.krb5 import crypto, types
    from impacket.krb5.asn1 import TGS_REP, seq_set
    from pyasn1.codec.der import encoder

    ticket = types.Ticket()
    ticket.from_asn1(cred.ticket)
    rep = TGS_REP()
    rep["pvno"] = 5
    rep["msg-type"] = 13  # TGS-REP
    rep["crealm"] = cred.client[1]
    rep["enc-part"]["etype"] = 1
    rep["enc-part"]["cipher"] = b""
    client = types.Principal("/".join(cred.client[2]), type=cred.client[0])
    seq_set(rep, "cname", client.components_to_asn1)
    seq_set(rep, "ticket", ticket.to_asn1)
    cipher = crypto._enctype_table[cred.keytype]()
    etype = int(ticket.encrypted_part.etype)
    return ServiceTicket(
        spn=cred.server_name,
        session_etype=ETYPE_NAMES.get(cred.keytype, str(cred.keytype)),
        ticket_etype=ETYPE_NAMES.get(etype, str(etype)),
        tgs={"KDC_REP": encoder.encode(rep), "cipher": cipher, "sessionKey": crypto.Key(cipher.enctype, cred.key)},
        client="/".join(cred.client[2]) + "@" + cred.client[1],
    )
