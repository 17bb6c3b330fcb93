# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""scan_gpo's options: the argument spec and the run's Request built from them, checked before connecting."""
from __future__ import annotations

from typing import Any, Final

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoInputError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import ScanPolicy
from ansible_collections.scanready.windows.plugins.module_utils._gpo.store import Request
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import (
    DEFAULT_ACCOUNT,
    DEFAULT_GPO_NAME,
    DEFAULT_GROUP,
    DOMAIN_ADMINS,
    LOCAL_ADMINS,
    PRIVILEGES,
)

SWITCHES: Final = ("sharing_model_classic", "guest_account_disabled", "everyone_includes_anonymous_disabled",
                   "remote_registry_automatic", "server_automatic", "windows_firewall_automatic",
                   "remote_admin_exception", "file_print_exception", "icmp_echo_exception")
GPO_SPEC: Final[dict[str, dict[str, Any]]] = {
    "name": {"type": "str", "default": DEFAULT_GPO_NAME},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    **{switch: {"type": "bool", "default": True} for switch in SWITCHES},
    "firewall_enabled": {"type": "raw", "default": "unmanaged"},
    "scanner_addresses": {"type": "list", "elements": "str"},
    "links": {"type": "list", "elements": "str"},
    "enforced": {"type": "bool", "default": False},
    "adopt": {"type": "bool", "default": False},
    "guid": {"type": "str"},
    "privilege": {"type": "str", "default": DOMAIN_ADMINS, "choices": list(PRIVILEGES)},
    "scanner_group": {"type": "str", "default": DEFAULT_GROUP},
    "local_admins_name": {"type": "str"},
    "deny_interactive_logon": {"type": "bool", "default": False},
    "account_name": {"type": "str", "default": DEFAULT_ACCOUNT},
}


def firewall_choice(value: Any) -> bool | None:
    """true / false / 'unmanaged' (None); GpoInputError (a ValueError) otherwise."""
    if isinstance(value, str) and value.strip().lower() == "unmanaged":
        return None
    try:
        return bool(boolean(value, strict=True))
    except TypeError:
        raise GpoInputError(f"firewall_enabled must be true, false or unmanaged, not {value!r}") from None


def request_from(params: dict[str, Any]) -> Request:
    """The run's request, checked before any connection: GpoInputError for input no domain could make right."""
    addresses = params["scanner_addresses"]
    policy = ScanPolicy(**{switch: params[switch] for switch in SWITCHES},
                        firewall_enabled=firewall_choice(params["firewall_enabled"]),
                        scanner_addresses=tuple(addresses) if addresses is not None else None,
                        local_admins=params["privilege"] == LOCAL_ADMINS,
                        deny_interactive_logon=params["deny_interactive_logon"])
    links = params["links"]
    request = Request(name=params["name"], state=params["state"], policy=policy,
                      links=tuple(links) if links is not None else None, enforced=params["enforced"],
                      adopt=params["adopt"], guid=params["guid"].strip() or None if params["guid"] else None,
                      scanner_group=params["scanner_group"], account_name=params["account_name"],
                      local_admins_name=params["local_admins_name"])
    request.validate()
    return request
