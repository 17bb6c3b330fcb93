"""The SMB client: the NTLMv1 switch (one thread's logon answers with NTLMv1, the others' are untouched), and a
server that answers no SMB 2/3."""
from __future__ import annotations

import socket
import struct
import threading
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._smb import client as _client
from impacket import nmb, ntlm


def test_the_ntlmv1_switch_affects_only_the_asking_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def original(*args: Any, **kwargs: Any) -> str:
        seen[threading.current_thread().name] = kwargs.get("use_ntlmv2", True)
        return "type3"

    monkeypatch.setattr(ntlm, "getNTLMSSPType3", original)
    barrier = threading.Barrier(2)

    def v1() -> None:
        with _client.ntlmv1():
            barrier.wait()
            ntlm.getNTLMSSPType3("t1", "t2", "u", "p", "d")
            barrier.wait()

    def v2() -> None:
        barrier.wait()
        ntlm.getNTLMSSPType3("t1", "t2", "u", "p", "d")
        barrier.wait()

    threads = [threading.Thread(target=v1, name="v1"), threading.Thread(target=v2, name="v2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert seen == {"v1": False, "v2": True}


def test_an_smb1_only_server_is_a_negotiation_failure_not_a_crash() -> None:
    """Issue 21, item 7: impacket raises a bare Exception on an SMB1 negotiate reply; both callers read a
    NetBIOSError (the verifier: refused; SYSVOL: unreachable on SMB), never a traceback."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def answer_smb1() -> None:
        peer, _address = listener.accept()
        with peer:
            peer.recv(4096)
            reply = b"\xffSMB\x72" + bytes(60)  # an SMB1 NEGOTIATE response header
            peer.sendall(struct.pack(">I", len(reply)) + reply)

    server = threading.Thread(target=answer_smb1, daemon=True)
    server.start()
    with listener, pytest.raises(nmb.NetBIOSError, match="not SMB 2 or 3"):
        _client.negotiate("dc1", "127.0.0.1", 5, listener.getsockname()[1])
    server.join(timeout=10)
