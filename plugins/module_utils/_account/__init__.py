# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner's domain account.

names (name rules), expires (the expiry option and accountExpires), request (what the module was asked,
checked before connecting), uac (flag arithmetic), control (who controls an account, and what adopting
writes), plan (the pure plan as data, the predicted account, the diff), group (the scanner group of the
local_admins mode), directory (what is read from the DC) and apply (ensure_account, which reads, plans and
applies). The names below are the package's interface.
"""
from __future__ import annotations

from ansible_collections.scanready.windows.plugins.module_utils._account.apply import (
    Outcome,
    ensure_account,
    unicode_pwd,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.control import FOREIGN, Control, Trust, judge
from ansible_collections.scanready.windows.plugins.module_utils._account.directory import Directory, find_account
from ansible_collections.scanready.windows.plugins.module_utils._account.expires import (
    Expiry,
    from_filetime,
    iso,
    parse_expires,
    to_filetime,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.group import (
    GLOBAL_SECURITY,
    GroupPlan,
    ScannerGroup,
    group_view,
    plan_group,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.names import (
    GROUP_MAX_LENGTH,
    SAM_FORBIDDEN,
    SAM_MAX_LENGTH,
    group_name_problem,
    name_problem,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.plan import (
    Account,
    Plan,
    build_diff,
    control_view,
    plan_changes,
    predict,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.request import (
    UPDATE_ALWAYS,
    UPDATE_ON_CREATE,
    AccountRequest,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.uac import (
    RISKY_FLAGS,
    UF_ACCOUNTDISABLE,
    UF_DONT_EXPIRE_PASSWD,
    UF_NORMAL_ACCOUNT,
    UF_NOT_DELEGATED,
    uac_for,
)

__all__ = [
    "FOREIGN", "GLOBAL_SECURITY", "GROUP_MAX_LENGTH", "RISKY_FLAGS",
    "SAM_FORBIDDEN", "SAM_MAX_LENGTH", "UF_ACCOUNTDISABLE", "UF_DONT_EXPIRE_PASSWD", "UF_NORMAL_ACCOUNT",
    "UF_NOT_DELEGATED", "UPDATE_ALWAYS", "UPDATE_ON_CREATE", "Account", "AccountRequest", "Control", "Directory",
    "Expiry", "GroupPlan", "Outcome", "Plan", "ScannerGroup", "Trust", "build_diff", "control_view",
    "ensure_account", "find_account", "from_filetime", "group_name_problem", "group_view", "iso", "judge",
    "name_problem", "parse_expires", "plan_changes", "plan_group", "predict", "to_filetime", "uac_for",
    "unicode_pwd",
]
