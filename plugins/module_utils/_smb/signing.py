# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMB 3 message authentication: the one AES-CMAC, and the check of every reply a server sends.

AesCmac signs what the client sends (client.py) and checks what the server answers (reply_fault).
ReplyGuard authenticates every message the server sends after the logon before impacket reads it:
impacket signs and encrypts what it sends but checks neither the signature of a signed reply nor
the AES-CCM tag of an encrypted one, so a reply altered on the path would otherwise be believed.
"""
from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._compat import close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._ntstatus import STATUS_PENDING

try:
    from Cryptodome.Cipher import AES
    from Cryptodome.Hash import CMAC
except ImportError:  # reported by the module through missing_required_lib
    AES = CMAC = None  # type: ignore[assignment]

# MS-SMB2 2.2.1 and 2.2.41: the layouts the reply check reads.
SMB2_MAGIC: Final = b"\xfeSMB"
TRANSFORM_MAGIC: Final = b"\xfdSMB"
SMB2_HEADER: Final = struct.Struct("<4sHHIHHIIQQQ16s")  # ..., Status, Command, Credit, Flags, NextCommand, MessageId
TRANSFORM_HEADER_SIZE: Final = 52  # magic, 16-byte tag, then the authenticated part: nonce ... SessionId
FLAG_ASYNC: Final = 0x2
FLAG_SIGNED: Final = 0x8
OPLOCK_BREAK: Final = 0x12
UNSOLICITED: Final = 0xFFFFFFFFFFFFFFFF


class AesCmac:
    """AES-CMAC (RFC 4493) with one key: SMB 3 signs every message with it. The CMAC is set up once
    (its subkeys) and each message is signed on a copy, whose cipher chains the blocks in one call;
    impacket's crypto.AES_CMAC builds two ciphers per message and chains the blocks in Python, a
    visible share of the client's CPU over a fleet."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._keyed = CMAC.new(key, ciphermod=AES)

    def digest(self, message: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(message)
        return bytes(mac.digest())


@dataclass(frozen=True)
class ReplyKeys:
    """What proves a reply came from the server: the session's signing key (AES-CMAC, every SMB 3
    dialect impacket negotiates: it offers no signing-algorithm context, so 3.1.1 stays on AES-CMAC)
    and, when the session is encrypted, its server-to-client key (AES-128-CCM, the only cipher
    impacket offers)."""

    signing: bytes
    decryption: bytes | None = None


def reply_fault(message: bytes, keys: ReplyKeys) -> str | None:
    """Why one SMB transport message from the server is not authentic under keys, or None when it is."""
    if message.startswith(TRANSFORM_MAGIC):
        return _transform_fault(message, keys.decryption)
    if not message.startswith(SMB2_MAGIC):
        return f"unexpected protocol {message[:4]!r}"
    offset = 0
    while True:  # one pass per part of a compounded reply; each part is signed on its own
        if len(message) - offset < SMB2_HEADER.size:
            return f"truncated SMB2 header at byte {offset}"
        fields = SMB2_HEADER.unpack_from(message, offset)
        status, command, flags, next_command, message_id = fields[3], fields[4], fields[6], fields[7], fields[8]
        if next_command and (next_command < SMB2_HEADER.size or next_command % 8
                             or offset + next_command >= len(message)):
            return f"bad compound offset {next_command} at byte {offset}"
        part = message[offset:offset + next_command] if next_command else message[offset:]
        # Interim replies and oplock/lease break notifications are sent unsigned (MS-SMB2 3.3.4.1.1,
        # 3.3.4.6/7); they carry no data impacket acts on, and the final reply for the request is checked.
        unsigned_allowed = (status == STATUS_PENDING and flags & FLAG_ASYNC) or \
            (command == OPLOCK_BREAK and message_id == UNSOLICITED)
        if not unsigned_allowed:
            if not flags & FLAG_SIGNED:
                return f"unsigned reply (command {command:#x}, message {message_id})"
            if not hmac.compare_digest(_smb3_signature(keys.signing, part), part[48:64]):
                return f"bad signature (command {command:#x}, message {message_id})"
        if not next_command:
            return None
        offset += next_command


def _smb3_signature(key: bytes, part: bytes) -> bytes:
    # MS-SMB2 3.1.4.1: AES-CMAC over the message with its signature field zeroed.
    return AesCmac(key).digest(part[:48] + bytes(16) + part[64:])


def _transform_fault(message: bytes, key: bytes | None) -> str | None:
    if key is None:
        return "encrypted reply on a session that did not negotiate encryption"
    if len(message) < TRANSFORM_HEADER_SIZE:
        return "truncated transform header"
    # MS-SMB2 3.2.5.1.1.1: the tag authenticates the header from the nonce on and the ciphertext;
    # the AES-128-CCM nonce is the first 11 bytes of the 16-byte field.
    cipher = AES.new(key, AES.MODE_CCM, nonce=message[20:31], mac_len=16)
    cipher.update(message[20:TRANSFORM_HEADER_SIZE])
    try:
        cipher.decrypt_and_verify(message[TRANSFORM_HEADER_SIZE:], message[4:20])
    except ValueError:
        return "bad encryption tag"
    return None


class ReplyGuard:
    """Authenticates every message the server sends on one impacket session, and after one fails, ends it.

    It wraps the session's transport (the NetBIOS session's recv_packet/send_packet) rather than
    impacket's recvSMB because only there each message is seen whole and once: before impacket
    decrypts it, splits a compound, or reads past interim replies in its own loop. After a failure the
    socket is closed and every later send or receive raises the same `error`, so nothing more is
    written, whatever impacket's own clean-up (closing handles, logoff) tries.
    """

    def __init__(self, transport: Any, host: str, error: type[ScanreadyError]) -> None:
        self._transport = transport
        self._receive = transport.recv_packet
        self._send = transport.send_packet
        self._host = host
        self._error = error
        self._keys: ReplyKeys | None = None
        self._last = b""  # before arm(): the latest message, at the end of the logon its final reply
        self.failure: ScanreadyError | None = None
        transport.recv_packet = self._checked_receive
        transport.send_packet = self._checked_send

    def arm(self, keys: ReplyKeys) -> None:
        """Check every later message with keys, starting with the logon's final (signed) SESSION_SETUP
        reply, which in 3.1.1 also proves the negotiation was not altered (its key hashes the exchange)."""
        self._keys = keys
        self._check(self._last, keys)

    def _check(self, message: bytes, keys: ReplyKeys) -> None:
        fault = reply_fault(message, keys)
        if fault is not None:
            self.failure = self._error(f"reply from DC {self._host} failed SMB signature verification ({fault}): "
                                       "the session may be tampered with; refusing to continue; nothing more "
                                       "was written")
            close_quietly(self._transport)
            raise self.failure

    def _checked_receive(self, timeout: Any = None) -> Any:
        if self.failure is not None:
            raise self.failure
        packet = self._receive(timeout)
        message = bytes(packet.get_trailer())
        if self._keys is None:
            self._last = message
        else:
            self._check(message, self._keys)
        return packet

    def _checked_send(self, data: Any) -> Any:
        if self.failure is not None:
            raise self.failure
        return self._send(data)
