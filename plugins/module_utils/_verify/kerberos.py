# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ladder's Kerberos rungs: a TGT per rung (its own encryption types), service tickets on demand.

The client that gets them (kinit, kvno, the ccache parser) is the collection's one, in _kerberos.
"""
from __future__ import annotations

import threading
from typing import Protocol

from ansible_collections.scanready.windows.plugins.module_utils._ccache import ServiceTicket
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosClient, KerberosError
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import SCHEME_NAMES

__all__ = ["KerberosClient", "KerberosError", "ServiceTicket", "TicketSource", "Tickets"]


class TicketSource(Protocol):
    """Service tickets per Kerberos rung, or the reason there is none."""

    def ticket(self, scheme: str, spn: str) -> ServiceTicket | str: ...


class Tickets:
    """Service tickets for the ladder's Kerberos rungs. The AES rung's TGT comes from the guard;
    a later rung gets its own TGT, with its own encryption types, when a target first needs it."""

    def __init__(self, creds: Credentials, kdc: str, timeout: float, aes: KerberosClient | None,
                 unavailable: str = "") -> None:
        self._creds = creds
        self._kdc = kdc
        self._timeout = timeout
        self._clients: dict[str, KerberosClient] = {"kerberos-aes": aes} if aes is not None else {}
        self._refused: dict[str, str] = {"kerberos-aes": unavailable} if aes is None else {}
        self._lock = threading.Lock()

    def ticket(self, scheme: str, spn: str) -> ServiceTicket | str:
        client = self._client(scheme)
        return client if isinstance(client, str) else client.ticket(spn)

    def _client(self, scheme: str) -> KerberosClient | str:
        with self._lock:
            if scheme in self._refused:
                return self._refused[scheme]
            if scheme not in self._clients:
                client = KerberosClient(self._creds.realm, self._kdc, self._creds.username, scheme, self._timeout)
                try:
                    client.login(self._creds.password)
                except KerberosError as exc:
                    client.close()
                    self._refused[scheme] = f"the KDC refused a {SCHEME_NAMES[scheme]} TGT: {exc.message}"
                    return self._refused[scheme]
                self._clients[scheme] = client
            return self._clients[scheme]

    def close(self) -> None:
        """Remove the ccaches this process made (each client leaves another process's alone)."""
        for client in self._clients.values():
            client.close()
