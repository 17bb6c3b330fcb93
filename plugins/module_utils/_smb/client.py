# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one impacket SMB 2/3 client every session uses, and the switch that lets one thread log on with NTLMv1.

negotiate() opens TCP 445 and negotiates SMB 2/3 with client_class(): impacket's SMB3 that also keeps
whether the server requires signing and signs with one AesCmac per session. Failures are raised as
impacket and the socket raise them; each caller says what they mean for it.
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.scanready.windows.plugins.module_utils._smb.signing import AesCmac

try:
    from impacket import nmb, ntlm, smb3
    from impacket import smb3structs as s3
except ImportError:  # reported by the module through missing_required_lib
    nmb = ntlm = smb3 = s3 = None


@functools.cache
def client_class() -> Any:
    """impacket's SMB3 client that also keeps whether the server requires signing (impacket folds the
    server's SecurityMode into one flag with dialect 3.1.1, where the client always signs), and signs
    SMB 3 requests with one AesCmac per session."""
    class Client(smb3.SMB3):  # type: ignore[misc]
        server_requires_signing: bool | None = None
        _cmac: AesCmac | None = None

        def recvSMB(self, packetID: Any = None) -> Any:
            packet = super().recvSMB(packetID)
            if packet["Command"] == s3.SMB2_NEGOTIATE and packet["Status"] == 0:
                mode = s3.SMB2Negotiate_Response(packet["Data"])["SecurityMode"]
                self.server_requires_signing = bool(mode & s3.SMB2_NEGOTIATE_SIGNING_REQUIRED)
            return packet

        def signSMB(self, packet: Any) -> None:
            key = self._Session["SigningKey"]
            if self._Connection["Dialect"] in (s3.SMB2_DIALECT_21, s3.SMB2_DIALECT_002) \
                    or not self._Session["SessionKey"] or not key:
                super().signSMB(packet)
                return
            packet["Signature"] = bytes(16)
            if self._cmac is None or self._cmac.key != key:
                self._cmac = AesCmac(bytes(key))
            packet["Signature"] = self._cmac.digest(packet.getData())
    return Client


def negotiate(name: str, address: str, timeout: float, port: int = 445) -> Any:
    """A client_class() connected to address on TCP 445 with SMB 2/3 negotiated; `name` is what NTLM,
    Kerberos and signing name as the server. Raises OSError, impacket's NetBIOSError or NetBIOSTimeout,
    or smb3.SessionError; a reply that is no SMB 2/3 at all (an SMB1-only server) as a NetBIOSError too."""
    try:
        return client_class()(name, address, sess_port=port, timeout=timeout)
    except (OSError, nmb.NetBIOSError, nmb.NetBIOSTimeout, smb3.SessionError):
        raise
    except Exception as exc:  # impacket's structures raise a bare Exception on a reply they cannot unpack
        raise nmb.NetBIOSError(f"the answer is not SMB 2 or 3 (an SMB1-only server?): {str(exc)[:80]}") from None


# ---------------------------------------------------------------- NTLMv1

_ntlm_version = threading.local()


def _install_ntlmv1_switch() -> None:
    """Let one thread's session setup answer with NTLMv1.

    impacket's SMB2/3 login always calls ntlm.getNTLMSSPType3 with its import-time default
    (NTLMv2). The replacement switches to NTLMv1 only in a thread that asked for it, so sessions in
    other threads are untouched. It is installed only when NTLMv1 is allowed.
    """
    current = ntlm.getNTLMSSPType3
    if getattr(current, "scanready_switch", False):
        return

    def type3(*args: Any, **kwargs: Any) -> Any:
        if getattr(_ntlm_version, "v1", False):
            kwargs["use_ntlmv2"] = False
        return current(*args, **kwargs)

    type3.scanready_switch = True  # type: ignore[attr-defined]
    ntlm.getNTLMSSPType3 = type3


@contextmanager
def ntlmv1() -> Iterator[None]:
    """Inside, this thread's NTLM logons answer with NTLMv1."""
    _install_ntlmv1_switch()
    _ntlm_version.v1 = True
    try:
        yield
    finally:
        _ntlm_version.v1 = False
