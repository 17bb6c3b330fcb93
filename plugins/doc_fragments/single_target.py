# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The one host that share_access and registry_access check.
    DOCUMENTATION = r"""
options:
  target:
    description:
      - Address (or resolvable name) of the host to check.
    type: str
    required: true
  name:
    description:
      - The host's name in the result. When it is a fully qualified DNS name it is also the name for
        Kerberos (C(cifs/<name>)); otherwise the domain controller's DNS is asked for a PTR record
        of the address, then (unless that DNS holds the address's reverse zone and has no record in
        it) the controller's reverse DNS.
      - Defaults to O(target).
    type: str
"""
