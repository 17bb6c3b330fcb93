"""The SMB client's NTLMv1 switch: one thread's logon answers with NTLMv1, the others' are untouched."""
from __future__ import annotations

import threading
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._smb import client as _client
from impacket import ntlm


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
