# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain connection: LDAP to a DC over TLS or sealed, bound as the operator, with one exception type.

Both domain modules (scan_account, scan_gpo) merge DOMAIN_CONNECTION_SPEC into their argument spec
and call connect(module.params). Every failure surfaces as DomainError, whose message names the
cause for an administrator and never contains a password.

The package: settings (the options and Settings), names (DNs, filter escaping, SIDs), errors
(DomainError and how failures read), tls (the certificate checks), credentials (the operator's
Kerberos tickets, a password checked at the KDC), sealing (the Kerberos and NTLM security contexts),
sasl (GSS-SPNEGO binds and the sealed socket), connection (DomainConnection, connect: the choice of
transport) and library (the one import of ldap3). The names below are its public interface.
"""
from __future__ import annotations

from ansible_collections.scanready.windows.plugins.module_utils._ldap.connection import (
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    SD_OWNER_DACL,
    SD_OWNER_GROUP_DACL,
    DomainConnection,
    Entry,
    connect,
    connect_module,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.credentials import BindCheck
from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import (
    BIND,
    CONFIG,
    EXISTS,
    FAILED,
    NO_SUCH_OBJECT,
    REJECTED,
    RIGHTS,
    TLS,
    UNREACHABLE,
    WRONG_DOMAIN,
    DomainError,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.library import HAS_LDAP3, LDAP3_IMPORT_ERROR
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import (
    base_dn_for,
    check_dn,
    dn_is_within,
    escape_filter,
    escape_rdn,
    normalize_dn,
    sid_to_str,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import (
    DOMAIN_CONNECTION_SPEC,
    Settings,
    bind_user_for,
    settings_from_params,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.tls import NO_VALIDATION_WARNING

__all__ = [
    "BIND", "CONFIG", "DOMAIN_CONNECTION_SPEC", "EXISTS", "FAILED", "HAS_LDAP3", "LDAP3_IMPORT_ERROR", "MODIFY_ADD",
    "MODIFY_DELETE", "MODIFY_REPLACE", "NO_SUCH_OBJECT", "NO_VALIDATION_WARNING", "REJECTED", "RIGHTS",
    "SD_OWNER_DACL", "SD_OWNER_GROUP_DACL", "TLS", "UNREACHABLE", "WRONG_DOMAIN", "BindCheck", "DomainConnection",
    "DomainError", "Entry", "Settings", "base_dn_for", "bind_user_for", "check_dn", "connect", "connect_module",
    "dn_is_within", "escape_filter", "escape_rdn", "normalize_dn", "settings_from_params", "sid_to_str",
]
