# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ldap3, imported here and nowhere else in the collection.

The rest of the package reads `ldap3` and `ldap3_exceptions` from here (None when the library is
missing); a module reports that with require_library(module, "ldap3", LDAP3_IMPORT_ERROR).
"""
from __future__ import annotations

import traceback
from typing import Final

try:
    import ldap3
    from ldap3.core import exceptions as ldap3_exceptions
except ImportError:
    ldap3 = None
    ldap3_exceptions = None
    LDAP3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    LDAP3_IMPORT_ERROR = None
HAS_LDAP3: Final = LDAP3_IMPORT_ERROR is None

__all__ = ["HAS_LDAP3", "LDAP3_IMPORT_ERROR", "ldap3", "ldap3_exceptions"]
