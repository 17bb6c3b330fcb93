"""The SYSVOL session's reply check: messages built and signed (or encrypted) here with impacket's own
AES-CMAC and the AES-128-CCM layout impacket sends, then verified by _smb.signing's independent code."""
from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._smb import sysvol as _sysvol
from ansible_collections.scanready.windows.plugins.module_utils._smb.signing import (
    AesCmac,
    ReplyGuard,
    ReplyKeys,
    reply_fault,
)
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import Sysvol, SysvolError
from Cryptodome.Cipher import AES
from impacket import crypto
from impacket.smb3structs import SMB2_TRANSFORM_HEADER, SMB3Packet

SIGNING = bytes(range(16))
DECRYPTION = bytes(range(16, 32))
KEYS = ReplyKeys(SIGNING, DECRYPTION)
READ, OPLOCK_BREAK = 0x08, 0x12
SIGNED, ASYNC, FROM_SERVER = 0x8, 0x2, 0x1


def reply(payload: bytes = b"\x11" * 40, *, command: int = READ, status: int = 0, flags: int = FROM_SERVER,
          message_id: int = 7, key: bytes | None = SIGNING, next_command: int = 0) -> bytes:
    """One SMB 3 reply, signed with key by impacket's AES_CMAC (unsigned when key is None)."""
    packet = SMB3Packet()
    packet["Command"], packet["MessageID"], packet["NextCommand"] = command, message_id, next_command
    packet["Flags"] = flags | (SIGNED if key is not None else 0)
    packet["Data"] = payload
    raw = bytearray(packet.getData())
    raw[8:12] = status.to_bytes(4, "little")  # a reply's Status (SMB3Packet lays out the request's fields)
    if key is not None:
        raw[48:64] = crypto.AES_CMAC(key, bytes(raw), len(raw))
    return bytes(raw)


def compound(*parts: bytes) -> bytes:
    """Chain replies as a server does: each part but the last padded to 8 bytes, NextCommand set, signed alone."""
    out = b""
    for index, payload in enumerate(parts):
        last = index == len(parts) - 1
        length = 64 + len(payload)
        padded = length if last else (length + 7) // 8 * 8
        part = reply(payload + bytes(padded - length), message_id=10 + index, next_command=0 if last else padded)
        out += part
    return out


def encrypted(plain: bytes, key: bytes = DECRYPTION) -> bytes:
    """A transform message as impacket builds one (AES-128-CCM, 11-byte nonce, header from byte 20 as AAD)."""
    header = SMB2_TRANSFORM_HEADER()
    header["Nonce"] = b"N" * 11 + bytes(5)
    header["OriginalMessageSize"] = len(plain)
    header["EncryptionAlgorithm"] = 1
    header["SessionID"] = 0x1234
    cipher = AES.new(key, AES.MODE_CCM, nonce=b"N" * 11, mac_len=16)
    cipher.update(header.getData()[20:])
    ciphertext, tag = cipher.encrypt_and_digest(plain)
    header["Signature"] = tag
    return bytes(header.getData()) + ciphertext


def flip(message: bytes, index: int) -> bytes:
    return message[:index] + bytes([message[index] ^ 0x01]) + message[index + 1:]


def test_a_reply_signed_with_the_session_key_verifies() -> None:
    assert reply_fault(reply(), KEYS) is None


@pytest.mark.parametrize(("index", "named"), [(8, "command 0x8, message 7"), (12, "command 0x9, message 7"),
                                              (24, "command 0x8, message 6"), (40, "command 0x8, message 7")],
                         ids=["status", "command", "message-id", "session-id"])
def test_a_flipped_header_byte_fails(index: int, named: str) -> None:
    assert reply_fault(flip(reply(), index), KEYS) == f"bad signature ({named})"


def test_a_flipped_payload_byte_fails() -> None:
    assert reply_fault(flip(reply(), 64 + 17), KEYS) == "bad signature (command 0x8, message 7)"


def test_a_flipped_signature_byte_fails() -> None:
    assert reply_fault(flip(reply(), 50), KEYS) == "bad signature (command 0x8, message 7)"


def test_a_reply_signed_with_another_key_fails() -> None:
    assert reply_fault(reply(key=bytes(16)), KEYS) == "bad signature (command 0x8, message 7)"


def test_an_unsigned_final_reply_fails_even_with_a_valid_looking_signature_field() -> None:
    signed = reply()
    cleared = signed[:16] + (int.from_bytes(signed[16:20], "little") & ~SIGNED).to_bytes(4, "little") + signed[20:]
    assert reply_fault(cleared, KEYS) == "unsigned reply (command 0x8, message 7)"


def test_an_unsigned_interim_pending_reply_is_accepted() -> None:
    assert reply_fault(reply(b"\x09\x00" + bytes(7), status=0x103, flags=FROM_SERVER | ASYNC, key=None), KEYS) is None


def test_a_pending_status_without_the_async_flag_is_not_an_interim_reply() -> None:
    assert reply_fault(reply(status=0x103, key=None), KEYS) == "unsigned reply (command 0x8, message 7)"


def test_an_unsigned_oplock_break_notification_is_accepted() -> None:
    assert reply_fault(reply(bytes(24), command=OPLOCK_BREAK, message_id=0xFFFFFFFFFFFFFFFF, key=None), KEYS) is None


def test_an_unsigned_oplock_break_acknowledgement_reply_fails() -> None:
    assert reply_fault(reply(bytes(24), command=OPLOCK_BREAK, message_id=9, key=None), KEYS) == \
        "unsigned reply (command 0x12, message 9)"


def test_a_compound_reply_with_every_part_signed_verifies() -> None:
    assert reply_fault(compound(b"a" * 21, b"b" * 30, b"c" * 5), KEYS) is None


def test_a_flipped_byte_in_a_later_compound_part_fails() -> None:
    message = compound(b"a" * 21, b"b" * 30, b"c" * 5)
    second = int.from_bytes(message[20:24], "little")
    assert reply_fault(flip(message, second + 70), KEYS) == "bad signature (command 0x8, message 11)"


def test_a_flipped_byte_in_compound_padding_fails() -> None:
    message = compound(b"a" * 21, b"b" * 30)
    assert reply_fault(flip(message, 64 + 21 + 1), KEYS) == "bad signature (command 0x8, message 10)"


@pytest.mark.parametrize("next_command", [8, 100, 1000], ids=["inside-header", "unaligned", "past-the-end"])
def test_a_bad_compound_offset_fails(next_command: int) -> None:
    message = compound(b"a" * 24, b"b" * 24)
    bogus = message[:20] + next_command.to_bytes(4, "little") + message[24:]
    assert str(reply_fault(bogus, KEYS)).startswith("bad compound offset")


def test_an_encrypted_reply_with_the_session_key_verifies() -> None:
    assert reply_fault(encrypted(reply(key=None)), KEYS) is None


@pytest.mark.parametrize("index", [4, 20, 36, 44, 60, 100], ids=["tag", "nonce", "size", "session", "ct", "ct2"])
def test_a_flipped_byte_in_an_encrypted_reply_fails(index: int) -> None:
    assert reply_fault(flip(encrypted(reply(key=None)), index), KEYS) == "bad encryption tag"


def test_an_encrypted_reply_on_an_unencrypted_session_fails() -> None:
    assert reply_fault(encrypted(reply(key=None)), ReplyKeys(SIGNING)) == \
        "encrypted reply on a session that did not negotiate encryption"


@pytest.mark.parametrize("message", [b"\xfcSMB" + bytes(60), b"\xffSMB" + bytes(60), b""],
                         ids=["compressed", "smb1", "empty"])
def test_other_protocols_fail(message: bytes) -> None:
    assert str(reply_fault(message, KEYS)).startswith("unexpected protocol")


def test_a_truncated_reply_fails() -> None:
    assert reply_fault(reply()[:40], KEYS) == "truncated SMB2 header at byte 0"


class FakeTransport:
    """impacket's NetBIOS session as ReplyGuard uses it: recv_packet, send_packet, close."""

    def __init__(self, *messages: bytes) -> None:
        self.inbox = list(messages)
        self.repeat = b""  # answered once the inbox is empty
        self.sent: list[bytes] = []
        self.closed = False

    def recv_packet(self, timeout: Any = None) -> Any:
        message = self.inbox.pop(0) if self.inbox else self.repeat
        return type("Packet", (), {"get_trailer": lambda _self: message})()

    def send_packet(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


def test_the_guard_checks_the_final_logon_reply_when_armed_then_every_reply() -> None:
    transport = FakeTransport(b"negotiate, not checked", reply(), reply(), flip(reply(), 70))
    guard = ReplyGuard(transport, "dc1.example.test", SysvolError)
    transport.recv_packet()
    transport.recv_packet()  # the logon's final reply, checked by arm()
    guard.arm(KEYS)
    transport.send_packet(b"request")
    assert transport.recv_packet().get_trailer() == reply()
    with pytest.raises(SysvolError, match=r"reply from DC dc1\.example\.test failed SMB signature verification "
                                          r"\(bad signature .*refusing to continue; nothing more was written"):
        transport.recv_packet()
    assert transport.closed and transport.sent == [b"request"]
    for call in (lambda: transport.send_packet(b"write"), transport.recv_packet):
        with pytest.raises(SysvolError, match="failed SMB signature verification"):
            call()
    assert transport.sent == [b"request"] and guard.failure is not None


def test_a_tampered_final_logon_reply_fails_at_arm() -> None:
    transport = FakeTransport(flip(reply(), 66))
    guard = ReplyGuard(transport, "dc", SysvolError)
    transport.recv_packet()
    with pytest.raises(SysvolError, match="failed SMB signature verification"):
        guard.arm(KEYS)
    assert transport.closed


class FakeLoggedOnServer:
    """impacket's SMB3 object behind a fake SMBConnection: session keys, and a transport whose every
    message is a final SESSION_SETUP reply signed with them; a fake login calls receive_logon_reply()."""

    def __init__(self, final_reply: bytes | None = None) -> None:
        self._NetBIOSSession = FakeTransport()
        self._NetBIOSSession.repeat = final_reply or reply(b"\x09\x00" + bytes(7), command=0x01)
        self._Session = {"SigningKey": SIGNING, "DecryptionKey": ""}

    def receive_logon_reply(self) -> None:
        self._NetBIOSSession.recv_packet()


class FakeConnection:
    def __init__(self, server: FakeLoggedOnServer) -> None:
        self.server, self.closed = server, False

    def getSMBServer(self) -> FakeLoggedOnServer:
        return self.server

    def login(self, user: str, password: str, domain: str) -> None:
        self.server.receive_logon_reply()

    def getDialect(self) -> int:
        return 0x311

    def isSigningRequired(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def test_connect_guards_the_session_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = FakeConnection(FakeLoggedOnServer())
    monkeypatch.setattr(_sysvol, "_connection", lambda *args, **kwargs: conn)
    Sysvol.connect("dc1", "192.0.2.1", "admin@EX.TEST", "pw", 5)
    conn.server._NetBIOSSession.inbox.append(flip(reply(), 70))
    with pytest.raises(SysvolError, match="reply from DC dc1 failed SMB signature verification"):
        conn.server._NetBIOSSession.recv_packet()


def test_connect_refuses_a_session_whose_final_logon_reply_does_not_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = FakeConnection(FakeLoggedOnServer(reply(b"\x09\x00" + bytes(7), command=0x01, key=bytes(16))))
    monkeypatch.setattr(_sysvol, "_connection", lambda *args, **kwargs: conn)
    with pytest.raises(SysvolError, match=r"reply from DC dc1 failed SMB signature verification \(bad signature "
                                          r"\(command 0x1, message 7\)\)"):
        Sysvol.connect("dc1", "192.0.2.1", "admin@EX.TEST", "pw", 5)
    assert conn.closed and conn.server._NetBIOSSession.closed


# RFC 4493, section 4: the key and the four examples.
CMAC_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
CMAC_MESSAGE = ("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")


@pytest.mark.parametrize(("length", "mac"), [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
])
def test_aes_cmac_gives_rfc_4493s_examples(length: int, mac: str) -> None:
    assert AesCmac(bytes.fromhex(CMAC_KEY)).digest(bytes.fromhex(CMAC_MESSAGE)[:length]).hex() == mac


def test_aes_cmac_signs_as_impacket_does_at_every_length() -> None:
    from impacket import crypto

    key = bytes(range(16))
    cmac = AesCmac(key)
    for length in [*range(70), 1000, 4096, 4097]:
        message = bytes((i * 7 + length) % 256 for i in range(length))
        assert cmac.digest(message) == crypto.AES_CMAC(key, message, length), length
