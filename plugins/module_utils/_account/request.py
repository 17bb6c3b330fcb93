# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the module was asked for, checked before anything talks to the domain."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._account.expires import Expiry, parse_expires
from ansible_collections.scanready.windows.plugins.module_utils._account.names import group_name_problem, name_problem
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import check_dn
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import (
    DEFAULT_GROUP,
    DOMAIN_ADMINS,
)

UPDATE_ON_CREATE: Final = "on_create"
UPDATE_ALWAYS: Final = "always"


@dataclass(frozen=True)
class AccountRequest:
    """The account as the module is asked to leave it; from_params refuses a bad name before any connection."""

    name: str
    state: str  # present | disabled | absent
    password: str | None = field(default=None, repr=False)
    update_password: str = UPDATE_ON_CREATE  # or UPDATE_ALWAYS
    path: str | None = None
    description: str | None = None  # None: leave as it is
    password_never_expires: bool = True
    privilege: str = DOMAIN_ADMINS  # domain_admins | local_admins | none
    scanner_group: str = DEFAULT_GROUP  # the global security group local_admins makes the account a member of
    expires: Expiry | None = None  # None: accountExpires is left as it is
    create: bool = True  # False: a missing account stays missing (a rollback must not create one)
    adopt: bool = False  # take over an existing account someone else controls, or that has risky settings

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AccountRequest:
        """The request in the module's params (validated by its argument spec); ScanreadyError for a bad account
        or group name, a path that is not a distinguished name, or an expiry that does not parse."""
        problem = name_problem(params["name"]) or group_name_problem(params["scanner_group"], params["name"])
        if problem:
            raise ScanreadyError(problem)
        if params["path"] is not None:
            check_dn(params["path"])
        expires = params["expires"]
        return cls(name=params["name"], state=params["state"], password=params["password"],
                   update_password=params["update_password"], path=params["path"],
                   description=params["description"], password_never_expires=params["password_never_expires"],
                   privilege=params["privilege"], create=params["create"], adopt=params["adopt"],
                   scanner_group=params["scanner_group"],
                   expires=parse_expires(expires) if expires is not None else None)
