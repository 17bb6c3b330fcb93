# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words the stages share, each defined once: privilege modes, default names, the admin shares a scan
opens, the authentication schemes. The modules' argument specs and the packages import them from here."""
from __future__ import annotations

from typing import Final

DOMAIN_ADMINS: Final = "domain_admins"
LOCAL_ADMINS: Final = "local_admins"
PRIVILEGES: Final = (DOMAIN_ADMINS, LOCAL_ADMINS, "none")  # how the scanner account is an administrator
DEFAULT_ACCOUNT: Final = "qualys_scanner"
DEFAULT_GROUP: Final = "Vulnerability Scanners"  # the scanner group of local_admins mode
DEFAULT_GPO_NAME: Final = "Authenticated scanning (scanready)"
DEFAULT_SHARES: Final = ("C$", "ADMIN$", "IPC$")
# The logon schemes, strongest first, and how a person reads each.
SCHEME_NAMES: Final = {"kerberos-aes": "Kerberos AES", "kerberos-rc4": "Kerberos RC4", "ntlmv2": "NTLMv2",
                       "ntlmv1": "NTLMv1"}
