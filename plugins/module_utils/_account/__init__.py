# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner's domain account.

names (name rules), request (what the module was asked, checked before connecting), uac (flag
arithmetic), control (who controls an account, and what adopting writes), plan (the pure plan as
data, the predicted account, the diff), directory (what is read from the DC) and apply
(ensure_account, which reads, plans and applies). The names below are the package's interface.
"""
from __future__ import annotations

from ansible_collections.scanready.windows.plugins.module_utils._account.apply import (
    Outcome,
    ensure_account,
    unicode_pwd,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.control import FOREIGN, Control, Trust, judge
from ansible_collections.scanready.windows.plugins.module_utils._account.directory import Directory, find_account
from ansible_collections.scanready.windows.plugins.module_utils._account.names import (
    DEFAULT_NAME,
    SAM_FORBIDDEN,
    SAM_MAX_LENGTH,
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
    uac_for,
)

__all__ = [
    "DEFAULT_NAME", "FOREIGN", "RISKY_FLAGS", "SAM_FORBIDDEN", "SAM_MAX_LENGTH", "UF_ACCOUNTDISABLE",
    "UF_DONT_EXPIRE_PASSWD", "UF_NORMAL_ACCOUNT", "UPDATE_ALWAYS", "UPDATE_ON_CREATE", "Account", "AccountRequest",
    "Control", "Directory", "Outcome", "Plan", "Trust", "build_diff", "control_view", "ensure_account",
    "find_account", "judge", "name_problem", "plan_changes", "predict", "uac_for", "unicode_pwd",
]
