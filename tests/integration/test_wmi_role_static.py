"""The wmi_privacy role as far as it can be proven here, without a Windows host.

Real ansible-playbook runs prove: the syntax, the argument specs rejecting bad input, hosts without WinRM
skipped with one line and no connection attempt, and the molecule/windows scenario skipping (not passing)
when no host is named. The role's control flow (check mode, the winmgmt command, the handler's restart of
exactly the running dependants, idempotence, rollback, bounded waits) runs against a simulated host: a
stand-in `ansible.windows` collection whose modules keep a Windows-like service and registry state in a JSON
file, reached through a `winrm` connection that runs them locally. The simulation follows what
docs/windows-host-testing.md says of `winmgmt /standalonehost 6`; molecule/windows checks the same against real
Windows.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab_support import BIN, REPO, ansible_env, run_playbook

SHARED = r"C:\Windows\system32\svchost.exe -k netsvcs -p"
OWN = r"%systemroot%\system32\svchost.exe -k winmgmt"
LEVEL_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
UNROUTABLE = "192.0.2.10"  # TEST-NET-1: any connection attempt would hang, then fail as unreachable

PLAYBOOK = """\
- name: WMI Packet Privacy
  hosts: scan_targets
  gather_facts: false
  roles:
    - role: scanready.windows.wmi_privacy
"""


def recap(output: str) -> dict[str, dict[str, int]]:
    keys = ("ok", "changed", "unreachable", "failed", "skipped")
    return {m[0]: dict(zip(keys, map(int, m[1:]), strict=True)) for m in RECAP.findall(output)}


def said(output: str) -> str:
    """Ansible's output as one line: the YAML callback wraps long messages and doubles quotes in them."""
    return " ".join(output.split()).replace("''", "'")


def write_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"all": {"children": {"scan_targets": {"hosts": hosts}}}}))
    return path


# --- without any host -------------------------------------------------------------------------------

def test_playbook_using_the_role_passes_syntax_check(tmp_path: Path) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    inventory = write_inventory(tmp_path / "hosts.yml", {"t1": {"ansible_host": UNROUTABLE}})
    proc = run_playbook(playbook, inventory, "--syntax-check", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_argument_specs_reject_bad_types(tmp_path: Path) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK.replace("scan_targets", "localhost"))
    bad = {"scanready_gpupdate": "maybe", "scanready_wmi_revert": "perhaps",
           "scanready_wmi_service_timeout": "soon", "scanready_wmi_gpupdate_wait": "later"}
    proc = run_playbook(playbook, Path("localhost,"), "-c", "local", "-e", json.dumps(bad), timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "failed=1" in output
    assert "Validating arguments against arg spec 'main'" in output
    for name in bad:
        assert name in output
    assert "Set WMI Packet Privacy over WinRM" not in output  # refused before anything else ran


def test_waits_out_of_bounds_are_refused_before_connecting(tmp_path: Path) -> None:
    # A WinRM host on a closed port: the refusal comes from the controller, before any connection is tried.
    inventory = write_inventory(tmp_path / "hosts.yml", {"win1": {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "winrm",
        "ansible_user": "someone", "ansible_password": "unused"}})
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    proc = run_playbook(playbook, inventory, "-e", "scanready_wmi_service_timeout=0 scanready_wmi_gpupdate_wait=3601",
                        timeout=120)
    output = proc.stdout + proc.stderr
    assert recap(output)["win1"]["failed"] == 1 and recap(output)["win1"]["unreachable"] == 0
    assert ("scanready_wmi_service_timeout (0) and scanready_wmi_gpupdate_wait (3601) must be seconds from 1 to 3600"
            in said(output))


def test_hosts_without_winrm_are_skipped_with_one_line_and_no_connection(tmp_path: Path) -> None:
    # Shaped like the lab's targets (ansible_host, lab_expected, no ansible_connection), plus WinRM hosts (short and
    # FQCN connection names) on a closed port to show the role does go to them (they become unreachable).
    inventory = write_inventory(tmp_path / "hosts.yml", {
        "t0001.lab1.example.test": {"ansible_host": UNROUTABLE, "lab_expected": "ready"},
        "t0002.lab1.example.test": {"ansible_host": UNROUTABLE, "lab_expected": "share_denied"},
        "win1": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "winrm",
                 "ansible_user": "someone", "ansible_password": "unused"},
        "win2": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ansible.builtin.winrm",
                 "ansible_user": "someone", "ansible_password": "unused"},
    })
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    proc = run_playbook(playbook, inventory, "--check", timeout=120)
    output = proc.stdout + proc.stderr
    result = recap(output)
    lines = output.splitlines()
    said = [(lines[i - 1], line) for i, line in enumerate(lines) if "wmi_privacy skipped" in line]
    skipped = ("t0001.lab1.example.test", "t0002.lab1.example.test")
    line = "    msg: 'wmi_privacy skipped: connection is ssh, not winrm or psrp'"
    assert sorted(said) == [(f"ok: [{host}] => ", line) for host in skipped], output
    for host in skipped:
        # unreachable=0 although 192.0.2.10 answers nothing: no connection was attempted
        assert result[host] == {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 1}, output
    assert result["win1"]["unreachable"] == 1 and result["win2"]["unreachable"] == 1  # the role went there


@pytest.mark.parametrize(("kind", "name"), [
    ("role", "scanready.windows.wmi_privacy"),
    ("filter", "scanready.windows.wmi_plan"),
    ("filter", "scanready.windows.wmi_running_dependants"),
])
def test_role_and_filters_document_themselves(kind: str, name: str) -> None:
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", kind, name], capture_output=True, text=True, check=False,
                          env=ansible_env(), cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert name in proc.stdout and ("EXAMPLES" in proc.stdout or kind == "role")


def run_preflight(**settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANREADY_WIN_")} | settings
    return subprocess.run([str(REPO / "molecule" / "windows" / "preflight")], capture_output=True, text=True,
                          check=False, env=env, timeout=30)


def test_molecule_windows_preflight_skips_with_one_line_when_no_host_is_named() -> None:
    proc = run_preflight()
    assert proc.returncode == 77
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "molecule/windows: skipped — SCANREADY_WIN_HOST is not set (name a Windows Server 2019/2022/2025 host "
        "reachable over WinRM, see docs/windows-host-testing.md)"]


@pytest.mark.parametrize(("settings", "complaint"), [
    ({}, "SCANREADY_WIN_USER is not set; SCANREADY_WIN_PASSWORD is not set"),
    ({"SCANREADY_WIN_USER": "u", "SCANREADY_WIN_PASSWORD": "p", "SCANREADY_WIN_TRANSPORT": "digest"},
     "SCANREADY_WIN_TRANSPORT must be ntlm, kerberos, credssp or basic, not 'digest'"),
    ({"SCANREADY_WIN_USER": "u", "SCANREADY_WIN_PASSWORD": "p", "SCANREADY_WIN_CERT_VALIDATION": "no"},
     "SCANREADY_WIN_CERT_VALIDATION must be validate or ignore, not 'no'"),
])
def test_molecule_windows_preflight_fails_on_incomplete_settings(settings: dict[str, str], complaint: str) -> None:
    proc = run_preflight(SCANREADY_WIN_HOST="win.example.test", **settings)
    assert proc.returncode == 2
    assert complaint in proc.stdout
    assert "p" not in proc.stdout.split("but:", 1)[1].replace("SCANREADY_WIN_PASSWORD", "").split()  # no secret


def test_molecule_windows_does_not_pass_when_no_host_is_named() -> None:
    env = {k: v for k, v in ansible_env(NO_COLOR="1").items() if not k.startswith("SCANREADY_WIN_")}
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", "windows"], capture_output=True, text=True, check=False,
                          env=env, cwd=REPO, timeout=300)
    output = said(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)).replace("│ ", "")
    assert proc.returncode != 0
    assert "molecule/windows: skipped — SCANREADY_WIN_HOST is not set (name a Windows Server" in output
    assert "create: Executed: Failed" in output
    assert "converge: Executing" not in output and "check: Executing" not in output


# --- against a simulated Windows host ---------------------------------------------------------------

FAKE_WINDOWS = r'''
"""A Windows host as the wmi_privacy role reads and changes it, kept in the JSON file $FAKE_WINDOWS_STATE."""
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

SHARED = r"C:\Windows\system32\svchost.exe -k netsvcs -p"
OWN = r"%systemroot%\system32\svchost.exe -k winmgmt"
LEVEL_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt"


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

    def set(self, winmgmt_path: str, level: int | None = None, faults: dict[str, Any] | None = None) -> None:
        registry = {} if level is None else {LEVEL_KEY: {"AuthenticationLevel": level}}
        self.state_file.write_text(json.dumps({"services": windows_services(winmgmt_path), "registry": registry,
                                               "log": [], "next_pid": 5000, "faults": faults or {}}))

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))

    def run(self, *extra: str) -> tuple[dict[str, int], str]:
        proc = run_playbook(self.playbook, self.inventory, *extra, env=self.env, timeout=300)
        output = proc.stdout + proc.stderr
        return recap(output).get("win1", {}), output


@pytest.fixture(scope="module")
def fake_windows_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake_windows")
    collection = root / "collections" / "ansible_collections" / "ansible" / "windows"
    (collection / "plugins" / "module_utils").mkdir(parents=True)
    (collection / "plugins" / "modules").mkdir()
    (collection / "plugins" / "module_utils" / "fake_windows.py").write_text(FAKE_WINDOWS)
    for kind in ("win_service_info", "win_reg_stat", "win_service", "win_command", "win_ping"):
        (collection / "plugins" / "modules" / f"{kind}.py").write_text(textwrap.dedent(f"""\
            #!/usr/bin/python
            from ansible_collections.ansible.windows.plugins.module_utils.fake_windows import main
            main({kind!r})
            """))
    (root / "connection_plugins").mkdir()
    (root / "connection_plugins" / "winrm.py").write_text(FAKE_WINRM_CONNECTION)
    return root


@pytest.fixture
def fake(fake_windows_tree: Path, tmp_path: Path) -> Iterator[FakeWindows]:
    state_file = tmp_path / "windows.json"
    inventory = write_inventory(tmp_path / "hosts.yml", {"win1": {
        "ansible_connection": "winrm", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}})
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    env = {
        "FAKE_WINDOWS_STATE": str(state_file),
        "ANSIBLE_COLLECTIONS_PATH": f"{fake_windows_tree / 'collections'}:{REPO / '.cache' / 'collections'}",
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",  # the simulated ansible.windows, not the installed one
        "ANSIBLE_CONNECTION_PLUGINS": str(fake_windows_tree / "connection_plugins"),
        "ANSIBLE_PIPELINING": "1",
    }
    yield FakeWindows(state_file, inventory, playbook, env)


def test_check_mode_says_what_it_would_do_and_changes_nothing(fake: FakeWindows) -> None:
    fake.set(SHARED)
    before = fake.state
    result, output = fake.run("--check", "-e", "scanready_gpupdate=true")
    assert result["failed"] == 0 and result["changed"] == 2, output  # the WMI change and the policy refresh
    assert ("WMI runs in the svchost group 'netsvcs'; it needs `winmgmt /standalonehost 6` and a restart of "
            "Winmgmt; check mode, nothing run: would run `winmgmt /standalonehost 6`, restart Winmgmt and start "
            "again iphlpsvc, NcaSvc") in said(output)
    assert "would run `gpupdate /target:computer /force /wait:300`" in output
    assert fake.state == before, "check mode changed the host"


def test_molecule_windows_scenario_passes_against_the_simulated_host(fake: FakeWindows) -> None:
    """molecule/windows itself, every step, with the simulated host named as SCANREADY_WIN_HOST."""
    fake.set(SHARED)
    env = {k: v for k, v in ansible_env(NO_COLOR="1", **fake.env).items() if not k.startswith("SCANREADY_WIN_")}
    env.update(SCANREADY_WIN_HOST="simulated.example.test", SCANREADY_WIN_USER="someone",
               SCANREADY_WIN_PASSWORD="not-a-secret", ANSIBLE_PYTHON_INTERPRETER=str(BIN / "python"))
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", "windows"], capture_output=True, text=True, check=False,
                          env=env, cwd=REPO, timeout=900)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, output
    assert "not-a-secret" not in output
    for step in ("create", "cleanup", "check", "converge", "idempotence", "side_effect", "verify"):
        assert f"{step}: Executed: Successful" in output, step
    assert fake.state["log"] == [
        # cleanup: already in the shared host, nothing; check: nothing; converge:
        "winmgmt /standalonehost 6",
        "stop Winmgmt iphlpsvc NcaSvc",  # net stop winmgmt /y
        "start Winmgmt",
        "start iphlpsvc",  # dependencies before dependants; SharedAccess was stopped and stays so
        "start NcaSvc",
        # idempotence: nothing; side_effect:
        "gpupdate /target:computer /force /wait:300",
        # verify: reads only; cleanup (the rollback):
        "winmgmt /sharedhost",
        "stop Winmgmt iphlpsvc NcaSvc",
        "start Winmgmt",
        "start iphlpsvc",
        "start NcaSvc",
    ]
    assert fake.state["services"]["SharedAccess"]["state"] == "stopped"


def test_a_restart_that_does_not_bring_the_wanted_state_fails_clearly(fake: FakeWindows) -> None:
    # As if winmgmt kept level 4: the check after the restart says so, rather than a later run looping.
    fake.set(OWN, level=4, faults={"level_ignored": True})
    result, output = fake.run()
    assert result["failed"] == 1, output
    assert ("wmi_privacy: after `winmgmt` and the restart, Winmgmt is started and WMI runs in its own svchost at "
            "authentication level 4, not 6") in said(output)


def test_a_stop_that_hangs_is_bounded(fake: FakeWindows) -> None:
    fake.set(SHARED, faults={"stop_seconds": 20})
    started = time.monotonic()
    result, output = fake.run("-e", "scanready_wmi_service_timeout=3")
    assert time.monotonic() - started < 90  # a slow machine's ansible overhead, far below an unbounded wait
    assert result["failed"] == 1, output
    assert "Timed out after 3 second(s)" in output
    assert fake.state["services"]["Winmgmt"]["path"] == OWN  # done, but not in effect until Winmgmt restarts
