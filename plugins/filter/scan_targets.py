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
  domain_controllers:
    description:
      - Inventory names of the domain controllers, typically C(groups['domain_controllers']).
      - When given, each target also gets C(domain_controller) (true for the hosts in this list), so
        that M(scanready.windows.scan_readiness) can name why an admin share is denied on a domain
        controller in O(scanready.windows.scan_readiness#module:privilege=local_admins) mode.
    type: list
    elements: str
    version_added: 0.2.0
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

- name: The same, telling scan_readiness which targets are domain controllers
  scanready.windows.scan_readiness:
    domain: corp.example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
    privilege: local_admins
    targets: "{{ groups['scan_targets'] | scanready.windows.scan_targets(hostvars, groups['domain_controllers']) }}"
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
    domain_controller:
      description: Whether the host is in O(domain_controllers); only when that list is given.
      type: bool
      version_added: 0.2.0
  sample:
    - {name: web01.corp.example.com, address: 10.0.1.21}
    - {name: db01.corp.example.com, address: db01.corp.example.com}
"""


def scan_targets(hosts: Any, hostvars: Mapping[str, Mapping[str, Any]],
                 domain_controllers: Any = None) -> list[dict[str, Any]]:
    """[{name, address}] for each host: address is ansible_host, else the inventory name; with
    `domain_controllers`, also domain_controller (whether the host is one of them)."""
    if not _names(hosts):
        raise AnsibleFilterError("scan_targets: expected a list of inventory host names, "
                                 "such as groups['scan_targets']")
    if domain_controllers is not None and not _names(domain_controllers):
        raise AnsibleFilterError("scan_targets: domain_controllers must be a list of inventory host names, "
                                 "such as groups['domain_controllers']")
    dcs = {name.lower() for name in domain_controllers or ()}
    targets = []
    for host in hosts:
        # A name the inventory does not know has no variables. Not hostvars.get(): Ansible's HostVars
        # answers an unknown name with an undefined value, not a KeyError.
        host_vars = hostvars[host] if host in hostvars else {}  # noqa: SIM401
        target = {"name": host, "address": host_vars.get("ansible_host", host)}
        if domain_controllers is not None:
            target["domain_controller"] = host.lower() in dcs
        targets.append(target)
    return targets


def _names(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(h, str) for h in value)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"scan_targets": scan_targets}
