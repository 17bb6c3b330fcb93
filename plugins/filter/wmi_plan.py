# Copyright: (c) 2026, scanready maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide from what a host reports whether its WMI service needs `winmgmt /standalonehost 6` (or `/sharedhost`)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

DOCUMENTATION = r"""
name: wmi_plan
short_description: Decide whether Winmgmt needs C(winmgmt /standalonehost 6), C(winmgmt /sharedhost) or a restart
version_added: 0.1.0
author: scanready maintainers
description:
  - Reads the Winmgmt service as M(ansible.windows.win_service_info) returns it and the
    C(AuthenticationLevel) value under C(HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt)
    as M(ansible.windows.win_reg_stat) returns it, and says which C(winmgmt) command, if any, brings
    the host to the wanted state.
  - WMI is configured to run in its own svchost when the image path of Winmgmt names the svchost group
    C(winmgmt) (C(svchost.exe -k winmgmt)); otherwise it is configured to share a host such as C(netsvcs).
    The configuration takes effect when Winmgmt restarts; until then the command line of the process that
    hosts Winmgmt (O(running)) still names the group it started in. Configured standalone but running in a
    shared host (a restart that failed or never happened) needs a restart, not the command again.
  - The command changes the mode only with a record. O(prior) is the value
    C(HKLM\SOFTWARE\scanready\windows\WmiPriorHostMode), which the role writes before it first runs
    C(winmgmt) on a host (C(shared) or C(standalone), the mode WMI was configured with then) and the rollback
    reads - it runs C(winmgmt /sharedhost) only where the record says C(shared), and leaves every other host
    alone.
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
    description: Plan the rollback (C(winmgmt /sharedhost) where the record says so) instead of Packet Privacy.
    type: bool
    default: false
  running:
    description:
      - The command line of the process that hosts Winmgmt now (C(Win32_Process.CommandLine) of the
        C(ProcessId) the service reports), or empty when it could not be read.
      - Omitted (null), the running mode is not known and no restart is planned for it.
    type: str
  prior:
    description:
      - The registered result of M(ansible.windows.win_reg_stat) for the record
        C(HKLM\SOFTWARE\scanready\windows\WmiPriorHostMode); omitted, there is no record.
    type: dict
  level:
    description: The wanted authentication level; 6 is Packet Privacy.
    type: int
    default: 6
"""

EXAMPLES = r"""
- name: Decide what WMI needs
  ansible.builtin.set_fact:
    wmi_plan: "{{ winmgmt_info | scanready.windows.wmi_plan(level_info) }}"

- name: Decide what WMI needs, from the running process too
  ansible.builtin.set_fact:
    wmi_plan: "{{ winmgmt_info | scanready.windows.wmi_plan(level_info, running=command_line, prior=record_info) }}"

- name: Decide what the rollback needs
  ansible.builtin.set_fact:
    wmi_plan: >-
      {{ winmgmt_info | scanready.windows.wmi_plan(level_info, running=command_line, prior=record_info, revert=true) }}
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
      description: Whether WMI is configured to run in its own svchost (the image path).
      type: bool
    configured_mode:
      description: C(standalone) or C(shared), from the image path.
      type: str
    running_mode:
      description:
        - C(standalone) or C(shared) from the command line of the process hosting Winmgmt; C(stopped) when
          Winmgmt does not run; C(unknown) when the command line was not read or names no svchost group.
      type: str
    running_group:
      description: The svchost group the running process's command line names, or null.
      type: str
      sample: netsvcs
    process_id:
      description: The process that hosts Winmgmt, or null when it does not run.
      type: int
    restart:
      description: Whether Winmgmt must be restarted (after the command, if any) for the wanted mode to run.
      type: bool
    prior:
      description: The mode recorded before this collection first changed WMI on the host, or null.
      type: str
    record:
      description: The mode to record before the command runs (C(shared) or C(standalone)), or null.
      type: str
    forget:
      description: Whether the rollback deletes the record once WMI is as it was.
      type: bool
    left_alone:
      description: Whether the rollback leaves this host's WMI as it is (no record that this collection moved it).
      type: bool
    level:
      description: The authentication level read from the registry, or null when it is not stored there.
      type: int
    image_path:
      description: The image path of Winmgmt as read.
      type: str
      sample: C:\Windows\system32\svchost.exe -k netsvcs -p
    summary:
      description: One line saying what was seen (configured and running modes) and what is needed.
      type: str
"""

LEVEL_VALUE = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt\AuthenticationLevel"
STANDALONE_GROUP = "winmgmt"
STANDALONE = "standalone"
SHARED = "shared"
STOPPED = "stopped"
UNKNOWN = "unknown"
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


def winmgmt_service(service_info: Any) -> Mapping[str, Any]:
    if not isinstance(service_info, Mapping) or "services" not in service_info:
        raise AnsibleFilterError("wmi_plan: expected the registered result of ansible.windows.win_service_info "
                                 f"for Winmgmt, got {type(service_info).__name__}")
    services = [s for s in service_info["services"] or [] if str(s.get("name", "")).casefold() == "winmgmt"]
    if not services:
        raise AnsibleFilterError("wmi_plan: the Winmgmt service does not exist on this host")
    return services[0]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class WmiState:
    """What the host reports: the configured mode (image path, stored level), the running one, the record."""

    image_path: str
    group: str | None
    standalone: bool
    level: int | None
    running_mode: str
    running_group: str | None
    process_id: int | None
    prior: str | None

    @property
    def where(self) -> str:
        return f"the svchost group '{self.group}'" if self.group else \
            f"an image path naming no svchost group ('{self.image_path}')"

    @property
    def running(self) -> str:
        """The running mode in words."""
        if self.running_mode == STOPPED:
            return "Winmgmt is not running"
        if self.running_mode == UNKNOWN:
            return "the process hosting Winmgmt names no svchost group or was not read"
        return f"runs {self.running_mode} (process {self.process_id}, svchost group '{self.running_group}')"


def running_state(service: Mapping[str, Any], command_line: Any) -> tuple[str, str | None, int | None]:
    """(mode, svchost group, process id) of the process that hosts Winmgmt now."""
    pid = service.get("process_id")
    pid = pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None
    if service.get("state") == "stopped":
        return STOPPED, None, None
    group = svchost_group(str(command_line)) if command_line and pid else None
    if group is None:
        return UNKNOWN, None, pid
    return (STANDALONE if group.casefold() == STANDALONE_GROUP else SHARED), group, pid


def recorded_mode(prior: Any) -> str | None:
    """The mode the record holds (as written, lower case), or None when there is none."""
    if not isinstance(prior, Mapping) or not prior.get("exists"):
        return None
    return str(prior.get("value") or "").strip().casefold() or None


def apply_plan(state: WmiState, level: int) -> tuple[dict[str, Any], str]:
    """WMI in its own svchost at `level`, running so: the command (recorded first) and a restart."""
    record = None if state.prior else (STANDALONE if state.standalone else SHARED)
    argv = ["winmgmt", "/standalonehost", str(level)]
    if not state.standalone:
        summary = f"WMI is configured to run in {state.where}; it needs `{' '.join(argv)}` and a restart of Winmgmt"
    elif state.level is not None and state.level != level:
        summary = (f"WMI is configured to run in its own svchost at authentication level {state.level}, not {level}; "
                   f"it needs `{' '.join(argv)}` and a restart of Winmgmt")
    else:
        configured = (f"at authentication level {level}" if state.level == level else
                      f"(no level is stored at {LEVEL_VALUE}, so the own svchost is taken as the sign of the level)")
        restart = state.running_mode in (SHARED, STOPPED)
        summary = f"WMI is configured to run in its own svchost {configured}; {state.running}"
        if restart:
            summary += "; the configuration has not taken effect (a restart failed or never happened): restart Winmgmt"
        return {"argv": [], "restart": restart, "record": None}, summary
    return {"argv": argv, "restart": True, "record": record}, summary


def rollback_plan(state: WmiState) -> tuple[dict[str, Any], str]:
    """Back to the shared svchost only where the record says this collection moved WMI out of it."""
    decision: dict[str, Any] = {"argv": [], "restart": False, "record": None, "forget": state.prior is not None,
                                "left_alone": state.prior != SHARED}
    if state.prior != SHARED:
        why = ("no record says this collection moved it" if state.prior is None else
               f"the record says it was {state.prior} before this collection changed it")
        return decision, f"WMI left alone by the rollback ({why}; configured for {state.where}, {state.running})"
    if state.standalone:
        decision.update(argv=["winmgmt", "/sharedhost"], restart=True)
        return decision, ("WMI was in a shared svchost before this collection moved it (recorded); the rollback "
                          f"needs `winmgmt /sharedhost` and a restart of Winmgmt; now {state.running}")
    if state.running_mode in (STANDALONE, STOPPED):
        decision.update(restart=True)
        return decision, (f"WMI is configured to run in {state.where} again but {state.running}: the rollback's "
                          "restart has not taken effect; restart Winmgmt")
    return decision, f"WMI is back in {state.where} as recorded and {state.running}; nothing to roll back"


def plan(service_info: Any, level_stat: Any, revert: Any = False, level: Any = 6, running: Any = None,
         prior: Any = None) -> dict[str, Any]:
    """What the host needs: the winmgmt command (argv, empty for nothing), a restart, the record, one line why."""
    try:  # extra vars arrive as strings: "false" must not count as true
        revert = boolean(revert, strict=True)
        level = int(level)
    except (TypeError, ValueError) as e:
        raise AnsibleFilterError(f"wmi_plan: revert must be a boolean and level a number: {e}") from e
    service = winmgmt_service(service_info)
    if not isinstance(level_stat, Mapping):
        raise AnsibleFilterError("wmi_plan: expected the registered result of ansible.windows.win_reg_stat "
                                 f"for the AuthenticationLevel value, got {type(level_stat).__name__}")
    image_path = str(service.get("path") or "")
    group = svchost_group(image_path)
    state = WmiState(image_path, group, group is not None and group.casefold() == STANDALONE_GROUP,
                     registry_level(level_stat), *running_state(service, running), recorded_mode(prior))
    decision, summary = rollback_plan(state) if revert else apply_plan(state, level)
    argv = decision["argv"]
    return {
        "argv": argv,
        "command": " ".join(argv),
        "restart": decision["restart"],
        "record": decision["record"],
        "forget": decision.get("forget", False),
        "left_alone": decision.get("left_alone", False),
        "prior": state.prior,
        "svchost_group": group,
        "standalone": state.standalone,
        "configured_mode": STANDALONE if state.standalone else SHARED,
        "running_mode": state.running_mode,
        "running_group": state.running_group,
        "process_id": state.process_id,
        "level": state.level,
        "image_path": image_path,
        "summary": summary,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"wmi_plan": plan}
