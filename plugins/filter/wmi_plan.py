# Copyright: (c) 2026, scanready maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide from what a host reports whether its WMI service needs `winmgmt /standalonehost 6` (or `/sharedhost`)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

DOCUMENTATION = r"""
name: wmi_plan
short_description: Decide whether Winmgmt needs C(winmgmt /standalonehost 6) or C(winmgmt /sharedhost)
version_added: 0.1.0
author: scanready maintainers
description:
  - Reads the Winmgmt service as M(ansible.windows.win_service_info) returns it and the
    C(AuthenticationLevel) value under C(HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt)
    as M(ansible.windows.win_reg_stat) returns it, and says which C(winmgmt) command, if any, brings
    the host to the wanted state.
  - WMI runs in its own svchost when the image path of Winmgmt names the svchost group C(winmgmt)
    (C(svchost.exe -k winmgmt)); otherwise it shares a host such as C(netsvcs).
  - Where Windows stores the level is not confirmed by a primary source. When the value is absent the
    own svchost is taken as the sign of Packet Privacy; when it is present and not the wanted level the
    command runs again.
positional: level_stat
options:
  _input:
    description:
      - The registered result of M(ansible.windows.win_service_info) with
        O(ansible.windows.win_service_info#module:name=Winmgmt).
    type: dict
    required: true
  level_stat:
    description: The registered result of M(ansible.windows.win_reg_stat) for the C(AuthenticationLevel) value.
    type: dict
    required: true
  revert:
    description: Plan the rollback (C(winmgmt /sharedhost)) instead of Packet Privacy.
    type: bool
    default: false
  level:
    description: The wanted authentication level; 6 is Packet Privacy.
    type: int
    default: 6
"""

EXAMPLES = r"""
- name: Decide what WMI needs
  ansible.builtin.set_fact:
    wmi_plan: "{{ winmgmt_info | scanready.windows.wmi_plan(level_info) }}"

- name: Decide what the rollback needs
  ansible.builtin.set_fact:
    wmi_plan: "{{ winmgmt_info | scanready.windows.wmi_plan(level_info, revert=true) }}"
"""

RETURN = r"""
_value:
  description: What the host needs.
  type: dict
  contains:
    argv:
      description:
        - The command to run, for O(ansible.windows.win_command#module:argv); empty when nothing is needed.
      type: list
      elements: str
      sample: [winmgmt, /standalonehost, "6"]
    command:
      description: The same command as one string, empty when nothing is needed.
      type: str
      sample: winmgmt /standalonehost 6
    svchost_group:
      description: The svchost group named by the image path (C(-k GROUP)), or null when it names none.
      type: str
      sample: netsvcs
    standalone:
      description: Whether WMI runs in its own svchost now.
      type: bool
    level:
      description: The authentication level read from the registry, or null when it is not stored there.
      type: int
    image_path:
      description: The image path of Winmgmt as read.
      type: str
      sample: C:\Windows\system32\svchost.exe -k netsvcs -p
    summary:
      description: One line saying what was seen and what is needed.
      type: str
"""

LEVEL_VALUE = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt\AuthenticationLevel"
STANDALONE_GROUP = "winmgmt"
# svchost.exe -k GROUP [-p] [-s SERVICE]; the binary part may be quoted, switches may use '/'.
_GROUP = re.compile(r'(?:^|[\s"])[-/]k\s+"?([^\s"]+)', re.IGNORECASE)


def svchost_group(image_path: str) -> str | None:
    """The svchost group an image path names, or None when it names none."""
    match = _GROUP.search(image_path)
    return match.group(1) if match else None


def registry_level(level_stat: Mapping[str, Any]) -> int | None:
    """The DWORD win_reg_stat read, or None when the value is absent or not a number."""
    if not level_stat.get("exists"):
        return None
    value = level_stat.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def winmgmt_image_path(service_info: Any) -> str:
    if not isinstance(service_info, Mapping) or "services" not in service_info:
        raise AnsibleFilterError("wmi_plan: expected the registered result of ansible.windows.win_service_info "
                                 f"for Winmgmt, got {type(service_info).__name__}")
    services = [s for s in service_info["services"] or [] if str(s.get("name", "")).casefold() == "winmgmt"]
    if not services:
        raise AnsibleFilterError("wmi_plan: the Winmgmt service does not exist on this host")
    return str(services[0].get("path") or "")


def plan(service_info: Any, level_stat: Any, revert: Any = False, level: Any = 6) -> dict[str, Any]:
    """What the host needs: the winmgmt command (argv, empty for nothing) and one line saying why."""
    try:  # extra vars arrive as strings: "false" must not count as true
        revert = boolean(revert, strict=True)
        level = int(level)
    except (TypeError, ValueError) as e:
        raise AnsibleFilterError(f"wmi_plan: revert must be a boolean and level a number: {e}") from e
    image_path = winmgmt_image_path(service_info)
    if not isinstance(level_stat, Mapping):
        raise AnsibleFilterError("wmi_plan: expected the registered result of ansible.windows.win_reg_stat "
                                 f"for the AuthenticationLevel value, got {type(level_stat).__name__}")
    group = svchost_group(image_path)
    standalone = group is not None and group.casefold() == STANDALONE_GROUP
    current = registry_level(level_stat)
    where = f"the svchost group '{group}'" if group else f"an image path naming no svchost group ('{image_path}')"
    argv: list[str] = []
    if revert:
        if standalone:
            argv = ["winmgmt", "/sharedhost"]
            summary = "WMI runs in its own svchost; the rollback needs `winmgmt /sharedhost` and a restart of Winmgmt"
        else:
            summary = f"WMI runs in {where}, not its own; nothing to roll back"
    elif not standalone:
        argv = ["winmgmt", "/standalonehost", str(level)]
        summary = f"WMI runs in {where}; it needs `{' '.join(argv)}` and a restart of Winmgmt"
    elif current is not None and current != level:
        argv = ["winmgmt", "/standalonehost", str(level)]
        summary = (f"WMI runs in its own svchost at authentication level {current}, not {level}; "
                   f"it needs `{' '.join(argv)}` and a restart of Winmgmt")
    elif current == level:
        summary = f"WMI already runs in its own svchost at authentication level {level}"
    else:
        summary = (f"WMI already runs in its own svchost; no level is stored at {LEVEL_VALUE}, "
                   "so the own svchost is taken as the sign of the level")
    return {
        "argv": argv,
        "command": " ".join(argv),
        "svchost_group": group,
        "standalone": standalone,
        "level": current,
        "image_path": image_path,
        "summary": summary,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"wmi_plan": plan}
