"""A simulated Windows host for the wmi_privacy role: a stand-in `ansible.windows` collection whose modules keep a
Windows-like service, process and registry state in a JSON file, reached through a `winrm` connection that runs
them locally. It follows what docs/windows-host-testing.md says of `winmgmt /standalonehost 6`: the command
changes the configuration (the image path), and the process hosting Winmgmt changes only when it restarts."""
from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab_support import run_playbook

SHARED = r"C:\Windows\system32\svchost.exe -k netsvcs -p"
OWN = r"%systemroot%\system32\svchost.exe -k winmgmt"
LEVEL_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt"
RECORD_KEY = r"HKLM:\SOFTWARE\scanready\windows"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
MODULES = ("win_service_info", "win_reg_stat", "win_service", "win_command", "win_ping", "win_powershell",
           "win_regedit")


def command_line(image_path: str) -> str:
    return image_path.replace("%systemroot%", "C:\\Windows") + " -p"


def recap(output: str) -> dict[str, dict[str, int]]:
    keys = ("ok", "changed", "unreachable", "failed", "skipped")
    return {m[0]: dict(zip(keys, map(int, m[1:]), strict=True)) for m in RECAP.findall(output)}


FAKE_WINDOWS = r'''
"""A Windows host as the wmi_privacy role reads and changes it, kept in the JSON file $FAKE_WINDOWS_STATE."""
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

SHARED = r"C:\Windows\system32\svchost.exe -k netsvcs -p"
OWN = r"%systemroot%\system32\svchost.exe -k winmgmt"
LEVEL_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt"


def command_line(image_path):
    """The command line of a process started from image_path (svchost adds -p)."""
    return image_path.replace("%systemroot%", "C:\\Windows") + " -p"


class Host:
    def __init__(self):
        self.path = os.environ["FAKE_WINDOWS_STATE"]
        with open(self.path) as f:
            self.state = json.load(f)
        self.services = self.state["services"]

    def save(self):
        with open(self.path, "w") as f:
            json.dump(self.state, f, indent=1)

    def log(self, line):
        self.state["log"].append(line)

    def name(self, name):
        return next((n for n in self.services if n.lower() == name.lower()), None)

    def dependants(self, name):
        """Every service depending on name, directly or not (EnumDependentServices)."""
        found, pending = [], [name.lower()]
        while pending:
            current = pending.pop()
            for other, svc in sorted(self.services.items()):
                if current in [d.lower() for d in svc["dependencies"]] and other not in found:
                    found.append(other)
                    pending.append(other.lower())
        return found

    def start(self, name):
        svc = self.services[name]
        if svc["state"] == "started":
            return
        if name in self.state["faults"].get("start_fails", []):
            raise RuntimeError("Failed to start service %s: the service did not respond" % name)
        for dependency in svc["dependencies"]:  # the SCM starts dependencies first
            self.start(self.name(dependency))
        svc["state"] = "started"
        svc["pid"] = self.state["next_pid"]
        self.state["processes"][str(svc["pid"])] = command_line(svc["path"])  # the group it starts in
        self.state["next_pid"] += 4
        self.log("start " + name)


def win_service_info(module, host):
    names = [host.name(module.params["name"])] if module.params["name"] else sorted(host.services)
    services = [{
        "name": n, "path": host.services[n]["path"], "state": host.services[n]["state"],
        "start_mode": "auto", "dependencies": host.services[n]["dependencies"],
        "dependency_of": host.dependants(n),
        "process_id": host.services[n]["pid"] if host.services[n]["state"] == "started" else 0,
    } for n in names if n]
    module.exit_json(changed=False, exists=bool(services), services=services)


def win_reg_stat(module, host):
    values = host.state["registry"].get(module.params["path"])
    service_key = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\"
    if module.params["path"].startswith(service_key):
        service = host.name(module.params["path"][len(service_key):])
        values = {"ImagePath": host.services[service]["path"]} if service else None
    name = module.params["name"]
    if name is None:
        module.exit_json(changed=False, exists=values is not None, properties={
            k: {"type": kind(v), "value": v, "raw_value": v} for k, v in (values or {}).items()})
    if values is None or name not in values:
        module.exit_json(changed=False, exists=False)
    module.exit_json(changed=False, exists=True, type=kind(values[name]), value=values[name], raw_value=values[name])


def kind(value):
    return "REG_DWORD" if isinstance(value, int) else "REG_EXPAND_SZ"


def win_service(module, host):
    name = host.name(module.params["name"])
    svc = host.services[name]
    wanted = module.params["state"]
    if wanted == "stopped":
        if svc["state"] == "stopped":
            module.exit_json(changed=False)
        running = [d for d in host.dependants(name) if host.services[d]["state"] == "started"]
        if running and not module.params["force_dependent_services"]:
            module.fail_json(msg="Cannot stop service '%s' because it has dependent services" % name)
        if host.state["faults"].get("stop_fails"):
            module.fail_json(msg="Failed to stop service %s: the dependant NcaSvc did not stop" % name)
        if not module.check_mode:
            time.sleep(host.state["faults"].get("stop_seconds", 0))
            for stopped in running + [name]:
                host.services[stopped]["state"] = "stopped"
            host.log("stop " + " ".join([name] + running))
            host.save()
        module.exit_json(changed=True)
    if svc["state"] == "started":
        module.exit_json(changed=False)
    if not module.check_mode:
        try:
            host.start(name)
        except RuntimeError as e:
            host.save()
            module.fail_json(msg=str(e))
        host.save()
    module.exit_json(changed=True)


def win_powershell(module, host):
    """Only the role's read of Win32_Process.CommandLine for a process id."""
    assert "Win32_Process" in module.params["script"] and "SupportsShouldProcess" in module.params["script"]
    found = host.state["processes"].get(str(module.params["parameters"]["ProcessId"]))
    module.exit_json(changed="$Ansible.Changed = $false" not in module.params["script"],
                     output=[found] if found else [], error=[])


def win_regedit(module, host):
    values = host.state["registry"].setdefault(module.params["path"], {})
    name, wanted = module.params["name"], module.params["state"]
    changed = (name in values) if wanted == "absent" else values.get(name) != module.params["data"]
    if changed and not module.check_mode:
        if wanted == "absent":
            del values[name]
        else:
            values[name] = module.params["data"]
        host.log("regedit %s %s=%s" % (module.params["path"], name, values.get(name, "(deleted)")))
        host.save()
    module.exit_json(changed=changed)


def win_command(module, host):
    argv = [a.lower() for a in module.params["argv"]]
    if argv[:2] == ["winmgmt", "/standalonehost"]:
        host.services[host.name("winmgmt")]["path"] = OWN
        if not host.state["faults"].get("level_ignored"):
            host.state["registry"][LEVEL_KEY] = {"AuthenticationLevel": int(argv[2]) if len(argv) > 2 else 4}
    elif argv == ["winmgmt", "/sharedhost"]:
        host.services[host.name("winmgmt")]["path"] = SHARED
    elif argv[0] != "gpupdate":
        module.fail_json(msg="not simulated: %s" % " ".join(argv), rc=1)
    host.log(" ".join(module.params["argv"]))
    host.save()
    module.exit_json(changed=True, rc=0, stdout="done", stderr="")


SPECS = {
    "win_service_info": ({"name": {"type": "str"}}, True),
    "win_reg_stat": ({"path": {"type": "str", "required": True}, "name": {"type": "str"}}, True),
    "win_service": ({"name": {"type": "str", "required": True}, "state": {"type": "str"},
                     "force_dependent_services": {"type": "bool", "default": False}}, True),
    "win_command": ({"argv": {"type": "list", "elements": "str", "required": True}}, False),
    "win_powershell": ({"script": {"type": "str", "required": True}, "parameters": {"type": "dict"}}, True),
    "win_regedit": ({"path": {"type": "str", "required": True}, "name": {"type": "str"}, "data": {"type": "raw"},
                     "type": {"type": "str", "default": "string"},
                     "state": {"type": "str", "default": "present"}}, True),
    "win_ping": ({}, True),
}


def main(kind):
    spec, check_mode = SPECS[kind]
    module = AnsibleModule(argument_spec=spec, supports_check_mode=check_mode)
    if kind == "win_ping":
        module.exit_json(changed=False, ping="pong")
    globals()[kind](module, Host())
'''

FAKE_WINRM_CONNECTION = '''
from __future__ import annotations

DOCUMENTATION = """
    name: winrm
    short_description: runs the simulated Windows host's modules locally, under the name winrm
    description: [Test stand-in for the winrm connection.]
    author: scanready maintainers
    options:
        become_success_timeout:
            type: int
            default: 10
            description: [As for local.]
        become_strip_preamble:
            type: bool
            default: true
            description: [As for local.]
    extends_documentation_fragment:
        - connection_pipelining
"""

from ansible.plugins.connection.local import Connection as LocalConnection


class Connection(LocalConnection):
    transport = "winrm"
'''


def windows_services(winmgmt_path: str) -> dict[str, dict[str, Any]]:
    """IP Helper depends on Winmgmt, the Network Connectivity Assistant on IP Helper; Internet Connection
    Sharing depends on Winmgmt but is stopped; nsi is unrelated."""
    def svc(path: str, deps: list[str], state: str, pid: int) -> dict[str, Any]:
        return {"path": path, "dependencies": deps, "state": state, "pid": pid}
    return {
        "RpcSs": svc(SHARED, [], "started", 100),
        "nsi": svc(SHARED, [], "started", 104),
        "Winmgmt": svc(winmgmt_path, ["RPCSS"], "started", 1000),
        "iphlpsvc": svc(SHARED, ["RpcSs", "nsi", "winmgmt"], "started", 1100),
        "NcaSvc": svc(SHARED, ["nsi", "iphlpsvc"], "started", 1200),
        "SharedAccess": svc(SHARED, ["Netman", "WinMgmt"], "stopped", 0),
    }


@dataclass
class FakeWindows:
    state_file: Path
    inventory: Path
    playbook: Path
    env: dict[str, str]

    def set(self, winmgmt_path: str, level: int | None = None, faults: dict[str, Any] | None = None,
            running: str | None = None, record: str | None = None) -> None:
        """Winmgmt configured with winmgmt_path and running in a process started from `running` (default: the
        same), the stored level, the collection's record of the mode before it, and faults to simulate."""
        registry: dict[str, dict[str, Any]] = {} if level is None else {LEVEL_KEY: {"AuthenticationLevel": level}}
        if record is not None:
            registry[RECORD_KEY] = {"WmiPriorHostMode": record}
        services = windows_services(winmgmt_path)
        processes = {str(svc["pid"]): command_line(svc["path"]) for svc in services.values() if svc["pid"]}
        processes[str(services["Winmgmt"]["pid"])] = command_line(running or winmgmt_path)
        self.state_file.write_text(json.dumps({"services": services, "registry": registry, "processes": processes,
                                               "log": [], "next_pid": 5000, "faults": faults or {}}))

    def change(self, **faults: Any) -> None:
        """Set the faults anew (the host otherwise as the last run left it)."""
        state = self.state
        state["faults"] = faults
        self.state_file.write_text(json.dumps(state))

    @property
    def record(self) -> str | None:
        return self.state["registry"].get(RECORD_KEY, {}).get("WmiPriorHostMode")

    @property
    def winmgmt_runs(self) -> str:
        """The command line of the process hosting Winmgmt now."""
        state = self.state
        return str(state["processes"][str(state["services"]["Winmgmt"]["pid"])])

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))

    def run(self, *extra: str) -> tuple[dict[str, int], str]:
        proc = run_playbook(self.playbook, self.inventory, *extra, env=self.env, timeout=300)
        output = proc.stdout + proc.stderr
        return recap(output).get("win1", {}), output


def build_tree(root: Path) -> Path:
    """The stand-in collection and connection plugin under root."""
    collection = root / "collections" / "ansible_collections" / "ansible" / "windows"
    (collection / "plugins" / "module_utils").mkdir(parents=True)
    (collection / "plugins" / "modules").mkdir()
    (collection / "plugins" / "module_utils" / "fake_windows.py").write_text(FAKE_WINDOWS)
    for kind in MODULES:
        (collection / "plugins" / "modules" / f"{kind}.py").write_text(textwrap.dedent(f"""\
            #!/usr/bin/python
            from ansible_collections.ansible.windows.plugins.module_utils.fake_windows import main
            main({kind!r})
            """))
    (root / "connection_plugins").mkdir()
    (root / "connection_plugins" / "winrm.py").write_text(FAKE_WINRM_CONNECTION)
    return root
