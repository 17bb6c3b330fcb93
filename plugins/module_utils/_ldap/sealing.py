# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The security contexts of a sealed LDAP connection: Kerberos (RFC 4121) and NTLM, as GSS-SPNEGO binds them.

Kerberos: the AP-REQ asks for mutual authentication, integrity and confidentiality; the DC's AP-REP is
decrypted and its time stamp compared, which proves the peer holds the service key of `ldap/<dc>` (the
DC is authenticated without a certificate). Every later LDAP message travels as an RFC 4121 wrap token
(AES, sealed): the DC's are checked for direction, flags, the header copy inside the ciphertext and an
unbroken sequence, so a reordered, replayed or altered reply stops the connection.

NTLM (only when allowed): NTLMv2 with extended session security, 128-bit keys, signing and sealing;
every reply's signature is checked. NTLM does not authenticate the DC: whoever relays the logon to a
real DC gets the same answers, which is why it is never chosen unless NTLM is allowed.

Built on impacket's Kerberos and NTLM primitives (its crypto profiles, ASN.1 types and NTLMSSP
messages); impacket's own LDAP client checks neither the AP-REP nor the replies' integrity.
"""
from __future__ import annotations

import datetime
import hmac
import secrets
import struct
from typing import Any, Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError

try:
    from Cryptodome.Cipher import ARC4
    from impacket import ntlm
    from impacket.krb5 import constants
    from impacket.krb5.asn1 import AP_REP, AP_REQ, TGS_REP, Authenticator, EncAPRepPart, seq_set
    from impacket.krb5.crypto import InvalidChecksum, Key, _enctype_table
    from impacket.krb5.gssapi import CheckSumField
    from impacket.krb5.types import KerberosTime, Principal, Ticket
    from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type.univ import noValue
except ImportError:  # reported by the module through missing_required_lib
    InvalidChecksum = ValueError

KRB5_OID: Final = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"  # 1.2.840.113554.1.2.2
NTLMSSP_OID: Final = b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"  # 1.3.6.1.4.1.311.2.2.10
GSS_MUTUAL: Final = 0x02
GSS_REPLAY: Final = 0x04
GSS_SEQUENCE: Final = 0x08
GSS_CONF: Final = 0x10
GSS_INTEG: Final = 0x20
# RFC 4121 key usages and wrap-token flags.
USAGE_ACCEPTOR_SEAL: Final = 22
USAGE_INITIATOR_SEAL: Final = 24
AP_REP_USAGE: Final = 12
AUTHENTICATOR_USAGE: Final = 11
SENT_BY_ACCEPTOR: Final = 0x01
SEALED: Final = 0x02
ACCEPTOR_SUBKEY: Final = 0x04
WRAP_HEADER: Final = struct.Struct(">HBBHHQ")  # TOK_ID, Flags, Filler, EC, RRC, SND_SEQ
WRAP_TOKEN_ID: Final = 0x0504
# MS-KILE 3.4.5.4.1: Windows rotates a sealed token right by 28 octets (the encrypted header copy and the
# checksum) and so do we; what the DC sends is taken at any rotation, as RFC 4121 requires.
RRC: Final = 28
AES_ETYPES: Final = frozenset({17, 18})


class SealingError(ScanreadyError):
    """The security context failed: the DC's answer did not prove it, or a message was not authentic."""


class Security(Protocol):
    """What the sealed socket needs of a context once the bind is complete."""

    mechanism: str

    def wrap(self, data: bytes) -> bytes: ...

    def unwrap(self, token: bytes) -> bytes: ...


def gss_framed(token: bytes, oid: bytes, token_id: bytes) -> bytes:
    """RFC 2743 3.1 InitialContextToken framing: [APPLICATION 0] { mech OID, TOK_ID, the token }."""
    body = b"\x06" + der_length(len(oid)) + oid + token_id + token
    return b"\x60" + der_length(len(body)) + body


def der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def gss_unframed(token: bytes, token_id: bytes) -> bytes:
    """The inner token of an InitialContextToken-framed one (a bare token is returned as it is)."""
    if not token.startswith(b"\x60"):
        return token
    at = 1
    first = token[at]
    at += 1 + (first & 0x7F if first & 0x80 else 0)
    if token[at] != 0x06:
        raise SealingError("the DC's Kerberos answer is not a GSS-API token")
    at += 2 + token[at + 1]
    if token[at:at + 2] != token_id:
        raise SealingError(f"the DC's Kerberos answer has token id {token[at:at + 2].hex()}, not {token_id.hex()}")
    return token[at + 2:]


class KerberosSecurity:
    """One initiator context over a service ticket for ldap/<dc>, sealed with the AES session key."""

    mechanism = "Kerberos"

    def __init__(self, ticket: Any) -> None:
        """ticket: a _ccache.ServiceTicket (tgs as impacket's kerberosLogin takes it)."""
        rep = decoder.decode(ticket.tgs["KDC_REP"], asn1Spec=TGS_REP())[0]
        self._ticket = Ticket()
        self._ticket.from_asn1(rep["ticket"])
        self._client = (str(rep["crealm"]), [str(part) for part in rep["cname"]["name-string"]])
        self._cipher = ticket.tgs["cipher"]
        self._key = ticket.tgs["sessionKey"]
        if self._cipher.enctype not in AES_ETYPES:
            raise SealingError(f"the DC's session key for {ticket.spn} is {ticket.session_etype}; sealing LDAP "
                               "needs an AES key (aes256-cts or aes128-cts), which every supported DC offers")
        self._sent_at: tuple[Any, int] | None = None
        self._send_seq = secrets.randbelow(2 ** 31)
        self._receive_seq = self._send_seq
        self._acceptor_subkey = False

    def initial_token(self, *, seal: bool) -> bytes:
        """The SPNEGO NegTokenInit carrying the AP-REQ; seal=False for a bind inside TLS (no wrapping)."""
        authenticator = Authenticator()
        authenticator["authenticator-vno"] = 5
        authenticator["crealm"] = self._client[0]
        seq_set(authenticator, "cname",
                Principal("/".join(self._client[1]),
                          type=constants.PrincipalNameType.NT_PRINCIPAL.value).components_to_asn1)
        now = datetime.datetime.now(datetime.UTC)
        authenticator["cusec"] = now.microsecond
        authenticator["ctime"] = KerberosTime.to_asn1(now)
        self._sent_at = (KerberosTime.to_asn1(now), now.microsecond)
        checksum = CheckSumField()
        checksum["Lgth"] = 16
        checksum["Flags"] = GSS_MUTUAL | GSS_REPLAY | GSS_SEQUENCE | ((GSS_CONF | GSS_INTEG) if seal else 0)
        authenticator["cksum"] = noValue
        authenticator["cksum"]["cksumtype"] = 0x8003  # RFC 4121 4.1.1: the GSS checksum
        authenticator["cksum"]["checksum"] = checksum.getData()
        authenticator["seq-number"] = self._send_seq

        request = AP_REQ()
        request["pvno"] = 5
        request["msg-type"] = int(constants.ApplicationTagNumbers.AP_REQ.value)
        request["ap-options"] = constants.encodeFlags([constants.APOptions.mutual_required.value])
        seq_set(request, "ticket", self._ticket.to_asn1)
        request["authenticator"] = noValue
        request["authenticator"]["etype"] = self._cipher.enctype
        request["authenticator"]["cipher"] = self._cipher.encrypt(self._key, AUTHENTICATOR_USAGE,
                                                                  encoder.encode(authenticator), None)
        blob = SPNEGO_NegTokenInit()
        blob["MechTypes"] = [KRB5_OID]
        blob["MechToken"] = gss_framed(encoder.encode(request), KRB5_OID, b"\x01\x00")
        return bytes(blob.getData())

    def complete(self, server_token: bytes | None) -> None:
        """Check the DC's AP-REP (in the SPNEGO answer of the bind): it proves the DC decrypted the ticket."""
        if not server_token:
            raise SealingError("the DC accepted the Kerberos bind without an AP-REP, so it did not prove itself")
        try:
            answer = SPNEGO_NegTokenResp(server_token)
            rep = decoder.decode(gss_unframed(bytes(answer["ResponseToken"]), b"\x02\x00"), asn1Spec=AP_REP())[0]
            part = decoder.decode(self._cipher.decrypt(self._key, AP_REP_USAGE, bytes(rep["enc-part"]["cipher"])),
                                  asn1Spec=EncAPRepPart())[0]
        except Exception as exc:  # impacket's SPNEGO parser raises a bare Exception on malformed input
            raise SealingError(f"the DC's AP-REP does not verify ({type(exc).__name__}): it may not be the DC "
                               "the ticket is for") from None
        if self._sent_at is None or str(part["ctime"]) != str(self._sent_at[0]) \
                or int(part["cusec"]) != self._sent_at[1]:
            raise SealingError("the DC's AP-REP answers another authenticator: refusing the connection")
        if part["subkey"].hasValue():
            # RFC 4121 4.2.2: an acceptor subkey protects every later message, in both directions.
            subkey_type = int(part["subkey"]["keytype"])
            if subkey_type not in AES_ETYPES:
                raise SealingError(f"the DC chose a subkey of encryption type {subkey_type}, not AES")
            self._cipher = _enctype_table[subkey_type]()
            self._key = Key(subkey_type, bytes(part["subkey"]["keyvalue"]))
            self._acceptor_subkey = True
        if part["seq-number"].hasValue():
            self._receive_seq = int(part["seq-number"])

    def _flags(self) -> int:
        return SEALED | (ACCEPTOR_SUBKEY if self._acceptor_subkey else 0)

    def wrap(self, data: bytes) -> bytes:
        seq, self._send_seq = self._send_seq, (self._send_seq + 1) % 2 ** 64
        # RFC 4121 4.2.4: the encrypted copy of the header carries RRC 0; EC 0, as AES needs no padding.
        sealed = self._cipher.encrypt(self._key, USAGE_INITIATOR_SEAL,
                                      data + WRAP_HEADER.pack(WRAP_TOKEN_ID, self._flags(), 0xFF, 0, 0, seq), None)
        return WRAP_HEADER.pack(WRAP_TOKEN_ID, self._flags(), 0xFF, 0, RRC, seq) + rotate_right(sealed, RRC)

    def unwrap(self, token: bytes) -> bytes:

        if len(token) < WRAP_HEADER.size:
            raise SealingError("truncated Kerberos wrap token from the DC")
        token_id, flags, filler, ec, rrc, seq = WRAP_HEADER.unpack_from(token)
        if token_id != WRAP_TOKEN_ID or filler != 0xFF:
            raise SealingError(f"the DC sent a token that is not an RFC 4121 wrap token ({token[:4].hex()})")
        if flags != self._flags() | SENT_BY_ACCEPTOR:
            expected = self._flags() | SENT_BY_ACCEPTOR
            raise SealingError(f"the DC's wrap token has flags {flags:#04x}, not {expected:#04x} (unsealed, "
                               "reflected or under another key)")
        body = token[WRAP_HEADER.size:]
        plain = None
        # Windows rotates by RRC + EC in some profiles; both readings are authenticated by the checksum.
        for rotation in dict.fromkeys((rrc, rrc + ec)):
            try:
                plain = self._cipher.decrypt(self._key, USAGE_ACCEPTOR_SEAL, rotate_left(body, rotation))
                break
            except InvalidChecksum:
                continue
        if plain is None or len(plain) < ec + WRAP_HEADER.size:
            raise SealingError("a reply from the DC failed its Kerberos integrity check: the connection may be "
                               "tampered with; refusing to continue")
        copy = WRAP_HEADER.unpack_from(plain, len(plain) - WRAP_HEADER.size)
        if (copy[0], copy[1], copy[2], copy[3], copy[5]) != (token_id, flags, filler, ec, seq):
            raise SealingError("a reply from the DC carries a header that its encrypted copy contradicts")
        if seq != self._receive_seq:
            raise SealingError(f"a reply from the DC is out of sequence (number {seq}, expected "
                               f"{self._receive_seq}): replayed or reordered; refusing to continue")
        self._receive_seq = (self._receive_seq + 1) % 2 ** 64
        return bytes(plain[:len(plain) - ec - WRAP_HEADER.size])


def rotate_right(data: bytes, count: int) -> bytes:
    count %= max(len(data), 1)
    return data[len(data) - count:] + data[:len(data) - count]


def rotate_left(data: bytes, count: int) -> bytes:
    count %= max(len(data), 1)
    return data[count:] + data[:count]


class NtlmSecurity:
    """NTLMv2 through SPNEGO with signing and sealing (only when NTLM is allowed)."""

    mechanism = "NTLM"

    def __init__(self, user: str, password: str, domain: str) -> None:
        self._user, self._password, self._domain = user, password, domain
        self._negotiate: Any = None
        self._client_sign = self._server_sign = b""
        self._client_seal: Any = None
        self._server_seal: Any = None
        self._flags = 0
        # The mechListMICs are each side's message 0; sealed messages go on from 1 (as Samba and Windows count).
        self._send_seq = self._receive_seq = 1

    def initial_token(self) -> bytes:

        # signingRequired asks for signing, sealing and key exchange; a version makes room for the MIC.
        self._negotiate = ntlm.getNTLMSSPType1("", self._domain, signingRequired=True, use_ntlmv2=True,
                                               version=self._version())
        blob = SPNEGO_NegTokenInit()
        blob["MechTypes"] = [NTLMSSP_OID]
        blob["MechToken"] = self._negotiate.getData()
        return bytes(blob.getData())

    def answer(self, server_token: bytes) -> bytes:
        """The AUTHENTICATE message (with its MIC and SPNEGO's mechListMIC) for the DC's CHALLENGE."""
        challenge = bytes(SPNEGO_NegTokenResp(server_token)["ResponseToken"])
        auth, session_key = ntlm.getNTLMSSPType3(self._negotiate, challenge, self._user, self._password,
                                                 self._domain, use_ntlmv2=True, service="ldap",
                                                 version=self._version())
        self._flags = int(auth["flags"])
        needed = ntlm.NTLMSSP_NEGOTIATE_SEAL | ntlm.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
        if self._flags & needed != needed:
            raise SealingError("the DC did not agree to NTLM sealing with extended session security")
        auth["MIC"] = ntlm.hmac_md5(session_key, self._negotiate.getData() + challenge + auth.getData())
        self._client_sign = ntlm.SIGNKEY(self._flags, session_key)
        self._server_sign = ntlm.SIGNKEY(self._flags, session_key, "Server")
        self._client_seal = ARC4.new(ntlm.SEALKEY(self._flags, session_key)).encrypt
        self._server_seal = ARC4.new(ntlm.SEALKEY(self._flags, session_key, "Server")).encrypt
        reply = SPNEGO_NegTokenResp()
        reply["ResponseToken"] = auth.getData()
        # mechListMIC over the DER mechTypes list, signed as message 0; then the RC4 stream starts afresh.
        reply["mechListMIC"] = ntlm.MAC(self._flags, self._client_seal, self._client_sign, 0,
                                        b"\x30" + der_length(len(NTLMSSP_OID) + 2) + b"\x06"
                                        + der_length(len(NTLMSSP_OID)) + NTLMSSP_OID).getData()
        self._client_seal = ARC4.new(ntlm.SEALKEY(self._flags, session_key)).encrypt
        return bytes(reply.getData())

    @staticmethod
    def _version() -> Any:

        version = ntlm.VERSION()
        version["ProductMajorVersion"], version["ProductMinorVersion"], version["ProductBuild"] = 10, 0, 20348
        return version

    def wrap(self, data: bytes) -> bytes:

        sealed = self._client_seal(data)
        signature = ntlm.MAC(self._flags, self._client_seal, self._client_sign, self._send_seq, data)
        self._send_seq += 1
        return bytes(signature.getData()) + bytes(sealed)

    def unwrap(self, token: bytes) -> bytes:

        if len(token) < 16:
            raise SealingError("truncated NTLM-sealed message from the DC")
        plain = self._server_seal(token[16:])
        expected = ntlm.MAC(self._flags, self._server_seal, self._server_sign, self._receive_seq, plain)
        if not hmac.compare_digest(bytes(expected.getData()), token[:16]):
            raise SealingError("a reply from the DC failed its NTLM signature check: the connection may be "
                               "tampered with; refusing to continue")
        self._receive_seq += 1
        return bytes(plain)
