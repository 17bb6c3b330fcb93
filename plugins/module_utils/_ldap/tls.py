# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS to a DC: the checks a Windows client makes, done by the ssl module during the handshake."""
from __future__ import annotations

import ssl
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import CONFIG, DomainError, tls_reason
from ansible_collections.scanready.windows.plugins.module_utils._ldap.library import ldap3
from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import Settings

NO_VALIDATION_WARNING: Final = ("validate_certs is false: the DC's certificate is not checked, so anyone on the path "
                                "to it can read the operator's password and change what is written")


class HandshakeVerifiedTls(ldap3.Tls if ldap3 is not None else object):  # type: ignore[misc]
    """TLS whose host name check is done by the ssl module during the handshake.

    ldap3's own check relies on ssl.match_hostname (removed in Python 3.12) and its fallback cannot
    match IP addresses, so a DC addressed by IP would fail even with a matching certificate.
    """

    def __init__(self, context: ssl.SSLContext, server_hostname: str) -> None:
        super().__init__(validate=context.verify_mode)
        self._context = context
        self._server_hostname = server_hostname

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket, server_side=False, server_hostname=self._server_hostname,
            do_handshake_on_connect=do_handshake)


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Chain and host name checked (CN when the certificate has no subjectAltName, as Samba's own has);
    not the RFC 5280 strict profile that Python 3.13 turns on, which refuses such certificates for
    lacking an Authority Key Identifier though Windows clients accept them and nothing is forged."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_cert)
    except FileNotFoundError:
        raise DomainError(f"ca_cert {settings.ca_cert}: no such file", CONFIG) from None
    except (ssl.SSLError, OSError) as exc:
        raise DomainError(f"ca_cert {settings.ca_cert} is not a PEM CA certificate: {tls_reason(exc)}",
                          CONFIG) from None
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    context.hostname_checks_common_name = True
    if not settings.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
