"""A reply altered on the path stops the GPO write: the scan policy store in-process against the lab's
DC, its SMB going through a relay on loopback that this test runs and that flips one byte of one reply.

impacket signs and encrypts what it sends but checks neither on what it receives; _smb.signing's ReplyGuard
does. Samba is the oracle for "nothing changed": the DC's own database and SYSVOL as it lies on disk.
"""
from __future__ import annotations

import hashlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _ldap
from ansible_collections.scanready.windows.plugins.module_utils._gpo import store as _gpo_store
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import ScanPolicy
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import Sysvol, SysvolError

from tests.lab_support import LabInfo, ldb_search, load_lab

pytestmark = pytest.mark.lab

NAME = "Tamper test policy - scanready"  # no filter metacharacters: it goes into an LDAP filter as it is
PROXY = ("127.0.0.2", 445)  # the DC's name still goes to NTLM; only the TCP address is the relay's
LOGON_REPLIES = 3  # negotiate, NTLM challenge, final SESSION_SETUP: the session is established after these
# Then TREE_CONNECT, CREATE, and the first QUERY_DIRECTORY: the store is still reading the GPO's folder.
TAMPERED_REPLY = LOGON_REPLIES + 3


class TamperRelay:
    """Relays SMB between loopback and the DC; in a connection, flips the last byte of reply number `tamper`
    (1-based, NetBIOS-framed messages). Bounded: at most `connections` connections, all gone by `seconds`."""

    def __init__(self, dc: str, tamper: int | None, connections: int = 2, seconds: float = 120) -> None:
        self.dc, self.tamper, self.connections = dc, tamper, connections
        self.deadline = time.monotonic() + seconds
        self.replies: list[int] = []  # per connection, replies relayed
        self.tampered = False
        self.sent_after_tamper = 0  # bytes the client sent once it had the tampered reply
        self._stop = threading.Event()
        self._listener = socket.create_server(PROXY)
        self._listener.settimeout(0.2)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self) -> TamperRelay:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=10)
        self._listener.close()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self.deadline

    def _accept(self) -> None:
        while self._running() and len(self.replies) < self.connections:
            try:
                client, _peer = self._listener.accept()
            except TimeoutError:
                continue
            self.replies.append(0)
            thread = threading.Thread(target=self._relay, args=(client, len(self.replies) - 1), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket, index: int) -> None:
        with client, socket.create_connection((self.dc, 445), timeout=10) as server, \
                selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            pending = b""  # from the DC: bytes of a message not yet complete
            while self._running():
                for key, _events in selector.select(timeout=0.2):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    if key.fileobj is client:
                        self.sent_after_tamper += len(data) if self.tampered else 0
                        server.sendall(data)
                        continue
                    pending += data
                    while len(pending) >= 4 and len(pending) >= 4 + int.from_bytes(pending[1:4], "big"):
                        size = 4 + int.from_bytes(pending[1:4], "big")
                        message, pending = bytearray(pending[:size]), pending[size:]
                        self.replies[index] += 1
                        if self.replies[index] == self.tamper:
                            message[-1] ^= 0x01
                            self.tampered = True
                        client.sendall(message)


def run_store(lab: LabInfo, address: str, request: _gpo_store.Request) -> _gpo_store.Outcome:
    """The scan_gpo module's logic in-process, LDAP to the DC, SMB to `address` under the DC's name."""
    conn = _ldap.connect(dict(lab.connection_args(), tls="ldaps", validate_certs=True, connect_timeout=10))
    settings = conn.settings
    try:
        def open_sysvol(share: str) -> Sysvol:
            return Sysvol.connect(settings.host, address, settings.bind_user, settings.password, settings.timeout,
                                  share)
        return _gpo_store.run(conn, open_sysvol, request, settings.domain, False)
    finally:
        conn.close()


def request(state: str, *addresses: str) -> _gpo_store.Request:
    return _gpo_store.Request(NAME, state, ScanPolicy(scanner_addresses=addresses or None), (), False)


def gpo_state(lab: LabInfo) -> tuple[list[dict[str, list[str]]], dict[str, str]]:
    """The GPO's LDAP entries (every attribute, uSNChanged included) and its SYSVOL files' digests, read by Samba."""
    base = lab.vars["lab_base_dn"]
    entries = ldb_search(lab, f"CN=Policies,CN=System,{base}", f"(displayName={NAME})", scope="one")
    policies = lab.state / "state" / "sysvol" / lab.vars["scanready_domain"] / "Policies"
    files: dict[str, str] = {}
    for entry in entries:
        folder = next(p for p in policies.iterdir() if p.name.lower() == entry["cn"][0].lower())
        files.update({str(path.relative_to(policies)): hashlib.sha256(path.read_bytes()).hexdigest()
                      for path in sorted(folder.rglob("*")) if path.is_file()})
    return entries, files


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab()


@pytest.fixture
def relay_address() -> Iterator[str]:
    probe = socket.socket()
    probe.settimeout(1)
    try:
        assert probe.connect_ex(PROXY) != 0, f"something already listens on {PROXY[0]}:{PROXY[1]}"
    finally:
        probe.close()
    yield PROXY[0]


def test_a_tampered_reply_stops_the_gpo_write_and_leaves_the_gpo_as_it_was(lab: LabInfo, relay_address: str) -> None:
    dc = lab.vars["lab_dc_address"]
    try:
        # The relay is transparent: the GPO is made through it, and Samba reads what was written.
        with TamperRelay(dc, tamper=None) as relay:
            made = run_store(lab, relay_address, request("present", "192.0.2.10"))
        assert made.changed and made.guid and relay.replies and relay.replies[0] > LOGON_REPLIES
        before = gpo_state(lab)
        assert len(before[0]) == 1 and int(before[0][0]["versionNumber"][0]) > 0
        assert any(name.endswith("Registry.pol") for name in before[1]), before[1]

        with TamperRelay(dc, tamper=TAMPERED_REPLY) as relay, pytest.raises(SysvolError) as failure:
            run_store(lab, relay_address, request("present", "192.0.2.20"))
        assert relay.tampered
        assert f"reply from DC {lab.vars['scanready_dc']} failed SMB signature verification" in failure.value.message
        assert "refusing to continue; nothing more was written" in failure.value.message
        assert relay.sent_after_tamper == 0, "the client sent more after the tampered reply"
        assert gpo_state(lab) == before

        # The same change without the tampering goes through: the GPO was left in a state the store takes up.
        changed = run_store(lab, dc, request("present", "192.0.2.20"))
        assert changed.changed and changed.guid == made.guid
    finally:
        run_store(lab, dc, request("absent"))
    assert gpo_state(lab) == ([], {})
