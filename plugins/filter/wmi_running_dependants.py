# Copyright: (c) 2026, scanready maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pick the running services that stop with Winmgmt, so exactly those are started again after its restart."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: wmi_running_dependants
short_description: The running services that depend on a service, directly or not, in the order to start them
version_added: 0.1.0
author: scanready maintainers
description:
  - Stopping Winmgmt with its dependants (C(net stop winmgmt /y), or M(ansible.windows.win_service) with
    O(ansible.windows.win_service#module:force_dependent_services=true)) stops every service that depends
    on it, directly or through another service, and starting Winmgmt again does not start them.
  - Given every service as M(ansible.windows.win_service_info) returns them, this names the dependants that
    are running now (C(started), C(start_pending) or C(continue_pending)), each after the services among
    them it depends on, so starting them in this order restores exactly what ran before.
  - Names compare without regard to case, as Windows compares service names; load-order groups
    (dependencies starting with C(+)) are not services and are ignored.
options:
  _input:
    description:
      - The registered result of M(ansible.windows.win_service_info) without a name (every service),
        or its C(services) list.
    type: raw
    required: true
  root:
    description: The service whose dependants are wanted.
    type: str
    default: Winmgmt
"""

EXAMPLES = r"""
- name: Read every service
  ansible.windows.win_service_info:
  register: all_services

- name: Record the running dependants of Winmgmt
  ansible.builtin.set_fact:
    running_dependants: "{{ all_services | scanready.windows.wmi_running_dependants }}"
"""

RETURN = r"""
_value:
  description: Service names as the host spells them, dependencies before their dependants; empty when none runs.
  type: list
  elements: str
  sample: [iphlpsvc, NcaSvc]
"""

RUNNING_STATES = frozenset({"started", "start_pending", "continue_pending"})
LOAD_ORDER_GROUP_PREFIX = "+"  # SC_GROUP_IDENTIFIER: the dependency names a group, not a service


def service_list(value: Any) -> list[Mapping[str, Any]]:
    services = value.get("services") if isinstance(value, Mapping) else value
    if not isinstance(services, list) or not all(isinstance(s, Mapping) and "name" in s for s in services):
        raise AnsibleFilterError("wmi_running_dependants: expected the registered result of "
                                 "ansible.windows.win_service_info (or its services list)")
    return services


def service_names(names: Iterable[Any] | None) -> list[str]:
    return [str(n).casefold() for n in names or [] if not str(n).startswith(LOAD_ORDER_GROUP_PREFIX)]


def running_dependants(value: Any, root: str = "Winmgmt") -> list[str]:
    """Names of the running services that depend on root, dependencies first, ties in name order."""
    services = {str(s["name"]).casefold(): s for s in service_list(value)}
    root_key = root.casefold()
    dependants_of: dict[str, set[str]] = {}
    for key, service in services.items():
        for dependency in service_names(service.get("dependencies")):
            dependants_of.setdefault(dependency, set()).add(key)
    # The host's own list of root's dependants (EnumDependentServices) also counts.
    dependants_of.setdefault(root_key, set()).update(service_names((services.get(root_key) or {}).get("dependency_of")))

    reached: set[str] = set()
    pending = [root_key]
    while pending:
        for dependant in dependants_of.get(pending.pop(), ()):
            if dependant not in reached and dependant != root_key:
                reached.add(dependant)
                pending.append(dependant)
    running = {k for k in reached if k in services and services[k].get("state") in RUNNING_STATES}

    ordered: list[str] = []
    waiting = {k: set(service_names(services[k].get("dependencies"))) & running for k in running}
    while waiting:
        ready = sorted(k for k, deps in waiting.items() if not deps - set(ordered)) or sorted(waiting)[:1]
        for key in ready:  # a dependency cycle (not possible on Windows) still ends: the first name goes next
            del waiting[key]
            ordered.append(key)
    return [str(services[k]["name"]) for k in ordered]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"wmi_running_dependants": running_dependants}
