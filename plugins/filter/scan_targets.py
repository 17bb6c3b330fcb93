# Copyright: (c) 2026, scanready maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn inventory hosts into the targets scan_readiness takes: the inventory name, and ansible_host as the address."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: scan_targets
short_description: The targets of M(scanready.windows.scan_readiness) for a list of inventory hosts
version_added: 0.2.0
author: scanready maintainers
description:
  - One target per host, in the order given. C(name) is the inventory name and C(address) the host's
    C(ansible_host), or the inventory name when the host has no C(ansible_host).
  - Hosts listed twice give two targets (M(scanready.windows.scan_readiness) warns about them and checks
    each target once); an inventory group lists each host once.
options:
  _input:
    description: Inventory host names, typically C(groups['scan_targets']).
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars), where each host's C(ansible_host) is read.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Verify every host of the scan_targets group from the scanner's side
  scanready.windows.scan_readiness:
    domain: corp.example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
    targets: "{{ groups['scan_targets'] | scanready.windows.scan_targets(hostvars) }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: One target per host.
  type: list
  elements: dict
  contains:
    name:
      description: The inventory name.
      type: str
    address:
      description: The host's C(ansible_host), else its inventory name.
      type: str
  sample:
    - {name: web01.corp.example.com, address: 10.0.1.21}
    - {name: db01.corp.example.com, address: db01.corp.example.com}
"""


def scan_targets(hosts: Any, hostvars: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """[{name, address}] for each host: address is ansible_host, else the inventory name."""
    if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) for h in hosts):
        raise AnsibleFilterError("scan_targets: expected a list of inventory host names, "
                                 "such as groups['scan_targets']")
    targets = []
    for host in hosts:
        # A name the inventory does not know has no variables. Not hostvars.get(): Ansible's HostVars
        # answers an unknown name with an undefined value, not a KeyError.
        host_vars = hostvars[host] if host in hostvars else {}  # noqa: SIM401
        targets.append({"name": host, "address": host_vars.get("ansible_host", host)})
    return targets


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"scan_targets": scan_targets}
