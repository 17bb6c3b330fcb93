"""The sealed LDAP layer: RFC 4121 wrap tokens and the AP-REP check, NTLM sealing, SASL buffers on the socket.

The peer here is the acceptor side written from RFC 4121 with impacket's crypto profiles, a test double for
the DC's half of the context; the lab's Samba DC is the real peer in tests/integration/test_sealed_ldap.py.
"""
from __future__ import annotations

import datetime
import struct
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._ccache import CachedCredential, service_ticket
from ansible_collections.scanready.windows.plugins.module_utils._ldap.sasl import SealedSocket
from ansible_collections.scanready.windows.plugins.module_utils._ldap.sealing import (
    RRC,
    WRAP_HEADER,
    KerberosSecurity,
    NtlmSecurity,
    SealingError,
    gss_framed,
    rotate_left,
    rotate_right,
)
from impacket.krb5 import constants
from impacket.krb5.asn1 import AP_REP, AP_REQ, Authenticator, EncAPRepPart, Ticket
from impacket.krb5.crypto import Key, _enctype_table
from impacket.krb5.types import KerberosTime
from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp
from pyasn1.codec.der import decoder, encoder
from pyasn1.type.univ import noValue

SESSION_KEY = bytes(range(32))
SUBKEY = bytes(range(100, 132))
AES256 = 18


def ticket_der() -> bytes:
    ticket = Ticket()
    ticket["tkt-vno"] = 5
    ticket["realm"] = "CORP.EXAMPLE.COM"
    ticket["sname"]["name-type"] = 2
    ticket["sname"]["name-string"][0] = "ldap"
    ticket["sname"]["name-string"][1] = "dc1.corp.example.com"
    ticket["enc-part"]["etype"] = AES256
    ticket["enc-part"]["cipher"] = b"opaque to the client"
    return bytes(encoder.encode(ticket))


def context() -> KerberosSecurity:
    cred = CachedCredential((1, "CORP.EXAMPLE.COM", ("admin",)),
                            (2, "CORP.EXAMPLE.COM", ("ldap", "dc1.corp.example.com")), AES256, SESSION_KEY,
                            ticket_der())
    return KerberosSecurity(service_ticket(cred))


class Acceptor:
    """The DC's half: reads the AP-REQ, answers an AP-REP, wraps and unwraps as RFC 4121 says an acceptor does."""

    def __init__(self, *, subkey: bool = True) -> None:
        self.cipher = _enctype_table[AES256]()
        self.key = Key(AES256, SESSION_KEY)
        self.subkey = subkey
        self.seq = 7000

    def answer(self, initial: bytes, *, shift_usec: int = 0, rep_key: Any = None) -> bytes:
        token = bytes(SPNEGO_NegTokenInit(initial)["MechToken"])
        request = decoder.decode(token[token.index(b"\x01\x00", 11) + 2:], asn1Spec=AP_REQ())[0]
        authenticator = decoder.decode(self.cipher.decrypt(self.key, 11, bytes(request["authenticator"]["cipher"])),
                                       asn1Spec=Authenticator())[0]
        self.client_seq = int(authenticator["seq-number"])
        self.flags = struct.unpack("<I", bytes(authenticator["cksum"]["checksum"])[20:24])[0]
        part = EncAPRepPart()
        part["ctime"] = str(authenticator["ctime"])
        part["cusec"] = int(authenticator["cusec"]) + shift_usec
        if self.subkey:
            part["subkey"] = noValue
            part["subkey"]["keytype"] = AES256
            part["subkey"]["keyvalue"] = SUBKEY
        part["seq-number"] = self.seq
        rep = AP_REP()
        rep["pvno"] = 5
        rep["msg-type"] = int(constants.ApplicationTagNumbers.AP_REP.value)
        rep["enc-part"] = noValue
        rep["enc-part"]["etype"] = AES256
        rep["enc-part"]["cipher"] = self.cipher.encrypt(rep_key or self.key, 12, encoder.encode(part), None)
        if self.subkey:
            self.key = Key(AES256, SUBKEY)
        answer = SPNEGO_NegTokenResp()
        answer["NegState"] = b"\x00"
        answer["SupportedMech"] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
        answer["ResponseToken"] = gss_framed(encoder.encode(rep), b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", b"\x02\x00")
        return bytes(answer.getData())

    def flags_byte(self) -> int:
        return 0x01 | 0x02 | (0x04 if self.subkey else 0)

    def wrap(self, data: bytes, *, rrc: int = 0, ec: int = 0, seq: int | None = None) -> bytes:
        seq = self.seq if seq is None else seq
        self.seq = seq + 1
        header = WRAP_HEADER.pack(0x0504, self.flags_byte(), 0xFF, ec, 0, seq)
        sealed = self.cipher.encrypt(self.key, 22, data + b"\xff" * ec + header, None)
        return WRAP_HEADER.pack(0x0504, self.flags_byte(), 0xFF, ec, rrc, seq) + rotate_right(sealed, rrc)

    def unwrap(self, token: bytes) -> bytes:
        _tok, flags, _filler, ec, rrc, seq = WRAP_HEADER.unpack_from(token)
        assert flags == 0x02 | (0x04 if self.subkey else 0)  # not sent by the acceptor; sealed
        assert seq == self.client_seq
        self.client_seq += 1
        plain = self.cipher.decrypt(self.key, 24, rotate_left(token[16:], rrc))
        assert plain[-16:-10] == token[:6] and plain[-8:] == token[8:16]
        return bytes(plain[:len(plain) - ec - 16])


@pytest.fixture
def bound() -> tuple[KerberosSecurity, Acceptor]:
    ours, dc = context(), Acceptor()
    ours.complete(dc.answer(ours.initial_token(seal=True)))
    return ours, dc


def test_the_ap_req_asks_for_mutual_authentication_and_sealing() -> None:
    ours, dc = context(), Acceptor()
    dc.answer(ours.initial_token(seal=True))
    assert dc.flags == 0x02 | 0x04 | 0x08 | 0x10 | 0x20  # mutual, replay, sequence, confidentiality, integrity
    inside_tls, dc = context(), Acceptor()
    dc.answer(inside_tls.initial_token(seal=False))
    assert dc.flags & 0x30 == 0


def test_messages_round_trip_under_the_acceptor_subkey(bound: tuple[KerberosSecurity, Acceptor]) -> None:
    ours, dc = bound
    assert dc.unwrap(ours.wrap(b"search request")) == b"search request"
    assert dc.unwrap(ours.wrap(b"next")) == b"next"
    assert ours.unwrap(dc.wrap(b"search result")) == b"search result"
    assert ours.unwrap(dc.wrap(b"rotated and padded", rrc=RRC, ec=3)) == b"rotated and padded"
    assert ours.unwrap(dc.wrap(b"rotated otherwise", rrc=5)) == b"rotated otherwise"


def test_without_a_subkey_the_session_key_seals() -> None:
    ours, dc = context(), Acceptor(subkey=False)
    ours.complete(dc.answer(ours.initial_token(seal=True)))
    assert dc.unwrap(ours.wrap(b"x")) == b"x"
    assert ours.unwrap(dc.wrap(b"y")) == b"y"


def test_our_tokens_rotate_as_windows_does(bound: tuple[KerberosSecurity, Acceptor]) -> None:
    token = bound[0].wrap(b"data")
    assert WRAP_HEADER.unpack_from(token)[4] == RRC == 28


@pytest.mark.parametrize("damage", ["flip a ciphertext byte", "flip the sequence number", "unsealed flags"])
def test_an_altered_reply_stops_the_context(bound: tuple[KerberosSecurity, Acceptor], damage: str) -> None:
    ours, dc = bound
    token = bytearray(dc.wrap(b"search result"))
    if damage == "flip a ciphertext byte":
        token[30] ^= 1
    elif damage == "flip the sequence number":
        token[15] ^= 1
    else:
        token[2] = 0x01 | 0x04
    with pytest.raises(SealingError):
        ours.unwrap(bytes(token))


def test_a_replayed_or_reordered_reply_is_refused(bound: tuple[KerberosSecurity, Acceptor]) -> None:
    ours, dc = bound
    first = dc.wrap(b"one")
    second = dc.wrap(b"two")
    with pytest.raises(SealingError, match="out of sequence"):
        ours.unwrap(second)
    ours2, dc2 = context(), Acceptor()
    ours2.complete(dc2.answer(ours2.initial_token(seal=True)))
    token = dc2.wrap(b"one")
    ours2.unwrap(token)
    with pytest.raises(SealingError, match="out of sequence"):
        ours2.unwrap(token)
    assert first != second


def test_our_own_token_reflected_back_is_refused(bound: tuple[KerberosSecurity, Acceptor]) -> None:
    ours, _dc = bound
    with pytest.raises(SealingError, match="flags"):
        ours.unwrap(ours.wrap(b"reflected"))


def test_an_ap_rep_for_another_authenticator_is_refused() -> None:
    ours, dc = context(), Acceptor()
    answer = dc.answer(ours.initial_token(seal=True), shift_usec=1)
    with pytest.raises(SealingError, match="another authenticator"):
        ours.complete(answer)


@pytest.mark.parametrize("answer", [None, b"", b"\xa1\x03\x30\x01\x00"])
def test_no_or_a_broken_ap_rep_is_refused(answer: bytes | None) -> None:
    ours = context()
    ours.initial_token(seal=True)
    with pytest.raises(SealingError):
        ours.complete(answer)


def test_an_ap_rep_under_another_key_is_refused() -> None:
    ours, dc = context(), Acceptor()
    with pytest.raises(SealingError, match="does not verify"):
        ours.complete(dc.answer(ours.initial_token(seal=True), rep_key=Key(AES256, bytes(32))))


def test_an_rc4_session_key_is_refused_before_anything_is_sent() -> None:
    cred = CachedCredential((1, "CORP.EXAMPLE.COM", ("admin",)), (2, "CORP.EXAMPLE.COM", ("ldap", "dc1")),
                            23, bytes(16), ticket_der())
    with pytest.raises(SealingError, match="AES"):
        KerberosSecurity(service_ticket(cred))


def test_the_authenticator_time_is_now() -> None:
    ours, dc = context(), Acceptor()
    token = bytes(SPNEGO_NegTokenInit(ours.initial_token(seal=True))["MechToken"])
    request = decoder.decode(token[token.index(b"\x01\x00", 11) + 2:], asn1Spec=AP_REQ())[0]
    authenticator = decoder.decode(dc.cipher.decrypt(dc.key, 11, bytes(request["authenticator"]["cipher"])),
                                   asn1Spec=Authenticator())[0]
    sent = KerberosTime.from_asn1(authenticator["ctime"]).replace(tzinfo=datetime.UTC)
    assert abs((datetime.datetime.now(datetime.UTC) - sent).total_seconds()) < 5


# ---------------------------------------------------------------- NTLM

def ntlm_pair() -> tuple[NtlmSecurity, Any]:
    """Our context with keys set as after the bind, and the server's view of the same keys."""
    from Cryptodome.Cipher import ARC4
    from impacket import ntlm

    ours = NtlmSecurity("admin", "unused", "CORP")
    flags = ntlm.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH \
        | ntlm.NTLMSSP_NEGOTIATE_128 | ntlm.NTLMSSP_NEGOTIATE_SEAL | ntlm.NTLMSSP_NEGOTIATE_SIGN
    session = bytes(range(16))
    ours._flags = flags
    ours._client_sign, ours._server_sign = ntlm.SIGNKEY(flags, session), ntlm.SIGNKEY(flags, session, "Server")
    ours._client_seal = ARC4.new(ntlm.SEALKEY(flags, session)).encrypt
    ours._server_seal = ARC4.new(ntlm.SEALKEY(flags, session, "Server")).encrypt

    class Server:
        seal = ARC4.new(ntlm.SEALKEY(flags, session, "Server")).encrypt
        unseal = ARC4.new(ntlm.SEALKEY(flags, session)).encrypt
        seq = 1

        def wrap(self, data: bytes) -> bytes:
            sealed = self.seal(data)
            signature = ntlm.MAC(flags, self.seal, ntlm.SIGNKEY(flags, session, "Server"), self.seq, data)
            self.seq += 1
            return bytes(signature.getData()) + sealed

        def unwrap(self, token: bytes) -> bytes:
            return bytes(self.unseal(token[16:]))
    return ours, Server()


def test_ntlm_sealing_round_trips_and_checks_every_reply() -> None:
    ours, server = ntlm_pair()
    assert server.unwrap(ours.wrap(b"search request")) == b"search request"
    assert ours.unwrap(server.wrap(b"search result")) == b"search result"
    token = bytearray(server.wrap(b"second result"))
    token[20] ^= 1
    with pytest.raises(SealingError, match="signature"):
        ours.unwrap(bytes(token))


def test_an_ntlm_reply_out_of_order_is_refused() -> None:
    ours, server = ntlm_pair()
    server.wrap(b"lost")
    with pytest.raises(SealingError):
        ours.unwrap(server.wrap(b"after the lost one"))


# ---------------------------------------------------------------- the socket

class Pipe:
    """A socket that hands out what it was given in the chunk sizes asked for, then EOF."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.sent: list[bytes] = []
        self.closed = False

    def recv(self, size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True

    def settimeout(self, value: float) -> None:
        self.timeout = value


class Plain:
    mechanism = "test"

    def wrap(self, data: bytes) -> bytes:
        return b"W" + data

    def unwrap(self, token: bytes) -> bytes:
        if not token.startswith(b"W"):
            raise SealingError("not ours")
        return token[1:]


def frame(token: bytes) -> bytes:
    return struct.pack(">I", len(token)) + token


def test_buffers_split_and_joined_across_reads() -> None:
    stream = frame(b"Whello") + frame(b"W world")
    pipe = Pipe([stream[:3], stream[3:9], stream[9:]])
    sock = SealedSocket(pipe, Plain())
    assert sock.recv(4) + sock.recv(100) + sock.recv(100) == b"hello world"
    assert sock.recv(100) == b""  # the DC closed: ldap3 reports it
    sock.sendall(b"request")
    assert pipe.sent == [frame(b"Wrequest")]
    sock.settimeout(3)
    assert pipe.timeout == 3


def test_a_reply_that_fails_closes_the_socket_and_stays_failed() -> None:
    pipe = Pipe([frame(b"Xforged")])
    sock = SealedSocket(pipe, Plain())
    with pytest.raises(OSError, match="not ours"):
        sock.recv(100)
    assert pipe.closed and sock.failure is not None
    with pytest.raises(OSError, match="not ours"):
        sock.sendall(b"anything")


def test_an_oversized_buffer_is_refused_before_it_is_read() -> None:
    pipe = Pipe([struct.pack(">I", 1 << 30)])
    with pytest.raises(OSError, match="SASL buffer"):
        SealedSocket(pipe, Plain()).recv(10)
    assert pipe.closed
