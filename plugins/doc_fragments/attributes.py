# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # What every module of the collection documents the same way: the attributes' descriptions (each
    # module gives its own support and details), that it runs on the controller, and the Python it needs.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
requirements:
  - Python 3.11 or later on the controller
"""

    # The modules that take the operator's connection to a domain controller (scan_account, scan_gpo).
    DOMAIN = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/scanready.windows.domain) in C(module_defaults) to set the connection options once.
    support: full
    membership: [scanready.windows.domain]
"""

    # The modules that verify as the scanner account (scan_readiness, share_access, registry_access):
    # read-only, from the controller.
    VERIFY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same in check mode and never reports C(changed).
  diff_mode:
    support: none
    details: Nothing changes, so there is no diff.
  platform:
    details: "Runs on the controller (C(delegate_to: localhost)) and reaches the targets over SMB, DCE/RPC and DCOM."
  action_group:
    description: Use C(group/scanready.windows.verify) in C(module_defaults) to set the scanner account once.
    support: full
    membership: [scanready.windows.verify]
"""
